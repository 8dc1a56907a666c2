"""Living inside a partner's Flask app beside the extensions most apps run.

A host app's CSRF protection, rate limiter and security-header extension are
built for the host's own pages. On the widget's routes each of them breaks a
promise the widget makes: Flask-WTF refuses every report (its session cookie
never reaches a cross-site frame; the widget's own signed token protects the
form), Flask-Limiter counts reporters under their IP address, and Talisman
replaces the widget's ``frame-ancestors``. So the widget:

- exempts its blueprint from every ``CSRFProtect`` and Flask-Limiter found in
  ``app.extensions``, at ``init_app`` and again before each of its requests
  (whichever was initialised first);
- runs an app-level ``before_request`` ahead of the host's own hooks, so the
  body limit holds before a host hook reads the form;
- answers through :class:`~iwf_widget.headers.WidgetHeaders`, which puts the
  widget's security headers back last, whatever the host's hooks set.
"""

from __future__ import annotations

import logging
import typing as t

from flask import Blueprint, Flask, current_app, request

log = logging.getLogger("iwf_widget")
#: The blueprint's name (``iwf_widget.views.blueprint``), which endpoints start with.
BLUEPRINT = "iwf_widget"
#: The name of the same blueprint registered again for a hub's partners (``/report/p/<id>/``).
HUB = "iwf_hub"
NAMES = (BLUEPRINT, HUB)


def is_widget_request() -> bool:
    """True on a request routed to one of the widget's routes."""
    return request.blueprint in NAMES


def befriend(app: Flask, *, warn: bool = False) -> None:
    """Exempt the widget's blueprint from the host's CSRF protection and rate limiters.

    Idempotent and cheap: an extension already handled is skipped.
    """
    done: set[int] = app.extensions.setdefault("iwf_widget_befriended", set())
    blueprint = app.blueprints.get(BLUEPRINT)
    csrf = app.extensions.get("csrf")
    if csrf is not None and id(csrf) not in done:
        exempt = getattr(csrf, "exempt", None)
        if callable(exempt) and blueprint is not None:
            exempt(blueprint)
            if HUB in app.blueprints:
                # Flask-WTF exempts by the name a request is routed under: the hub's too.
                exempt(Blueprint(HUB, __name__))
            done.add(id(csrf))
        elif warn:
            log.warning(
                "the host's CSRF protection %s cannot exempt the widget; exempt the %r blueprint "
                "yourself (the widget's own token protects its form)",
                type(csrf).__name__,
                BLUEPRINT,
            )
    for limiter in list(app.extensions.get("limiter", ()) or ()):
        if id(limiter) in done:
            continue
        request_filter = getattr(limiter, "request_filter", None)
        if callable(request_filter):
            # A filter exempts from everything the limiter counts: default, application,
            # meta and decorated limits alike; limiter.exempt() alone leaves the last.
            request_filter(is_widget_request)
            done.add(id(limiter))
        elif warn:
            log.warning(
                "the host's rate limiter %s cannot exempt the widget's routes, so it may count "
                "reporters by IP address; exempt the %r blueprint from it",
                type(limiter).__name__,
                BLUEPRINT,
            )


def first_hook(app: Flask, body_limit: int) -> t.Callable[[], None]:
    """An app-level ``before_request`` placed ahead of the host's own hooks."""

    def prepare() -> None:
        if request.blueprint not in NAMES:
            return
        # Before any host hook can read the body (request.form) without the widget's limit.
        request.max_content_length = body_limit
        befriend(current_app)

    app.before_request_funcs.setdefault(None, []).insert(0, prepare)
    return prepare
