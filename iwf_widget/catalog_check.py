"""Keeps every shipped catalog complete: ``python -m iwf_widget.catalog_check``.

A frightened reader must never meet a string left in English, a broken
placeholder or a stale compiled catalog. Checked for each language: every
source string translated, nothing fuzzy, placeholders and markup identical to
the source (except that a plural form used for one number only may say that number
in words, as gettext's ``msgfmt --check`` allows), no translation equal to its
English source unless listed in
``translations/SAME_AS_SOURCE.txt``, Babel's plural forms in the header, and the
``.mo`` file compiled from the current ``.po``; bidi controls only as balanced
isolates, and in right-to-left languages every address, email address or
grouped number of a translation isolated (see :mod:`iwf_widget.bidi`); and the
template holds exactly the strings the source code marks.
"""

from __future__ import annotations

import argparse
import gettext
import io
import re
import sys
import typing as t
from collections import Counter
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from . import bidi
from .i18n import DOMAIN, LOCALES, REGIONAL, RTL, babel_locale, base

PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")
MARKUP = re.compile(r"</?[a-zA-Z][^>]*>")
#: The count an ``ngettext`` string is chosen by (``i18n.ngettext`` fills it in).
COUNT = "%(num)s"
#: The counts a plural form is checked against, as ``msgfmt --check`` does.
COUNTS = range(1000)
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None}
METHOD_MAP = [("iwf_widget/**.py", "python"), ("iwf_widget/templates/**.html", "jinja2")]


def _ids(message: t.Any) -> list[str]:
    return list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]


def _key(message: t.Any) -> tuple[str, str | None]:
    """A message's singular id and context: "Back" the button is not "Back" the noun."""
    return (message.id if isinstance(message.id, str) else message.id[0], message.context)


def _shown(key: tuple[str, str | None]) -> str:
    text, context = key
    return f"{text[:60]!r}" + (f" ({context})" if context else "")


def _strings(message: t.Any) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale, domain=DOMAIN)


