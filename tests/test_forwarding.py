"""Every accepted report reaches the intake exactly once: real processes, real faults, loopback HTTP."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading

import pytest
from support.procs import PARTNER, System, wait_until

from iwf_widget.forwarder import Forwarder
from iwf_widget.outbox import Outbox
from iwf_widget.outbox import reports as outbox_reports
from iwf_widget.sealing import Sealer
from iwf_widget.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def system(tmp_path, keypair):
    s = System(tmp_path, keypair)
    yield s
    s.stop_all()


def sends_per_id(system: System) -> collections.Counter[str]:
    """How many times the intake received each report id."""
    return collections.Counter(i for b in system.batches() if b["phase"] == "received" for i in b["ids"])


def assert_once_each(rows: list[dict], urls: set[str]) -> None:
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "a report was stored twice"
    assert {u for r in rows for u in r["urls"]} == urls


def test_twenty_reports_arrive_at_the_intake_once_each(system):
    system.start_intake()
    system.start_widget()
    references = {system.submit(f"https://example.com/twenty/{i}", lang="fr") for i in range(20)}

    rows = system.wait_for_reports(20)
    assert len(rows) == 20
    assert_once_each(rows, {f"https://example.com/twenty/{i}" for i in range(20)})
    assert {r["reference"] for r in rows} == references  # what the person was shown finds the report
    assert all(r["partner"] == PARTNER and r["locale"] == "fr" for r in rows)
    assert all(r["created"].endswith(":00Z") for r in rows)  # minute precision

    health = wait_until(lambda: (lambda h: h if h["outbox_pending"] == 0 else None)(system.health()), timeout=10)
    assert health, system.health()
    assert health["oldest_pending_age_s"] == 0
    assert health["last_forward_at"] and health["last_forward"].endswith("Z")


def test_reports_survive_intake_outage_and_widget_crash(system):
    system.start_intake()
    system.start_widget()
    for i in range(3):
        system.submit(f"https://example.com/outage/{i}")
    assert len(system.wait_for_reports(3)) == 3

    system.kill("intake")
    for i in range(3, 13):
        system.submit(f"https://example.com/outage/{i}")
    health = system.health()
    assert health["outbox_pending"] == 10
    assert health["oldest_pending_age_s"] >= 0
    system.kill("widget")  # kill -9 with ten reports waiting

    system.start_intake()
    system.start_widget()
    rows = system.wait_for_reports(13)
    assert len(rows) == 13
    assert_once_each(rows, {f"https://example.com/outage/{i}" for i in range(13)})
    assert wait_until(lambda: system.health()["outbox_pending"] == 0, timeout=10)


def test_intake_killed_mid_batch_loses_and_doubles_nothing(system):
    system.start_intake(faulty=True)
    system.start_widget()

    # Killed after reading a batch, before storing it.
    system.set_intake_mode("sleep_before", seconds=30)
    system.submit("https://example.com/mid/0")
    assert wait_until(lambda: any(b["phase"] == "received" for b in system.batches()))
    system.kill("intake")
    assert system.held() == 0 and system.health()["outbox_pending"] == 1

    # Killed after storing batches, before answering: the partner never hears back.
    system.set_intake_mode("sleep_after", seconds=30)
    system.start_intake(faulty=True)
    system.submit("https://example.com/mid/1")
    assert wait_until(lambda: system.held() == 2, timeout=15)
    assert system.health()["outbox_pending"] == 2  # stored at the intake, never acknowledged
    system.kill("intake")

    system.set_intake_mode("ok")
    system.start_intake(faulty=True)
    rows = system.wait_for_reports(2)
    assert_once_each(rows, {"https://example.com/mid/0", "https://example.com/mid/1"})
    assert wait_until(lambda: system.health()["outbox_pending"] == 0, timeout=10)
    assert len(system.export()) == 2


def test_intake_slower_than_the_client_timeout_loses_and_doubles_nothing(system):
    system.start_intake(faulty=True)
    system.set_intake_mode("sleep_after", seconds=2)  # the forwarder gives up after 1 s
    system.start_widget()
    for i in range(5):
        system.submit(f"https://example.com/slow/{i}")
    # The first answer came too late, so the same reports were sent again.
    assert wait_until(lambda: max(sends_per_id(system).values(), default=0) >= 2, timeout=15)
    assert system.health()["outbox_pending"] > 0

    system.set_intake_mode("ok")
    assert wait_until(lambda: system.health()["outbox_pending"] == 0, timeout=15)
    rows = system.export()
    assert len(rows) == 5
    assert_once_each(rows, {f"https://example.com/slow/{i}" for i in range(5)})


def test_intake_busy_with_retry_after_loses_nothing_and_is_not_hurried(system):
    system.start_intake(faulty=True)
    system.set_intake_mode("503", retry_after=1)
    system.start_widget()
    for i in range(3):
        system.submit(f"https://example.com/busy/{i}")
    assert wait_until(lambda: len([b for b in system.batches() if b["phase"] == "received"]) >= 3, timeout=15)
    times = [b["t"] for b in system.batches() if b["phase"] == "received"]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.95, f"came back sooner than Retry-After: {gaps}"
    assert system.health()["outbox_pending"] == 3

    system.set_intake_mode("ok")
    rows = system.wait_for_reports(3)
    assert_once_each(rows, {f"https://example.com/busy/{i}" for i in range(3)})
    assert wait_until(lambda: system.health()["outbox_pending"] == 0, timeout=10)


def test_unsigned_acknowledgement_deletes_nothing(system):
    system.start_intake(faulty=True)
    system.set_intake_mode("forge_ack")
    system.start_widget()
    system.submit("https://example.com/forged-ack")
    assert wait_until(lambda: len(system.batches()) >= 2, timeout=10)
    assert system.health()["outbox_pending"] == 1  # "accepted", but not in the intake's hand

    system.set_intake_mode("ok")
    rows = system.wait_for_reports(1)
    assert [r["urls"] for r in rows] == [["https://example.com/forged-ack"]]
    assert wait_until(lambda: system.health()["outbox_pending"] == 0, timeout=10)


def fill_outbox(url: str, public_key: str, n: int, prefix: str) -> list[str]:
    """``n`` sealed reports in an outbox, as the widget stores them (one transaction, for speed)."""
    outbox = Outbox(url)
    sealer = Sealer(public_key)
    rows = []
    for i in range(n):
        rid = f"{prefix}{i:0{32 - len(prefix)}x}"
        report = {
            "v": 1,
            "id": rid,
            "partner": PARTNER,
            "locale": "en",
            "created": 1767225600,
            "urls": [f"https://example.com/many/{rid}"],
            "content_kind": "images",
            "where_seen": "website",
            "description": "",
            "contact_email": "",
        }
        rows.append(
            {
                "id": rid,
                "partner": PARTNER,
                "created": 1767225600,
                "sealed": sealer.seal(report),
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": 0.0,
            }
        )
    with outbox.engine.begin() as conn:
        conn.execute(outbox_reports.insert(), rows)
    outbox.close()
    return [r["id"] for r in rows]


def partner_settings(system: System, **over) -> Settings:
    env = {k: v for k, v in system.widget_env.items() if k.startswith("IWF_WIDGET_")}
    env.update(over)
    return Settings.from_mapping(env, str(system.tmp))


def test_several_forwarder_threads_on_one_outbox_never_send_a_report_twice(system):
    system.start_intake(faulty=True)
    ids = fill_outbox(system.widget_env["IWF_WIDGET_OUTBOX_URL"], system.public, 300, "a")
    settings = partner_settings(system, IWF_WIDGET_BATCH_SIZE="15", IWF_WIDGET_FORWARD_TIMEOUT="5")

    def work() -> None:
        # Each thread has its own database connection pool, as a separate process would.
        outbox = Outbox(settings.outbox_url)
        forwarder = Forwarder(settings, outbox)
        while outbox.stats()["outbox_pending"]:
            forwarder.run_once()
        forwarder.stop()
        outbox.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    sends = sends_per_id(system)
    assert set(sends) == set(ids)
    assert max(sends.values()) == 1, "a report was sent twice"
    assert len({b["t"] for b in system.batches()}) > 4  # the work really was shared out
    assert system.held() == 300


def test_several_forward_processes_on_one_outbox_never_send_a_report_twice(system):
    system.start_intake(faulty=True)
    ids = fill_outbox(system.widget_env["IWF_WIDGET_OUTBOX_URL"], system.public, 300, "b")
    env = {**system.widget_env, "IWF_WIDGET_BATCH_SIZE": "10", "IWF_WIDGET_FORWARD_TIMEOUT": "5"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "iwf_widget.cli", "forward"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=system.tmp,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    sends = sends_per_id(system)
    assert set(sends) == set(ids)
    assert max(sends.values()) == 1, "a report was sent twice"
    assert sum(int(o.split("sent ")[1].split(":")[0]) for o in outputs) == 300
    assert system.held() == 300


def test_rejected_report_is_kept_as_failed_with_the_reason(system):
    system.start_intake()
    url = system.widget_env["IWF_WIDGET_OUTBOX_URL"]
    fill_outbox(url, system.public, 2, "c")
    outbox = Outbox(url)
    sealer = Sealer(system.public)
    bad = "d" * 32
    report = {
        "v": 1,
        "id": bad,
        "partner": PARTNER,
        "locale": "en",
        "created": 1767225600,
        "urls": ["javascript:alert(1)"],
        "content_kind": "images",
        "where_seen": "website",
        "description": "",
        "contact_email": "",
    }
    outbox.accept(bad, PARTNER, sealer.seal(report), bad, 4e9)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "iwf_widget.cli", *args],
            env=system.widget_env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=system.tmp,
        )

    result = cli("forward")
    assert result.returncode == 0, result.stderr
    assert "2 accepted" in result.stdout and "1 rejected" in result.stdout
    assert system.held() == 2

    shown = cli("outbox")
    assert "pending 0, failed 1" in shown.stdout
    assert bad in shown.stdout and "failed" in shown.stdout and "address 1" in shown.stdout
    data = json.loads(cli("outbox", "--json").stdout)
    assert [(e["id"], e["state"]) for e in data["entries"]] == [(bad, "failed")]
    assert "javascript" not in shown.stdout  # the outbox never shows report content

    requeued = cli("outbox", "--requeue-failed")
    assert "requeued 1" in requeued.stdout and "pending 1, failed 0" in requeued.stdout
    assert outbox.stats()["outbox_pending"] == 1
    outbox.close()


def test_intake_refuses_to_start_with_a_bad_setting_and_names_it(tmp_path, keypair):
    env = {
        **os.environ,
        "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db",
        "IWF_INTAKE_PRIVATE_KEY": keypair[0],
        "IWF_INTAKE_PARTNERS": "{not json",
    }
    result = subprocess.run(
        [sys.executable, "-m", "iwf_widget.cli", "intake", "--port", "9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "IWF_INTAKE_PARTNERS" in result.stderr


def test_a_batch_the_intake_cannot_parse_is_halved_until_the_culprit_is_alone(system):
    system.start_intake()
    url = system.widget_env["IWF_WIDGET_OUTBOX_URL"]
    good = fill_outbox(url, system.public, 7, "e")
    outbox = Outbox(url)
    poison = "f" * 32
    outbox.accept(poison, PARTNER, os.urandom(60 * 1024), poison, 4e9)  # larger than a sealed report may be
    forwarder = Forwarder(partner_settings(system), outbox)
    summary = forwarder.run_once()
    forwarder.stop()
    assert (summary["accepted"], summary["rejected"], summary["error"]) == (7, 1, None)
    [failed] = outbox.entries("failed")
    assert failed["id"] == poison and "HTTP 400" in failed["last_error"]
    assert {r["id"] for r in system.export()} == set(good)
    outbox.close()
