"""Every entry of ``tests/data/hostile.json`` through the real widget and the real intake.

Each entry says what it sends and what it expects. Whatever it is, the answer is
never a 5xx, nothing is stored, no Set-Cookie is sent, nothing hostile is
reflected unescaped, and a person sees the refusal in their own language.
"""

from __future__ import annotations

import base64
import html
import html.parser
import io
import json
import os
import re
import secrets
import sqlite3
import time
import typing as t
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from nacl.public import PrivateKey, PublicKey, SealedBox
from support.partner import SIGNING_KEY, partner_app, token_of, valid_answers
from werkzeug.datastructures import MultiDict

from iwf_widget import forms, protocol, views
from iwf_widget.i18n import LOCALES, gettext, ngettext
from iwf_widget.outbox import minute
from iwf_widget.sealing import generate_keypair
from iwf_widget.submission import Refusal
from iwf_widget.tokens import SALT

CORPUS: list[dict[str, t.Any]] = json.loads(
    (Path(__file__).parent / "data" / "hostile.json").read_text(encoding="utf-8")
)
WIDGET = [e for e in CORPUS if e["target"] == "widget"]
INTAKE = [e for e in CORPUS if e["target"] == "intake"]

OTHER_PARTNER_KEY = "other-partner-key-0123456789abcdef"
INTAKE_MAX_BODY = 512 * 1024
REMOTE_ADDR = "198.51.100.23"
#: Script tags the widget's own pages carry; any other is an injection.
OWN_SCRIPT = re.compile(r"/report/static/[\w.-]+\?v=[0-9a-f]*")
#: The one inline icon of the widget's pages (the language link's globe), attribute for attribute.
OWN_ICON = {"class", "aria-hidden", "focusable", "viewbox", "width", "height"}
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "data", "poster", "srcdoc"})


class Elements(html.parser.HTMLParser):
    """Every element and its attributes, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


def injected_markup(body: str) -> list[str]:
    """Elements or attributes a page of the widget never has by itself."""
    parser = Elements()
    parser.feed(body)
    found = []
    styles = 0
    for tag, attrs in parser.elements:
        if tag in ("script", "iframe", "object", "embed", "svg", "img", "style", "base", "frame"):
            own_script = tag == "script" and OWN_SCRIPT.fullmatch(attrs.get("src") or "")
            own_icon = tag == "svg" and attrs.get("class") == "iwf-icon" and set(attrs) == OWN_ICON
            styles += tag == "style"
            own_style = tag == "style" and not attrs and styles == 1  # the widget's stylesheet, inlined
            if not (own_script or own_icon or own_style):
                found.append(tag)
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append(f"{tag}[{name}]")
            if name in URL_ATTRIBUTES and re.match(r"\s*(javascript|data|vbscript):", value or "", re.I):
                found.append(f"{tag}[{name}={value[:30]}]")
    return found


def test_corpus_is_large_and_covers_every_kind_of_attack():
    assert len(CORPUS) >= 150
    ids = [e["id"] for e in CORPUS]
    assert len(ids) == len(set(ids)), "entry ids are unique"
    for entry in CORPUS:
        assert entry["sends"] and entry["expect"]["status"] >= 200
    prefixes = {e["id"].split("-")[0] for e in CORPUS}
    for kind in (
        "xss",
        "get",
        "scheme",
        "hidden",
        "control",
        "utf8",
        "addresses",
        "huge",
        "token",
        "origin",
        "choice",
        "email",
        "static",
        "intake",
        "rate",
    ):
        assert kind in prefixes, kind
    fields = {f for e in WIDGET for f in e["request"].get("fields", {})}
    assert {"urls", "description", "contact_email", "content_kind", "where_seen", "homepage", "iwf_token"} <= fields
    params = {p for e in WIDGET for p in e["request"].get("query", {})}
    assert {"lang", "step", "mode"} <= params


# -- the widget ------------------------------------------------------------------


class Partner:
    """One partner app on its own outbox file; built once per distinct configuration."""

    def __init__(self, folder: Path, public_key: str, config: dict[str, t.Any]) -> None:
        self.db = folder / "outbox.db"
        app = partner_app(folder, public_key, **{"IWF_WIDGET_PARTNER_RATE_LIMIT": "off", **config})
        self.app = app
        self.client = app.test_client()

    def stored(self) -> int:
        with sqlite3.connect(self.db) as db:
            return db.execute("select count(*) from iwf_outbox").fetchone()[0]


@pytest.fixture(scope="module")
def partners(tmp_path_factory, keypair) -> t.Callable[[dict[str, t.Any]], Partner]:
    built: dict[str, Partner] = {}

    def get(config: dict[str, t.Any]) -> Partner:
        key = json.dumps(config, sort_keys=True)
        if key not in built:
            built[key] = Partner(tmp_path_factory.mktemp("partner"), keypair[1], config)
        return built[key]

    return get


def expand(value: t.Any) -> str:
    """Corpus values: plain strings, or recipes for ones too long to write out."""
    if isinstance(value, str):
        return value
    if "lines" in value:
        return "\n".join(value["lines"].format(n=n) for n in range(1, value["count"] + 1))
    return value.get("before", "") + value["repeat"] * value["times"] + value.get("after", "")


def signed_token(lang: str, payload: t.Any = None, key: str = SIGNING_KEY, age: int = 0) -> str:
    class Shifted(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    serializer = URLSafeTimedSerializer(key, salt=SALT, signer=Shifted)
    if payload is None:
        payload = {"p": "test-partner", "l": lang, "n": secrets.token_hex(16)}
    return serializer.dumps(payload)


def make_token(kind: str, real: str, lang: str) -> str | list[str] | None:
    """The token an entry sends instead of the page's own."""
    return {
        "fresh": lambda: real,
        "missing": lambda: None,
        "empty": lambda: "",
        "garbage": lambda: "not-a-token",
        "forged": lambda: signed_token(lang, key="another-key-0123456789abcdef"),
        "tampered": lambda: real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB"),
        "unsigned": lambda: real.split(".")[0],
        "expired": lambda: signed_token(lang, age=3 * 3600),
        "future": lambda: signed_token(lang, age=-86400),
        "other_partner": lambda: signed_token(lang, {"p": "other-partner", "l": lang, "n": secrets.token_hex(16)}),
        "other_lang": lambda: signed_token(
            lang, {"p": "test-partner", "l": "ar" if lang != "ar" else "en", "n": secrets.token_hex(16)}
        ),
        "no_nonce": lambda: signed_token(lang, {"p": "test-partner", "l": lang}),
        "list_payload": lambda: signed_token(lang, ["test-partner", lang, "n"]),
        "nul": lambda: real + "\x00",
        "twice": lambda: [signed_token(lang, key="another-key-0123456789abcdef"), real],
    }[kind]()


