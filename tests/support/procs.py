"""Real processes on loopback for the forwarding tests: the intake, the widget, a faulty intake.

Everything runs through the command line a deployment uses (``iwf-widget
intake`` / ``iwf-widget serve``); a process is stopped the hard way
(``SIGKILL``) when a test needs a crash.

Run as a script, this file is the *faulty intake*: the real intake app behind
a WSGI wrapper that reads what to do from a control file on every request
(answer normally, answer 503 with Retry-After, stall before or after storing,
acknowledge without the intake's signature, answer 400 as a proxy does, fail
with 500 on batches holding a given report)
and logs the ids of every batch it receives, so a test can count sends::

    PYTHONPATH=tests python tests/support/procs.py --port 8080 --control mode.json --log batches.jsonl
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import httpx

from support.ports import free_port

PARTNER = "test-partner"
KEY = "procs-signing-key-0123456789abcdef"
HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent

#: Fast forwarding, so that outages and retries play out in seconds.
FAST_FORWARDING = {
    "IWF_WIDGET_FORWARD_INTERVAL": "0.2",
    "IWF_WIDGET_FORWARD_TIMEOUT": "1",
    "IWF_WIDGET_BACKOFF_BASE": "0.05",
    "IWF_WIDGET_BACKOFF_MAX": "0.5",
}


def wait_until(check: t.Callable[[], t.Any], timeout: float = 20, every: float = 0.1) -> t.Any:
    """Poll ``check`` until it returns something true; return it (or the last falsy value)."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > end:
            return value
        time.sleep(every)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Proc:
    """One child process in its own process group, its output in a log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path, probe: str) -> None:
        self.name = name
        self.log = log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=log.parent
            )
        if not wait_until(lambda: _answers(probe) or self.popen.poll() is not None, timeout=30):
            self.kill()
            raise RuntimeError(f"{name} did not answer on {probe}:\n{self.output()}")
        if self.popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {self.popen.returncode}:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class System:
    """An intake and a standalone widget for one partner, on fixed loopback ports."""

    def __init__(self, tmp: Path, keypair: tuple[str, str], python: str | None = None, **widget_env: str) -> None:
        """``python``: another interpreter (an older release's venv) runs the processes instead of this code."""
        self.tmp = tmp
        self.python = python or sys.executable
        self.private, self.public = keypair
        self.intake_port = free_port()
        self.widget_port = free_port()
        self.control = tmp / "intake-mode.json"
        self.batch_log = tmp / "intake-batches.jsonl"
        self.set_intake_mode("ok")
        base = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": "" if python else str(ROOT)}
        self.intake_env = {
            **base,
            "IWF_INTAKE_DB_URL": f"sqlite:///{tmp}/intake.db",
            "IWF_INTAKE_PRIVATE_KEY": self.private,
            "IWF_INTAKE_PARTNERS": json.dumps({PARTNER: [KEY], "other-partner": ["other-key-0123456789abcdef"]}),
        }
        self.widget_env = {
            **base,
            "IWF_WIDGET_PARTNER_ID": PARTNER,
            "IWF_WIDGET_INTAKE_URL": f"http://127.0.0.1:{self.intake_port}",
            "IWF_WIDGET_SIGNING_KEY": KEY,
            "IWF_WIDGET_INTAKE_PUBLIC_KEY": self.public,
            "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{tmp}/outbox.db",
            "IWF_WIDGET_MIN_FILL_SECONDS": "0",
            "IWF_WIDGET_RATE_LIMIT": "off",
            "IWF_WIDGET_PARTNER_RATE_LIMIT": "off",
            **FAST_FORWARDING,
            **widget_env,
        }
        self.procs: dict[str, Proc] = {}
        self.http = httpx.Client(timeout=10)
        self._submitted = 0

    # -- processes ------------------------------------------------------------

    def start_intake(self, faulty: bool = False) -> Proc:
        """``iwf-widget intake``, or the same app behind the fault-injecting wrapper."""
        port = str(self.intake_port)
        env = self.intake_env
        if faulty:
            cmd = [
                sys.executable,
                str(HERE / "procs.py"),
                "--port",
                port,
                "--control",
                str(self.control),
                "--log",
                str(self.batch_log),
            ]
            env = {**env, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
        else:
            cmd = [self.python, "-m", "iwf_widget.cli", "intake", "--host", "127.0.0.1", "--port", port]
        return self._start("intake", cmd, env, f"{self.intake_url}/healthz")

    def start_widget(self) -> Proc:
        cmd = [self.python, "-m", "iwf_widget.cli", "serve", "--host", "127.0.0.1", "--port", str(self.widget_port)]
        return self._start("widget", cmd, self.widget_env, f"{self.widget_url}/healthz")

    def _start(self, name: str, cmd: list[str], env: dict[str, str], probe: str) -> Proc:
        assert name not in self.procs, f"{name} already runs"
        proc = Proc(name, cmd, env, self.tmp / f"{name}.log", probe)
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        self.procs.pop(name).kill()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.procs.pop(name).stop()
        self.http.close()

    # -- the widget -------------------------------------------------------------

    @property
    def widget_url(self) -> str:
        return f"http://127.0.0.1:{self.widget_port}/report"

    @property
    def intake_url(self) -> str:
        return f"http://127.0.0.1:{self.intake_port}"

    def look(self, typed: str, **over: str) -> int:
        """Check on a report at the status page, its token then ``typed``; the answer's status code."""
        page = self.http.get(f"{self.widget_url}/status", params={"lang": "en"}).text
        token = re.search(r'name="iwf_token" value="([^"]+)"', page)
        assert token, "no lookup token on the status page"
        data = {"iwf_token": token.group(1), "reference": typed, **over}
        return self.http.post(f"{self.widget_url}/status", params={"lang": "en"}, data=data).status_code

    def submit(self, url: str | None = None, lang: str = "en") -> str:
        """One report through the form, as a person without JavaScript sends it; its reference."""
        self._submitted += 1
        page = self.http.get(f"{self.widget_url}/form", params={"lang": lang}).text
        token = re.search(r'name="iwf_token" value="([^"]+)"', page)
        assert token, "no form token on the page"
        response = self.http.post(
            f"{self.widget_url}/form",
            params={"lang": lang},
            data={
                "iwf_token": token.group(1),
                "urls": url or f"https://example.com/reported/{self._submitted}",
                "content_kind": "images",
                "where_seen": "website",
                "description": "",
                "contact_email": "",
                "homepage": "",
            },
        )
        found = re.search(r'id="iwf-reference"[^>]*>([^<]+)<', response.text)
        assert response.status_code == 200 and found, f"submission refused: {response.status_code}"
        return found.group(1)

    def health(self) -> dict[str, t.Any]:
        return self.http.get(f"{self.widget_url}/healthz").json()

    # -- the intake ------------------------------------------------------------

    def export(self) -> list[dict[str, t.Any]]:
        out = subprocess.run(
            [self.python, "-m", "iwf_widget.cli", "intake-export"],
            env=self.intake_env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.tmp,
        )
        assert out.returncode == 0, out.stderr
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def held(self) -> int:
        """How many reports the intake holds (read straight from its database, for polling)."""
        path = self.tmp / "intake.db"
        if not path.exists():
            return 0
        with sqlite3.connect(path, timeout=30) as db:
            try:
                return db.execute("SELECT count(*) FROM iwf_intake_reports").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

    def wait_for_reports(self, n: int, timeout: float = 20) -> list[dict[str, t.Any]]:
        """Wait until the intake holds ``n`` reports (or time runs out); then export them all."""
        wait_until(lambda: self.held() >= n, timeout=timeout, every=0.1)
        return self.export()

    def set_intake_mode(self, mode: str, **params: t.Any) -> None:
        """What the faulty intake does from its next request on."""
        tmp = self.control.with_suffix(".tmp")
        tmp.write_text(json.dumps({"mode": mode, **params}))
        os.replace(tmp, self.control)

    def batches(self) -> list[dict[str, t.Any]]:
        """What the faulty intake logged: one line per request and phase."""
        if not self.batch_log.exists():
            return []
        return [json.loads(line) for line in self.batch_log.read_text().splitlines() if line.strip()]


# -- the faulty intake, run as a script ----------------------------------------


class FaultyIntake:
    """WSGI wrapper around the real intake app: logs batch ids and plays the faults asked for."""

    def __init__(self, app: t.Any, control: Path, log: Path) -> None:
        self.app = app
        self.control = control
        self.log = log

    def _note(self, **entry: t.Any) -> None:
        with open(self.log, "a") as f:
            f.write(json.dumps({"t": time.time(), **entry}) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def __call__(self, environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> t.Iterable[bytes]:
        try:
            mode = json.loads(self.control.read_text())
        except (OSError, ValueError):
            mode = {"mode": "ok"}
        if environ.get("PATH_INFO") == "/v1/outcomes" and mode["mode"] == "no_outcomes":
            start_response("404 Not Found", [("Content-Type", "text/html")])  # an intake from before outcomes
            return [b"<h1>Not Found</h1>"]
        if environ.get("PATH_INFO") != "/v1/reports":
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            ids = [r["id"] for r in json.loads(body)["reports"]]
        except (ValueError, KeyError, TypeError):
            ids = []
        self._note(phase="received", mode=mode["mode"], ids=ids)
        if mode["mode"] == "503":
            start_response(
                "503 Service Unavailable",
                [
                    ("Content-Type", "application/json"),
                    ("Retry-After", str(mode.get("retry_after", 1))),
                ],
            )
            return [b'{"error":"busy"}']
        if mode["mode"] == "forge_ack":  # "accepted" for everything, without the intake's signature
            answer = json.dumps({"results": [{"id": i, "status": "accepted"} for i in ids]}).encode()
            start_response(
                "200 OK",
                [
                    ("Content-Type", "application/json"),
                    ("X-IWF-Timestamp", str(int(time.time()))),
                    ("X-IWF-Signature", "0" * 64),
                ],
            )
            return [answer]
        if mode["mode"] == "proxy_400":  # nginx, on plain HTTP to its HTTPS port
            start_response("400 Bad Request", [("Content-Type", "text/html")])
            return [
                b"<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head>"
                b"<body><center><h1>400 Bad Request</h1></center><hr><center>nginx</center></body></html>"
            ]
        if mode["mode"] == "poison" and set(ids) & set(mode["ids"]):
            # The intake failing on one report (signed, as the intake's own 500), or a proxy's 502 for it.
            if mode.get("signed"):
                from iwf_widget import protocol

                answer = protocol.error_body("the intake failed on this batch", 500)
                headers = protocol.refusal_headers(PARTNER, [KEY], environ.get("HTTP_X_IWF_SIGNATURE", ""), answer)
                start_response("500 Internal Server Error", [("Content-Type", "application/json"), *headers.items()])
                return [answer]
            start_response("502 Bad Gateway", [("Content-Type", "text/html")])
            return [b"<html><body>502 Bad Gateway</body></html>"]
        if mode["mode"] == "sleep_before":
            time.sleep(mode.get("seconds", 5))
        captured: dict[str, t.Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        answer = b"".join(self.app(environ, capture))
        self._note(phase="stored", mode=mode["mode"], ids=ids, status=captured["status"])
        if mode["mode"] == "sleep_after":
            time.sleep(mode.get("seconds", 5))
        start_response(captured["status"], captured["headers"])
        return [answer]


def _main() -> None:
    import argparse

    from waitress import serve

    from iwf_widget.intake import create_app

    parser = argparse.ArgumentParser(description="The reference intake behind a fault-injecting wrapper.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    app = FaultyIntake(create_app(os.environ), args.control, args.log)
    serve(app, host="127.0.0.1", port=args.port, threads=8, ident="")


if __name__ == "__main__":
    _main()


def load_script(name: str) -> t.Any:
    """A Python module from ``scripts/`` (development tools the package does not ship)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), ROOT / "scripts" / name)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
