"""The widget's benchmark: sizes, form pages, submissions, forwarding, end to end, memory.

Starts everything on loopback (the widget, a conventional Flask-WTF + Flask-Babel
baseline and a bare-Flask ceiling under gunicorn with two workers, a reference
intake), drives it with a bounded load generator (wrk when installed, else an
asyncio client), stops it, and prints a table; with ``--json``, the last line
is one JSON object.

    python bench/run.py              # the full run (a few minutes; figures are medians of --runs)
    python bench/run.py --quick      # under 50 seconds on 2 cores
    python bench/run.py --quick --json

It needs the ``bench`` extra (``pip install '.[bench]'``: gunicorn, Flask-WTF,
Flask-Babel) and installs it into the running environment when it is missing,
unless ``--no-install``. See docs/PERFORMANCE.md for what each figure means.
"""

from __future__ import annotations

import argparse
import base64
import configparser
import gzip
import html
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
import urllib.parse
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

#: The bench extra, for when setup.cfg is not beside this file.
BENCH_EXTRA = ["gunicorn>=22", "flask-wtf>=1.2", "flask-babel>=4"]
BENCH_MODULES = ("gunicorn", "flask_wtf", "flask_babel")

PARTNER = "bench-partner"
KEY = "bench-signing-key-0123456789abcdef"
LANG = "fr"  # a translated page: the catalogs are part of the cost
#: The proof-of-work the bench's client solves per report. The server's cost (issue one
#: challenge, verify one solution) does not depend on it; a browser's does.
WORK_DIFFICULTY = 50
WORKERS = 2
THREADS = 4
#: Forms fetched ahead for each second of submissions: more than the widget can accept.
FORMS_PER_SUBMIT_SECOND = 2000
#: Long enough for the junk to come from well over 1,000 addresses even on a slow machine.
FLOOD_MIN_SECONDS = 5.0


@dataclass
class Plan:
    get_seconds: float
    warmup_seconds: float
    submit_seconds: float
    connections: int
    drain_reports: int
    e2e_reports: int
    e2e_rate: float
    raw_seconds: float
    runs: int


QUICK = Plan(
    get_seconds=3,
    warmup_seconds=2,
    submit_seconds=3,
    connections=16,
    drain_reports=3000,
    e2e_reports=60,
    e2e_rate=30.0,
    raw_seconds=1.5,
    runs=1,
)
FULL = Plan(
    get_seconds=10,
    warmup_seconds=4,
    submit_seconds=10,
    connections=16,
    drain_reports=10_000,
    e2e_reports=600,
    e2e_rate=40.0,
    raw_seconds=5.0,
    runs=3,
)


# -- setting up ---------------------------------------------------------------


def ensure_bench_extra(install: bool) -> None:
    missing = [m for m in BENCH_MODULES if importlib.util.find_spec(m) is None]
    if not missing:
        return
    requirements = _bench_requirements()
    if not install:
        raise SystemExit(f"the bench extra is missing ({', '.join(missing)}): pip install '.[bench]'")
    log(f"installing the bench extra: pip install {' '.join(requirements)}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *requirements], check=True)
    importlib.invalidate_caches()


def _bench_requirements() -> list[str]:
    parser = configparser.ConfigParser()
    if parser.read(os.path.join(ROOT, "setup.cfg")) and parser.has_option("options.extras_require", "bench"):
        lines = parser.get("options.extras_require", "bench").splitlines()
        found = [line.split("#")[0].strip() for line in lines]
        if any(found):
            return [line for line in found if line]
    return BENCH_EXTRA


_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:5.1f} s] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 30) -> str | None:
    """None once ``url`` answers, else why it did not."""
    import httpx

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            return f"exited at start ({proc.returncode})"
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return None
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return f"did not start within {seconds:.0f} s"


