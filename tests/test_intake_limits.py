"""The intake bounds what one partner can deliver, so a compromised partner cannot flood it."""

from __future__ import annotations

import json
import time

import pytest

from iwf_widget import protocol
from iwf_widget.intake import create_app
from iwf_widget.intake.settings import ConfigError
from iwf_widget.sealing import Sealer

KEYS = {"partner-a": ["a-key-0123456789abcdef"], "partner-b": ["b-key-0123456789abcdef"]}


def batch(keypair, partner: str, first: int, n: int) -> tuple[bytes, dict[str, str]]:
    sealer = Sealer(keypair[1])
    items = []
    for i in range(first, first + n):
        rid = f"{i:032x}"
        items.append(
            (
                rid,
                sealer.seal(
                    {
                        "v": 1,
                        "id": rid,
                        "partner": partner,
                        "locale": "en",
                        "created": int(time.time()) // 60 * 60,
                        "urls": [f"https://example.com/{i}"],
                        "content_kind": "images",
                        "where_seen": "website",
                        "description": "",
                        "contact_email": "",
                    }
                ),
            )
        )
    body = protocol.encode_batch(partner, items)
    return body, protocol.request_headers(partner, KEYS[partner][0], body)


@pytest.fixture
def intake(tmp_path, keypair):
    app = create_app(
        {
            "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db",
            "IWF_INTAKE_PRIVATE_KEY": keypair[0],
            "IWF_INTAKE_PARTNERS": json.dumps(KEYS),
            "IWF_INTAKE_PARTNER_RATE_LIMIT": "5/hour",
        }
    )
    return app.test_client()


def stored(client) -> int:
    return client.application.extensions["iwf_intake"].store.count()


def test_partner_over_its_limit_gets_429_with_retry_after_and_nothing_stored(intake, keypair):
    body, headers = batch(keypair, "partner-a", 1, 3)
    assert intake.post(protocol.PATH, data=body, headers=headers).status_code == 200
    body, headers = batch(keypair, "partner-a", 10, 3)
    r = intake.post(protocol.PATH, data=body, headers=headers)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    assert stored(intake) == 3
    body, headers = batch(keypair, "partner-b", 20, 3)
    assert intake.post(protocol.PATH, data=body, headers=headers).status_code == 200, "another partner is not limited"
    assert stored(intake) == 6


def test_partner_limit_setting_is_validated(tmp_path, keypair):
    with pytest.raises(ConfigError, match="IWF_INTAKE_PARTNER_RATE_LIMIT"):
        create_app(
            {
                "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db",
                "IWF_INTAKE_PRIVATE_KEY": keypair[0],
                "IWF_INTAKE_PARTNERS": json.dumps(KEYS),
                "IWF_INTAKE_PARTNER_RATE_LIMIT": "lots",
            }
        )
