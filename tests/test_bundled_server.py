"""The bundled servers (`iwf-widget serve`, `iwf-widget intake`) are not the weak link.

Real processes on loopback, spoken to over raw sockets where a well-behaved
HTTP client would hide what is being tested.
"""

from __future__ import annotations

import socket
import sys
import time
import typing as t
from pathlib import Path

import httpx
import pytest
from support.ports import free_port
from support.procs import Proc
from support.servers import Redis, redis_binary
from test_startup_errors import cli, intake_env, one_line_failure, widget_env

pytestmark = pytest.mark.slow


def serve(tmp: Path, keypair: tuple[str, str], what: str = "widget", **over: str) -> tuple[Proc, int]:
    """``iwf-widget serve`` (or ``intake``) on a free port, answering; the process and its port."""
    port = free_port()
    if what == "widget":
        env, probe = widget_env(tmp, keypair, **over), f"http://127.0.0.1:{port}/report/healthz"
    else:
        env, probe = intake_env(tmp, keypair, **over), f"http://127.0.0.1:{port}/healthz"
    command = "serve" if what == "widget" else "intake"
    cmd = [sys.executable, "-m", "iwf_widget.cli", command, "--host", "127.0.0.1", "--port", str(port)]
    return Proc(what, cmd, env, tmp / f"{what}.log", probe), port


@pytest.fixture
def widget(tmp_path, keypair) -> t.Iterator[int]:
    proc, port = serve(tmp_path, keypair)
    yield port
    proc.stop()


@pytest.fixture
def intake(tmp_path, keypair) -> t.Iterator[int]:
    proc, port = serve(tmp_path, keypair, "intake")
    yield port
    proc.stop()


def status_line(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


# -- bodies ---------------------------------------------------------------------


@pytest.mark.parametrize("what, path", [("widget", "/report/form"), ("intake", "/v1/reports")])
def test_a_megabyte_body_is_refused_from_its_headers_without_being_read(tmp_path, keypair, what, path):
    proc, port = serve(tmp_path, keypair, what, IWF_INTAKE_MAX_BODY="262144" if what == "intake" else "")
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {1024 * 1024}\r\n\r\n".encode()
            )
            # Not one byte of the body was sent: the answer can only come from the headers.
            assert status_line(sock).startswith(b"HTTP/1.1 413")
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
            chunk = b"x" * 65536
            try:
                for _ in range(32):  # 2 MiB, chunked: no length to refuse up front
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                pass  # closed on us mid-body: refused before the end
            assert status_line(sock).startswith(b"HTTP/1.1 413")
    finally:
        proc.stop()


# -- slow clients -----------------------------------------------------------------


@pytest.mark.parametrize("what, path", [("widget", "/report/healthz"), ("intake", "/healthz")])
def test_a_client_trickling_its_headers_is_cut_off_while_real_requests_are_served(tmp_path, keypair, what, path):
    proc, port = serve(tmp_path, keypair, what)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {'a' * 200}\r\n".encode()
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    try:
        closed_after: list[int] = []
        for n in range(60):  # one header byte per second on each connection, for up to a minute
            for sock in list(sockets):
                try:
                    sock.sendall(request[n : n + 1])
                    sock.settimeout(0.01)
                    if sock.recv(1024) == b"":
                        raise ConnectionResetError
                except TimeoutError:
                    pass
                except OSError:
                    sockets.remove(sock)
                    sock.close()
                    closed_after.append(n)
            if not sockets:
                break
            # Meanwhile a real client is served at once.
            assert httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code == 200
            time.sleep(1)
        assert not sockets, "slow connections were still open after a minute"
        assert max(closed_after) < 30, closed_after
    finally:
        for sock in sockets:
            sock.close()
        proc.stop()


def test_an_idle_connection_is_closed(widget):
    with socket.create_connection(("127.0.0.1", widget)) as sock:
        sock.settimeout(60)
        assert sock.recv(1) == b"", "the server closes a connection that never sends a request"


# -- Redis ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saving_redis() -> t.Iterator[Redis]:
    """A Redis that snapshots to disk after a minute with one change (``save 60 1``)."""
    server = Redis(redis_binary(), save="60 1")
    yield server
    server.stop()


