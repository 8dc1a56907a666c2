"""Standalone servers: the widget for partners whose site is not a Flask app, and the intake.

Both run on waitress, a production WSGI server in pure Python that logs no
client addresses and works the same on Linux and Windows. Behind a reverse
proxy (TLS), point the proxy at ``--host 127.0.0.1 --port ...``.
"""
from __future__ import annotations

import errno
import os
import typing as t

from flask import Flask, redirect

#: Enough for form pages and submissions to overlap; SQLite serializes the writes anyway.
DEFAULT_THREADS = 8


def instance_path(environ: t.Mapping[str, str] | None = None) -> str:
    """Where the standalone widget keeps its outbox: ``$IWF_WIDGET_INSTANCE`` or ``./instance``."""
    environ = os.environ if environ is None else environ
    return os.path.abspath(environ.get("IWF_WIDGET_INSTANCE") or "instance")


def widget_app(config: t.Mapping[str, t.Any], instance: str | None = None) -> Flask:
    """A tiny app with the widget mounted at ``/report``; ``config`` holds ``IWF_WIDGET_*`` keys."""
    from . import ReportWidget

    app = Flask("iwf_widget.standalone", instance_path=instance or instance_path())
    app.config.update({k: v for k, v in config.items() if k.startswith("IWF_WIDGET_")})
    ReportWidget(app, url_prefix="/report")

    @app.get("/")
    def index():  # type: ignore[no-untyped-def]
        return redirect("/report/form", code=302)

    @app.after_request
    def _no_cookies(response):  # type: ignore[no-untyped-def]
        response.headers.pop("Set-Cookie", None)
        return response

    return app


def make_server(app: t.Any, host: str, port: int, threads: int = DEFAULT_THREADS) -> t.Any:
    """A waitress server bound now (so a busy port fails here), not yet serving."""
    from waitress import create_server

    try:
        return _create(create_server, app, host, port, threads)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            from .startup import StartupError

            raise StartupError(f"port {port} on {host} is already in use; stop what runs there or pass --port") from None
        raise


def _create(create_server: t.Any, app: t.Any, host: str, port: int, threads: int) -> t.Any:
    return create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="",  # no "Server: waitress" banner
        # X-Forwarded-For is left alone: the widget trusts it only behind
        # IWF_WIDGET_TRUSTED_PROXIES proxies, and only to count requests.
        clear_untrusted_proxy_headers=False,
        channel_timeout=60,
        max_request_body_size=64 * 1024 * 1024,
    )


def server_url(server: t.Any) -> str:
    host, port = server.effective_host, server.effective_port
    if ":" in str(host):
        host = f"[{host}]"
    return f"http://{host}:{port}"
