"""A partner's own wording: catalogs searched before the shipped ones.

``IWF_WIDGET_TRANSLATIONS_DIR`` holds ``<lang>/LC_MESSAGES/iwf_widget.po`` (or
``.mo``), made with the standard gettext tools from the shipped template. A
partner translates only what it wants worded its own way (a glossary term, one
sentence, in one language); every string it leaves out, or leaves empty or
fuzzy, comes from the shipped catalog.

Each catalog is read and checked once, at start-up: a translation that names a
placeholder its English string does not have, or that ``%`` cannot fill in,
would fail on the page a person is looking at, so it fails the start instead,
naming the file and the string.
"""

from __future__ import annotations

import io
import re
import typing as t
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from . import i18n

#: ``%(name)s``-style placeholders, the only kind the widget's strings use.
NAMED = re.compile(r"%\((\w+)\)[sdif]")


class CatalogError(ValueError):
    """A partner catalog that cannot be used; the message names the file and the string."""


def load(folder: str | Path, offered: t.Sequence[str]) -> dict[str, NullTranslations]:
    """Each language's partner catalog, falling back to the shipped one."""
    root = Path(folder)
    out: dict[str, NullTranslations] = {}
    found: dict[str, bytes] = {}
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        lang = lang_dir.name.replace("_", "-")  # gettext's pt_BR is the page's pt-BR
        po, mo = (lang_dir / "LC_MESSAGES" / f"{i18n.DOMAIN}{ext}" for ext in (".po", ".mo"))
        path = mo if mo.is_file() else po
        if not path.is_file():
            continue
        if i18n.match(lang, offered) != lang:
            raise CatalogError(f"{path}: {lang!r} is not an offered language (one of {' '.join(offered)})")
        catalog = _read(path, lang)
        _check(path, catalog)
        if i18n.base(lang) not in i18n.LOCALES:
            _complete(path, catalog)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        found[lang] = compiled.getvalue()
    # A language's wording also serves its regional variants (a pt catalog, pages in pt-BR),
    # before their shipped catalogs; a variant's own catalog comes first.
    for lang in [*found, *(tag for code in list(found) for tag in i18n.regions(code))]:
        if lang in out:
            continue
        chain = [found[code] for code in dict.fromkeys((lang, i18n.base(lang))) if code in found]
        own = Translations(io.BytesIO(chain[0]), domain=i18n.DOMAIN)
        for more in chain[1:]:
            own.add_fallback(Translations(io.BytesIO(more), domain=i18n.DOMAIN))
        own.add_fallback(i18n.translations(lang))
        out[lang] = own
    return out


def _complete(path: Path, catalog: Catalog) -> None:
    """A language the package does not ship has nothing to fall back on but English:
    its catalog must translate every string a person can meet."""
    with (i18n.TRANSLATIONS_DIR / f"{i18n.DOMAIN}.pot").open("rb") as f:
        template = read_po(f)
    for message in template:
        if message.id and not catalog.get(message.id, message.context):
            shown = message.id if isinstance(message.id, str) else message.id[0]
            raise CatalogError(
                f"{path}: {shown[:60]!r} is not translated; a language the widget does not ship "
                "needs every string (start from the shipped template: pybabel init -i translations/iwf_widget.pot)"
            )


def _read(path: Path, lang: str) -> Catalog:
    try:
        with path.open("rb") as f:
            return read_mo(f) if path.suffix == ".mo" else read_po(f, locale=lang, abort_invalid=True)
    except Exception as e:  # noqa: BLE001 - Babel raises several kinds for a damaged file
        raise CatalogError(f"{path}: cannot be read ({e})") from None


def _check(path: Path, catalog: Catalog) -> None:
    """Refuse what would fail on a page; drop what is not translated (all its forms), so
    the shipped catalog answers for it."""
    untranslated = []
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        texts = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        names = {name for msgid in ids for name in NAMED.findall(msgid)}
        if message.pluralizable:
            names.add("num")
        if not all(texts):
            untranslated.append(message)
            continue
        for text in t.cast("tuple[str, ...]", texts):
            unknown = set(NAMED.findall(text)) - names
            if unknown:
                raise CatalogError(f"{path}: {ids[0]!r}: %({sorted(unknown)[0]})s is not in the English string")
            if names:
                try:
                    text % dict.fromkeys(names, "")
                except (TypeError, ValueError, KeyError) as e:
                    raise CatalogError(f"{path}: {ids[0]!r}: cannot be filled in ({e}); write % as %%") from None
    for message in untranslated:
        catalog.delete(message.id, message.context)
