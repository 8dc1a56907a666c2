"""The built wheel carries templates, static files and compiled catalogs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from support.venvs import clean_venv

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (found,) = out.glob("iwf_widget-*.whl")
    return found


def test_wheel_contains_static_files_templates_and_catalogs(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "iwf_widget/static/embed.js" in names
    assert "iwf_widget/static/widget.css" in names
    assert "iwf_widget/templates/iwf_widget/form.html" in names
    for lang in ("fr", "ar"):
        assert f"iwf_widget/translations/{lang}/LC_MESSAGES/iwf_widget.mo" in names
    assert not any(n.startswith(("tests/", "demo_site/")) for n in names)


def test_wheel_carries_both_schemas_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in ("outbox", "intake"):
        for part in ("env.py", "script.py.mako", "versions/0001_baseline.py"):
            assert f"iwf_widget/migrations/{schema}/{part}" in names
    assert "iwf_widget/migrations/alembic.ini" in names


def test_installed_wheel_serves_a_french_form_and_the_snippet(wheel, tmp_path, keypair):
    venv = tmp_path / "venv"
    py = clean_venv(venv)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    script = textwrap.dedent(
        f"""
        import iwf_widget, sys
        from flask import Flask
        assert iwf_widget.__file__.startswith({str(venv)!r}), iwf_widget.__file__
        app = Flask("p", instance_path={str(tmp_path / "inst")!r})
        app.config.update(IWF_WIDGET_PARTNER_ID="p", IWF_WIDGET_INTAKE_URL="http://127.0.0.1:9",
            IWF_WIDGET_SIGNING_KEY="s" * 20, IWF_WIDGET_INTAKE_PUBLIC_KEY={keypair[1]!r},
            IWF_WIDGET_FORWARDER="off")
        iwf_widget.ReportWidget(app)
        c = app.test_client()
        page = c.get("/report/form?lang=fr").get_data(as_text=True)
        assert 'lang="fr"' in page and "Leave this site quickly" not in page, page[:500]
        assert c.get("/report/embed.js").status_code == 200
        assert c.get("/report/static/widget.css").status_code == 200
        print("ok")
        """
    )
    out = subprocess.run([str(py), "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
