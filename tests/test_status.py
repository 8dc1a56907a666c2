"""Anonymous follow-up: with only the reference, a reporter learns what became of the report.

The partner keeps a keyed hash of each reference with a state and a day; the intake
records analysts' outcomes and hands each partner those of its own reports, signed; the
status page answers every language, without JavaScript and embedded, and cannot be used
to enumerate references.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
import statistics
import subprocess
import sys
import time
import typing as t

import altcha
import pytest
from markupsafe import escape
from support import browser as B
from support.partner import SIGNING_KEY, mistyped, partner_app, token_of, valid_answers
from support.procs import KEY, PARTNER, System, wait_until

from iwf_widget import i18n, protocol, reference
from iwf_widget.intake.app import create_app as intake_app
from iwf_widget.intake.store import Store
from iwf_widget.intake.validate import check
from iwf_widget.outbox import Outbox
from iwf_widget.status import StatusKeys

ADDRESS = "198.51.100.7"


def state_of(response: t.Any) -> str | None:
    found = re.search(r'data-iwf-status="([^"]+)"', response.get_data(as_text=True))
    return found.group(1) if found else None


def send_report(client: t.Any, lang: str = "en") -> str:
    page = client.get(f"/report/form?lang={lang}").get_data(as_text=True)
    answer = client.post(f"/report/form?lang={lang}", data=valid_answers(page))
    assert answer.status_code == 200
    found = re.search(r'id="iwf-reference"[^>]*>([^<]+)<', answer.get_data(as_text=True))
    assert found
    return found.group(1)


def solved(page: str) -> str:
    """The proof-of-work answer the page's worker would find."""
    import html

    ch = json.loads(html.unescape(re.search(r'data-iwf-pow="([^"]+)"', page).group(1)))
    solution = altcha.solve_challenge_v1(ch["challenge"], ch["salt"], ch["algorithm"], ch["maxNumber"])
    payload = {k: ch[k] for k in ("algorithm", "challenge", "salt", "signature")}
    payload["number"] = solution.number
    return base64.b64encode(json.dumps(payload).encode()).decode()


def look(client: t.Any, typed: str, lang: str = "en", work: bool = False, **over: str) -> t.Any:
    """GET the status page, then POST ``typed`` with its token (and its solved proof)."""
    page = client.get(f"/report/status?lang={lang}").get_data(as_text=True)
    data = {"iwf_token": token_of(page), "reference": typed}
    if work:
        data["iwf_pow"] = solved(page)
    data.update(over)
    return client.post(f"/report/status?lang={lang}", data=data, environ_base={"REMOTE_ADDR": ADDRESS})


def unknown_reference(n: int = 0) -> str:
    return reference.for_report(f"{n + 1:032x}")


# -- the partner's status page ---------------------------------------------------------------


@pytest.fixture
def app(make_app):
    return make_app(IWF_WIDGET_WORK_DIFFICULTY="0", IWF_WIDGET_STATUS_RATE_LIMIT="off")


def test_a_report_not_yet_forwarded_is_received_however_its_reference_is_typed(client):
    ref = send_report(client, "fr")
    compact = ref.replace("-", "")
    for typed in (ref, ref.lower(), f" {compact[:4]} {compact[4:8]} {compact[8:]} ", ref.replace("-", "\u2013")):
        answer = look(client, typed, "fr")
        body = answer.get_data(as_text=True)
        assert answer.status_code == 200 and state_of(answer) == "received", typed
        assert '<html lang="fr"' in body and f">{ref}</strong>" in body
        heading = i18n.translations("fr").gettext("Your report is saved and on its way")
        assert heading != "Your report is saved and on its way" and f"data-iwf-focus>{heading}</h1>" in body


def test_an_unknown_reference_is_unknown_and_only_a_mistyped_one_is_called_a_typo(client):
    ref = send_report(client)
    unknown = look(client, unknown_reference())
    assert unknown.status_code == 200 and state_of(unknown) == "unknown"
    assert "We found no report with this reference" in unknown.get_data(as_text=True)

    typo = look(client, mistyped(ref))
    body = typo.get_data(as_text=True)
    assert typo.status_code == 400 and state_of(typo) is None
    assert "This reference has a typing mistake" in body and 'aria-invalid="true"' in body
    assert f'value="{mistyped(ref)}"' in body, "what was typed stays in the box, to be corrected"

    junk = look(client, "hello")
    assert junk.status_code == 400 and state_of(junk) is None
    assert "This is not a reference" in junk.get_data(as_text=True)