def localized(app: Flask, lang: str, key: str, args: dict[str, t.Any]) -> str:
    """What the widget says for ``key`` in ``lang``, through its own catalogs."""
    with app.test_request_context(f"/report/form?lang={lang}"):
        app.preprocess_request()
        messages: dict[str, t.Callable[[], str]] = {
            "address": lambda: forms.address_message(args["kind"], args["line"]),
            "too_many_addresses": lambda: ngettext(
                "You can send up to %(num)s address at a time. Remove some, and send the others in another report.",
                "You can send up to %(num)s addresses at a time. Remove some, and send the others in another report.",
                10,
            ),
            "urls_required": lambda: gettext("Enter the web address where you saw the content."),
            "choose_kind": lambda: gettext("Choose what the content showed."),
            "choose_where": lambda: gettext("Choose where you saw it."),
            "invalid_choice": lambda: gettext("Choose one of the options shown."),
            "email_invalid": lambda: gettext("Enter an email address like name@example.com, or leave this empty."),
            "email_too_long": lambda: ngettext(
                "This email address is too long: it can have up to %(num)s character.",
                "This email address is too long: it can have up to %(num)s characters.",
                forms.EMAIL_MAX,
            ),
            "description_too_long": lambda: ngettext(
                "Please shorten this to %(num)s character.",
                "Please shorten this to %(num)s characters.",
                forms.DESCRIPTION_MAX,
            ),
            "token_invalid": lambda: views._refusal_notice(Refusal.TOKEN_INVALID),
            "token_expired": lambda: views._refusal_notice(Refusal.TOKEN_EXPIRED),
            "token_too_fast": lambda: views._refusal_notice(Refusal.TOO_FAST),
            "cross_site": lambda: views._refusal_notice(Refusal.CROSS_SITE),
            "too_large": lambda: gettext("Your report is too long"),
            "rate_limited": lambda: gettext("Please wait before sending your report"),
            "already_sent": lambda: gettext(
                "We had already received this report, so it was not sent a second time. "
                "You do not need to send it again."
            ),
            "form_title": lambda: gettext("Send report"),
        }
        return messages[key]()