def allowed_same(folder: Path) -> set[tuple[str, str]]:
    """(lang, msgid) pairs whose translation may equal the English, e.g. "URL"."""
    path = folder / "SAME_AS_SOURCE.txt"
    pairs = set()
    if path.is_file():
        for line in path.read_text("utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                lang, _, msgid = line.partition(":")
                pairs.add((lang.strip(), msgid.strip()))
    return pairs


def single_count_forms(plural_expr: str) -> frozenset[int]:
    """The plural forms that ``plural_expr`` picks for one count only.

    Such a form may leave out the number and say it in words, as grammar often
    wants: Arabic "دقيقة واحدة" (one minute) and "دقيقتين" (two minutes).
    """
    pick = gettext.c2py(plural_expr)
    used = Counter(pick(n) for n in COUNTS)
    return frozenset(form for form, times in used.items() if times == 1)


def check_language(folder: Path, lang: str, template: Catalog, partial: bool = False) -> list[str]:
    """``partial``: a regional variant's catalog (``pt_PT``), which translates only what is
    worded differently in that region; its other strings come from the language's."""
    problems: list[str] = []
    po_path = folder / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.is_file():
        return [f"{lang}: no catalog at {po_path}"]
    catalog = _read(po_path, lang)
    same_ok = allowed_same(folder)
    expected_plural = get_plural(lang)
    if catalog.num_plurals != expected_plural.num_plurals or catalog.plural_expr != expected_plural.plural_expr:
        problems.append(f"{lang}: Plural-Forms is not Babel's ({expected_plural.plural_forms})")
    worded = single_count_forms(catalog.plural_expr)
    wanted = {_key(m) for m in template if m.id}
    present = {_key(m) for m in catalog if m.id}
    for missing in sorted(wanted - present, key=str):
        problems.append(f"{lang}: missing {_shown(missing)} (run scripts/i18n update)")
    for extra in sorted(present - wanted, key=str):
        problems.append(f"{lang}: obsolete {_shown(extra)} (run scripts/i18n update)")
    for message in catalog:
        if not message.id:
            continue
        ids, strings = _ids(message), _strings(message)
        label = ids[0][:60]
        if message.fuzzy:
            problems.append(f"{lang}: fuzzy {label!r}")
        if not all(strings):
            if not partial or any(strings):
                problems.append(f"{lang}: untranslated {label!r}")
            continue
        want_ph = set(PLACEHOLDER.findall(" ".join(ids)))
        want_markup = sorted(MARKUP.findall(ids[0]))
        plural = len(ids) > 1
        for form, text in enumerate(strings):
            found = set(PLACEHOLDER.findall(text))
            if found != want_ph and not (plural and form in worded and found == want_ph - {COUNT}):
                problems.append(f"{lang}: placeholders differ in {label!r}: {text[:60]!r}")
            if sorted(MARKUP.findall(text)) != want_markup:
                problems.append(f"{lang}: markup differs in {label!r}")
            if text in ids and (lang, ids[0]) not in same_ok:
                problems.append(f"{lang}: translation equals the English source {label!r}")
            problems.extend(_bidi_problems(lang, label, text))
    problems.extend(_check_compiled(po_path, catalog, lang))
    return problems


def _bidi_problems(lang: str, label: str, text: str) -> list[str]:
    """Isolates that close what they open; in right-to-left text, left-to-right runs isolated."""
    problem = bidi.balance_problem(text)
    if problem:
        return [f"{lang}: {label!r} {problem}"]
    if base(lang) in RTL:
        return [
            f"{lang}: {run!r} in {label!r} is not isolated: write it as U+2066 {run} U+2069"
            for run in bidi.unisolated_runs(text)
        ]
    return []


def _check_compiled(po_path: Path, catalog: Catalog, lang: str) -> list[str]:
    mo_path = po_path.with_suffix(".mo")
    if not mo_path.is_file():
        return [f"{lang}: not compiled (run scripts/i18n compile)"]
    fresh = io.BytesIO()
    write_mo(fresh, catalog)
    fresh.seek(0)
    with mo_path.open("rb") as f:
        shipped = gettext.GNUTranslations(f)
    expected = gettext.GNUTranslations(fresh)
    if shipped._catalog != expected._catalog:  # type: ignore[attr-defined]
        return [f"{lang}: {mo_path.name} is out of date with its .po (run scripts/i18n compile)"]
    return []


def check_template(root: Path, template: Catalog) -> list[str]:
    """The .pot holds exactly the strings the code marks for translation."""
    marked: set[tuple[str, str | None]] = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(root), method_map=METHOD_MAP, keywords=KEYWORDS
    ):
        marked.add((message if isinstance(message, str) else message[0], context))
    in_template = {_key(m) for m in template if m.id}
    problems = [
        f"template: {_shown(m)} is marked in the code but not extracted (run scripts/i18n extract)"
        for m in sorted(marked - in_template, key=str)
    ]
    problems += [
        f"template: {_shown(m)} is no longer in the code (run scripts/i18n extract)"
        for m in sorted(in_template - marked, key=str)
    ]
    return problems


def check(folder: Path, languages: t.Iterable[str], source_root: Path | None = None) -> list[str]:
    template = _read(folder / f"{DOMAIN}.pot")
    problems = check_template(source_root, template) if source_root else []
    for lang in languages:
        if lang != "en":
            problems.extend(check_language(folder, lang, template))
    for tag in REGIONAL:
        variant = babel_locale(tag)
        if base(tag) in languages and (folder / variant).is_dir():
            problems.extend(check_language(folder, variant, template, partial=True))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="translations")
    parser.add_argument("--source", default=".", help="project root, to check the template against the code")
    parser.add_argument("languages", nargs="*", default=list(LOCALES))
    args = parser.parse_args(argv)
    languages = [lang for lang in (args.languages or LOCALES) if lang != "en"]
    problems = check(Path(args.folder), languages, Path(args.source))
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s) in {len(languages)} catalogs")
    return 1 if problems else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