class Server:
    """One app under gunicorn: two workers, the same settings for every app."""

    def __init__(self, name: str, app: str, folder: str, env: dict[str, str]) -> None:
        self.name = name
        # Bound here and handed to gunicorn, so no other process can take the port between
        # choosing it and gunicorn binding it, as it could with free_port().
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._up = False
        self.log_path = os.path.join(folder, f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(WORKERS),
                "--worker-class",
                "gthread",
                "--threads",
                str(THREADS),
                "--bind",
                f"fd://{self._socket.fileno()}",
                "--chdir",
                folder,
                "--pythonpath",
                HERE,
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
                app,
            ],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            pass_fds=(self._socket.fileno(),),
        )

    def start(self, path: str) -> Server:
        problem = wait_for(self.url + path, self.proc)
        if problem:
            self.stop()
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                raise SystemExit(f"{self.name} {problem}:\n{f.read()[-2000:]}")
        log(f"{self.name} is up")
        self._up = True
        return self

    def peak_rss_mb(self) -> float:
        """The largest peak resident size (VmHWM) among the workers, in MB."""
        peaks = [_vm_hwm(pid) for pid in _children(self.proc.pid)]
        return max(peaks, default=0.0) / 1024

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        elif self._up:  # it ended after start-up: whatever failed next needs its reason
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                log(f"{self.name} had exited ({self.proc.returncode}):\n{f.read()[-2000:]}")
        self._log.close()
        self._socket.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _vm_hwm(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def widget_env(folder: str, public_key: str, intake_url: str, outbox: str, forwarder: bool) -> dict[str, str]:
    return {
        "IWF_WIDGET_PARTNER_ID": PARTNER,
        "IWF_WIDGET_INTAKE_URL": intake_url,
        "IWF_WIDGET_SIGNING_KEY": KEY,
        "IWF_WIDGET_INTAKE_PUBLIC_KEY": public_key,
        "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{os.path.join(folder, outbox)}",
        "IWF_WIDGET_RATE_LIMIT": "off",
        "IWF_WIDGET_PARTNER_RATE_LIMIT": "off",
        "IWF_WIDGET_MIN_FILL_SECONDS": "0",
        "IWF_WIDGET_WORK_DIFFICULTY": str(WORK_DIFFICULTY),
        "IWF_WIDGET_FORWARDER": "on" if forwarder else "off",
        "IWF_WIDGET_INSTANCE": folder,
    }


# -- sizes --------------------------------------------------------------------


def gz(body: bytes) -> int:
    return len(gzip.compress(body, 9))


def sizes(base: str) -> dict[str, t.Any]:
    """The snippet, and the form document with everything it loads, gzipped; the largest language counts."""
    import httpx

    from iwf_widget.i18n import LOCALES

    out: dict[str, t.Any] = {}
    with httpx.Client(base_url=base, timeout=10) as client:
        out["embed_js_gzip_bytes"] = gz(client.get("/report/embed.js").content)
        largest = (0, "", 0, 0)
        third_party = 0
        for lang in LOCALES:
            page = client.get(f"/report/form?lang={lang}").text
            refs = re.findall(r'<(?:link|script)\b[^>]*?(?:href|src)="([^"]+)"', page)
            refs += re.findall(r'data-iwf-pow-worker="([^"]+)"', page)
            own = [html.unescape(r) for r in refs if r.startswith("/") and not r.startswith("//")]
            third_party += len(refs) - len(own)
            total = gz(page.encode("utf-8")) + sum(gz(client.get(r).content) for r in own)
            if total > largest[0]:
                largest = (total, lang, 1 + len(refs), len(page.encode("utf-8")))
    out["form_page_gzip_bytes"], out["form_page_largest_lang"], out["form_page_requests"], _ = largest
    out["form_page_third_party_requests"] = third_party
    return out


# -- load -----------------------------------------------------------------------


def harvest_forms(server: Server, plan: Plan, client: str, harvest: str, forms: int) -> None:
    """Warm the widget up while keeping at least ``forms`` of its forms (token and challenge) in ``harvest``."""
    import load

    url = f"{server.url}/report/form?lang={LANG}"
    load.run(url, plan.warmup_seconds, plan.connections, harvest=harvest, client=client)
    for more in range(max(1, round(plan.warmup_seconds))):  # at most as long again
        if _lines(harvest) >= forms:
            break
        load.run(url, 1, plan.connections, harvest=f"{harvest}.{more}", client=client)
        with open(f"{harvest}.{more}", encoding="utf-8") as src, open(harvest, "a", encoding="utf-8") as out:
            out.write(src.read())


def measure_gets(servers: list[Server], plan: Plan, client: str) -> dict[str, dict[str, t.Any]]:
    """Form GETs per second for each server, measured in turns of one second.

    Taking turns, rather than one server after the other, makes the ratios hold
    even when something else on the machine takes CPU for a while.
    """
    slices: dict[str, list[t.Any]] = {s.name: [] for s in servers}
    turns = max(1, round(plan.get_seconds))
    for turn in range(turns):
        for server in servers[turn % len(servers) :] + servers[: turn % len(servers)]:
            result = load_run(server, 1, plan, client)
            if result.errors:
                log(f"{server.name}: {result.errors} failed requests")
            slices[server.name].append(result)
    out = {}
    for name, results in slices.items():
        seconds = sum(r.seconds for r in results)
        out[name] = {
            "rps": sum(r.requests - r.errors for r in results) / seconds,
            "p50_ms": statistics.median(r.p50_ms for r in results),
            "p99_ms": statistics.median(r.p99_ms for r in results),
            "client": results[0].client,
        }
    return out


def load_run(server: Server, seconds: float, plan: Plan, client: str) -> t.Any:
    import load

    return load.run(f"{server.url}/report/form?lang={LANG}", seconds, plan.connections, client=client)


def _lines(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in f)


def solved_bodies(harvested: str, count: int | None = None, seed: int = 1) -> list[str]:
    """Complete, valid submissions for harvested forms, each with its proof-of-work solved."""
    rng = random.Random(seed)
    bodies = []
    with open(harvested, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if "\t" in line]
    for token, work in rows[:count]:
        answers = {
            "iwf_token": token,
            "urls": "\n".join(
                f"https://images.example.com/gallery/{rng.randrange(10**9)}/{k}.html?page={rng.randint(1, 99)}"
                for k in range(rng.randint(1, 3))
            ),
            "content_kind": rng.choice(["images", "videos", "generated", "unsure"]),
            "where_seen": rng.choice(["website", "social", "forum", "search", "other"]),
            "description": "Seen in a forum thread linked from a chat group." if rng.random() < 0.3 else "",
            "contact_email": "",
            "homepage": "",
        }
        if work:
            answers["iwf_pow"] = _solve(json.loads(html.unescape(work)))
        bodies.append(urllib.parse.urlencode(answers))
    return bodies


def _solve(challenge: dict[str, t.Any]) -> str:
    import altcha

    found = altcha.solve_challenge_v1(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxNumber"]
    )
    payload = {k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")}
    payload["number"] = found.number
    return base64.b64encode(json.dumps(payload).encode()).decode()


def measure_submit(server: Server, folder: str, harvested: str, plan: Plan, client: str, private_key: str) -> dict:
    import load

    from iwf_widget.sealing import unseal

    bodies = solved_bodies(harvested)
    path = os.path.join(folder, "bodies.txt")
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(bodies) + "\n")
    outbox = os.path.join(folder, "outbox.db")
    before = _count(outbox, "iwf_outbox")
    result = load.run(
        f"{server.url}/report/form?lang={LANG}", plan.submit_seconds, plan.connections, bodies=path, client=client
    )
    time.sleep(0.2)  # answers in flight when the load stopped
    stored = _count(outbox, "iwf_outbox") - before
    accepted = result.requests - result.errors
    with sqlite3.connect(outbox) as db:
        sample = [row[0] for row in db.execute("SELECT sealed FROM iwf_outbox ORDER BY random() LIMIT 20")]
    opened = sum(1 for sealed in sample if unseal(private_key, sealed).get("partner") == PARTNER)
    return {
        "rps": accepted / result.seconds if result.seconds else 0.0,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "accepted": accepted,
        "stored": stored,
        "tokens": len(bodies),
        "exhausted": result.requests >= len(bodies),
        "refused": result.errors,
        "sealed_sample_ok": opened == len(sample) and stored >= accepted,
    }


def _count(db_path: str, table: str) -> int:
    if not os.path.exists(db_path):
        return 0
    with sqlite3.connect(db_path) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def raw_insert_rate(folder: str, seconds: float) -> float:
    """One report-sized row per transaction, WAL and synchronous=FULL, as the outbox writes."""
    path = os.path.join(folder, "raw.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, sealed BLOB NOT NULL)")
    sealed = os.urandom(600)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?, ?)", (os.urandom(16).hex(), sealed))
        db.execute("COMMIT")
        n += 1
    elapsed = time.perf_counter() - start
    db.close()
    return n / elapsed


