"""Shared fixtures: keys, a partner app on a real SQLite outbox, its client."""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest
from flask import Flask
from support.browser import CHROMIUM, in_ci, launch

# Also re-exported for tests that still write ``from conftest import ...``:
# new tests import them from ``support.partner``.
from support.partner import SIGNING_KEY, answers, partner_app, token_of, valid_answers  # noqa: F401
from support.venvs import clean_venv  # noqa: F401

from iwf_widget.sealing import generate_keypair

#: Markers given by the fixtures a test uses (directly or through other fixtures),
#: so that a new test is marked without writing the marker itself.
MARKERS_BY_FIXTURE = {
    "browser": "browser",
    "postgres": "postgres",
    "redis_server": "redis",
    "saving_redis": "redis",
    # Real intake and widget processes (tests/support/procs.py, servers.py).
    "system": "slow",
    "deployment": "slow",
    # sdist and wheel built with python -m build (tests/test_distribution.py).
    "dist": "slow",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            if fixture in MARKERS_BY_FIXTURE:
                item.add_marker(MARKERS_BY_FIXTURE[fixture])


@pytest.fixture(scope="session")
def keypair() -> tuple[str, str]:
    """(private, public) intake keys."""
    return generate_keypair()


@pytest.fixture
def make_app(tmp_path, keypair) -> t.Callable[..., Flask]:
    """Build a partner app with the widget at /report; keyword arguments override config."""

    def factory(**config: t.Any) -> Flask:
        return partner_app(tmp_path, keypair[1], **config)

    return factory


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def submit(client):
    """GET the form in ``lang``, then POST valid answers (overridable); returns the response."""

    def do(lang: str = "en", **over: str):
        page = client.get(f"/report/form?lang={lang}").get_data(as_text=True)
        return client.post(f"/report/form?lang={lang}", data=valid_answers(page, **over))

    return do


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright, one per test module (no browser download).

    Skipped where /usr/bin/chromium or Playwright is missing, except in CI (CI=true),
    where the browser tests must run.
    """
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is not installed"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright is not installed"
    if problem:
        if in_ci():
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(problem)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()
