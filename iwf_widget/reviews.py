"""Who reviewed each language, for which organisation, when, and against which catalog version.

One home, ``translations/REVIEWS.toml``; ``python -m iwf_widget.reviews --write``
copies it into each catalog's header comment and into ``STATUS.md``, and
``tests/test_reviews.py`` keeps the three in step. A catalog's version is a short
hash of its translations, so a review says exactly what it saw: once a string
changes, the language reads "changed since its review" until someone looks
again, and it is still offered (changing an English string never forces an
unreviewed translation out, nor blocks a build).

A language marked ``needs-review`` (a reviewer or a maintainer found it not yet fit
for a reporter) is refused when a partner names it in ``IWF_WIDGET_LOCALES``,
unless it is also listed in ``IWF_WIDGET_UNREVIEWED_LOCALES``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import textwrap
import typing as t
from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po

from .i18n import DOMAIN, LOCALES, TRANSLATIONS_DIR

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REVIEWED = "reviewed"
UNREVIEWED = "unreviewed"
NEEDS_REVIEW = "needs-review"
#: A review whose catalog has changed since (a state that is computed, never written).
CHANGED = "changed-since-review"
STATES = (REVIEWED, UNREVIEWED, NEEDS_REVIEW)
#: The lines in each catalog's header comment that carry its review (short enough that
#: pybabel, which rewraps long header comments, leaves them as they are).
HEADER = "# Review: "
MORE = "# Review+ "
WIDTH = 66


class ReviewError(ValueError):
    """``REVIEWS.toml`` says something it cannot mean; the message names the language and key."""


@dataclass(frozen=True)
class Review:
    lang: str
    state: str
    reviewer: str = ""
    organisation: str = ""
    date: str = ""
    #: The catalog version (see :func:`catalog_version`) the reviewer saw.
    catalog: str = ""
    note: str = ""

    def summary(self, version: str) -> str:
        """One line for a catalog's header, ``STATUS.md`` and ``iwf-widget check``."""
        if self.state == NEEDS_REVIEW:
            return f"needs review: {self.note}" if self.note else "needs review"
        if self.state == UNREVIEWED:
            return "not yet reviewed by a native speaker"
        said = f"reviewed by {self.reviewer} ({self.organisation}) on {self.date}, catalog {self.catalog}"
        return said if self.catalog == version else f"{said}; changed since (now {version})"

    def effective(self, version: str) -> str:
        if self.state == REVIEWED and self.catalog != version:
            return CHANGED
        return self.state


def catalog_version(lang: str, folder: Path = TRANSLATIONS_DIR) -> str:
    """12 hex digits that change whenever any translation of ``lang`` does (and only then)."""
    with (folder / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as f:
        catalog = read_po(f)
    digest = hashlib.sha256()
    for message in sorted((m for m in catalog if m.id), key=lambda m: (m.context or "", str(m.id))):
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        digest.update(repr((message.context, message.id, tuple(strings))).encode("utf-8"))
    return digest.hexdigest()[:12]


def load(folder: Path = TRANSLATIONS_DIR) -> dict[str, Review]:
    """Every language's review; a language the file does not name is ``unreviewed``."""
    path = folder / "REVIEWS.toml"
    data: dict[str, t.Any] = tomllib.loads(path.read_text("utf-8")) if path.is_file() else {}
    reviews = {}
    for lang, entry in data.items():
        if not isinstance(entry, dict):
            raise ReviewError(f"{path}: [{lang}] must be a table")
        state = entry.get("state", UNREVIEWED)
        if state not in STATES:
            raise ReviewError(f"{path}: [{lang}] state = {state!r}; use one of {', '.join(STATES)}")
        fields = {k: str(entry.get(k, "")) for k in ("reviewer", "organisation", "date", "catalog", "note")}
        if state == REVIEWED:
            missing = [k for k in ("reviewer", "organisation", "date", "catalog") if not fields[k]]
            if missing:
                raise ReviewError(f"{path}: [{lang}] a review needs {', '.join(missing)}")
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", fields["date"]):
                raise ReviewError(f"{path}: [{lang}] date = {fields['date']!r}; write YYYY-MM-DD")
        reviews[lang] = Review(lang, state, **fields)
    return {lang: reviews.get(lang, Review(lang, UNREVIEWED)) for lang in LOCALES if lang != "en"} | {
        lang: review for lang, review in reviews.items() if lang not in LOCALES
    }


def needing_review(folder: Path = TRANSLATIONS_DIR) -> dict[str, str]:
    """The languages marked ``needs-review``, with why."""
    return {lang: r.note for lang, r in load(folder).items() if r.state == NEEDS_REVIEW}


def write(folder: Path = TRANSLATIONS_DIR) -> list[str]:
    """Copy each review into its catalog's header comment and ``STATUS.md``; what changed."""
    changed = []
    reviews = load(folder)
    # Each catalog read once: its summary goes into its header and into STATUS.md.
    summaries = {
        lang: review.summary(catalog_version(lang, folder))
        for lang, review in reviews.items()
        if (folder / lang / "LC_MESSAGES" / f"{DOMAIN}.po").is_file()
    }
    for lang, summary in summaries.items():
        po = folder / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        wrapped = textwrap.wrap(summary, WIDTH)
        trail = [HEADER + wrapped[0], *(MORE + part for part in wrapped[1:])]
        text = po.read_text("utf-8")
        lines = [ln for ln in text.split("\n") if not ln.startswith((HEADER, MORE))]
        at = next(i for i, ln in enumerate(lines) if not ln.startswith("#"))
        updated = "\n".join([*lines[:at], *trail, *lines[at:]])
        if updated != text:
            po.write_text(updated, "utf-8")
            changed.append(str(po))
    status = folder / "STATUS.md"
    if status.is_file():
        text = status.read_text("utf-8")
        updated = _status_table(text, summaries)
        if updated != text:
            status.write_text(updated, "utf-8")
            changed.append(str(status))
    return changed


def _status_table(text: str, summaries: t.Mapping[str, str]) -> str:
    """``STATUS.md`` with each row's "native review" cell (the fifth) set from ``summaries``."""
    out = []
    for line in text.split("\n"):
        cells = line.split(" | ")
        lang = cells[0].removeprefix("| ").strip() if line.startswith("| ") else ""
        if lang in summaries and len(cells) >= 6:
            cells[4] = summaries[lang]
            line = " | ".join(cells)
        out.append(line)
    return "\n".join(out)


def in_catalog(lang: str, folder: Path = TRANSLATIONS_DIR) -> str | None:
    """The review a catalog's header comment carries now, if any, as one line."""
    po = folder / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    parts = []
    for line in po.read_text("utf-8").split("\n"):
        if not line.startswith("#"):
            break
        if line.startswith((HEADER, MORE)):
            parts.append(line[len(HEADER) :])
    return " ".join(parts) or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(TRANSLATIONS_DIR))
    parser.add_argument("--write", action="store_true", help="copy REVIEWS.toml into the catalogs and STATUS.md")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if args.write:
        for path in write(folder):
            print(f"updated {path}")
    for lang, review in load(folder).items():
        if (folder / lang).is_dir():
            print(f"{lang}: {review.summary(catalog_version(lang, folder))}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
