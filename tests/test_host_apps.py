"""The widget inside partner apps that run the usual Flask extensions, each the real one.

Every host app here must give: the form page with the widget's own CSP and
``frame-ancestors``, a report stored in the real SQLite outbox, no cookie on a
widget response, and no 500 for any refusal.
"""

from __future__ import annotations

import gc
import logging
import re
import subprocess
import sys
import textwrap
import threading
import typing as t
from pathlib import Path

import pytest
from flask import Flask, abort, request, session
from support.partner import SIGNING_KEY, answers, token_of
from werkzeug.middleware.proxy_fix import ProxyFix

from iwf_widget import ConfigError, ReportWidget, headers, i18n

ORIGIN = "https://partner.example"
CLIENT = "198.51.100.7"
ROOT = Path(__file__).resolve().parent.parent


def widget_config(folder: Path, public_key: str, **over: t.Any) -> dict[str, t.Any]:
    config = {
        "IWF_WIDGET_PARTNER_ID": "test-partner",
        "IWF_WIDGET_INTAKE_URL": "http://127.0.0.1:9",
        "IWF_WIDGET_SIGNING_KEY": SIGNING_KEY,
        "IWF_WIDGET_INTAKE_PUBLIC_KEY": public_key,
        "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{folder}/outbox.db",
        "IWF_WIDGET_ALLOWED_ORIGINS": ORIGIN,
        "IWF_WIDGET_MIN_FILL_SECONDS": 0,
        "IWF_WIDGET_RATE_LIMIT": "40/hour",
        "IWF_WIDGET_FORWARDER": "off",
        "SECRET_KEY": "host-secret-key",
    }
    config.update(over)
    return config


@pytest.fixture
def host(tmp_path, keypair) -> t.Callable[..., Flask]:
    """A host app with its own page at ``/`` and its own POST route at ``/contact``."""

    def build(subdomain_matching: bool = False, **config: t.Any) -> Flask:
        folder = tmp_path / f"host{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        app = Flask("host", instance_path=str(folder / "instance"), subdomain_matching=subdomain_matching)
        app.config.update(widget_config(folder, keypair[1], **config))

        @app.get("/")
        def home() -> str:
            session["visits"] = session.get("visits", 0) + 1
            return "host home"

        @app.post("/contact")
        def contact() -> str:
            return "host contact"

        return app

    return build


def widget_policy(app: Flask) -> str:
    """The form's policy: the partner's origin, and the hash of the stylesheet its pages inline."""
    return headers.document_policy((ORIGIN,), (ReportWidget.state(app).inline_style.hash,))


def check_widget_at_home(
    app: Flask, base_url: str = "http://localhost", prefix: str = "/report", **environ: t.Any
) -> None:
    """The form with the widget's headers, a report stored, and every refusal a page, not a 500."""
    client = app.test_client()
    kw = {"base_url": base_url, "environ_base": {"REMOTE_ADDR": CLIENT, **environ}}
    page = client.get(f"{prefix}/form?lang=ar", **kw)
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == widget_policy(app)
    assert "X-Frame-Options" not in page.headers
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in page.headers
    text = page.get_data(as_text=True)
    assert 'lang="ar"' in text

    stored = ReportWidget.state(app).outbox.stats()["outbox_pending"]
    sent = client.post(f"{prefix}/form?lang=ar", data=answers(token_of(text)), **kw)
    assert sent.status_code == 200, sent.get_data(as_text=True)[:300]
    assert 'id="iwf-reference"' in sent.get_data(as_text=True)
    assert "Set-Cookie" not in sent.headers
    assert ReportWidget.state(app).outbox.stats()["outbox_pending"] == stored + 1

    refusals = [
        client.post(f"{prefix}/form?lang=ar", data=answers("not-a-token"), **kw),
        client.post(f"{prefix}/form?lang=ar", data=answers(token_of(text)), **kw),  # replayed
        client.post(f"{prefix}/form?lang=ar", data={"urls": "x" * 100_000}, **kw),
        client.get(f"{prefix}/nowhere", **kw),
        client.delete(f"{prefix}/form", **kw),
    ]
    for response in refusals:
        assert response.status_code < 500, response.get_data(as_text=True)[:300]
        assert "Set-Cookie" not in response.headers
        assert "Content-Security-Policy" in response.headers
    assert ReportWidget.state(app).outbox.stats()["outbox_pending"] == stored + 1
    # The widget's own limit (a report without proof-of-work weighs 4) answers in Arabic.
    for _ in range(12):
        fresh = client.get(f"{prefix}/form?lang=ar", **kw).get_data(as_text=True)
        limited = client.post(f"{prefix}/form?lang=ar", data=answers(token_of(fresh)), **kw)
        if limited.status_code != 200:
            break
    assert limited.status_code == 429
    assert arabic("Please wait before sending your report") in limited.get_data(as_text=True)


