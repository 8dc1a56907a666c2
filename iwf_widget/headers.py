"""Security headers for every widget response.

The form document may be framed only by the partner's origins; every other
route may not be framed at all. No inline script is allowed, and no inline
style but the widget's own stylesheet, inlined into its pages (by its hash) to
save a slow phone a round trip before the form can be drawn.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit, urlunsplit

from flask import Response

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
        "browsing-topics",
        "interest-cohort",
    )
)


def document_policy(frame_ancestors: t.Sequence[str], style_hashes: t.Sequence[str] = ()) -> str:
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'self'"
    styles = "".join(f" '{h}'" for h in style_hashes)
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'{styles}; img-src 'self' data:; "
        "connect-src 'self'; worker-src 'self'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {ancestors}"
    )


NOT_FRAMED_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def apply(
    response: Response,
    *,
    document: bool,
    frame_ancestors: t.Sequence[str],
    cross_origin_resource: bool = False,
    hsts: bool = False,
    style_hashes: t.Sequence[str] = (),
) -> Response:
    """Set the widget's headers on ``response`` and take away its ability to set cookies.

    The cookie policy a host app gets: on a widget response, ``response.set_cookie``
    and ``response.delete_cookie`` do nothing, so the host's session (Flask's
    session, Flask-Login's remember cookie) is neither set nor cleared there, and
    :class:`WidgetHeaders` drops any ``Set-Cookie`` added afterwards. The host's
    own pages keep their cookies.
    """
    h = response.headers
    h["Referrer-Policy"] = "no-referrer"
    h["X-Content-Type-Options"] = "nosniff"
    h["Permissions-Policy"] = PERMISSIONS_POLICY
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Cross-Origin-Resource-Policy"] = "cross-origin" if cross_origin_resource else "same-origin"
    if document:
        h["Content-Security-Policy"] = document_policy(frame_ancestors, style_hashes)
        h["Cache-Control"] = "no-store"
    else:
        h["Content-Security-Policy"] = NOT_FRAMED_POLICY
        h["X-Frame-Options"] = "DENY"
    if hsts:
        h["Strict-Transport-Security"] = "max-age=31536000"
    h.pop("Set-Cookie", None)
    # A host app saves its session after this runs; its cookie must not ride on a widget response either.
    response.set_cookie = _no_cookie  # type: ignore[method-assign]
    response.delete_cookie = _no_cookie  # type: ignore[method-assign]
    return response


def _no_cookie(*args: t.Any, **kwargs: t.Any) -> None:
    """Stands in for ``Response.set_cookie``: the widget's responses never set one."""


def relative_location(response: Response, host: str) -> Response:
    """Make a redirect to this server name no host.

    Werkzeug builds the redirects it makes itself (``/report//form`` to
    ``/report/form``, a missing trailing slash) from the request's ``Host``
    header, which anyone can set: a link through a cache or a proxy that keeps
    the header would send people to a host of the attacker's choosing. A path
    alone goes to whatever host the browser asked.
    """
    location = response.headers.get("Location")
    if not location:
        return response
    parts = urlsplit(location)
    if parts.netloc and parts.netloc.lower() == host.lower():
        path = "/" + parts.path.lstrip("/")  # never "//", which a browser reads as a host
        response.headers["Location"] = urlunsplit(("", "", path, parts.query, parts.fragment))
    return response


#: Removed from a widget response whatever set them, then the widget's own are put back.
REPLACED = frozenset(
    name.lower()
    for name in (
        "Content-Security-Policy",
        "Content-Security-Policy-Report-Only",
        "X-Frame-Options",
        "Referrer-Policy",
        "Permissions-Policy",
        "Feature-Policy",
        "X-Content-Type-Options",
        "Cross-Origin-Opener-Policy",
        "Cross-Origin-Resource-Policy",
        "Set-Cookie",
    )
)
#: Kept as the widget set them, when it did (a host's value is left alone otherwise).
KEPT_IF_SET = ("Cache-Control", "Strict-Transport-Security", "Access-Control-Allow-Origin")
ENVIRON_KEY = "iwf_widget.headers"


def keep(environ: dict[str, t.Any], response: Response) -> None:
    """Remember the widget's headers for ``response``, for :class:`WidgetHeaders` to restore."""
    wanted = REPLACED.union(name.lower() for name in KEPT_IF_SET)
    environ[ENVIRON_KEY] = [(k, v) for k, v in response.headers.items() if k.lower() in wanted]


class WidgetHeaders:
    """WSGI middleware: on the widget's responses, its security headers win.

    A host's ``after_request`` hooks (Flask-Talisman's among them) run after the
    blueprint's, so they could replace ``frame-ancestors``, add
    ``X-Frame-Options: SAMEORIGIN`` or a cookie. This runs after all of them.
    """

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        def start(status: str, response_headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            ours = environ.get(ENVIRON_KEY)
            if ours is not None:
                names = REPLACED.union(k.lower() for k, _ in ours)
                response_headers = [(k, v) for k, v in response_headers if k.lower() not in names] + ours
            return start_response(status, response_headers, exc_info)

        return self.wsgi_app(environ, start)
