"""A bounded load test on loopback, through a production WSGI server.

``iwf-widget serve`` (waitress) runs in its own process. Fifty clients, each on
its own connection, load the form and send it, 2,000 times in all: no answer
is a 5xx and every accepted report is in the outbox exactly once. Then, with a
tight per-client limit, a flood from one loopback address is held back while
another address still gets through.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import httpx
import pytest
from support.partner import SIGNING_KEY

pytestmark = pytest.mark.slow

CLIENTS = 50
SUBMISSIONS = 2000
#: The whole bulk run must end within this, or the test fails rather than hangs.
BULK_DEADLINE = 240.0
TOKEN = re.compile(r'name="iwf_token" value="([^"]+)"')
REFERENCE = re.compile(r'id="iwf-reference"[^>]*>([^<]+)<')
LANGS = ("en", "fr", "ar", "uk", "hi", "sw", "ur", "pt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Widget:
    """``iwf-widget serve`` in a subprocess, on a fresh outbox."""

    def __init__(self, folder: Path, public_key: str, **config: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.outbox = folder / "outbox.db"
        env = {
            **os.environ,
            "IWF_WIDGET_PARTNER_ID": "load-partner",
            "IWF_WIDGET_INTAKE_URL": "http://127.0.0.1:9",
            "IWF_WIDGET_SIGNING_KEY": SIGNING_KEY,
            "IWF_WIDGET_INTAKE_PUBLIC_KEY": public_key,
            "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{self.outbox}",
            "IWF_WIDGET_INSTANCE": str(folder),
            "IWF_WIDGET_MIN_FILL_SECONDS": "0",
            "IWF_WIDGET_WORK_DIFFICULTY": "0",
            "IWF_WIDGET_FORWARDER": "off",
            **config,
        }
        self.log = open(folder / "serve.log", "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "iwf_widget.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--threads",
                "8",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.base + "/report/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("iwf-widget serve did not start: " + (folder / "serve.log").read_text()[-500:])
            time.sleep(0.1)

    def stored(self) -> list[str]:
        with sqlite3.connect(self.outbox) as db:
            return [row[0] for row in db.execute("select id from iwf_outbox")]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def start(tmp_path, keypair) -> t.Iterator[t.Callable[..., Widget]]:
    started: list[Widget] = []

    def do(name: str, **config: str) -> Widget:
        folder = tmp_path / name
        folder.mkdir()
        widget = Widget(folder, keypair[1], **config)
        started.append(widget)
        return widget

    yield do
    for widget in started:
        widget.stop()


def report_once(client: httpx.Client, lang: str, n: int) -> tuple[int, str | None]:
    """Load the form, send it; (status of the POST, reference if one was shown)."""
    page = client.get(f"/report/form?lang={lang}")
    assert page.status_code == 200, page.status_code
    token = TOKEN.search(page.text).group(1)
    r = client.post(
        f"/report/form?lang={lang}",
        data={
            "iwf_token": token,
            "urls": f"https://example.com/load/{n}",
            "content_kind": "images",
            "where_seen": "website",
            "description": "",
            "contact_email": "",
            "homepage": "",
        },
    )
    found = REFERENCE.search(r.text)
    return r.status_code, found.group(1).strip() if found else None


def test_two_thousand_reports_from_fifty_clients_are_each_stored_exactly_once(start):
    widget = start("bulk", IWF_WIDGET_RATE_LIMIT="off", IWF_WIDGET_PARTNER_RATE_LIMIT="off")
    deadline = time.monotonic() + BULK_DEADLINE
    per_client = SUBMISSIONS // CLIENTS

    def client_run(c: int) -> list[tuple[int, str | None]]:
        out = []
        with httpx.Client(base_url=widget.base, timeout=60) as client:
            for i in range(per_client):
                if time.monotonic() > deadline:
                    break
                out.append(report_once(client, LANGS[(c + i) % len(LANGS)], c * per_client + i))
        return out

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        results = [r for rs in pool.map(client_run, range(CLIENTS)) for r in rs]

    assert len(results) == SUBMISSIONS, "all submissions were made within the time bound"
    statuses = [status for status, _ in results]
    assert not [s for s in statuses if s >= 500], "no server error under load"
    references = [ref for status, ref in results if status == 200 and ref]
    assert len(references) == statuses.count(200) == SUBMISSIONS
    assert len(set(references)) == len(references), "each report has its own reference"
    stored = widget.stored()
    assert len(stored) == len(references), "every accepted report is in the outbox"
    assert len(set(stored)) == len(stored), "and exactly once"
    health = httpx.get(widget.base + "/report/healthz").json()
    assert health["outbox_pending"] == len(references)


def test_a_flood_from_one_client_is_limited_while_another_gets_through(start):
    # Proof-of-work is off here, so each report weighs 1: a limit of 3 lets three through.
    widget = start("flood", IWF_WIDGET_RATE_LIMIT="3/hour")

    def from_address(address: str) -> httpx.Client:
        return httpx.Client(base_url=widget.base, timeout=30, transport=httpx.HTTPTransport(local_address=address))

    def flood(n: int) -> tuple[int, str | None, str | None]:
        with from_address("127.0.0.2") as client:
            page = client.get("/report/form?lang=fr")
            token = TOKEN.search(page.text).group(1)
            r = client.post(
                "/report/form?lang=fr",
                data={
                    "iwf_token": token,
                    "urls": f"https://example.com/flood/{n}",
                    "content_kind": "images",
                    "where_seen": "website",
                },
            )
            return r.status_code, r.headers.get("Retry-After"), REFERENCE.search(r.text) and "ref"

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(flood, range(30)))
    statuses = [s for s, _, _ in results]
    assert not [s for s in statuses if s >= 500]
    assert set(statuses) <= {200, 429}
    assert 1 <= statuses.count(200) <= 3, statuses
    assert statuses.count(429) >= 27
    assert all(int(retry) >= 1 for s, retry, _ in results if s == 429)
    assert len(widget.stored()) == statuses.count(200)

    with from_address("127.0.0.3") as other:
        status, reference = report_once(other, "uk", 99)
    assert status == 200 and reference, "another client still gets through"
    assert len(widget.stored()) == statuses.count(200) + 1
