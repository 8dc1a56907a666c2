"""The snippet on a partner page that an attacker could inject markup into (a comment, a
profile field: HTML without any script). Such markup can shadow ``document.currentScript``
and ``window.IWFReport`` by name; the snippet must still frame the real form from its own
origin, and nothing it creates may send a referrer. And whatever the person chooses on the
first step, the frame's height, which any script on the partner page can read, is the same."""

from __future__ import annotations

import typing as t

import pytest
from support import browser as B
from support.partner import partner_app

#: Markup that, to a naive snippet, says "the widget lives at evil.example" and "the
#: snippet already ran, call scan()": an <img name> shadows a document property, an
#: element with an id shadows a window property.
INJECTED = (
    '<img name="currentScript" src="http://evil.example/report/embed.js" alt="">'
    '<form id="IWFReport" name="IWFReport"><input name="scan"><input name="mount"></form>'
    '<a id="IWFReport" href="http://evil.example/report/form">x</a>'
)

#: The first step's choices: one leads to the report form, four to advice.
CHOICES = ("report", "danger", "self", "adult", "other")


class Pages(t.NamedTuple):
    widget: str
    host: str


@pytest.fixture(scope="module")
def pages(tmp_path_factory, keypair) -> t.Iterator[Pages]:
    tmp = tmp_path_factory.mktemp("hijack")
    folder = tmp / "site"
    folder.mkdir()
    host_port = B.free_port()
    host = f"http://127.0.0.1:{host_port}"
    app = partner_app(
        tmp,
        keypair[1],
        IWF_WIDGET_ALLOWED_ORIGINS=host,
        IWF_WIDGET_EXIT_URL=f"{host}/exit.html",
        IWF_WIDGET_LOCALES="en,fr,ar",
        IWF_WIDGET_HELP_TEXT="Call the helpline on 0800 123 456, open every day.",
    )
    widget_server = B.serve_wsgi(app)
    widget = f"{widget_server.origin}/report"
    markup = {
        "injected-inline": INJECTED + "<div data-iwf-report></div>",
        "injected-button": INJECTED + '<div data-iwf-report data-mode="button" data-lang="fr"></div>',
        "inline": "<div data-iwf-report></div>",
        "inline-fr": '<div data-iwf-report data-lang="fr"></div>',
    }
    for name, body in markup.items():
        (folder / f"{name}.html").write_text(B.page_html(body, widget=widget), "utf-8")
    host_server = B.serve_site(folder, B.partner_csp(widget_server.origin), port=host_port)
    yield Pages(widget, host)
    host_server.stop()
    widget_server.stop()


@pytest.fixture
def context(browser, pages):
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    with B.watching(ctx) as seen:
        ctx.seen = seen
        yield ctx
    ctx.close()


def frame_of(page: t.Any, selector: str = "iframe.iwf-report-frame") -> t.Any:
    frame = page.wait_for_selector(selector).content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    return frame


def assert_nothing_from_elsewhere(page: t.Any) -> None:
    """No frame and no script came from the origin the injected markup names."""
    assert not [f.url for f in page.frames if "evil.example" in f.url]
    assert not page.evaluate("[...document.scripts].filter(s => s.src.includes('evil.example')).length")


def test_injected_markup_cannot_point_the_inline_snippet_at_another_origin(context, pages):
    page = context.new_page()
    page.goto(f"{pages.host}/injected-inline.html")
    frame = frame_of(page)
    assert frame.url.startswith(f"{pages.widget}/form")
    assert page.evaluate("typeof window.IWFReport.mount") == "function"
    assert_nothing_from_elsewhere(page)


def test_injected_markup_cannot_stop_or_steer_the_button_and_its_dialog(context, pages):
    page = context.new_page()
    page.goto(f"{pages.host}/injected-button.html")
    page.click("button.iwf-report-button")
    frame = frame_of(page, "dialog[open] iframe")
    assert frame.url.startswith(f"{pages.widget}/form")
    assert frame.evaluate("document.documentElement.lang") == "fr"
    assert_nothing_from_elsewhere(page)


def test_everything_the_snippet_creates_sends_no_referrer(context, pages):
    page = context.new_page()
    page.goto(f"{pages.host}/injected-button.html")
    page.click("button.iwf-report-button")
    frame_of(page, "dialog[open] iframe")
    made = page.evaluate(
        """() => [...document.querySelectorAll('script[src*="/embed-"], iframe')]
                 .map(e => [e.tagName, e.referrerPolicy])"""
    )
    assert {tag for tag, _ in made} == {"SCRIPT", "IFRAME"}, made
    assert all(policy == "no-referrer" for _, policy in made), made


def heights_after_each_choice(context: t.Any, url: str) -> dict[str, float]:
    """The frame's height as the partner page sees it, once each choice has settled."""
    seen = {}
    for choice in CHOICES:
        page = context.new_page()
        page.goto(url)
        element = page.wait_for_selector("iframe.iwf-report-frame")
        frame = frame_of(page)
        first = element.bounding_box()["height"]
        frame.click(f'.iwf-choice[data-iwf-go="{choice}"]')
        frame.wait_for_selector(f'[data-iwf-step="{choice}"]:not([hidden])')
        page.wait_for_function("h => document.querySelector('iframe').getBoundingClientRect().height !== h", arg=first)
        page.wait_for_timeout(300)  # let any later resize message arrive, so it would be seen
        seen[choice] = element.bounding_box()["height"]
        step = frame.evaluate(
            "c => document.querySelector(`[data-iwf-step=${c}]`).getBoundingClientRect().bottom", choice
        )
        assert step <= seen[choice] + 1, f"{choice}: step cut off inside the frame"
        assert frame.evaluate("innerHeight >= document.documentElement.scrollHeight"), f"{choice}: scrollbar"
        page.close()
    return seen


@pytest.mark.parametrize("name", ["inline", "inline-fr"])
def test_the_frames_height_does_not_tell_the_host_page_which_choice_was_made(context, pages, name):
    seen = heights_after_each_choice(context, f"{pages.host}/{name}.html")
    assert len(set(seen.values())) == 1, seen