def arabic(message: str) -> str:
    translated = i18n.translations("ar").gettext(message)
    assert translated != message
    return translated


def init_in_order(app: Flask, order: str, extension: t.Callable[[Flask], t.Any]) -> t.Any:
    if order == "extension first":
        made = extension(app)
        ReportWidget(app)
    else:
        ReportWidget(app)
        made = extension(app)
    return made


ORDERS = ["extension first", "widget first"]


# -- Flask-WTF ---------------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
def test_reports_are_accepted_under_csrfprotect_without_any_exemption_by_the_host(host, order):
    from flask_wtf.csrf import CSRFProtect

    app = host()
    init_in_order(app, order, CSRFProtect)
    check_widget_at_home(app)
    # The host's own forms stay protected.
    assert app.test_client().post("/contact").status_code == 400


# -- Flask-Limiter -------------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
def test_a_host_limiter_with_default_limits_never_counts_reporters_by_address(host, order):
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    app = host()
    limiter = init_in_order(
        app,
        order,
        lambda a: Limiter(
            get_remote_address,
            app=a,
            default_limits=["2/minute"],
            application_limits=["3/minute"],
            meta_limits=["1/hour"],
            storage_uri="memory://",
        ),
    )
    check_widget_at_home(app)
    assert not [key for key in stored_keys(limiter) if CLIENT in key]
    # The limiter works on the host's own pages, and its storage is where we looked.
    app.test_client().get("/", environ_base={"REMOTE_ADDR": CLIENT})
    assert [key for key in stored_keys(limiter) if CLIENT in key]


def stored_keys(limiter: t.Any) -> list[str]:
    storage = limiter.storage
    return [*storage.storage, *getattr(storage, "events", {})]


def test_a_limiter_the_widget_cannot_exempt_is_named_at_start_up(host, caplog):
    class AddressLimiter:
        """A host's own limiter: counts every request by address, has no exemptions."""

    app = host()
    app.extensions["limiter"] = {AddressLimiter()}
    with caplog.at_level(logging.WARNING, logger="iwf_widget"):
        ReportWidget(app)
    (line,) = [r.getMessage() for r in caplog.records if "AddressLimiter" in r.getMessage()]
    assert "IP address" in line and "'iwf_widget'" in line and "\n" not in line


# -- error pages whatever ran first -------------------------------------------


def test_error_pages_are_localized_when_a_host_hook_aborts_before_the_widget(host):
    app = host(IWF_WIDGET_RATE_LIMIT="off")

    @app.before_request
    def host_rules() -> None:
        if request.headers.get("X-Host-Test") == "read-form":
            request.form.get("anything")  # reads the body before the widget's hook ran
        elif request.headers.get("X-Host-Test") == "too-many":
            abort(429)
        elif request.headers.get("X-Host-Test") == "forbidden":
            abort(403)
        elif request.headers.get("X-Host-Test") == "crash":
            raise RuntimeError("a bug in the host's hook")

    ReportWidget(app)
    client = app.test_client()
    big = client.post("/report/form?lang=ar", data={"description": "x" * 200_000}, headers={"X-Host-Test": "read-form"})
    assert big.status_code == 413
    assert arabic("Your report is too long") in big.get_data(as_text=True)
    wait = client.post("/report/form?lang=ar", data={}, headers={"X-Host-Test": "too-many"})
    assert wait.status_code == 429 and wait.headers["Retry-After"]
    assert arabic("Please wait before sending your report") in wait.get_data(as_text=True)
    for kind, status in (("forbidden", 403), ("crash", 500)):
        page = client.get("/report/form?lang=ar", headers={"X-Host-Test": kind})
        assert page.status_code == status
        assert arabic("Your report has not been sent yet") in page.get_data(as_text=True)
        assert 'lang="ar" dir="rtl"' in page.get_data(as_text=True)
        assert page.headers["Content-Security-Policy"] == widget_policy(app)


