"""Security headers for every widget response.

The form document may be framed only by the partner's origins; every other
route may not be framed at all. Nothing the widget serves needs inline script
or style, so the policy allows neither.
"""
from __future__ import annotations

import typing as t
from urllib.parse import urlsplit, urlunsplit

from flask import Response

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media",
        "fullscreen", "geolocation", "gyroscope", "magnetometer", "microphone", "midi",
        "payment", "picture-in-picture", "publickey-credentials-get", "screen-wake-lock",
        "serial", "usb", "xr-spatial-tracking", "browsing-topics", "interest-cohort",
    )
)


def document_policy(frame_ancestors: t.Sequence[str]) -> str:
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'self'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
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
) -> Response:
    h = response.headers
    h["Referrer-Policy"] = "no-referrer"
    h["X-Content-Type-Options"] = "nosniff"
    h["Permissions-Policy"] = PERMISSIONS_POLICY
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Cross-Origin-Resource-Policy"] = "cross-origin" if cross_origin_resource else "same-origin"
    if document:
        h["Content-Security-Policy"] = document_policy(frame_ancestors)
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
