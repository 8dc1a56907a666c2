"""Languages offered, negotiation, text direction and the widget's own catalogs.

The widget chooses its language per request (``?lang=``, then the browser), not
per application, so it keeps its own compiled catalogs (domain ``iwf_widget``)
instead of borrowing a host's Flask-Babel locale selector.
"""

from __future__ import annotations

import datetime
import functools
import typing as t
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal
from babel.support import LazyProxy, NullTranslations, Translations
from flask import g
from markupsafe import Markup

from .bidi import isolate

DOMAIN = "iwf_widget"
LOCALES: tuple[str, ...] = tuple(
    ["ar", "en", "es", "fr", "hi", "id", "kk", "ln", "mn", "ms", "ne", "ps", "pt", "sw", "uk", "ur", "wo"]
)
RTL = frozenset({"ar", "ps", "ur"})
#: Regional variants negotiated with their region: ``?lang=pt-BR`` is answered in pt-BR, with
#: ``<html lang="pt-BR">``. A variant's catalog (``translations/pt_BR``) holds only what is
#: worded differently there; everything else comes from its language's catalog.
REGIONAL: tuple[str, ...] = ("es-419", "es-ES", "fr-MA", "pt-BR", "pt-PT")
#: Regions that take a regional variant other than their own code: Spanish in the Americas.
REGION_ALIASES: dict[str, str] = {
    f"es-{region}": "es-419"
    for region in (
        [
            "AR",
            "BO",
            "CL",
            "CO",
            "CR",
            "CU",
            "DO",
            "EC",
            "GT",
            "HN",
            "MX",
            "NI",
            "PA",
            "PE",
            "PR",
            "PY",
            "SV",
            "US",
            "UY",
            "VE",
        ]
    )
}
#: Where a language lacks a string, the language a reader most likely also reads.
FALLBACKS: dict[str, tuple[str, ...]] = {
    "wo": ("fr",),
    "ln": ("fr",),
    "ps": ("ur",),
    "ms": ("id",),
    "id": ("ms",),
    "ne": ("hi",),
}


def resource_dir(name: str) -> Path:
    """``static`` or ``translations``: inside the installed package, or at the checkout's top."""
    here = Path(__file__).resolve().parent
    for candidate in (here / name, here.parent / name):
        if candidate.is_dir():
            return candidate
    return here / name


TRANSLATIONS_DIR = resource_dir("translations")


def base(locale: str) -> str:
    """The language of a tag: ``pt`` for ``pt-BR``."""
    return locale.split("-", 1)[0]


def babel_locale(locale: str) -> str:
    """The tag as Babel and gettext folders spell it: ``pt_BR``."""
    return locale.replace("-", "_")


def regions(locale: str) -> tuple[str, ...]:
    """The regional variants of a language (``pt`` -> ``pt-BR``, ``pt-PT``)."""
    return tuple(tag for tag in REGIONAL if base(tag) == locale)


def _compiled(folder: str) -> Translations | None:
    """One shipped catalog, by its exact folder name.

    Not through gettext's search, which expands ``pt`` to ``pt_PT`` first (the C
    library's locale aliases) and would answer Portuguese with Portugal's variant.
    """
    path = TRANSLATIONS_DIR / folder / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not path.is_file():
        return None
    with path.open("rb") as f:
        loaded = Translations(f, domain=DOMAIN)
    if "_" in folder:
        _drop_untranslated_plurals(loaded)
    return loaded


