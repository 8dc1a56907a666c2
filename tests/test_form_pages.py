"""New-form and thank-you pages are rendered once and filled in per request: each must be the page the template renders."""

from __future__ import annotations

import pytest
from support.partner import valid_answers

from iwf_widget import ReportWidget, views
from iwf_widget.pages import Pages
from iwf_widget.reference import for_report


def fresh_render(app, url: str) -> str:
    """The page as the template renders it for ``url``, without the cache."""
    with app.test_request_context(url):
        app.preprocess_request()
        step = views.request.args.get("step", "scope")
        body, status = views._render_form(views._new_form(), step=step if step in views.STEPS else "scope")
    assert status == 200
    return body


URLS = [
    "/report/form",
    "/report/form?lang=fr",
    "/report/form?lang=fr&step=report",
    "/report/form?lang=ar&step=report",
    "/report/form?lang=uk&step=language",
    "/report/form?lang=sw&step=danger&accent=0b5cad",
    "/report/form?lang=sw&step=danger&accent=7a1f5c",
    "/report/form?lang=sw&step=danger",
    "/report/form?lang=en&step=nonsense",
]


def test_a_cached_page_is_the_rendered_page(app, client, monkeypatch):
    state = ReportWidget.state(app)
    monkeypatch.setattr(state.signer, "issue", lambda lang: f"the.token-for_{lang}")
    # Characters that must be escaped in the attribute, as the template escapes them.
    monkeypatch.setattr(state.work, "challenge", lambda token: f'{{"t":"{token}","x":"<&\'>"}}')
    for _ in range(2):  # rendered into the cache, then from it
        for url in URLS:
            expected = fresh_render(app, url)
            assert "the.token-for_" in expected and "&lt;&amp;" in expected
            assert client.get(url).get_data(as_text=True) == expected, url
    assert client.get("/report/form", headers={"Accept-Language": "fr"}).get_data(as_text=True) == fresh_render(
        app, "/report/form?lang=fr"
    )


def test_each_new_form_has_its_own_token_and_challenge(client):
    pages = [client.get("/report/form?lang=fr").get_data(as_text=True) for _ in range(3)]
    tokens = {p.split('name="iwf_token" value="', 1)[1].split('"', 1)[0] for p in pages}
    challenges = {p.split('data-iwf-pow="', 1)[1].split('"', 1)[0] for p in pages}
    assert len(tokens) == 3
    assert len(challenges) == 3


def test_without_proof_of_work_the_page_has_no_challenge(make_app):
    client = make_app(IWF_WIDGET_WORK_DIFFICULTY=0).test_client()
    page = client.get("/report/form").get_data(as_text=True)
    assert "data-iwf-pow" not in page
    assert "slot" not in page


def test_the_cache_keeps_the_most_recently_used_pages():
    pages = Pages(size=2)
    rendered = []

    for key in ("a", "b", "a", "c", "a", "b"):
        pages.get(key, lambda: rendered.append(key) or f"<p>{key}</p>")
    assert rendered == ["a", "b", "c", "b"]  # b again after c pushed it out


@pytest.mark.parametrize("url", ["/report/form?lang=en", "/report/form?lang=ar&accent=0b5cad"])
def test_a_cached_thank_you_page_is_the_rendered_page(app, client, url):
    for _ in range(2):  # rendered into the cache, then from it
        page = client.get(url).get_data(as_text=True)
        answers = valid_answers(page)
        nonce = ReportWidget.state(app).signer.check(answers["iwf_token"], url.split("lang=")[1][:2]).nonce
        for again in (False, True):
            served = client.post(url, data=answers)
            assert served.status_code == 200
            with app.test_request_context(url, method="POST"):
                app.preprocess_request()
                expected, _ = views._page("thanks.html", reference=for_report(nonce), again=again)
            assert served.get_data(as_text=True) == expected
