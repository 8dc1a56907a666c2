"""Ordinary faults between a partner and the intake never fail, stall, double or hide a report.

Real processes on loopback: ``iwf-widget serve`` and ``iwf-widget intake``, the
intake behind the fault-injecting wrapper of ``support/procs.py`` where a proxy or a
failing intake is needed, a header-trickling server for a slow middlebox, and
libfaketime for a partner whose clock is wrong. Each test counts the reports
sent, thanked, stored at the intake and left in the outbox, and checks that
the operator's view (``iwf-widget outbox``, health, logs) names the cause.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

import httpx
import pytest
from support.procs import PARTNER, System, wait_until
from test_forwarding import fill_outbox, sends_per_id

pytestmark = pytest.mark.slow

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


@pytest.fixture
def system(tmp_path, keypair):
    s = System(tmp_path, keypair)
    yield s
    s.stop_all()


def cli(system: System, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iwf_widget.cli", *args],
        env=env or system.widget_env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=system.tmp,
    )


def outbox(system: System) -> dict[str, t.Any]:
    """``iwf-widget outbox --json``, as an operator reads it."""
    done = cli(system, "outbox", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def counts(system: System, thanked: int) -> dict[str, int]:
    box = outbox(system)
    return {
        "thanked": thanked,
        "stored": system.held(),
        "pending": box["outbox_pending"],
        "failed": box["outbox_failed"],
    }


def stored_once_each(system: System, n: int) -> list[dict[str, t.Any]]:
    rows = system.export()
    assert len(rows) == n and len({r["id"] for r in rows}) == n, "every thanked report stored exactly once"
    return rows


def log_lines(system: System, name: str, pattern: str) -> list[str]:
    return [
        line
        for line in (system.tmp / f"{name}.log").read_text(errors="replace").splitlines()
        if re.search(pattern, line)
    ]


# -- only the intake can fail a report --------------------------------------------


def test_a_proxys_400_fails_nothing_and_the_outbox_names_it(system):
    system.start_intake(faulty=True)
    system.set_intake_mode("proxy_400")  # nginx: "The plain HTTP request was sent to HTTPS port"
    system.start_widget()
    for i in range(3):
        system.submit(f"https://example.com/proxy/{i}")
    assert wait_until(lambda: len([b for b in system.batches() if b["phase"] == "received"]) >= 4, timeout=20)

    assert counts(system, 3) == {"thanked": 3, "stored": 0, "pending": 3, "failed": 0}
    shown = cli(system, "outbox").stdout
    assert f"not the intake answering (HTTP 400 from {system.intake_url}/v1/reports)" in shown
    assert "failed 0" in shown

    system.set_intake_mode("ok")  # the proxy is fixed: delivery resumes without --requeue-failed
    assert wait_until(lambda: system.held() == 3, timeout=20)
    stored_once_each(system, 3)
    assert wait_until(lambda: counts(system, 3) == {"thanked": 3, "stored": 3, "pending": 0, "failed": 0})


def test_a_report_the_intake_fails_on_ends_alone_in_failed_and_its_batch_mates_arrive(system):
    url = system.widget_env["IWF_WIDGET_OUTBOX_URL"]
    ids = fill_outbox(url, system.public, 9, "a")
    poison = ids[4]
    system.start_intake(faulty=True)
    system.set_intake_mode("poison", ids=[poison], signed=True)
    system.start_widget()

    assert wait_until(lambda: system.held() == 8 and outbox(system)["outbox_failed"] == 1, timeout=30)
    assert counts(system, 9) == {"thanked": 9, "stored": 8, "pending": 0, "failed": 1}
    [failed] = [e for e in outbox(system)["entries"] if e["state"] == "failed"]
    assert failed["id"] == poison and "HTTP 500" in failed["last_error"]
    assert poison not in {r["id"] for r in stored_once_each(system, 8)}


def test_a_proxys_502_on_one_report_holds_back_only_that_report_and_fails_nothing(system):
    url = system.widget_env["IWF_WIDGET_OUTBOX_URL"]
    ids = fill_outbox(url, system.public, 9, "b")
    poison = ids[0]
    system.start_intake(faulty=True)
    system.set_intake_mode("poison", ids=[poison], signed=False)
    system.start_widget()

    assert wait_until(lambda: system.held() == 8, timeout=30)
    assert max(sends_per_id(system).values()) >= 4  # the poison went on being retried ...
    assert counts(system, 9) == {"thanked": 9, "stored": 8, "pending": 1, "failed": 0}  # ... never failed
    [waiting] = outbox(system)["entries"]
    assert waiting["id"] == poison and "not the intake answering (HTTP 502" in waiting["last_error"]

    system.set_intake_mode("ok")
    assert wait_until(lambda: system.held() == 9, timeout=30)
    stored_once_each(system, 9)


# -- bounded exchanges --------------------------------------------------------------


class Trickle:
    """A middlebox that reads the request, then sends the answer's header a byte per half second."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests += 1
            header = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"." * 400 + b"\r\n\r\n"
            for byte in header:  # 200 s in all
                if self._stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.5)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def test_a_middlebox_trickling_headers_cannot_stretch_a_forward_past_its_timeout(system):
    trickle = Trickle()
    try:
        system.widget_env["IWF_WIDGET_INTAKE_URL"] = f"http://127.0.0.1:{trickle.port}"
        system.widget_env["IWF_WIDGET_FORWARDER"] = "off"
        system.start_widget()
        system.submit("https://example.com/trickle/0")

        done = cli(system, "forward")  # one pass; the trickled header would take 200 s
        assert done.returncode == 1 and trickle.requests >= 1
        assert "IWF_WIDGET_FORWARD_TIMEOUT (1 s)" in done.stderr
        [entry] = outbox(system)["entries"]
        assert entry["attempts"] >= 1 and "no complete answer from the intake" in entry["last_error"]
        assert "deferred" in done.stdout + done.stderr  # logged, not only recorded
    finally:
        trickle.close()
    system.kill("widget")

    system.widget_env["IWF_WIDGET_INTAKE_URL"] = system.intake_url
    system.widget_env["IWF_WIDGET_FORWARDER"] = "on"
    system.start_intake()
    system.start_widget()
    assert wait_until(lambda: system.held() == 1, timeout=20)
    stored_once_each(system, 1)
    assert counts(system, 1) == {"thanked": 1, "stored": 1, "pending": 0, "failed": 0}


