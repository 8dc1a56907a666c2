"""Raw limits on an unsealed report, checked before anything normalizes or parses a field.

Unicode normalization reorders runs of combining marks in quadratic time: one
40 KB address of alternating marks holds the interpreter for more than a
second. So the raw text is measured first, against the same limits the form
applies, and an address may not carry a run of more than 30 combining marks
(the stream-safe format of UAX #15): a normalized address is ASCII anyway.
After these checks no report costs more than a few milliseconds to validate.
"""

from __future__ import annotations

import typing as t
import unicodedata

from .. import addresses
from ..report import DESCRIPTION_MAX, EMAIL_MAX

#: The stream-safe format's longest run of non-starters.
MAX_NON_STARTERS = 30
#: Any other text field (locale, kinds, ids) is short.
MAX_SHORT = 64


class TooLarge(ValueError):
    """A field beyond its raw limit; the text goes back to the partner, never the content."""


def check(data: t.Mapping[str, t.Any]) -> None:
    """Raise :class:`TooLarge` when a field is longer than any valid value could be."""
    urls = data.get("urls")
    if isinstance(urls, list):
        if len(urls) > addresses.MAX_ADDRESSES:
            raise TooLarge(f"'urls' must list 1 to {addresses.MAX_ADDRESSES} addresses")
        for n, url in enumerate(urls, 1):
            if isinstance(url, str) and (len(url) > addresses.MAX_LENGTH or _long_run(url)):
                raise TooLarge(f"address {n} is not acceptable (too_long)")
    _text(data, "description", DESCRIPTION_MAX)
    _text(data, "contact_email", EMAIL_MAX)
    for name in ("id", "partner", "locale", "content_kind", "where_seen"):
        _text(data, name, MAX_SHORT)


def _text(data: t.Mapping[str, t.Any], name: str, limit: int) -> None:
    value = data.get(name)
    if isinstance(value, str) and len(value) > limit:
        raise TooLarge(f"{name} must be text of at most {limit} characters")


def _long_run(text: str) -> bool:
    if text.isascii():
        return False
    run = 0
    for ch in text:
        if unicodedata.combining(ch):
            run += 1
            if run > MAX_NON_STARTERS:
                return True
        else:
            run = 0
    return False
