"""Standalone servers: the widget for partners whose site is not a Flask app, and the intake.

Both run on waitress, a production WSGI server in pure Python that logs no
client addresses and works the same on Linux and Windows. Behind a reverse
proxy (TLS), point the proxy at ``--host 127.0.0.1 --port ...``.
"""

from __future__ import annotations

import errno
import os
import time
import typing as t

from flask import Flask, redirect, request
from waitress import create_server
from waitress.channel import HTTPChannel

from . import headers

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
        return headers.relative_location(response, request.host)

    return app


def make_server(app: t.Any, host: str, port: int, threads: int = DEFAULT_THREADS) -> t.Any:
    """A waitress server bound now (so a busy port fails here), not yet serving."""

    try:
        return _create(create_server, app, host, port, threads)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            from .startup import StartupError

            raise StartupError(
                f"port {port} on {host} is already in use; stop what runs there or pass --port"
            ) from None
        raise


#: Headers a real client sends at once; a request still incomplete this long after its first
#: byte is a slow-loris attack (or a connection too broken to report through) and is closed.
REQUEST_SECONDS = 10.0
#: Beyond that, a body may take as long as this rate allows (a phone on 2G sends faster).
MIN_BODY_BYTES_PER_SECOND = 32 * 1024
#: Idle keep-alive connections are closed after this long, checked this often.
IDLE_SECONDS = 20
CLEANUP_SECONDS = 2
#: Open connections at once (each costs a file descriptor and a few KiB; none holds a thread).
CONNECTION_LIMIT = 500
#: Request line and headers: far above what browsers send, far below waitress's 256 KiB.
MAX_HEADER_BYTES = 64 * 1024
#: Between the app's own limit and the server's, the app answers (a localized page, a JSON
#: error); beyond it waitress answers 413 from the headers alone, without reading the body.
BODY_SLACK = 64 * 1024


def body_limit(app: t.Any) -> int:
    """The largest body the server accepts for ``app``: its own limit plus a little."""
    intake = getattr(app, "extensions", {}).get("iwf_intake")
    if intake is not None:
        return int(intake.settings.max_body) + BODY_SLACK
    from .views import MAX_BODY

    return MAX_BODY + BODY_SLACK


def _channel_class() -> type:
    """waitress's channel, with a deadline on receiving each request.

    waitress hands a request to a worker thread only once it has arrived whole, so a
    client trickling bytes holds no thread; it holds a connection, though, and resets
    waitress's idle timer with every byte. This closes a connection whose request is
    not complete :data:`REQUEST_SECONDS` (plus time for the declared body) after its
    first byte. The asyncore loop asks every channel ``readable()`` at least once a second.
    """

    class DeadlineChannel(HTTPChannel):  # type: ignore[misc]
        _receiving: t.Any = None
        _since = 0.0

        def received(self, data: bytes) -> bool:
            done = bool(super().received(data))
            pending = self.request
            if pending is None:
                self._receiving = None
            elif pending is not self._receiving:
                self._receiving, self._since = pending, time.monotonic()
            return done

        def readable(self) -> bool:
            pending = self._receiving
            if pending is not None and pending is self.request and not self.requests:
                declared = pending.content_length if pending.headers_finished else 0
                allowed = REQUEST_SECONDS + (declared or 0) / MIN_BODY_BYTES_PER_SECOND
                if time.monotonic() - self._since > allowed:
                    self.will_close = True  # writable() now answers True, and handle_write closes
            return bool(super().readable())

    return DeadlineChannel


def _create(create_server: t.Any, app: t.Any, host: str, port: int, threads: int) -> t.Any:
    limit = body_limit(app)
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="",  # no "Server: waitress" banner
        # X-Forwarded-For is left alone: the widget trusts it only behind
        # IWF_WIDGET_TRUSTED_PROXIES proxies, and only to count requests.
        clear_untrusted_proxy_headers=False,
        max_request_body_size=limit,
        max_request_header_size=MAX_HEADER_BYTES,
        # Bodies stay in memory: a report's text is never spooled to a temporary file.
        inbuf_overflow=max(limit, 512 * 1024),
        channel_timeout=IDLE_SECONDS,
        cleanup_interval=CLEANUP_SECONDS,
        connection_limit=CONNECTION_LIMIT,
        asyncore_use_poll=True,  # select() stops at 1024 descriptors
    )
    channel = _channel_class()
    for listener in [server, *getattr(server, "map", {}).values()]:
        if hasattr(listener, "channel_class"):
            listener.channel_class = channel
    return server


def server_url(server: t.Any) -> str:
    host, port = server.effective_host, server.effective_port
    if ":" in str(host):
        host = f"[{host}]"
    return f"http://{host}:{port}"
