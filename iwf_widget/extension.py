"""``ReportWidget``: the Flask extension that mounts the form on a partner's app."""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import threading
import typing as t
import weakref

from babel.support import NullTranslations
from flask import Flask, Response, current_app, request
from markupsafe import Markup

from . import headers, hosts, partner_catalogs
from .embed import sha256_source
from .hosts import HUB
from .i18n import resource_dir
from .lograte import EveryMinute
from .outbox import Outbox
from .pages import Pages
from .ratelimit import Limiter
from .sealing import Sealer
from .settings import ConfigError, Settings, from_environ, unknown_keys
from .status import PARTNER_LOOKUPS, STATUS_SALT, Lookups, StatusKeys
from .submission import Submissions
from .tokens import FormTokens, TokenSigner
from .work import ProofOfWork


class WidgetState:
    """Everything the views need, built once at start-up."""

    def __init__(self, settings: Settings, outbox: Outbox | None = None, hub: bool = False) -> None:
        """``outbox``: one already open (a hub's partners share theirs); ``hub``: one of a hub's partners."""
        self.settings = settings
        self.in_hub = hub
        if settings.redis_url and not settings.redis_persistence_ok and outbox is None:
            from .redischeck import refuse_persistence

            refuse_persistence(settings.redis_url)
        self.outbox = outbox or Outbox(settings.outbox_url)
        #: One log line per kind of trouble per minute (a monitor polling a failing health check).
        self.throttled = EveryMinute(logging.getLogger("iwf_widget"))
        self.signer = TokenSigner(
            settings.signing_keys, settings.partner_id, settings.token_max_age, settings.min_fill_seconds
        )
        self.sealer = Sealer(settings.intake_public_key)
        self.static_dir = resource_dir("static")
        self.asset_versions = _asset_versions(self.static_dir)
        self.inline_style = InlineStyle.read(os.path.join(self.static_dir, "widget.css"))
        self.pages = Pages()
        self.catalogs = _partner_catalogs(settings)
        self.limiter = Limiter(
            settings.rate_limit,
            settings.partner_rate_limit,
            settings.partner_id,
            storage_uri=settings.redis_url or "memory://",
            ipv6_prefix=settings.ipv6_prefix,
        )
        self.work = ProofOfWork(settings.signing_keys[0], settings.token_max_age, settings.work_difficulty)
        self.tokens = FormTokens(self.signer, self.outbox)
        self.status_keys = StatusKeys(settings.signing_keys)
        self.submissions = Submissions(
            settings.partner_id,
            self.tokens,
            self.work,
            self.limiter,
            self.sealer,
            stored=self.notify_forwarder,
            status_keys=self.status_keys,
        )
        self.lookups = Lookups(
            TokenSigner(settings.signing_keys, settings.partner_id, settings.token_max_age, 0, salt=STATUS_SALT),
            self.work,
            Limiter(
                settings.status_rate_limit,
                PARTNER_LOOKUPS,
                settings.partner_id,
                storage_uri=settings.redis_url or "memory://",
                ipv6_prefix=settings.ipv6_prefix,
                name="iwf-status",
            ),
            self.outbox,
            self.status_keys,
        )
        self._forwarder: t.Any = None
        self._forwarder_lock = threading.Lock()
        self._forwarder_pid: int | None = None
        self._stopped = False

    def ensure_forwarder(self) -> None:
        """Start the background forwarder in this process, once (also after a fork).

        Not after :meth:`stop_forwarder`, until :meth:`start_forwarder`.
        """
        if not self.settings.forwarder or self._stopped or self._forwarder_pid == os.getpid():
            return
        with self._forwarder_lock:
            if self._stopped or self._forwarder_pid == os.getpid():
                return
            from .forwarder import Forwarder

            self._forwarder = Forwarder(self.settings, self.outbox, named=self.in_hub)
            self._forwarder.start()
            self._forwarder_pid = os.getpid()

    def start_forwarder(self) -> None:
        self._stopped = False
        self.ensure_forwarder()

    def notify_forwarder(self) -> None:
        """Wake this process's forwarder: a report was just accepted."""
        forwarder = self._forwarder
        if forwarder is not None:
            forwarder.notify()

    def stop_forwarder(self, timeout: float | None = None) -> None:
        """Stop the thread (after the request it may be making) and close its connections."""
        with self._forwarder_lock:
            self._stopped = True
            forwarder, self._forwarder, self._forwarder_pid = self._forwarder, None, None
        if forwarder is not None:
            forwarder.stop(timeout)
            logging.getLogger("iwf_widget").info("forwarder stopped; unsent reports wait in the outbox")


