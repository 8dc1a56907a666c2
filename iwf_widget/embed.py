"""The embed snippet and the partner's colour for the form.

``static/embed.js`` is the readable source; ``static/embed.min.js`` is built
from it by terser (``scripts/build-embed``; a test checks that it is current).
The server fills in the snippet's ``CONFIG`` (the offered languages, the default
one, the right-to-left ones, the default language's labels: the button's and
the iframe's label and the dialog's close label, from the gettext catalogs, and
the integrity hash of the button mode's code) once per process, and serves it
with an ETag; another language's labels come from ``/embed-labels.js?lang=``
when a page needs them. The button and its dialog (``static/embed-dialog.js``,
built likewise into ``embed-dialog.min.js``) load from ``/embed-dialog.js`` only
on a page that has a button, so the snippet an inline page needs stays small.

A partner may set one colour, the accent (``data-accent="#0b5cad"``). It reaches
the form as ``?accent=0b5cad``; the server keeps it only if it is a hex colour
on which white text has at least 4.5:1 contrast (so links on white have it too),
and applies it through a tiny stylesheet of CSS custom properties, since the
form's CSP allows no inline style.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import typing as t
from pathlib import Path

from babel.support import NullTranslations

from . import i18n

CONFIG_SLOT = re.compile(r"/\*@config\*/.*?/\*@\*/", re.S)
#: What the slot becomes in the minified file: a name terser leaves alone.
MIN_SLOT = "__IWF_CONFIG__"
SOURCE, MINIFIED = "embed.js", "embed.min.js"
DIALOG_SOURCE, DIALOG_MINIFIED = "embed-dialog.js", "embed-dialog.min.js"
HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
WHOLE_LINE_COMMENT = re.compile(r"^\s*//.*\n", re.M)
BLOCK_COMMENT = re.compile(r"^\s*/\*.*?\*/\s*\n", re.S | re.M)


class Snippet(t.NamedTuple):
    body: bytes
    etag: str

    @property
    def integrity(self) -> str:
        """The Subresource Integrity hash the snippet loads this file with."""
        return sha256_source(self.body)


def sha256_source(data: bytes) -> str:
    """``sha256-<base64>``: the form both Subresource Integrity and a CSP hash source take."""
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def labels(locale: str, catalog: NullTranslations | None = None) -> list[str]:
    """[the button's label and the iframe's title, the dialog's close button] in ``locale``,
    from ``catalog`` (a partner's, see partner_catalogs.py) or the shipped one."""
    catalog = i18n.translations(locale) if catalog is None else catalog
    return [
        catalog.gettext("Report child sexual abuse images"),
        # TRANSLATORS: The button that closes the dialog the form opens in, on the partner's page.
        str(catalog.pgettext("button", "Close")),
    ]


def config(
    locales: t.Sequence[str], default: str, dialog_integrity: str = "", catalog: NullTranslations | None = None
) -> dict[str, t.Any]:
    """Only the default language's labels travel with the snippet; others load on demand.

    Labels in 17 scripts would double the snippet's size, while a page almost always
    uses the partner's default language. ``i`` is the integrity hash of the button
    mode's code, which the snippet loads only when a page has a button.
    """
    bases = list(dict.fromkeys(i18n.base(code) for code in locales))
    return {
        # Labels are per language (``pt``), the form is asked for in the whole tag (``pt-BR``).
        "d": i18n.base(default),
        "t": default,
        "o": bases,
        "r": [code for code in bases if i18n.direction(code) == "rtl"],
        "s": {i18n.base(default): labels(default, catalog)},
        "i": dialog_integrity,
    }


@functools.lru_cache(maxsize=64)
def labels_script(locale: str, catalog: NullTranslations | None = None) -> str:
    """The labels of one more language, for ``/embed-labels.js?lang=``, from :func:`labels`.

    Cached per catalog object: a partner's catalogs live as long as its app.
    """
    data = json.dumps(labels(locale, catalog), ensure_ascii=False, separators=(",", ":"))
    return f"IWFReport.l({json.dumps(i18n.base(locale))},{data});\n"


def compact(source: str) -> str:
    """Drops whole-line comments and indentation; the source keeps both."""
    source = BLOCK_COMMENT.sub("", source)
    source = WHOLE_LINE_COMMENT.sub("", source)
    return "\n".join(line.strip() for line in source.splitlines() if line.strip()) + "\n"


def _built(static_dir: str | Path, source: str, minified: str) -> Path | None:
    """The minified file when it is there (it is in the package), else the readable source."""
    for name in (minified, source):
        path = Path(static_dir) / name
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=4)
def _render_dialog(path: str, mtime: float) -> Snippet:
    source = Path(path).read_text("utf-8")
    body = (source if path.endswith(DIALOG_MINIFIED) else compact(source)).encode("utf-8")
    return Snippet(body, hashlib.sha256(body).hexdigest()[:20])


def dialog(static_dir: str | Path) -> Snippet | None:
    """The button mode's code, for ``/embed-dialog.js``; None if the folder has none."""
    path = _built(static_dir, DIALOG_SOURCE, DIALOG_MINIFIED)
    return None if path is None else _render_dialog(str(path), path.stat().st_mtime)


@functools.lru_cache(maxsize=16)
def _render(
    path: str, mtime: float, locales: tuple[str, ...], default: str, integrity: str, catalog: NullTranslations | None
) -> Snippet:
    source = Path(path).read_text("utf-8")
    data = json.dumps(config(locales, default, integrity, catalog), ensure_ascii=False, separators=(",", ":"))
    if path.endswith(MINIFIED):
        body, found = source.replace(MIN_SLOT, data, 1), source.count(MIN_SLOT)
    else:
        body, found = CONFIG_SLOT.subn(lambda _m: data, compact(source), count=1)
    if found != 1:
        raise RuntimeError(f"{path} has no config slot")
    encoded = body.encode("utf-8")
    return Snippet(encoded, hashlib.sha256(encoded).hexdigest()[:20])


def render(
    static_dir: str | Path, locales: t.Sequence[str], default: str, catalog: NullTranslations | None = None
) -> Snippet:
    """The snippet for these languages, built once per process (again if the file changes).

    The minified file when it is there (it is in the package), else the readable source
    with its comments and indentation dropped.
    """
    path = _built(static_dir, SOURCE, MINIFIED)
    if path is None:
        raise FileNotFoundError(Path(static_dir) / SOURCE)
    button = dialog(static_dir)
    integrity = button.integrity if button else ""
    return _render(str(path), path.stat().st_mtime, tuple(locales), default, integrity, catalog)


def accent(value: str | None) -> str | None:
    """Six lower-case hex digits if ``value`` is a usable accent colour, else None."""
    found = HEX.match((value or "").strip())
    if not found:
        return None
    digits = found.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return digits if contrast_with_white(digits) >= 4.5 else None


def contrast_with_white(digits: str) -> float:
    """WCAG 2 contrast ratio of white against the colour ``rrggbb``."""

    def channel(pair: str) -> float:
        c = int(pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(digits[i : i + 2]) for i in (0, 2, 4))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 1.05 / (luminance + 0.05)


def theme_css(digits: str) -> str:
    """The stylesheet that gives the form a validated accent colour."""
    return f":root{{--iwf-accent:#{digits};--iwf-accent-text:#fff}}\n"
