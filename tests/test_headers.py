"""Security headers on every route the widget serves, found from the app's own URL map."""

from __future__ import annotations

import re
import typing as t

import pytest
from support.partner import valid_answers

PARTNER_ORIGINS = ["https://partner.example", "https://www.partner.example:8443"]


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def widget_routes(app) -> list[tuple[str, str]]:
    """(method, URL) for every GET route of the widget's blueprint, with sample arguments."""
    samples = {"filename": "form.js"}
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("iwf_widget.") or "GET" not in rule.methods:
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<path:{name}>", samples[name]).replace(f"<{name}>", samples[name])
        routes.append(("GET", url))
    assert len(routes) >= 4, routes
    return routes


def documents(client, make_app) -> t.Iterator[tuple[str, t.Any]]:
    """Every kind of page the form leads to: form, thank-you, refusal, 413, 429, 503."""
    yield "form", client.get("/report/form?lang=ar")
    page = client.get("/report/form").get_data(as_text=True)
    yield "thank-you", client.post("/report/form", data=valid_answers(page))
    page = client.get("/report/form").get_data(as_text=True)
    yield "refusal", client.post("/report/form", data=valid_answers(page, urls="javascript:alert(1)"))
    yield "too-large", client.post("/report/form", data={"description": "x" * 100_000})


def assert_common(response, what: str) -> None:
    h = response.headers
    assert h.get("Referrer-Policy") == "no-referrer", what
    assert h.get("X-Content-Type-Options") == "nosniff", what
    policy = h.get("Permissions-Policy", "")
    for feature in ("camera", "microphone", "geolocation", "payment"):
        assert f"{feature}=()" in policy, (what, feature)
    assert "Set-Cookie" not in h, what
    assert "Strict-Transport-Security" not in h, f"{what}: no HSTS over plain http"


def assert_document(response, what: str, ancestors: list[str]) -> None:
    assert_common(response, what)
    h = response.headers
    csp = h["Content-Security-Policy"]
    d = directives(csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    assert d["default-src"] == ["'none'"], what
    assert d["script-src"] == ["'self'"], what
    assert d["frame-ancestors"] == ancestors, what
    assert d["base-uri"] == ["'none'"] and d["form-action"] == ["'self'"], what
    assert "X-Frame-Options" not in h, f"{what}: frame-ancestors decides, not X-Frame-Options"
    assert "no-store" in h.get("Cache-Control", ""), what


def test_form_pages_may_be_framed_only_by_the_widget_itself_by_default(client, make_app):
    for what, response in documents(client, make_app):
        assert response.mimetype == "text/html", what
        assert_document(response, what, ["'self'"])


def test_form_pages_may_be_framed_by_exactly_the_configured_origins(make_app):
    client = make_app(IWF_WIDGET_ALLOWED_ORIGINS=",".join(PARTNER_ORIGINS)).test_client()
    for what, response in documents(client, make_app):
        assert_document(response, what, PARTNER_ORIGINS)


def test_rate_limited_and_storage_failure_pages_carry_document_headers(make_app):
    app = make_app(IWF_WIDGET_RATE_LIMIT="4/hour")
    client = app.test_client()
    for expected in (200, 429):
        page = client.get("/report/form").get_data(as_text=True)
        r = client.post("/report/form", data=valid_answers(page))
        assert r.status_code == expected
    assert_document(r, "429", ["'self'"])

    app = make_app()
    with app.extensions["iwf_widget"].outbox.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE iwf_outbox")
    client = app.test_client()
    page = client.get("/report/form").get_data(as_text=True)
    r = client.post("/report/form", data=valid_answers(page))
    assert r.status_code == 503
    assert_document(r, "503", ["'self'"])


def test_every_other_route_may_not_be_framed_at_all(app, client):
    others = [(m, u) for m, u in widget_routes(app) if u not in ("/report/form", "/report/status")]
    others += [("GET", "/report/static/no-such-file.js")]
    for method, url in others:
        r = client.open(url, method=method)
        assert r.status_code < 500, url
        assert_common(r, url)
        assert r.headers.get("X-Frame-Options") == "DENY", url
        d = directives(r.headers["Content-Security-Policy"])
        assert d["frame-ancestors"] == ["'none'"], url
        assert d["default-src"] == ["'none'"], url


def test_hsts_is_sent_only_over_https(app):
    client = app.test_client()
    for method, url in widget_routes(app):
        r = client.open(url, method=method, base_url="https://localhost")
        assert re.fullmatch(r"max-age=\d{7,}(; includeSubDomains)?", r.headers["Strict-Transport-Security"]), url
        r = client.open(url, method=method)
        assert "Strict-Transport-Security" not in r.headers, url
    page = client.get("/report/form", base_url="https://localhost").get_data(as_text=True)
    r = client.post("/report/form", data=valid_answers(page), base_url="https://localhost")
    assert r.status_code == 200 and "Strict-Transport-Security" in r.headers


def test_no_route_sets_a_cookie_even_when_the_host_app_uses_sessions(make_app):
    app = make_app(SECRET_KEY="host-app-secret")

    @app.before_request
    def touch_session():
        from flask import session

        session["host"] = "uses sessions"

    client = app.test_client()
    for method, url in widget_routes(app):
        assert "Set-Cookie" not in client.open(url, method=method).headers, url
    page = client.get("/report/form").get_data(as_text=True)
    assert "Set-Cookie" not in client.post("/report/form", data=valid_answers(page)).headers


def test_embed_snippet_may_be_loaded_by_any_site_but_never_framed(client):
    r = client.get("/report/embed.js")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert r.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "path",
    [
        "/report/static/../views.py",
        "/report/static/%2e%2e/setup.cfg",
        "/report/static/..%2fsetup.cfg",
        "/report/static/%2e%2e%2f%2e%2e%2fsetup.cfg",
        "/report/static/..%5csetup.cfg",
        "/report/static/../../../../etc/passwd",
        "/report/static//etc/passwd",
        "/report/static/%00",
        "/report/static/../templates/iwf_widget/base.html",
    ],
)
def test_static_route_refuses_path_traversal(client, path):
    r = client.get(path, follow_redirects=True)
    assert r.status_code in (400, 404), path
    body = r.get_data(as_text=True)
    assert "[metadata]" not in body and "root:" not in body and "{%" not in body and "import " not in body


def test_unrouted_answers_under_the_prefix_carry_the_widget_headers(client):
    for method, url in (("POST", "/report/healthz"), ("GET", "/report/nothing-here"), ("DELETE", "/report/form")):
        r = client.open(url, method=method)
        assert r.status_code in (404, 405), url
        assert r.headers["X-Frame-Options"] == "DENY", url
        assert r.headers["Referrer-Policy"] == "no-referrer", url
        assert r.headers["X-Content-Type-Options"] == "nosniff", url
        assert "Set-Cookie" not in r.headers


def test_host_routes_outside_the_prefix_keep_their_own_headers(make_app):
    app = make_app()

    @app.get("/reportage")
    def reportage():
        return "the host's own page"

    r = app.test_client().get("/reportage")
    assert r.status_code == 200 and "X-Frame-Options" not in r.headers