def test_only_well_formed_lookups_are_charged_to_the_limit(make_app):
    client = make_app(IWF_WIDGET_WORK_DIFFICULTY="0", IWF_WIDGET_STATUS_RATE_LIMIT="3/hour").test_client()
    ref = send_report(client)
    for _ in range(10):
        assert look(client, mistyped(ref)).status_code == 400
        assert look(client, "not a reference").status_code == 400
        assert look(client, ref, iwf_token="forged").status_code == 400
    for _ in range(3):
        assert state_of(look(client, ref)) == "received"
    refused = look(client, ref)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Please wait before checking again" in refused.get_data(as_text=True)
    assert state_of(refused) is None


def test_checks_are_counted_per_day_as_answered_or_asked_to_wait_and_nothing_else(make_app, tmp_path):
    client = make_app(IWF_WIDGET_WORK_DIFFICULTY="0", IWF_WIDGET_STATUS_RATE_LIMIT="2/hour").test_client()
    ref = send_report(client)
    assert [look(client, typed).status_code for typed in (ref, unknown_reference(), mistyped(ref), "hello")] == [
        200,
        200,
        400,
        400,
    ]
    assert look(client, ref).status_code == 429
    outbox = Outbox(f"sqlite:///{tmp_path}/outbox.db", create=False)
    try:
        counts = {name: n for _, name, n in outbox.daily() if name.startswith("lookup:")}
        with pytest.raises(ValueError):
            outbox.count_lookup(ref)
    finally:
        outbox.close()
    assert counts == {"lookup:answered": 2, "lookup:limited": 1}, "typing mistakes are corrected and sent again"


def test_lookups_without_a_genuine_token_or_with_a_borrowed_proof_are_refused_and_not_charged(make_app):
    # One lookup an hour with a proof: any refusal that charged would leave none for the last one.
    client = make_app(IWF_WIDGET_STATUS_RATE_LIMIT="1/hour").test_client()
    ref = send_report(client)
    page = client.get("/report/status").get_data(as_text=True)
    form_page = client.get("/report/form").get_data(as_text=True)
    other = client.get("/report/status").get_data(as_text=True)
    attempts = {
        "no token": {"reference": ref},
        "a report form's token": {"iwf_token": token_of(form_page), "reference": ref},
        "a token for another language": {"iwf_token": token_of(client.get("/report/status?lang=fr").text)},
        "another page's proof": {"iwf_token": token_of(page), "reference": ref, "iwf_pow": solved(other)},
        "a forged proof": {"iwf_token": token_of(page), "reference": ref, "iwf_pow": "e30="},
    }
    for what, data in attempts.items():
        data.setdefault("reference", ref)
        refused = client.post("/report/status", data=data, environ_base={"REMOTE_ADDR": ADDRESS})
        assert refused.status_code == 400 and state_of(refused) is None, what
        assert "Not checked yet" in refused.get_data(as_text=True), what
    answer = client.post(
        "/report/status",
        data={"iwf_token": token_of(page), "reference": ref, "iwf_pow": solved(page)},
        environ_base={"REMOTE_ADDR": ADDRESS},
    )
    assert state_of(answer) == "received"
    again = client.post(
        "/report/status", data={"iwf_token": token_of(page), "reference": ref}, environ_base={"REMOTE_ADDR": ADDRESS}
    )
    assert again.status_code == 400 and state_of(again) is None, "a lookup token is used once"


def test_a_lookup_without_javascript_costs_more_than_one_with_its_proof(make_app):
    client = make_app(IWF_WIDGET_STATUS_RATE_LIMIT="4/hour").test_client()
    ref = send_report(client)
    assert state_of(look(client, ref, work=False)) == "received"  # costs 4: the hour's budget
    assert look(client, ref, work=True).status_code == 429
    fresh = make_app(IWF_WIDGET_STATUS_RATE_LIMIT="4/hour").test_client()  # a new process: new counters
    for _ in range(4):
        assert state_of(look(fresh, ref, work=True)) == "received"
    assert look(fresh, ref, work=True).status_code == 429


