"""What a partner downloads: ``python -m build`` gives an sdist and a wheel that ``twine check``
passes, whose metadata a partner can trust, and whose sdist runs its own tests."""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from support.ports import free_port
from support.venvs import clean_venv

ROOT = Path(__file__).resolve().parent.parent
HOME = "https://github.com/iwf-widget/iwf-widget"
#: Tests that need no browser, database server or benchmark, run from the unpacked sdist.
FAST = ["tests/test_settings.py", "tests/test_headers.py", "tests/test_report_form.py", "tests/test_addresses.py"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """``python -m build``: the sdist, then the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_twine_check_passes_for_both_distributions(dist):
    files = sorted(str(p) for p in dist.iterdir())
    assert sorted(Path(f).suffix for f in files) == [".gz", ".whl"]
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def metadata(dist: Path) -> email.message.Message:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(z.read(name))


def test_the_package_page_names_its_home_docs_changelog_issues_and_security_contact(dist):
    meta = metadata(dist)
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert urls["Documentation"] == "https://iwf-widget.readthedocs.io/"
    assert urls["Source"] == HOME
    assert meta["Home-page"] == HOME
    for label in ("Changelog", "Issues", "Security"):
        assert urls[label].startswith(HOME + "/"), label
    assert meta["Author-email"] == meta["Maintainer-email"] == "security@iwf-widget.org"
    assert "security@iwf-widget.org" in (ROOT / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    classifiers = set(meta.get_all("Classifier"))
    for wanted in (
        "Framework :: Flask",
        "License :: OSI Approved :: BSD License",
        "Typing :: Typed",
        "Development Status :: 4 - Beta",
        *(f"Programming Language :: Python :: 3.{v}" for v in range(10, 14)),
    ):
        assert wanted in classifiers
    (wheel,) = dist.glob("*.whl")
    assert "iwf_widget/py.typed" in zipfile.ZipFile(wheel).namelist()


def test_every_link_in_the_long_description_works_on_the_package_index(dist):
    description = metadata(dist).get_payload()
    links = re.findall(r"\]\(([^)\s]+)\)", description) + re.findall(r'(?:href|src)="([^"]+)"', description)
    assert links
    for link in links:
        assert link.startswith(("https://", "#")), f"{link} is relative: dead on the package index"
        if link.startswith(HOME + "/blob/main/"):
            assert (ROOT / link.removeprefix(HOME + "/blob/main/").split("#")[0]).is_file(), link


def test_postgresql_comes_with_the_package_and_redis_is_an_extra(dist):
    requires = metadata(dist).get_all("Requires-Dist")
    plain = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("psycopg[binary]") for r in plain), plain
    assert not [r for r in plain if r.startswith("redis")], plain
    assert any(r.startswith("redis") and 'extra == "redis"' in r for r in requires)
    # Every package the code imports is declared.
    for name in ("flask", "werkzeug", "markupsafe", "click", "idna", "httpx", "httpcore", "babel", "wtforms"):
        assert any(re.match(rf"{name}\b", r, re.IGNORECASE) for r in plain), name


@pytest.mark.parametrize(
    "key, url, extra",
    [
        ("IWF_WIDGET_OUTBOX_URL", "postgresql://iwf@127.0.0.1:9/outbox", "psycopg[binary]"),
        ("IWF_WIDGET_REDIS_URL", "redis://127.0.0.1:9/0", "iwf-widget[redis]"),
    ],
)
def test_a_url_whose_driver_cannot_be_imported_names_the_install_in_one_line(tmp_path, keypair, key, url, extra):
    # An interpreter where neither package can be imported (no Redis extra; a psycopg without libpq).
    script = (
        "import sys; sys.modules['psycopg'] = None; sys.modules['redis'] = None\n"
        "from iwf_widget.cli import main; main(['serve', '--port', sys.argv[1]])\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IWF_")},
        "IWF_WIDGET_PARTNER_ID": "p",
        "IWF_WIDGET_INTAKE_URL": "http://127.0.0.1:9",
        "IWF_WIDGET_SIGNING_KEY": "s" * 32,
        "IWF_WIDGET_INTAKE_PUBLIC_KEY": keypair[1],
        "IWF_WIDGET_INSTANCE": str(tmp_path),
        key: url,
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(free_port())], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert key in lines[0] and f"pip install '{extra}'" in lines[0]


def test_the_sdist_carries_the_tests_with_their_support_files_and_the_docs(dist):
    (sdist,) = dist.glob("*.tar.gz")
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    for path in (
        "tests/conftest.py",
        "tests/support/partner.py",
        "tests/data/hostile.json",
        "docs/embedding.md",
        "docs/SECURITY.md",
        "MANIFEST.in",
        "babel.cfg",
        "scripts/test",
    ):
        assert path in names, path
    assert not [n for n in names if "node_modules" in n or n.endswith((".pyc", ".db"))]


def test_the_unpacked_sdist_runs_its_fast_tests_green_against_the_built_wheel(dist, tmp_path):
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path, filter="data")
    (source,) = [p for p in tmp_path.iterdir() if p.name.startswith("iwf_widget-")]
    python = clean_venv(tmp_path / "venv")
    (wheel,) = dist.glob("*.whl")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    # -P: the package comes from the wheel just installed, not from the unpacked source.
    done = subprocess.run(
        [python, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", *FAST],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"\d+ passed", done.stdout)
