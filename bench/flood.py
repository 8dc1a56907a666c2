"""The flood phase of ``bench/run.py``: junk posts at full speed, real reports beside them.

A hostile page can make every visitor's browser post to the form
(``fetch(url, {mode: "no-cors", method: "POST"})``): no form token, no
proof-of-work, ``Sec-Fetch-Site: cross-site``. Here wrk plays a few thousand
such visitors (one ``X-Forwarded-For`` address each, the server trusting one
proxy) as fast as it can, while a steady stream of real submissions, each with a
valid token and a solved proof-of-work, from addresses of their own, is timed.
Every real one must be accepted: refusing junk must cost no one their report.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import threading
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import load

HERE = os.path.dirname(os.path.abspath(__file__))
#: Distinct client addresses the junk comes from (issue 11 asks for at least 1,000).
JUNK_CLIENTS = 4096
MIN_JUNK_CLIENTS = 1000
JUNK_ORIGIN = "https://hostile.example"
JUNK_BODY = (
    b"urls=https%3A%2F%2Fexample.com%2Fjunk&content_kind=images&where_seen=website"
    b"&description=&contact_email=&homepage="
)
#: Real reports per second during the flood: far above what a partner receives.
REAL_PER_SECOND = 20.0
#: Real submissions in flight at once, so a slow answer does not slow the pace.
REAL_AT_ONCE = 8


@dataclass
class Flood:
    junk: load.Result
    junk_clients: int
    real_sent: int
    real_accepted: int
    real_latencies_ms: list[float]
    real_refusals: dict[str, int]

    def figures(self) -> dict[str, t.Any]:
        ordered = sorted(self.real_latencies_ms)
        p99 = ordered[min(len(ordered) - 1, round((len(ordered) - 1) * 0.99))] if ordered else float("nan")
        return {
            "flood_junk_per_s": self.junk.rps,
            "flood_junk_requests": self.junk.requests,
            "flood_junk_accepted": self.junk.requests - self.junk.errors,
            "flood_junk_clients": self.junk_clients,
            "flood_real_sent": self.real_sent,
            "flood_real_accepted_ratio": self.real_accepted / self.real_sent if self.real_sent else 0.0,
            "flood_real_p50_ms": statistics.median(ordered) if ordered else float("nan"),
            "flood_real_p99_ms": p99,
            "flood_load_generator": self.junk.client,
            "flood_real_refusals": dict(sorted(self.real_refusals.items())),
        }


def junk_address(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def run(url: str, real_bodies: t.Sequence[str], seconds: float, connections: int, client: str) -> Flood:
    """Junk at full speed on ``connections`` for ``seconds``; real bodies posted beside it at a steady pace."""
    sent = [0]
    accepted = [0]
    latencies: list[float] = []
    refusals: dict[str, int] = {}
    stop = threading.Event()
    real = threading.Thread(target=_real, args=(url, real_bodies, stop, sent, accepted, latencies, refusals))
    real.start()
    parts: list[load.Result] = []
    try:
        # On a busy machine a few seconds may not reach enough addresses: go on (up to six times as long).
        while not parts or (sum(p.requests for p in parts) < MIN_JUNK_CLIENTS and len(parts) < 6):
            parts.append(_junk(url, seconds, connections, client))
    finally:
        stop.set()
        real.join()
    junk = load.Result(
        parts[0].client,
        sum(p.requests for p in parts),
        sum(p.seconds for p in parts),
        statistics.median(p.p50_ms for p in parts),
        max(p.p99_ms for p in parts),
        sum(p.errors for p in parts),
    )
    return Flood(junk, min(junk.requests, JUNK_CLIENTS), sent[0], accepted[0], latencies, refusals)


def _real(
    url: str,
    bodies: t.Sequence[str],
    stop: threading.Event,
    sent: list[int],
    accepted: list[int],
    latencies: list[float],
    refusals: dict[str, int],
) -> None:
    """Real reporters, one address each, as the form's own page sends them, at a steady pace."""
    import httpx

    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    lock = threading.Lock()

    def one(http: httpx.Client, i: int, body: str) -> None:
        begin = time.perf_counter()
        answer = http.post(
            url,
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": origin,
                "Sec-Fetch-Site": "same-origin",
                "X-Forwarded-For": f"198.51.{100 + (i >> 8) % 16}.{i & 255}",
            },
        )
        elapsed = (time.perf_counter() - begin) * 1000
        with lock:
            latencies.append(elapsed)
            sent[0] += 1
            if answer.status_code == 200 and 'id="iwf-reference"' in answer.text:
                accepted[0] += 1
            else:
                why = _notice(answer.text)
                key = f"{answer.status_code} {why}" if why else str(answer.status_code)
                refusals[key] = refusals.get(key, 0) + 1

    with httpx.Client(timeout=30) as http, ThreadPoolExecutor(REAL_AT_ONCE) as pool:
        time.sleep(0.5)  # let the flood reach full speed first
        start = time.monotonic()
        for i, body in enumerate(bodies):
            pause = start + i / REAL_PER_SECOND - time.monotonic()
            if (pause > 0 and stop.wait(pause)) or stop.is_set():
                break
            pool.submit(one, http, i, body)


def _notice(page: str) -> str:
    """The first words of a refusal's message, to say why in the results."""
    import html
    import re

    alert = page.split('role="alert"', 1)
    found = re.search(r"<(?:p|a href=\"#[^\"]*\")>([^<]{1,60})", alert[1]) if len(alert) > 1 else None
    found = found or re.search(r"data-iwf-focus>([^<]{1,60})", page)
    return html.unescape(found.group(1)).strip() if found else ""


def _junk(url: str, seconds: float, connections: int, client: str) -> load.Result:
    if client == "wrk" and shutil.which("wrk"):
        command = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            os.path.join(HERE, "flood.lua"),
            url,
            "--",
            str(JUNK_CLIENTS),
            JUNK_ORIGIN,
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        data = json.loads(out.strip().splitlines()[-1])
        return load.Result(
            "wrk",
            data["requests"],
            data["duration_us"] / 1e6,
            data["p50_us"] / 1000,
            data["p99_us"] / 1000,
            data["non2xx"] + data["socket_errors"],
        )
    return asyncio.run(_python_junk(url, seconds, connections))


async def _python_junk(url: str, seconds: float, connections: int) -> load.Result:
    """The same junk from asyncio when wrk is missing (a lower bound: it shares the CPU)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))

    def request() -> bytes:
        n = next(counter) % JUNK_CLIENTS
        return (
            f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Origin: {JUNK_ORIGIN}\r\nSec-Fetch-Site: cross-site\r\nX-Forwarded-For: {junk_address(n)}\r\n"
            f"Content-Length: {len(JUNK_BODY)}\r\n\r\n"
        ).encode("ascii") + JUNK_BODY

    async def worker(deadline: float) -> None:
        nonlocal errors
        reader = writer = None
        while time.perf_counter() < deadline:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                begin = time.perf_counter()
                writer.write(request())
                status, close, _ = await load._response(reader)
                latencies.append(time.perf_counter() - begin)
                errors += status >= 300
                if close:
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(start + seconds) for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return load.Result("python", len(latencies), elapsed, load._pct(latencies, 50), load._pct(latencies, 99), errors)
