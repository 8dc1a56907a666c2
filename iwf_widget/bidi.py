"""Left-to-right runs kept in order inside right-to-left text.

In Arabic, Pashto and Urdu the Unicode bidi algorithm lays out a Latin run by
its strong letters only: the neutral characters at its edges and between digit
groups (":", "/", ".", spaces) take the direction of the Arabic text around
them. "http://" then shows as "//:http", and "0800 123 456" shows its groups
in reverse. An isolate gives such a run its own direction without touching the
text around it: ``<bdi dir="ltr">`` where markup can go (the templates), and
the Unicode isolates LRI ... PDI (U+2066 ... U+2069) in plain text: catalog
strings, form errors, numbers filled into sentences.

Isolates are only ever written into what the widget shows. What people type
is cleaned of them (:func:`iwf_widget.report.clean_text`), and an address or
an email address copied with marks or isolates around it is taken without them
(:func:`strip_edge_marks`).
"""

from __future__ import annotations

import re
import typing as t

from markupsafe import Markup, escape

LRI, RLI, FSI, PDI = "\u2066", "\u2067", "\u2068", "\u2069"
OPENERS = frozenset((LRI, RLI, FSI))
#: Embeddings and overrides (LRE, RLE, PDF, LRO, RLO): they leak past the end of
#: their run when it is cut short, and an override reverses what a reader sees.
#: Isolates do the same job safely, so translations use only those.
EMBEDDINGS = frozenset("\u202a\u202b\u202c\u202d\u202e")
#: Marks and isolates that apps in right-to-left languages put around a link they
#: copy or share; at the edges of an address they change nothing it means.
EDGE_MARKS = "\u200e\u200f\u061c\u2066\u2067\u2068\u2069"
#: The most isolates that may be open at once (UAX #9 allows 125).
MAX_DEPTH = 125

#: Runs that are always read left to right: web addresses and their parts, email
#: addresses, and numbers written in groups (phone numbers).
ADDRESS = r"(?:[A-Za-z][A-Za-z0-9+.-]*://[^\s\u2066-\u2069]*|www\.[^\s\u2066-\u2069]+)"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
GROUPED_NUMBER = r"\+?\d+(?:[ .\u00a0-]\d+)+|\+\d+"
LTR_RUN = re.compile(f"{ADDRESS}|{EMAIL}|{GROUPED_NUMBER}")
#: Punctuation that ends a sentence rather than an address.
TRAILING = ".,;:!?)»”’\u060c\u061b\u061f\u06d4"


def isolate(text: str) -> str:
    """``text`` between LRI and PDI: read left to right whatever surrounds it."""
    return f"{LRI}{text}{PDI}"


def ltr(value: t.Any) -> Markup:
    """``value``, escaped, in ``<bdi dir="ltr">``: for a template's placeholder values."""
    return Markup('<bdi dir="ltr">{}</bdi>').format(value)


def _runs(text: str) -> t.Iterator[tuple[int, int]]:
    for found in LTR_RUN.finditer(text):
        start, end = found.span()
        while end > start and text[end - 1] in TRAILING:
            end -= 1
        if end > start:
            yield start, end


def isolate_runs(text: str) -> Markup:
    """Text from a partner, escaped, with its addresses and phone numbers in ``<bdi dir="ltr">``.

    A partner's help text may be in the page's language or another, and mixes
    words with numbers and addresses; each of those must read in order either way.
    """
    out: list[str] = []
    last = 0
    for start, end in _runs(text):
        out.append(escape(text[last:start]))
        out.append(ltr(text[start:end]))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def strip_edge_marks(text: str) -> str:
    """``text`` without the bidi marks and isolates (and spaces among them) at its start and end.

    Inside an address they stay, and are refused there: they can make it read
    differently from what it is.
    """
    return text.strip(EDGE_MARKS + " \t")


def balance_problem(text: str) -> str | None:
    """Why ``text``'s bidi controls could disturb what follows it, or None."""
    if any(ch in EMBEDDINGS for ch in text):
        return "uses an embedding or override (U+202A..U+202E); use isolates (U+2066..U+2069)"
    depth = 0
    for ch in text:
        if ch in OPENERS:
            depth += 1
            if depth > MAX_DEPTH:
                return "nests isolates too deeply"
        elif ch == PDI:
            depth -= 1
            if depth < 0:
                return "closes an isolate (U+2069) that was not opened"
    if depth:
        return "leaves an isolate open (add U+2069)"
    return None


def unisolated_runs(text: str) -> list[str]:
    """The left-to-right runs of ``text`` (addresses, emails, grouped numbers) not inside an LRI or FSI isolate."""
    inside: list[bool] = []
    stack: list[str] = []
    for ch in text:
        if ch in OPENERS:
            stack.append(ch)
        elif ch == PDI and stack:
            stack.pop()
        inside.append(bool(stack) and stack[-1] in (LRI, FSI))
    return [text[start:end] for start, end in _runs(text) if not all(inside[start:end])]
