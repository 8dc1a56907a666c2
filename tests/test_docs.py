"""The documentation site builds with warnings as errors, and its API page documents the widget."""

from __future__ import annotations

import html
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.browser import in_ci

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    missing = [m for m in ("sphinx", "furo", "myst_parser") if importlib.util.find_spec(m) is None]
    if missing:
        if in_ci():
            pytest.fail(f"the docs cannot be built in CI: {', '.join(missing)} missing")
        pytest.skip(f"needs the docs extra (pip install -e '.[docs]'): {', '.join(missing)} missing")
    out = tmp_path_factory.mktemp("html")
    built = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-W", "--keep-going", "-b", "html", str(ROOT / "docs"), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def signature(page: str, name: str) -> str:
    found = re.search(rf'<dt class="sig sig-object py" id="{re.escape(name)}">(.*?)</dt>', page, re.S)
    assert found, f"{name} is not documented"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def test_the_site_builds_without_warnings_and_the_api_page_lists_reportwidget_with_its_parameters(site):
    page = (site / "api.html").read_text("utf-8")
    widget = signature(page, "iwf_widget.ReportWidget")
    for parameter in ("app=None", "url_prefix='/report'", "subdomain=None"):
        assert parameter in widget, widget
    assert "init_app" in signature(page, "iwf_widget.ReportWidget.init_app")
    assert "config" in signature(page, "iwf_widget.intake.create_app")


def test_every_markdown_page_in_docs_is_part_of_the_site(site):
    pages = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    assert pages
    index = (site / "index.html").read_text("utf-8")
    for name in pages:
        assert (site / f"{name}.html").exists(), name
        assert f'href="{name}.html"' in index, f"{name} is missing from the table of contents"
