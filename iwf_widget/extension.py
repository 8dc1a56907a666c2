"""``ReportWidget``: the Flask extension that mounts the form on a partner's app."""
from __future__ import annotations

import collections
import hashlib
import logging
import os
import threading
import typing as t

from flask import Flask, Response, request

from . import headers
from .i18n import resource_dir
from .outbox import Outbox
from .pages import Pages
from .ratelimit import Limiter
from .sealing import Sealer
from .settings import Settings, from_environ, unknown_keys
from .tokens import TokenSigner
from .work import ProofOfWork


class WidgetState:
    """Everything the views need, built once at start-up."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.redis_url and not settings.redis_persistence_ok:
            from .redischeck import refuse_persistence

            refuse_persistence(settings.redis_url)
        self.outbox = Outbox(settings.outbox_url)
        self.signer = TokenSigner(
            settings.signing_keys, settings.partner_id, settings.token_max_age, settings.min_fill_seconds
        )
        self.sealer = Sealer(settings.intake_public_key)
        self.static_dir = resource_dir("static")
        self.asset_versions = _asset_versions(self.static_dir)
        self.pages = Pages()
        self.limiter = Limiter(
            settings.rate_limit,
            settings.partner_rate_limit,
            settings.partner_id,
            storage_uri=settings.redis_url or "memory://",
        )
        self.work = ProofOfWork(settings.signing_keys[0], settings.token_max_age, settings.work_difficulty)
        self._forwarder: t.Any = None
        self._forwarder_lock = threading.Lock()
        self._forwarder_pid: int | None = None

    def ensure_forwarder(self) -> None:
        """Start the background forwarder in this process, once (also after a fork)."""
        if not self.settings.forwarder or self._forwarder_pid == os.getpid():
            return
        with self._forwarder_lock:
            if self._forwarder_pid == os.getpid():
                return
            from .forwarder import Forwarder

            self._forwarder = Forwarder(self.settings, self.outbox)
            self._forwarder.start()
            self._forwarder_pid = os.getpid()

    def notify_forwarder(self) -> None:
        """Wake this process's forwarder: a report was just accepted."""
        forwarder = self._forwarder
        if forwarder is not None:
            forwarder.notify()

    def stop_forwarder(self) -> None:
        if self._forwarder is not None:
            self._forwarder.stop()
            self._forwarder = None
            self._forwarder_pid = None


def _asset_versions(folder: os.PathLike[str] | str) -> dict[str, str]:
    """Content hashes for cache-busting URLs, so assets can be cached for a year."""
    versions = {}
    for name in ("widget.css", "form.js", "embed.js", "pow.js", "pow-worker.js"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                versions[name] = hashlib.sha256(f.read()).hexdigest()[:12]
    return versions


def _unrouted_headers(prefix: str) -> t.Callable[[Response], Response]:
    """Headers for answers under the prefix that no widget route produced (404, 405).

    The blueprint's own hooks run only once a route has matched.
    """

    def apply(response: Response) -> Response:
        if request.blueprint is None and (request.path == prefix or request.path.startswith(prefix + "/")):
            headers.apply(response, document=False, frame_ancestors=())
            headers.relative_location(response, request.host)
        return response

    return apply


class ReportWidget:
    """Mounts the report form on a Flask app.

    ``ReportWidget(app, url_prefix="/report")``, or ``widget = ReportWidget()``
    then ``widget.init_app(app)``. Settings come from ``app.config``, and any
    ``IWF_WIDGET_*`` key missing there from the environment; they are checked
    here, so a bad one stops start-up with its key named.
    """

    def __init__(self, app: Flask | None = None, url_prefix: str = "/report") -> None:
        self.url_prefix = url_prefix
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, url_prefix: str | None = None) -> None:
        from .views import blueprint

        # A key missing from app.config is read from the environment, as `iwf-widget serve` does.
        config = collections.ChainMap(app.config, from_environ())
        settings = Settings.from_mapping(config, app.instance_path)
        for warning in unknown_keys(config, once=True):
            logging.getLogger("iwf_widget").warning("%s", warning)
        state = WidgetState(settings)
        app.extensions["iwf_widget"] = state
        prefix = (url_prefix or self.url_prefix).rstrip("/")
        app.register_blueprint(blueprint, url_prefix=prefix)
        app.after_request(_unrouted_headers(prefix))

    @staticmethod
    def state(app: Flask) -> WidgetState:
        return app.extensions["iwf_widget"]
