"""Refusals are free, bounded and never lose what the person typed.

Junk (another site's posts, missing or forged tokens, honeypots, bots that are
too fast) costs nobody any budget; mistakes in the form are not charged; a
hostile encoding of any field is a 4xx; the answers survive "please wait" and
"could not be saved".
"""

from __future__ import annotations

import base64
import html
import logging
import sqlite3
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from support.partner import SIGNING_KEY, answers, token_of, valid_answers

from iwf_widget.ratelimit import client_key
from iwf_widget.report import is_stream_safe
from iwf_widget.sealing import unseal
from iwf_widget.settings import ConfigError, Settings
from iwf_widget.tokens import SALT

REPORTER = "198.51.100.7"


def form_page(client, lang: str = "en", address: str = REPORTER) -> str:
    return client.get(f"/report/form?lang={lang}", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True)


def post(client, data, lang: str = "en", address: str = REPORTER, **kwargs):
    return client.post(f"/report/form?lang={lang}", data=data, environ_base={"REMOTE_ADDR": address}, **kwargs)


def report(client, address: str = REPORTER, lang: str = "en", **over: str):
    """A real report: a served form, sent back valid (without proof-of-work: it weighs 4)."""
    return post(client, valid_answers(form_page(client, lang, address), **over), lang, address)


def stored(tmp_path) -> list[bytes]:
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        return [row[0] for row in db.execute("select sealed from iwf_outbox")]


def token_served(seconds_ago: int, lang: str = "en") -> str:
    """A genuine token as if the form had been served ``seconds_ago``."""

    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds_ago

    serializer = URLSafeTimedSerializer(SIGNING_KEY, salt=SALT, signer=Earlier)
    return serializer.dumps({"p": "test-partner", "l": lang, "n": f"{time.time_ns():032x}"})


# -- a refusal is free -------------------------------------------------------------


def test_cross_site_tokenless_posts_in_a_loop_do_not_lock_out_a_reporter_at_that_address(make_app, tmp_path):
    client = make_app(IWF_WIDGET_RATE_LIMIT="4/hour", IWF_WIDGET_PARTNER_RATE_LIMIT="3/hour").test_client()
    for _ in range(50):  # what a hostile page makes each visitor's browser send
        junk = post(client, {"urls": "https://example.com/"}, headers={"Sec-Fetch-Site": "cross-site"})
        assert junk.status_code == 400
    for _ in range(20):  # the same, same-origin but without a token
        assert post(client, {"urls": "https://example.com/"}).status_code == 400
    assert report(client).status_code == 200
    assert len(stored(tmp_path)) == 1


def test_another_site_posting_answers_does_not_see_them_shown_in_the_form(client, tmp_path):
    page = form_page(client, "fr")
    planted = valid_answers(page, urls="https://planted.example/look-here", description="planted words")
    r = post(client, planted, "fr", headers={"Origin": "https://evil.example"})
    body = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 400
    assert "planted" not in body, "a hostile page cannot pre-fill the form"
    assert "Ce formulaire ne peut être envoyé que depuis sa propre page\u00a0: rien n'a donc été envoyé." in body
    assert token_of(body) != planted["iwf_token"]
    assert post(client, valid_answers(body), "fr").status_code == 200, "the form shown is a working one"


def test_junk_from_many_addresses_does_not_use_up_the_partner_limit(make_app, tmp_path):
    client = make_app(
        IWF_WIDGET_RATE_LIMIT="off", IWF_WIDGET_PARTNER_RATE_LIMIT="2/hour", IWF_WIDGET_MIN_FILL_SECONDS=60
    ).test_client()
    page = form_page(client)
    for i in range(40):
        address = f"203.0.113.{i}"
        assert post(client, valid_answers(page, iwf_token="forged"), address=address).status_code == 400
        assert (
            post(client, valid_answers(page), address=address, headers={"Origin": "https://evil.example"}).status_code
            == 400
        )
        assert post(client, valid_answers(page), address=address).status_code == 400  # too fast
        honeypot = answers(token_served(120), homepage="http://spam.example")
        assert post(client, honeypot, address=address).status_code == 400
    assert stored(tmp_path) == []
    real = [post(client, answers(token_served(120)), address=f"192.0.2.{i}").status_code for i in range(3)]
    assert real == [200, 200, 429], "the partner's two reports were all still there"


def test_validation_errors_are_not_charged(make_app, tmp_path):
    client = make_app(IWF_WIDGET_RATE_LIMIT="4/hour").test_client()
    for _ in range(6):
        assert report(client, urls="javascript:alert(1)").status_code == 400
    assert report(client).status_code == 200
    assert report(client).status_code == 429, "the report itself was charged"


