"""Gzip for the snippet and the form's pages, so a slow phone waits less.

On a 400 kbit/s link every kilobyte costs 20 ms, and the snippet, the form
document and its inlined stylesheet are on the path to the first step being
seen. A reverse proxy may compress instead; a response that is already encoded
is left alone, so the two never stack.

Only answers to GET are compressed. A page that reflects what someone typed
(a form shown again with its errors, after a POST) next to a secret is what
length-based attacks on compression (BREACH) need; a GET page reflects only
values checked against fixed lists, and its form token is new in every
response, so there is no repeated secret to guess either.
"""

from __future__ import annotations

import gzip

from flask import Request, Response

#: Below this a response fits in one packet anyway.
MIN_SIZE = 1024
#: zlib's default: a fifth of a millisecond for a form page, a sixth smaller than level 1.
LEVEL = 6
COMPRESSIBLE = frozenset({"text/html", "text/javascript", "text/css"})


def compress(request: Request, response: Response) -> Response:
    """Gzip ``response`` in place when the client takes it and it is worth it."""
    if (
        request.method != "GET"
        or response.status_code != 200
        or response.direct_passthrough
        or response.mimetype not in COMPRESSIBLE
        or "Content-Encoding" in response.headers
    ):
        return response
    response.vary.add("Accept-Encoding")
    if request.accept_encodings["gzip"] <= 0:
        return response
    body = response.get_data()
    if len(body) < MIN_SIZE:
        return response
    response.set_data(gzip.compress(body, LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag and not weak:
        # Another encoding is another representation; If-None-Match still matches it (weakly).
        response.set_etag(etag, weak=True)
    return response
