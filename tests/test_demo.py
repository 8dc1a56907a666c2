"""``iwf-widget demo`` runs the whole system: partner site, widget and intake, end to end."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time

import httpx
import pytest
from support.procs import Proc, wait_until

pytestmark = pytest.mark.slow


def three_free_ports() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            for port in (base, base + 1, base + 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no three consecutive free ports")


@pytest.fixture
def demo(tmp_path):
    port = three_free_ports()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "iwf_widget.cli", "demo", "--port", str(port), "--instance", str(tmp_path)]
    proc = Proc("demo", cmd, env, tmp_path / "demo.log", f"http://127.0.0.1:{port + 2}/healthz")
    yield port, tmp_path, proc
    proc.stop()


def test_demo_runs_partner_site_widget_and_intake_end_to_end(demo):
    port, instance, proc = demo
    site, widget, intake = (f"http://127.0.0.1:{port + i}" for i in range(3))
    assert wait_until(lambda: "Press Ctrl-C" in proc.output(), timeout=10)
    printed = proc.output()
    assert f"{site}/fr/" in printed and f"{widget}/report/form" in printed and intake in printed

    for lang, direction in (("fr", "ltr"), ("ar", "rtl"), ("en", "ltr")):
        page = httpx.get(f"{site}/{lang}/").text
        assert f'<html lang="{lang}" dir="{direction}">' in page
        assert f'<div data-iwf-report data-lang="{lang}"></div>' in page
        assert f'<script src="{widget}/report/embed.js" async></script>' in page
        assert f'href="{widget}/report/form?lang={lang}"' in page  # works without JavaScript
    assert 'data-mode="button"' in httpx.get(f"{site}/en/button").text

    form = httpx.get(f"{widget}/report/form", params={"lang": "fr"})
    assert site in form.headers["Content-Security-Policy"]  # the partner site may frame the form
    assert httpx.get(f"{intake}/healthz").status_code == 200

    keys = instance / "demo" / "keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert set(json.loads(keys.read_text())) == {"private", "public", "signing"}

    # A report sent through the widget arrives at the intake.
    token = re.search(r'name="iwf_token" value="([^"]+)"', form.text).group(1)
    time.sleep(3.1)  # the demo keeps the default minimum time to fill the form in
    sent = httpx.post(
        f"{widget}/report/form",
        params={"lang": "fr"},
        data={
            "iwf_token": token,
            "urls": "https://example.com/demo",
            "content_kind": "images",
            "where_seen": "website",
            "description": "",
            "contact_email": "",
            "homepage": "",
        },
    )
    assert sent.status_code == 200 and 'id="iwf-reference"' in sent.text
    assert wait_until(lambda: httpx.get(f"{widget}/report/healthz").json()["outbox_pending"] == 0, timeout=10)
    export = subprocess.run(
        [sys.executable, "-m", "iwf_widget.cli", "intake-export"],
        env={**os.environ, "IWF_INTAKE_DB_URL": f"sqlite:///{instance}/demo/intake.db"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    rows = [json.loads(line) for line in export.stdout.splitlines()]
    assert [(r["urls"], r["locale"]) for r in rows] == [(["https://example.com/demo"], "fr")]
