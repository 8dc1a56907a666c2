"""The signed, single-use form token: CSRF protection that needs no cookie.

Browsers drop cookies in cross-site iframes, so there is no session to bind a
token to. Instead the token is signed (itsdangerous, with key rotation), bound
to this partner and language, carries its issue time (too-fast bots) and a
random nonce that is spent once (replays). The nonce also becomes the report's
id, so a report resent with the same token is the same report everywhere.
"""
from __future__ import annotations

import secrets
import time
import typing as t
from dataclasses import dataclass

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode
from wtforms.csrf.core import CSRF
from wtforms.validators import ValidationError

SALT = "iwf-widget.form-token.v1"
#: Issued tokens are about 130 characters; anything far longer is not one of ours.
MAX_TOKEN_LENGTH = 1024


class TokenProblem(ValidationError):
    """Why a token was refused: ``kind`` picks the message shown to the person."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class Claims:
    nonce: str
    issued: float
    expires: float


class TokenSigner:
    """Issues and checks tokens; one per app, built once."""

    def __init__(self, keys: t.Sequence[str], partner: str, max_age: int, min_fill: float) -> None:
        # itsdangerous signs with the last key and verifies with all: our first key signs.
        self.serializer = URLSafeTimedSerializer(list(reversed(keys)), salt=SALT)
        self.partner = partner
        self.max_age = max_age
        self.min_fill = min_fill

    def issue(self, lang: str) -> str:
        return self.serializer.dumps({"p": self.partner, "l": lang, "n": secrets.token_hex(16)})

    def check(self, token: str, lang: str, now: float | None = None) -> Claims:
        from .i18n import gettext as _

        # itsdangerous skips non-ASCII characters when it decodes: one token, many spellings.
        if not token.isascii() or len(token) > MAX_TOKEN_LENGTH:
            raise TokenProblem("invalid", _("This form could not be checked."))
        try:
            data, issued = self.serializer.loads(token, max_age=self.max_age, return_timestamp=True)
        except SignatureExpired:
            raise TokenProblem("expired", _("This form was open for too long.")) from None
        except BadData:
            raise TokenProblem("invalid", _("This form could not be checked.")) from None
        if not _canonical(token):
            raise TokenProblem("invalid", _("This form could not be checked."))
        if (
            not isinstance(data, dict)
            or data.get("p") != self.partner
            or data.get("l") != lang
            or not isinstance(data.get("n"), str)
        ):
            raise TokenProblem("invalid", _("This form could not be checked."))
        issued_at = issued.timestamp()
        now = time.time() if now is None else now
        if now - issued_at < self.min_fill:
            raise TokenProblem("too_fast", _("This form was sent too quickly after it was opened."))
        return Claims(nonce=data["n"], issued=issued_at, expires=issued_at + self.max_age)


class FormTokenCSRF(CSRF):
    """WTForms' CSRF hook backed by :class:`TokenSigner`.

    ``form.meta.csrf_context`` is ``(signer, lang)``; a valid token leaves its
    :class:`Claims` on ``form.token_claims`` for the view to spend.
    """

    def setup_form(self, form):  # type: ignore[no-untyped-def]
        self.form_meta = form.meta
        return super().setup_form(form)

    def generate_csrf_token(self, csrf_token_field):  # type: ignore[no-untyped-def]
        signer, lang = self.form_meta.csrf_context
        return signer.issue(lang)

    def validate_csrf_token(self, form, field):  # type: ignore[no-untyped-def]
        signer, lang = self.form_meta.csrf_context
        form.token_claims = None
        form.token_problem = None
        if not field.data:
            form.token_problem = "invalid"
            raise ValidationError(_missing())
        try:
            form.token_claims = signer.check(field.data, lang)
        except TokenProblem as problem:
            form.token_problem = problem.kind
            raise


def _canonical(token: str) -> bool:
    """True when the signature is spelled the one way it is issued.

    Base64 leaves spare bits in its last character, so a few spellings decode
    to one signature; only the issued one is accepted.
    """
    signature = token.rsplit(".", 1)[-1]
    try:
        return base64_encode(base64_decode(signature)).decode("ascii") == signature
    except BadData:
        return False


def _missing() -> str:
    from .i18n import gettext as _

    return _("This form could not be checked.")
