"""The intake's reports as analysts read them: JSON lines, or CSV for a spreadsheet.

What a report says was written by anyone, possibly by the people it reports.
Whatever it holds, each report stays on one line (tools that split on
``str.splitlines`` or on U+2028 see one record), invisible characters that
reorder or hide text are shown as escapes, and no CSV cell is read by a
spreadsheet as a formula.
"""

from __future__ import annotations

import csv
import io
import json
import re
import typing as t
import unicodedata

#: The fields of a CSV row, in order; lists are joined with a space (addresses hold none).
CSV_FIELDS = (
    "id",
    "reference",
    "partner",
    "locale",
    "created",
    "received",
    "urls",
    "urls_readable",
    "content_kind",
    "where_seen",
    "description",
    "contact_email",
)
#: A cell a spreadsheet may read as a formula or a command (OWASP's list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
#: Characters outside printable ASCII; only some of them need escaping (see :func:`_hidden`).
_NOT_ASCII = re.compile(r"[^\x20-\x7e]")


def _hidden(char: str) -> bool:
    """Line and paragraph separators, control and format characters (bidi overrides, zero widths)."""
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if not _hidden(char):
        return char
    code = ord(char)
    if code > 0xFFFF:  # JSON escapes astral characters as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_line(report: t.Mapping[str, t.Any]) -> str:
    """One report as one line of JSON, readable text kept, hidden characters escaped."""
    return _NOT_ASCII.sub(_json_escape, json.dumps(report, ensure_ascii=False))


def _text_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    if not _hidden(char):
        return char
    return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"


def cell(value: t.Any) -> str:
    """One CSV cell: on one line, hidden characters shown, never starting like a formula."""
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START):
        text = "'" + text
    text = text.replace("\\", "\\\\")
    return _NOT_ASCII.sub(_text_escape, text)


def csv_lines(reports: t.Iterable[t.Mapping[str, t.Any]]) -> t.Iterator[str]:
    """A header line, then one line per report."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(row: t.Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        return buffer.getvalue()

    yield line(CSV_FIELDS)
    for report in reports:
        yield line(cell(report.get(name)) for name in CSV_FIELDS)
