"""Rate limits and proof-of-work: floods are slowed without tracking anyone."""

from __future__ import annotations

import base64
import html
import json
import re
import sqlite3
import time

import altcha
from support.partner import valid_answers

from iwf_widget.ratelimit import ClientKeys, client_address
from iwf_widget.work import CALM_PER_MINUTE, ProofOfWork


def solved(page: str) -> str:
    """The proof-of-work answer a browser's worker would find for this page."""
    ch = json.loads(html.unescape(re.search(r'data-iwf-pow="([^"]+)"', page).group(1)))
    solution = altcha.solve_challenge_v1(ch["challenge"], ch["salt"], ch["algorithm"], ch["maxNumber"])
    payload = {k: ch[k] for k in ("algorithm", "challenge", "salt", "signature")}
    payload["number"] = solution.number
    return base64.b64encode(json.dumps(payload).encode()).decode()


def stored(tmp_path) -> int:
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        return db.execute("select count(*) from iwf_outbox").fetchone()[0]


def post(client, lang="en", address="198.51.100.7", work=True):
    page = client.get(f"/report/form?lang={lang}").get_data(as_text=True)
    data = valid_answers(page)
    if work:
        data["iwf_pow"] = solved(page)
    return client.post(f"/report/form?lang={lang}", data=data, environ_base={"REMOTE_ADDR": address})


def test_flood_from_one_client_gets_a_localized_429_while_another_gets_through(make_app, tmp_path):
    client = make_app(IWF_WIDGET_RATE_LIMIT="2/hour").test_client()
    assert post(client).status_code == 200
    assert post(client).status_code == 200
    r = post(client, lang="fr")
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    assert 'lang="fr"' in r.get_data(as_text=True)
    assert 'id="iwf-reference"' not in r.get_data(as_text=True)
    assert stored(tmp_path) == 2
    assert post(client, address="203.0.113.20").status_code == 200
    assert stored(tmp_path) == 3


def test_reports_without_proof_of_work_weigh_more(make_app, tmp_path):
    client = make_app(IWF_WIDGET_RATE_LIMIT="8/hour").test_client()
    assert post(client, work=False).status_code == 200
    assert post(client, work=False).status_code == 200
    assert post(client, work=False).status_code == 429
    other = "203.0.113.30"
    assert all(post(client, address=other).status_code == 200 for _ in range(8))
    assert post(client, address=other).status_code == 429


def test_proof_of_work_only_counts_for_the_form_it_was_served_with(make_app, tmp_path):
    client = make_app(IWF_WIDGET_RATE_LIMIT="4/hour").test_client()
    first = client.get("/report/form").get_data(as_text=True)
    work = solved(first)
    page = client.get("/report/form").get_data(as_text=True)
    r = client.post(
        "/report/form", data={**valid_answers(page), "iwf_pow": work}, environ_base={"REMOTE_ADDR": "198.51.100.7"}
    )
    assert r.status_code == 200, "the report still goes through..."
    assert post(client).status_code == 429, "...but it was counted as one without work"


def test_partner_wide_limit_caps_a_distributed_flood(make_app, tmp_path):
    client = make_app(IWF_WIDGET_RATE_LIMIT="off", IWF_WIDGET_PARTNER_RATE_LIMIT="3/minute").test_client()
    codes = [post(client, address=f"203.0.113.{i}").status_code for i in range(1, 5)]
    assert codes == [200, 200, 200, 429]


def test_client_keys_are_keyed_hashes_that_rotate():
    keys = ClientKeys(rotate_seconds=1)
    first = keys("198.51.100.7")
    assert "198.51.100.7" not in first and len(first) == 32
    assert keys("198.51.100.7") == first and keys("198.51.100.8") != first
    time.sleep(1.05)
    assert keys("198.51.100.7") != first, "a new period, a new key"


def test_limiter_storage_never_holds_the_address(make_app):
    app = make_app(IWF_WIDGET_RATE_LIMIT="5/hour")
    client = app.test_client()
    post(client, address="198.51.100.77")
    storage = app.extensions["iwf_widget"].limiter.strategy.storage
    dumped = repr(vars(storage))
    assert "198.51.100.77" not in dumped
    assert "iwf-client" in dumped, "the limiter did count the client"


def test_client_address_trusts_forwarded_for_only_behind_proxies():
    environ = {"HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.5, 10.0.0.2"}
    assert client_address(environ, "10.0.0.1", 0) == "10.0.0.1"
    assert client_address(environ, "10.0.0.1", 1) == "10.0.0.2"
    assert client_address(environ, "10.0.0.1", 2) == "203.0.113.5"
    assert client_address({}, "10.0.0.1", 1) == "10.0.0.1"


def test_difficulty_rises_under_load_and_stays_solvable():
    work = ProofOfWork("k" * 20, 600, base=1000)
    assert work.difficulty() == 1000
    for _ in range(CALM_PER_MINUTE * 3):
        work.note_submission()
    assert work.difficulty() == 4000
    ch = json.loads(work.challenge("tok"))
    assert ch["maxNumber"] == 4000
    solution = altcha.solve_challenge_v1(ch["challenge"], ch["salt"], ch["algorithm"], ch["maxNumber"])
    payload = base64.b64encode(
        json.dumps(
            {**{k: ch[k] for k in ("algorithm", "challenge", "salt", "signature")}, "number": solution.number}
        ).encode()
    ).decode()
    assert work.verify(payload, "tok")
    assert not work.verify(payload, "another-token")
    tampered = json.loads(base64.b64decode(payload))
    tampered["number"] += 1
    assert not work.verify(base64.b64encode(json.dumps(tampered).encode()).decode(), "tok")
