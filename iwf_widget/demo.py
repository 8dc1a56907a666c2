"""``iwf-widget demo``: the whole system on one machine.

Three servers on consecutive ports: a fictional national cyber-safety portal
(the partner site, in French, Arabic and English) that embeds the widget; the
widget itself, served as ``iwf-widget serve`` would; and a reference intake.
Keys and databases are made on first run in ``<instance>/demo/`` and reused.

The partner site lives here, inside the package, so the demo runs from an
installed wheel; ``demo_site/app.py`` in the repository re-exports it.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import typing as t
from dataclasses import dataclass

from flask import Flask, abort, redirect, render_template_string

from .db import open_private
from .sealing import generate_keypair

DEMO_PARTNER = "demo-cybersafety"

PAGES: dict[str, dict[str, str]] = {
    "fr": {
        "dir": "ltr",
        "site": "Portail national de cybersécurité",
        "title": "Signaler des images d’abus sexuels sur enfants en ligne",
        "lead": (
            "Vous avez vu sur Internet des photos ou des vidéos d’abus sexuels sur des enfants ? "
            "Signalez l’adresse web. C’est anonyme : nous ne vous demandons ni votre nom, ni les images."
        ),
        "warn": "Ne téléchargez pas, ne copiez pas et ne partagez pas ces images, même pour les signaler.",
        "nojs": "Le formulaire ne s’affiche pas ? Ouvrez-le dans une page à part.",
        "button": "Voir le formulaire en fenêtre",
        "foot": "Site de démonstration : ce portail est fictif.",
        "languages": "Langues",
    },
    "ar": {
        "dir": "rtl",
        "site": "البوابة الوطنية للأمن السيبراني",
        "title": "الإبلاغ عن صور الاعتداء الجنسي على الأطفال على الإنترنت",
        "lead": (
            "هل رأيت على الإنترنت صورًا أو مقاطع فيديو لاعتداء جنسي على أطفال؟ "
            "أبلغ عن عنوان الموقع. البلاغ مجهول الهوية: لا نطلب اسمك ولا الصور."
        ),
        "warn": "لا تقم بتنزيل هذه الصور أو نسخها أو مشاركتها، حتى من أجل الإبلاغ عنها.",
        "nojs": "لا يظهر النموذج؟ افتحه في صفحة مستقلة.",
        "button": "عرض النموذج في نافذة",
        "foot": "موقع تجريبي: هذه البوابة خيالية.",
        "languages": "اللغات",
    },
    "en": {
        "dir": "ltr",
        "site": "National cyber-safety portal",
        "title": "Report child sexual abuse imagery online",
        "lead": (
            "Have you seen photos or videos of children being sexually abused online? "
            "Report the web address. It is anonymous: we do not ask for your name or for the images."
        ),
        "warn": "Do not download, copy or share the images, not even to report them.",
        "nojs": "Form not showing? Open it on a page of its own.",
        "button": "Open the form in a dialog",
        "foot": "Demonstration site: this portal is fictional.",
        "languages": "Languages",
    },
}

PAGE = """<!doctype html>
<html lang="{{ lang }}" dir="{{ t.dir }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ t.title }} · {{ t.site }}</title>
<style>
  body { margin: 0; font: 1.05rem/1.5 system-ui, sans-serif; color: #1d2433; background: #f4f6fa; }
  header { background: #14365d; color: #fff; padding: 1rem 1.5rem; display: flex;
           justify-content: space-between; align-items: center; flex-wrap: wrap; gap: .5rem; }
  header a { color: #fff; }
  nav a { margin-inline-start: 1rem; }
  main { max-width: 46rem; margin: 0 auto; padding: 1.5rem; background: #fff; }
  .warn { border-inline-start: 4px solid #b3261e; padding: .5rem 1rem; background: #fdf0ef; }
  footer { text-align: center; padding: 1.5rem; color: #555; font-size: .9rem; }
</style>
</head>
<body>
<header>
  <strong>{{ t.site }}</strong>
  <nav aria-label="{{ t.languages }}">
    {% for code, name in languages %}<a href="/{{ code }}/" lang="{{ code }}"
      {% if code == lang %}aria-current="page"{% endif %}>{{ name }}</a>{% endfor %}
  </nav>
</header>
<main>
  <h1>{{ t.title }}</h1>
  <p>{{ t.lead }}</p>
  <p class="warn">{{ t.warn }}</p>
  {% if mode == "button" %}
  <div data-iwf-report data-lang="{{ lang }}" data-mode="button"></div>
  {% else %}
  <div data-iwf-report data-lang="{{ lang }}"></div>
  {% endif %}
  <script src="{{ widget }}/report/embed.js" async></script>
  <p><a href="{{ widget }}/report/form?lang={{ lang }}">{{ t.nojs }}</a></p>
  {% if mode != "button" %}<p><a href="/{{ lang }}/button">{{ t.button }}</a></p>{% endif %}
</main>
<footer>{{ t.foot }}</footer>
</body>
</html>
"""

LANGUAGE_NAMES = [("fr", "Français"), ("ar", "العربية"), ("en", "English")]


def create_app(widget_url: str | None = None) -> Flask:
    """The partner demo site; ``widget_url`` is where the widget server answers (no ``/report``)."""
    widget = (widget_url or os.environ.get("IWF_DEMO_WIDGET_URL") or "http://127.0.0.1:5001").rstrip("/")
    app = Flask("iwf_widget.demo")

    @app.get("/")
    def index():  # type: ignore[no-untyped-def]
        return redirect("/fr/", code=302)

    @app.get("/<lang>/")
    @app.get("/<lang>/<mode>")
    def page(lang: str, mode: str = "inline"):  # type: ignore[no-untyped-def]
        if lang not in PAGES or mode not in ("inline", "button"):
            abort(404)
        return render_template_string(
            PAGE, lang=lang, t=PAGES[lang], widget=widget, mode=mode, languages=LANGUAGE_NAMES
        )

    @app.after_request
    def _headers(response):  # type: ignore[no-untyped-def]
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return app


@dataclass(frozen=True)
class DemoKeys:
    private: str
    public: str
    signing: str


def demo_keys(folder: str) -> DemoKeys:
    """The demo's key pair and partner key: made on first run, then read back."""
    path = os.path.join(folder, "keys.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return DemoKeys(data["private"], data["public"], data["signing"])
    private, public = generate_keypair()
    keys = DemoKeys(private, public, secrets.token_urlsafe(32))
    fd = open_private(path, os.O_WRONLY | os.O_EXCL)  # 0600, in a 0700 folder if it makes one
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(keys.__dict__, f)
    return keys


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::", "")


def run(host: str, port: int, instance: str, echo: t.Callable[[str], None] = print) -> None:
    """Serve the three apps until Ctrl-C (or SIGTERM)."""
    from .intake import create_app as intake_app
    from .serving import make_server, widget_app

    folder = os.path.join(instance, "demo")
    keys = demo_keys(folder)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    reach = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost", "") else host  # server to server
    site_url = f"http://{_bracket(shown)}:{port}"
    widget_url = f"http://{_bracket(shown)}:{port + 1}"
    intake_url = f"http://{_bracket(shown)}:{port + 2}"
    origins = [site_url]
    if _loopback(host):
        origins = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]

    intake = intake_app(
        {
            "IWF_INTAKE_DB_URL": "sqlite:///" + os.path.join(folder, "intake.db"),
            "IWF_INTAKE_PRIVATE_KEY": keys.private,
            "IWF_INTAKE_PARTNERS": {DEMO_PARTNER: [keys.signing]},
        }
    )
    widget = widget_app(
        {
            "IWF_WIDGET_PARTNER_ID": DEMO_PARTNER,
            "IWF_WIDGET_INTAKE_URL": f"http://{_bracket(reach)}:{port + 2}",
            "IWF_WIDGET_SIGNING_KEY": keys.signing,
            "IWF_WIDGET_INTAKE_PUBLIC_KEY": keys.public,
            "IWF_WIDGET_OUTBOX_URL": "sqlite:///" + os.path.join(folder, "outbox.db"),
            "IWF_WIDGET_ALLOWED_ORIGINS": origins,
        },
        instance=folder,
    )
    site = create_app(widget_url)

    servers = []
    try:
        for app, p in ((site, port), (widget, port + 1), (intake, port + 2)):
            servers.append(make_server(app, host, p))
    except OSError as e:
        for s in servers:
            s.close()
        raise OSError(f"cannot listen on {host}:{port}-{port + 2} ({e.strerror}); try another --port") from e

    from . import ReportWidget

    state = ReportWidget.state(widget)
    state.ensure_forwarder()
    threads = [threading.Thread(target=s.run, daemon=True) for s in servers]
    for th in threads:
        th.start()
    echo(f"Partner demo site:  {site_url}/fr/   ({site_url}/ar/, {site_url}/en/)")
    echo(f"Widget:             {widget_url}/report/form   (health: {widget_url}/report/healthz)")
    echo(f"Reference intake:   {intake_url}/healthz")
    echo(f"Demo keys and data: {folder}")
    echo(
        "Reports that arrived: IWF_INTAKE_DB_URL=sqlite:///"
        + os.path.join(folder, "intake.db")
        + " iwf-widget intake-export"
    )
    echo("Press Ctrl-C to stop.")
    stop = threading.Event()
    try:
        while not stop.wait(0.5):
            if not all(th.is_alive() for th in threads):
                break
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.close()
        state.stop_forwarder()


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