def test_serve_refuses_a_redis_that_saves_to_disk_in_one_line(tmp_path, keypair, saving_redis):
    env = widget_env(tmp_path, keypair, IWF_WIDGET_REDIS_URL=saving_redis.url)
    line = one_line_failure(cli(env, "serve", "--port", str(free_port()), cwd=tmp_path), "IWF_WIDGET_REDIS_URL")
    assert 'save "60 1"' in line and "IWF_WIDGET_REDIS_PERSISTENCE_OK=1" in line, line


def test_serve_accepts_a_saving_redis_when_told_it_is_intended(tmp_path, keypair, saving_redis):
    proc, port = serve(tmp_path, keypair, IWF_WIDGET_REDIS_URL=saving_redis.url, IWF_WIDGET_REDIS_PERSISTENCE_OK="1")
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/report/form").status_code == 200
    finally:
        proc.stop()


def test_serve_accepts_a_redis_that_keeps_nothing_on_disk(tmp_path, keypair):
    server = Redis(redis_binary())
    try:
        proc, _ = serve(tmp_path, keypair, IWF_WIDGET_REDIS_URL=server.url)
        proc.stop()
    finally:
        server.stop()


def test_the_persistence_override_must_be_on_or_off(tmp_path, keypair, saving_redis):
    env = widget_env(tmp_path, keypair, IWF_WIDGET_REDIS_URL=saving_redis.url, IWF_WIDGET_REDIS_PERSISTENCE_OK="maybe")
    one_line_failure(cli(env, "serve", "--port", str(free_port()), cwd=tmp_path), "IWF_WIDGET_REDIS_PERSISTENCE_OK")


# -- redirects ------------------------------------------------------------------------

HOSTILE_HOST = "evil.example"
WIDGET_PATHS = [
    "/",
    "//",
    "//report//form",
    "/report//form",
    "/report//healthz",
    "/report/static//form.js",
    "/report//embed.js?lang=fr",
    "/report/",
    "/report",
]
INTAKE_PATHS = ["/v1//reports", "//v1/reports", "//healthz", "/healthz/", "/v1/reports/"]


def raw_get(port: int, path: str, method: str = "GET", host: str = HOSTILE_HOST) -> bytes:
    """The response head for a request with the given Host header, exactly as sent on the wire."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        sock.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n\r\n", 1)[0]


def locations(head: bytes) -> list[str]:
    return [
        line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n") if line.lower().startswith(b"location:")
    ]


def test_no_widget_redirect_names_the_requests_host(widget):
    redirected = 0
    for path in WIDGET_PATHS:
        for host in (HOSTILE_HOST, f"{HOSTILE_HOST}:8080"):
            head = raw_get(widget, path, host=host)
            for location in locations(head):
                redirected += 1
                assert HOSTILE_HOST not in location and location.startswith("/") and not location.startswith("//"), (
                    path,
                    head.decode(errors="replace"),
                )
    assert redirected >= 4, "the paths above are redirected; the check must see them"


def test_no_intake_redirect_names_the_requests_host(intake):
    redirected = 0
    for path in INTAKE_PATHS:
        for method in ("GET", "POST"):
            head = raw_get(intake, path, method)
            for location in locations(head):
                redirected += 1
                assert HOSTILE_HOST not in location and location.startswith("/"), (path, head.decode(errors="replace"))
    assert redirected >= 1


def test_a_partner_apps_redirects_under_the_widget_name_no_host(client):
    for path in ("/report//form", "/report//healthz", "/report/static//form.js"):
        response = client.get(path, headers={"Host": HOSTILE_HOST})
        location = response.headers.get("Location")
        assert response.status_code in (301, 308) and location, path
        assert HOSTILE_HOST not in location and location.startswith("/report/"), location


def test_the_front_page_still_leads_a_browser_to_the_form(widget):
    with httpx.Client(base_url=f"http://127.0.0.1:{widget}", follow_redirects=True) as http:
        page = http.get("/")
        assert page.status_code == 200 and 'name="iwf_token"' in page.text
