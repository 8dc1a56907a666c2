"""The snippet and the form's GET pages travel gzipped; the stylesheet travels inside the page."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re

import pytest
from support.partner import valid_answers

GZIP = {"Accept-Encoding": "gzip"}


def csp_style_hashes(response) -> list[str]:
    policy = response.headers["Content-Security-Policy"]
    (styles,) = [d for d in policy.split(";") if d.strip().startswith("style-src")]
    return re.findall(r"'(sha256-[^']+)'", styles)


@pytest.mark.parametrize(
    "path", ["/report/form?lang=fr", "/report/form?lang=ar&step=report", "/report/embed.js", "/report/static/form.js"]
)
def test_a_get_is_gzipped_for_a_client_that_takes_it(client, path):
    plain = client.get(path)
    packed = client.get(path, headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    assert "Content-Encoding" not in plain.headers
    body = gzip.decompress(packed.data)
    assert len(packed.data) < len(body) * 0.6
    # Pages differ only in their per-request token and challenge.
    strip = re.compile(rb'value="[^"]{20,}"|data-iwf-pow="[^"]*"')
    assert strip.sub(b"", body) == strip.sub(b"", plain.data)


def test_a_client_that_refuses_gzip_gets_plain_text(client):
    response = client.get("/report/form?lang=fr", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in response.headers
    assert response.data.startswith(b"<!doctype html>")


def test_a_page_answering_a_post_is_never_compressed(client):
    """It reflects what was typed next to a token: what a compression side channel needs."""
    page = client.get("/report/form?lang=en").get_data(as_text=True)
    typed = "not an address " * 20
    response = client.post("/report/form?lang=en", data=valid_answers(page, urls=typed), headers=GZIP)
    assert "Content-Encoding" not in response.headers
    assert "not an address" in response.get_data(as_text=True)  # shown again, with its error


def test_the_gzipped_snippet_keeps_its_etag_for_revalidation(client):
    first = client.get("/report/embed.js", headers=GZIP)
    etag, weak = first.get_etag()
    assert weak and etag == client.get("/report/embed.js").get_etag()[0]
    again = client.get("/report/embed.js", headers={**GZIP, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_the_pages_carry_their_stylesheet_allowed_by_its_hash_alone(client, submit):
    pages = [client.get("/report/form?lang=fr"), client.get("/report/form?lang=ur&step=report"), submit("sw")]
    css = client.get("/report/static/widget.css").get_data(as_text=True)
    for response in pages:
        page = response.get_data(as_text=True)
        (inline,) = re.findall(r"<style>(.*?)</style>", page, re.S)
        assert inline == css
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert csp_style_hashes(response) == [f"sha256-{digest}"]
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        assert 'rel="stylesheet"' not in page  # nothing to wait for before the first paint


def test_static_files_come_only_from_the_widget_folder(client):
    assert client.get("/report/static/pow.js").headers["Content-Type"].startswith("text/javascript")
    assert client.get("/report/static/widget.css").mimetype == "text/css"
    for path in ("../settings.py", "..%2Fsettings.py", "%2Fetc%2Fpasswd", "nothing.js"):
        assert client.get(f"/report/static/{path}", follow_redirects=True).status_code == 404
    first = client.get("/report/static/form.js?v=1")
    assert first.cache_control.max_age == 31536000
    assert client.get("/report/static/form.js?v=1", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


def test_asking_for_files_that_are_not_there_keeps_nothing_in_memory(client):
    from iwf_widget import views

    client.get("/report/static/form.js")
    before = len(views._static_files)
    for n in range(200):
        assert client.get(f"/report/static/missing-{n}.js").status_code == 404
    assert len(views._static_files) == before
