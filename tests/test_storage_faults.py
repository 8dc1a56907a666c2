"""The partner's outbox under storage faults: wrong clocks, held locks, failing writes, prying users.

Real SQLite files throughout; a write lock held by another process; real
``iwf-widget serve`` and ``iwf-widget intake`` processes where forwarding is
part of the fault; libfaketime for a partner whose clock was wrong.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.locks import held_lock
from support.procs import PARTNER, ROOT, System, wait_until

from iwf_widget import migrations
from iwf_widget.db import create_engine
from iwf_widget.outbox import Outbox, forward_state, spent_tokens
from iwf_widget.outbox import reports as outbox_reports
from iwf_widget.sealing import Sealer

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
needs_faketime = pytest.mark.skipif(
    not FAKETIME.exists() or shutil.which("faketime") is None, reason="libfaketime is not installed"
)


@pytest.fixture
def system(tmp_path, keypair):
    s = System(tmp_path, keypair)
    yield s
    s.stop_all()


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iwf_widget.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def outbox_json(env: dict[str, str]) -> dict[str, t.Any]:
    """``iwf-widget outbox --json``, as an operator reads it."""
    done = cli(env, "outbox", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def sealed_report(public_key: str, report_id: str, url: str) -> bytes:
    return Sealer(public_key).seal(
        {
            "v": 1,
            "id": report_id,
            "partner": PARTNER,
            "locale": "en",
            "created": 1767225600,
            "urls": [url],
            "content_kind": "images",
            "where_seen": "website",
            "description": "",
            "contact_email": "",
        }
    )


def whole_minutes(values: t.Iterable[float | None]) -> bool:
    return all(v is None or float(v) % 60 == 0 for v in values)


# -- revision 0002 -------------------------------------------------------------------


def test_upgrading_an_outbox_from_0001_keeps_its_queued_reports_and_rounds_its_times(system):
    """Reports queued under revision 0001, with times to the microsecond, are all delivered once."""
    url = system.widget_env["IWF_WIDGET_OUTBOX_URL"]
    engine = create_engine(url)
    with engine.begin() as conn:
        migrations._run(conn, migrations.OUTBOX, "0001")
    now = time.time()
    rows = [
        # never tried; retried twice (due a few seconds ago); leased by a forwarder that died
        {"id": "a" * 32, "attempts": 0, "next_attempt_at": 0.0, "lease_owner": None, "lease_until": None},
        {"id": "b" * 32, "attempts": 2, "next_attempt_at": now - 5.123456, "lease_owner": None, "lease_until": None},
        {
            "id": "c" * 32,
            "attempts": 1,
            "next_attempt_at": now - 300.5,
            "lease_owner": "gone:1:ab",
            "lease_until": now - 120.25,
        },
    ]
    with engine.begin() as conn:
        conn.execute(
            outbox_reports.insert(),
            [
                {
                    **r,
                    "partner": PARTNER,
                    "created": 1767225600,
                    "state": "pending",
                    "last_error": None,
                    "sealed": sealed_report(system.public, r["id"], f"https://example.com/upgrade/{r['id'][0]}"),
                }
                for r in rows
            ],
        )
        conn.execute(
            outbox_reports.insert().values(
                id="d" * 32,
                partner=PARTNER,
                created=1767225600,
                state="failed",
                attempts=3,
                next_attempt_at=now + 0.5,
                sealed=b"not sealed",
                last_error="rejected by the intake: kept for a person to look at",
            )
        )
        conn.execute(spent_tokens.insert().values(nonce="n" * 32, expires=now + 3000.75, outcome="report:" + "a" * 32))
        conn.execute(forward_state.insert().values(name="last_success", value=now - 42.4242))
    engine.dispose()

    upgraded = Outbox(url)
    (line,) = upgraded.migrated
    assert line.startswith(f"outbox: upgraded 0001 -> {migrations.head(migrations.OUTBOX)} (0002, ")
    with upgraded.engine.connect() as conn:
        kept = {r.id: r for r in conn.execute(sa.select(outbox_reports))}
        expires = conn.execute(sa.select(spent_tokens.c.expires)).scalars().all()
        state = conn.execute(sa.select(forward_state.c.value)).scalars().all()
    upgraded.close()
    assert set(kept) == {"a" * 32, "b" * 32, "c" * 32, "d" * 32}
    assert [kept[r["id"]].attempts for r in rows] == [0, 2, 1] and kept["d" * 32].state == "failed"
    assert all(r.retry_delay is None for r in kept.values())
    assert whole_minutes([r.next_attempt_at for r in kept.values()] + [r.lease_until for r in kept.values()])
    assert whole_minutes(expires) and expires[0] >= now + 3000.75  # an expiry only ever later
    assert whole_minutes(state) and state[0] <= now - 42.4242

    system.start_intake()
    system.start_widget()
    assert wait_until(lambda: system.held() == 3, timeout=30), system.procs["widget"].output()
    stored = system.export()
    assert sorted(r["id"] for r in stored) == ["a" * 32, "b" * 32, "c" * 32]  # each once
    box = outbox_json(system.widget_env)
    assert (box["outbox_pending"], box["outbox_failed"]) == (0, 1)


# -- wrong clocks ----------------------------------------------------------------------


def test_a_retry_time_or_lease_further_ahead_than_it_could_be_set_is_not_waited_for(tmp_path):
    box = Outbox(f"sqlite:///{tmp_path}/outbox.db")
    for i in range(3):
        assert box.accept(f"{i}" * 32, PARTNER, b"sealed", f"n{i}", time.time() + 600) is None
    assert len(box.claim("first", 10, 30)) == 3
    box.retry(["0" * 32, "1" * 32], "first", "intake down", 300.0)
    # What a clock an hour fast left behind: a 5 minute retry set for an hour and 5 minutes from
    # now, and a lease of the third report (its forwarder killed) until two hours from now.
    with box.engine.begin() as conn:
        conn.execute(
            outbox_reports.update()
            .where(outbox_reports.c.id == "0" * 32)
            .values(next_attempt_at=outbox_reports.c.next_attempt_at + 3600)
        )
        conn.execute(
            outbox_reports.update().where(outbox_reports.c.id == "2" * 32).values(lease_until=time.time() + 7200)
        )
    claimed = {p.id for p in box.claim("second", 10, 30)}
    assert claimed == {"0" * 32, "2" * 32}  # the honest 5 minute retry of the second one is still waited for
    box.close()


@needs_faketime
def test_reports_retried_under_a_clock_an_hour_fast_go_at_once_when_it_is_corrected(system):
    plain = dict(system.widget_env)
    system.widget_env.update(
        LD_PRELOAD=str(FAKETIME), FAKETIME="+1h", FAKETIME_DONT_FAKE_MONOTONIC="1", FAKETIME_NO_CACHE="1"
    )
    system.start_widget()  # the intake is down: every attempt is retried, by the fast clock
    references = {system.submit(f"https://example.com/fast/{i}") for i in range(3)}
    assert wait_until(lambda: all(e["attempts"] >= 1 for e in outbox_json(plain)["entries"]), timeout=20)
    system.procs.pop("widget").stop()
    system.widget_env = plain

    box = outbox_json(plain)  # read with the right clock
    assert box["outbox_pending"] == 3 and box["outbox_pending_future"] == 3
    assert box["oldest_pending_age_s"] >= 60  # not 0, although the creation minute is ahead
    assert all(e["next_attempt_at"] == 0 for e in box["entries"])  # due now, not in an hour
    shown = cli(plain, "outbox").stdout
    assert "3 pending report(s) dated in the future" in shown and "next try in" not in shown

    system.start_intake()
    system.start_widget()
    assert wait_until(lambda: system.held() == 3, timeout=20), system.procs["widget"].output()
    assert {r["reference"] for r in system.export()} == references
    assert wait_until(lambda: outbox_json(plain)["outbox_pending"] == 0, timeout=10)


# -- readers never wait for writers ------------------------------------------------------


def outbox_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{tmp_path}/outbox.db"}


def test_health_and_the_outbox_command_answer_while_another_process_holds_the_write_lock(tmp_path, client, submit):
    for _ in range(2):
        assert submit().status_code == 200
    with held_lock(tmp_path / "outbox.db") as lock:
        health = client.get("/report/healthz")
        assert health.status_code == 200 and health.get_json()["outbox_pending"] == 2
        done = cli(outbox_env(tmp_path), "outbox", "--json", timeout=20)  # a writer's wait would be 30 s
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["outbox_pending"] == 2
        assert "pending 2" in cli(outbox_env(tmp_path), "outbox", timeout=20).stdout
        assert lock.holding  # all of it answered while the lock was held


@pytest.mark.slow  # waits on real locks, workers or a large body: not in --fast
def test_health_and_the_outbox_command_fail_fast_in_one_line_when_even_reading_is_locked_out(
    tmp_path, app, client, submit
):
    assert submit().status_code == 200
    box = app.extensions["iwf_widget"].outbox
    box.engine.dispose(), box.reads.dispose()  # idle connections would keep the lock from being taken
    with held_lock(tmp_path / "outbox.db", exclusive=True) as lock:
        health = client.get("/report/healthz")
        assert health.status_code == 503
        assert health.get_json() == {
            "status": "unavailable",
            "reason": "the outbox cannot be read (OperationalError: database is locked)",
        }
        done = cli(outbox_env(tmp_path), "outbox", "--json", timeout=20)
        assert done.returncode != 0 and done.stdout == ""
        [line] = done.stderr.strip().splitlines()  # one line, no traceback
        assert "database is locked" in line and "another process" in line
        requeue = cli(outbox_env(tmp_path), "outbox", "--requeue-failed", timeout=30)
        assert requeue.returncode != 0 and len(requeue.stderr.strip().splitlines()) == 1
        assert lock.holding
    assert client.get("/report/healthz").get_json()["status"] == "ok"


@pytest.mark.slow  # waits on real locks, workers or a large body: not in --fast
def test_requeueing_waits_a_few_seconds_for_a_held_write_lock_then_says_so_in_one_line(tmp_path, client, submit):
    assert submit().status_code == 200
    with held_lock(tmp_path / "outbox.db") as lock:
        requeue = cli(outbox_env(tmp_path), "outbox", "--requeue-failed", timeout=25)
        assert requeue.returncode == 1
        assert requeue.stderr.strip() == (
            "Error: cannot write to the outbox (OperationalError: database is locked); "
            "another process holds the outbox's write lock: try again"
        )
        assert lock.holding
    assert "requeued 0" in cli(outbox_env(tmp_path), "outbox", "--requeue-failed").stdout


# -- health tells the truth ------------------------------------------------------------


def send(system: System, url: str) -> int:
    """One report through the form; the status the person's browser gets."""
    page = system.http.get(f"{system.widget_url}/form").text
    token = re.search(r'name="iwf_token" value="([^"]+)"', page).group(1)
    return system.http.post(
        f"{system.widget_url}/form",
        data={
            "iwf_token": token,
            "urls": url,
            "content_kind": "images",
            "where_seen": "website",
            "description": "",
            "contact_email": "",
            "homepage": "",
        },
    ).status_code


