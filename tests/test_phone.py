"""The person reporting on a small phone, in Debian's Chromium: 360x740 with touch, the
form inline on a long partner page and in the dialog, in French and Arabic.

The quick exit is on screen wherever the partner page is scrolled while the form is, and a
tap on it leaves; at 320 CSS px and at 200 % text nothing in the form is cut off or scrolls
sideways and the whole reference shows; Send answers at once even while the proof-of-work
is still running, and cannot send twice."""

from __future__ import annotations

import contextlib
import sqlite3
import time
import typing as t
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from support import browser as B
from support.partner import partner_app

PHONE = {"viewport": {"width": 360, "height": 740}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
FILLER = "<p>" + "Advice for parents and young people about staying safe online. " * 12 + "</p>"

#: Every step a person can reach without sending anything.
STEPS = ("scope", "report", "danger", "self", "adult", "other", "language")


class Sites(t.NamedTuple):
    widget: str
    host: str
    exit_url: str
    folder: Path  # the outbox's

    def pending(self) -> int:
        """Reports in the outbox, read from its file (health may say "degraded" meanwhile)."""
        with sqlite3.connect(self.folder / "outbox.db") as db:
            return int(db.execute("SELECT count(*) FROM iwf_outbox").fetchone()[0])


@pytest.fixture(scope="module")
def sites(tmp_path_factory, keypair) -> t.Iterator[Sites]:
    tmp = tmp_path_factory.mktemp("phone")
    folder = tmp / "site"
    folder.mkdir()
    host_port = B.free_port()
    host = f"http://127.0.0.1:{host_port}"
    app = partner_app(
        tmp,
        keypair[1],
        IWF_WIDGET_ALLOWED_ORIGINS=host,
        IWF_WIDGET_EXIT_URL=f"{host}/exit.html",
        IWF_WIDGET_LOCALES="en,fr,ar,ur,ps,kk,sw,hi",
        IWF_WIDGET_UNREVIEWED_LOCALES="ps",
        IWF_WIDGET_EMERGENCY_NUMBER="0800 123 456",
        IWF_WIDGET_HELP_TEXT="Appelez la ligne d'écoute au 0800 123 456, ouverte tous les jours.",
    )
    widget_server = B.serve_wsgi(app)
    widget = f"{widget_server.origin}/report"
    for lang in ("fr", "ar"):
        direction = "rtl" if lang == "ar" else ""
        inline = FILLER * 2 + f'<div data-iwf-report data-lang="{lang}"></div>' + FILLER * 4
        button = FILLER + f'<div data-iwf-report data-mode="button" data-lang="{lang}"></div>' + FILLER
        for name, body in ((f"inline-{lang}", inline), (f"button-{lang}", button)):
            html = B.page_html(body, lang=lang, dir=direction, title=f"Partner {name}", widget=widget)
            (folder / f"{name}.html").write_text(html, "utf-8")
    (folder / "exit.html").write_text(B.page_html("<p>Weather</p>", title="Exit"), "utf-8")
    host_server = B.serve_site(folder, B.partner_csp(widget_server.origin), port=host_port)
    yield Sites(widget, host, f"{host}/exit.html", tmp)
    host_server.stop()
    widget_server.stop()


@pytest.fixture
def phone(browser, sites):
    ctx = browser.new_context(**PHONE)
    with B.watching(ctx) as seen:
        ctx.seen = seen
        yield ctx
    ctx.close()


def exit_in_view(page: t.Any, frame: t.Any) -> bool:
    """The exit link is wholly inside the phone's viewport, as the person sees it."""
    box = frame.locator(".iwf-exit-link").bounding_box()
    height = page.viewport_size["height"]
    return bool(box) and box["y"] >= -0.5 and box["y"] + box["height"] <= height + 0.5 and box["height"] > 0


def eventually(check: t.Callable[[], bool], seconds: float = 3.0) -> bool:
    """``check()`` becomes true within ``seconds`` (the frame moves its bar on the next frame)."""
    end = time.monotonic() + seconds
    while True:
        if check():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.05)


def tap_to_leave(page: t.Any, frame: t.Any, exit_url: str) -> None:
    """Tap the exit link and see the partner page go to ``exit_url``.

    The frame is another site's process, which the navigation it asks for ends; Chromium can
    then lose the acknowledgement of the tap itself, and Playwright waits for it until its
    timeout. The navigation, not that acknowledgement, is what shows the tap worked."""
    with page.expect_navigation(url=exit_url, timeout=15_000), contextlib.suppress(PlaywrightTimeoutError):
        frame.tap(".iwf-exit-link", timeout=5_000)
    assert page.url == exit_url


