"""Helpers for the browser tests: Debian's Chromium, servers on loopback origins, axe-core.

The widget and the partner pages are served from different origins, as in real
life: the widget on ``http://localhost:PORT`` and the partner pages on
``http://127.0.0.1:PORT`` (another site, so the form is a cross-site iframe).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import threading
import typing as t
from pathlib import Path

from support.ports import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TESTS = Path(__file__).resolve().parents[1]
AXE = TESTS / "node_modules" / "axe-core" / "axe.min.js"
TERSER = TESTS / "node_modules" / ".bin" / "terser"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def launch(playwright: t.Any) -> t.Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


class Server:
    """A server on a loopback port, run in a daemon thread until ``stop()``."""

    def __init__(self, origin: str, stop: t.Callable[[], None]) -> None:
        self.origin = origin
        self.stop = stop


def serve_wsgi(app: t.Any, host: str = "localhost", port: int = 0) -> Server:
    """``app`` under waitress (as in production) at ``http://{host}:PORT``."""
    from waitress.server import create_server

    port = port or free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    return Server(f"http://{host}:{port}", server.close)


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static partner pages, each sent with the CSP a careful partner would use."""

    csp = ""

    def end_headers(self) -> None:
        if self.csp and self.path.split("?")[0].endswith(".html"):
            self.send_header("Content-Security-Policy", self.csp)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args: t.Any) -> None:
        pass


def serve_site(directory: Path, csp: str = "", port: int = 0) -> Server:
    """``directory`` over HTTP at ``http://127.0.0.1:PORT``, pages with ``csp``."""
    handler = type("Handler", (_SiteHandler,), {"csp": csp})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(handler, directory=str(directory)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return Server(f"http://127.0.0.1:{server.server_address[1]}", stop)


def partner_csp(widget_origin: str) -> str:
    """The policy docs/embedding.md tells partners to send, at its strictest."""
    return (
        "default-src 'self'; "
        f"script-src 'self' {widget_origin}; "
        f"frame-src {widget_origin}; "
        "style-src 'self'; object-src 'none'; base-uri 'none'"
    )


def page_html(body: str, lang: str = "en", title: str = "Partner", widget: str = "", dir: str = "") -> str:
    """A partner page: a heading, ``body`` in <main>, and the snippet when ``widget`` is given."""
    script = f'<script src="{widget}/embed.js" async></script>' if widget else ""
    direction = f' dir="{dir}"' if dir else ""
    return (
        f'<!doctype html><html lang="{lang}"{direction}><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>'
        f"<body><main><h1>{title}</h1>{body}</main>{script}</body></html>"
    )


def axe_violations(target: t.Any, **options: t.Any) -> list[dict[str, t.Any]]:
    """axe-core run in ``target`` (a page or a frame); its violations, briefly.

    Injected by evaluation, so neither the partner's CSP nor the form's applies
    to it; axe does not look into cross-origin frames, so each frame is run on its own.
    """
    if not target.evaluate("() => typeof window.axe === 'object'"):
        target.evaluate(AXE.read_text("utf-8"))
    options.setdefault("iframes", False)
    result = target.evaluate("async (options) => await axe.run(document, options)", options)
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
    ]


def explain(violations: list[dict[str, t.Any]]) -> str:
    return json.dumps(violations, indent=1, ensure_ascii=False)


@contextlib.contextmanager
def watching(context: t.Any) -> t.Iterator[dict[str, t.Any]]:
    """Every request's origin and every console message of ``context`` while inside."""
    seen: dict[str, t.Any] = {"origins": set(), "console": []}

    def on_request(request: t.Any) -> None:
        url = request.url
        if url.startswith("http"):
            seen["origins"].add("/".join(url.split("/")[:3]))
        else:
            seen["origins"].add(url.split(":", 1)[0] + ":")

    def on_page(page: t.Any) -> None:
        page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))

    context.on("request", on_request)
    context.on("page", on_page)
    try:
        yield seen
    finally:
        context.remove_listener("request", on_request)
        context.remove_listener("page", on_page)