def test_two_ipv6_addresses_in_one_64_share_a_budget(make_app):
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff:ffff:ffff:9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert client_key("2001:db8:1:2::1", 48) == client_key("2001:db8:1:3::1", 48)
    client = make_app(IWF_WIDGET_RATE_LIMIT="4/hour").test_client()
    assert report(client, address="2001:db8:1:2::1").status_code == 200
    assert report(client, address="2001:db8:1:2:abcd::9").status_code == 429
    assert report(client, address="2001:db8:1:3::1").status_code == 200


@pytest.mark.parametrize("value", ["abc", "16", "129", "64.5"])
def test_the_ipv6_prefix_setting_is_checked_at_start_up(value, tmp_path, keypair):
    config = {
        "IWF_WIDGET_PARTNER_ID": "p",
        "IWF_WIDGET_INTAKE_URL": "http://127.0.0.1:9",
        "IWF_WIDGET_SIGNING_KEY": SIGNING_KEY,
        "IWF_WIDGET_INTAKE_PUBLIC_KEY": keypair[1],
        "IWF_WIDGET_IPV6_PREFIX": value,
    }
    with pytest.raises(ConfigError, match="IWF_WIDGET_IPV6_PREFIX"):
        Settings.from_mapping(config, str(tmp_path))
    config["IWF_WIDGET_IPV6_PREFIX"] = "56"
    assert Settings.from_mapping(config, str(tmp_path)).ipv6_prefix == 56


# -- the person's time counts ------------------------------------------------------


def test_a_corrected_form_sent_soon_after_a_validation_error_is_accepted(make_app, tmp_path):
    client = make_app(IWF_WIDGET_MIN_FILL_SECONDS=3).test_client()
    first = answers(token_served(4), content_kind="")  # first served 4 s ago, one choice missing
    mistake = post(client, first)
    assert mistake.status_code == 400 and 'id="content_kind-error"' in mistake.get_data(as_text=True)
    time.sleep(1)
    corrected = valid_answers(mistake.get_data(as_text=True))
    assert post(client, corrected).status_code == 200
    assert len(stored(tmp_path)) == 1


def test_a_form_first_served_too_recently_is_still_too_fast_after_a_re_render(make_app, tmp_path):
    client = make_app(IWF_WIDGET_MIN_FILL_SECONDS=60).test_client()
    mistake = post(client, answers(token_served(61), content_kind=""))
    assert mistake.status_code == 400
    again = post(client, valid_answers(mistake.get_data(as_text=True)))
    assert again.status_code == 200, "the first serve, 61 s ago, is what counts"
    fresh = post(client, valid_answers(form_page(client)))
    assert fresh.status_code == 400 and "very soon after it opened" in fresh.get_data(as_text=True)


def test_an_empty_form_sent_at_once_says_what_is_missing_not_that_it_was_too_quick(make_app, tmp_path):
    client = make_app(IWF_WIDGET_MIN_FILL_SECONDS=60).test_client()
    page = form_page(client)
    sent = post(client, {"iwf_token": token_of(page)})
    body = sent.get_data(as_text=True)
    assert sent.status_code == 400
    assert 'id="urls-error"' in body and 'class="iwf-summary"' in body
    assert "very soon after it opened" not in body
    assert stored(tmp_path) == []
    # Filled in and sent again at once, it is still too quick: the first serve counts.
    again = post(client, valid_answers(body))
    assert again.status_code == 400 and "very soon after it opened" in again.get_data(as_text=True)


# -- bounded work ------------------------------------------------------------------