def test_the_partner_keeps_only_a_keyed_hash_a_state_and_a_day(client, tmp_path):
    ref = send_report(client)
    report_id = sqlite3.connect(tmp_path / "outbox.db").execute("SELECT id FROM iwf_outbox").fetchone()[0]
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        columns = [c[1] for c in db.execute("PRAGMA table_info(iwf_report_status)")]
        rows = db.execute("SELECT key, state, day FROM iwf_report_status").fetchall()
    assert columns == ["key", "state", "day"]
    ((key, state, day),) = rows
    assert state == "received" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", day)
    compact = ref.replace("-", "")
    plain = {compact, ref, report_id, hashlib.sha256(compact.encode()).hexdigest()}
    assert key not in plain and not any(p in key for p in (compact, report_id))
    assert key in StatusKeys([SIGNING_KEY]).for_report(report_id)


def test_statuses_are_forgotten_status_days_after_their_last_change(tmp_path):
    outbox = Outbox(f"sqlite:///{tmp_path}/outbox.db")
    keys = StatusKeys([SIGNING_KEY])
    ids = [f"{n:032x}" for n in range(2)]
    for report_id in ids:
        outbox.accept(report_id, "p", b"sealed", report_id, time.time() + 60, status_key=keys.for_report(report_id)[0])
    # The second moves on 30 days later: its retention starts again.
    later = time.time() + 30 * 86400
    outbox.record_outcomes([(keys.for_report(ids[1]), "duplicate", time.strftime("%Y-%m-%d", time.gmtime(later)))], 7)
    assert outbox.purge_statuses(90, now=time.time() + 89 * 86400) == 0
    assert outbox.purge_statuses(90, now=time.time() + 91 * 86400) == 1
    assert outbox.status(keys.for_report(ids[0])) is None
    assert outbox.status(keys.for_report(ids[1]))[0] == "duplicate"
    assert outbox.purge_statuses(90, now=time.time() + 121 * 86400) == 1
    assert outbox.outcomes_cursor() == 7
    outbox.close()


def test_a_status_written_before_a_key_rotation_is_still_found(make_app, tmp_path):
    old = make_app(IWF_WIDGET_WORK_DIFFICULTY="0", IWF_WIDGET_STATUS_RATE_LIMIT="off").test_client()
    ref = send_report(old)
    rotated = make_app(
        IWF_WIDGET_WORK_DIFFICULTY="0",
        IWF_WIDGET_STATUS_RATE_LIMIT="off",
        IWF_WIDGET_SIGNING_KEY=f"new-signing-key-0123456789abcdef,{SIGNING_KEY}",
    ).test_client()
    assert state_of(look(rotated, ref)) == "received"


def test_lookup_time_does_not_tell_a_known_reference_from_an_unknown_one(client):
    known = [send_report(client) for _ in range(5)]
    unknown = [unknown_reference(n) for n in range(5)]
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for round_ in range(40):
        for kind, refs in (
            (("known", known), ("unknown", unknown)) if round_ % 2 else (("unknown", unknown), ("known", known))
        ):
            ref = refs[round_ % 5]
            page = client.get("/report/status").get_data(as_text=True)
            data = {"iwf_token": token_of(page), "reference": ref}
            started = time.perf_counter()
            answer = client.post("/report/status", data=data)
            timings[kind].append(time.perf_counter() - started)
            assert answer.status_code == 200
    known_ms, unknown_ms = (statistics.median(timings[k]) * 1000 for k in ("known", "unknown"))
    # Both are one indexed read and one page: alike within this machine's noise.
    assert abs(known_ms - unknown_ms) < max(2.0, 0.25 * min(known_ms, unknown_ms)), (known_ms, unknown_ms)


def test_known_and_unknown_answers_have_the_same_shape(client):
    ref = send_report(client)
    known, unknown = look(client, ref), look(client, unknown_reference())
    assert known.status_code == unknown.status_code == 200
    assert known.headers["Content-Type"] == unknown.headers["Content-Type"]
    assert sorted(known.headers.keys()) == sorted(unknown.headers.keys())
    assert "Set-Cookie" not in known.headers