# -- wrong clocks --------------------------------------------------------------------


@pytest.mark.skipif(not FAKETIME.exists() or shutil.which("faketime") is None, reason="libfaketime is not installed")
def test_a_partner_clock_hours_fast_then_corrected_loses_fails_and_doubles_nothing(system):
    system.start_intake()
    plain = dict(system.widget_env)
    thanked = 0
    for offset, hours in (("+1h", 1), ("+2h", 2), (None, 0)):
        env = dict(plain)
        if offset:
            env.update(
                LD_PRELOAD=str(FAKETIME), FAKETIME=offset, FAKETIME_DONT_FAKE_MONOTONIC="1", FAKETIME_NO_CACHE="1"
            )
        system.widget_env = env
        system.start_widget()
        for i in range(3):
            system.submit(f"https://example.com/clock/{hours}/{i}")
            thanked += 1
        assert wait_until(lambda: system.held() == thanked, timeout=20), system.procs["widget"].output()
        system.procs.pop("widget").stop()
    system.widget_env = plain

    rows = stored_once_each(system, thanked)
    assert counts(system, thanked) == {"thanked": 9, "stored": 9, "pending": 0, "failed": 0}
    # Dated in the future by the partner's clock: stored with the minute received, and marked.
    future = [r for r in rows if "/clock/1/" in r["urls"][0] or "/clock/2/" in r["urls"][0]]
    assert all(r["created"] == r["received"] for r in future)
    # The partner's log says which way and by how much; the intake's log names the partner and the cause.
    widget_says = log_lines(system, "widget", r"clock is \d+ s ahead of the intake's")
    assert {round(int(re.search(r"clock is (\d+) s", line).group(1)) / 3600) for line in widget_says} == {1, 2}
    assert log_lines(
        system,
        "intake",
        rf"refused a batch from {PARTNER} with 401: its clock is off: its time is "
        r"\d+ s ahead of the intake's",
    )


