"""Protocol v1 pieces both sides share: signatures, key rotation, batches, answers, settings."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

import pytest

from iwf_widget import protocol
from iwf_widget.forwarder import Forwarder
from iwf_widget.intake import IntakeSettings, create_app
from iwf_widget.outbox import Outbox
from iwf_widget.settings import ConfigError, Settings

OLD = "old-key-0123456789abcdef"
NEW = "new-key-0123456789abcdef"
NOW = 1_800_000_000


def test_signature_is_hmac_sha256_over_prefix_and_exact_body():
    body = b'{"v":1}'
    headers = protocol.request_headers("p", NEW, body, now=NOW)
    expected = hmac.new(NEW.encode(), b"v1\np\n1800000000\n" + body, hashlib.sha256).hexdigest()
    assert headers["X-IWF-Signature"] == expected
    assert headers["X-IWF-Timestamp"] == "1800000000"
    assert protocol.verify(headers, body, {"p": [NEW]}, now=NOW).partner == "p"


def test_rotation_any_listed_key_verifies_and_the_partner_signs_with_its_first():
    body = b"{}"
    intake = {"p": [NEW, OLD]}
    for key in (NEW, OLD):
        signed = protocol.verify(protocol.request_headers("p", key, body, now=NOW), body, intake, now=NOW)
        assert signed.key == key
    with pytest.raises(protocol.AuthError):
        protocol.verify(protocol.request_headers("p", OLD, body, now=NOW), body, {"p": [NEW]}, now=NOW)


def test_timestamp_window_is_inclusive_of_max_skew():
    body = b"{}"
    partners = {"p": [NEW]}
    for skew in (-protocol.MAX_SKEW, protocol.MAX_SKEW):
        protocol.verify(protocol.request_headers("p", NEW, body, now=NOW + skew), body, partners, now=NOW)
    for skew in (-protocol.MAX_SKEW - 1, protocol.MAX_SKEW + 1):
        with pytest.raises(protocol.AuthError):
            protocol.verify(protocol.request_headers("p", NEW, body, now=NOW + skew), body, partners, now=NOW)


def test_batches_round_trip_and_answers_ignore_what_they_do_not_know():
    reports = [(f"{i:032x}", bytes([i]) * 60) for i in range(3)]
    batch = protocol.decode_batch(protocol.encode_batch("p", reports), "p")
    assert [(r.id, r.sealed) for r in batch.reports] == reports
    answer = protocol.encode_results(
        [
            protocol.Result(reports[0][0], protocol.ACCEPTED),
            protocol.Result(reports[1][0], protocol.REJECTED, "why"),
        ]
    )
    results = protocol.decode_results(answer)
    assert results[reports[1][0]].reason == "why" and reports[2][0] not in results
    odd = json.dumps({"results": [{"id": "x", "status": "maybe"}, "junk", {"id": "y", "status": "duplicate"}]})
    assert list(protocol.decode_results(odd.encode())) == ["y"]
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_results(b'{"ok": true}')


def test_retry_after_reads_seconds_and_dates():
    assert protocol.retry_after("7") == 7
    assert protocol.retry_after("Thu, 15 Jan 2027 08:00:10 GMT", now=1800000000) >= 0
    assert protocol.retry_after("soon") is None and protocol.retry_after(None) is None


def partner_settings(tmp_path, **over) -> Settings:
    from iwf_widget.sealing import generate_keypair

    config = {
        "IWF_WIDGET_PARTNER_ID": "p",
        "IWF_WIDGET_INTAKE_URL": "http://127.0.0.1:9",
        "IWF_WIDGET_SIGNING_KEY": f"{NEW},{OLD}",
        "IWF_WIDGET_INTAKE_PUBLIC_KEY": generate_keypair()[1],
        "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{tmp_path}/outbox.db",
        **over,
    }
    return Settings.from_mapping(config, str(tmp_path))


def test_backoff_is_full_jitter_under_the_cap(tmp_path):
    settings = partner_settings(tmp_path, IWF_WIDGET_BACKOFF_BASE="0.5", IWF_WIDGET_BACKOFF_MAX="8")
    forwarder = Forwarder(settings, Outbox(settings.outbox_url))
    random.seed(1)
    for attempts in range(40):
        ceiling = min(8, 0.5 * 2**attempts)
        delays = [forwarder._backoff(attempts) for _ in range(50)]
        assert all(0 <= d <= ceiling for d in delays)
    assert max(forwarder._backoff(30) for _ in range(200)) > 4  # spread over the whole range
    forwarder.stop()


def test_unreachable_intake_keeps_reports_and_backs_off(tmp_path):
    settings = partner_settings(tmp_path, IWF_WIDGET_FORWARD_TIMEOUT="0.5", IWF_WIDGET_BACKOFF_BASE="5")
    outbox = Outbox(settings.outbox_url)
    outbox.accept("a" * 32, "p", b"sealed", "a" * 32, 4e9)
    forwarder = Forwarder(settings, outbox)
    summary = forwarder.run_once()
    assert summary["retried"] == 1 and "unreachable" in summary["error"]
    [entry] = outbox.entries()
    assert entry["state"] == "pending" and entry["attempts"] == 1 and "unreachable" in entry["last_error"]
    if summary["retry_in"] > 0.05:  # paused: a second pass sends nothing before then
        assert forwarder.run_once()["claimed"] == 0
    forwarder.stop()


def test_partner_backoff_settings_are_validated_with_the_key_named(tmp_path):
    with pytest.raises(ConfigError, match="IWF_WIDGET_BACKOFF_MAX"):
        partner_settings(tmp_path, IWF_WIDGET_BACKOFF_MAX="soon")


@pytest.mark.parametrize(
    ("over", "key"),
    [
        ({"IWF_INTAKE_PRIVATE_KEY": None}, "IWF_INTAKE_PRIVATE_KEY"),
        ({"IWF_INTAKE_PRIVATE_KEY": "short"}, "IWF_INTAKE_PRIVATE_KEY"),
        ({"IWF_INTAKE_PARTNERS": None}, "IWF_INTAKE_PARTNERS"),
        ({"IWF_INTAKE_PARTNERS": "{oops"}, "IWF_INTAKE_PARTNERS"),
        ({"IWF_INTAKE_PARTNERS": {"Bad Id": [NEW]}}, "IWF_INTAKE_PARTNERS"),
        ({"IWF_INTAKE_PARTNERS": {"p": ["short"]}}, "IWF_INTAKE_PARTNERS"),
        ({"IWF_INTAKE_PARTNERS": {"p": []}}, "IWF_INTAKE_PARTNERS"),
        ({"IWF_INTAKE_DB_URL": "intake.db"}, "IWF_INTAKE_DB_URL"),
        ({"IWF_INTAKE_MAX_INFLIGHT": "many"}, "IWF_INTAKE_MAX_INFLIGHT"),
    ],
)
def test_intake_settings_fail_at_start_with_the_key_named(tmp_path, keypair, over, key):
    config = {
        "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db",
        "IWF_INTAKE_PRIVATE_KEY": keypair[0],
        "IWF_INTAKE_PARTNERS": json.dumps({"p": [NEW]}),
    }
    config.update(over)
    config = {k: v for k, v in config.items() if v is not None}
    with pytest.raises(ConfigError) as error:
        create_app(config)
    assert error.value.key == key


def test_intake_partners_may_be_a_mapping_or_json(tmp_path, keypair):
    base = {"IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db", "IWF_INTAKE_PRIVATE_KEY": keypair[0]}
    a = IntakeSettings.from_mapping({**base, "IWF_INTAKE_PARTNERS": {"p": [NEW, OLD]}})
    b = IntakeSettings.from_mapping({**base, "IWF_INTAKE_PARTNERS": json.dumps({"p": [NEW, OLD]})})
    assert a.partners == b.partners == {"p": (NEW, OLD)}


def test_a_refusal_signed_with_each_key_verifies_with_whichever_the_partner_still_holds():
    body = protocol.error_body("the body is larger than 1024 bytes", 413)
    request_signature = "ab" * 32
    headers = protocol.refusal_headers(
        "p", ["old-key-0123456789abcdef", "new-key-0123456789abcdef"], request_signature, body
    )
    assert headers[protocol.SIGNATURE_HEADER].count(",") == 1
    protocol.verify_response(headers, body, "p", ["new-key-0123456789abcdef"], request_signature)
    protocol.verify_response(headers, body, "p", ["old-key-0123456789abcdef"], request_signature)
    with pytest.raises(protocol.AuthError):  # bound to that request
        protocol.verify_response(headers, body, "p", ["new-key-0123456789abcdef"], "cd" * 32)
    with pytest.raises(protocol.AuthError):  # nobody else's key
        protocol.verify_response(headers, body, "p", ["a-guess-0123456789abcdef"], request_signature)
    assert protocol.decode_error(body) == {"error": "the body is larger than 1024 bytes", "status": 413}
