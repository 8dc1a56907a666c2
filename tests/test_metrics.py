"""Prometheus metrics on the widget and the intake: what they count, and who may read them."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.partner import mistyped
from support.ports import free_port
from support.procs import KEY, PARTNER, ROOT, Proc, System, wait_until

from iwf_widget import metrics, reference
from iwf_widget.intake import create_app

WIDGET_TOKEN = "widget-metrics-token-0123456789"
INTAKE_TOKEN = "intake-metrics-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(url: str, token: str) -> str:
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


@pytest.fixture
def system(tmp_path, keypair):
    s = System(tmp_path, keypair, IWF_WIDGET_METRICS_TOKEN=WIDGET_TOKEN)
    s.intake_env["IWF_INTAKE_METRICS_TOKEN"] = INTAKE_TOKEN
    yield s
    s.stop_all()


def post_form(system: System, **over: str) -> httpx.Response:
    page = system.http.get(f"{system.widget_url}/form", params={"lang": "en"}).text
    token = re.search(r'name="iwf_token" value="([^"]+)"', page)
    assert token
    data = {
        "iwf_token": token.group(1),
        "urls": "https://example.com/a.html",
        "content_kind": "images",
        "where_seen": "website",
        "description": "",
        "contact_email": "",
        "homepage": "",
        **over,
    }
    headers = {"Sec-Fetch-Site": over.pop("_site")} if "_site" in over else {}
    data.pop("_site", None)
    return system.http.post(f"{system.widget_url}/form", params={"lang": "en"}, data=data, headers=headers)


def test_scrapes_count_reports_refusals_and_a_forward_failure(system):
    system.start_intake(faulty=True)
    system.set_intake_mode("503", retry_after=1)
    system.start_widget()
    metrics_url = f"{system.widget_url}/metrics"
    system.submit()
    system.submit()
    assert post_form(system, iwf_token="forged").status_code == 400
    assert post_form(system, _site="cross-site").status_code == 400
    assert post_form(system, urls="").status_code == 400
    assert post_form(system, homepage="https://spam.example").status_code == 400

    failed = wait_until(
        lambda: value(scrape(metrics_url, WIDGET_TOKEN), "iwf_widget_forward_failures_total", cause="not_intake") >= 1
    )
    assert failed
    text = scrape(metrics_url, WIDGET_TOKEN)
    assert value(text, "iwf_widget_reports_accepted_total") == 2
    assert value(text, "iwf_widget_submissions_refused_total", reason="token") == 1
    assert value(text, "iwf_widget_submissions_refused_total", reason="origin") == 1
    assert value(text, "iwf_widget_submissions_refused_total", reason="validation") == 1
    assert value(text, "iwf_widget_submissions_refused_total", reason="honeypot") == 1
    assert value(text, "iwf_widget_submissions_refused_total", reason="limit") == 0
    assert value(text, "iwf_widget_outbox_pending") == 2
    assert value(text, "iwf_widget_outbox_oldest_pending_age_seconds") >= 60
    assert value(text, "iwf_widget_forward_attempts_total") >= 1
    assert value(text, "iwf_widget_forward_seconds_count") >= 1

    system.set_intake_mode("ok")
    system.wait_for_reports(2)
    assert wait_until(lambda: value(scrape(metrics_url, WIDGET_TOKEN), "iwf_widget_outbox_pending") == 0)
    text = scrape(metrics_url, WIDGET_TOKEN)
    assert value(text, "iwf_widget_outbox_oldest_pending_age_seconds") == 0
    intake = scrape(f"{system.intake_url}/metrics", INTAKE_TOKEN)
    assert value(intake, "iwf_intake_reports_stored_total", partner=PARTNER) == 2
    assert value(intake, "iwf_intake_batches_total", partner=PARTNER) >= 1


def test_metrics_carry_nothing_about_a_reporter(system):
    system.start_intake()
    system.start_widget()
    system.submit(url="https://example.com/very-private-address")
    system.wait_for_reports(1)
    for text in (
        scrape(f"{system.widget_url}/metrics", WIDGET_TOKEN),
        scrape(f"{system.intake_url}/metrics", INTAKE_TOKEN),
    ):
        assert "example.com" not in text and "127.0.0.1" not in text
        labels = {k for (_, ls) in samples(text) for k, _ in ls}
        assert labels <= {"reason", "cause", "result", "partner", "le"}


def test_metrics_are_refused_without_the_token(system):
    system.start_intake()
    system.start_widget()
    for url in (f"{system.widget_url}/metrics", f"{system.intake_url}/metrics"):
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Basic {WIDGET_TOKEN}"}).status_code == 401


def test_metrics_are_not_served_without_a_token_set(client, tmp_path, keypair):
    assert client.get("/report/metrics", headers={"Authorization": "Bearer x"}).status_code == 404
    intake = create_app(
        {
            "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/intake.db",
            "IWF_INTAKE_PRIVATE_KEY": keypair[0],
            "IWF_INTAKE_PARTNERS": f'{{"{PARTNER}": ["{KEY}"]}}',
        }
    )
    assert intake.test_client().get("/metrics").status_code == 404


@pytest.mark.skipif(
    shutil.which("gunicorn") is None and not Path(sys.executable).with_name("gunicorn").exists(),
    reason="gunicorn is not installed",
)
@pytest.mark.slow  # waits on real locks, workers or a large body: not in --fast
def test_counters_add_up_across_gunicorn_workers(tmp_path, keypair):
    """Two workers, each restarted every few requests: a scrape by any worker counts every report."""
    prom = tmp_path / "prom"
    prom.mkdir()
    (tmp_path / "widget_wsgi.py").write_text(
        "import os\nfrom iwf_widget.serving import widget_app\napp = widget_app(os.environ)\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
        "PROMETHEUS_MULTIPROC_DIR": str(prom),
        "IWF_WIDGET_PARTNER_ID": PARTNER,
        "IWF_WIDGET_INTAKE_URL": "http://127.0.0.1:9",
        "IWF_WIDGET_SIGNING_KEY": KEY,
        "IWF_WIDGET_INTAKE_PUBLIC_KEY": keypair[1],
        "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{tmp_path}/outbox.db",
        "IWF_WIDGET_INSTANCE": str(tmp_path / "instance"),
        "IWF_WIDGET_MIN_FILL_SECONDS": "0",
        "IWF_WIDGET_RATE_LIMIT": "off",
        "IWF_WIDGET_PARTNER_RATE_LIMIT": "off",
        "IWF_WIDGET_FORWARDER": "off",
        "IWF_WIDGET_METRICS_TOKEN": WIDGET_TOKEN,
    }
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "2", "--max-requests", "3", "-b", f"127.0.0.1:{port}"]
    proc = Proc(
        "gunicorn",
        [*gunicorn, "widget_wsgi:app"],
        env,
        tmp_path / "gunicorn.log",
        f"http://127.0.0.1:{port}/report/healthz",
    )
    try:
        base = f"http://127.0.0.1:{port}/report"
        for _ in range(6):
            with httpx.Client(timeout=10) as http:
                page = http.get(f"{base}/form").text
                token = re.search(r'name="iwf_token" value="([^"]+)"', page)
                assert token
                answer = http.post(
                    f"{base}/form",
                    data={
                        "iwf_token": token.group(1),
                        "urls": "https://example.com/a.html",
                        "content_kind": "images",
                        "where_seen": "website",
                        "homepage": "",
                    },
                )
                assert answer.status_code == 200
        pids = {p.name.rsplit("_", 1)[-1] for p in prom.glob("counter_*.db")}
        assert len(pids) > 2, "the workers were not restarted"
        for _ in range(4):
            text = scrape(f"{base}/metrics", WIDGET_TOKEN)
            assert value(text, "iwf_widget_reports_accepted_total") == 6
            assert value(text, "iwf_widget_outbox_pending") == 6
    finally:
        proc.stop()


def test_status_lookups_are_counted_by_result_and_never_by_reference(system):
    system.widget_env.update(IWF_WIDGET_WORK_DIFFICULTY="0", IWF_WIDGET_STATUS_RATE_LIMIT="2/hour")
    system.start_intake()
    system.start_widget()
    held = system.submit()
    unknown = reference.for_report("0" * 31 + "1")
    typo = mistyped(unknown)

    look = system.look
    assert [look(held), look(unknown), look(typo), look("nonsense"), look(held, iwf_token="forged")] == [
        200,
        200,
        400,
        400,
        400,
    ]
    assert look(unknown) == 429, "the third well-formed lookup is over the limit of 2"
    text = scrape(f"{system.widget_url}/metrics", WIDGET_TOKEN)
    counted = {r: value(text, "iwf_widget_status_lookups_total", result=r) for r in metrics.LOOKUP_RESULTS}
    assert counted == {
        "known": 1,
        "unknown": 1,
        "limited": 1,
        "failed": 0,
        "origin": 0,
        "token": 1,
        "proof_of_work": 0,
        "mistyped": 1,
        "malformed": 1,
    }
    assert held not in text and reference.compact(held) not in text


def test_every_reason_a_lookup_is_not_made_is_a_lookup_result_present_from_the_start():
    """The metrics module stays free of the widget's modules (the intake imports it), so the
    results are listed there by hand: each of the status page's problems must be one."""
    from iwf_widget.status import Problem

    assert {problem.value for problem in Problem} <= set(metrics.LOOKUP_RESULTS)