def open_report_step_inline(phone: t.Any, sites: Sites, lang: str) -> tuple[t.Any, t.Any, t.Any]:
    page = phone.new_page()
    page.goto(f"{sites.host}/inline-{lang}.html")
    element = page.wait_for_selector("iframe.iwf-report-frame")
    frame = element.content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    element.scroll_into_view_if_needed()
    frame.tap('.iwf-choice[data-iwf-go="report"]')
    frame.wait_for_selector('textarea[name="urls"]', state="visible")
    page.wait_for_function("() => document.querySelector('iframe').getBoundingClientRect().height > 1000")
    return page, element, frame


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_inline_the_exit_is_on_screen_at_the_top_middle_and_bottom_of_the_report_step(phone, sites, lang):
    page, element, frame = open_report_step_inline(phone, sites, lang)
    top = page.evaluate("() => document.querySelector('iframe').getBoundingClientRect().top + scrollY")
    height = element.bounding_box()["height"]
    assert height > 1.5 * 740, "the report step is taller than the phone's screen"
    for where, y in (("top", top - 100), ("middle", top + height / 2 - 370), ("bottom", top + height - 700)):
        page.evaluate("y => scrollTo(0, y)", y)
        assert eventually(lambda: exit_in_view(page, frame)), f"{lang}: exit off screen at the {where}"
    assert frame.evaluate("document.activeElement === document.body || !!document.activeElement")
    assert frame.locator(".iwf-exit-link").evaluate("a => a === document.querySelector('a, button, input')")
    history = page.evaluate("history.length")
    tap_to_leave(page, frame, sites.exit_url)
    assert page.evaluate("history.length") == history, "the exit replaced the partner page"


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_in_the_dialog_the_exit_stays_on_screen_and_a_tap_leaves(phone, sites, lang):
    page = phone.new_page()
    page.goto(f"{sites.host}/button-{lang}.html")
    page.tap("button.iwf-report-button")
    frame = page.wait_for_selector("dialog[open] iframe").content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    frame.tap('.iwf-choice[data-iwf-go="report"]')
    frame.wait_for_selector('textarea[name="urls"]', state="visible")
    scrollable = frame.evaluate("document.scrollingElement.scrollHeight - innerHeight")
    assert scrollable > 200, "the report step scrolls inside the dialog on a phone"
    for where, y in (("top", 0), ("middle", scrollable / 2), ("bottom", scrollable)):
        frame.evaluate("y => scrollTo(0, y)", y)
        assert eventually(lambda: exit_in_view(page, frame)), f"{lang}: exit off screen at the {where}"
    tap_to_leave(page, frame, sites.exit_url)


def test_an_inline_only_page_never_fetches_the_dialogs_code(phone, sites):
    open_report_step_inline(phone, sites, "fr")
    assert not [u for u in phone.seen["console"] if "embed-dialog" in u]
    page = phone.pages[0]
    loaded = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert any("/embed.js" in u for u in loaded)
    assert not any("embed-dialog" in u for u in loaded)


# -- reflow: 320 px and 200 % text ---------------------------------------------------


def overflow(frame: t.Any) -> list[str]:
    """What sticks out of the page sideways or is cut off at its edges, briefly."""
    return frame.evaluate(
        """() => {
          const out = [], w = document.documentElement.clientWidth;
          if (document.scrollingElement.scrollWidth > w + 1) out.push(`page ${document.scrollingElement.scrollWidth} > ${w}`);
          for (const e of document.querySelectorAll('main *, header *')) {
            const r = e.getBoundingClientRect();
            if (!r.width || !r.height || e.closest('[hidden], .iwf-visually-hidden') || r.right <= 0 || r.left >= w) continue;  // off-screen on purpose
            if (r.left < -1 || r.right > w + 1) out.push(`${e.tagName}.${e.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
            if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible') out.push(`${e.tagName}.${e.className} clips`);
          }
          return out.slice(0, 8);
        }"""
    )


