"""Rotating the intake's key pair and the partners' signing keys without losing a report.

During an intake key rotation, reports already sealed to the old public key
wait in partners' outboxes; the intake opens them with the old private key
listed after the new one in ``IWF_INTAKE_PRIVATE_KEY``.
"""

from __future__ import annotations

import json
import time

import pytest

from iwf_widget import protocol
from iwf_widget.intake import IntakeSettings, create_app
from iwf_widget.sealing import Opener, Sealer, SealError, generate_keypair
from iwf_widget.settings import ConfigError

PARTNER = "test-partner"
OLD_SIGNING = "old-signing-key-0123456789abcdef"
NEW_SIGNING = "new-signing-key-0123456789abcdef"


def report(rid: str) -> dict:
    return {
        "v": 1,
        "id": rid,
        "partner": PARTNER,
        "locale": "en",
        "created": int(time.time()) // 60 * 60,
        "urls": [f"https://example.com/{rid}"],
        "content_kind": "images",
        "where_seen": "website",
        "description": "",
        "contact_email": "",
    }


def config(tmp_path, private: str, signing: list[str]) -> dict[str, str]:
    return {
        "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db",
        "IWF_INTAKE_PRIVATE_KEY": private,
        "IWF_INTAKE_PARTNERS": json.dumps({PARTNER: signing}),
    }


def send(app, sealed: list[tuple[str, bytes]], signing_key: str) -> list[str]:
    body = protocol.encode_batch(PARTNER, sealed)
    r = app.test_client().post(protocol.PATH, data=body, headers=protocol.request_headers(PARTNER, signing_key, body))
    assert r.status_code == 200, r.get_data(as_text=True)
    return [x.status for x in protocol.decode_results(r.get_data()).values()]


def test_the_first_private_key_is_current_the_others_still_open():
    (old, _), (new, _) = generate_keypair(), generate_keypair()
    settings = IntakeSettings.from_mapping(
        {"IWF_INTAKE_PRIVATE_KEY": f"{new}, {old}", "IWF_INTAKE_PARTNERS": json.dumps({PARTNER: [OLD_SIGNING]})}
    )
    assert settings.private_key != settings.previous_private_keys[0]
    assert len(settings.previous_private_keys) == 1


def test_a_bad_key_in_the_list_is_named_at_start_up():
    new, _ = generate_keypair()
    with pytest.raises(ConfigError, match="IWF_INTAKE_PRIVATE_KEY: key 2 "):
        IntakeSettings.from_mapping(
            {"IWF_INTAKE_PRIVATE_KEY": f"{new},not-a-key", "IWF_INTAKE_PARTNERS": json.dumps({PARTNER: [OLD_SIGNING]})}
        )


def test_opener_tries_each_key_and_refuses_a_stranger():
    (old, old_public), (new, new_public), (_, stranger) = generate_keypair(), generate_keypair(), generate_keypair()
    opener = Opener(new, old)
    assert opener.open(Sealer(old_public).seal({"a": 1})) == {"a": 1}
    assert opener.open(Sealer(new_public).seal({"a": 2})) == {"a": 2}
    with pytest.raises(SealError):
        opener.open(Sealer(stranger).seal({"a": 3}))


def test_intake_key_rotation_step_by_step(tmp_path):
    (old, old_public), (new, new_public) = generate_keypair(), generate_keypair()
    waiting = ("a" * 32, Sealer(old_public).seal(report("a" * 32)))  # sealed before the switch
    # 1. The intake opens with both keys, the new one first.
    app = create_app(config(tmp_path, f"{new},{old}", [OLD_SIGNING]))
    # 2. Partners switch to the new public key; old reports still arrive.
    fresh = ("b" * 32, Sealer(new_public).seal(report("b" * 32)))
    assert send(app, [waiting, fresh], OLD_SIGNING) == ["accepted", "accepted"]
    # 3. Once every outbox is empty, the old private key goes: old ciphertext opens no more.
    app = create_app(config(tmp_path, new, [OLD_SIGNING]))
    late = ("c" * 32, Sealer(old_public).seal(report("c" * 32)))
    assert send(app, [late], OLD_SIGNING) == ["rejected"]


def test_signing_key_rotation_step_by_step(tmp_path):
    private, public = generate_keypair()
    one = lambda rid: (rid, Sealer(public).seal(report(rid)))  # noqa: E731
    # 1. The intake learns the new key beside the old one: the partner, still on the old, is heard.
    app = create_app(config(tmp_path, private, [OLD_SIGNING, NEW_SIGNING]))
    assert send(app, [one("1" * 32)], OLD_SIGNING) == ["accepted"]
    # 2. The partner puts the new key first (IWF_WIDGET_SIGNING_KEY=new,old): it signs with it.
    assert send(app, [one("2" * 32)], NEW_SIGNING) == ["accepted"]
    # 3. The old key leaves the intake: a batch signed with it is refused.
    app = create_app(config(tmp_path, private, [NEW_SIGNING]))
    body = protocol.encode_batch(PARTNER, [one("3" * 32)])
    refused = app.test_client().post(
        protocol.PATH, data=body, headers=protocol.request_headers(PARTNER, OLD_SIGNING, body)
    )
    assert refused.status_code == 401
