"""The report itself: its version, fields, choices, limits, times and text rules.

One home for what a report is, shared by the form (which asks for it), the
submission (which seals it) and the intake (which checks it again). Nothing
here imports Flask, WTForms or the widget, so the intake can use it alone.
"""

from __future__ import annotations

import functools
import math
import re
import time
import typing as t
import unicodedata

#: The sealed report's format; the intake refuses any other.
VERSION = 1
FIELDS = frozenset(
    {"v", "id", "partner", "locale", "created", "urls", "content_kind", "where_seen", "description", "contact_email"}
)
CONTENT_KINDS: tuple[str, ...] = ("images", "videos", "generated", "unsure")
WHERE_SEEN: tuple[str, ...] = ("website", "social", "forum", "search", "other")

#: A report's ``locale``: a language, then a region (``pt-BR``, ``es-419``), at most 8 characters
#: (the intake's column). A partner may offer regional variants and languages the package does not ship.
LANGUAGE_TAG = re.compile(r"^(?=.{2,8}$)[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")

DESCRIPTION_MAX = 2000
EMAIL_MAX = 254
#: Addresses in one report (repeats of one address count once).
MAX_ADDRESSES = 10
#: UAX #15's stream-safe text format: no more than this many non-starters in a row.
#: Real text in any script needs a handful; long runs only make normalization slow.
MAX_NONSTARTERS = 30

#: Joiners change how a word is spelt (Devanagari conjuncts, Persian-script words,
#: emoji sequences), not the order text is read in, so they stay in free text.
JOINERS = frozenset("\u200c\u200d")
LINE_BREAKS = "\t\n\r"


def minute(now: float | None = None) -> int:
    """``now`` (default: the current time) rounded down to the minute."""
    now = time.time() if now is None else now
    return int(now // 60 * 60)


def minute_up(moment: float) -> int:
    """``moment`` rounded up to the minute: an expiry that is never earlier than promised."""
    return int(math.ceil(moment / 60) * 60)


@functools.lru_cache(maxsize=4096)
def _nonstarters(ch: str) -> tuple[int, int, bool]:
    """(leading, trailing, all) non-starters of ``ch``'s compatibility decomposition."""
    decomposed = unicodedata.normalize("NFKD", ch)
    marks = [unicodedata.combining(c) != 0 for c in decomposed]
    if all(marks):
        return len(marks), len(marks), True
    leading = marks.index(False)
    trailing = marks[::-1].index(False)
    return leading, trailing, False


def is_stream_safe(text: str, limit: int = MAX_NONSTARTERS) -> bool:
    """True when no run of non-starters (combining marks) is longer than ``limit``.

    Runs in time linear in ``text``; normalizing long runs is what is slow.
    """
    if text.isascii():
        return True
    run = 0
    for ch in text:
        if ch < "\x80":
            run = 0
            continue
        leading, trailing, whole = _nonstarters(ch)
        if whole:
            run += leading
        else:
            if run + leading > limit:
                return False
            run = trailing
        if run > limit:
            return False
    return True


def _unwanted(ch: str) -> bool:
    """Control and format characters, line and paragraph separators: invisible, or misleading."""
    if ch in LINE_BREAKS or ch in JOINERS:
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def clean_text(value: str) -> str:
    """Free text in NFC without hidden characters; U+2028/U+2029 become line breaks.

    Text pasted from documents carries form feeds, soft hyphens and bidi
    controls; a NUL cannot be stored in some databases; a right-to-left override
    makes an analyst read a sentence differently from what it says. People never
    mean them. Call only on text already checked by :func:`text_problem`.
    """
    value = value.replace("\u2028", "\n").replace("\u2029", "\n")
    if value.isascii():
        return "".join(ch for ch in value if ch >= " " and ch != "\x7f" or ch in LINE_BREAKS)
    # Removed before normalizing, so that what they separated composes as it would have.
    return unicodedata.normalize("NFC", "".join(ch for ch in value if not _unwanted(ch)))


def has_hidden_characters(text: str) -> bool:
    """True when ``text`` holds what :func:`clean_text` removes (the intake's check)."""
    return any(_unwanted(ch) for ch in text)


def text_problem(raw: str, max_length: int) -> str | None:
    """``"too_long"`` or ``"marks"`` for raw input that is not worth normalizing, else None.

    Checked before any normalization: the bounds are what keep one request cheap.
    """
    if len(raw) > max_length:
        return "too_long"
    if not is_stream_safe(raw):
        return "marks"
    return None


def payload(
    report_id: str,
    partner: str,
    locale: str,
    urls: t.Sequence[str],
    content_kind: str,
    where_seen: str,
    description: str = "",
    contact_email: str = "",
    created: int | None = None,
) -> dict[str, t.Any]:
    """The report as it is sealed for the intake: exactly :data:`FIELDS`."""
    return {
        "v": VERSION,
        "id": report_id,
        "partner": partner,
        "locale": locale,
        "created": minute() if created is None else minute(created),
        "urls": list(urls),
        "content_kind": content_kind,
        "where_seen": where_seen,
        "description": description.strip(),
        "contact_email": contact_email.strip(),
    }
