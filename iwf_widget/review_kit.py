"""A review kit: every step of the form in one language, each screenshot beside its strings.

``iwf-widget review-kit --lang wo --out DIR`` writes ``DIR/review-wo.html``, one
self-contained file (screenshots inlined, nothing loaded from anywhere) that a
native reviewer opens in any browser: each page as a reporter on a phone sees
it, and beside it the English, the translation and a box for their comment;
"Download my notes" saves the comments as a text file to send back. No
gettext tools needed.

The pages come from the widget itself, run in this process on a loopback port
with a throwaway outbox, and are photographed in Chromium through Playwright
(``pip install 'iwf-widget[review]'``; Debian's ``chromium`` is used when installed).
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
import re
import secrets
import tempfile
import threading
import typing as t
from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po

from . import i18n, reference, reviews

#: Debian's and Ubuntu's Chromium; otherwise Playwright's own download.
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%%")


class KitError(RuntimeError):
    """Why no kit could be made, in one line with the fix."""


@dataclass(frozen=True)
class Entry:
    english: str
    translation: str
    comment: str
    context: str | None


@dataclass(frozen=True)
class Shot:
    name: str
    title: str
    png: bytes
    text: str


def make(lang: str, out: str | os.PathLike[str]) -> Path:
    """Write the kit for ``lang`` into ``out``; its path."""
    if lang not in i18n.available() or lang == "en":
        offered = " ".join(code for code in i18n.available() if code != "en")
        raise KitError(f"{lang!r} is not a shipped translation; use one of {offered}")
    entries = _entries(lang)
    with tempfile.TemporaryDirectory(prefix="iwf-review-kit-") as tmp:
        shots = _photograph(lang, Path(tmp))
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"review-{lang}.html"
    path.write_text(_page(lang, shots, entries), "utf-8")
    return path


def _entries(lang: str) -> list[Entry]:
    with (i18n.TRANSLATIONS_DIR / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as f:
        catalog = read_po(f)
    out = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        out.append(
            Entry(
                " / ".join(ids), " / ".join(s for s in strings if s), " ".join(message.auto_comments), message.context
            )
        )
    return out


def _on_page(entry: Entry, text: str) -> bool:
    """Whether the page's text shows this string (its words around any placeholders)."""
    for form in entry.translation.split(" / "):
        parts = [p.strip() for p in PLACEHOLDER.split(form) if p.strip()]
        if parts and max(len(p) for p in parts) >= 3 and all(p in text for p in parts):
            return True
    return False


# -- photographing ------------------------------------------------------------------------------


def _app(lang: str, folder: Path) -> t.Any:
    from flask import Flask

    from .extension import ReportWidget
    from .sealing import generate_keypair

    app = Flask("iwf_review_kit", instance_path=str(folder))
    app.config.update(
        IWF_WIDGET_PARTNER_ID="review-kit",
        IWF_WIDGET_INTAKE_URL="http://127.0.0.1:9",
        IWF_WIDGET_SIGNING_KEY=secrets.token_urlsafe(32),
        IWF_WIDGET_INTAKE_PUBLIC_KEY=generate_keypair()[1],
        IWF_WIDGET_OUTBOX_URL=f"sqlite:///{folder}/outbox.db",
        IWF_WIDGET_LOCALES=f"{lang},en",
        IWF_WIDGET_UNREVIEWED_LOCALES=lang,
        IWF_WIDGET_DEFAULT_LOCALE=lang,
        IWF_WIDGET_MIN_FILL_SECONDS=0,
        IWF_WIDGET_RATE_LIMIT="off",
        IWF_WIDGET_STATUS_RATE_LIMIT="off",
        IWF_WIDGET_WORK_DIFFICULTY=0,
        IWF_WIDGET_FORWARDER="off",
        IWF_WIDGET_HELP_TEXT="0800 123 456",
    )
    ReportWidget(app, url_prefix="/report")
    return app


def _browser(playwright: t.Any) -> t.Any:
    executable = next((path for path in CHROMIUM if os.path.exists(path)), None)
    try:
        return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except Exception as e:  # noqa: BLE001  Playwright's own errors vary by platform
        raise KitError(f"Chromium did not start ({str(e).splitlines()[0]}); install it: apt install chromium") from None


