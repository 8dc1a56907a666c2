"""The new-form page, rendered once and then only filled in.

A form page that nobody has typed into differs from the next one only in its
form token and its proof-of-work challenge, both made per request by design.
Everything else (the texts in one language, the step shown, the partner's
colour, the asset URLs) is rendered once per process into a page with two
slots, and each request fills in its own token and challenge: rendering the
whole template costs several times more than everything else a request does.
"""
from __future__ import annotations

import secrets
import threading
import typing as t
from collections import OrderedDict

from markupsafe import escape

#: Stand-ins that HTML escaping leaves as they are and that no page contains by chance.
TOKEN_SLOT = f"iwf-token-slot-{secrets.token_hex(8)}"
WORK_SLOT = f"iwf-work-slot-{secrets.token_hex(8)}"


class FormPage:
    """A rendered page with a token slot and, when proof-of-work is on, a challenge slot."""

    def __init__(self, html: str) -> None:
        if html.count(TOKEN_SLOT) != 1 or html.count(WORK_SLOT) > 1:
            raise RuntimeError("the form page must show its token exactly once")
        self.html = html

    def fill(self, token: str, work: str | None) -> str:
        html = self.html.replace(TOKEN_SLOT, escape(token), 1)
        if work is not None:
            html = html.replace(WORK_SLOT, escape(work), 1)
        return html


class FormPages:
    """The rendered pages of one app, the most recently used ``size`` of them.

    A partner's colour comes from the query string, so the number of possible
    pages is bounded only by this cache, not by the requests.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._pages: OrderedDict[t.Hashable, FormPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: t.Hashable, render: t.Callable[[str, str], str]) -> FormPage:
        """The page for ``key``; ``render(token, work)`` renders it, with the slots, on a miss."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                return page
        page = FormPage(render(TOKEN_SLOT, WORK_SLOT))
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return page

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
