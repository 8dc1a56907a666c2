"""The report form end to end, in process: render, validate, seal, store once."""

from __future__ import annotations

import html
import re
import sqlite3
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from support.partner import SIGNING_KEY, token_of, valid_answers

from iwf_widget.reference import is_valid
from iwf_widget.sealing import unseal
from iwf_widget.tokens import SALT


def pending(client) -> int:
    return client.get("/report/healthz").get_json()["outbox_pending"]


def outbox_rows(tmp_path) -> list[tuple]:
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        return db.execute("select id, partner, created, sealed from iwf_outbox").fetchall()


def html_attrs(page: str) -> dict[str, str]:
    tag = re.search(r"<html([^>]*)>", page).group(1)
    return dict(re.findall(r'(\w+)="([^"]*)"', tag))


@pytest.mark.parametrize("lang, direction", [("en", "ltr"), ("fr", "ltr"), ("ar", "rtl")])
def test_form_page_declares_its_language_and_direction(client, lang, direction):
    r = client.get(f"/report/form?lang={lang}")
    assert r.status_code == 200
    attrs = html_attrs(r.get_data(as_text=True))
    assert attrs["lang"] == lang
    assert attrs["dir"] == direction


def test_form_has_the_contract_fields_and_no_file_input(client):
    page = client.get("/report/form").get_data(as_text=True)
    for name in ("urls", "content_kind", "where_seen", "description", "contact_email", "iwf_token"):
        assert f'name="{name}"' in page
    assert 'type="file"' not in page
    assert "multipart" not in page
    assert 'data-iwf-scope="in"' in page


def test_form_loads_nothing_from_another_origin(client):
    page = client.get("/report/form?lang=fr").get_data(as_text=True)
    refs = re.findall(r'<(?:script|link|img|iframe|style)[^>]+(?:src|href)="([^"]+)"', page)
    assert refs, "the page should load its own stylesheet and script"
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs


def test_quick_exit_link_comes_first_and_works_without_javascript(client):
    page = client.get("/report/form").get_data(as_text=True)
    first_focusable = re.search(r"<(a|button|input|textarea|select|summary)\b[^>]*>", page.split("<body", 1)[1])
    assert "data-iwf-exit" in first_focusable.group(0)
    assert 'href="https://duckduckgo.com/"' in first_focusable.group(0)
    assert 'target="_top"' in first_focusable.group(0)


def test_valid_report_is_stored_once_sealed_with_a_reference(client, submit, tmp_path):
    r = submit("fr", urls="https://example.com/a.html\nhttp://example.org/b?x=1")
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    reference = re.search(r'id="iwf-reference"[^>]*>([^<]+)<', page).group(1)
    assert is_valid(reference)
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z*~$=]{4}", reference)
    assert pending(client) == 1
    rows = outbox_rows(tmp_path)
    assert len(rows) == 1 and rows[0][1] == "test-partner"
    assert rows[0][2] % 60 == 0, "the stored time is rounded to the minute"


def test_outbox_file_holds_no_plaintext(client, submit, tmp_path):
    submit(
        urls="https://example.com/secret-page.html",
        description="only-in-the-sealed-box",
        contact_email="reporter@example.org",
    )
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("outbox.db*"))
    for plain in (b"secret-page", b"only-in-the-sealed-box", b"reporter@example.org", b"example.com"):
        assert plain not in raw


def test_sealed_report_opens_to_exactly_what_was_submitted(client, submit, tmp_path, keypair):
    submit(
        "fr",
        urls="https://Example.COM/a.html\n\nhttps://example.com/a.html\nexample.org/b",
        content_kind="videos",
        where_seen="social",
        description="  sur la page d'accueil  ",
        contact_email="nom@example.org",
    )
    ((report_id, partner, created, sealed),) = outbox_rows(tmp_path)
    report = unseal(keypair[0], sealed)
    assert report == {
        "v": 1,
        "id": report_id,
        "partner": "test-partner",
        "locale": "fr",
        "created": created,
        "urls": ["https://example.com/a.html", "http://example.org/b"],
        "content_kind": "videos",
        "where_seen": "social",
        "description": "sur la page d'accueil",
        "contact_email": "nom@example.org",
    }


