"""The README's quickstart and the docs' Flask examples run as written."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import httpx
import pytest
from support.docblocks import ROOT, Block, all_docs, blocks, commands, required_settings, section
from support.ports import free_port
from support.procs import Proc

pytestmark = pytest.mark.slow

README = ROOT / "README.md"


def required_env(keypair: tuple[str, str], intake_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    """The environment a reader has: their own, no IWF_* keys but the README's required ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWF_")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT)
    values = {
        "IWF_WIDGET_PARTNER_ID": "quickstart-partner",
        "IWF_WIDGET_INTAKE_URL": intake_url,
        "IWF_WIDGET_SIGNING_KEY": "quickstart-signing-key-0123456789abcdef",
        "IWF_WIDGET_INTAKE_PUBLIC_KEY": keypair[1],
    }
    for key in required_settings():
        assert key in values, f"the README requires {key}, which this test does not know how to fill"
        env[key] = values[key]
    return env


def run_flask_app(tmp_path: Path, block: Block, command: str, env: dict[str, str]) -> tuple[Proc, int]:
    (tmp_path / "app.py").write_text(block.text, encoding="utf-8")
    port = free_port()
    env = {**env, "FLASK_RUN_PORT": str(port)}  # the reader's own choice of port; the command stays verbatim
    proc = Proc("flask", shlex.split(command), env, tmp_path / "flask.log", f"http://127.0.0.1:{port}/report/healthz")
    return proc, port


def french_form(port: int) -> str:
    page = httpx.get(f"http://127.0.0.1:{port}/report/form", params={"lang": "fr"}, timeout=10)
    assert page.status_code == 200
    assert '<html lang="fr"' in page.text
    assert "Signaler" in page.text
    return page.text


def test_readme_quickstart_runs_verbatim_and_serves_the_french_form(tmp_path, keypair):
    quick = section(README, "Quickstart for a Flask app")
    app = next(b for b in quick if b.lang == "python")
    command = next(commands(next(b for b in quick if b.lang == "sh")))
    proc, port = run_flask_app(tmp_path, app, command, required_env(keypair))
    try:
        french_form(port)
        assert "Traceback" not in proc.output()
    finally:
        proc.stop()


def flask_apps() -> list[Block]:
    return [b for path in all_docs() for b in blocks(path) if b.lang == "python" and "Flask(__name__)" in b.text]


@pytest.mark.parametrize("block", flask_apps(), ids=str)
def test_every_flask_app_in_the_docs_serves_the_french_form(tmp_path, keypair, block):
    proc, port = run_flask_app(tmp_path, block, "flask --app app run", required_env(keypair))
    try:
        french_form(port)
    finally:
        proc.stop()


@pytest.mark.parametrize("block", [b for path in all_docs() for b in blocks(path) if b.lang == "python"], ids=str)
def test_every_python_block_in_the_docs_is_valid_python(block):
    compile(block.text, str(block), "exec")


def test_a_missing_key_in_app_config_is_read_from_the_environment(tmp_path, keypair, monkeypatch):
    from flask import Flask

    from iwf_widget import ReportWidget

    monkeypatch.setenv("IWF_WIDGET_PARTNER_ID", "from-the-environment")
    monkeypatch.setenv("IWF_WIDGET_EXIT_URL", "https://env.example/")
    app = Flask("partner", instance_path=str(tmp_path))
    app.config.update(
        IWF_WIDGET_INTAKE_URL="http://127.0.0.1:9",
        IWF_WIDGET_SIGNING_KEY="s" * 32,
        IWF_WIDGET_INTAKE_PUBLIC_KEY=keypair[1],
        IWF_WIDGET_EXIT_URL="https://config.example/",
        IWF_WIDGET_FORWARDER="off",
    )
    ReportWidget(app)
    settings = ReportWidget.state(app).settings
    assert settings.partner_id == "from-the-environment"
    assert settings.exit_url == "https://config.example/", "app.config wins over the environment"


def test_the_protocol_guides_signature_by_hand_gives_the_signature_it_shows():
    import re
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    guide = ROOT / "docs" / "protocol.md"
    (request,) = [b for b in section(guide, "The request") if "X-IWF-Signature" in b.text]
    body = request.text.strip().splitlines()[-1]
    (by_hand,) = [b for b in section(guide, "The signature") if "openssl" in b.text]
    shown = re.search(r"= ([0-9a-f]{64})", by_hand.text).group(1)
    assert f"X-IWF-Signature: {shown}" in request.text
    done = subprocess.run(
        ["bash", "-c", by_hand.text], env={**os.environ, "BODY": body}, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(shown)