def test_the_status_page_may_be_framed_by_the_partners_origins_only(make_app):
    client = make_app(IWF_WIDGET_ALLOWED_ORIGINS="https://partner.example").test_client()
    for response in (client.get("/report/status"), look(client, unknown_reference())):
        policy = response.headers["Content-Security-Policy"]
        assert policy.endswith("frame-ancestors https://partner.example")
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_the_thank_you_page_offers_the_status_page_and_the_partners_support(make_app):
    client = make_app(
        IWF_WIDGET_SUPPORT_TEXT="Talk to Childline on 0800 1111.",
        IWF_WIDGET_SUPPORT_TEXT_FR="Parlez-en au 119, gratuit, jour et nuit.",
    ).test_client()
    page = client.get("/report/form?lang=fr").get_data(as_text=True)
    french = client.post("/report/form?lang=fr", data=valid_answers(page)).get_data(as_text=True)
    assert 'href="/report/status?lang=fr"' in french
    assert "Parlez-en au <bdi" not in french and "Parlez-en au 119" in french
    page = client.get("/report/form?lang=en").get_data(as_text=True)
    english = client.post("/report/form?lang=en", data=valid_answers(page)).get_data(as_text=True)
    assert "Talk to Childline on" in english and "Check on your report" in english


# -- the intake's outcomes -----------------------------------------------------------------


OTHER, OTHER_KEY = "other-partner", "other-key-0123456789abcdef"


def intake_config(tmp_path, keypair, **over: str) -> dict[str, str]:
    return {
        "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db",
        "IWF_INTAKE_PRIVATE_KEY": keypair[0],
        "IWF_INTAKE_PARTNERS": json.dumps({PARTNER: [KEY], OTHER: [OTHER_KEY]}),
        **over,
    }


def stored_report(store: Store, partner: str, n: int) -> str:
    """Store report ``n`` of ``partner`` at the intake; its reference."""
    report_id = f"{n:032x}"
    data = {
        "v": 1,
        "id": report_id,
        "partner": partner,
        "locale": "fr",
        "created": int(time.time()) // 60 * 60,
        "urls": [f"https://example.com/{n}"],
        "content_kind": "images",
        "where_seen": "website",
        "description": "",
        "contact_email": "",
    }
    store.put(partner, [check(data, report_id, partner)])
    return reference.for_report(report_id)


def fetch(client: t.Any, partner: str, key: str, since: int = 0, body_partner: str | None = None) -> t.Any:
    body = protocol.encode_outcomes_request(body_partner or partner, since)
    return client.post(protocol.OUTCOMES_PATH, data=body, headers=protocol.request_headers(partner, key, body))


def test_a_partner_fetches_the_outcomes_of_its_own_reports_only(tmp_path, keypair):
    app = intake_app(intake_config(tmp_path, keypair))
    store = app.extensions["iwf_intake"].store
    mine = [stored_report(store, PARTNER, n) for n in (1, 2)]
    theirs = stored_report(store, OTHER, 3)
    from iwf_widget.intake.outcomes import record

    record(store, mine[0], "removal_requested")
    record(store, theirs, "not_found")
    record(store, mine[1], "duplicate")
    client = app.test_client()

    body = protocol.encode_outcomes_request(PARTNER, 0)
    headers = protocol.request_headers(PARTNER, KEY, body)
    answer = client.post(protocol.OUTCOMES_PATH, data=body, headers=headers)
    assert answer.status_code == 200
    # Signed by the intake, for this very request: the partner records nothing else.
    protocol.verify_response(dict(answer.headers), answer.data, PARTNER, [KEY], headers[protocol.SIGNATURE_HEADER])
    items, cursor, more = protocol.decode_outcomes(answer.data)
    assert [(o.id, o.outcome) for o in items] == [(f"{1:032x}", "removal_requested"), (f"{2:032x}", "duplicate")]
    assert not more and cursor == items[-1].seq
    # From the cursor on: nothing new; a changed outcome comes again, with a new number.
    assert protocol.decode_outcomes(fetch(client, PARTNER, KEY, cursor).data)[0] == []
    record(store, mine[0], "not_found")
    (changed,), _, _ = protocol.decode_outcomes(fetch(client, PARTNER, KEY, cursor).data)
    assert (changed.id, changed.outcome) == (f"{1:032x}", "not_found") and changed.seq > cursor

    # Signed by this partner, the body naming the other: refused. Signed with the wrong key: refused.
    assert fetch(client, PARTNER, KEY, body_partner=OTHER).status_code == 400
    assert fetch(client, OTHER, KEY).status_code == 401
    other_items = protocol.decode_outcomes(fetch(client, OTHER, OTHER_KEY).data)[0]
    assert [o.id for o in other_items] == [f"{3:032x}"]