# -- health and logs tell the truth ---------------------------------------------------


def test_intake_health_says_degraded_while_it_cannot_store_and_logs_it_once_a_minute(system):
    system.start_intake()
    system.start_widget()
    system.submit("https://example.com/health/0")
    assert wait_until(lambda: system.held() == 1, timeout=20)
    assert httpx.get(f"{system.intake_url}/healthz").json()["status"] == "ok"

    with sqlite3.connect(system.tmp / "intake.db") as db:  # the database refuses every write
        db.execute(
            "CREATE TRIGGER readonly BEFORE INSERT ON iwf_intake_reports "
            "BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END"
        )
    for i in range(1, 4):
        system.submit(f"https://example.com/health/{i}")
    health = wait_until(
        lambda: (lambda r: r if r.status_code == 503 else None)(httpx.get(f"{system.intake_url}/healthz")), timeout=20
    )
    assert health and health.json()["status"] == "degraded" and "storing reports failed" in health.json()["reason"]
    assert wait_until(lambda: len(log_lines(system, "widget", "deferred")) >= 1, timeout=10)
    time.sleep(2)  # many passes fail meanwhile ...
    assert counts(system, 4) == {"thanked": 4, "stored": 1, "pending": 3, "failed": 0}
    # ... and each side logged the cause once, not once per pass; no traceback.
    assert len(log_lines(system, "intake", f"refused a batch from {PARTNER} with 500: the database failed")) == 1
    assert not log_lines(system, "intake", "Traceback") and not log_lines(system, "widget", "Traceback")

    with sqlite3.connect(system.tmp / "intake.db") as db:
        db.execute("DROP TRIGGER readonly")
    assert wait_until(lambda: system.held() == 4, timeout=30)
    stored_once_each(system, 4)
    assert httpx.get(f"{system.intake_url}/healthz").json()["status"] == "ok"
    assert wait_until(lambda: counts(system, 4) == {"thanked": 4, "stored": 4, "pending": 0, "failed": 0})


def test_an_outbox_that_cannot_be_written_logs_one_line_a_minute_not_a_traceback_a_pass(system):
    system.start_intake()
    system.start_widget()
    with sqlite3.connect(system.tmp / "outbox.db") as db:  # the disk is full for the forwarder's writes
        db.execute(
            "CREATE TRIGGER full BEFORE UPDATE ON iwf_outbox BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    for i in range(2):
        system.submit(f"https://example.com/full/{i}")
    assert wait_until(lambda: log_lines(system, "widget", "forwarding pass failed"), timeout=10)
    time.sleep(2)  # ten passes and more
    lines = log_lines(system, "widget", "forwarding pass failed")
    assert len(lines) == 1 and "database or disk is full" in lines[0]
    assert not log_lines(system, "widget", "Traceback")
    assert counts(system, 2) == {"thanked": 2, "stored": 0, "pending": 2, "failed": 0}

    with sqlite3.connect(system.tmp / "outbox.db") as db:
        db.execute("DROP TRIGGER full")
    assert wait_until(lambda: system.held() == 2, timeout=30)
    stored_once_each(system, 2)


def test_intake_logs_a_partner_it_refuses_once_a_minute_with_the_cause(system):
    system.widget_env["IWF_WIDGET_SIGNING_KEY"] = "a-key-the-intake-does-not-know-0123"
    system.start_intake(faulty=True)
    system.start_widget()
    system.submit("https://example.com/key/0")
    assert wait_until(lambda: len(system.batches()) >= 4, timeout=20)
    refused = log_lines(system, "intake", rf"refused a batch from {PARTNER} with 401")
    assert len(refused) == 1 and "matches none of its keys in IWF_INTAKE_PARTNERS" in refused[0]
    shown = cli(system, "outbox").stdout
    assert "HTTP 401" in shown and "IWF_WIDGET_SIGNING_KEY" in shown
    assert counts(system, 1) == {"thanked": 1, "stored": 0, "pending": 1, "failed": 0}