def hostile_strings(request: dict[str, t.Any]) -> list[str]:
    """Everything the entry sends that would be dangerous if it came back unescaped."""
    values = [expand(v) for v in request.get("fields", {}).values()]
    values += list(request.get("query", {}).values()) + list(request.get("headers", {}).values())
    values.append(request.get("raw_body", ""))
    return [v for v in values if any(c in v for c in "<>\"'")]


def send(partner: Partner, request: dict[str, t.Any]) -> tuple[t.Any, int]:
    """Send the entry's request; (response, outbox rows just before it)."""
    client = partner.client
    method = request.get("method", "POST")
    lang = request.get("lang", "en")
    headers = request.get("headers", {})
    environ = {"REMOTE_ADDR": REMOTE_ADDR}
    if method == "GET":
        before = partner.stored()
        return client.get(
            request.get("path", "/report/form"),
            query_string=request.get("query"),
            headers=headers,
            environ_base=environ,
            follow_redirects=True,
        ), before
    if method != "POST":
        before = partner.stored()
        return client.open(
            "/report/form", method=method, data=request.get("raw_body", ""), environ_base=environ
        ), before

    def form_page() -> str:
        return client.get(f"/report/form?lang={lang}", environ_base=environ).get_data(as_text=True)

    url = f"/report/form?lang={lang}"
    for _ in range(request.get("prime", 0)):
        assert client.post(url, data=valid_answers(form_page()), environ_base=environ).status_code == 200
    page = form_page()
    token_kind = request.get("token", "fresh")
    answers = valid_answers(page)
    if token_kind.startswith("replayed_"):
        spent = answers | ({"homepage": "http://spam.example"} if token_kind == "replayed_refused" else {})
        client.post(url, data=spent, environ_base=environ)
        token: t.Any = answers["iwf_token"]
    elif token_kind == "literal":
        token = expand(request["fields"]["iwf_token"])
    else:
        token = make_token(token_kind, answers["iwf_token"], lang)
    before = partner.stored()
    if "raw_body" in request or "raw_body_latin1" in request:
        raw = request.get("raw_body", request.get("raw_body_latin1", ""))
        raw = raw.replace("{token}", quote(token or "", safe=""))
        body = raw.encode("latin-1" if "raw_body_latin1" in request else "utf-8")
        response = client.post(
            url, data=body, content_type=request["content_type"], headers=headers, environ_base=environ
        )
        return response, before
    data: t.Any = answers | {name: expand(value) for name, value in request.get("fields", {}).items()}
    for name in request.get("drop", []):
        data.pop(name, None)
    data.pop("iwf_token")
    if isinstance(token, list):
        data = MultiDict([("iwf_token", value) for value in token] + list(data.items()))
    elif token is not None:
        data["iwf_token"] = token
    if "multipart_file" in request:
        data["picture"] = (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * request["multipart_file"]), "picture.png")
        return client.post(
            url, data=data, content_type="multipart/form-data", headers=headers, environ_base=environ
        ), before
    return client.post(url, data=data, headers=headers, environ_base=environ), before


@pytest.mark.parametrize("entry", WIDGET, ids=[e["id"] for e in WIDGET])
def test_hostile_input_to_the_widget_is_refused_safely(entry, partners):
    request, expect = entry["request"], entry["expect"]
    partner = partners(request.get("app", {}))
    response, before = send(partner, request)
    body = response.get_data(as_text=True)

    assert response.status_code < 500, body[:300]
    assert response.status_code == expect["status"], (entry["sends"], response.status_code)
    assert partner.stored() - before == expect.get("stored", 0), "nothing is stored"
    assert "Set-Cookie" not in response.headers
    assert "test-signing-key" not in body
    for value in hostile_strings(request):
        assert value not in body, f"reflected unescaped: {value[:60]!r}"
    if response.mimetype != "text/html" or not body.lstrip().startswith("<!"):
        return
    assert injected_markup(body) == []
    if expect["status"] != 200:
        assert 'id="iwf-reference"' not in body
    if not expect.get("message"):
        return  # a framework error page (404, 405): no form, nothing to localize
    lang = re.search(r'<html lang="([^"]+)" dir="(ltr|rtl)"', body)
    assert lang and lang.group(1) in LOCALES, "a page in an offered language"
    assert lang.group(1) == expect.get("lang", request.get("lang", "en"))
    message = localized(partner.app, lang.group(1), expect["message"], expect.get("message_args", {}))
    assert message in html.unescape(body), f"localized message missing: {message!r}"


# -- the intake ------------------------------------------------------------------