def _photograph(lang: str, folder: Path) -> list[Shot]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise KitError("the review kit needs Playwright: pip install 'iwf-widget[review]'") from None
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: t.Any, **kwargs: t.Any) -> None:
            pass

    app = _app(lang, folder)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/report"
    shots: list[Shot] = []
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    try:
        with sync_playwright() as playwright:
            browser = _browser(playwright)
            page = browser.new_page(viewport=PHONE)

            def shoot(name: str) -> None:
                page.wait_for_load_state("load")
                shots.append(Shot(name, page.title(), page.screenshot(full_page=True), page.inner_text("body")))

            for step in ("scope", "report", "adult", "danger", "self", "other", "language"):
                page.goto(f"{base}/form?lang={lang}&step={step}")
                shoot(f"form: {step}")
            page.goto(f"{base}/form?lang={lang}&step=report")
            page.click("#iwf-step-report button[type=submit]")
            page.wait_for_selector(".iwf-summary")
            shoot("form: errors")
            page.fill("#urls", "https://example.com/page.html")
            page.check("[name=content_kind] >> nth=0")
            page.check("[name=where_seen] >> nth=0")
            page.click("#iwf-step-report button[type=submit]")
            page.wait_for_selector("#iwf-reference")
            given = page.inner_text("#iwf-reference").strip()
            shoot("thank you")
            page.goto(f"{base}/status?lang={lang}")
            shoot("status: the form")
            page.fill("#reference", given[:-1] + ("0" if given[-1] != "0" else "1"))
            page.click("button[type=submit]")
            page.wait_for_selector("#reference-error")
            shoot("status: a typing mistake")
            for state in ("received", "delivered", "removal_requested", "outside_remit", "not_found", "duplicate"):
                if state != "received":
                    _set_status(app, state)
                page.goto(f"{base}/status?lang={lang}")
                page.fill("#reference", given)
                page.click("button[type=submit]")
                page.wait_for_selector("[data-iwf-status]")
                shoot(f"status: {state}")
            page.goto(f"{base}/status?lang={lang}")
            page.fill("#reference", reference.EXAMPLE)
            page.click("button[type=submit]")
            page.wait_for_selector("[data-iwf-status]")
            shoot("status: unknown")
            browser.close()
    finally:
        server.shutdown()
        app.extensions["iwf_widget"].outbox.close()
    return shots


def _set_status(app: t.Any, state: str) -> None:
    """Give the one report of the kit's outbox this state, as an outcome from the intake would."""
    import sqlalchemy as sa

    from .outbox import reports

    widget = app.extensions["iwf_widget"]
    with widget.outbox.engine.connect() as conn:
        report_id = conn.execute(sa.select(reports.c.id)).scalar_one()
    day = datetime.date.today().isoformat()
    widget.outbox.record_outcomes([(widget.status_keys.for_report(report_id), state, day)], 0)


# -- the page ---------------------------------------------------------------------------------------


def _page(lang: str, shots: list[Shot], entries: list[Entry]) -> str:
    esc = html.escape
    review = reviews.load().get(lang)
    version = reviews.catalog_version(lang)
    state = review.summary(version) if review else "not yet reviewed by a native speaker"
    direction = i18n.direction(lang)
    shown: set[int] = set()
    sections = []
    for number, shot in enumerate(shots, 1):
        text = " ".join(shot.text.split())
        rows = []
        for index, entry in enumerate(entries):
            if _on_page(entry, text):
                shown.add(index)
                rows.append(_row(index, entry, lang, direction))
        image = base64.b64encode(shot.png).decode("ascii")
        sections.append(
            f'<section id="step-{number}"><h2>{number}. {esc(shot.name)}</h2><div class="pair">'
            f'<img src="data:image/png;base64,{image}" alt="{esc(shot.name)}: {esc(shot.title)}" width="{PHONE["width"]}">'
            f"<table><thead><tr><th>English</th><th>{esc(i18n.display_name(lang))}</th><th>Your comment</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table></div></section>"
        )
    rest = [_row(i, e, lang, direction) for i, e in enumerate(entries) if i not in shown]
    if rest:
        sections.append(
            '<section id="other"><h2>Strings on no page above</h2><p>Shown in rarer cases: a server fault, a full form, '
            "a very long wait, the statistics pages.</p>"
            f"<table><thead><tr><th>English</th><th>{esc(i18n.display_name(lang))}</th><th>Your comment</th></tr>"
            f"</thead><tbody>{''.join(rest)}</tbody></table></section>"
        )
    made = datetime.date.today().isoformat()
    return TEMPLATE.format(
        lang=esc(lang),
        name=esc(i18n.display_name(lang)),
        version=esc(version),
        state=esc(state),
        made=made,
        steps=len(shots),
        strings=len(entries),
        sections="\n".join(sections),
        script=SCRIPT.replace("__LANG__", json.dumps(lang)).replace("__VERSION__", json.dumps(version)),
    )