def _drop_untranslated_plurals(catalog: Translations) -> None:
    """A regional catalog leaves most strings to its language; Babel compiles an empty
    plural as the English itself, which would answer before the language could."""
    messages = catalog._catalog
    plural = {key[0] for key, text in messages.items() if isinstance(key, tuple) and key[1] == 0 and text == key[0]}
    for key in [key for key in messages if isinstance(key, tuple) and key[0] in plural]:
        del messages[key]


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog for ``locale`` with its fallbacks, loaded once per process.

    A regional variant is its own catalog (only what differs), then its language's.
    """
    if base(locale) == "en":
        return NullTranslations()
    language = base(locale)
    chain = [babel_locale(locale)] if locale != language else []
    chain += [language, *FALLBACKS.get(language, ())]
    found = [catalog for catalog in map(_compiled, chain) if catalog is not None]
    if not found:
        return NullTranslations()
    loaded = found[0]
    for extra in found[1:]:
        loaded.add_fallback(extra)
    return loaded


def available() -> tuple[str, ...]:
    """Languages with a compiled catalog (and English, the source)."""
    found = {"en"}
    for code in LOCALES:
        if (TRANSLATIONS_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file():
            found.add(code)
    return tuple(c for c in LOCALES if c in found)


@functools.cache
def direction(locale: str) -> str:
    """``rtl`` for Arabic, Pashto, Urdu, and any other language CLDR writes right to left."""
    if base(locale) in RTL:
        return "rtl"
    try:
        rtl = Locale.parse(babel_locale(locale)).character_order == "right-to-left"
    except (UnknownLocaleError, ValueError):
        rtl = False
    return "rtl" if rtl else "ltr"


@functools.cache
def display_name(locale: str) -> str:
    """The language named in itself, for the picker."""
    try:
        name = Locale.parse(babel_locale(locale)).get_display_name(babel_locale(locale)) or locale
    except (UnknownLocaleError, ValueError):
        return locale
    return name[:1].upper() + name[1:]


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags from ``Accept-Language`` in preference order (q-values honoured)."""
    if not header:
        return []
    weighted = []
    for index, item in enumerate(header.split(",")[:32]):
        parts = item.strip().split(";")
        tag = parts[0].strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        q = 1.0
        for param in parts[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            weighted.append((-q, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def match(tag: str | None, offered: t.Iterable[str]) -> str | None:
    """The offered language for a tag such as ``fr-MA``, ``pt_BR`` or ``es-MX``, or None.

    A known regional variant (:data:`REGIONAL`) is kept when it, or its language, is
    offered; another region gets its language (``fr-CA`` -> ``fr``); a language offered
    only as regional variants gets the first of them (``pt`` -> ``pt-BR``).
    """
    if not tag or len(tag) > 35:
        return None
    offered = list(offered)
    parts = tag.replace("_", "-").strip().split("-")
    language = parts[0].lower()
    # The region is the first two-letter or three-digit subtag (a script, "Latn", may come first).
    region = next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha() or len(p) == 3 and p.isdigit()), "")
    regional = f"{language}-{region}" if region else ""
    regional = REGION_ALIASES.get(regional, regional)
    if regional in REGIONAL and (regional in offered or language in offered):
        return regional
    if language in offered:
        return language
    return next((code for code in offered if base(code) == language), None)


def negotiate(requested: str | None, accept_language: str | None, offered: t.Sequence[str], default: str) -> str:
    """``?lang=`` first, then the browser's languages, then the partner's default."""
    found = match(requested, offered)
    if found:
        return found
    for tag in parse_accept_language(accept_language):
        found = match(tag, offered)
        if found:
            return found
    return default


# The views put the request's translations on ``g``; the forms translate through them.
def number(value: int | float) -> str:
    """A number written the way the request's language writes it, by Babel's rules.

    In right-to-left languages it is isolated (see :mod:`bidi`), so that "2,000"
    or "2.048" keeps its groups in order in any sentence it is filled into.
    """

    lang = g.get("iwf_lang", "en")
    written = format_decimal(value, locale=babel_locale(lang))
    return isolate(written) if base(lang) in RTL else written


def format_day(day: str, lang: str) -> str:
    """A ``YYYY-MM-DD`` day written out the language's way (3 December 2026); ValueError if not a day."""
    when = datetime.date.fromisoformat(day)
    try:
        return format_date(when, format="long", locale=babel_locale(lang))
    except (UnknownLocaleError, ValueError):
        return format_date(when, format="long", locale="en")


def gettext(message: str, **variables: t.Any) -> str:

    text: str = g.get("iwf_translations", NullTranslations()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: t.Any) -> str:

    text: str = g.get("iwf_translations", NullTranslations()).ngettext(singular, plural, n)
    variables.setdefault("num", number(n))
    return text % variables


def gettext_markup(message: str, **variables: t.Any) -> Markup:
    """For templates: the translation escaped, its variables escaped unless already markup.

    So a template can fill in a value as ``bidi.ltr(number)``, and no
    translation can add markup of its own.
    """

    text = Markup.escape(g.get("iwf_translations", NullTranslations()).gettext(message))
    return text % variables if variables else text


def ngettext_markup(singular: str, plural: str, n: int, **variables: t.Any) -> Markup:
    """:func:`gettext_markup` for a plural string; ``num`` is ``n``, written as :func:`number` does."""

    text = Markup.escape(g.get("iwf_translations", NullTranslations()).ngettext(singular, plural, n))
    variables.setdefault("num", number(n))
    return text % variables


def pgettext_markup(context: str, message: str, **variables: t.Any) -> Markup:
    """:func:`gettext_markup` for a string with a context (``msgctxt``): "Back" the button."""

    text = Markup.escape(g.get("iwf_translations", NullTranslations()).pgettext(context, message))
    return text % variables if variables else text


def lazy_gettext(message: str) -> LazyProxy:
    """A string translated when shown, for labels defined at import time."""
    return LazyProxy(gettext, message, enable_cache=False)
