"""Hub mode: one deployment serves many partners' portals under ``/report/p/<partner_id>/``,
each with its own settings, frame ancestors, tokens, limits and key, on one outbox."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

import httpx
import pytest
from support import browser as B
from support.cli import succeeds
from support.partner import partner_app, token_of, valid_answers
from support.procs import KEY, PARTNER, System, wait_until
from support.servers import (  # noqa: F401  (fixtures)
    database,
    postgres,
    redis_server,
)

from iwf_widget.outbox import Outbox
from iwf_widget.settings import ConfigError

MA, MA_KEY = "ma-cyberconfiance", "ma-signing-key-0123456789abcdef"
SN, SN_KEY = "sn-safe", "sn-signing-key-0123456789abcdef"


def partner_table(partner: str, key: str, origin: str, **over: t.Any) -> str:
    settings: dict[str, t.Any] = {
        "signing_key": key,
        "allowed_origins": [origin],
        "min_fill_seconds": 0,
        "work_difficulty": 0,
        **over,
    }
    lines = [f"[partners.{partner}]"]
    for name, value in settings.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in value.items())
            lines.append(f"{name} = {{{inner}}}")
        else:
            lines.append(f"{name} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def two_partners(ma_origin: str = "https://www.ma.example", sn_origin: str = "https://sn.example", **ma: t.Any) -> str:
    ma_settings = {
        "locales": ["ar", "fr", "en"],
        "default_locale": "ar",
        "help_text": {"ar": "اتصل بالرقم 0800 1234", "fr": "Appelez le 0800 1234"},
        **ma,
    }
    return partner_table(MA, MA_KEY, ma_origin, **ma_settings) + partner_table(
        SN,
        SN_KEY,
        sn_origin,
        locales=["fr", "wo", "en"],
        unreviewed_locales=["wo"],
        default_locale="fr",
        help_text="Appelez le 116",
    )


@pytest.fixture
def hub_app(tmp_path, keypair):
    def make(text: str | None = None, **config: t.Any) -> t.Any:
        path = tmp_path / "partners.toml"
        path.write_text(text or two_partners(), "utf-8")
        return partner_app(tmp_path, keypair[1], IWF_WIDGET_PARTNERS_FILE=str(path), **config)

    return make


def send(client: t.Any, partner: str, lang: str = "fr", address: str = "198.51.100.7") -> t.Any:
    page = client.get(f"/report/p/{partner}/form?lang={lang}").get_data(as_text=True)
    return client.post(
        f"/report/p/{partner}/form?lang={lang}", data=valid_answers(page), environ_base={"REMOTE_ADDR": address}
    )


def test_each_partner_is_served_under_its_own_path_with_its_own_settings(hub_app):
    client = hub_app().test_client()
    ma = client.get(f"/report/p/{MA}/form")
    page = ma.get_data(as_text=True)
    assert ma.status_code == 200 and '<html lang="ar" dir="rtl">' in page
    assert ma.headers["Content-Security-Policy"].endswith("frame-ancestors https://www.ma.example")
    assert f'action="/report/p/{MA}/form?lang=ar"' in page
    assert not re.search(r'(href|src|action)="/report/(?!p/)', page), "every link stays under the partner's path"
    assert "0800 1234" in client.get(f"/report/p/{MA}/form?step=other").get_data(as_text=True)

    sn = client.get(f"/report/p/{SN}/form?step=other")
    assert '<html lang="fr"' in sn.get_data(as_text=True) and "Appelez le 116" in sn.get_data(as_text=True)
    assert sn.headers["Content-Security-Policy"].endswith("frame-ancestors https://sn.example")
    assert '"d":"fr"' in client.get(f"/report/p/{SN}/embed.js").get_data(as_text=True)

    unknown = client.get("/report/p/nobody/form")
    assert unknown.status_code == 404 and unknown.headers["X-Frame-Options"] == "DENY"
    # The single-partner mode is as it was.
    single = client.get("/report/form")
    assert single.status_code == 200 and 'action="/report/form?lang=en"' in single.get_data(as_text=True)


def test_a_token_from_one_partner_is_refused_at_another(hub_app):
    client = hub_app().test_client()
    page = client.get(f"/report/p/{MA}/form?lang=fr").get_data(as_text=True)
    refused = client.post(f"/report/p/{SN}/form?lang=fr", data=valid_answers(page))
    assert refused.status_code == 400 and 'id="iwf-reference"' not in refused.get_data(as_text=True)
    status = client.get(f"/report/p/{MA}/status?lang=fr").get_data(as_text=True)
    looked = client.post(f"/report/p/{SN}/status?lang=fr", data={"iwf_token": token_of(status), "reference": "x"})
    assert looked.status_code == 400 and "data-iwf-status" not in looked.get_data(as_text=True)
    accepted = client.post(f"/report/p/{MA}/form?lang=fr", data=valid_answers(page))
    assert accepted.status_code == 200 and 'id="iwf-reference"' in accepted.get_data(as_text=True)


def test_a_reference_is_looked_up_only_where_it_was_given_and_counted_there(hub_app, tmp_path):
    client = hub_app().test_client()
    answer = send(client, MA).get_data(as_text=True)
    ref = re.search(r'id="iwf-reference"[^>]*>([^<]+)<', answer).group(1)
    states = {}
    for partner in (MA, SN):
        page = client.get(f"/report/p/{partner}/status?lang=fr").get_data(as_text=True)
        found = client.post(
            f"/report/p/{partner}/status?lang=fr", data={"iwf_token": token_of(page), "reference": ref}
        ).get_data(as_text=True)
        states[partner] = re.search(r'data-iwf-status="([^"]+)"', found).group(1)
    assert states == {MA: "received", SN: "unknown"}
    outbox = Outbox(f"sqlite:///{tmp_path}/outbox.db", create=False)
    try:
        counted = {p: [(name, n) for _, name, n in outbox.daily(p) if name.startswith("lookup:")] for p in (MA, SN)}
    finally:
        outbox.close()
    assert counted == {MA: [("lookup:answered", 1)], SN: [("lookup:answered", 1)]}


def test_limits_are_per_partner(hub_app):
    client = hub_app(two_partners(rate_limit="1/hour")).test_client()
    assert send(client, MA).status_code == 200
    assert send(client, MA).status_code == 429
    assert send(client, SN).status_code == 200, "one partner's limit is not another's"
    assert send(client, SN).status_code == 200


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('signing_key = "short"', "[partners.ma-cyberconfiance] signing_key: each key must be at least 16 characters"),
        (
            'allowed_origin = ["https://a.example"]',
            "'allowed_origin' is not a partner setting; did you mean 'allowed_origins'?",
        ),
        ('intake_url = "https://intake.example"', "'intake_url' is shared by every partner: set IWF_WIDGET_INTAKE_URL"),
        ('locales = ["fr", "xx"]', "[partners.ma-cyberconfiance] locales: 'xx' is not one of"),
        ('locales = ["fr", "wo"]', "[partners.ma-cyberconfiance] locales: 'wo' needs review"),
    ],
)
def test_each_error_in_the_partners_file_names_the_partner_and_the_key(hub_app, table, named):
    text = f'[partners.{MA}]\nsigning_key = "{MA_KEY}"\n{table}\n'.replace(
        f'signing_key = "{MA_KEY}"\nsigning_key', "signing_key"
    )
    with pytest.raises(ConfigError) as failed:
        hub_app(text)
    assert failed.value.key == "IWF_WIDGET_PARTNERS_FILE" and named in str(failed.value)


def test_a_partners_file_that_is_not_toml_or_not_partners_is_refused(hub_app):
    for text, said in (("[partners.a\n", "is not valid TOML"), ('title = "x"\n', "one [partners.<partner_id>] table")):
        with pytest.raises(ConfigError, match=re.escape(said)):
            hub_app(text)


def test_reloading_adds_changes_and_removes_partners_and_a_broken_file_changes_nothing(hub_app, tmp_path):
    from iwf_widget import ReportWidget

    app = hub_app()
    client = app.test_client()
    assert client.get("/report/p/ke-safe/form").status_code == 404
    path = tmp_path / "partners.toml"
    path.write_text(
        two_partners(default_locale="fr")
        + partner_table(
            "ke-safe",
            "ke-signing-key-0123456789abcdef",
            "https://ke.example",
            locales=["sw", "en"],
            default_locale="sw",
        ),
        "utf-8",
    )
    widget = ReportWidget()
    assert sorted(widget.reload_partners(app)) == ["added ke-safe", f"changed {MA}"]
    assert '<html lang="sw"' in client.get("/report/p/ke-safe/form").get_data(as_text=True)
    assert '<html lang="fr"' in client.get(f"/report/p/{MA}/form").get_data(as_text=True)
    path.write_text("[partners.broken\n", "utf-8")
    with pytest.raises(ConfigError):
        widget.reload_partners(app)
    assert client.get("/report/p/ke-safe/form").status_code == 200, "a broken file changes nothing"
    path.write_text(partner_table(SN, SN_KEY, "https://sn.example"), "utf-8")
    assert sorted(widget.reload_partners(app)) == [f"changed {SN}", "removed ke-safe", f"removed {MA}"]
    assert client.get(f"/report/p/{MA}/form").status_code == 404


# -- real servers ----------------------------------------------------------------------------------


def hub_system(tmp_path: Path, keypair: tuple[str, str], text: str) -> System:
    path = tmp_path / "partners.toml"
    path.write_text(text, "utf-8")
    system = System(tmp_path, keypair, IWF_WIDGET_PARTNERS_FILE=str(path))
    return system


def submit_to(system: System, partner: str, url: str, lang: str = "fr") -> str:
    base = f"{system.widget_url}/p/{partner}"
    page = system.http.get(f"{base}/form", params={"lang": lang}).text
    data = {**valid_answers(page), "urls": url}
    answer = system.http.post(f"{base}/form", params={"lang": lang}, data=data)
    found = re.search(r'id="iwf-reference"[^>]*>([^<]+)<', answer.text)
    assert answer.status_code == 200 and found, answer.status_code
    return found.group(1)


def test_reports_reach_the_intake_credited_to_their_partner_and_a_wrong_key_holds_back_only_its_own(tmp_path, keypair):
    system = hub_system(tmp_path, keypair, two_partners())
    # The intake knows both partners, but has the wrong key for sn-safe.
    system.intake_env["IWF_INTAKE_PARTNERS"] = json.dumps(
        {PARTNER: [KEY], MA: [MA_KEY], SN: ["not-the-key-0123456789abcdef"]}
    )
    try:
        system.start_intake()
        system.start_widget()
        refs = {partner: submit_to(system, partner, f"https://example.com/{partner}") for partner in (MA, SN)}
        refs["single"] = system.submit(url="https://example.com/single")
        rows = system.wait_for_reports(2)
        time.sleep(1.0)  # several forwarding passes: sn-safe's report must still not be there
        rows = system.export()
        credited = {row["partner"]: row["reference"] for row in rows}
        assert credited == {MA: refs[MA], PARTNER: refs["single"]}
        assert system.health()["outbox_pending"] == 1, "sn-safe's report waits, neither lost nor failed"
        assert system.health()["outbox_failed"] == 0
        log = (tmp_path / "widget.log").read_text()
        assert f"[{SN}] forwarding 1 report(s) deferred" in log and "IWF_INTAKE_PARTNERS" in log
        assert f"[{MA}] forwarding" not in log
    finally:
        system.stop_all()


def test_sighup_adds_a_partner_while_requests_are_in_flight_none_failing(tmp_path, keypair):
    system = hub_system(tmp_path, keypair, partner_table(MA, MA_KEY, "https://www.ma.example"))
    try:
        widget = system.start_widget()
        codes: list[int] = []
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client(timeout=10) as http:
                while not stop.is_set():
                    codes.append(http.get(f"{system.widget_url}/p/{MA}/form").status_code)

        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for w in workers:
            w.start()
        wait_until(lambda: len(codes) > 20, timeout=10)
        assert system.http.get(f"{system.widget_url}/p/{SN}/form").status_code == 404
        (tmp_path / "partners.toml").write_text(two_partners(), "utf-8")
        os.kill(widget.popen.pid, signal.SIGHUP)
        wait_until(lambda: system.http.get(f"{system.widget_url}/p/{SN}/form").status_code == 200, timeout=10)
        before = len(codes)
        wait_until(lambda: len(codes) > before + 20, timeout=10)
        stop.set()
        for w in workers:
            w.join()
        assert set(codes) == {200}, f"{len([c for c in codes if c != 200])} of {len(codes)} requests failed"
        assert "partners file reloaded: added sn-safe" in (tmp_path / "widget.log").read_text()
    finally:
        system.stop_all()


def test_serve_with_a_broken_partners_file_stops_in_one_line(tmp_path, keypair):
    (tmp_path / "partners.toml").write_text(f'[partners.{MA}]\nsigning_key = "short"\n', "utf-8")
    env = {
        **os.environ,
        "IWF_WIDGET_PARTNER_ID": "test-partner",
        "IWF_WIDGET_INTAKE_URL": "http://127.0.0.1:9",
        "IWF_WIDGET_SIGNING_KEY": "test-signing-key-0123456789abcdef",
        "IWF_WIDGET_INTAKE_PUBLIC_KEY": keypair[1],
        "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{tmp_path}/outbox.db",
        "IWF_WIDGET_PARTNERS_FILE": str(tmp_path / "partners.toml"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "iwf_widget.cli", "serve", "--port", str(B.free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "[partners.ma-cyberconfiance] signing_key" in done.stderr.strip().splitlines()[-1]


# -- in Chromium --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def portals(tmp_path_factory, keypair) -> t.Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("hub")
    folders = {MA: tmp / "ma", SN: tmp / "sn"}
    ports = {partner: B.free_port() for partner in folders}
    origins = {partner: f"http://127.0.0.1:{port}" for partner, port in ports.items()}
    path = tmp / "partners.toml"
    path.write_text(two_partners(origins[MA], origins[SN]), "utf-8")
    app = partner_app(tmp, keypair[1], IWF_WIDGET_PARTNERS_FILE=str(path))
    widget = B.serve_wsgi(app)
    servers = []
    for partner, folder in folders.items():
        folder.mkdir()
        for whose in (MA, SN):
            html = B.page_html(
                "<div data-iwf-report></div>",
                lang="fr" if partner == SN else "ar",
                widget=f"{widget.origin}/report/p/{whose}",
            )
            (folder / f"{whose}.html").write_text(html, "utf-8")
        servers.append(B.serve_site(folder, B.partner_csp(widget.origin), port=ports[partner]))
    yield origins
    for server in servers:
        server.stop()
    widget.stop()


def test_each_partners_snippet_on_its_own_site_shows_its_own_language_and_help(browser, portals):
    context = browser.new_context()
    for partner, lang, help_text in ((MA, "ar", "0800 1234"), (SN, "fr", "Appelez le 116")):
        page = context.new_page()
        page.goto(f"{portals[partner]}/{partner}.html")
        frame = page.wait_for_selector("iframe.iwf-report-frame").content_frame()
        frame.wait_for_selector("[data-iwf-scope]")
        assert frame.evaluate("document.documentElement.lang") == lang
        assert f"/report/p/{partner}/form" in frame.url
        # The partner's own help, on the step that points elsewhere (the form's own page).
        page.goto(frame.url.split("?")[0] + f"?lang={lang}&step=other")
        assert help_text in page.inner_text("body")
        page.close()
    context.close()


def test_one_partners_site_cannot_frame_anothers_form(browser, portals):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{portals[MA]}/{SN}.html")  # sn-safe's snippet on ma-cyberconfiance's site
    frame = page.wait_for_selector("iframe").content_frame()
    frame.wait_for_load_state()
    assert frame.url.startswith("chrome-error:") or not frame.query_selector("[data-iwf-scope]")
    link = page.wait_for_selector(f"main a[href*='/report/p/{SN}/form']", timeout=6000)
    assert link.get_attribute("rel") == "noreferrer"
    context.close()


def test_init_hub_prints_a_block_the_hub_reads_and_the_line_the_intake_takes(hub_app, tmp_path):
    from iwf_widget.hub import tomllib

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "iwf_widget.cli",
            "init",
            "--hub",
            "--partner-id",
            "ke-safe",
            "--allowed-origins",
            "https://ke.example",
            "--widget-url",
            "https://hub.example/report",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    block = "\n".join(lines[1 : lines.index("")])
    assert tomllib.loads(block)["partners"]["ke-safe"]["allowed_origins"] == ["https://ke.example"]
    intake_line = json.loads(lines[lines.index("Merge this into the intake's IWF_INTAKE_PARTNERS:") + 1].strip("'"))
    assert intake_line["ke-safe"] == [tomllib.loads(block)["partners"]["ke-safe"]["signing_key"]]
    assert '<script src="https://hub.example/report/p/ke-safe/embed.js" async></script>' in lines
    client = hub_app(two_partners() + block + "\n").test_client()
    answer = client.get("/report/p/ke-safe/form")
    assert answer.status_code == 200
    assert answer.headers["Content-Security-Policy"].endswith("frame-ancestors https://ke.example")


def test_two_hub_servers_on_postgresql_and_redis_deliver_each_partners_reports_once(
    tmp_path, keypair, database, redis_server
):
    from support.servers import Deployment

    path = tmp_path / "partners.toml"
    path.write_text(two_partners(), "utf-8")
    redis_server.client().flushdb()
    system = Deployment(
        tmp_path,
        keypair,
        database("outbox"),
        database("intake"),
        IWF_WIDGET_PARTNERS_FILE=str(path),
        IWF_WIDGET_REDIS_URL=redis_server.url,
    )
    system.intake_env["IWF_INTAKE_PARTNERS"] = json.dumps({PARTNER: [KEY], MA: [MA_KEY], SN: [SN_KEY]})
    try:
        system.start_intake()
        servers = system.start_widgets(2)
        sent: dict[str, list[str]] = {MA: [], SN: []}
        with httpx.Client(timeout=10) as http:
            for i in range(12):
                partner, base = (MA, SN)[i % 2], servers[(i // 2) % 2]
                page = http.get(f"{base}/p/{partner}/form", params={"lang": "fr"}).text
                url = f"https://example.com/{partner}/{i}"
                answer = http.post(
                    f"{base}/p/{partner}/form", params={"lang": "fr"}, data={**valid_answers(page), "urls": url}
                )
                assert answer.status_code == 200, (partner, base, answer.status_code)
                sent[partner].append(url)
        wait_until(lambda: len(system.export()) >= 12, timeout=30)
        rows = system.export()
        assert len(rows) == 12 and len({r["id"] for r in rows}) == 12, system.logs()
        got = {p: sorted(r["urls"][0] for r in rows if r["partner"] == p) for p in (MA, SN)}
        assert got == {p: sorted(urls) for p, urls in sent.items()}
    finally:
        system.stop()


def test_forwarding_apart_sends_every_partners_reports_each_under_its_own_key(tmp_path, keypair):
    path = tmp_path / "partners.toml"
    path.write_text(two_partners(), "utf-8")
    system = System(tmp_path, keypair, IWF_WIDGET_PARTNERS_FILE=str(path), IWF_WIDGET_FORWARDER="off")
    system.intake_env["IWF_INTAKE_PARTNERS"] = json.dumps({PARTNER: [KEY], MA: [MA_KEY], SN: [SN_KEY]})
    try:
        system.start_intake()
        system.start_widget()
        refs = {partner: submit_to(system, partner, f"https://example.com/{partner}") for partner in (MA, SN)}
        refs[PARTNER] = system.submit(url="https://example.com/single")
        env = {k: v for k, v in system.widget_env.items() if k != "IWF_WIDGET_INTAKE_PUBLIC_KEY"}
        done = subprocess.run(
            [sys.executable, "-m", "iwf_widget.cli", "forward"], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("sent 3: 3 accepted"), done.stdout
        assert {row["partner"]: row["reference"] for row in system.export()} == refs
    finally:
        system.stop_all()


def test_only_the_deployments_own_forwarder_tidies_the_shared_outbox(hub_app):
    """Fifty partners' forwarders purging one outbox fifty times a minute would be fifty times the work."""
    from iwf_widget.forwarder import Forwarder

    app = hub_app()
    own, hub = app.extensions["iwf_widget"], app.extensions["iwf_hub"]
    outbox = own.outbox
    outbox.spend("an-expired-token", time.time() - 3600, "refused:honeypot")
    for state in hub.states.values():
        forwarder = Forwarder(state.settings, outbox, named=True)
        forwarder.run_once()
        forwarder.stop()
    assert outbox.spent("an-expired-token") is None and outbox._outcome("an-expired-token") is not None
    forwarder = Forwarder(own.settings, outbox)
    forwarder.run_once()
    forwarder.stop()
    assert outbox._outcome("an-expired-token") is None, "purged by the deployment's own forwarder"


