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

import secrets
import threading
import typing as t
from collections import OrderedDict

from markupsafe import escape

#: Stand-ins that HTML escaping leaves as they are and that no page contains by chance.
SLOTS = {name: f"iwf-{name}-slot-{secrets.token_hex(8)}" for name in ("token", "work", "reference")}


class Page:
    """A rendered page with slots."""

    def __init__(self, html: str) -> None:
        self.html = html

    def fill(self, **values: str | None) -> str:
        """The page with each named slot replaced by its value, escaped; None leaves a slot alone."""
        html = self.html
        for name, value in values.items():
            if value is not None:
                html = html.replace(SLOTS[name], escape(value))
        return html


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

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
