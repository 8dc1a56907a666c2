"""How fast does a backlog drain into the intake?

Fills an outbox with N sealed reports (as after an intake outage), starts a
reference intake as its own process (waitress, real HTTP on loopback, SQLite),
runs the forwarder until the outbox is empty, checks that the intake holds
every report exactly once, and prints reports per second.

    python bench/drain.py                 # 10,000 reports
    python bench/drain.py --n 2000 --json # the last line is one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

import httpx
import sqlalchemy as sa

from iwf_widget.forwarder import Forwarder
from iwf_widget.outbox import Outbox, minute
from iwf_widget.outbox import reports as outbox_reports
from iwf_widget.sealing import Sealer, generate_keypair
from iwf_widget.settings import Settings

PARTNER = "bench-partner"
KEY = "bench-signing-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(outbox: Outbox, public_key: str, n: int) -> None:
    """N reports like real ones (1-3 addresses, sometimes a description), sealed, in a few transactions."""
    sealer = Sealer(public_key)
    rng = random.Random(7)
    created = minute()
    rows = []
    for i in range(n):
        rid = f"{i:032x}"
        report = {
            "v": 1,
            "id": rid,
            "partner": PARTNER,
            "locale": rng.choice(["en", "fr", "ar", "sw"]),
            "created": created,
            "urls": [
                f"https://images.example.com/gallery/{i}/{k}.html?page={rng.randint(1, 99)}"
                for k in range(rng.randint(1, 3))
            ],
            "content_kind": rng.choice(["images", "videos", "generated", "unsure"]),
            "where_seen": rng.choice(["website", "social", "forum", "search", "other"]),
            "description": "Seen in a forum thread linked from a chat group." if i % 3 == 0 else "",
            "contact_email": "",
        }
        rows.append(
            {
                "id": rid,
                "partner": PARTNER,
                "created": created,
                "sealed": sealer.seal(report),
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": 0.0,
            }
        )
        if len(rows) == 1000:
            _insert(outbox, rows)
            rows = []
    if rows:
        _insert(outbox, rows)


def _insert(outbox: Outbox, rows: list[dict]) -> None:
    with outbox.engine.begin() as conn:
        conn.execute(outbox_reports.insert(), rows)


def start_intake(folder: str, private_key: str, port: int, threads: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "IWF_INTAKE_DB_URL": f"sqlite:///{folder}/intake.db",
        "IWF_INTAKE_PRIVATE_KEY": private_key,
        "IWF_INTAKE_PARTNERS": json.dumps({PARTNER: [KEY]}),
    }
    log = open(os.path.join(folder, "intake.log"), "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "iwf_widget.cli",
            "intake",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--threads",
            str(threads),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the intake did not start; see " + os.path.join(folder, "intake.log"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="reports in the backlog (default 10,000)")
    parser.add_argument("--batch-size", type=int, default=None, help="reports a request (default: the setting's)")
    parser.add_argument("--intake-threads", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="end with one JSON object on the last line")
    args = parser.parse_args()

    private, public = generate_keypair()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="iwf-drain-") as folder:
        config = {
            "IWF_WIDGET_PARTNER_ID": PARTNER,
            "IWF_WIDGET_INTAKE_URL": f"http://127.0.0.1:{port}",
            "IWF_WIDGET_SIGNING_KEY": KEY,
            "IWF_WIDGET_INTAKE_PUBLIC_KEY": public,
            "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{folder}/outbox.db",
        }
        if args.batch_size:
            config["IWF_WIDGET_BATCH_SIZE"] = str(args.batch_size)
        settings = Settings.from_mapping(config, folder)
        outbox = Outbox(settings.outbox_url)
        t0 = time.perf_counter()
        fill(outbox, public, args.n)
        filled = time.perf_counter() - t0
        intake = start_intake(folder, private, port, args.intake_threads)
        try:
            forwarder = Forwarder(settings, outbox)
            errors = 0
            start = time.perf_counter()
            while True:
                summary = forwarder.run_once()
                if summary["error"]:
                    errors += 1
                    time.sleep(min(summary["retry_in"], 1.0))
                elif not summary["claimed"]:
                    break
            seconds = time.perf_counter() - start
            forwarder.stop()
        finally:
            intake.terminate()
            intake.wait(30)
        with outbox.engine.connect() as conn:
            left = conn.execute(sa.select(sa.func.count()).select_from(outbox_reports)).scalar()
        with sqlite3.connect(os.path.join(folder, "intake.db")) as db:
            held, distinct = db.execute("SELECT count(*), count(DISTINCT id) FROM iwf_intake_reports").fetchone()
        outbox.close()

    rate = args.n / seconds if seconds else float("inf")
    print(f"filled an outbox with {args.n} sealed reports in {filled:.1f} s")
    print(
        f"drained {args.n} reports in {seconds:.2f} s: {rate:,.0f} reports/s "
        f"(batches of {settings.batch_size}, {errors} failed requests)"
    )
    print(f"intake holds {held} ({distinct} distinct); outbox left {left}")
    ok = held == distinct == args.n and left == 0
    if not ok:
        print("MISMATCH: the intake should hold every report exactly once and the outbox be empty")
    if args.json:
        print(
            json.dumps(
                {
                    "drain_reports": args.n,
                    "drain_seconds": round(seconds, 3),
                    "drain_reports_per_s": round(rate, 1),
                    "drain_batch_size": settings.batch_size,
                    "drain_failed_requests": errors,
                    "drain_exactly_once": ok,
                }
            )
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