def test_sighup_to_forwarding_apart_adds_and_removes_partners_and_a_broken_file_changes_nothing(tmp_path, keypair):
    """A partner added to the file is forwarded after ``kill -HUP``, without restarting forwarding."""
    system = hub_system(tmp_path, keypair, two_partners())
    system.widget_env["IWF_WIDGET_FORWARDER"] = "off"
    system.intake_env["IWF_INTAKE_PARTNERS"] = json.dumps({PARTNER: [KEY], MA: [MA_KEY], SN: [SN_KEY]})
    forwarding = tmp_path / "forwarding.toml"  # the forwarder's own copy, edited apart from the web's
    forwarding.write_text(partner_table(MA, MA_KEY, "https://www.ma.example"), "utf-8")
    env = {k: v for k, v in system.widget_env.items() if k != "IWF_WIDGET_INTAKE_PUBLIC_KEY"}
    env["IWF_WIDGET_PARTNERS_FILE"] = str(forwarding)
    log = tmp_path / "forward.log"
    forwarder = None
    try:
        system.start_intake()
        system.start_widget()
        with open(log, "ab") as out:
            forwarder = subprocess.Popen(
                [sys.executable, "-m", "iwf_widget.cli", "forward", "--loop"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(lambda: "forwarding (Ctrl-C to stop)" in log.read_text(), timeout=20)

        def delivered() -> set[str]:
            return {row["reference"] for row in system.export()}

        ma = submit_to(system, MA, "https://example.com/ma-1")
        sn = submit_to(system, SN, "https://example.com/sn-1")
        wait_until(lambda: ma in delivered(), timeout=20)
        time.sleep(0.5)  # several passes: sn-safe is not in the forwarder's file yet
        assert sn not in delivered() and system.health()["outbox_pending"] == 1

        forwarding.write_text("[partners.broken", "utf-8")
        os.kill(forwarder.pid, signal.SIGHUP)
        wait_until(lambda: "partners file not reloaded" in log.read_text(), timeout=10)
        ma = submit_to(system, MA, "https://example.com/ma-2")
        wait_until(lambda: ma in delivered(), timeout=20)  # ma-cyberconfiance is still forwarded

        forwarding.write_text(two_partners(), "utf-8")
        os.kill(forwarder.pid, signal.SIGHUP)
        wait_until(lambda: sn in delivered(), timeout=20)
        assert "partners file reloaded: added sn-safe" in log.read_text()

        forwarding.write_text(partner_table(SN, SN_KEY, "https://sn.example"), "utf-8")
        os.kill(forwarder.pid, signal.SIGHUP)
        wait_until(lambda: "removed ma-cyberconfiance" in log.read_text(), timeout=10)
        assert "partners file reloaded: changed sn-safe; removed ma-cyberconfiance" in log.read_text()
        ma = submit_to(system, MA, "https://example.com/ma-3")
        sn = submit_to(system, SN, "https://example.com/sn-2")
        wait_until(lambda: sn in delivered(), timeout=20)
        time.sleep(0.5)
        assert ma not in delivered(), "a removed partner's report waits in the outbox"
        assert system.health()["outbox_pending"] == 1 and system.health()["outbox_failed"] == 0
        assert forwarder.poll() is None and "Traceback" not in log.read_text()
    finally:
        if forwarder is not None and forwarder.poll() is None:
            os.killpg(forwarder.pid, signal.SIGTERM)
            forwarder.wait(15)
        system.stop_all()


def test_each_partners_daily_counters_are_its_own_and_stats_shows_one_or_all(hub_app, tmp_path):
    app = hub_app()
    client = app.test_client()
    assert send(client, MA).status_code == 200
    assert send(client, MA, lang="ar").status_code == 200
    assert send(client, SN).status_code == 200
    assert client.get(f"/report/p/{MA}/form?lang=fr&step=adult").status_code == 200  # sent to other help
    assert client.get("/report/form?lang=en&step=self").status_code == 200  # the deployment's own portal
    outbox = app.extensions["iwf_widget"].outbox

    def counts(partner: str | None = None) -> dict[str, int]:
        return {name: n for _, name, n in outbox.daily(partner)}

    assert counts(MA) == {"report:fr": 1, "report:ar": 1, "exit:adult:nojs": 1}
    assert counts(SN) == {"report:fr": 1}
    assert counts("test-partner") == {"exit:self:nojs": 1}
    assert counts() == {"report:fr": 2, "report:ar": 1, "exit:adult:nojs": 1, "exit:self:nojs": 1}

    env = {**os.environ, "IWF_WIDGET_OUTBOX_URL": app.config["IWF_WIDGET_OUTBOX_URL"]}

    def stats(*args: str) -> str:
        return succeeds(env, "stats", *args).stdout

    mine, theirs, everyone = stats("--partner", MA), stats("--partner", SN), stats()
    assert "العربية" in mine and "Images of adults only" in mine
    assert "العربية" not in theirs and "Images of adults only" not in theirs and "Français" in theirs
    assert "العربية" in everyone and "Threats to share images of them" in everyone