@pytest.fixture(scope="module")
def intake(tmp_path_factory):
    from iwf_widget.intake import create_app

    private, public = generate_keypair()
    folder = tmp_path_factory.mktemp("intake")
    app = create_app(
        {
            "IWF_INTAKE_DB_URL": f"sqlite:///{folder}/intake.db",
            "IWF_INTAKE_PRIVATE_KEY": private,
            "IWF_INTAKE_PARTNERS": json.dumps({"test-partner": [SIGNING_KEY], "other-partner": [OTHER_PARTNER_KEY]}),
            "IWF_INTAKE_MAX_BODY": str(INTAKE_MAX_BODY),
        }
    )
    return app, public


def good_report(report_id: str, partner: str = "test-partner") -> dict[str, t.Any]:
    return {
        "v": 1,
        "id": report_id,
        "partner": partner,
        "locale": "en",
        "created": minute(),
        "urls": ["https://example.com/a.html"],
        "content_kind": "images",
        "where_seen": "website",
        "description": "",
        "contact_email": "",
    }


def sealed_item(spec: dict[str, t.Any], public: str, partner: str, ids: dict[str, str]) -> dict[str, t.Any]:
    rid = spec.get("id")
    if rid == "same":
        rid = ids.setdefault("same", secrets.token_hex(16))
    elif rid is None:
        rid = secrets.token_hex(16)
    sealed_id = secrets.token_hex(16) if spec.get("sealed_id") == "other" else rid
    report = good_report(sealed_id, partner) | spec.get("fields", {})
    for name in spec.get("drop", []):
        report.pop(name)
    box = SealedBox(PublicKey(base64.b64decode(public)))
    kind = spec.get("sealed", "ok")
    if kind == "ok":
        sealed = base64.b64encode(box.encrypt(json.dumps(report).encode())).decode()
    elif kind == "garbage":
        sealed = base64.b64encode(os.urandom(160)).decode()
    elif kind == "other_key":
        other = SealedBox(PrivateKey.generate().public_key)
        sealed = base64.b64encode(other.encrypt(json.dumps(report).encode())).decode()
    elif kind == "list":
        sealed = base64.b64encode(box.encrypt(json.dumps([report]).encode())).decode()
    else:
        sealed = kind
    item = {"id": rid, "sealed": sealed}
    if spec.get("extra"):
        item["extra"] = True
    return item


def batch_request(
    request: dict[str, t.Any], public: str, partner: str | None = None, items: list[dict[str, t.Any]] | None = None
) -> tuple[bytes, dict[str, str]]:
    partner = partner or request.get("partner", "test-partner")
    if items is None:
        ids: dict[str, str] = {}
        items = [sealed_item(spec, public, partner, ids) for spec in request.get("reports", [{}])]
    if "raw" in request:
        body = request["raw"].encode()
    elif "raw_latin1" in request:
        body = request["raw_latin1"].encode("latin-1")
    elif request.get("oversized"):
        body = b" " * (INTAKE_MAX_BODY + 1)
    else:
        body = json.dumps(
            {"v": request.get("version", 1), "partner": request.get("body_partner", partner), "reports": items}
        ).encode()
    key = {"test-partner": SIGNING_KEY, "other-partner": OTHER_PARTNER_KEY}.get(partner, SIGNING_KEY)
    if request.get("sign") == "wrong_key":
        key = "wrong-key-0123456789abcdef"
    elif request.get("sign") == "other_partners_key":
        key = OTHER_PARTNER_KEY
    timestamp = request.get("timestamp", 0)
    timestamp = str(int(time.time()) + timestamp) if isinstance(timestamp, int) else timestamp
    headers = {
        "Content-Type": protocol.CONTENT_TYPE,
        protocol.PARTNER_HEADER: partner,
        protocol.TIMESTAMP_HEADER: timestamp,
        protocol.SIGNATURE_HEADER: protocol.sign(key, partner, timestamp, body),
    }
    if request.get("signature") == "truncated":
        headers[protocol.SIGNATURE_HEADER] = headers[protocol.SIGNATURE_HEADER][:-2]
    elif "signature" in request:
        headers[protocol.SIGNATURE_HEADER] = request["signature"]
    if request.get("sign") == "none":
        headers = {"Content-Type": protocol.CONTENT_TYPE}
    if request.get("alter_body"):
        body = body.replace(b'"v": 1', b'"v": 1 ')
    return body, headers