def _partner_catalogs(settings: Settings) -> dict[str, NullTranslations]:
    if not settings.translations_dir:
        return {}
    try:
        return partner_catalogs.load(settings.translations_dir, settings.locales)
    except partner_catalogs.CatalogError as e:
        raise ConfigError("IWF_WIDGET_TRANSLATIONS_DIR", str(e)) from None


class InlineStyle(t.NamedTuple):
    """The stylesheet every page inlines, and its CSP hash.

    A linked stylesheet blocks the first paint for one more round trip after the
    page itself (400 ms on a slow 3G phone); a reporter usually comes once, so
    the cache that a link would allow matters less than that first wait.
    """

    css: Markup
    hash: str

    @classmethod
    def read(cls, path: str) -> InlineStyle:
        with open(path, encoding="utf-8") as f:
            css = f.read()
        if "</" in css:
            raise ValueError(f"{path} cannot be inlined: it contains '</'")
        return cls(Markup(css), sha256_source(css.encode("utf-8")))


def _asset_versions(folder: os.PathLike[str] | str) -> dict[str, str]:
    """Content hashes for cache-busting URLs, so assets can be cached for a year."""
    versions = {}
    for name in ("form.js", "embed.js", "pow.js", "pow-worker.js"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                versions[name] = hashlib.sha256(f.read()).hexdigest()[:12]
    return versions


def _unrouted_headers(prefix: str, subdomain: str | None) -> t.Callable[[Response], Response]:
    """Headers for answers under the prefix that no widget route produced (404, 405).

    The blueprint's own hooks run only once a route has matched.
    """

    def apply(response: Response) -> Response:
        if request.blueprint is not None:
            return response
        if subdomain and not request.host.lower().startswith(subdomain.lower() + "."):
            return response
        if request.path == prefix or request.path.startswith(prefix + "/") or (subdomain and not prefix):
            headers.apply(response, document=False, frame_ancestors=())
            headers.relative_location(response, request.host)
            headers.keep(request.environ, response)
        return response

    return apply


def _check_subdomain(app: Flask) -> None:
    """Flask matches subdomains only when both are set; otherwise every route would 404."""
    if not app.config.get("SERVER_NAME"):
        raise ConfigError("SERVER_NAME", "a subdomain needs SERVER_NAME, e.g. 'partner.example'")
    if not app.subdomain_matching:
        raise ConfigError("subdomain", "needs an app made with Flask(__name__, subdomain_matching=True)")


class ReportWidget:
    """Mounts the report form on a Flask app.

    ``ReportWidget(app, url_prefix="/report")``, or, in an app factory,
    ``widget = ReportWidget()`` at module level and ``widget.init_app(app)`` in
    ``create_app``; one ``ReportWidget`` may serve several apps. Settings come
    from ``app.config``, and any ``IWF_WIDGET_*`` key missing there from the
    environment; they are checked here, so a bad one stops start-up with
    its key named.

    :param app: the Flask app, or None to call :meth:`init_app` later.
    :param url_prefix: where the routes are mounted (``/report/form``, ...).
    :param subdomain: serve the routes on this subdomain of ``SERVER_NAME``
        only (``subdomain="report"`` for ``report.partner.example``); the app
        must be made with ``Flask(..., subdomain_matching=True)``.

    Alongside the host's extensions: the blueprint is exempted from Flask-WTF's
    ``CSRFProtect`` and from every Flask-Limiter on the app (the form carries
    its own signed token and the widget its own anonymous limits), and on the
    widget's routes its security headers replace whatever a host hook (such as
    Flask-Talisman) set. Widget responses never carry a cookie: on them
    ``response.set_cookie`` does nothing (see :func:`iwf_widget.headers.apply`).

    The forwarder, which sends accepted reports to the intake, runs in a
    daemon thread of each process: it starts at the app's first widget request
    (so each worker forked by a server starts its own) or when
    :meth:`start_forwarder` is called, and stops with :meth:`stop_forwarder`,
    when the app is garbage-collected, or when the process exits.
    ``IWF_WIDGET_FORWARDER=off`` leaves forwarding to ``iwf-widget forward``.
    """

    def __init__(self, app: Flask | None = None, url_prefix: str = "/report", subdomain: str | None = None) -> None:
        self.url_prefix = url_prefix
        self.subdomain = subdomain
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, url_prefix: str | None = None, subdomain: str | None = None) -> None:
        from .views import MAX_BODY, blueprint

        # A key missing from app.config is read from the environment, as `iwf-widget serve` does.
        config = collections.ChainMap(app.config, from_environ())
        settings = Settings.from_mapping(config, app.instance_path)
        for warning in unknown_keys(config, once=True):
            logging.getLogger("iwf_widget").warning("%s", warning)
        subdomain = subdomain if subdomain is not None else self.subdomain
        if subdomain:
            _check_subdomain(app)
        state = WidgetState(settings)
        app.extensions["iwf_widget"] = state
        prefix = (self.url_prefix if url_prefix is None else url_prefix).rstrip("/")
        app.register_blueprint(blueprint, url_prefix=prefix, subdomain=subdomain)
        partners_file = config.get("IWF_WIDGET_PARTNERS_FILE")
        if partners_file:
            from .hub import Hub

            hub = Hub(str(partners_file), config, app.instance_path, state.outbox)
            app.extensions["iwf_hub"] = hub
            # The same routes again, per partner: /report/p/<partner_id>/form, ...
            app.register_blueprint(blueprint, url_prefix=prefix + "/p/<partner_id>", subdomain=subdomain, name=HUB)
            weakref.finalize(app, hub.stop_forwarders)
        app.after_request(_unrouted_headers(prefix, subdomain))
        hosts.first_hook(app, MAX_BODY)
        hosts.befriend(app, warn=True)
        app.wsgi_app = headers.WidgetHeaders(app.wsgi_app)  # type: ignore[method-assign]
        # Stop the thread with its app, and at exit; the finalizer holds the state, not the app.
        weakref.finalize(app, state.stop_forwarder)

    @staticmethod
    def state(app: Flask) -> WidgetState:
        return t.cast(WidgetState, app.extensions["iwf_widget"])

    def start_forwarder(self, app: Flask | None = None) -> None:
        """Start forwarding in this process now rather than at the first request."""
        self.state(app or current_app).start_forwarder()

    def stop_forwarder(self, app: Flask | None = None) -> None:
        """Stop this process's forwarder; reports left wait in the outbox for the next one."""
        app = app or current_app
        self.state(app).stop_forwarder()
        hub = app.extensions.get("iwf_hub")
        if hub is not None:
            hub.stop_forwarders()

    def reload_partners(self, app: Flask | None = None) -> list[str]:
        """Read ``IWF_WIDGET_PARTNERS_FILE`` again (hub mode); what changed.

        A file with an error raises :class:`~iwf_widget.settings.ConfigError` and changes nothing.
        """
        hub = (app or current_app).extensions.get("iwf_hub")
        return hub.reload() if hub is not None else []
