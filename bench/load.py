"""Bounded HTTP load for ``bench/run.py``: wrk when it is installed, else a small asyncio client.

wrk (Debian's ``wrk`` package) is written in C and costs the server little CPU,
so it measures the server; the Python client is the fallback, and on a small
machine it takes CPU from the server it measures (its figures are then lower
bounds, and the result says which client made them).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = re.compile(r'name="iwf_token" value="([^"]+)"')
WORK = re.compile(r'data-iwf-pow="([^"]*)"')


@dataclass
class Result:
    client: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # 4xx/5xx answers and socket errors

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run(
    url: str,
    seconds: float,
    connections: int,
    *,
    bodies: str | None = None,
    harvest: str | None = None,
    client: str | None = None,
) -> Result:
    """GET ``url`` for ``seconds`` over ``connections``.

    ``bodies``: a file of url-encoded bodies, one a line, each POSTed once.
    ``harvest``: a file to write each page's form token and challenge to (tab-separated).
    """
    client = client or ("wrk" if have_wrk() else "python")
    if client == "wrk":
        return _wrk(url, seconds, connections, bodies, harvest)
    lines = None
    if bodies:
        with open(bodies, encoding="ascii") as f:
            lines = [line.rstrip("\n").encode("ascii") for line in f]
    pages: list[bytes] | None = [] if harvest else None
    result = asyncio.run(_python(url, seconds, connections, lines, pages))
    if harvest:
        with open(harvest, "w", encoding="utf-8") as f:
            for page in pages or ():
                found = harvest_form(page.decode("utf-8", "replace"))
                if found:
                    f.write("\t".join(found) + "\n")
    return result


def harvest_form(page: str) -> tuple[str, str] | None:
    """(token, challenge as in the page's attribute) of a form page, or None."""
    token = TOKEN.search(page)
    if not token:
        return None
    work = WORK.search(page)
    return token.group(1), work.group(1) if work else ""


def _wrk(url: str, seconds: float, connections: int, bodies: str | None, harvest: str | None) -> Result:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        os.path.join(HERE, "wrk.lua"),
        url,
    ]
    if bodies:
        command += ["--", "post", bodies]
    elif harvest:
        command += ["--", "harvest", harvest]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return Result(
        "wrk",
        data["requests"],
        data["duration_us"] / 1e6,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["non2xx"] + data["socket_errors"],
    )


async def _python(
    url: str, seconds: float, connections: int, bodies: list[bytes] | None, pages: list[bytes] | None
) -> Result:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = f"{{}} {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    get = (head.format("GET") + "\r\n").encode("ascii")
    post_head = head.format("POST") + "Content-Type: application/x-www-form-urlencoded\r\n"
    feed = iter(bodies) if bodies is not None else None
    latencies: list[float] = []
    errors = 0

    def next_request() -> bytes:
        if feed is None:
            return get
        body = next(feed, b"")
        return (post_head + f"Content-Length: {len(body)}\r\n\r\n").encode("ascii") + body

    async def worker(deadline: float) -> None:
        nonlocal errors
        reader = writer = None
        while time.perf_counter() < deadline:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                request = next_request()
                start = time.perf_counter()
                writer.write(request)
                status, close, body = await _response(reader)
                latencies.append(time.perf_counter() - start)
                if pages is not None:
                    pages.append(body)
                if status >= 400:
                    errors += 1
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
    deadline = start + seconds
    await asyncio.gather(*(worker(deadline) for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return Result("python", len(latencies), elapsed, _pct(latencies, 50), _pct(latencies, 99), errors)


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """Read one response: (status, whether the server closes the connection, body)."""
    status_line = await reader.readline()
    if not status_line:
        raise asyncio.IncompleteReadError(b"", None)
    status = int(status_line.split(b" ", 2)[1])
    length, chunked, close = 0, False, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    body = b""
    if chunked:
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            chunks.append((await reader.readexactly(size + 2))[:-2])
            if size == 0:
                break
        body = b"".join(chunks)
    elif length:
        body = await reader.readexactly(length)
    return status, close, body


def _pct(sorted_values: t.Sequence[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(len(sorted_values) * pct / 100))
    return sorted_values[index] * 1000
