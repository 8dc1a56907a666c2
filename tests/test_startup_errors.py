"""Every command that cannot start says why in one line on stderr, exit status 2, no traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from support.procs import KEY, PARTNER, ROOT

pytestmark = pytest.mark.slow


def widget_env(tmp: Path, keypair: tuple[str, str], **over: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWF_")}
    env.update(
        PYTHONPATH=str(ROOT),
        IWF_WIDGET_PARTNER_ID=PARTNER,
        IWF_WIDGET_INTAKE_URL="http://127.0.0.1:9",
        IWF_WIDGET_SIGNING_KEY=KEY,
        IWF_WIDGET_INTAKE_PUBLIC_KEY=keypair[1],
        IWF_WIDGET_OUTBOX_URL=f"sqlite:///{tmp}/outbox.db",
        IWF_WIDGET_FORWARDER="off",
    )
    env.update(over)
    return {k: v for k, v in env.items() if v != ""}


def intake_env(tmp: Path, keypair: tuple[str, str], **over: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWF_")}
    env.update(
        PYTHONPATH=str(ROOT),
        IWF_INTAKE_DB_URL=f"sqlite:///{tmp}/intake.db",
        IWF_INTAKE_PRIVATE_KEY=keypair[0],
        IWF_INTAKE_PARTNERS=json.dumps({PARTNER: [KEY]}),
    )
    env.update(over)
    return {k: v for k, v in env.items() if v != ""}


def cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iwf_widget.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def one_line_failure(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """The command failed at start-up with exactly one line on stderr, holding ``words``."""
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def busy_port() -> t.Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path, keypair, busy_port):
    done = cli(widget_env(tmp_path, keypair), "serve", "--port", str(busy_port), cwd=tmp_path)
    one_line_failure(done, str(busy_port), "already in use", "--port")


def test_intake_on_a_port_in_use_says_so_in_one_line(tmp_path, keypair, busy_port):
    done = cli(intake_env(tmp_path, keypair), "intake", "--port", str(busy_port), cwd=tmp_path)
    one_line_failure(done, str(busy_port), "already in use")


@pytest.mark.parametrize("url", ["mysql://user@db.example/iwf", "nonsense://x", "not a url"])
def test_an_unsupported_database_url_names_its_key(tmp_path, keypair, url):
    done = cli(widget_env(tmp_path, keypair, IWF_WIDGET_OUTBOX_URL=url), "serve", cwd=tmp_path)
    one_line_failure(done, "IWF_WIDGET_OUTBOX_URL", "sqlite:///")
    done = cli(intake_env(tmp_path, keypair, IWF_INTAKE_DB_URL=url), "intake", cwd=tmp_path)
    one_line_failure(done, "IWF_INTAKE_DB_URL", "sqlite:///")


def test_an_unreachable_database_is_one_line_naming_the_setting(tmp_path, keypair):
    pytest.importorskip("psycopg")
    url = "postgresql://iwf:secret-password@127.0.0.1:1/iwf"
    line = one_line_failure(
        cli(widget_env(tmp_path, keypair, IWF_WIDGET_OUTBOX_URL=url), "serve", cwd=tmp_path),
        "IWF_WIDGET_OUTBOX_URL",
        "database",
    )
    assert "secret-password" not in line
    one_line_failure(
        cli(intake_env(tmp_path, keypair, IWF_INTAKE_DB_URL=url), "intake", cwd=tmp_path), "IWF_INTAKE_DB_URL"
    )


def test_a_missing_database_driver_is_one_line_with_the_install_command(tmp_path, keypair):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "psycopg.py").write_text("raise ImportError('no libpq here', name='psycopg')\n")
    env = widget_env(tmp_path, keypair, IWF_WIDGET_OUTBOX_URL="postgresql://iwf@127.0.0.1:1/iwf")
    env["PYTHONPATH"] = f"{shim}{os.pathsep}{ROOT}"
    one_line_failure(cli(env, "serve", cwd=tmp_path), "pip install")


@pytest.mark.parametrize("command", ["serve", "forward"])
def test_a_bad_setting_is_one_line_naming_the_key(tmp_path, keypair, command):
    done = cli(widget_env(tmp_path, keypair, IWF_WIDGET_SIGNING_KEY="short"), command, cwd=tmp_path)
    one_line_failure(done, "IWF_WIDGET_SIGNING_KEY")


def test_a_missing_setting_points_at_init(tmp_path, keypair):
    done = cli(widget_env(tmp_path, keypair, IWF_WIDGET_PARTNER_ID=""), "serve", cwd=tmp_path)
    one_line_failure(done, "IWF_WIDGET_PARTNER_ID", "iwf-widget init")


def test_a_misspelt_key_is_warned_with_the_key_it_meant(tmp_path, keypair):
    (tmp_path / "outbox.db").touch()
    env = widget_env(
        tmp_path, keypair, IWF_WIDGET_ALLOWED_ORIGIN="https://www.partner.example", IWF_INTAKE_PARTNER="{}"
    )
    done = cli(env, "outbox", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "IWF_WIDGET_ALLOWED_ORIGIN is not a setting; did you mean IWF_WIDGET_ALLOWED_ORIGINS?" in done.stderr
    assert "IWF_INTAKE_PARTNER is not a setting; did you mean IWF_INTAKE_PARTNERS?" in done.stderr


def test_a_misspelt_key_in_a_flask_app_is_logged(make_app, caplog):
    with caplog.at_level("WARNING", logger="iwf_widget"):
        make_app(IWF_WIDGET_MIN_FIL_SECONDS=0)
    assert "IWF_WIDGET_MIN_FIL_SECONDS is not a setting; did you mean IWF_WIDGET_MIN_FILL_SECONDS?" in caplog.text


# -- commands need only what they use --------------------------------------------


def test_intake_export_without_a_database_is_an_error_and_creates_none(tmp_path, keypair):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWF_")}
    env["PYTHONPATH"] = str(ROOT)
    done = cli(env, "intake-export", cwd=tmp_path)
    one_line_failure(done, "IWF_INTAKE_DB_URL", "no database")
    assert done.stdout == ""
    assert not (tmp_path / "instance").exists(), "a missing database must not be created"
    env["IWF_INTAKE_DB_URL"] = f"sqlite:///{tmp_path}/elsewhere.db"
    one_line_failure(cli(env, "intake-export", cwd=tmp_path), str(tmp_path / "elsewhere.db"))
    assert not (tmp_path / "elsewhere.db").exists()


def test_outbox_needs_only_the_outbox_and_never_creates_one(tmp_path, keypair):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWF_")}
    env.update(PYTHONPATH=str(ROOT), IWF_WIDGET_OUTBOX_URL=f"sqlite:///{tmp_path}/outbox.db")
    one_line_failure(cli(env, "outbox", cwd=tmp_path), "IWF_WIDGET_OUTBOX_URL", "no database")
    assert not (tmp_path / "outbox.db").exists()
    from iwf_widget.outbox import Outbox

    Outbox(f"sqlite:///{tmp_path}/outbox.db").close()
    done = cli(env, "outbox", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pending 0, failed 0")


def test_forward_needs_no_intake_public_key(tmp_path, keypair):
    from iwf_widget.outbox import Outbox

    Outbox(f"sqlite:///{tmp_path}/outbox.db").close()
    env = widget_env(tmp_path, keypair, IWF_WIDGET_INTAKE_PUBLIC_KEY="")
    done = cli(env, "forward", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sent 0")


def test_a_partner_catalog_that_would_fail_on_a_page_stops_serve_in_one_line(tmp_path, keypair):
    po = tmp_path / "wording" / "fr" / "LC_MESSAGES" / "iwf_widget.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid "Call the police now on %(number)s."\nmsgstr "Appelez le %(numéro)s."\n', "utf-8")
    env = widget_env(tmp_path, keypair, IWF_WIDGET_TRANSLATIONS_DIR=str(tmp_path / "wording"))
    line = one_line_failure(cli(env, "serve", "--port", "9", cwd=tmp_path), "IWF_WIDGET_TRANSLATIONS_DIR", str(po))
    assert "is not in the English string" in line or "cannot be filled in" in line