def large_text(page: t.Any) -> None:
    """The browser's text size at 200 % (as a person sets it in the phone's settings)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})


@pytest.mark.parametrize("text", ["normal", "large"])
@pytest.mark.parametrize("lang", ["fr", "ar", "ur", "kk"])
def test_no_step_is_cut_off_or_scrolls_sideways_at_320_px_or_200_percent_text(browser, sites, lang, text):
    ctx = browser.new_context(viewport={"width": 320 if text == "normal" else 360, "height": 740}, has_touch=True)
    page = ctx.new_page()
    if text == "large":
        large_text(page)
    try:
        for step in STEPS:
            page.goto(f"{sites.widget}/form?lang={lang}&step={step}")
            page.wait_for_selector(f'[data-iwf-step="{step}"]:not([hidden])')
            if text == "large":
                assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 30
            assert overflow(page) == [], f"{lang} {text}: step {step}"
        page.goto(f"{sites.widget}/form?lang={lang}&step=report")
        page.fill('textarea[name="urls"]', "https://example.com/" + "a-very-long-path-segment/" * 8)
        page.check('[name="content_kind"] >> nth=0')
        page.check('[name="where_seen"] >> nth=0')
        page.click('form button[type="submit"]')
        reference = page.wait_for_selector("#iwf-reference")
        assert overflow(page) == [], f"{lang} {text}: thank-you page"
        box, width = reference.bounding_box(), page.evaluate("document.documentElement.clientWidth")
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, f"{lang} {text}: reference cut off"
        assert reference.evaluate("e => e.scrollWidth <= e.clientWidth + 1 || e.getClientRects().length > 1")
    finally:
        ctx.close()


def test_a_long_address_in_the_error_summary_wraps(browser, sites):
    ctx = browser.new_context(viewport={"width": 320, "height": 740})
    page = ctx.new_page()
    page.goto(f"{sites.widget}/form?lang=fr&step=report")
    page.fill('textarea[name="urls"]', "ftp://" + "x" * 300 + ".example/")
    page.click('form button[type="submit"]')
    page.wait_for_selector("#urls-error")
    assert overflow(page) == []
    ctx.close()


# -- Send answers at once --------------------------------------------------------------

#: Holds the worker's first message back for 3 s of busy CPU, as on a slow phone under load.
SLOW = "var iwfUntil = Date.now() + 3000; while (Date.now() < iwfUntil) {}\n"


def test_send_shows_sending_at_once_while_a_slow_proof_of_work_runs_and_sends_once(phone, sites):
    slowed = []

    def slow_worker(route: t.Any) -> None:
        slowed.append(route.request.url)
        original = route.fetch()
        route.fulfill(response=original, body=SLOW + original.text())

    phone.route("**/pow-worker.js*", slow_worker)
    before = sites.pending()
    page = phone.new_page()
    page.goto(f"{sites.widget}/form?lang=fr&step=report")
    page.fill('textarea[name="urls"]', "https://example.com/slow/phone")
    page.check('[name="content_kind"] >> nth=0')
    page.check('[name="where_seen"] >> nth=0')
    page.tap('form button[type="submit"]')
    assert slowed, "the form's worker was the slow one"
    form = page.locator("form[method=post]")
    assert form.get_attribute("aria-busy") == "true"
    assert page.locator("form [type=submit]").get_attribute("aria-disabled") == "true"
    status = page.locator("[data-iwf-sending]")
    assert status.get_attribute("role") == "status" and status.inner_text().strip()
    for _ in range(3):  # the person taps again, and again: the button looks disabled, not dead
        if page.locator("#iwf-reference").count():
            break
        page.tap('form button[type="submit"]', force=True, timeout=2000)
    page.wait_for_selector("#iwf-reference", timeout=20_000)
    assert eventually(lambda: sites.pending() == before + 1)
    time.sleep(0.5)
    assert sites.pending() == before + 1, "several taps stored one report"


# -- forced colours, Nastaliq, changing language ----------------------------------------


def test_in_forced_colours_the_exit_keeps_a_visible_boundary(browser, sites):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.emulate_media(forced_colors="active")
    page.goto(f"{sites.widget}/form?lang=fr")
    style = page.locator(".iwf-exit-link").evaluate(
        "a => { const s = getComputedStyle(a); return [s.borderTopStyle, parseFloat(s.borderTopWidth), s.borderTopColor]; }"
    )
    ctx.close()
    assert style[0] not in ("none", "hidden") and style[1] >= 1, style
    assert style[2] not in ("transparent", "rgba(0, 0, 0, 0)"), style


@pytest.mark.parametrize("lang", ["ur", "ps"])
def test_nastaliq_headings_get_room_for_their_tall_letters(browser, sites, lang):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(f"{sites.widget}/form?lang={lang}")
    ratios = page.evaluate(
        """() => [...document.querySelectorAll('h1, h2')].filter(h => h.getClientRects().length)
                 .map(h => { const s = getComputedStyle(h); return parseFloat(s.lineHeight) / parseFloat(s.fontSize); })"""
    )
    ctx.close()
    assert ratios and min(ratios) >= 1.8, ratios


def test_after_changing_language_focus_is_on_the_new_heading_and_the_frame_title_follows(phone, sites):
    page = phone.new_page()
    page.goto(f"{sites.host}/inline-fr.html")
    element = page.wait_for_selector("iframe.iwf-report-frame")
    frame = element.content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    french_title = element.get_attribute("title")
    frame.tap(".iwf-language-link, a[href*='step=language']")
    frame.wait_for_selector(".iwf-language-list")
    back = frame.locator("#iwf-step-language .iwf-actions a")
    assert back.inner_text().strip() == "Retour"
    frame.tap('.iwf-language-list a[hreflang="ar"]')
    page.wait_for_function(
        "t => document.querySelector('iframe').title && document.querySelector('iframe').title !== t", arg=french_title
    )
    frame = element.content_frame()
    frame.wait_for_selector("html[lang=ar]")
    assert frame.evaluate("document.activeElement && document.activeElement.id") == "iwf-scope-title"
    assert element.get_attribute("title") == frame.evaluate("document.querySelector('h1').textContent.trim()")


# -- refusals keep the answers ---------------------------------------------------------

ANSWERS = {"urls": "https://example.com/kept/answers", "description": "Vu sur un forum hier soir."}


def typed(page: t.Any) -> dict[str, t.Any]:
    return {
        "urls": page.input_value('textarea[name="urls"]'),
        "description": page.input_value('textarea[name="description"]'),
        "kind": page.is_checked('[name="content_kind"] >> nth=0'),
    }


def fill_answers(page: t.Any) -> None:
    page.fill('textarea[name="urls"]', ANSWERS["urls"])
    page.fill('textarea[name="description"]', ANSWERS["description"])
    page.check('[name="content_kind"] >> nth=0')
    page.check('[name="where_seen"] >> nth=0')


@pytest.fixture
def fresh(tmp_path, keypair) -> t.Iterator[Sites]:
    """A widget of its own, its outbox not yet written to (so its lock file can be spoilt)."""
    server = B.serve_wsgi(partner_app(tmp_path, keypair[1]))
    yield Sites(f"{server.origin}/report", "", "", tmp_path)
    server.stop()


@pytest.mark.parametrize("fault", ["not-saved", "too-large"])
def test_a_refusal_keeps_what_was_typed_and_says_what_to_do(phone, fresh, fault):
    sites = fresh
    page = phone.new_page()
    page.goto(f"{sites.widget}/form?lang=fr&step=report")
    fill_answers(page)
    lock = sites.folder / "outbox.db-writers"
    if fault == "not-saved":
        lock.mkdir()  # the writers' lock file cannot be made, so nothing can be stored: a 503
    else:  # a body past the server's limit, as a pasted page of text would make: a 413
        page.locator('textarea[name="description"]').evaluate(
            "(e, v) => { e.removeAttribute('maxlength'); e.value = v; }", ANSWERS["description"] + " x" * 40000
        )
    history = page.evaluate("history.length")
    before = sites.pending() if (sites.folder / "outbox.db").exists() else 0
    try:
        page.tap('form button[type="submit"]')
        alert = page.wait_for_selector(".iwf-summary[role=alert] h2")
        assert alert.inner_text().strip()
    finally:
        if lock.is_dir():
            lock.rmdir()
    kept = typed(page)
    assert kept["urls"] == ANSWERS["urls"] and kept["kind"]
    assert kept["description"].startswith(ANSWERS["description"])
    assert page.evaluate("history.length") == history, "Back still leads where the person expects"
    assert page.locator("form[method=post]").get_attribute("aria-busy") is None
    assert sites.pending() == before
    if fault == "not-saved":  # sent again as it is, it is stored
        page.tap('form button[type="submit"]')
        page.wait_for_selector("#iwf-reference")
        assert sites.pending() == before + 1
