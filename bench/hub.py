"""Form pages per second in hub mode (50 partners) against single-partner mode, in one run.

Both apps run under waitress on loopback, in their own processes, with the same
threads, and are asked for the first step of the form by the same client
threads for the same time: the single-partner app at ``/report/form``, the hub
at ``/report/p/<id>/form`` spread over its 50 partners, each in its own
language. What the ratio measures is what hub mode adds per request: finding
the partner, and each partner's own page cache warming up.

    python bench/hub.py                  # 50 partners, 10 s each
    python bench/hub.py --partners 20 --seconds 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import httpx

from iwf_widget.i18n import LOCALES
from iwf_widget.sealing import generate_keypair

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KEY = "bench-signing-key-0123456789abcdef"
THREADS = 4
CLIENTS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def partners_file(path: str, n: int) -> list[str]:
    ids, lines = [], []
    for i in range(n):
        partner = f"partner-{i:03d}"
        lang = LOCALES[i % len(LOCALES)]
        ids.append(f"{partner}/form?lang={lang}")
        lines += [
            f"[partners.{partner}]",
            f'signing_key = "{partner}-signing-key-0123456789"',
            f'allowed_origins = ["https://{partner}.example"]',
            f'locales = ["{lang}", "en"]',
            'unreviewed_locales = ["ln", "ps", "wo"]',
            f'default_locale = "{lang}"',
            f'help_text = "Helpline of {partner}: 0800 {i:04d}"',
            "",
        ]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return ids


def start(folder: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "iwf_widget.cli", "serve", "--port", str(port), "--threads", str(THREADS)],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/report"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the widget did not start")


def rate(urls: list[str], seconds: float) -> float:
    """Pages a second, over ``seconds``, from CLIENTS threads cycling through ``urls``."""
    done = [0] * CLIENTS
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        with httpx.Client(timeout=10) as http:
            i = n
            while time.monotonic() < stop:
                response = http.get(urls[i % len(urls)])
                if response.status_code != 200:
                    raise SystemExit(f"{urls[i % len(urls)]}: {response.status_code}")
                done[n] += 1
                i += CLIENTS

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    started = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(done) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="iwf-bench-hub-")
    public = generate_keypair()[1]
    env = {
        **os.environ,
        "PYTHONPATH": ROOT,
        "IWF_WIDGET_PARTNER_ID": "bench-partner",
        "IWF_WIDGET_INTAKE_URL": "http://127.0.0.1:9",
        "IWF_WIDGET_SIGNING_KEY": KEY,
        "IWF_WIDGET_INTAKE_PUBLIC_KEY": public,
        "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{folder}/outbox.db",
        "IWF_WIDGET_FORWARDER": "off",
        "IWF_WIDGET_DEFAULT_LOCALE": "fr",
    }
    single, single_base = start(folder, env)
    paths = partners_file(os.path.join(folder, "partners.toml"), args.partners)
    hub_env = {**env, "IWF_WIDGET_PARTNERS_FILE": os.path.join(folder, "partners.toml")}
    hub_env["IWF_WIDGET_OUTBOX_URL"] = f"sqlite:///{folder}/hub-outbox.db"
    hub, hub_base = start(folder, hub_env)
    try:
        warm = min(2.0, args.seconds / 2)
        rate([f"{single_base}/form?lang=fr"], warm)
        rate([f"{hub_base}/p/{p}" for p in paths], warm)
        one = rate([f"{single_base}/form?lang=fr"], args.seconds)
        many = rate([f"{hub_base}/p/{p}" for p in paths], args.seconds)
    finally:
        for proc in (single, hub):
            proc.terminate()
            proc.wait(10)
    figures = {
        "form_pages_per_s_single": round(one, 1),
        "form_pages_per_s_hub": round(many, 1),
        "hub_partners": args.partners,
        "hub_vs_single": round(many / one, 3),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"single partner:        {one:8.1f} form pages/s")
        print(f"hub, {args.partners} partners:   {many:8.1f} form pages/s")
        print(f"hub / single:          {many / one:8.3f}")


if __name__ == "__main__":
    main()
