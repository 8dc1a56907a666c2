"""A partner app with the widget at /report, and valid answers for its form."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

from flask import Flask

from iwf_widget import ReportWidget, reference

SIGNING_KEY = "test-signing-key-0123456789abcdef"


def partner_app(folder: Path, public_key: str, **config: t.Any) -> Flask:
    """A partner app with the widget at /report, its instance and outbox in ``folder``.

    Lenient by default (no minimum fill time, no rate limit, no forwarder thread);
    keyword arguments override any setting.
    """
    app = Flask("partner", instance_path=str(folder / "instance"))
    app.config.update(
        IWF_WIDGET_PARTNER_ID="test-partner",
        IWF_WIDGET_INTAKE_URL="http://127.0.0.1:9",
        IWF_WIDGET_SIGNING_KEY=SIGNING_KEY,
        IWF_WIDGET_INTAKE_PUBLIC_KEY=public_key,
        IWF_WIDGET_OUTBOX_URL=f"sqlite:///{folder}/outbox.db",
        IWF_WIDGET_MIN_FILL_SECONDS=0,
        IWF_WIDGET_RATE_LIMIT="off",
        IWF_WIDGET_FORWARDER="off",
    )
    app.config.update(config)
    ReportWidget(app, url_prefix="/report")
    return app


def mistyped(ref: str) -> str:
    """``ref`` with one character changed: the check character no longer fits."""
    changed = ref[:3] + ("7" if ref[3] != "7" else "8") + ref[4:]
    assert reference.problem(changed) == reference.MISTYPED
    return changed


def token_of(page: str) -> str:
    found = re.search(r'name="iwf_token" value="([^"]+)"', page)
    assert found, "no form token on the page"
    return found.group(1)


def valid_answers(page: str, **over: str) -> dict[str, str]:
    """A complete, valid submission for the form on ``page``."""
    return answers(token_of(page), **over)


def answers(token: str, **over: str) -> dict[str, str]:
    """A complete, valid submission carrying ``token``."""
    data = {
        "iwf_token": token,
        "urls": "https://example.com/a.html",
        "content_kind": "images",
        "where_seen": "website",
        "description": "",
        "contact_email": "",
        "homepage": "",
    }
    data.update(over)
    return data