@pytest.mark.parametrize("entry", INTAKE, ids=[e["id"] for e in INTAKE])
def test_hostile_batch_to_the_intake_is_refused_and_stores_nothing(entry, intake):
    app, public = intake
    store = app.extensions["iwf_intake"].store
    client = app.test_client()
    request, expect = entry["request"], entry["expect"]
    if request.get("method") == "GET":
        response = client.get(protocol.PATH)
        before = store.count()
    elif request.get("replay"):
        body, headers = batch_request(request, public)
        first = client.post(protocol.PATH, data=body, headers=headers)
        assert first.status_code == 200 and [r["status"] for r in first.get_json()["results"]] == ["accepted"]
        before = store.count()
        if request.get("replay_as"):
            report_id = json.loads(body)["reports"][0]["id"]
            spec = {"id": report_id}
            items = [sealed_item(spec, public, request["replay_as"], {})]
            body, headers = batch_request({}, public, partner=request["replay_as"], items=items)
        response = client.post(protocol.PATH, data=body, headers=headers)
    else:
        before = store.count()
        body, headers = batch_request(request, public)
        response = client.post(protocol.PATH, data=body, headers=headers)

    assert response.status_code < 500
    assert response.status_code == expect["status"], (entry["sends"], response.get_data(as_text=True)[:200])
    assert store.count() == before, "nothing is stored"
    answer = response.get_json()
    if expect["status"] == 200:
        assert [r["status"] for r in answer["results"]] == expect["results"]
        assert all(r.get("reason") for r in answer["results"] if r["status"] == protocol.REJECTED)
    else:
        assert answer["error"], "a clear reason for the partner"
        # A refusal may be signed (so a partner can tell it from a proxy's), but it is never an
        # acknowledgement: no results, and its status is the one on the status line.
        assert "results" not in answer, "refusals are not acknowledgements"
        assert answer.get("status", response.status_code) == response.status_code


# -- the fixes the corpus called for -----------------------------------------------


def test_control_and_format_characters_are_removed_from_the_description_before_sealing(client, tmp_path, keypair):
    """Controls, bidi marks and separators go; joiners stay (they spell words in hi, ne, ur, ps)."""
    from iwf_widget.sealing import unseal

    page = client.get("/report/form").get_data(as_text=True)
    text = "seen at the bottom\x00\x0c of the page\r\nthen\tthe second one \u200c\u200f\u0627"
    r = client.post("/report/form", data=valid_answers(page, description=text))
    assert r.status_code == 200
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        sealed = db.execute("select sealed from iwf_outbox").fetchone()[0]
    stored = unseal(keypair[0], sealed)["description"]
    assert stored == "seen at the bottom of the page\r\nthen\tthe second one \u200c\u0627"


def test_description_is_stored_in_nfc(client, tmp_path, keypair):
    from iwf_widget.sealing import unseal

    page = client.get("/report/form").get_data(as_text=True)
    assert client.post("/report/form", data=valid_answers(page, description="cafe\u0301")).status_code == 200
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        sealed = db.execute("select sealed from iwf_outbox").fetchone()[0]
    assert unseal(keypair[0], sealed)["description"] == "caf\u00e9"


def test_intake_refuses_a_description_with_control_characters():
    from iwf_widget.intake import validate

    report = good_report("ab" * 16) | {"description": "a\x00b"}
    with pytest.raises(validate.Rejected):
        validate.check(report, "ab" * 16, "test-partner")
    report["description"] = "line one\r\nline two\ttab"
    assert validate.check(report, "ab" * 16, "test-partner").description == "line one\r\nline two\ttab"


def test_error_page_of_a_missing_static_file_may_not_be_framed(client):
    r = client.get("/report/static/no-such-file.js")
    assert r.status_code == 404
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_token_spelled_with_extra_non_ascii_characters_is_refused(client, tmp_path):
    page = client.get("/report/form").get_data(as_text=True)
    token = token_of(page)
    for spelling in (token + "\u00e9", token[:10] + "\ufffd" + token[10:]):
        r = client.post("/report/form", data=valid_answers(page, iwf_token=spelling))
        assert r.status_code == 400
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        assert db.execute("select count(*) from iwf_outbox").fetchone()[0] == 0
    assert client.post("/report/form", data=valid_answers(page)).status_code == 200


def test_percent_escapes_that_are_not_utf8_stay_escaped_in_the_address(client, tmp_path, keypair):
    from iwf_widget.sealing import unseal

    page = client.get("/report/form").get_data(as_text=True)
    body = f"iwf_token={token_of(page)}&urls=https%3A%2F%2Fexample.com%2F%FF%FE&content_kind=images&where_seen=website"
    r = client.post("/report/form", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        sealed = db.execute("select sealed from iwf_outbox").fetchone()[0]
    assert unseal(keypair[0], sealed)["urls"] == ["https://example.com/%FF%FE"]
