"""docs/getting-started.md, run as a reader runs it: from `pip install` to a report at the intake.

Every shell block of the guide runs as written, in order, in one empty folder, with two
stand-ins for the reader's machine: the wheel built from this checkout is where `pip
install iwf-widget` finds the package (it is not on an index here), and the guide's
ports 8000, 8001 and 8080 become free ones, as they may be taken on a shared machine.
A block that ends in a server runs in its own "terminal" (a process), the others in the
first terminal, where step 1's virtual environment is active. The report is sent from
the static page in real Chromium.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import subprocess
import sys
import typing as t
from pathlib import Path

import httpx
import pytest
from support.docblocks import ROOT, Block, blocks, section
from support.ports import free_port
from support.procs import Proc, wait_until

pytestmark = pytest.mark.slow

GUIDE = ROOT / "docs" / "getting-started.md"
SERVERS = {"iwf-widget intake": "/healthz", "iwf-widget serve": "/report/healthz", "python3 -m http.server": "/"}
PORTS = (8000, 8001, 8080)


class Reader:
    """The folder, the ports and the environment of someone following the guide."""

    def __init__(self, work: Path, wheels: Path) -> None:
        self.work = work
        self.ports = {p: free_port() for p in PORTS}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IWF_", "VIRTUAL_ENV", "PYTHON"))}
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        env["PIP_FIND_LINKS"] = f"{wheels} {os.environ.get('PIP_FIND_LINKS', '')}".strip()
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        self.env = env
        self.servers: list[Proc] = []

    def localize(self, text: str) -> str:
        return re.sub(r"(?<=[: ])(8000|8001|8080)\b", lambda m: str(self.ports[int(m.group(1))]), text)

    def url(self, port: int, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[port]}{path}"

    def run(self, block: Block) -> subprocess.CompletedProcess[str]:
        """A block in the first terminal: step 1's environment active, once it exists."""
        script = "set -e\nif [ -f iwf/bin/activate ]; then . iwf/bin/activate; fi\n" + self.localize(block.text)
        done = subprocess.run(
            ["bash", "-c", script], cwd=self.work, env=self.env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{block}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        return done

    def start(self, block: Block, server: str) -> Proc:
        """A block in a new terminal, ending in a server that keeps running."""
        text = self.localize(block.text)
        port = int(re.findall(r"\b(\d{4,5})\b", text.strip().splitlines()[-1])[-1])
        name = server.split()[-1].replace(".", "-")
        proc = Proc(
            name,
            ["bash", "-e", "-c", text],
            self.env,
            self.work / f"{name}.log",
            f"http://127.0.0.1:{port}{SERVERS[server]}",
        )
        self.servers.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.servers):
            proc.stop()


def server_of(block: Block) -> str | None:
    last = block.text.strip().splitlines()[-1]
    return next((s for s in SERVERS if last == s or last.startswith(s + " ")), None)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


@pytest.fixture(scope="module")
def reader(tmp_path_factory, wheels) -> t.Iterator[Reader]:
    r = Reader(tmp_path_factory.mktemp("getting-started"), wheels)
    yield r
    r.stop()


def send_report_from_the_page(browser: t.Any, page_url: str) -> str:
    """What a person does on the static page; the reference the form shows."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(page_url)
        frame = page.wait_for_selector("iframe.iwf-report-frame").content_frame()
        frame.wait_for_selector("[data-iwf-scope]")
        assert frame.evaluate("document.documentElement.lang") == "fr"
        frame.click('[data-iwf-scope="in"]')
        frame.fill('textarea[name="urls"]', "https://example.com/test")
        frame.check('[name="content_kind"] >> nth=0')
        frame.check('[name="where_seen"] >> nth=0')
        page.wait_for_timeout(3500)  # a person takes longer than IWF_WIDGET_MIN_FILL_SECONDS
        frame.click('form button[type="submit"]')
        return frame.wait_for_selector("#iwf-reference", timeout=30000).inner_text().strip()
    finally:
        context.close()


def test_getting_started_takes_a_partner_from_nothing_to_a_report_at_the_intake(reader, browser):
    shell = [b for b in blocks(GUIDE) if b.lang == "sh"]
    assert len(shell) >= 8, "the guide's steps"
    reference = None
    for block in shell:
        server = server_of(block)
        if server:
            reader.start(block, server)
            continue
        if "intake-export" in block.text:
            reference = send_report_from_the_page(browser, reader.url(8001, "/"))

            def exported() -> list[dict[str, t.Any]]:
                out = reader.run(block).stdout
                return [json.loads(line) for line in out.splitlines() if line.strip()]

            reports = wait_until(exported, timeout=30, every=0.5)
            assert len(reports) == 1, reports
            (report,) = reports
            assert report["reference"] == reference
            assert report["partner"] == "my-site" and report["locale"] == "fr"
            assert report["urls"] == ["https://example.com/test"]
            continue
        done = reader.run(block)
        if "iwf-widget init" in block.text:
            assert "IWF_INTAKE_PARTNERS=" in done.stdout
            snippet = '<script src="http://127.0.0.1:8000/report/embed.js" async></script>'
            assert snippet in done.stdout, "init prints the snippet the guide's page carries"
            assert any(snippet in b.text for b in shell if "http.server" in b.text)
    assert reference, "the guide never reads the report at the intake"
    assert (reader.work / ".env").stat().st_mode & 0o777 == 0o600
    widget_log = next(p for p in reader.servers if p.name == "serve").output()
    for name in ("settings", "outbox", "intake", "partner", "intake key", "page"):
        assert f"ok    {name}" in widget_log, widget_log


def test_the_systemd_unit_starts_the_widget_with_the_settings_init_wrote(reader):
    """The unit's ExecStart, with its EnvironmentFile= and Environment= read as systemd reads them."""
    if not (reader.work / ".env").exists():
        pytest.skip("needs the guide's folder (run with the test above)")
    (unit_block,) = [b for b in section(GUIDE, "`iwf-widget serve` under systemd") if b.lang == "ini"]
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(unit_block.text)
    service = unit["Service"]
    env = dict(reader.env)
    assert service["EnvironmentFile"] == "/etc/iwf-widget/env"
    for line in (reader.work / ".env").read_text().splitlines():  # the file `init` wrote, as systemd parses it
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = " ".join(shlex.split(value))
    key, value = service["Environment"].split("=", 1)
    state = reader.work / "var-lib-iwf-widget"
    state.mkdir(mode=0o700)
    assert value == "/var/lib/iwf-widget"
    env[key] = str(state)
    port = free_port()
    command = service["ExecStart"].replace("/opt/iwf-widget", str(reader.work / "iwf")).replace("8000", str(port))
    proc = Proc(
        "systemd-unit", shlex.split(command), env, reader.work / "unit.log", f"http://127.0.0.1:{port}/report/healthz"
    )
    try:
        page = httpx.get(f"http://127.0.0.1:{port}/report/form", params={"lang": "fr"}, timeout=10)
        assert page.status_code == 200 and '<html lang="fr"' in page.text
        assert (state / "iwf_widget_outbox.db").exists(), "the outbox lives in the state directory"
    finally:
        proc.stop()
