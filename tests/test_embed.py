"""The embed snippet: served, small, localized, themable; and, in Debian's Chromium, embedded
across origins inline and as a modal, sized to fit, submitted without cookies or history
entries, left quickly, accessible (axe-core) and refused to origins not allowed."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import typing as t
import urllib.request

import pytest
from support import browser as B
from support.partner import partner_app
from support.procs import load_script

from iwf_widget import embed, i18n

STATIC = i18n.resource_dir("static")


def snippet_config(js: str) -> dict[str, t.Any]:
    """The CONFIG object the server put into the snippet."""
    start = js.find('{"d":')
    assert start >= 0, "no config in embed.js"
    return json.JSONDecoder().raw_decode(js, start)[0]


# --- the snippet as served ---------------------------------------------------------------


def test_embed_js_is_cacheable_and_safe(client):
    res = client.get("/report/embed.js")
    assert res.status_code == 200
    assert res.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert res.cache_control.public and res.cache_control.max_age == 3600
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    assert res.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert res.headers["X-Frame-Options"] == "DENY"
    assert "Set-Cookie" not in res.headers
    etag = res.headers["ETag"]
    again = client.get("/report/embed.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data


def test_embed_js_is_small_whatever_the_default_language(make_app, capsys):
    sizes = {}
    for lang in i18n.LOCALES:
        body = make_app(IWF_WIDGET_DEFAULT_LOCALE=lang).test_client().get("/report/embed.js").data
        sizes[lang] = len(gzip.compress(body, 9))
    largest = max(sizes, key=sizes.__getitem__)
    with capsys.disabled():
        print(f"\nembed.js gzipped: {sizes['en']} B in English, at most {sizes[largest]} B ({largest})")
    assert sizes[largest] <= 2560, f"embed.js is {sizes[largest]} bytes gzipped in {largest} (more than 2.5 KB)"


def test_button_mode_loads_from_its_own_file_with_its_integrity_hash(client):
    config = snippet_config(client.get("/report/embed.js").get_data(as_text=True))
    res = client.get("/report/embed-dialog.js", query_string={"v": config["i"]})
    assert res.status_code == 200 and res.mimetype == "text/javascript"
    assert embed.Snippet(res.data, "").integrity == config["i"]
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    assert res.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert res.cache_control.max_age == 31536000
    assert client.get("/report/embed-dialog.js?v=old").cache_control.max_age == 3600


def test_embed_js_carries_the_offered_languages_and_the_default_labels(make_app):
    client = make_app(IWF_WIDGET_LOCALES="fr,ar,en", IWF_WIDGET_DEFAULT_LOCALE="fr").test_client()
    config = snippet_config(client.get("/report/embed.js").get_data(as_text=True))
    assert config["d"] == "fr"
    assert config["o"] == ["fr", "ar", "en"]
    assert config["r"] == ["ar"]
    catalog = i18n.translations("fr")
    labels = [catalog.gettext("Report child sexual abuse images"), catalog.pgettext("button", "Close")]
    assert config["s"] == {"fr": labels}
    every = snippet_config(make_app().test_client().get("/report/embed.js").get_data(as_text=True))
    assert sorted(every["o"]) == sorted(i18n.LOCALES) and sorted(every["r"]) == ["ar", "ps", "ur"]


def test_other_languages_labels_load_from_the_widget_origin(make_app):
    client = make_app(IWF_WIDGET_LOCALES="fr,ar,en").test_client()
    res = client.get("/report/embed-labels.js?lang=ar")
    catalog = i18n.translations("ar")
    expected = json.dumps(
        [catalog.gettext("Report child sexual abuse images"), catalog.pgettext("button", "Close")],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert res.get_data(as_text=True) == f'IWFReport.l("ar",{expected});\n'
    assert res.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "Set-Cookie" not in res.headers
    assert client.get("/report/embed-labels.js?lang=es").status_code == 404, "not offered here"
    assert client.get("/report/embed-labels.js?lang=<script>").status_code == 404


def test_minified_snippet_is_built_from_the_source():
    if not B.TERSER.exists():
        if B.in_ci():
            pytest.fail("tests/node_modules is missing: run npm ci in tests/")
        pytest.skip("terser is not installed (npm ci in tests/)")
    source = (STATIC / embed.SOURCE).read_text("utf-8")
    build_embed = load_script("build_embed.py")
    built = build_embed.minify(source, B.TERSER)
    assert (STATIC / embed.MINIFIED).read_text("utf-8") == built, "run scripts/build-embed"
    dialog = build_embed.minify((STATIC / embed.DIALOG_SOURCE).read_text("utf-8"), B.TERSER, slot=False)
    assert (STATIC / embed.DIALOG_MINIFIED).read_text("utf-8") == dialog, "run scripts/build-embed"


def test_readable_source_is_served_when_no_minified_file(tmp_path):
    shutil.copy(STATIC / embed.SOURCE, tmp_path / embed.SOURCE)
    snippet = embed.render(tmp_path, ("en", "fr"), "fr")
    text = snippet.body.decode()
    assert '"fr":[' in text and "/*@config*/" not in text and "IWFReport" in text


# --- the partner's colour ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, kept",
    [
        ("#0b5cad", "0b5cad"),
        ("0B5CAD", "0b5cad"),
        ("#036", "003366"),
        ("#6a1b9a", "6a1b9a"),
        ("#ffbf47", None),  # white text on it would be unreadable
        ("#ffffff", None),
        ("red", None),
        ("#12345", None),
        ("#0b5cad;}body{display:none", None),
        ("", None),
        (None, None),
    ],
)
def test_accent_is_a_colour_white_text_can_be_read_on(value, kept):
    assert embed.accent(value) == kept


def test_accent_reaches_the_form_as_a_stylesheet(client):
    page = client.get("/report/form?lang=fr&accent=%236a1b9a").get_data(as_text=True)
    assert '<link rel="stylesheet" href="/report/theme.css?accent=6a1b9a">' in page
    assert 'action="/report/form?lang=fr&amp;accent=6a1b9a"' in page
    assert re.search(r'href="[^"]*step=language[^"]*accent=6a1b9a"', page)
    languages = client.get("/report/form?lang=fr&step=language&accent=6a1b9a").get_data(as_text=True)
    assert re.search(r'href="[^"]*lang=ar[^"]*accent=6a1b9a[#"]', languages)  # the colour stays
    assert "style=" not in page and page.count("<style") == 1  # the widget's own stylesheet, inlined
    css = client.get("/report/theme.css?accent=6a1b9a")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert css.get_data(as_text=True) == ":root{--iwf-accent:#6a1b9a;--iwf-accent-text:#fff}\n"
    assert css.cache_control.public and css.cache_control.max_age == 31536000
    assert client.get("/report/theme.css?accent=ffff00").status_code == 404
    plain = client.get("/report/form?lang=fr&accent=yellow").get_data(as_text=True)
    assert "theme.css" not in plain and "accent=" not in plain


def test_form_document_names_the_origins_that_may_embed_it(make_app):
    client = make_app(IWF_WIDGET_ALLOWED_ORIGINS="https://a.example, https://b.example:8443").test_client()
    res = client.get("/report/form?lang=en")
    assert 'data-iwf-origins="https://a.example https://b.example:8443"' in res.get_data(as_text=True)
    assert res.headers["Content-Security-Policy"].endswith("frame-ancestors https://a.example https://b.example:8443")
    assert "X-Frame-Options" not in res.headers
    own = make_app().test_client().get("/report/form").get_data(as_text=True)
    assert 'data-iwf-origins=""' in own  # form.js then trusts only its own origin


# --- in Chromium, across origins ---------------------------------------------------------


class Sites(t.NamedTuple):
    widget: str  # http://localhost:PORT/report
    host: str  # a partner origin in IWF_WIDGET_ALLOWED_ORIGINS
    stranger: str  # a partner origin that is not
    exit_url: str
    accent: str = "6a1b9a"

    def pending(self) -> int:
        with urllib.request.urlopen(f"{self.widget}/healthz") as res:
            return json.load(res)["outbox_pending"]


PAGES = {
    # name: (html lang, dir, embed markup)
    "fr-inline": ("fr", "", "<div data-iwf-report></div>"),
    "en-inline": ("en", "", "<div data-iwf-report></div>"),
    "ar-inline": ("ar", "rtl", "<div data-iwf-report></div>"),
    "en-button": ("en", "", '<div data-iwf-report data-mode="button"></div>'),
    "ar-button": ("ar", "rtl", '<div data-iwf-report data-mode="button"></div>'),
    "themed": (
        "en",
        "",
        '<div data-iwf-report data-mode="button" data-accent="#6a1b9a"></div>'
        '<div data-iwf-report data-accent="#6a1b9a"></div>',
    ),
    "nolang": ("", "", "<div data-iwf-report></div>"),
}


@pytest.fixture(scope="module")
def sites(tmp_path_factory, keypair) -> t.Iterator[Sites]:
    """The widget under waitress on one origin, partner pages on two others."""
    tmp = tmp_path_factory.mktemp("embed")
    folder = tmp / "site"
    folder.mkdir()
    host_port = B.free_port()
    host = f"http://127.0.0.1:{host_port}"
    app = partner_app(
        tmp,
        keypair[1],
        IWF_WIDGET_PARTNER_ID="embed-test",
        IWF_WIDGET_ALLOWED_ORIGINS=host,
        IWF_WIDGET_EXIT_URL=f"{host}/exit.html",
    )
    widget_server = B.serve_wsgi(app)
    widget = f"{widget_server.origin}/report"
    for name, (lang, direction, markup) in PAGES.items():
        html = B.page_html(markup, lang=lang, dir=direction, title=f"Partner {name}", widget=widget)
        if not lang:
            html = html.replace(' lang=""', "")
        (folder / f"{name}.html").write_text(html, "utf-8")
    link = f'<a data-iwf-report href="{widget}/form?lang=fr">Signaler</a>'
    (folder / "link.html").write_text(B.page_html(link, lang="en", widget=widget), "utf-8")
    (folder / "later.html").write_text(B.page_html('<div id="later"></div>', widget=widget), "utf-8")
    (folder / "exit.html").write_text(B.page_html("<p>Weather</p>", title="Exit"), "utf-8")
    csp = B.partner_csp(widget_server.origin)
    host_server = B.serve_site(folder, csp, port=host_port)
    stranger = B.serve_site(folder, csp)
    yield Sites(widget, host, stranger.origin, f"{host}/exit.html")
    for server in (stranger, host_server, widget_server):
        server.stop()


@pytest.fixture
def context(browser, sites):
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    with B.watching(ctx) as seen:
        ctx.seen = seen
        yield ctx
    ctx.close()


def open_inline(ctx, url: str):
    page = ctx.new_page()
    page.goto(url)
    element = page.wait_for_selector("iframe.iwf-report-frame")
    frame = element.content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    page.wait_for_function("() => document.querySelector('iframe').style.blockSize !== '32rem'")
    return page, element, frame


def open_modal(ctx, url: str):
    page = ctx.new_page()
    page.goto(url)
    page.click("button.iwf-report-button")
    page.wait_for_selector("dialog[open]")
    frame = page.wait_for_selector("dialog iframe").content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    page.wait_for_function("() => document.querySelector('dialog iframe').style.blockSize !== '32rem'")
    return page, frame


def assert_fits(element, frame) -> None:
    box = element.bounding_box()["height"]
    content = frame.evaluate("document.documentElement.scrollHeight")
    assert abs(box - content) <= 1, f"iframe {box}px for {content}px of content"
    assert frame.evaluate("innerHeight >= document.documentElement.scrollHeight"), "inner scrollbar"


def fill_report(frame, url: str) -> None:
    frame.fill('textarea[name="urls"]', url)
    frame.check('[name="content_kind"] >> nth=0')
    frame.check('[name="where_seen"] >> nth=0')


def csp_complaints(ctx) -> list[str]:
    return [m for m in ctx.seen["console"] if "Content Security Policy" in m or "Refused" in m]


def test_french_inline_form_fits_and_submits_anonymously(context, sites):
    before = sites.pending()
    page, element, frame = open_inline(context, f"{sites.host}/fr-inline.html")
    assert frame.evaluate("document.documentElement.lang") == "fr"
    label = embed.labels("fr")[0]
    assert element.get_attribute("title") == label
    assert element.get_attribute("referrerpolicy") == "no-referrer"
    assert element.get_attribute("loading") == "lazy"
    assert element.get_attribute("sandbox") == (
        "allow-forms allow-scripts allow-same-origin allow-top-navigation-by-user-activation"
    )
    assert_fits(element, frame)
    history = page.evaluate("history.length")

    first_step = element.bounding_box()["height"]
    frame.click('[data-iwf-scope="in"]')
    frame.wait_for_selector('textarea[name="urls"]', state="visible")
    page.wait_for_function("h => document.querySelector('iframe').getBoundingClientRect().height > h", arg=first_step)
    assert_fits(element, frame)
    fill_report(frame, "https://example.com/embedded/fr")
    frame.click('form button[type="submit"]')
    frame.wait_for_selector("#iwf-reference", timeout=15000)
    assert frame.evaluate("document.activeElement.id") == "iwf-thanks-title"
    page.wait_for_timeout(100)
    assert_fits(element, frame)

    assert sites.pending() == before + 1
    assert page.evaluate("history.length") == history, "submitting added a history entry"
    assert context.cookies() == []
    widget_origin = sites.widget.rsplit("/", 1)[0]
    assert context.seen["origins"] <= {sites.host, widget_origin}, context.seen["origins"]
    assert not csp_complaints(context)


def test_arabic_button_opens_a_right_to_left_modal_that_escape_closes(context, sites):
    page = context.new_page()
    page.goto(f"{sites.host}/ar-button.html")
    button = page.wait_for_selector("button.iwf-report-button")
    assert button.inner_text() == embed.labels("ar")[0]
    assert button.get_attribute("lang") == "ar" and button.get_attribute("aria-haspopup") == "dialog"
    assert not page.query_selector("iframe"), "the form loads only when asked for"
    button.click()
    dialog = page.wait_for_selector("dialog[open]")
    assert page.evaluate("document.activeElement.className") == "iwf-report-close"
    assert dialog.get_attribute("aria-label") == embed.labels("ar")[0]
    assert dialog.evaluate("d => getComputedStyle(d).direction") == "rtl"
    # Logical properties: in right-to-left, the close button sits on the left.
    assert page.evaluate("""() => {
        const d = document.querySelector('dialog').getBoundingClientRect();
        const c = document.querySelector('.iwf-report-close').getBoundingClientRect();
        return c.left - d.left < d.right - c.right; }""")
    frame = page.wait_for_selector("dialog iframe").content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    assert frame.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]

    frame.focus('[data-iwf-scope="in"]')
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog:not([open])", state="attached")
    assert page.evaluate("document.activeElement.className") == "iwf-report-button"

    button.click()
    page.wait_for_selector("dialog[open]")
    assert len(page.query_selector_all("iframe")) == 1, "reopening keeps the same form"
    page.click(".iwf-report-close")
    page.wait_for_selector("dialog:not([open])", state="attached")
    assert page.evaluate("document.activeElement.className") == "iwf-report-button"
    assert not csp_complaints(context), "the dialog's styles need no 'unsafe-inline'"


def test_modal_fills_a_small_screen(context, sites):
    page = context.new_page()
    page.set_viewport_size({"width": 360, "height": 640})
    page.goto(f"{sites.host}/en-button.html")
    page.click("button.iwf-report-button")
    box = page.wait_for_selector("dialog[open]").bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 360, 640)


def test_quick_exit_replaces_the_partner_page(context, sites):
    page, _, frame = open_inline(context, f"{sites.host}/en-inline.html")
    history = page.evaluate("history.length")
    with page.expect_navigation(url=sites.exit_url):
        frame.click("[data-iwf-exit]")
    assert page.url == sites.exit_url
    assert page.evaluate("history.length") == history, "the exit must replace, not add, an entry"


def test_shift_three_times_leaves_quickly(context, sites):
    page, frame = open_modal(context, f"{sites.host}/en-button.html")
    frame.focus('[data-iwf-scope="in"]')
    with page.expect_navigation(url=sites.exit_url):
        for _ in range(3):
            page.keyboard.press("Shift")
    assert page.url == sites.exit_url


@pytest.mark.parametrize("name", ["en-inline", "ar-inline", "en-button", "ar-button"])
def test_no_accessibility_violations(context, sites, name):
    if not B.AXE.exists():
        if B.in_ci():
            pytest.fail("tests/node_modules is missing: run npm ci in tests/")
        pytest.skip("axe-core is not installed (npm ci in tests/)")
    if name.endswith("button"):
        page, frame = open_modal(context, f"{sites.host}/{name}.html")
    else:
        page, _, frame = open_inline(context, f"{sites.host}/{name}.html")
    found = {"partner page": B.axe_violations(page), "form, first step": B.axe_violations(frame)}
    frame.click('[data-iwf-scope="in"]')
    frame.wait_for_selector('textarea[name="urls"]', state="visible")
    found["form, report step"] = B.axe_violations(frame)
    found = {where: v for where, v in found.items() if v}
    assert not found, B.explain(found)


def test_keyboard_only_submission(context, sites):
    before = sites.pending()
    page, _, frame = open_inline(context, f"{sites.host}/en-inline.html")

    def tab_to(selector: str, limit: int = 25) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if frame.evaluate("s => document.hasFocus() && document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("[data-iwf-exit]", 3)  # the quick exit comes first
    tab_to('[data-iwf-scope="in"]', 3)
    page.keyboard.press("Enter")
    tab_to('textarea[name="urls"]', 3)
    page.keyboard.type("https://example.com/keyboard/1")
    tab_to('[name="content_kind"]', 2)
    page.keyboard.press("Space")
    tab_to('[name="where_seen"]', 2)
    page.keyboard.press("Space")
    tab_to('form button[type="submit"]', 5)
    page.keyboard.press("Enter")
    frame.wait_for_selector("#iwf-reference", timeout=15000)
    assert frame.evaluate("document.activeElement.id") == "iwf-thanks-title"
    assert sites.pending() == before + 1


def test_moving_between_the_forms_pages_in_the_frame_adds_no_history(context, sites):
    page, element, frame = open_inline(context, f"{sites.host}/fr-inline.html")
    history = page.evaluate("history.length")
    frame.click(".iwf-languages a")
    frame.wait_for_selector('a[hreflang="ar"]')
    frame.click('a[hreflang="ar"]')
    frame = element.content_frame()
    frame.wait_for_function("document.documentElement.lang === 'ar'")
    assert frame.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("history.length") == history, "a link inside the frame added a history entry"
    assert_fits(element, frame)


def test_errors_come_back_in_place(context, sites):
    page, element, frame = open_inline(context, f"{sites.host}/fr-inline.html")
    history = page.evaluate("history.length")
    frame.click('[data-iwf-scope="in"]')
    frame.click('form button[type="submit"]')
    summary = frame.wait_for_selector(".iwf-summary", timeout=15000)
    assert frame.evaluate("document.activeElement.classList.contains('iwf-summary')")
    assert frame.evaluate("document.documentElement.lang") == "fr"
    summary.query_selector("a").click()
    assert frame.evaluate("document.activeElement.name") == "urls"
    page.wait_for_timeout(100)
    assert_fits(element, frame)
    assert page.evaluate("history.length") == history


def test_page_not_allowed_to_embed_does_not_show_the_form(context, sites):
    page = context.new_page()
    page.goto(f"{sites.stranger}/en-inline.html")
    frame = page.wait_for_selector("iframe").content_frame()
    frame.wait_for_load_state()
    assert frame.url.startswith("chrome-error:") or not frame.query_selector("[data-iwf-scope]")
    # After a moment the embed gives way to a plain link to the form's own page.
    link = page.wait_for_selector("main a[href*='/report/form']", timeout=6000)
    assert link.get_attribute("rel") == "noreferrer"
    assert not page.query_selector("iframe")


def test_accent_colours_the_button_and_the_form(context, sites):
    page = context.new_page()
    page.goto(f"{sites.host}/themed.html")
    button = page.wait_for_selector("button.iwf-report-button")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(106, 27, 154)"
    frame = page.wait_for_selector("iframe").content_frame()
    choice = frame.wait_for_selector(".iwf-choice")
    assert choice.evaluate("c => getComputedStyle(c).borderTopColor") == "rgb(106, 27, 154)"
    assert "accent=6a1b9a" in frame.url


def test_an_inline_frame_does_not_wait_for_its_language_labels(context, sites):
    """On a slow phone the labels are one more round trip: the form loads meanwhile."""
    page = context.new_page()
    held = []
    page.route("**/embed-labels.js*", lambda route: held.append(route))  # answered only at the end
    page.goto(f"{sites.host}/fr-inline.html", wait_until="commit")  # "load" would wait for the labels
    frame = page.wait_for_selector("iframe.iwf-report-frame", timeout=10_000).content_frame()
    frame.wait_for_selector("[data-iwf-scope]", timeout=10_000)
    assert held and "lang=fr" in held[0].request.url
    french = embed.labels("fr")[0]
    page.wait_for_function("t => document.querySelector('iframe').title === t", arg=french)  # from the form
    held[0].continue_()
    page.wait_for_function("() => window.IWFReport && document.querySelector('iframe')")
    page.wait_for_timeout(200)
    assert page.get_attribute("iframe.iwf-report-frame", "title") == french


def test_the_inlined_stylesheet_applies_under_the_form_policy(context, sites):
    page = context.new_page()
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{sites.host}/fr-inline.html")
    frame = page.wait_for_selector("iframe").content_frame()
    exit_link = frame.wait_for_selector(".iwf-exit-link")
    # The default accent and the exit button's colours come only from widget.css.
    assert (
        frame.wait_for_selector(".iwf-choice").evaluate("c => getComputedStyle(c).borderTopColor") == "rgb(11, 92, 173)"
    )
    assert exit_link.evaluate("a => getComputedStyle(a).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    assert frame.evaluate("document.styleSheets.length") == 1
    assert refused == []


def test_plain_link_is_upgraded_and_mount_works_later(context, sites):
    page = context.new_page()
    page.goto(f"{sites.host}/link.html")
    frame = page.wait_for_selector("iframe").content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    assert frame.evaluate("document.documentElement.lang") == "fr"  # from the link's ?lang=
    assert not page.query_selector("a[data-iwf-report]")

    page.goto(f"{sites.host}/later.html")
    page.wait_for_function("() => window.IWFReport")
    page.evaluate("IWFReport.mount(document.getElementById('later'), {lang: 'es-MX', mode: 'button'})")
    assert page.inner_text("#later button") == embed.labels("es")[0]


def test_language_falls_back_to_the_browsers(browser, sites):
    ctx = browser.new_context(locale="pt-BR")
    try:
        page = ctx.new_page()
        page.goto(f"{sites.host}/nolang.html")
        frame = page.wait_for_selector("iframe").content_frame()
        frame.wait_for_selector("[data-iwf-scope]")
        # The browser's language, with its region: Brazil's wording where it differs.
        assert frame.evaluate("document.documentElement.lang") == "pt-BR"
    finally:
        ctx.close()


def test_changing_language_inside_the_frame_keeps_it_sized(context, sites):
    page, element, frame = open_inline(context, f"{sites.host}/fr-inline.html")
    frame.click(".iwf-languages a")
    frame.wait_for_selector("#iwf-step-language")
    frame.click('a[hreflang="ar"]')
    frame.wait_for_function("document.documentElement.lang === 'ar'")
    frame.wait_for_selector("[data-iwf-scope]")
    page.wait_for_timeout(200)
    assert frame.evaluate("document.documentElement.dir") == "rtl"
    assert_fits(element, frame)


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory, keypair):
    """The demo partner site (``iwf-widget demo``'s) on one origin, a widget on another."""
    from iwf_widget.demo import create_app as demo_app

    tmp = tmp_path_factory.mktemp("demo")
    site_port = B.free_port()
    app = partner_app(
        tmp,
        keypair[1],
        IWF_WIDGET_PARTNER_ID="demo-test",
        IWF_WIDGET_MIN_FILL_SECONDS=3,
        IWF_WIDGET_RATE_LIMIT="20/hour;100/day",
        IWF_WIDGET_ALLOWED_ORIGINS=f"http://127.0.0.1:{site_port}",
    )
    widget = B.serve_wsgi(app)
    site = B.serve_wsgi(demo_app(widget.origin), host="127.0.0.1", port=site_port)
    yield site.origin, widget.origin
    site.stop()
    widget.stop()


@pytest.mark.parametrize("lang", ["fr", "ar", "en"])
def test_demo_site_embeds_through_the_snippet(context, demo_site, lang):
    site, widget = demo_site
    direction = "rtl" if lang == "ar" else "ltr"
    page = context.new_page()
    page.goto(f"{site}/{lang}/")
    assert page.query_selector(f'script[src="{widget}/report/embed.js"]')
    element = page.wait_for_selector("iframe.iwf-report-frame")
    frame = element.content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    page.wait_for_function("() => document.querySelector('iframe').style.blockSize !== '32rem'")
    assert frame.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [lang, direction]
    assert_fits(element, frame)

    page.goto(f"{site}/{lang}/button")
    button = page.wait_for_selector("button.iwf-report-button")
    assert button.inner_text() == embed.labels(lang)[0]
    button.click()
    dialog = page.wait_for_selector("dialog[open]")
    assert dialog.evaluate("d => getComputedStyle(d).direction") == direction
    frame = page.wait_for_selector("dialog iframe").content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    assert frame.evaluate("document.documentElement.lang") == lang
    assert context.cookies() == []