# -- security headers ----------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
def test_talisman_defaults_leave_the_widgets_headers_alone(host, order):
    from flask_talisman import Talisman

    app = host()
    init_in_order(app, order, lambda a: Talisman(a, force_https=False))
    check_widget_at_home(app)
    home = app.test_client().get("/")
    assert home.headers["X-Frame-Options"] == "SAMEORIGIN"  # Talisman still guards the host's pages
    embed = app.test_client().get("/report/embed.js")
    assert embed.headers["Content-Security-Policy"] == headers.NOT_FRAMED_POLICY
    assert embed.headers["X-Frame-Options"] == "DENY"


def test_the_talisman_recipe_in_the_docs_works(host):
    text = (ROOT / "docs" / "embedding.md").read_text(encoding="utf-8")
    (recipe,) = [block for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL) if "Talisman(" in block]
    app = host()
    namespace: dict[str, t.Any] = {"app": app}
    exec(compile(recipe.replace("app = Flask(__name__)\n", ""), "embedding.md", "exec"), namespace)
    check_widget_at_home(app, base_url="https://localhost")
    home = app.test_client().get("/", base_url="https://localhost")
    assert "frame-src" in home.headers["Content-Security-Policy"]


def test_headers_set_by_any_host_after_request_hook_lose_on_widget_routes(host):
    app = host()
    ReportWidget(app)

    @app.after_request
    def host_headers(response):  # registered after the widget: runs after its hooks
        response.headers["Content-Security-Policy"] = "default-src 'self'"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Referrer-Policy"] = "unsafe-url"
        response.headers.add("Set-Cookie", "tracker=1; Path=/")
        return response

    check_widget_at_home(app)
    assert app.test_client().get("/").headers["X-Frame-Options"] == "SAMEORIGIN"


# -- sessions, locales, proxies, app factories, mounts -------------------------


def test_flask_babel_keeps_the_host_locale_while_the_widget_speaks_the_persons_language(host):
    from flask_babel import Babel, get_locale

    app = host()
    Babel(app, locale_selector=lambda: "de")
    ReportWidget(app)
    seen: list[str] = []

    @app.after_request
    def record(response):
        seen.append(str(get_locale()))
        return response

    @app.get("/locale")
    def locale() -> str:
        return str(get_locale())

    check_widget_at_home(app)
    assert set(seen) == {"de"}
    assert app.test_client().get("/locale").get_data(as_text=True) == "de"


def test_session_and_remember_cookies_never_ride_on_widget_responses(host):
    from flask_login import LoginManager, UserMixin, login_user

    class User(UserMixin):
        id = "partner-editor"

    app = host(REMEMBER_COOKIE_REFRESH_EACH_REQUEST=True, SESSION_REFRESH_EACH_REQUEST=True)
    login = LoginManager(app)
    login.user_loader(lambda user_id: User() if user_id == User.id else None)

    @app.get("/login")
    def log_in() -> str:
        login_user(User(), remember=True)
        return "in"

    @app.before_request
    def count_visits() -> None:
        session["visits"] = session.get("visits", 0) + 1  # the session changes on every request

    ReportWidget(app)
    client = app.test_client()
    assert "Set-Cookie" in client.get("/login").headers
    assert client.get_cookie("session") is not None
    page = client.get("/report/form?lang=fr", environ_base={"REMOTE_ADDR": CLIENT})
    assert "Set-Cookie" not in page.headers
    sent = client.post("/report/form?lang=fr", data=answers(token_of(page.get_data(as_text=True))))
    assert sent.status_code == 200 and "Set-Cookie" not in sent.headers
    check_widget_at_home(app)
    assert "Set-Cookie" in client.get("/").headers  # the host's own pages keep theirs


def test_behind_proxyfix_the_widget_sees_the_public_https_origin(host):
    app = host()
    ReportWidget(app)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    forwarded = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "partner.example", "HTTP_ORIGIN": ORIGIN}
    check_widget_at_home(app, base_url="http://10.0.0.2", **forwarded)
    page = app.test_client().get("/report/form", base_url="http://10.0.0.2", environ_base=forwarded)
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")