def multipart(fields: dict[str, str]) -> bytes:
    parts = [f'--b0\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    return ("".join(parts) + "--b0--\r\n").encode("utf-8")


@pytest.mark.parametrize("field", ["description", "urls", "contact_email"])
def test_a_64_kb_post_of_combining_marks_is_refused_cheaply(client, tmp_path, field):
    page = form_page(client)
    marks = "a" + "\u0301\u0316" * 15_500  # about 62 KB of UTF-8, one base and its marks
    body = multipart(valid_answers(page, **{field: marks}))
    assert 60_000 < len(body) < 64 * 1024
    started = time.process_time()
    r = post(client, body, content_type="multipart/form-data; boundary=b0")
    spent = time.process_time() - started
    assert r.status_code == 400
    assert stored(tmp_path) == []
    assert spent < 0.3, f"{spent:.2f} s of CPU for one refusal"


def test_a_run_of_more_than_30_marks_is_refused_in_the_person_language(client, tmp_path):
    page = form_page(client, "fr")
    r = post(client, valid_answers(page, description="e" + "\u0301" * 31), "fr")
    body = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 400
    assert "trop d'accents ou de signes" in body
    page = form_page(client, "fr")
    assert post(client, valid_answers(page, description="e" + "\u0301" * 29), "fr").status_code == 200


def test_stream_safe_counts_marks_inside_precomposed_characters():
    assert is_stream_safe("e" + "\u0301" * 30)
    assert not is_stream_safe("e" + "\u0301" * 31)
    assert not is_stream_safe("\u00e9" + "\u0301" * 30), "é brings one mark of its own"
    assert is_stream_safe("\u0928\u093f\u0930\u094d\u092e\u0932 \u0915\u0941\u092e\u093e\u0930")  # Hindi
    assert is_stream_safe(unicodedata.normalize("NFD", "Vietnamese: Tiếng Việt có dấu"))


# -- hidden characters -------------------------------------------------------------


def test_format_characters_and_separators_in_an_email_are_refused(client, tmp_path):
    for email in ("name\u200b@example.org", "name@exam\u202eple.org", "name@example.org\u2028", "\ufeffa@b.org"):
        r = post(client, valid_answers(form_page(client), contact_email=email))
        assert r.status_code == 400 and 'id="contact_email-error"' in r.get_data(as_text=True)
    assert stored(tmp_path) == []


def test_separators_in_a_description_become_line_breaks_and_format_characters_go(client, tmp_path, keypair):
    text = "first\u2028second\u2029third \u202eevil\u202c \u00ad\u2066x\u2069 \u0915\u094d\u200d\u0937"
    assert post(client, valid_answers(form_page(client), description=text)).status_code == 200
    description = unseal(keypair[0], stored(tmp_path)[0])["description"]
    assert description == "first\nsecond\nthird evil x \u0915\u094d\u200d\u0937"


def test_the_intake_refuses_format_characters_in_description_and_email():
    from iwf_widget.intake import validate

    good = {
        "v": 1,
        "id": "ab" * 16,
        "partner": "p",
        "locale": "en",
        "created": int(time.time()) // 60 * 60,
        "urls": ["https://example.com/"],
        "content_kind": "images",
        "where_seen": "website",
        "description": "",
        "contact_email": "",
    }
    for field, value in (
        ("description", "a\u202eb"),
        ("description", "a\u2028b"),
        ("description", "e" + "\u0301" * 31),
        ("contact_email", "a\u200b@example.org"),
    ):
        with pytest.raises(validate.Rejected):
            validate.check(good | {field: value}, "ab" * 16, "p")
    assert validate.check(good | {"description": "\u0915\u094d\u200d\u0937"}, "ab" * 16, "p")


# -- never a 5xx -------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


hostile_text = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=600).map(b64),
    st.integers(1, 1500).map(lambda n: b64(b"[" * n)),
    st.integers(1, 1500).map(lambda n: b64(b'{"a":' * n)),
    st.sampled_from(["null", "[]", "{}", '"x"', "1e999", '{"algorithm": 1}', '{"number": "x", "salt": null}']).map(
        lambda s: b64(s.encode())
    ),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=", max_size=400),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pow=hostile_text, token=hostile_text)
def test_hostile_proof_of_work_and_token_encodings_are_never_a_5xx(client, pow, token):
    r = post(client, answers(token, iwf_pow=pow))
    assert r.status_code == 400, r.status_code
    page = form_page(client)
    r = post(client, valid_answers(page, iwf_pow=pow))
    assert r.status_code == 200, "a bad proof-of-work only makes the report weigh more"


# -- nothing typed is lost -----------------------------------------------------------


KEPT = {"urls": "https://example.com/kept-page", "description": "words I typed", "contact_email": "me@example.org"}


def assert_answers_kept(body: str) -> None:
    body = html.unescape(body)
    for value in KEPT.values():
        assert value in body
    assert 'name="iwf_token"' in body and 'id="iwf-reference"' not in body


def test_please_wait_shows_the_form_again_with_the_answers(make_app, tmp_path):
    client = make_app(IWF_WIDGET_RATE_LIMIT="4/hour").test_client()
    assert report(client).status_code == 200
    r = report(client, lang="fr", **KEPT)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    body = r.get_data(as_text=True)
    assert 'lang="fr"' in body
    assert_answers_kept(body)
    assert "Merci d'attendre avant d'envoyer votre signalement" in html.unescape(body)
    assert len(stored(tmp_path)) == 1