def measure_drain(n: int) -> dict[str, t.Any]:
    done = subprocess.run(
        [sys.executable, os.path.join(HERE, "drain.py"), "--n", str(n), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"bench/drain.py failed: {(done.stdout + done.stderr)[-500:]}")
    return json.loads(lines[-1])


def measure_e2e(folder: str, private: str, public: str, plan: Plan) -> dict[str, t.Any]:
    """Reports sent at a steady pace to a widget whose forwarder runs; time until the intake holds each."""
    import httpx
    import load
    from drain import start_intake
    from itsdangerous import URLSafeTimedSerializer

    from iwf_widget.tokens import SALT

    intake_port = free_port()
    intake_dir = os.path.join(folder, "e2e")
    os.makedirs(intake_dir)
    intake = start_intake(intake_dir, private, intake_port, 4)
    widget = None
    try:
        widget = Server(
            "widget-e2e",
            "apps:widget()",
            folder,
            widget_env(folder, public, f"http://127.0.0.1:{intake_port}", "outbox-e2e.db", forwarder=True),
        ).start("/report/healthz")
        harvested = os.path.join(folder, "e2e-forms.txt")
        with httpx.Client(base_url=widget.url, timeout=10) as client, open(harvested, "w") as f:
            for _ in range(plan.e2e_reports):
                f.write("\t".join(load.harvest_form(client.get(f"/report/form?lang={LANG}").text) or ()) + "\n")
        bodies = solved_bodies(harvested, seed=2)
        serializer = URLSafeTimedSerializer(KEY, salt=SALT)
        ids = [serializer.loads(urllib.parse.parse_qs(b)["iwf_token"][0])["n"] for b in bodies]
        seen: dict[str, float] = {}
        sent: dict[str, float] = {}
        stop = threading.Event()
        poller = threading.Thread(target=_poll_intake, args=(os.path.join(intake_dir, "intake.db"), seen, stop))
        poller.start()
        failures = 0
        try:
            with httpx.Client(base_url=widget.url, timeout=30) as client:
                start = time.monotonic()
                for i, (rid, body) in enumerate(zip(ids, bodies, strict=True)):
                    pause = start + i / plan.e2e_rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    sent[rid] = time.monotonic()
                    answer = client.post(
                        f"/report/form?lang={LANG}",
                        content=body,
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                    if answer.status_code != 200 or 'id="iwf-reference"' not in answer.text:
                        failures += 1
            end = time.monotonic() + 15
            while time.monotonic() < end and len(seen.keys() & sent.keys()) < len(sent):
                time.sleep(0.01)
        finally:
            stop.set()
            poller.join()
        latencies = sorted((seen[rid] - sent[rid]) * 1000 for rid in sent if rid in seen)
        return {
            "p50_ms": _percentile(latencies, 50),
            "p99_ms": _percentile(latencies, 99),
            "reports": len(sent),
            "arrived": len(latencies),
            "failed": failures,
            "peak_rss_mb": widget.peak_rss_mb(),
        }
    finally:
        if widget is not None:
            widget.stop()
        intake.terminate()
        intake.wait(30)


def _poll_intake(path: str, seen: dict[str, float], stop: threading.Event) -> None:
    while not os.path.exists(path) and not stop.is_set():
        time.sleep(0.005)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    last = 0
    try:
        while not stop.is_set():
            try:
                rows = db.execute(
                    "SELECT rowid, id FROM iwf_intake_reports WHERE rowid > ? ORDER BY rowid", (last,)
                ).fetchall()
            except sqlite3.OperationalError:  # the table is not there yet
                rows = []
            now = time.monotonic()
            for rowid, rid in rows:
                seen.setdefault(rid, now)
                last = rowid
            time.sleep(0.002)
    finally:
        db.close()


def _percentile(values: t.Sequence[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round((len(ordered) - 1) * pct / 100)))]


def measure_flood(folder: str, public: str, plan: Plan, client: str) -> dict[str, t.Any]:
    """Junk from thousands of client addresses at full speed, real reports beside it (bench/flood.py).

    The widget runs with its default rate limits and trusts one proxy, so each junk
    post counts under its own X-Forwarded-For address, as behind a reverse proxy.
    """
    import flood
    import httpx
    import load

    os.makedirs(folder)
    env = widget_env(folder, public, "http://127.0.0.1:9", "outbox-flood.db", False)
    for key in ("IWF_WIDGET_RATE_LIMIT", "IWF_WIDGET_PARTNER_RATE_LIMIT"):
        del env[key]  # the defaults: the figure is about limits junk must not use up
    env["IWF_WIDGET_TRUSTED_PROXIES"] = "1"
    widget = Server("widget-flood", "apps:widget()", folder, env).start("/report/healthz")
    try:
        harvested = os.path.join(folder, "flood-forms.txt")
        seconds = max(FLOOD_MIN_SECONDS, plan.submit_seconds)
        wanted = int(seconds * flood.REAL_PER_SECOND) + 20
        with httpx.Client(base_url=widget.url, timeout=10) as http, open(harvested, "w") as f:
            for _ in range(wanted):
                f.write("\t".join(load.harvest_form(http.get(f"/report/form?lang={LANG}").text) or ()) + "\n")
        bodies = solved_bodies(harvested, seed=3)
        result = flood.run(f"{widget.url}/report/form?lang={LANG}", bodies, seconds, 2 * plan.connections, client)
    finally:
        widget.stop()
    figures = result.figures()
    stored = _count(os.path.join(folder, "outbox-flood.db"), "iwf_outbox")
    figures["flood_junk_stored"] = stored - result.real_accepted
    return figures


# -- one run --------------------------------------------------------------------


def measure_slow3g(folder: str, public: str, samples: int, warm: bool = True) -> dict[str, t.Any]:
    """The first step's time on an emulated slow 3G phone (bench/slow3g.py), or why not."""
    import slow3g

    problem = slow3g.available()
    if problem:
        log(f"slow 3G: not measured ({problem})")
        return {"form_visible_slow3g_ms": None}
    os.makedirs(folder, exist_ok=True)
    port = free_port()
    env = widget_env(folder, public, "http://127.0.0.1:9", "slow3g.db", False)
    env["IWF_WIDGET_ALLOWED_ORIGINS"] = f"http://127.0.0.1:{port}"
    widget = Server("widget-slow3g", "apps:widget()", folder, env).start("/report/healthz")
    try:
        log(f"slow 3G: {samples} page load(s) in Chromium")
        # The widget on "localhost", the partner page on 127.0.0.1: two sites, as in real life.
        return slow3g.measure(widget.url.replace("127.0.0.1", "localhost"), folder, port, samples, warm=warm)
    finally:
        widget.stop()


def one_run(plan: Plan, client: str, folder: str, private: str, public: str, with_sizes: bool) -> dict[str, t.Any]:
    import httpx

    f: dict[str, t.Any] = {}
    os.makedirs(folder)
    widget = Server(
        "widget", "apps:widget()", folder, widget_env(folder, public, "http://127.0.0.1:9", "outbox.db", False)
    ).start("/report/healthz")
    others: list[Server] = []
    try:
        if with_sizes:
            f.update(sizes(widget.url))
        with open(os.path.join(folder, "page.html"), "wb") as out:
            out.write(httpx.get(f"{widget.url}/report/form?lang={LANG}").content)
        # The ceiling serves the widget's own page, byte for byte.
        others = [
            Server("ceiling", "apps:ceiling()", folder, {"IWF_BENCH_PAGE": os.path.join(folder, "page.html")}),
            Server("baseline", "baseline_app:create_app()", folder, {}),
        ]
        for server in others:
            server.start(f"/report/form?lang={LANG}")
        log("form GET: warming up, fetching forms ahead")
        harvested = os.path.join(folder, "forms.txt")
        harvest_forms(widget, plan, client, harvested, int(plan.submit_seconds * FORMS_PER_SUBMIT_SECOND))
        for server in others:
            load_run(server, 1, plan, client)
        log("form GET: widget, ceiling and baseline in turns")
        gets = measure_gets([widget, *others], plan, client)
        for server in others:
            server.stop()
        log("submissions")
        s = measure_submit(widget, folder, harvested, plan, client, private)
        rss = widget.peak_rss_mb()
    finally:
        for server in [widget, *others]:
            server.stop()
    w = gets["widget"]
    f["ceiling_get"], f["baseline_get"] = gets["ceiling"], gets["baseline"]
    log("raw durable inserts")
    raw = raw_insert_rate(folder, plan.raw_seconds)
    f.update(
        {
            "load_generator": w["client"],
            "form_get_rps": w["rps"],
            "form_get_p50_ms": w["p50_ms"],
            "form_get_p99_ms": w["p99_ms"],
            "baseline_get_rps": f["baseline_get"]["rps"],
            "baseline_get_p50_ms": f["baseline_get"]["p50_ms"],
            "baseline_get_p99_ms": f["baseline_get"]["p99_ms"],
            "ceiling_get_rps": f["ceiling_get"]["rps"],
            "ceiling_get_p50_ms": f["ceiling_get"]["p50_ms"],
            "ceiling_get_p99_ms": f["ceiling_get"]["p99_ms"],
            "submit_rps": s["rps"],
            "submit_p50_ms": s["p50_ms"],
            "submit_p99_ms": s["p99_ms"],
            "submit_accepted": s["accepted"],
            "submit_tokens_exhausted": s["exhausted"],
            "submit_durable_check": s["sealed_sample_ok"],
            "raw_insert_rps": raw,
        }
    )
    del f["baseline_get"], f["ceiling_get"]
    f["form_get_vs_baseline"] = f["form_get_rps"] / f["baseline_get_rps"]
    f["form_get_vs_ceiling"] = f["form_get_rps"] / f["ceiling_get_rps"]
    f["submit_vs_raw_insert"] = f["submit_rps"] / raw
    log(f"draining {plan.drain_reports} reports (bench/drain.py)")
    d = measure_drain(plan.drain_reports)
    f["drain_reports_per_s"] = d["drain_reports_per_s"]
    f["drain_reports"] = d["drain_reports"]
    f["drain_exactly_once"] = d["drain_exactly_once"]
    log("end to end")
    e = measure_e2e(os.path.join(folder, "end-to-end"), private, public, plan)
    f["e2e_p50_ms"], f["e2e_p99_ms"] = e["p50_ms"], e["p99_ms"]
    f["e2e_reports"], f["e2e_arrived"], f["e2e_failed"] = e["reports"], e["arrived"], e["failed"]
    f["peak_rss_mb"] = max(rss, e["peak_rss_mb"])
    log("flood: junk posts from many addresses, real reports beside them")
    f.update(measure_flood(os.path.join(folder, "flood"), public, plan, client))
    return f


# -- the report -------------------------------------------------------------------

ROWS = [
    ("embed_js_gzip_bytes", "embed.js, gzipped", "B"),
    ("form_page_gzip_bytes", "form page + CSS + JS, gzipped (largest language)", "B"),
    ("form_page_requests", "requests the form page makes", ""),
    ("form_get_rps", "form GET, widget", "req/s"),
    ("form_get_p50_ms", "  p50", "ms"),
    ("form_get_p99_ms", "  p99", "ms"),
    ("baseline_get_rps", "form GET, Flask-WTF + Flask-Babel baseline", "req/s"),
    ("baseline_get_p50_ms", "  p50", "ms"),
    ("baseline_get_p99_ms", "  p99", "ms"),
    ("ceiling_get_rps", "form GET, bare Flask constant page (ceiling)", "req/s"),
    ("ceiling_get_p50_ms", "  p50", "ms"),
    ("ceiling_get_p99_ms", "  p99", "ms"),
    ("form_get_vs_baseline", "widget / baseline", "x"),
    ("form_get_vs_ceiling", "widget / ceiling", "x"),
    ("submit_rps", "reports accepted (sealed, on disk)", "req/s"),
    ("submit_p50_ms", "  p50", "ms"),
    ("submit_p99_ms", "  p99", "ms"),
    ("raw_insert_rps", "raw durable SQLite inserts, one a transaction", "/s"),
    ("submit_vs_raw_insert", "accepted / raw inserts", "x"),
    ("drain_reports_per_s", "backlog forwarded to the intake", "reports/s"),
    ("e2e_p50_ms", "submit to stored at the intake, p50", "ms"),
    ("e2e_p99_ms", "submit to stored at the intake, p99", "ms"),
    ("peak_rss_mb", "peak memory of a widget worker", "MB"),
    ("flood_junk_per_s", "flood: junk posts refused (cross-site, no token)", "req/s"),
    ("flood_real_accepted_ratio", "flood: real reports accepted meanwhile", "x"),
    ("flood_real_p99_ms", "flood: real report, p99", "ms"),
    ("form_visible_slow3g_ms", "first step visible, slow 3G phone (median)", "ms"),
]
#: Figures whose spread over the runs is reported; the slow-3G figure is measured once,
#: after the runs are combined, with its own samples.
VARYING = [key for key, _, unit in ROWS if unit not in ("B", "") and key != "form_visible_slow3g_ms"]


def combine(runs: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    out = dict(runs[0])
    for key in VARYING:
        values = [r[key] for r in runs]
        out[key] = statistics.median(values)
        if len(runs) > 1:
            out.setdefault("spread", {})[key] = [min(values), max(values)]
    out["flood_real_accepted_ratio"] = min(r["flood_real_accepted_ratio"] for r in runs)  # every run must be 1.0
    for key in ("submit_tokens_exhausted",):
        out[key] = any(r[key] for r in runs)
    for key in ("submit_durable_check", "drain_exactly_once"):
        out[key] = all(r[key] for r in runs)
    out["runs"] = len(runs)
    return out


def rounded(value: t.Any) -> t.Any:
    if isinstance(value, float):
        return round(value, 3 if abs(value) < 10 else 1)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def table(result: dict[str, t.Any]) -> str:
    lines = [f"{'figure':<52} {'value':>10}  unit   (min - max over runs)"]
    spread = result.get("spread", {})
    for key, label, unit in ROWS:
        value = result.get(key)
        shown = (
            f"{value:,.2f}"
            if isinstance(value, float) and abs(value) < 10
            else (f"{value:,.0f}" if isinstance(value, (int, float)) else str(value))
        )
        extra = ""
        if key in spread:
            low, high = spread[key]
            extra = f"   ({low:,.2f} - {high:,.2f})" if abs(high) < 10 else f"   ({low:,.0f} - {high:,.0f})"
        lines.append(f"{label:<52} {shown:>10}  {unit:<6}{extra}")
    notes = [
        f"load generator: {result['load_generator']}; gunicorn, {WORKERS} gthread workers x {THREADS} threads; "
        f"{result['runs']} run(s)",
        f"submissions: {result['submit_accepted']} accepted in the last run; sealed sample opens and rows "
        f"are on disk: {result['submit_durable_check']}"
        + ("; TOKENS RAN OUT (the figure is a lower bound)" if result["submit_tokens_exhausted"] else ""),
        f"drain: {result['drain_reports']} reports, exactly once: {result['drain_exactly_once']}; "
        f"end to end: {result['e2e_arrived']}/{result['e2e_reports']} arrived, {result['e2e_failed']} refused",
        f"flood: {result['flood_junk_requests']} junk posts from {result['flood_junk_clients']} addresses, "
        f"{result['flood_junk_accepted']} answered 2xx, {result['flood_junk_stored']} stored; "
        f"{result['flood_real_sent']} real reports sent",
    ]
    return "\n".join(lines + [""] + notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short run (under 50 s on 2 cores)")
    parser.add_argument("--json", action="store_true", help="end with one JSON object on the last line")
    parser.add_argument("--runs", type=int, help="runs to take the median of (default: 1 quick, 3 full)")
    parser.add_argument("--client", choices=["wrk", "python"], help="load generator (default: wrk if installed)")
    parser.add_argument("--dir", help="folder on the disk to measure (default: the system's temporary folder)")
    parser.add_argument("--no-install", action="store_true", help="fail instead of installing the bench extra")
    args = parser.parse_args()

    started = time.monotonic()
    ensure_bench_extra(not args.no_install)
    import load

    from iwf_widget.sealing import generate_keypair

    plan = QUICK if args.quick else FULL
    runs = args.runs or plan.runs
    client = args.client or ("wrk" if load.have_wrk() else "python")
    if client == "python":
        log("wrk is not installed (apt-get install wrk): the asyncio client shares the CPU with the servers")
    private, public = generate_keypair()
    folder = os.path.abspath(tempfile.mkdtemp(prefix="iwf-bench-", dir=args.dir))
    # Started from here, servers import the installed iwf_widget, not a checkout they happen to be in.
    os.chdir(folder)
    results = []
    try:
        for n in range(runs):
            log(f"run {n + 1} of {runs} in {folder}")
            results.append(one_run(plan, client, os.path.join(folder, f"run{n}"), private, public, n == 0))
    finally:
        os.chdir(ROOT)
        shutil.rmtree(folder, ignore_errors=True)
    result = combine(results)
    # Once, not per run: a browser's page loads, a median of 3 (1, unwarmed, in a quick run).
    slow = os.path.join(tempfile.gettempdir(), f"iwf-slow3g-{os.getpid()}")
    try:
        result.update(measure_slow3g(slow, public, 1 if args.quick else 3, warm=not args.quick))
    finally:
        shutil.rmtree(slow, ignore_errors=True)
    result["seconds"] = time.monotonic() - started
    print(table(result))
    print(f"took {result['seconds']:.0f} s")
    if args.json:
        print(json.dumps(rounded(result), sort_keys=True))


if __name__ == "__main__":
    main()