def test_anonymous_report_carries_no_contact_and_nothing_about_the_client(client, tmp_path, keypair):
    page = client.get("/report/form").get_data(as_text=True)
    client.post(
        "/report/form",
        data=valid_answers(page),
        headers={"User-Agent": "UA-MARKER", "X-Forwarded-For": "203.0.113.9", "Referer": "https://ref.example/"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    ((_, _, _, sealed),) = outbox_rows(tmp_path)
    text = str(unseal(keypair[0], sealed))
    assert "UA-MARKER" not in text and "203.0.113.9" not in text and "198.51.100.7" not in text
    assert "ref.example" not in text
    assert unseal(keypair[0], sealed)["contact_email"] == ""


def test_replayed_token_stores_nothing_more_and_shows_the_same_reference(client, tmp_path):
    page = client.get("/report/form").get_data(as_text=True)
    data = valid_answers(page)
    first = client.post("/report/form", data=data).get_data(as_text=True)
    second = client.post("/report/form", data=data).get_data(as_text=True)
    ref = re.compile(r'id="iwf-reference"[^>]*>([^<]+)<')
    assert ref.search(first).group(1) == ref.search(second).group(1)
    assert len(outbox_rows(tmp_path)) == 1


def test_forged_token_is_refused_and_nothing_stored(client, tmp_path):
    page = client.get("/report/form").get_data(as_text=True)
    token = token_of(page)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = client.post("/report/form", data=valid_answers(page, iwf_token=forged))
    assert r.status_code == 400
    assert 'id="iwf-reference"' not in r.get_data(as_text=True)
    assert outbox_rows(tmp_path) == []


def test_token_signed_with_another_key_is_refused(client, tmp_path):
    page = client.get("/report/form").get_data(as_text=True)
    other = URLSafeTimedSerializer("another-key-0123456789abcdef", salt=SALT)
    token = other.dumps({"p": "test-partner", "l": "en", "n": "ab" * 16})
    r = client.post("/report/form", data=valid_answers(page, iwf_token=token))
    assert r.status_code == 400 and outbox_rows(tmp_path) == []


def test_token_of_another_partner_is_refused(client, tmp_path):
    page = client.get("/report/form").get_data(as_text=True)
    token = URLSafeTimedSerializer(SIGNING_KEY, salt=SALT).dumps({"p": "other-partner", "l": "en", "n": "cd" * 16})
    r = client.post("/report/form", data=valid_answers(page, iwf_token=token))
    assert r.status_code == 400 and outbox_rows(tmp_path) == []


def test_expired_token_is_refused_with_a_way_to_send_anyway(client, tmp_path):
    class ThreeHoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 3 * 3600

    old = URLSafeTimedSerializer(SIGNING_KEY, salt=SALT, signer=ThreeHoursAgo)
    token = old.dumps({"p": "test-partner", "l": "en", "n": "ef" * 16})
    page = client.get("/report/form").get_data(as_text=True)
    r = client.post("/report/form", data=valid_answers(page, iwf_token=token, urls="https://example.com/kept"))
    body = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "open for a long time" in body and "Send report" in body
    assert "https://example.com/kept" in body, "the answers are kept so the person can resend"
    assert token_of(body) != token, "a fresh token comes with the form"
    assert outbox_rows(tmp_path) == []


def test_too_fast_submission_is_refused_then_accepted_after_the_wait(make_app, tmp_path):
    client = make_app(IWF_WIDGET_MIN_FILL_SECONDS="1").test_client()
    page = client.get("/report/form").get_data(as_text=True)
    r = client.post("/report/form", data=valid_answers(page))
    assert r.status_code == 400 and "very soon after it opened" in r.get_data(as_text=True)
    assert outbox_rows(tmp_path) == []
    retry_page = r.get_data(as_text=True)
    time.sleep(1.1)
    r = client.post("/report/form", data=valid_answers(retry_page))
    assert r.status_code == 200 and len(outbox_rows(tmp_path)) == 1


def test_filled_honeypot_stores_nothing_and_spends_the_token(client, tmp_path):
    page = client.get("/report/form").get_data(as_text=True)
    data = valid_answers(page, homepage="http://spam.example")
    assert client.post("/report/form", data=data).status_code == 400
    data["homepage"] = ""
    assert client.post("/report/form", data=data).status_code == 400, "the token is spent"
    assert outbox_rows(tmp_path) == []


def test_submission_from_another_site_is_refused(client, tmp_path):
    page = client.get("/report/form").get_data(as_text=True)
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        r = client.post("/report/form", data=valid_answers(page), headers=headers)
        assert r.status_code == 400
    assert outbox_rows(tmp_path) == []


def test_form_post_with_origin_null_from_a_no_referrer_page_is_accepted(client, tmp_path):
    page = client.get("/report/form").get_data(as_text=True)
    r = client.post(
        "/report/form", data=valid_answers(page), headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    )
    assert r.status_code == 200 and len(outbox_rows(tmp_path)) == 1


@pytest.mark.parametrize(
    "urls",
    ["javascript:alert(1)", "data:text/html,<b>x</b>", "", "not a url", "https://" + "a" * 5000 + ".com"],
    ids=["javascript", "data", "empty", "not-a-url", "5000-chars"],
)
def test_bad_address_is_refused_in_french_and_nothing_stored(client, tmp_path, urls):
    page = client.get("/report/form?lang=fr").get_data(as_text=True)
    r = client.post("/report/form?lang=fr", data=valid_answers(page, urls=urls))
    body = r.get_data(as_text=True)
    assert r.status_code == 400
    assert html_attrs(body)["lang"] == "fr"
    error = re.search(r'<p class="iwf-error" id="urls-error">(.*?)</p>', body, re.S).group(1)
    assert "Error:" not in error and "web address" not in error, "the message is in French"
    assert outbox_rows(tmp_path) == []


def test_errors_sit_next_to_their_fields_and_in_a_summary(client):
    page = client.get("/report/form").get_data(as_text=True)
    body = client.post(
        "/report/form", data=valid_answers(page, urls="ftp://x.example/", content_kind="", contact_email="a@b")
    ).get_data(as_text=True)
    assert re.search(
        r'<textarea[^>]*id="urls"[^>]*aria-describedby="urls-hint urls-error"[^>]*aria-invalid="true"', body
    )
    assert 'id="urls-error"' in body and 'id="content_kind-error"' in body and 'id="contact_email-error"' in body
    summary = re.search(r'<div class="iwf-summary" role="alert".*?</div>', body, re.S).group(0)
    assert summary.count("<li>") == 3
    assert 'href="#urls"' in summary and 'href="#content_kind"' in summary


def test_invalid_choice_is_refused(client, tmp_path):
    page = client.get("/report/form").get_data(as_text=True)
    r = client.post("/report/form", data=valid_answers(page, where_seen="elsewhere-not-offered"))
    assert r.status_code == 400 and "Choose one of the options shown." in r.get_data(as_text=True)
    assert outbox_rows(tmp_path) == []


def test_more_than_ten_addresses_are_refused_but_duplicates_count_once(client, tmp_path, keypair):
    eleven = "\n".join(f"https://example.com/{i}" for i in range(11))
    page = client.get("/report/form").get_data(as_text=True)
    assert client.post("/report/form", data=valid_answers(page, urls=eleven)).status_code == 400
    repeated = "\n".join(["https://example.com/same"] * 12)
    page = client.get("/report/form").get_data(as_text=True)
    assert client.post("/report/form", data=valid_answers(page, urls=repeated)).status_code == 200
    ((_, _, _, sealed),) = outbox_rows(tmp_path)
    assert unseal(keypair[0], sealed)["urls"] == ["https://example.com/same"]


def test_oversized_body_is_refused_with_413_in_the_page_language(client, tmp_path):
    page = client.get("/report/form?lang=fr").get_data(as_text=True)
    r = client.post("/report/form?lang=fr", data=valid_answers(page, description="x" * 2_000_000))
    assert r.status_code == 413
    assert html_attrs(r.get_data(as_text=True))["lang"] == "fr"
    assert outbox_rows(tmp_path) == []


def test_no_response_sets_a_cookie(client, submit):
    responses = [
        client.get("/report/form"),
        client.get("/report/form?lang=ar&step=report"),
        client.get("/report/embed.js"),
        client.get("/report/healthz"),
        client.get("/report/static/widget.css"),
        submit(),
        submit(urls="javascript:x"),
    ]
    for r in responses:
        assert "Set-Cookie" not in r.headers
    assert not client._cookies


def test_storage_failure_never_shows_thank_you(app, client):
    app.extensions["iwf_widget"].outbox.engine.dispose()
    with app.extensions["iwf_widget"].outbox.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE iwf_outbox")
    page = client.get("/report/form").get_data(as_text=True)
    r = client.post("/report/form", data=valid_answers(page))
    assert r.status_code == 503
    assert 'id="iwf-reference"' not in r.get_data(as_text=True)


def test_each_step_can_be_reached_without_javascript(client):
    for step in ("scope", "report", "danger", "self", "adult", "other"):
        page = client.get(f"/report/form?step={step}").get_data(as_text=True)
        visible = re.findall(r'<section class="iwf-step" id="iwf-step-(\w+)"[^>]*data-iwf-step="\w+">', page)
        assert visible == [step]
    assert client.get("/report/form?step=bogus").status_code == 200


def test_emergency_number_and_help_text_come_from_the_partner(make_app):
    client = make_app(IWF_WIDGET_EMERGENCY_NUMBER="19", IWF_WIDGET_HELP_TEXT="Call Allo 2020 (free).").test_client()
    page = client.get("/report/form?step=danger").get_data(as_text=True)
    assert 'Call the police now on <bdi dir="ltr">19</bdi>.' in page
    assert '<p class="iwf-partner-help" dir="auto">Call Allo 2020 (free).</p>' in page


def test_healthz_counts_reports_waiting(client, submit):
    assert pending(client) == 0
    submit()
    submit()
    health = client.get("/report/healthz").get_json()
    assert health["outbox_pending"] == 2
    assert health["oldest_pending_age_s"] >= 0


def test_behind_a_trusted_proxy_the_forwarded_host_counts_as_the_form_own(make_app, tmp_path):
    client = make_app(IWF_WIDGET_TRUSTED_PROXIES="1").test_client()
    page = client.get("/report/form").get_data(as_text=True)
    headers = {
        "Origin": "https://report.partner.example",
        "X-Forwarded-Host": "report.partner.example",
        "Sec-Fetch-Site": "same-origin",
    }
    assert client.post("/report/form", data=valid_answers(page), headers=headers).status_code == 200
    untrusted = make_app().test_client()
    page = untrusted.get("/report/form").get_data(as_text=True)
    assert untrusted.post("/report/form", data=valid_answers(page), headers=headers).status_code == 400


def test_the_form_states_the_limits_the_report_enforces(client):
    from iwf_widget.report import DESCRIPTION_MAX, EMAIL_MAX, MAX_ADDRESSES

    page = client.get("/report/form?step=report").get_data(as_text=True)
    assert f"You can send up to {MAX_ADDRESSES} addresses, each on its own line." in page
    assert re.search(rf'<textarea name="description"[^>]*maxlength="{DESCRIPTION_MAX}"', page)
    assert re.search(rf'<input type="email"[^>]*maxlength="{EMAIL_MAX}"', page)
    too_many = "\n".join(f"https://example.com/{n}" for n in range(MAX_ADDRESSES + 1))
    body = client.post("/report/form", data=valid_answers(page, urls=too_many)).get_data(as_text=True)
    assert f"You can send up to {MAX_ADDRESSES} addresses at a time." in body


@pytest.mark.parametrize("lang", ["en", "ar", "fr", "ur"])
def test_the_form_reassures_that_reporting_is_not_the_reporters_fault(client, submit, lang):
    from iwf_widget import i18n

    catalog = i18n.translations(lang)
    fault = catalog.gettext("It is not your fault that you saw this, and you will not get in trouble for reporting it.")
    sextortion = catalog.gettext("This is not your fault, and you will not get in trouble for asking for help.")
    scope = html.unescape(client.get(f"/report/form?lang={lang}").get_data(as_text=True))
    assert fault in scope and sextortion in scope  # the scope step, and the advice for "threatened"
    thanks = html.unescape(submit(lang).get_data(as_text=True))
    assert (
        catalog.gettext(
            "You did the right thing by reporting it. Please do not go back to the images. "
            "If what you saw has upset you, talk to someone you trust."
        )
        in thanks
    )