def test_the_case_api_needs_its_token_and_records_by_reference(tmp_path, keypair):
    unset = intake_app(intake_config(tmp_path / "a", keypair)).test_client()
    (tmp_path / "a").mkdir(exist_ok=True)
    assert unset.post("/cases/outcome", json={}).status_code == 404

    app = intake_app(intake_config(tmp_path, keypair, IWF_INTAKE_CASES_TOKEN="case-token-0123456789"))
    store = app.extensions["iwf_intake"].store
    ref = stored_report(store, PARTNER, 5)
    client = app.test_client()
    good = {"reference": ref.lower(), "outcome": "outside_remit"}
    assert client.post("/cases/outcome", json=good).status_code == 401
    assert client.post("/cases/outcome", json=good, headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": "Bearer case-token-0123456789"}
    done = client.post("/cases/outcome", json=good, headers=auth)
    assert done.status_code == 200 and done.json == {"reference": ref, "partner": PARTNER, "outcome": "outside_remit"}
    assert store.outcome(PARTNER, f"{5:032x}")[0] == "outside_remit"
    typo = client.post("/cases/outcome", json={**good, "reference": mistyped(ref)}, headers=auth)
    assert typo.status_code == 400 and "mistyped" in typo.json["error"]
    assert client.post("/cases/outcome", json={**good, "outcome": "deleted"}, headers=auth).status_code == 400
    missing = client.post("/cases/outcome", json={**good, "reference": unknown_reference(40)}, headers=auth)
    assert missing.status_code == 404


def intake_outcome(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iwf_widget.cli", "intake-outcome", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_intake_outcome_checks_the_reference_and_records_the_outcome(tmp_path, keypair):
    import os

    store = Store(f"sqlite:///{tmp_path}/intake.db")
    ref = stored_report(store, PARTNER, 9)
    env = {**os.environ, **intake_config(tmp_path, keypair)}

    done = intake_outcome(env, ref.lower().replace("-", " "), "removal_requested")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{ref}: removal_requested (a report from {PARTNER})"
    assert store.outcome(PARTNER, f"{9:032x}")[0] == "removal_requested"

    typo = intake_outcome(env, mistyped(ref), "duplicate")
    assert typo.returncode == 1 and "mistyped" in typo.stderr and "Traceback" not in typo.stderr
    unknown = intake_outcome(env, unknown_reference(77), "duplicate")
    assert unknown.returncode == 1 and "no report" in unknown.stderr
    wrong = intake_outcome(env, ref, "gone")
    assert wrong.returncode == 2 and "removal_requested" in wrong.stderr
    assert store.outcome(PARTNER, f"{9:032x}")[0] == "removal_requested"
    store.close()


# -- end to end, on real servers ---------------------------------------------------------------


@pytest.fixture
def system(tmp_path, keypair):
    s = System(
        tmp_path,
        keypair,
        IWF_WIDGET_OUTCOMES_INTERVAL="0.2",
        IWF_WIDGET_WORK_DIFFICULTY="0",
        IWF_WIDGET_LOCALES="en,fr,ar",
    )
    yield s
    s.stop_all()


def status_over_http(system: System, ref: str, lang: str) -> tuple[str | None, str]:
    page = system.http.get(f"{system.widget_url}/status", params={"lang": lang}).text
    answer = system.http.post(
        f"{system.widget_url}/status",
        params={"lang": lang},
        data={"iwf_token": token_of(page), "reference": ref},
    )
    found = re.search(r'data-iwf-status="([^"]+)"', answer.text)
    return (found.group(1) if found else None), answer.text


def test_a_french_report_is_delivered_then_shows_its_outcome_in_french_and_arabic(system):
    system.start_widget()
    ref = system.submit(lang="fr")
    assert status_over_http(system, ref, "fr")[0] == "received"  # the intake is not running yet

    system.start_intake()
    system.wait_for_reports(1)
    wait_until(lambda: status_over_http(system, ref, "fr")[0] == "delivered", timeout=20)

    done = intake_outcome(system.intake_env, ref, "removal_requested")
    assert done.returncode == 0, done.stderr
    # One forwarding cycle (IWF_WIDGET_OUTCOMES_INTERVAL) later, in both languages.
    wait_until(lambda: status_over_http(system, ref, "fr")[0] == "removal_requested", timeout=10)
    state, french = status_over_http(system, ref, "fr")
    heading = i18n.translations("fr").gettext("The hotline is having the images removed")
    assert '<html lang="fr"' in french and f">{heading}</h1>" in french
    state, arabic = status_over_http(system, ref, "ar")
    assert state == "removal_requested" and '<html lang="ar" dir="rtl"' in arabic
    assert f'dir="ltr">{ref}</strong>' in arabic
    # The intake learns nothing of lookups: no reference reaches it or its log.
    assert ref not in (system.tmp / "intake.log").read_text()


def test_an_older_intake_without_outcomes_does_not_hold_back_reports(tmp_path, keypair):
    """A partner upgraded before its intake: the outcomes request is refused, reports still go."""
    s = System(tmp_path, keypair, IWF_WIDGET_OUTCOMES_INTERVAL="0.05", IWF_WIDGET_WORK_DIFFICULTY="0")
    try:
        s.start_intake(faulty=True)
        s.set_intake_mode("no_outcomes")  # answers /v1/outcomes with a plain 404, as before it existed
        s.start_widget()
        refs = [s.submit() for _ in range(3)]
        rows = s.wait_for_reports(3)
        assert sorted(r["reference"] for r in rows) == sorted(refs)
        wait_until(lambda: status_over_http(s, refs[0], "en")[0] == "delivered", timeout=10)
        log = (tmp_path / "widget.log").read_text()
        assert log.count("fetching outcomes failed") == 1, "said once a minute, not once a pass"
    finally:
        s.stop_all()


# -- in Chromium -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sites(tmp_path_factory, keypair) -> t.Iterator[tuple[str, str, t.Any]]:
    tmp = tmp_path_factory.mktemp("status")
    folder = tmp / "site"
    folder.mkdir()
    host_port = B.free_port()
    host = f"http://127.0.0.1:{host_port}"
    app = partner_app(
        tmp,
        keypair[1],
        IWF_WIDGET_ALLOWED_ORIGINS=host,
        IWF_WIDGET_LOCALES="en,fr,ar",
        IWF_WIDGET_STATUS_RATE_LIMIT="off",
    )
    widget_server = B.serve_wsgi(app)
    widget = f"{widget_server.origin}/report"
    for lang in ("fr", "ar"):
        body = f'<div data-iwf-report data-page="status" data-lang="{lang}"></div>'
        html = B.page_html(body, lang=lang, dir="rtl" if lang == "ar" else "", title="Partner", widget=widget)
        (folder / f"status-{lang}.html").write_text(html, "utf-8")
    host_server = B.serve_site(folder, B.partner_csp(widget_server.origin), port=host_port)
    yield widget, host, app
    host_server.stop()
    widget_server.stop()


def need_axe() -> None:
    if not B.AXE.exists():
        if B.in_ci():
            pytest.fail("tests/node_modules is missing: run npm ci in tests/")
        pytest.skip("axe-core is not installed (npm ci in tests/)")


def reference_in(app: t.Any) -> str:
    return send_report(app.test_client(), "fr")


def test_the_status_page_works_without_javascript(browser, sites):
    widget, _, app = sites
    ref = reference_in(app)
    need_axe()
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(f"{widget}/status?lang=fr")
    page.fill("#reference", mistyped(ref))
    page.click("button[type=submit]")
    assert page.locator("#reference-error").is_visible()
    page.fill("#reference", ref)
    page.click("button[type=submit]")
    assert page.get_attribute("[data-iwf-status]", "data-iwf-status") == "received"
    assert page.locator("#iwf-status-title").is_visible()
    ctx.close()
    # axe-core needs script: the same two pages, rendered without it, checked with it.
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{widget}/status?lang=ar")
    found = {"form": B.axe_violations(page)}
    page.fill("#reference", ref)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-iwf-status]")
    found["answer"] = B.axe_violations(page)
    ctx.close()
    found = {where: v for where, v in found.items() if v}
    assert not found, B.explain(found)


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_status_page_embedded_answers_in_place(browser, sites, lang):
    widget, host, app = sites
    ref = reference_in(app)
    need_axe()
    ctx = browser.new_context(viewport={"width": 360, "height": 740})
    page = ctx.new_page()
    page.goto(f"{host}/status-{lang}.html")
    frame = page.wait_for_selector("iframe.iwf-report-frame").content_frame()
    frame.wait_for_selector("#reference")
    assert frame.evaluate("document.documentElement.lang") == lang
    history = page.evaluate("history.length")
    found = {"partner page": B.axe_violations(page), "status form": B.axe_violations(frame)}
    frame.fill("#reference", ref.lower())
    frame.click("button[type=submit]")
    frame.wait_for_selector("[data-iwf-status]")
    assert frame.get_attribute("[data-iwf-status]", "data-iwf-status") == "received"
    assert page.evaluate("history.length") == history, "the answer came in place"
    found["status answer"] = B.axe_violations(frame)
    ctx.close()
    found = {where: v for where, v in found.items() if v}
    assert not found, B.explain(found)


def test_an_intake_answer_for_outcomes_is_verified_before_anything_is_recorded(tmp_path, keypair):
    """A forged outcomes answer (not signed by the intake) changes no status."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Forger(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            items = [protocol.Outcome(1, f"{1:032x}", "removal_requested", "2026-12-01")]
            body = protocol.encode_outcomes(items, 0, False)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header(protocol.TIMESTAMP_HEADER, str(int(time.time())))
            self.send_header(protocol.SIGNATURE_HEADER, "0" * 64)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: t.Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Forger)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from iwf_widget.forwarder import Forwarder, OutcomesUnavailable
    from iwf_widget.settings import Settings

    settings = Settings.from_mapping(
        {
            "IWF_WIDGET_PARTNER_ID": PARTNER,
            "IWF_WIDGET_INTAKE_URL": f"http://127.0.0.1:{server.server_port}",
            "IWF_WIDGET_SIGNING_KEY": KEY,
            "IWF_WIDGET_INTAKE_PUBLIC_KEY": keypair[1],
            "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{tmp_path}/outbox.db",
        },
        str(tmp_path),
    )
    outbox = Outbox(settings.outbox_url)
    keys = StatusKeys(settings.signing_keys)
    outbox.accept(f"{1:032x}", PARTNER, b"x", "n1", time.time() + 60, status_key=keys.for_report(f"{1:032x}")[0])
    forwarder = Forwarder(settings, outbox)
    try:
        with pytest.raises(OutcomesUnavailable):
            forwarder.fetch_outcomes()
        assert outbox.status(keys.for_report(f"{1:032x}"))[0] == "received"
        assert outbox.outcomes_cursor() == 0
    finally:
        forwarder.stop()
        outbox.close()
        server.shutdown()


def test_a_lookup_token_is_used_once_across_processes_sharing_the_outbox(make_app):
    """Each app is a process of its own (its own memory); the spent token is in the shared outbox."""
    first, second = make_app().test_client(), make_app().test_client()
    ref = send_report(first)
    page = first.get("/report/status").get_data(as_text=True)
    data = {"iwf_token": token_of(page), "reference": ref}
    assert state_of(first.post("/report/status", data=data, environ_base={"REMOTE_ADDR": ADDRESS})) == "received"
    again = second.post("/report/status", data=data, environ_base={"REMOTE_ADDR": ADDRESS})
    assert again.status_code == 400 and state_of(again) is None
    assert "Not checked yet" in again.get_data(as_text=True)


def test_a_lookup_while_the_outbox_fails_says_so_in_the_persons_language_and_keeps_the_reference(client, tmp_path):
    ref = send_report(client)
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        db.execute(
            "CREATE TRIGGER full BEFORE INSERT ON iwf_spent_tokens"
            " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    failed = look(client, ref, lang="fr")
    text = failed.get_data(as_text=True)
    french = i18n.translations("fr")
    expected = french.gettext(
        "We cannot check references at the moment. This does not affect your report. Please try again in a few minutes."
    )
    assert expected.startswith("Pour le moment") and str(escape(expected)) in text
    assert str(escape(french.gettext("Not checked yet"))) in text
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "60"
    assert state_of(failed) is None and f'value="{ref}"' in text, "what was typed is kept"
    assert 'name="iwf_token"' in text, "a fresh token: pressing Check again works"
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        db.execute("DROP TRIGGER full")
    assert state_of(look(client, ref, lang="fr")) == "received"
