"""Arabic, Pashto and Urdu pages in Chromium: every left-to-right run reads in order.

The Unicode bidi algorithm lays out a Latin run inside right-to-left text by its
strong letters only, so without isolation "http://" shows as "//:http" and the
groups of "0800 123 456" come out in reverse. Each check here finds a run in the
rendered page and compares the on-screen position of each of its characters:
left to right means each one starts further right than the one before.
"""

from __future__ import annotations

import typing as t

import pytest
from babel.numbers import format_decimal
from support import browser as B
from support.partner import partner_app

from iwf_widget.report import DESCRIPTION_MAX

RTL = ["ar", "ps", "ur"]
EMERGENCY = "0800 123 456"
HELP_RUNS = ("0800 1111", "https://help.example.org/ar", "help@example.org")
#: A partner's help text in Arabic, with a phone number, an address and an email in it.
HELP_TEXT = "خط نجدة الطفل: 0800 1111، أو https://help.example.org/ar أو help@example.org."

#: Every character of ``needle`` wherever it is shown: [[left, top, width], ...] per occurrence.
#: Bidi isolates are invisible and left out, so the needle is the text as people read it.
POSITIONS = """
(needle) => {
  const chars = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("[hidden], script, style, textarea, .iwf-hp")
        || !parent.checkVisibility()) continue;
    for (let i = 0; i < node.data.length; i++) {
      if (!"\\u2066\\u2067\\u2068\\u2069".includes(node.data[i])) chars.push([node, i]);
    }
  }
  const text = chars.map(([node, i]) => node.data[i]).join("");
  const found = [];
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
    found.push(chars.slice(at, at + needle.length).map(([node, i]) => {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const box = range.getBoundingClientRect();
      return [box.left, box.top, box.width];
    }));
  }
  return found;
}
"""


class Widget(t.NamedTuple):
    url: str  # http://localhost:PORT/report


@pytest.fixture(scope="module")
def widget(tmp_path_factory, keypair) -> t.Iterator[Widget]:
    app = partner_app(
        tmp_path_factory.mktemp("rtl"),
        keypair[1],
        IWF_WIDGET_EMERGENCY_NUMBER=EMERGENCY,
        IWF_WIDGET_HELP_TEXT=HELP_TEXT,
        IWF_WIDGET_WORK_DIFFICULTY=0,
    )
    server = B.serve_wsgi(app)
    yield Widget(f"{server.origin}/report")
    server.stop()


@pytest.fixture
def page(browser):
    # Wide enough that no run checked here wraps onto a second line.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def assert_reads_left_to_right(page, needle: str) -> None:
    occurrences = page.evaluate(POSITIONS, needle)
    assert occurrences, f"{needle!r} is not shown on {page.url}"
    for boxes in occurrences:
        tops = {round(top) for _left, top, _width in boxes}
        assert len(tops) == 1, f"{needle!r} wraps onto another line; widen the viewport"
        lefts = [left for left, _top, _width in boxes]
        assert all(a < b for a, b in zip(lefts, lefts[1:], strict=False)), (
            f"{needle!r} is not laid out left to right on {page.url}: x positions {[round(x) for x in lefts]}"
        )


def open_step(page, widget: Widget, lang: str, step: str) -> None:
    page.goto(f"{widget.url}/form?lang={lang}&step={step}")
    assert page.get_attribute("html", "dir") == "rtl"
    page.wait_for_selector(f"#iwf-step-{step}:not([hidden])")


def send(page, urls: str, email: str = "", description: str = "") -> None:
    page.fill("#urls", urls)
    page.check('[name="content_kind"] >> nth=0')
    page.check('[name="where_seen"] >> nth=0')
    page.fill("#contact_email", email)
    # Set directly: the textarea's maxlength stops typing, not a value set by script.
    page.eval_on_selector("#description", "(box, text) => { box.value = text; }", description)
    # The answer replaces <main>: wait for the new one, not for an error left from before.
    page.eval_on_selector("main", "main => { main.iwfAnswered = true; }")
    page.click("button[type=submit]")
    page.wait_for_function("() => !document.querySelector('main').iwfAnswered")


@pytest.mark.parametrize("lang", RTL)
@pytest.mark.parametrize("step", ["danger", "self"])
def test_emergency_number_and_partner_help_read_in_order_on_the_help_steps(page, widget, lang, step):
    open_step(page, widget, lang, step)
    for run in (EMERGENCY, *HELP_RUNS):
        assert_reads_left_to_right(page, run)


@pytest.mark.parametrize("lang", RTL)
@pytest.mark.parametrize("step", ["adult", "other"])
def test_partner_help_reads_in_order_on_the_out_of_scope_steps(page, widget, lang, step):
    open_step(page, widget, lang, step)
    for run in HELP_RUNS:
        assert_reads_left_to_right(page, run)


@pytest.mark.parametrize("lang", RTL)
def test_report_step_errors_keep_addresses_examples_and_numbers_in_order(page, widget, lang):
    open_step(page, widget, lang, "report")
    assert_reads_left_to_right(page, EMERGENCY)

    send(page, "javascript:alert(1)", email="not an email", description="x" * (DESCRIPTION_MAX + 1))
    page.wait_for_selector("#urls-error")
    for run in ("http://", "https://", "name@example.com", format_decimal(DESCRIPTION_MAX, locale=lang)):
        assert_reads_left_to_right(page, run)

    send(page, "not a web address")
    page.wait_for_selector("#urls-error")
    assert_reads_left_to_right(page, "https://example.com/page")


@pytest.mark.parametrize("lang", RTL)
def test_reference_reads_in_order_on_the_thank_you_page(page, widget, lang):
    open_step(page, widget, lang, "report")
    send(page, "https://example.com/rtl")
    reference = page.wait_for_selector("#iwf-reference").text_content()
    assert_reads_left_to_right(page, reference)


@pytest.mark.parametrize("lang", RTL)
def test_language_names_in_latin_and_cyrillic_read_in_order_in_the_picker(page, widget, lang):
    open_step(page, widget, lang, "language")
    for name in ("English", "Español", "Қазақ тілі", "Kiswahili"):
        assert_reads_left_to_right(page, name)
