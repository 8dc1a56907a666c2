"""The snippet on a partner page that requires Trusted Types, in Debian's Chromium.

An Arabic page with a widget whose default language is English makes the snippet load
the Arabic labels: a script address, which such a page accepts only through a policy.
Where the page allows the widget's policy (``trusted-types iwf-widget``) everything works
as anywhere else; where it does not, the person still gets a plain link to the form.
"""

from __future__ import annotations

import typing as t

import pytest
from support import browser as B
from support.partner import partner_app

from iwf_widget import embed

pytestmark = pytest.mark.browser

MARKUP = {
    "inline": "<div data-iwf-report></div>",
    "button": '<div data-iwf-report data-mode="button"></div>',
}


class Hosts(t.NamedTuple):
    widget: str  # http://localhost:PORT/report
    allowed: str  # pages whose CSP allows the "iwf-widget" policy
    refused: str  # pages whose CSP allows only another policy


@pytest.fixture(scope="module")
def hosts(tmp_path_factory, keypair) -> t.Iterator[Hosts]:
    tmp = tmp_path_factory.mktemp("trusted-types")
    folder = tmp / "site"
    folder.mkdir()
    allowed_port, refused_port = B.free_port(), B.free_port()
    allowed, refused = f"http://127.0.0.1:{allowed_port}", f"http://127.0.0.1:{refused_port}"
    app = partner_app(
        tmp,
        keypair[1],
        IWF_WIDGET_ALLOWED_ORIGINS=f"{allowed},{refused}",
        IWF_WIDGET_DEFAULT_LOCALE="en",
        IWF_WIDGET_WORK_DIFFICULTY=0,
    )
    widget_server = B.serve_wsgi(app)
    widget = f"{widget_server.origin}/report"
    for name, markup in MARKUP.items():
        html = B.page_html(markup, lang="ar", dir="rtl", title=f"Partner {name}", widget=widget)
        (folder / f"{name}.html").write_text(html, "utf-8")
    strict = B.partner_csp(widget_server.origin) + "; require-trusted-types-for 'script'"
    servers = [
        B.serve_site(folder, strict + "; trusted-types iwf-widget", port=allowed_port),
        B.serve_site(folder, strict + "; trusted-types host-policy", port=refused_port),
        widget_server,
    ]
    yield Hosts(widget, allowed, refused)
    for server in servers:
        server.stop()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    with B.watching(ctx) as seen:
        ctx.seen = seen
        yield ctx
    ctx.close()


def test_an_arabic_page_allowing_the_policy_gets_the_arabic_button_and_form(context, hosts):
    page = context.new_page()
    page.goto(f"{hosts.allowed}/button.html")
    button = page.wait_for_selector("button.iwf-report-button")
    assert button.inner_text() == embed.labels("ar")[0]
    button.click()
    frame = page.wait_for_selector("dialog[open] iframe").content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    assert frame.evaluate("document.documentElement.lang") == "ar"
    assert frame.evaluate("document.documentElement.dir") == "rtl"
    refused = [m for m in context.seen["console"] if "Trusted Type" in m or "Refused" in m]
    assert not refused, refused


def test_an_arabic_inline_form_works_where_the_policy_is_allowed(context, hosts):
    page = context.new_page()
    page.goto(f"{hosts.allowed}/inline.html")
    frame = page.wait_for_selector("iframe.iwf-report-frame").content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    assert frame.evaluate("document.documentElement.lang") == "ar"
    assert page.get_attribute("iframe.iwf-report-frame", "title") == embed.labels("ar")[0]


@pytest.mark.parametrize("mode", sorted(MARKUP))
def test_a_page_that_does_not_allow_the_policy_shows_a_plain_link_to_the_form(context, hosts, mode):
    page = context.new_page()
    page.goto(f"{hosts.refused}/{mode}.html")
    link = page.wait_for_selector("[data-iwf-report] a")
    assert link.get_attribute("href") == f"{hosts.widget}/form?lang=ar"
    assert link.get_attribute("rel") == "noreferrer"
    assert not page.query_selector("iframe") and not page.query_selector("button.iwf-report-button")
    page.click("[data-iwf-report] a")
    page.wait_for_selector("[data-iwf-scope]")
    assert page.evaluate("document.documentElement.lang") == "ar"
