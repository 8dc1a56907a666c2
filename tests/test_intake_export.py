"""What analysts get from the intake: the contract's fields, international domains readable."""
from __future__ import annotations

import json
import time

from iwf_widget import protocol
from iwf_widget.intake import create_app
from iwf_widget.sealing import Sealer

KEY = "export-key-0123456789abcdef"


def test_export_shows_international_domains_readable_beside_punycode(tmp_path, keypair):
    app = create_app({
        "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db",
        "IWF_INTAKE_PRIVATE_KEY": keypair[0],
        "IWF_INTAKE_PARTNERS": json.dumps({"partner-x": [KEY]}),
    })
    rid = "ab" * 16
    sealed = Sealer(keypair[1]).seal({
        "v": 1, "id": rid, "partner": "partner-x", "locale": "uk", "created": int(time.time()) // 60 * 60,
        "urls": ["https://xn--bcher-kva.example/a", "https://example.com/b"], "content_kind": "images",
        "where_seen": "forum", "description": "", "contact_email": "",
    })
    body = protocol.encode_batch("partner-x", [(rid, sealed)])
    r = app.test_client().post(protocol.PATH, data=body, headers=protocol.request_headers("partner-x", KEY, body))
    assert r.status_code == 200
    (row,) = app.extensions["iwf_intake"].store.export()
    assert row["urls"] == ["https://xn--bcher-kva.example/a", "https://example.com/b"]
    assert row["urls_readable"] == ["https://bücher.example/a", "https://example.com/b"]
    for field in ("id", "partner", "locale", "created", "urls", "content_kind", "where_seen", "description",
                  "contact_email"):
        assert field in row
    assert row["locale"] == "uk" and row["created"].endswith("Z")
