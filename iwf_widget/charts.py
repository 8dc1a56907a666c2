"""Self-contained statistics pages: bar charts drawn as inline SVG, each beside its table.

Small and dependency-free on purpose: a horizontal bar chart is a few
rectangles, and drawing them here keeps the page free of scripts and of
anything from another origin (the page may be mailed or archived). Right-to-left
pages mirror the charts: labels on the right, bars growing to the left.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from . import i18n

WIDTH = 520
LABEL = 170
ROW = 26
BAR = 18
#: Dark enough on white for WCAG AA, as text and as a bar.
COLOUR = "#1d4f91"


@dataclass(frozen=True)
class Row:
    label: str
    value: int
    #: The language of the label, when it is a language's own name.
    lang: str | None = None
    #: Further columns of the table (the chart shows ``value``).
    extra: tuple[int, ...] = ()
    #: Read left to right whatever the page's direction (a date, a week, a partner id).
    ltr: bool = False


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    columns: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)


def bar_chart(chart: Chart, direction: str = "ltr") -> Markup:
    """Horizontal bars, one per row, scaled to the largest value."""
    rtl = direction == "rtl"
    top = max([r.value for r in chart.rows] + [1])
    span = WIDTH - LABEL - 60
    height = ROW * len(chart.rows) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="iwf-chart" role="img" '
        f'aria-labelledby="{chart.id}-title" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'direction="{direction}" data-iwf-chart="{chart.id}">',
        f'<title id="{chart.id}-title">{escape(chart.title)}</title>',
    ]
    for i, row in enumerate(chart.rows):
        y = 4 + i * ROW
        width = round(span * row.value / top) if row.value else 0
        edge = WIDTH - LABEL if rtl else LABEL  # where the bars start
        x = edge - width if rtl else edge
        label_x = edge + 6 if rtl else edge - 6
        value_x = x - 6 if rtl else x + width + 6
        lang = f' lang="{row.lang}"' if row.lang else ""
        label = escape(_short(row.label))
        if row.ltr and rtl:
            label = Markup(f'<tspan direction="ltr" unicode-bidi="isolate">{label}</tspan>')
        parts.append(
            f'<text x="{label_x}" y="{y + BAR - 4}" text-anchor="end"{lang}>{label}</text>'
            f'<rect x="{x}" y="{y}" width="{width}" height="{BAR}" fill="{COLOUR}" data-value="{row.value}"/>'
            f'<text x="{value_x}" y="{y + BAR - 4}" text-anchor="start" data-value="{row.value}">{row.value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def table(chart: Chart) -> Markup:
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in chart.columns)
    body = []
    for row in chart.rows:
        lang = f' lang="{row.lang}"' if row.lang else ""
        cells = "".join(f"<td>{v}</td>" for v in (row.value, *row.extra))
        label = Markup(f'<bdi dir="ltr">{escape(row.label)}</bdi>') if row.ltr else escape(row.label)
        body.append(f'<tr><th scope="row"{lang}>{label}</th>{cells}</tr>')
    return Markup(
        f'<table data-iwf-table="{chart.id}"><caption>{escape(chart.title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; color: #1a1a1a; background: #fff; margin: 2rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
.iwf-figure { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
.iwf-chart { max-width: 100%; height: auto; font-size: 13px; fill: #1a1a1a; }
table { border-collapse: collapse; }
caption { text-align: start; font-weight: bold; padding-bottom: .3rem; }
th, td { border: 1px solid #767676; padding: .2rem .6rem; text-align: start; }
td { text-align: end; font-variant-numeric: tabular-nums; }
"""


def page(title: str, lang: str, charts: t.Sequence[Chart], intro: str, empty: str) -> str:
    """A whole HTML document: no script, no external resource, in ``lang`` and its direction."""
    direction = i18n.direction(lang)
    sections = []
    for chart in charts:
        if chart.rows:
            figure = f'<div class="iwf-figure">{bar_chart(chart, direction)}{table(chart)}</div>'
        else:
            figure = f"<p>{escape(empty)}</p>"
        sections.append(
            f'<section aria-labelledby="{chart.id}-h"><h2 id="{chart.id}-h">{escape(chart.title)}</h2>{figure}</section>'
        )
    return (
        f'<!doctype html>\n<html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1><p>{escape(intro)}</p>{''.join(sections)}</main></body></html>\n"
    )


def text(charts: t.Sequence[Chart]) -> str:
    """The same figures as plain text, for a terminal."""
    out = []
    for chart in charts:
        out.append(chart.title)
        width = max([len(r.label) for r in chart.rows] + [len(chart.columns[0])])
        out.append("  " + "  ".join([chart.columns[0].ljust(width), *chart.columns[1:]]))
        for row in chart.rows:
            numbers = [str(v).rjust(len(c)) for v, c in zip((row.value, *row.extra), chart.columns[1:], strict=False)]
            out.append("  " + "  ".join([row.label.ljust(width), *numbers]))
        out.append("")
    return "\n".join(out)


def _short(label: str, limit: int = 24) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