def health(system: System) -> tuple[int, dict[str, t.Any]]:
    answer = system.http.get(f"{system.widget_url}/healthz")
    return answer.status_code, answer.json()


def log_lines(system: System, name: str, pattern: str) -> list[str]:
    return [
        line
        for line in (system.tmp / f"{name}.log").read_text(errors="replace").splitlines()
        if re.search(pattern, line)
    ]


def test_widget_health_is_degraded_while_writes_fail_and_ok_after_the_next_that_succeeds(system):
    system.start_intake()
    (system.tmp / "outbox.db-writers").mkdir()  # the writers' lock file cannot be made (as with no inodes left)
    system.start_widget()
    assert health(system)[0] == 200

    assert [send(system, f"https://example.com/unsaved/{i}") for i in range(3)] == [503, 503, 503]
    status, body = health(system)
    assert status == 503 and body["status"] == "degraded"
    assert body["reason"] == "storing reports failed (IsADirectoryError: Is a directory)"
    assert body["outbox_pending"] == 0  # the figures are still there
    [line] = log_lines(system, "widget", "outbox write failed")  # three failures, one line
    assert "IsADirectoryError: Is a directory" in line and not log_lines(system, "widget", "Traceback")

    (system.tmp / "outbox.db-writers").rmdir()
    saved = system.submit("https://example.com/saved/0")
    status, body = health(system)
    assert (status, body["status"]) == (200, "ok")  # the write that succeeded cleared it
    assert wait_until(lambda: system.held() == 1, timeout=20)
    assert [r["reference"] for r in system.export()] == [saved]  # sent 4, thanked 1, stored 1

    with sqlite3.connect(system.tmp / "outbox.db") as db:  # now the forwarder's writes fail
        db.execute(
            "CREATE TRIGGER full BEFORE UPDATE ON iwf_outbox BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    saved = system.submit("https://example.com/saved/1")
    degraded = wait_until(lambda: (lambda h: h if h[0] == 503 else None)(health(system)), timeout=20)
    assert degraded and degraded[1]["reason"].startswith("recording forwarding in the outbox failed (")
    assert "database or disk is full" in degraded[1]["reason"]
    with sqlite3.connect(system.tmp / "outbox.db") as db:
        db.execute("DROP TRIGGER full")
    assert wait_until(lambda: system.held() == 2, timeout=30)
    assert wait_until(lambda: health(system)[0] == 200, timeout=10)
    assert saved in {r["reference"] for r in system.export()} and len(system.export()) == 2


def test_a_failed_write_counts_for_five_minutes_unless_one_of_its_kind_succeeds_first():
    from iwf_widget.writehealth import DEGRADED_FOR, FORWARDING, STORING, WriteHealth

    now = [1000.0]
    writes = WriteHealth(clock=lambda: now[0])
    assert writes.degraded() is None
    writes.failed(STORING, OSError(28, "No space left on device"))
    writes.failed(FORWARDING, OSError(28, "No space left on device"))
    assert writes.degraded() == (
        "recording forwarding in the outbox failed (OSError: No space left on device); "
        "storing reports failed (OSError: No space left on device)"
    )
    writes.succeeded(FORWARDING)  # a success clears its own kind only
    assert writes.degraded() == "storing reports failed (OSError: No space left on device)"
    now[0] += DEGRADED_FOR + 1
    assert DEGRADED_FOR == 300 and writes.degraded() is None


# -- minute precision, and housekeeping that cannot change what a person is told ------------


TIME_COLUMNS = {
    "iwf_outbox": ("created", "next_attempt_at", "lease_until"),
    "iwf_spent_tokens": ("expires",),
    "iwf_forward_state": ("value",),
}


def stored_times(path: Path) -> dict[str, list[float]]:
    with sqlite3.connect(path) as db:
        return {
            f"{table}.{column}": [r[0] for r in db.execute(f"SELECT {column} FROM {table}")]
            for table, columns in TIME_COLUMNS.items()
            for column in columns
        }


def test_nothing_in_the_outbox_or_the_health_check_is_finer_than_the_minute(system):
    system.start_intake(faulty=True)
    system.start_widget()
    system.submit("https://example.com/minute/0")
    assert wait_until(lambda: system.held() == 1, timeout=20)
    system.set_intake_mode("proxy_400")  # the next ones are retried, and a lease taken for each try
    for i in range(1, 4):
        system.submit(f"https://example.com/minute/{i}")
    page = system.http.get(f"{system.widget_url}/form").text  # a bot's post spends its token too
    token = re.search(r'name="iwf_token" value="([^"]+)"', page).group(1)
    assert system.http.post(f"{system.widget_url}/form", data={"iwf_token": token, "homepage": "x"}).status_code == 400
    assert wait_until(lambda: all(e["attempts"] >= 2 for e in outbox_json(system.widget_env)["entries"]), timeout=20)

    leases: list[float] = []  # caught while the forwarder holds them
    end = time.monotonic() + 5
    while time.monotonic() < end and len(leases) < 3:
        leases += [v for v in stored_times(system.tmp / "outbox.db")["iwf_outbox.lease_until"] if v is not None]
    times = stored_times(system.tmp / "outbox.db")
    assert len(times["iwf_outbox.created"]) == 3 and len(times["iwf_spent_tokens.expires"]) == 5
    assert any(times["iwf_outbox.next_attempt_at"]) and leases
    assert {k: v for k, v in times.items() if not whole_minutes(v)} == {}
    assert whole_minutes(leases)

    status, body = health(system)
    assert status == 200 and body["outbox_pending"] == 3
    assert whole_minutes([body["last_forward_at"], body["last_attempt_at"], body["oldest_pending_age_s"]])
    assert body["last_forward"].endswith(":00Z") and body["last_attempt"].endswith(":00Z")
    assert body["oldest_pending_age_s"] >= 60


def test_storing_a_report_does_no_housekeeping_after_its_commit_the_forwarder_purges_once_a_minute(app, client, submit):
    from iwf_widget.forwarder import Forwarder

    state = app.extensions["iwf_widget"]
    box = state.outbox
    with box.engine.begin() as conn:
        conn.execute(spent_tokens.insert(), [{"nonce": "expired", "expires": 60.0, "outcome": "refused:honeypot"}])
        # Purging would fail (as a busy or failing disk makes it): storing must not notice.
        conn.exec_driver_sql(
            "CREATE TRIGGER nopurge BEFORE DELETE ON iwf_spent_tokens BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    for _ in range(3):
        assert submit().status_code == 200  # thanked, and stored
    assert box.stats()["outbox_pending"] == 3
    assert client.get("/report/healthz").status_code == 200

    forwarder = Forwarder(state.settings, box)  # its intake does not answer: housekeeping happens anyway
    try:
        forwarder.run_once()
        assert client.get("/report/healthz").get_json()["reason"].startswith("purging spent tokens failed (")
        with box.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER nopurge")
        forwarder.run_once()  # within the minute: no second purge
        assert box.spent("expired") is None and box._outcome("expired") == "refused:honeypot"
        forwarder._purged_at -= 61  # a minute later
        forwarder.run_once()
        assert box._outcome("expired") is None
        assert client.get("/report/healthz").get_json()["status"] == "ok"
    finally:
        forwarder.stop()
    assert box.stats()["outbox_pending"] == 3


def test_a_lease_of_a_forwarder_killed_mid_send_is_released_at_the_next_start_not_at_its_minute(system):
    system.start_intake(faulty=True)
    system.set_intake_mode("sleep_before", seconds=30)  # every send hangs until the forwarder gives up
    system.start_widget()
    reference = system.submit("https://example.com/leased/0")

    def leased() -> bool:
        with sqlite3.connect(system.tmp / "outbox.db") as db:
            return db.execute("SELECT count(*) FROM iwf_outbox WHERE lease_owner IS NOT NULL").fetchone()[0] == 1

    assert wait_until(leased, timeout=20, every=0.02)
    system.kill("widget")  # kill -9 while the report is leased, to the end of a minute or later
    assert leased()

    system.set_intake_mode("ok")
    system.start_widget()
    assert wait_until(lambda: system.held() == 1, timeout=20)
    assert [r["reference"] for r in system.export()] == [reference]
    assert log_lines(system, "widget", r"released 1 report\(s\) leased by forwarder\(s\) no longer running")


# -- private files -------------------------------------------------------------------------


MAKE_FILES = r"""
import json, os, stat, sys, time
os.umask(int(sys.argv[2], 8))
from iwf_widget.demo import demo_keys
from iwf_widget.outbox import Outbox

base = sys.argv[1]
box = Outbox(f"sqlite:///{base}/instance/data/outbox.db")
box.accept("a" * 32, "test-partner", b"sealed", "nonce", time.time() + 600)  # the WAL, its index, the lock file
demo_keys(f"{base}/demo")
paths = [f"{base}/instance", f"{base}/instance/data"] + [
    f"{base}/instance/data/outbox.db{end}" for end in ("", "-wal", "-shm", "-writers")
] + [f"{base}/demo", f"{base}/demo/keys.json"]
print(json.dumps({p[len(base) + 1:]: oct(stat.S_IMODE(os.stat(p).st_mode)) for p in paths}))
box.close()
"""


@pytest.mark.parametrize("umask", ["022", "000"])
def test_the_outbox_its_journals_and_the_key_files_are_private_whatever_the_umask(tmp_path, keypair, umask):
    made = subprocess.run(
        [sys.executable, "-c", MAKE_FILES, str(tmp_path), umask],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) == {
        "instance": "0o700",
        "instance/data": "0o700",
        "instance/data/outbox.db": "0o600",
        "instance/data/outbox.db-wal": "0o600",
        "instance/data/outbox.db-shm": "0o600",
        "instance/data/outbox.db-writers": "0o600",
        "demo": "0o700",
        "demo/keys.json": "0o600",
    }

    settings = tmp_path / "etc" / "iwf" / "partner.env"  # a folder that does not exist yet
    init = subprocess.run(
        [
            "sh",
            "-c",
            f'umask {umask}; exec "$@"',
            "sh",
            sys.executable,
            "-m",
            "iwf_widget.cli",
            "init",
            "--partner-id",
            PARTNER,
            "--intake-url",
            "https://intake.example",
            "--intake-public-key",
            keypair[1],
            "--allowed-origins",
            "https://partner.example",
            "--widget-url",
            "https://partner.example/report",
            "-o",
            str(settings),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert init.returncode == 0, init.stderr
    modes = {p: oct(stat.S_IMODE(p.stat().st_mode)) for p in (tmp_path / "etc", settings.parent, settings)}
    assert modes == {tmp_path / "etc": "0o700", settings.parent: "0o700", settings: "0o600"}


def test_an_intake_database_at_0001_upgrades_with_its_reports_intact_and_its_files_private(tmp_path):
    from iwf_widget.intake.store import Store, reports

    url = f"sqlite:///{tmp_path}/data/intake.db"
    engine = create_engine(url)
    with engine.begin() as conn:
        migrations._run(conn, migrations.INTAKE, "0001")
        conn.execute(
            reports.insert(),
            [
                {
                    "id": f"{n:032x}",
                    "partner": PARTNER,
                    "locale": "fr",
                    "created": 1767225600,
                    "received": 1767225600,
                    "urls": "[]",
                    "content_kind": "videos",
                    "where_seen": "forum",
                    "description": "",
                    "contact_email": "",
                }
                for n in range(3)
            ],
        )
    engine.dispose()
    store = Store(url)
    assert store.migrated == [f"intake: upgraded 0001 -> {migrations.head(migrations.INTAKE)} (0002, 0003)"]
    assert [r["id"] for r in store.export()] == [f"{n:032x}" for n in range(3)]
    # Revision 0003 gave each stored report its reference: an outcome can be set by it.
    from iwf_widget.reference import for_report

    assert store.find(for_report(f"{2:032x}").replace("-", "")) == (PARTNER, f"{2:032x}")
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in [tmp_path / "data", *(tmp_path / "data").iterdir()]}
    store.close()
    assert modes["data"] == "0o700" and modes["intake.db"] == "0o600"
    assert all(mode == "0o600" for name, mode in modes.items() if name != "data")
