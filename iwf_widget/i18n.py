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


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog for ``locale`` with its fallbacks, loaded once per process."""
    if locale == "en":
        return NullTranslations()
    chain = [locale, *FALLBACKS.get(locale, ())]
    loaded = Translations.load(str(TRANSLATIONS_DIR), chain[:1], domain=DOMAIN)
    for fallback in chain[1:]:
        extra = Translations.load(str(TRANSLATIONS_DIR), [fallback], domain=DOMAIN)
        if isinstance(extra, Translations):
            loaded.add_fallback(extra)
    return loaded


def available() -> tuple[str, ...]:
    """Languages with a compiled catalog (and English, the source)."""
    found = {"en"}
    for code in LOCALES:
        if (TRANSLATIONS_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file():
            found.add(code)
    return tuple(c for c in LOCALES if c in found)


def direction(locale: str) -> str:
    return "rtl" if locale in RTL else "ltr"


@functools.cache
def display_name(locale: str) -> str:
    """The language named in itself, for the picker."""
    try:
        name = Locale.parse(locale).get_display_name(locale) or locale
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
    """The offered language for a tag such as ``fr-MA`` or ``pt_BR``, or None."""
    if not tag:
        return None
    base = tag.replace("_", "-").split("-")[0].strip().lower()
    return base if base in offered else None


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
    written = format_decimal(value, locale=lang)
    return isolate(written) if lang in RTL else written


def format_day(day: str, lang: str) -> str:
    """A ``YYYY-MM-DD`` day written out the language's way (3 December 2026); ValueError if not a day."""
    when = datetime.date.fromisoformat(day)
    try:
        return format_date(when, format="long", locale=lang)
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