def test_an_app_factory_builds_two_independent_apps_in_one_process(tmp_path, keypair):
    widget = ReportWidget()

    def create_app(name: str) -> Flask:
        folder = tmp_path / name
        app = Flask(name, instance_path=str(folder / "instance"))
        app.config.update(widget_config(folder, keypair[1], IWF_WIDGET_PARTNER_ID=name))
        widget.init_app(app)
        return app

    first, second = create_app("first-partner"), create_app("second-partner")
    check_widget_at_home(first)
    check_widget_at_home(second)
    assert ReportWidget.state(first).settings.partner_id == "first-partner"
    assert ReportWidget.state(second).outbox is not ReportWidget.state(first).outbox


def test_under_a_script_name_every_link_keeps_the_mount_point(host):
    app = host()
    ReportWidget(app)
    check_widget_at_home(app, base_url="http://localhost/site")
    page = app.test_client().get("/report/form", base_url="http://localhost/site").get_data(as_text=True)
    assert 'action="/site/report/form' in page
    assert 'src="/site/report/static/form.js' in page


@pytest.mark.parametrize("how", ["constructor", "init_app"])
def test_on_a_subdomain_the_widget_answers_there_only(host, how):
    app = host(SERVER_NAME="partner.example", subdomain_matching=True)
    if how == "constructor":
        ReportWidget(app, subdomain="report")
    else:
        ReportWidget().init_app(app, subdomain="report")
    check_widget_at_home(app, base_url="http://report.partner.example")
    assert app.test_client().get("/report/form", base_url="http://partner.example").status_code == 404
    assert app.test_client().get("/", base_url="http://partner.example").status_code == 200


# -- the forwarder's life ------------------------------------------------------


def forwarder_threads() -> list[threading.Thread]:
    return [th for th in threading.enumerate() if th.name == "iwf-widget-forwarder" and th.is_alive()]


@pytest.mark.slow
def test_ten_apps_created_and_deleted_leave_no_forwarder_thread(host):
    before = len(forwarder_threads())
    apps = []
    for _ in range(10):
        app = host(IWF_WIDGET_FORWARDER="on", IWF_WIDGET_RATE_LIMIT="off")
        ReportWidget(app)
        assert app.test_client().get("/report/healthz").status_code == 200  # starts it lazily
        apps.append(app)
    assert len(forwarder_threads()) == before + 10
    del app, apps
    gc.collect()
    assert len(forwarder_threads()) == before


def test_start_and_stop_forwarder_are_public_and_stop_means_stopped(host):
    app = host(IWF_WIDGET_FORWARDER="on")
    widget = ReportWidget(app)
    before = len(forwarder_threads())
    widget.start_forwarder(app)
    assert len(forwarder_threads()) == before + 1
    widget.stop_forwarder(app)
    assert len(forwarder_threads()) == before
    app.test_client().get("/report/healthz")  # a request does not bring it back
    assert len(forwarder_threads()) == before
    with app.app_context():
        widget.start_forwarder()
    assert len(forwarder_threads()) == before + 1
    widget.stop_forwarder(app)


def test_a_subdomain_without_subdomain_matching_stops_start_up_naming_the_fix(host):
    with pytest.raises(ConfigError, match="subdomain_matching=True"):
        ReportWidget(host(SERVER_NAME="partner.example"), subdomain="report")
    with pytest.raises(ConfigError, match="SERVER_NAME"):
        ReportWidget(host(subdomain_matching=True), subdomain="report")


def test_the_forwarder_stops_cleanly_when_the_process_exits(tmp_path, keypair):
    script = textwrap.dedent(
        f"""
        import logging, sys
        from flask import Flask
        from iwf_widget import ReportWidget
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
        app = Flask("p", instance_path={str(tmp_path)!r})
        app.config.update({widget_config(tmp_path, keypair[1], IWF_WIDGET_FORWARDER="on")!r})
        ReportWidget(app).start_forwarder(app)
        print("started")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "started" in lines
    assert lines[-1] == "forwarder stopped; unsent reports wait in the outbox"
    assert "Traceback" not in done.stderr