def test_could_not_be_saved_shows_the_form_again_with_the_answers_and_logs_the_cause(app, client, tmp_path, caplog):
    # A real fault: the writers' lock file of the SQLite outbox cannot be created.
    (tmp_path / "outbox.db-writers").mkdir()
    with caplog.at_level(logging.ERROR, logger="iwf_widget"):
        r = report(client, lang="fr", **KEPT)
    assert r.status_code == 503
    body = r.get_data(as_text=True)
    assert 'lang="fr"' in body
    assert_answers_kept(body)
    assert "Votre signalement n'a pas pu être enregistré" in html.unescape(body)
    messages = [rec.getMessage() for rec in caplog.records]
    assert "outbox write failed: IsADirectoryError: Is a directory" in messages  # once, with its cause
    assert not any("kept-page" in m or "words I typed" in m for m in messages)
    assert stored(tmp_path) == []
    (tmp_path / "outbox.db-writers").rmdir()
    resent = post(client, valid_answers(body, **KEPT), "fr")
    assert resent.status_code == 200, "the form shown again can simply be sent again"
    assert len(stored(tmp_path)) == 1


def test_a_failure_after_the_report_is_stored_still_thanks_the_person(app, client, tmp_path):
    def broken() -> None:
        raise OSError("housekeeping failed")

    app.extensions["iwf_widget"].submissions.stored = broken
    r = report(client)
    assert r.status_code == 200 and 'id="iwf-reference"' in r.get_data(as_text=True)
    assert len(stored(tmp_path)) == 1


# -- minute precision ----------------------------------------------------------------


def test_spent_token_expiries_are_stored_to_the_minute(client, tmp_path):
    assert report(client).status_code == 200
    assert post(client, valid_answers(form_page(client), homepage="http://spam.example")).status_code == 400
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        expiries = [row[0] for row in db.execute("select expires from iwf_spent_tokens")]
    assert len(expiries) == 2
    assert all(value == int(value) and int(value) % 60 == 0 for value in expiries)
    assert all(value >= time.time() + 7200 - 60 for value in expiries), "rounded up, never down"


field_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(categories=["Mn", "Me", "Cf", "Cc", "Zl", "Zp", "Cs"]), max_size=200),
    st.sampled_from(["images", "website", "https://example.com/", "a@example.org", ""]),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(st.sampled_from(["urls", "content_kind", "where_seen", "description", "contact_email"]), field_text)
)
def test_any_field_values_are_answered_200_or_400_never_5xx(client, fields):
    fields = {k: v.encode("utf-8", "replace").decode("utf-8") for k, v in fields.items()}  # HTTP carries no surrogates
    r = post(client, valid_answers(form_page(client), **fields))
    assert r.status_code in (200, 400), r.status_code


def nonstarter_runs_by_definition(text: str) -> int:
    """The longest run of non-starters in the NFKD form, as UAX #15 counts them."""
    longest = run = 0
    for ch in unicodedata.normalize("NFKD", text):
        run = run + 1 if unicodedata.combining(ch) else 0
        longest = max(longest, run)
    return longest


@given(
    st.text(
        alphabet=st.one_of(st.characters(categories=["Mn", "Mc", "Me"]), st.sampled_from("aé\u0344ǖ\u1e09 ")),
        max_size=80,
    )
)
def test_stream_safe_check_agrees_with_the_definition(text):
    assert is_stream_safe(text, 3) == (nonstarter_runs_by_definition(text) <= 3)


@given(st.text(max_size=200))
@example("e\u200b\u0301")  # a hidden character between a letter and its accent
def test_cleaned_text_has_no_hidden_characters_and_cleaning_twice_changes_nothing(text):
    from iwf_widget.report import clean_text, has_hidden_characters

    text = text.encode("utf-8", "replace").decode("utf-8")
    cleaned = clean_text(text)
    assert not has_hidden_characters(cleaned)
    assert clean_text(cleaned) == cleaned


def test_an_outbox_that_cannot_even_be_read_gives_the_503_form_or_the_refusal_never_a_500(app, client, tmp_path):
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        db.execute("drop table iwf_spent_tokens")
        db.execute("drop table iwf_outbox")
    r = report(client, lang="fr", **KEPT)
    assert r.status_code == 503
    assert_answers_kept(r.get_data(as_text=True))
    assert report(client, urls="javascript:x").status_code == 400
    assert report(client, homepage="http://spam.example").status_code == 400