def _row(index: int, entry: Entry, lang: str, direction: str) -> str:
    esc = html.escape
    note = f'<div class="note">{esc(entry.comment)}</div>' if entry.comment else ""
    context = f' <span class="context">({esc(entry.context)})</span>' if entry.context else ""
    return (
        f'<tr data-id="{index}"><td>{esc(entry.english)}{context}{note}</td>'
        f'<td lang="{esc(lang)}" dir="{direction}">{esc(entry.translation)}</td>'
        f'<td class="comment" contenteditable="true" aria-label="Your comment"></td></tr>'
    )


TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Review kit: {name} ({lang})</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; margin: 1rem auto; max-width: 80rem; padding: 0 1rem; color: #1a1a1a; }}
.pair {{ display: flex; gap: 1.5rem; align-items: flex-start; flex-wrap: wrap; }}
.pair img {{ border: 1px solid #999; max-width: 100%; height: auto; flex: none; }}
table {{ border-collapse: collapse; flex: 1 1 30rem; }}
th, td {{ border: 1px solid #bbb; padding: 0.4rem; vertical-align: top; text-align: start; }}
td.comment {{ min-width: 12rem; background: #fffbe6; }}
td.comment:focus {{ outline: 3px solid #1565c0; }}
.note, .context {{ color: #555; font-size: 0.85em; }}
section {{ margin-block: 2.5rem; }}
.tools {{ position: sticky; top: 0; background: #fff; padding: 0.5rem 0; border-bottom: 1px solid #ccc; }}
button {{ font: inherit; padding: 0.4rem 1rem; }}
</style>
</head>
<body>
<h1>Review kit: {name} ({lang})</h1>
<p>Catalog version <strong>{version}</strong>, made on {made}. Review: {state}.</p>
<p>Below are the {steps} pages a person reporting sees, as on a phone, each beside the words on it.
Read each translation as a worried 14-year-old would. Where something is wrong, unclear or could be
said more naturally, type your suggestion in the yellow box of that row. When you are done, press
<strong>Download my notes</strong> and send the file to whoever asked you to review.
All {strings} strings are here; the last table holds those that appear on no page shown.</p>
<p class="tools"><button type="button" id="download">Download my notes</button> <span id="count" role="status"></span></p>
{sections}
<script>{script}</script>
</body>
</html>
"""

SCRIPT = """
(function () {
  var lang = __LANG__, version = __VERSION__;
  function notes() {
    var rows = document.querySelectorAll("tr[data-id]"), out = [], seen = {};
    for (var i = 0; i < rows.length; i++) {
      var cells = rows[i].cells, comment = cells[2].innerText.trim();
      if (!comment || seen[rows[i].dataset.id + comment]) continue;
      seen[rows[i].dataset.id + comment] = 1;
      out.push("English: " + cells[0].innerText.trim() + "\\nNow: " + cells[1].innerText.trim() + "\\nComment: " + comment);
    }
    return out;
  }
  document.addEventListener("input", function () {
    document.getElementById("count").textContent = notes().length + " comment(s)";
  });
  document.getElementById("download").addEventListener("click", function () {
    var text = "Review of the " + lang + " catalog, version " + version + "\\n\\n" + notes().join("\\n\\n") + "\\n";
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    link.download = "review-" + lang + "-" + version + ".txt";
    document.body.appendChild(link);
    link.click();
    link.remove();
  });
})();
"""
