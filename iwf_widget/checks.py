"""``iwf-widget check``: is this partner ready to take reports, and if not, what to change.

Each check reads the settings as the server does and tries the real thing: a
write to the outbox, a signed no-op request to the intake, a challenge only the
holder of the intake's private key can answer. ``serve`` runs the same checks
at start-up and logs the failures as warnings.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from nacl.public import PublicKey, SealedBox
from sqlalchemy.engine import make_url

from .settings import ConfigError, Settings, unknown_keys

#: Seconds for each request to the intake: a check should answer quickly.
TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str = ""  # the problem and its fix, when not ok

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.name}: {self.message}" if self.message else f"ok    {self.name}"
        return f"FAIL  {self.name}: {self.message}"


def run(environ: t.Mapping[str, str], instance_path: str, page: str | None = None) -> list[Check]:
    """Every check, in order; later ones are skipped (and fail) when the settings are invalid."""
    try:
        settings = Settings.from_mapping(environ, instance_path)
    except ConfigError as e:
        fix = "; `iwf-widget init` writes every required key" if "required" in str(e) else ""
        results = [Check("settings", False, f"{e}{fix}")]
        names = ["outbox", "intake", "partner", "intake key"] + (["page"] if page else [])
        return results + [Check(n, False, "not checked: fix the settings first") for n in names]
    unknown = unknown_keys(environ)
    results = [Check("settings", not unknown, "; ".join(unknown)), languages(settings)]
    results.append(outbox(settings))
    results += intake(settings)
    if page is not None:
        results.append(embedding(settings, page))
    return results


# -- the languages ----------------------------------------------------------------


def languages(settings: Settings) -> Check:
    """Which offered languages a native speaker has reviewed, and which need it (a note, never a failure:
    naming a language that needs review in IWF_WIDGET_LOCALES already stops start-up)."""
    from .i18n import base
    from .reviews import NEEDS_REVIEW, REVIEWED, catalog_version, load

    reviews = load()
    offered = list(dict.fromkeys(base(code) for code in settings.locales if base(code) != "en"))
    needing = [code for code in offered if code in reviews and reviews[code].state == NEEDS_REVIEW]
    reviewed = [
        code for code in offered if code in reviews and reviews[code].effective(catalog_version(code)) == REVIEWED
    ]
    note = f"{len(offered) + 1} offered, {len(reviewed)} reviewed by a native speaker"
    if needing:
        note += f"; {', '.join(needing)} need review (translations/STATUS.md)"
    return Check("languages", True, note)


# -- the outbox -----------------------------------------------------------------


def outbox(settings: Settings) -> Check:
    """Reachable, writable (a write transaction, rolled back) and, for SQLite, private to this user."""

    from .outbox import Outbox
    from .startup import describe, hidden

    key = "IWF_WIDGET_OUTBOX_URL"
    try:
        box = Outbox(settings.outbox_url)
    except Exception as e:
        return Check("outbox", False, describe(e, key) or f"{type(e).__name__}: {e}; fix {key}")
    try:
        from .outbox import forward_state

        with box.engine.connect() as conn:
            transaction = conn.begin()
            conn.execute(sa.delete(forward_state).where(forward_state.c.name == "iwf-check"))
            conn.execute(forward_state.insert().values(name="iwf-check", value=0.0))
            transaction.rollback()
    except Exception as e:
        return Check("outbox", False, f"{hidden(settings.outbox_url)} is not writable ({describe(e, key)})")
    finally:
        box.close()
    url = make_url(settings.outbox_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        problem = _shared(os.path.abspath(url.database))
        if problem:
            return Check("outbox", False, problem)
    return Check("outbox", True)


def _shared(path: str) -> str | None:
    """Why other users of this machine could read the SQLite outbox, or None.

    Private means its folder admits no one else, or the file and its WAL and
    shared-memory files grant nothing to group or others.
    """
    folder = os.path.dirname(path)
    if not stat.S_IMODE(os.stat(folder).st_mode) & 0o077:
        return None
    exposed = [
        p
        for p in (path, path + "-wal", path + "-shm")
        if os.path.exists(p) and stat.S_IMODE(os.stat(p).st_mode) & 0o077
    ]
    if not exposed:
        return None
    return f"{exposed[0]} can be read by other users of this machine; run chmod 700 {folder}"


# -- the intake -----------------------------------------------------------------


def intake(settings: Settings) -> list[Check]:
    """The intake answers; it accepts this partner's id and key; it holds the key reports are sealed to."""

    from . import protocol

    base = settings.intake_url
    try:
        health = httpx.get(base + "/healthz", timeout=TIMEOUT)
    except httpx.HTTPError as e:
        reason = str(e) or type(e).__name__
        return [
            Check("intake", False, f"cannot reach {base} ({reason}); start the intake or fix IWF_WIDGET_INTAKE_URL"),
            Check("partner", False, "not checked: the intake is unreachable"),
            Check("intake key", False, "not checked: the intake is unreachable"),
        ]
    if health.status_code != 200:
        intake_check = Check("intake", False, f"{base}/healthz answers {health.status_code}; check the intake's log")
    else:
        intake_check = Check("intake", True)

    challenge = secrets.token_bytes(protocol.CHALLENGE_BYTES)
    sealed = SealedBox(PublicKey(settings.intake_public_key)).encrypt(challenge)
    body = protocol.encode_check(settings.partner_id, sealed)
    key = settings.signing_keys[0]
    headers = protocol.request_headers(settings.partner_id, key, body)
    try:
        answer = httpx.post(base + protocol.CHECK_PATH, content=body, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as e:
        return [
            intake_check,
            Check("partner", False, f"the check request failed ({e}); retry"),
            Check("intake key", False, "not checked: the check request failed"),
        ]
    if answer.status_code == 404:
        message = f"{base} does not know {protocol.CHECK_PATH}; upgrade the intake, or check IWF_WIDGET_INTAKE_URL"
        return [intake_check, Check("partner", False, message), Check("intake key", False, "not checked")]
    if answer.status_code == 401:
        reason = _error_of(answer)
        if "clock" in reason:
            message = f"the intake refused the request: {reason}"
        else:
            message = (
                f"the intake refused partner {settings.partner_id!r} with this signing key: the partner is not"
                " registered there, or its key differs (the intake does not say which); send the hotline the"
                " registration line `iwf-widget init` printed, or fix IWF_WIDGET_PARTNER_ID / IWF_WIDGET_SIGNING_KEY"
            )
        return [
            intake_check,
            Check("partner", False, message),
            Check("intake key", False, "not checked: the partner was refused"),
        ]
    if answer.status_code != 200:
        return [
            intake_check,
            Check("partner", False, f"the intake answered {answer.status_code}: {_error_of(answer)}"),
            Check("intake key", False, "not checked"),
        ]
    try:
        protocol.verify_response(
            answer.headers,
            answer.content,
            settings.partner_id,
            settings.signing_keys,
            headers[protocol.SIGNATURE_HEADER],
        )
        proof, opened_with = protocol.decode_check_answer(answer.content)
    except protocol.ProtocolError as e:
        return [
            intake_check,
            Check("partner", False, f"the answer did not come from the intake ({e}); check IWF_WIDGET_INTAKE_URL"),
            Check("intake key", False, "not checked"),
        ]
    partner_check = Check("partner", True)
    if proof is None or not hmac.compare_digest(proof, protocol.check_proof(key, challenge)):
        message = (
            "IWF_WIDGET_INTAKE_PUBLIC_KEY is not this intake's key: reports sealed to it could not be opened;"
            " ask the hotline for its current public key"
        )
        return [intake_check, partner_check, Check("intake key", False, message)]
    if opened_with != "current":
        message = (
            "IWF_WIDGET_INTAKE_PUBLIC_KEY is the intake's previous key, kept only during a rotation;"
            " ask the hotline for its current public key"
        )
        return [intake_check, partner_check, Check("intake key", False, message)]
    return [intake_check, partner_check, Check("intake key", True)]


def _error_of(response: t.Any) -> str:
    try:
        return str(response.json().get("error"))[:300]
    except Exception:
        return str(response.text)[:200]


# -- a page that embeds the form -----------------------------------------------------


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def embedding(settings: Settings, page: str) -> Check:
    """Whether a page at ``page`` may show the form: its origin must be in IWF_WIDGET_ALLOWED_ORIGINS."""
    origin = origin_of(page)
    if origin is None:
        return Check("page", False, f"{page!r} is not an http(s) address; pass the page's full URL")
    allowed = {o.lower() for o in settings.allowed_origins}
    if origin.lower() in allowed:
        return Check("page", True)
    listed = ",".join(settings.allowed_origins) or "unset"
    return Check(
        "page",
        False,
        f"{origin} may not embed the form (IWF_WIDGET_ALLOWED_ORIGINS is {listed}); add {origin} to IWF_WIDGET_ALLOWED_ORIGINS",
    )
