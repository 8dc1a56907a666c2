"""How long a person on a slow phone waits for the form: ``form_visible_slow3g_ms``.

Debian's Chromium under Playwright opens a partner page on one loopback origin that embeds
the snippet from the widget on another, with the network of a slow 3G phone (400 kbit/s each
way, 400 ms round trip), its CPU slowed 6x and the cache off. The figure is the time from the
start of navigation to the first step's heading being painted in the frame, by the browser's
clock (Element Timing: the heading carries ``elementtiming="iwf-first-step"``).

The throttling is set on the page's target; the frame is kept in the page's process
(site isolation off) so that the same throttling applies to it, as it would on a phone.

    python bench/slow3g.py [--samples 3]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import statistics
import threading
import typing as t

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-site-isolation-trials",
    "--disable-features=IsolateOrigins,site-per-process",
]
#: Chrome DevTools' "Slow 3G"-like profile of the issue: bytes per second and milliseconds.
NETWORK = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
CPU_SLOWDOWN = 6
#: In the frame: the time (ms since the epoch) the first step's heading was painted.
FIRST_STEP_PAINTED = """() => new Promise((resolve, reject) => {
  setTimeout(() => reject(new Error("the first step's heading was not painted")), 30000);
  new PerformanceObserver((list, observer) => {
    const entry = list.getEntries().find(e => e.identifier === "iwf-first-step");
    if (entry) { observer.disconnect(); resolve(performance.timeOrigin + (entry.renderTime || entry.loadTime)); }
  }).observe({type: "element", buffered: true});
})"""


def available() -> str | None:
    """Why the figure cannot be taken here, or None."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is not installed"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


def partner_page(widget: str, lang: str) -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Partner</title></head>'
        f'<body><main><h1>Partner</h1><div data-iwf-report data-lang="{lang}"></div></main>'
        f'<script src="{widget}/report/embed.js" async></script></body></html>'
    )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args: t.Any) -> None:
        pass


def serve_folder(folder: str, port: int) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(_Quiet, directory=folder))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def one_sample(browser: t.Any, page_url: str) -> float:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Network.emulateNetworkConditions", NETWORK)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        # Nothing is asked of the page while it loads: Playwright's selector polling runs as
        # script on the same slowed main thread, and blocks of 100-150 ms of it landed in the
        # middle of the frame's parse. Its navigation and load are events, not polling.
        with page.expect_event("framenavigated", lambda f: "/report/form" in f.url, timeout=30_000) as navigated:
            page.goto(page_url, wait_until="commit")
        frame = navigated.value
        frame.wait_for_load_state("domcontentloaded", timeout=30_000)
        # The browser's own clock: when the heading was painted (Element Timing), from the
        # partner page's navigation start.
        painted = frame.evaluate(FIRST_STEP_PAINTED)
        return float(painted - page.evaluate("performance.timeOrigin"))
    finally:
        context.close()


def measure(
    widget: str, folder: str, port: int, samples: int = 3, lang: str = "fr", warm: bool = True
) -> dict[str, t.Any]:
    """The median over ``samples`` of the time to the first step, and each sample.

    ``widget`` is the widget's origin; it must allow ``http://127.0.0.1:port`` to frame it.
    ``warm``: load the page once first, untimed, so no sample pays for a server's first render.
    """
    from playwright.sync_api import sync_playwright

    with open(os.path.join(folder, "partner.html"), "w", encoding="utf-8") as out:
        out.write(partner_page(widget, lang))
    site = serve_folder(folder, port)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                if warm:
                    one_sample(browser, f"http://127.0.0.1:{port}/partner.html")  # warm the servers, not the browser
                times = [one_sample(browser, f"http://127.0.0.1:{port}/partner.html") for _ in range(samples)]
            finally:
                browser.close()
    finally:
        site.shutdown()
        site.server_close()
    return {"form_visible_slow3g_ms": statistics.median(times), "form_visible_slow3g_samples_ms": times}


def main() -> None:
    import tempfile

    import run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    problem = available()
    if problem:
        raise SystemExit(f"cannot measure: {problem}")
    from iwf_widget.sealing import generate_keypair

    folder = tempfile.mkdtemp(prefix="iwf-slow3g-")
    figures = run.measure_slow3g(folder, generate_keypair()[1], args.samples)
    print(figures)


if __name__ == "__main__":
    main()
