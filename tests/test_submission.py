"""The submission path: one report module, one token module, one Flask-free pipeline."""

from __future__ import annotations

import subprocess
import sys

from support.partner import answers
from werkzeug.datastructures import MultiDict

from iwf_widget import report
from iwf_widget.submission import Accepted, Refusal, Refused, Replayed
from iwf_widget.tokens import Reason, Spent, TokenProblem


def test_importing_the_intake_loads_neither_the_widget_nor_its_form_layer():
    code = (
        "import sys, iwf_widget.intake\n"
        "widget = ('iwf_widget.extension', 'iwf_widget.views', 'iwf_widget.forms', 'iwf_widget.submission',"
        " 'iwf_widget.tokens', 'iwf_widget.work', 'wtforms', 'altcha')\n"
        "print(','.join(m for m in widget if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_the_widget_is_still_importable_from_the_package():
    from iwf_widget import ReportWidget
    from iwf_widget.extension import ReportWidget as Direct

    assert ReportWidget is Direct


def test_the_sealed_payload_has_exactly_the_report_fields_and_minute_time():
    built = report.payload(
        "ab" * 16,
        "p",
        "fr",
        ["https://example.com/"],
        "images",
        "website",
        " note ",
        " a@example.org ",
        created=1_800_000_059,
    )
    assert set(built) == report.FIELDS
    assert built["v"] == report.VERSION and built["created"] == 1_800_000_000
    assert built["description"] == "note" and built["contact_email"] == "a@example.org"


def test_the_pipeline_runs_without_a_request_and_returns_typed_results(app):
    state = app.extensions["iwf_widget"]
    with app.app_context():
        token = state.signer.issue("en")
        data = MultiDict(answers(token))
        first = state.submissions.submit(data, "en", "198.51.100.1", same_origin=True)
        again = state.submissions.submit(data, "en", "198.51.100.1", same_origin=True)
        junk = state.submissions.submit(MultiDict(), "en", "198.51.100.1", same_origin=True)
        cross = state.submissions.submit(data, "en", "198.51.100.1", same_origin=False)
    assert isinstance(first, Accepted) and isinstance(again, Replayed) and again.report_id == first.report_id
    assert isinstance(junk, Refused) and junk.reason is Refusal.TOKEN_INVALID
    assert isinstance(cross, Refused) and cross.reason is Refusal.CROSS_SITE
    assert state.tokens.earlier(state.signer.check(token, "en")) is Spent.REPORTED


def test_token_problems_are_typed(app):
    state = app.extensions["iwf_widget"]
    assert isinstance(state.tokens.check(None, "en"), TokenProblem)
    assert state.tokens.check("x.y.z", "en").reason is Reason.INVALID
    claims = state.tokens.check(state.signer.issue("en"), "en")
    assert claims.expires % 60 == 0 and claims.expires >= claims.issued + 7200
