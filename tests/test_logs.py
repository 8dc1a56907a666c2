"""Nothing the library logs, at any level, names a reporter or what they reported.

Every logger is opened up to DEBUG while reports go through the widget (valid,
invalid, rate-limited, failing storage) and on to a real intake over HTTP; the
marker values sent as the client's address, User-Agent, Referer, addresses,
description and email must appear in no record, message, argument or traceback.
"""

from __future__ import annotations

import json
import logging
import threading
import typing as t

import pytest
from support.partner import SIGNING_KEY, valid_answers

from iwf_widget.forwarder import Forwarder

IP = "203.0.113.197"
FORWARDED_IP = "198.51.100.211"
USER_AGENT = "Mozilla/5.0 UA-MARKER-7f3a"
REFERER = "https://referer-marker.example/page"
ADDRESS = "https://address-marker.example/hidden-path-7f3a"
DESCRIPTION = "DESCRIPTION-MARKER-7f3a on the second page"
EMAIL = "email-marker-7f3a@example.org"
MARKERS = [
    IP,
    FORWARDED_IP,
    "UA-MARKER-7f3a",
    "referer-marker",
    "address-marker",
    "hidden-path-7f3a",
    "DESCRIPTION-MARKER",
    "email-marker",
]


class Everything(logging.Handler):
    """Keeps each record formatted the way any handler could render it, traceback included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(repr(record.args))
        self.texts.append(repr(getattr(record, "__dict__", {})))


@pytest.fixture
def captured() -> t.Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    saved = {
        name: (lg.level, lg.propagate, lg.disabled)
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    saved_root = root.level
    for lg in logging.root.manager.loggerDict.values():
        if isinstance(lg, logging.Logger):
            lg.setLevel(logging.DEBUG)
            lg.propagate = True
            lg.disabled = False
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_root)
        for name, (level, propagate, disabled) in saved.items():
            lg = logging.getLogger(name)
            lg.setLevel(level)
            lg.propagate = propagate
            lg.disabled = disabled


def open_all_loggers() -> None:
    """Loggers created after the fixture started (imports inside the test) are opened too."""
    for lg in logging.root.manager.loggerDict.values():
        if isinstance(lg, logging.Logger):
            lg.setLevel(logging.DEBUG)
            lg.propagate = True
            lg.disabled = False


def assert_no_marker(handler: Everything) -> None:
    assert handler.texts, "the capture works: something was logged"
    for text in handler.texts:
        for marker in MARKERS:
            assert marker not in text, f"{marker!r} leaked into a log record: {text[:300]}"


def post(client, headers: dict[str, str] | None = None, **answers: str):
    environ = {"REMOTE_ADDR": IP}
    base = {"User-Agent": USER_AGENT, "Referer": REFERER, "X-Forwarded-For": FORWARDED_IP}
    page = client.get("/report/form?lang=fr", headers=base, environ_base=environ).get_data(as_text=True)
    data = valid_answers(page, urls=ADDRESS, description=DESCRIPTION, contact_email=EMAIL) | answers
    return client.post("/report/form?lang=fr", data=data, headers=base | (headers or {}), environ_base=environ)


def test_submissions_of_every_outcome_log_nothing_about_the_reporter(make_app, captured):
    # Only reports are charged (refusals are free): the first report without
    # proof-of-work weighs 4, so the next report is over the limit.
    app = make_app(IWF_WIDGET_RATE_LIMIT="4/hour", IWF_WIDGET_TRUSTED_PROXIES=1)
    open_all_loggers()
    client = app.test_client()
    assert post(client).status_code == 200
    assert post(client, urls=ADDRESS + "\njavascript:alert(1)").status_code == 400
    assert post(client, contact_email="not-an-email " + EMAIL).status_code == 400
    assert post(client, homepage=ADDRESS).status_code == 400
    assert post(client, headers={"Origin": REFERER}).status_code == 400
    assert post(client, iwf_token="forged").status_code == 400
    assert post(client).status_code == 429
    app.logger.debug("host app logging works")

    broken = make_app(IWF_WIDGET_OUTBOX_URL=f"sqlite:///{app.instance_path}/broken.db")
    with broken.extensions["iwf_widget"].outbox.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE iwf_outbox")
    assert post(broken.test_client()).status_code == 503
    assert any("outbox write failed" in text for text in captured.texts)
    assert_no_marker(captured)


def test_forwarding_to_a_real_intake_logs_nothing_about_the_reports(make_app, tmp_path, captured):
    from iwf_widget.intake import create_app
    from iwf_widget.sealing import generate_keypair
    from iwf_widget.serving import make_server, server_url

    private, public = generate_keypair()
    intake = create_app(
        {
            "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db",
            "IWF_INTAKE_PRIVATE_KEY": private,
            "IWF_INTAKE_PARTNERS": json.dumps({"test-partner": [SIGNING_KEY]}),
        }
    )
    server = make_server(intake, "127.0.0.1", 0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        app = make_app(IWF_WIDGET_INTAKE_URL=server_url(server), IWF_WIDGET_INTAKE_PUBLIC_KEY=public)
        wrong_key = make_app(
            IWF_WIDGET_INTAKE_URL=server_url(server),
            IWF_WIDGET_OUTBOX_URL=f"sqlite:///{tmp_path}/wrong.db",
        )
        open_all_loggers()
        for widget in (app, wrong_key):
            assert post(widget.test_client()).status_code == 200
            assert post(widget.test_client(), description=DESCRIPTION + " again").status_code == 200
        state = app.extensions["iwf_widget"]
        summary = Forwarder(state.settings, state.outbox).drain()
        assert summary["accepted"] == 2
        assert intake.extensions["iwf_intake"].store.count() == 2
        # Sealed to another intake's key: the intake refuses both, and says so.
        other = wrong_key.extensions["iwf_widget"]
        assert Forwarder(other.settings, other.outbox).drain()["rejected"] == 2
        # And an intake that does not answer at all.
        down = make_app(
            IWF_WIDGET_INTAKE_URL="http://127.0.0.1:9", IWF_WIDGET_OUTBOX_URL=f"sqlite:///{tmp_path}/down.db"
        )
        assert post(down.test_client()).status_code == 200
        down_state = down.extensions["iwf_widget"]
        assert Forwarder(down_state.settings, down_state.outbox).drain()["retried"] == 1
    finally:
        server.close()
        thread.join(5)
    assert any("moved to failed" in text for text in captured.texts)
    assert any("deferred" in text for text in captured.texts)
    assert_no_marker(captured)


def test_intake_storage_failure_logs_no_report_content(tmp_path, keypair, captured):
    """An exception carries its SQL parameters unless the engine hides them; ours do."""
    from iwf_widget.intake import create_app
    from iwf_widget.intake.validate import Report
    from iwf_widget.outbox import minute

    intake = create_app(
        {
            "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db",
            "IWF_INTAKE_PRIVATE_KEY": keypair[0],
            "IWF_INTAKE_PARTNERS": json.dumps({"test-partner": [SIGNING_KEY]}),
        }
    )
    open_all_loggers()
    store = intake.extensions["iwf_intake"].store
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON iwf_intake_reports BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    report = Report("ab" * 16, "test-partner", "en", minute(), [ADDRESS], "images", "website", DESCRIPTION, EMAIL)
    try:
        store.put("test-partner", [report])
    except Exception:
        logging.getLogger("iwf_widget.intake").exception("storing a batch failed")
    assert_no_marker(captured)
