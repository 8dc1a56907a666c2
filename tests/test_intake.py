"""The reference intake trusts nothing: forged, stale, misdirected, replayed and malformed batches.

Requests are built by hand, byte for byte as ``docs/protocol.md`` describes
them, and sent to a real ``iwf-widget intake`` process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import sqlite3
import time

import httpx
import pytest
from support.procs import KEY, PARTNER, System

from iwf_widget import protocol
from iwf_widget.sealing import Sealer, generate_keypair

OTHER = "other-partner"
OTHER_KEY = "other-key-0123456789abcdef"


@pytest.fixture(scope="module")
def intake(tmp_path_factory, keypair):
    s = System(tmp_path_factory.mktemp("intake"), keypair)
    s.start_intake()
    yield s
    s.stop_all()


def report(rid: str, partner: str = PARTNER, **over) -> dict:
    data = {
        "v": 1,
        "id": rid,
        "partner": partner,
        "locale": "fr",
        "created": int(time.time()) // 60 * 60,
        "urls": [f"https://example.com/{rid}"],
        "content_kind": "videos",
        "where_seen": "forum",
        "description": "sur un forum",
        "contact_email": "",
    }
    data.update(over)
    return data


def body_of(reports: list[tuple[str, bytes]], partner: str = PARTNER, **over) -> bytes:
    data = {
        "v": 1,
        "partner": partner,
        "reports": [{"id": rid, "sealed": base64.b64encode(sealed).decode()} for rid, sealed in reports],
    }
    data.update(over)
    return json.dumps(data).encode()


def signed(body: bytes, partner: str = PARTNER, key: str = KEY, timestamp: int | None = None) -> dict[str, str]:
    """The three headers, computed as the protocol document says (not through the library)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(key.encode(), f"v1\n{partner}\n{ts}\n".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-IWF-Partner": partner, "X-IWF-Timestamp": ts, "X-IWF-Signature": mac}


def post(intake: System, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{intake.intake_url}/v1/reports", content=body, headers=headers, timeout=30)


def rid(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture(scope="module")
def stored(intake, keypair):
    """Three reports the intake accepted, and the exact request that carried them."""
    sealer = Sealer(keypair[1])
    body = body_of([(rid(i), sealer.seal(report(rid(i)))) for i in range(1, 4)])
    headers = signed(body)
    response = post(intake, body, headers)
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["accepted"] * 3
    before = intake.export()
    assert len(before) == 3
    return body, headers, before


def unchanged(intake: System, stored) -> bool:
    return intake.export() == stored[2]


def test_replayed_batch_gets_its_first_answer_again_and_stores_nothing(intake, stored):
    body, headers, _ = stored
    first = post(intake, body, headers)
    again = post(intake, body, headers)
    assert first.status_code == again.status_code == 200
    # The exact signed answer the request got the first time: the reports are held.
    assert [r["status"] for r in again.json()["results"]] == ["accepted"] * 3
    assert again.content == first.content
    assert again.headers["X-IWF-Signature"] == first.headers["X-IWF-Signature"]
    protocol.verify_response(again.headers, again.content, PARTNER, [KEY], headers["X-IWF-Signature"])
    assert unchanged(intake, stored)


def test_unsigned_and_forged_batches_are_refused(intake, stored, keypair):
    sealer = Sealer(keypair[1])
    body = body_of([(rid(10), sealer.seal(report(rid(10))))])
    good = signed(body)
    attempts = [
        {"Content-Type": "application/json"},  # unsigned
        {**good, "X-IWF-Signature": "0" * 64},  # forged
        {**good, "X-IWF-Signature": good["X-IWF-Signature"][:-1]},  # truncated
        signed(body, key="a-guessed-key-0123456789abcdef"),  # wrong key
        signed(body, partner="nobody-we-know"),  # unknown partner
    ]
    for headers in attempts:
        response = post(intake, body, headers)
        assert response.status_code == 401, headers
        assert "error" in response.json()
    # The signature covers the body: the same headers on another body do not verify.
    assert post(intake, body + b" ", good).status_code == 401
    assert unchanged(intake, stored)


def test_stale_and_future_timestamps_are_refused(intake, stored, keypair):
    sealer = Sealer(keypair[1])
    body = body_of([(rid(11), sealer.seal(report(rid(11))))])
    now = int(time.time())
    for ts in (now - protocol.MAX_SKEW - 5, now + protocol.MAX_SKEW + 5, 0):
        response = post(intake, body, signed(body, timestamp=ts))
        assert response.status_code == 401, ts
    assert post(intake, body, {**signed(body), "X-IWF-Timestamp": "yesterday"}).status_code == 401
    assert unchanged(intake, stored)


def test_wrong_partner_is_refused_or_rejected(intake, stored, keypair):
    sealer = Sealer(keypair[1])
    mine = [(rid(12), sealer.seal(report(rid(12))))]
    # Signed with another partner's key while claiming to be this partner.
    body = body_of(mine)
    assert post(intake, body, signed(body, key=OTHER_KEY)).status_code == 401
    # The body names another partner than the signature.
    body = body_of(mine, partner=OTHER)
    assert post(intake, body, signed(body)).status_code == 400
    # Another partner, properly signed, forwards reports made for this partner.
    body = body_of(mine, partner=OTHER)
    response = post(intake, body, signed(body, partner=OTHER, key=OTHER_KEY))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected"]
    assert "another partner" in results[0]["reason"]
    assert unchanged(intake, stored)


def test_two_partners_may_use_the_same_report_id_and_a_replay_stores_once(tmp_path, keypair):
    s = System(tmp_path, keypair)
    s.start_intake()
    try:
        sealer = Sealer(keypair[1])
        answers = []
        for partner, key in ((PARTNER, KEY), (OTHER, OTHER_KEY), (PARTNER, KEY)):
            body = body_of([(rid(99), sealer.seal(report(rid(99), partner=partner)))], partner=partner)
            response = post(s, body, signed(body, partner=partner, key=key))
            assert response.status_code == 200, response.text
            answers += [r["status"] for r in response.json()["results"]]
        assert answers == ["accepted", "accepted", "duplicate"]  # both stored; the replay stored once
        stored = s.export()
        assert sorted(r["partner"] for r in stored) == sorted([PARTNER, OTHER])
        assert {r["id"] for r in stored} == {rid(99)}
    finally:
        s.stop_all()


def test_malformed_batches_are_400(intake, stored, keypair):
    sealer = Sealer(keypair[1])
    one = (rid(13), sealer.seal(report(rid(13))))
    bodies = [
        b"not json",
        b"[]",
        body_of([one], v=2),
        body_of([]),
        body_of([one, one]),  # the same id twice
        json.dumps({"v": 1, "partner": PARTNER, "reports": [{"id": "x" * 32, "sealed": "AAAA"}]}).encode(),
        json.dumps({"v": 1, "partner": PARTNER, "reports": [{"id": rid(13), "sealed": "***"}]}).encode(),
        json.dumps({"v": 1, "partner": PARTNER, "reports": [{"id": rid(13)}]}).encode(),
        json.dumps(
            {"v": 1, "partner": PARTNER, "reports": [{"id": rid(13), "sealed": "AAAA", "ip": "1.2.3.4"}]}
        ).encode(),
    ]
    for body in bodies:
        response = post(intake, body, signed(body))
        assert response.status_code == 400, body[:80]
        assert response.json()["error"]
    assert unchanged(intake, stored)


def test_oversized_batches_are_413_before_being_read(intake, stored):
    big = b"x" * (protocol.MAX_BODY + 1)
    assert post(intake, big, {"Content-Type": "application/json"}).status_code == 413
    assert post(intake, big, signed(big)).status_code == 413
    # Announcing a huge body is enough: the intake answers without waiting for it.
    with socket.create_connection(("127.0.0.1", intake.intake_port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/reports HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1073741824\r\n\r\n{"
        )
        status = int(sock.recv(200).split(b" ")[1])
    assert status == 413
    assert unchanged(intake, stored)


def test_reports_that_fail_the_intakes_own_checks_are_rejected_one_by_one(intake, stored, keypair):
    sealer = Sealer(keypair[1])
    cases = {
        rid(20): sealer.seal(report(rid(20), urls=["javascript:alert(1)"])),
        rid(21): sealer.seal(report(rid(21), urls=[])),
        rid(22): sealer.seal(report(rid(22), ip="203.0.113.9")),  # nothing extra is stored
        rid(23): sealer.seal(report(rid(23), locale="xx")),
        rid(24): sealer.seal(report(rid(24), content_kind="anything")),
        rid(25): sealer.seal(report(rid(25), id=rid(99))),  # sealed under another id
        rid(26): sealer.seal(report(rid(26), description="d" * 5000)),
        rid(27): sealer.seal(report(rid(27), contact_email="not an email")),
        rid(29): b"\x00" * 80,  # not a sealed box at all
        rid(30): Sealer(generate_keypair()[1]).seal(report(rid(30))),  # sealed to another intake's key
    }
    good = (rid(31), sealer.seal(report(rid(31), urls=["EXAMPLE.com/Path", "https://example.com/Path"])))
    body = body_of([*cases.items(), good])
    response = post(intake, body, signed(body))
    assert response.status_code == 200
    results = {r["id"]: r for r in response.json()["results"]}
    assert all(results[k]["status"] == "rejected" and results[k]["reason"] for k in cases)
    assert results[good[0]]["status"] == "accepted"
    rows = {r["id"]: r for r in intake.export()}
    assert set(rows) == {r["id"] for r in stored[2]} | {good[0]}
    # Addresses are normalized again at the intake, and de-duplicated.
    assert rows[good[0]]["urls"] == ["http://example.com/Path", "https://example.com/Path"]


def identifying(name: str) -> bool:
    words = set(name.lower().replace("-", "_").split("_"))
    return bool(
        words
        & {
            "ip",
            "addr",
            "address",
            "remote",
            "agent",
            "ua",
            "useragent",
            "referer",
            "referrer",
            "cookie",
            "cookies",
            "header",
            "headers",
            "session",
            "fingerprint",
        }
    )


def test_intake_stores_no_ip_user_agent_referrer_or_cookie(intake, stored):
    with sqlite3.connect(intake.tmp / "intake.db") as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns = {t: [c[1] for c in db.execute(f"PRAGMA table_info({t})")] for t in tables}
    assert set(columns["iwf_intake_reports"]) == {
        "id",
        "partner",
        "locale",
        "created",
        "received",
        "urls",
        "content_kind",
        "where_seen",
        "description",
        "contact_email",
        "reference",  # derived from the id: what the reporter was given
    }
    assert set(columns["iwf_intake_outcomes"]) == {"partner", "id", "outcome", "day", "seq"}
    for table, names in columns.items():
        assert not [n for n in names if identifying(n)], table
    for row in intake.export():
        assert not [k for k in row if identifying(k)]


def test_answers_are_signed_for_the_request_they_answer(intake, stored):
    body, headers, _ = stored
    response = post(intake, body, headers)
    protocol.verify_response(response.headers, response.content, PARTNER, [KEY], headers["X-IWF-Signature"])
    with pytest.raises(protocol.AuthError):  # not an answer to another request
        protocol.verify_response(response.headers, response.content, PARTNER, [KEY], "f" * 64)
    with pytest.raises(protocol.AuthError):  # not a changed answer
        protocol.verify_response(
            response.headers,
            response.content.replace(b"accepted", b"rejected"),
            PARTNER,
            [KEY],
            headers["X-IWF-Signature"],
        )
    assert "set-cookie" not in response.headers


def test_healthz_answers_when_up(intake):
    response = httpx.get(f"{intake.intake_url}/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def sealed_raw(public: str, raw: bytes) -> bytes:
    """Any bytes in a sealed box to the intake's key, as a hostile partner could send."""
    from nacl.public import PublicKey, SealedBox

    return SealedBox(PublicKey(base64.b64decode(public))).encrypt(raw)


def test_no_sealed_report_can_turn_its_batch_into_a_5xx(intake, stored, keypair):
    sealer = Sealer(keypair[1])
    before = {r["id"] for r in intake.export()}
    good = report(rid(40))
    poison = {
        rid(41): sealed_raw(keypair[1], b"[" * 20000 + b"]" * 20000),  # nested past the parser's depth
        rid(42): sealed_raw(keypair[1], b'{"v": 1, "id": "' + b"\xff\xfe" * 10 + b'"}'),  # not UTF-8
        rid(43): sealed_raw(
            keypair[1],
            json.dumps({**report(rid(43)), "created": 0})
            .encode()
            .replace(b'"created": 0', b'"created": ' + b"9" * 20000),
        ),  # a huge number
        rid(44): sealed_raw(
            keypair[1],
            json.dumps({**report(rid(44)), "created": 0}).encode().replace(b'"created": 0', b'"created": 1e999'),
        ),  # infinity
        rid(45): sealer.seal(report(rid(45), urls={"a": 1}, locale=["fr"], content_kind={"x": [1]})),
        rid(46): sealer.seal(report(rid(46), description=5, contact_email=["a@example.org"])),
        rid(47): sealer.seal(report(rid(47), urls=[["https://example.com/"]], where_seen=None)),
        rid(48): sealed_raw(keypair[1], b"[1, 2, 3]"),  # not an object
        rid(49): os.urandom(200),  # bad ciphertext
        rid(50): sealer.seal(report(rid(50), urls=["https://example.com/" + "\u0316\u0301" * 9000])),
    }
    body = body_of([*poison.items(), (rid(40), sealer.seal(good))])
    response = post(intake, body, signed(body))
    assert response.status_code == 200, response.text
    results = {r["id"]: r for r in response.json()["results"]}
    assert all(results[k]["status"] == "rejected" and results[k]["reason"] for k in poison), results
    assert results[rid(40)]["status"] == "accepted"
    assert "too_long" in results[rid(50)]["reason"]  # measured before any normalization
    assert {r["id"] for r in intake.export()} == before | {rid(40)}


@pytest.mark.slow  # waits on real locks, workers or a large body: not in --fast
def test_a_batch_of_millions_of_tiny_values_is_refused_before_it_is_parsed(intake, stored):
    before = intake.export()
    for body in (
        json.dumps({"v": 1, "partner": PARTNER, "reports": [0] * 1_000_000}).encode(),
        json.dumps({"v": 1, "partner": PARTNER, "reports": [{}] * 500_000}).encode(),
        b'{"v": 1, "partner": "test-partner", "reports": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ):
        response = post(intake, body, signed(body))
        assert response.status_code == 400 and "at most" in response.json()["error"]
        # A refusal the partner can tell from a proxy's: signed, for this request, with its status.
        protocol.verify_response(
            response.headers, response.content, PARTNER, [KEY], response.request.headers["X-IWF-Signature"]
        )
        assert response.json()["status"] == 400
    assert intake.export() == before


def test_refusals_before_the_signature_is_checked_are_signed_with_each_of_the_partners_keys(intake, stored):
    body = b'{"v": 1}'
    headers = signed(body, timestamp=int(time.time()) - 3600)  # an hour slow
    response = post(intake, body, headers)
    assert response.status_code == 401 and response.json() == {
        "error": response.json()["error"],
        "status": 401,
        "cause": "clock",
    }
    protocol.verify_response(response.headers, response.content, PARTNER, [KEY], headers["X-IWF-Signature"])
    assert abs(int(response.headers["X-IWF-Timestamp"]) - time.time()) < 60  # the intake's own time
    # A partner the intake does not know gets a signed-looking refusal too, that nobody can verify.
    unknown = post(intake, body, signed(body, partner="nobody-we-know"))
    assert unknown.status_code == 401 and "X-IWF-Signature" in unknown.headers
    with pytest.raises(protocol.AuthError):
        protocol.verify_response(
            unknown.headers, unknown.content, "nobody-we-know", [KEY], unknown.request.headers["X-IWF-Signature"]
        )


def test_replays_and_retries_cost_a_partner_nothing_only_new_reports_count(tmp_path, keypair):
    limited = System(tmp_path, keypair)
    limited.intake_env["IWF_INTAKE_PARTNER_RATE_LIMIT"] = "5/hour"
    limited.start_intake()
    try:
        sealer = Sealer(keypair[1])
        three = [(rid(i), sealer.seal(report(rid(i)))) for i in range(60, 63)]
        body = body_of(three)
        headers = signed(body)
        first = post(limited, body, headers)
        assert [r["status"] for r in first.json()["results"]] == ["accepted"] * 3
        for _ in range(20):  # an observer replays the captured request within its window
            again = post(limited, body, headers)
            assert again.status_code == 200 and again.content == first.content
        for n in range(1, 6):  # the partner retries (a new signature each time): duplicates, not charged
            retry = post(limited, body, signed(body, timestamp=int(headers["X-IWF-Timestamp"]) - n))
            assert [r["status"] for r in retry.json()["results"]] == ["duplicate"] * 3
        two = body_of([(rid(i), sealer.seal(report(rid(i)))) for i in range(63, 65)])
        response = post(limited, two, signed(two))
        assert [r["status"] for r in response.json()["results"]] == ["accepted"] * 2  # 3 + 2 = 5: within
        one = body_of([(rid(65), sealer.seal(report(rid(65))))])
        over = post(limited, one, signed(one))
        assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
        # Retrying what it already holds still costs nothing, even at the limit.
        retried = post(limited, two, signed(two, timestamp=int(time.time()) - 30))
        assert [r["status"] for r in retried.json()["results"]] == ["duplicate"] * 2
        assert limited.held() == 5
    finally:
        limited.stop_all()
