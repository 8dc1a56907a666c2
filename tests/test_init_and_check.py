"""`iwf-widget init` writes a partner's settings; `iwf-widget check` says whether they work, line by line."""

from __future__ import annotations

import json
import os
import pty
import shlex
import stat
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from support.ports import free_port
from support.procs import ROOT, Proc, wait_until

from iwf_widget.sealing import generate_keypair

pytestmark = pytest.mark.slow

PAGE_ORIGIN = "http://127.0.0.1:8801"


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWF_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def cli(*args: str, env: dict[str, str], cwd: Path, **kw: t.Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iwf_widget.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def read_env_file(path: Path) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {k: v for k, v in pairs}


def registration(stdout: str) -> str:
    """The value of the IWF_INTAKE_PARTNERS line init printed."""
    lines = [line for line in stdout.splitlines() if line.startswith("IWF_INTAKE_PARTNERS=")]
    assert len(lines) == 1, stdout
    (value,) = shlex.split(lines[0].split("=", 1)[1])  # as a shell or an environment file reads it
    return value


class Partner:
    """A partner folder made by `iwf-widget init`, and a real intake that knows it (or not)."""

    def __init__(self, tmp: Path, keypair: tuple[str, str]) -> None:
        self.tmp = tmp
        self.private, self.public = keypair
        self.intake_port = free_port()
        self.intake: Proc | None = None
        done = cli(
            "init",
            "--partner-id",
            "ma-cyberconfiance",
            "--intake-url",
            f"http://127.0.0.1:{self.intake_port}",
            "--intake-public-key",
            self.public,
            "--allowed-origins",
            PAGE_ORIGIN,
            env=base_env(),
            cwd=tmp,
        )
        assert done.returncode == 0, done.stderr
        self.init_output = done.stdout
        self.settings = read_env_file(tmp / ".env")

    def start_intake(self, partners: str | None = None, private_key: str | None = None) -> None:
        env = {
            **base_env(),
            "IWF_INTAKE_DB_URL": f"sqlite:///{self.tmp}/intake.db",
            "IWF_INTAKE_PRIVATE_KEY": private_key or self.private,
            "IWF_INTAKE_PARTNERS": partners or registration(self.init_output),
        }
        cmd = [sys.executable, "-m", "iwf_widget.cli", "intake", "--port", str(self.intake_port)]
        self.intake = Proc("intake", cmd, env, self.tmp / "intake.log", f"http://127.0.0.1:{self.intake_port}/healthz")

    def check(self, *args: str, **over: str) -> tuple[int, dict[str, str]]:
        """Exit status, and each check's line by name ("ok" or the problem)."""
        done = cli("check", *args, env={**base_env(), **self.settings, **over}, cwd=self.tmp)
        lines = {}
        for line in done.stdout.splitlines():
            status, _, rest = line.partition("  ")
            name, _, message = rest.strip().partition(": ")
            lines[name] = "ok" if status == "ok" else message
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, lines

    def stop(self) -> None:
        if self.intake:
            self.intake.stop()


@pytest.fixture
def partner(tmp_path, keypair) -> t.Iterator[Partner]:
    p = Partner(tmp_path, keypair)
    yield p
    p.stop()


# -- init -------------------------------------------------------------------------


def test_init_writes_a_private_settings_file_with_a_fresh_strong_key(partner, tmp_path, keypair):
    mode = stat.S_IMODE((tmp_path / ".env").stat().st_mode)
    assert mode == 0o600
    s = partner.settings
    assert s["IWF_WIDGET_PARTNER_ID"] == "ma-cyberconfiance"
    assert s["IWF_WIDGET_INTAKE_PUBLIC_KEY"] == keypair[1]
    assert s["IWF_WIDGET_ALLOWED_ORIGINS"] == PAGE_ORIGIN
    assert len(s["IWF_WIDGET_SIGNING_KEY"]) >= 43, "256 random bits"
    other = tmp_path / "other"
    other.mkdir()
    again = cli(
        "init",
        "--partner-id",
        "x",
        "--intake-url",
        "https://intake.example",
        "--intake-public-key",
        keypair[1],
        "--allowed-origins",
        "",
        env=base_env(),
        cwd=other,
    )
    assert read_env_file(other / ".env")["IWF_WIDGET_SIGNING_KEY"] != s["IWF_WIDGET_SIGNING_KEY"]
    assert '<script src="http://127.0.0.1:8000/report/embed.js" async></script>' in again.stdout
    assert "<div data-iwf-report></div>" in again.stdout


def test_init_refuses_to_overwrite_without_force(partner, tmp_path, keypair):
    before = (tmp_path / ".env").read_text()
    args = (
        "init",
        "--partner-id",
        "other",
        "--intake-url",
        "https://intake.example",
        "--intake-public-key",
        keypair[1],
        "--allowed-origins",
        "",
    )
    done = cli(*args, env=base_env(), cwd=tmp_path)
    assert done.returncode == 2 and "--force" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (tmp_path / ".env").read_text() == before
    (tmp_path / ".env").chmod(0o644)
    done = cli(*args, "--force", env=base_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert read_env_file(tmp_path / ".env")["IWF_WIDGET_PARTNER_ID"] == "other"
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600


def test_init_without_a_terminal_asks_nothing_and_names_the_missing_flag(tmp_path):
    done = cli("init", "--partner-id", "p", env=base_env(), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "Error: --intake-url is required (or run `iwf-widget init` at a terminal to be asked)"
    assert not (tmp_path / ".env").exists()


def test_init_refuses_a_bad_value_naming_its_flag(tmp_path, keypair):
    done = cli(
        "init",
        "--partner-id",
        "Not An Id",
        "--intake-url",
        "https://intake.example",
        "--intake-public-key",
        keypair[1],
        "--allowed-origins",
        "",
        env=base_env(),
        cwd=tmp_path,
    )
    assert done.returncode == 2 and done.stderr.startswith("Error: --partner-id:"), done.stderr
    assert not (tmp_path / ".env").exists()


def test_init_asks_for_what_is_missing_at_a_terminal(tmp_path, keypair):
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "iwf_widget.cli", "init", "--widget-url", "https://report.partner.example/report"],
        env=base_env(),
        cwd=tmp_path,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    answers = ["ma-test", "https://intake.example", keypair[1], "https://www.partner.example"]
    seen = b""
    for answer in answers:
        seen += _read_prompt(leader)
        os.write(leader, answer.encode() + b"\n")
    proc.wait(30)
    try:
        while True:
            seen += os.read(leader, 4096)
    except OSError:
        pass
    os.close(leader)
    assert proc.returncode == 0, seen.decode(errors="replace")
    assert b"Partner id at the intake" in seen and b"Intake public key" in seen
    written = read_env_file(tmp_path / ".env")
    assert written["IWF_WIDGET_PARTNER_ID"] == "ma-test"
    assert written["IWF_WIDGET_ALLOWED_ORIGINS"] == "https://www.partner.example"
    assert b'<script src="https://report.partner.example/report/embed.js" async></script>' in seen


def _read_prompt(fd: int) -> bytes:
    """Read until the terminal shows a prompt (ending in ': ')."""
    out = b""
    while not out.rstrip(b" ").endswith(b":") and not out.endswith(b": "):
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        out += chunk
    return out


def test_the_registration_line_init_prints_is_accepted_by_a_real_intake_and_all_checks_pass(partner):
    assert json.loads(registration(partner.init_output)) == {
        "ma-cyberconfiance": [partner.settings["IWF_WIDGET_SIGNING_KEY"]]
    }
    partner.start_intake()
    status, lines = partner.check("--page", PAGE_ORIGIN + "/signaler.html")
    assert lines == {
        "settings": "ok",
        "languages": "ok",
        "outbox": "ok",
        "intake": "ok",
        "partner": "ok",
        "intake key": "ok",
        "page": "ok",
    }
    assert status == 0


# -- check: each failure named ------------------------------------------------------


def test_check_names_a_wrong_signing_key(partner):
    partner.start_intake()
    status, lines = partner.check(IWF_WIDGET_SIGNING_KEY="a-different-key-0123456789abcdef")
    assert status == 1
    assert "refused partner 'ma-cyberconfiance' with this signing key" in lines["partner"]
    assert "IWF_WIDGET_SIGNING_KEY" in lines["partner"]


def test_check_names_an_unknown_partner(partner):
    partner.start_intake(partners=json.dumps({"someone-else": ["someone-elses-key-0123456789"]}))
    status, lines = partner.check()
    assert status == 1
    assert "is not registered there" in lines["partner"] and "registration line" in lines["partner"]
    assert lines["intake"] == "ok"


def test_check_names_an_intake_that_is_down(partner):
    status, lines = partner.check()
    assert status == 1
    assert lines["settings"] == "ok" and lines["outbox"] == "ok"
    assert lines["intake"].startswith(f"cannot reach http://127.0.0.1:{partner.intake_port}")
    assert "IWF_WIDGET_INTAKE_URL" in lines["intake"]


def test_check_names_an_intake_public_key_that_is_not_the_intakes(partner):
    partner.start_intake(private_key=generate_keypair()[0])
    status, lines = partner.check()
    assert status == 1
    assert lines["partner"] == "ok"
    assert lines["intake key"].startswith("IWF_WIDGET_INTAKE_PUBLIC_KEY is not this intake's key")


def test_check_names_a_page_whose_origin_may_not_embed(partner):
    partner.start_intake()
    status, lines = partner.check("--page", "https://elsewhere.example/report.html")
    assert status == 1
    assert lines["page"].startswith("https://elsewhere.example may not embed the form")
    assert "add https://elsewhere.example to IWF_WIDGET_ALLOWED_ORIGINS" in lines["page"]


def test_check_names_an_outbox_other_users_can_read(partner, tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    (folder / "outbox.db").touch(mode=0o644)
    (folder / "outbox.db").chmod(0o644)
    status, lines = partner.check(IWF_WIDGET_OUTBOX_URL=f"sqlite:///{folder}/outbox.db")
    assert status == 1
    assert lines["outbox"] == f"{folder}/outbox.db can be read by other users of this machine; run chmod 700 {folder}"


def test_check_names_a_bad_setting_and_a_misspelt_key(partner):
    status, lines = partner.check(IWF_WIDGET_SIGNING_KEY="short")
    assert status == 1 and lines["settings"].startswith("IWF_WIDGET_SIGNING_KEY:")
    status, lines = partner.check(IWF_WIDGET_ALLOWED_ORIGIN=PAGE_ORIGIN)
    assert lines["settings"] == "IWF_WIDGET_ALLOWED_ORIGIN is not a setting; did you mean IWF_WIDGET_ALLOWED_ORIGINS?"


def test_serve_warns_at_start_up_of_what_check_would_fail(partner, tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "iwf_widget.cli", "serve", "--port", str(port)]
    widget = Proc(
        "widget",
        cmd,
        {**base_env(), **partner.settings},
        tmp_path / "widget.log",
        f"http://127.0.0.1:{port}/report/healthz",
    )
    try:
        assert wait_until(lambda: "intake: cannot reach" in widget.output(), timeout=20), widget.output()
        assert "WARNING" in widget.output()
    finally:
        widget.stop()
