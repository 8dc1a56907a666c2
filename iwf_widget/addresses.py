"""Web addresses as people paste them, made strict and comparable.

Analysts open these addresses, so anything that is not a plain http(s) address
is refused: other schemes, control characters, bidi overrides (which make an
address read differently from what it is), malformed hosts. International
domain names are stored as punycode, the form a browser actually requests.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import quote, urlsplit, urlunsplit

import idna

from .bidi import strip_edge_marks
from .report import MAX_ADDRESSES, is_stream_safe

__all__ = ["MAX_ADDRESSES", "AddressError", "normalize", "readable", "split_lines"]
#: Lines read at all; repeats of one address are merged, so a few more than ten are fine.
MAX_LINES = 50
MAX_LENGTH = 2048

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PLAIN_HOST = re.compile(r"[A-Za-z0-9.-]+")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# Characters that may stay as they are in a path or query; the rest is %-encoded.
_SAFE = "/:@!$&'()*+,;=-._~%?#[]"


class AddressError(ValueError):
    """Why one address was refused; ``kind`` picks the localized message."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(kind)


def _has_forbidden_characters(text: str) -> bool:
    for ch in text:
        cat = unicodedata.category(ch)
        # U+FFFD is what undecodable bytes become: the address did not arrive intact.
        if cat in ("Cc", "Cf", "Cs", "Zl", "Zp") or ch == "\ufffd":
            return True
    return False


def normalize(raw: str) -> str:
    """One address, normalized; raises :class:`AddressError`."""
    raw = strip_edge_marks(raw.strip()).strip()
    if not raw:
        raise AddressError("empty")
    # Bounds first, on what arrived: normalizing unbounded text is what is slow.
    if len(raw) > MAX_LENGTH:
        raise AddressError("too_long")
    if not is_stream_safe(raw):
        raise AddressError("invalid")
    text = unicodedata.normalize("NFC", raw)
    if len(text) > MAX_LENGTH:
        raise AddressError("too_long")
    if _has_forbidden_characters(text):
        raise AddressError("characters")
    if any(ch.isspace() for ch in text):
        raise AddressError("invalid")
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        if not re.match(r"^\d+(/|$)", text[scheme.end() :]):
            raise AddressError("scheme")
        scheme = None  # "example.com:8080/x": a host and port, not a scheme
    if scheme is None:
        text = "http://" + text  # people often leave the scheme out
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise AddressError("invalid") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise AddressError("scheme")
    host = _host(parts.hostname or "")
    netloc = host
    if port is not None and port != {"http": 80, "https": 443}[parts.scheme.lower()]:
        netloc = f"{host}:{port}"
    path = quote(parts.path or "/", safe=_SAFE)
    query = quote(parts.query, safe=_SAFE)
    fragment = quote(parts.fragment, safe=_SAFE)
    address = urlunsplit((parts.scheme.lower(), netloc, path, query, fragment))
    if len(address) > MAX_LENGTH:
        raise AddressError("too_long")
    return address


def _host(host: str) -> str:
    if not host:
        raise AddressError("invalid")
    if host.startswith("[") or ":" in host:
        try:
            return f"[{ipaddress.IPv6Address(host.strip('[]')).compressed}]"
        except ValueError:
            raise AddressError("invalid") from None
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    host = host.rstrip(".")
    if len(host) > 253:
        raise AddressError("invalid")
    if _PLAIN_HOST.fullmatch(host) and "--" not in host:
        # Letters, digits, dots and single hyphens: what IDNA would give back, lower-cased
        # (most hosts; the full IDNA processing below is several times slower).
        ascii_host = host.lower()
    else:
        try:
            ascii_host = idna.encode(host, uts46=True).decode("ascii").lower()
        except (idna.IDNAError, UnicodeError, ValueError):
            raise AddressError("invalid") from None
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise AddressError("invalid")
    return ascii_host


def readable(address: str) -> str:
    """The address with its domain shown in its own script, for display only."""
    parts = urlsplit(address)
    host = parts.hostname or ""
    if "xn--" not in host:
        return address
    try:
        shown = idna.decode(host)
    except (idna.IDNAError, UnicodeError, ValueError):
        return address
    netloc = shown if parts.port is None else f"{shown}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def split_lines(text: str) -> list[tuple[int, str]]:
    """Non-empty lines with their 1-based line numbers."""
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
