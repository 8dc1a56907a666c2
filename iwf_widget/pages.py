"""Pages rendered once and then only filled in.

A new form differs from the next one only in its form token and its
proof-of-work challenge, both made per request by design; a thank-you page
differs from the next one only in its reference. Everything else (the texts
in one language, the step shown, the partner's colour, the asset URLs) is
rendered once per process into a page with slots, and each request fills in
its own values: rendering the whole template costs several times more than
everything else such a request does.
"""

from __future__ import annotations

import re
import secrets
import threading
import typing as t
from collections import OrderedDict

from markupsafe import escape

#: Stand-ins that HTML escaping leaves as they are and that no page contains by chance.
SLOTS = {name: f"iwf-{name}-slot-{secrets.token_hex(8)}" for name in ("token", "work", "reference")}


class Page:
    """A rendered page with slots, kept as encoded pieces so filling it in is a join."""

    def __init__(self, html: str) -> None:
        self.html = html
        names = {slot: name for name, slot in SLOTS.items()}
        pieces = re.split(f"({'|'.join(map(re.escape, names))})", html)
        self._text = [piece.encode("utf-8") for piece in pieces[::2]]
        self._slots = [names[piece] for piece in pieces[1::2]]

    def fill(self, **values: str | None) -> bytes:
        """The page, encoded, with each named slot replaced by its value, escaped.

        A slot given no value (or None) is left as it was rendered.
        """
        out = [self._text[0]]
        for name, text in zip(self._slots, self._text[1:], strict=True):
            value = values.get(name)
            out.append(SLOTS[name].encode() if value is None else str(escape(value)).encode("utf-8"))
            out.append(text)
        return b"".join(out)


class Pages:
    """The rendered pages of one app, the most recently used ``size`` of them.

    A partner's colour comes from the query string, so the number of possible
    pages is bounded only by this cache, not by the requests.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._pages: OrderedDict[t.Hashable, Page] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: t.Hashable, render: t.Callable[[], str]) -> Page:
        """The page for ``key``; ``render()`` renders it, with the slots, when it is not cached."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                return page
        page = Page(render())
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return page
