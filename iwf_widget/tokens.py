"""The signed, single-use form token: its issue, its check and its spending.

Browsers drop cookies in cross-site iframes, so there is no session to bind a
token to. Instead the token is signed (itsdangerous, with key rotation), bound
to this partner and language, carries its issue time and the time the form was
first served to this person (too-fast bots), and a random nonce that is spent
once (replays). The nonce also becomes the report's id, so a report resent with
the same token is the same report everywhere.

Every outcome is typed: :class:`Reason` for a refused token, :class:`Claims`
for a good one, :class:`Spent` for what an already used token was used for.
"""

from __future__ import annotations

import enum
import secrets
import time
import typing as t
from dataclasses import dataclass

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from .report import minute_up

if t.TYPE_CHECKING:
    from .outbox import Outbox

SALT = "iwf-widget.form-token.v1"
#: Issued tokens are about 140 characters; anything far longer is not one of ours.
MAX_TOKEN_LENGTH = 1024


class Reason(enum.Enum):
    """Why a token was refused; picks the message shown to the person."""

    INVALID = "invalid"
    EXPIRED = "expired"
    TOO_FAST = "too_fast"


class TokenProblem(ValueError):
    """A refused token. ``first_served`` is kept when the token was genuine (too fast)."""

    def __init__(self, reason: Reason, first_served: int | None = None) -> None:
        self.reason = reason
        self.first_served = first_served
        super().__init__(reason.value)


@dataclass(frozen=True)
class Claims:
    """A genuine token: its nonce, when it and the first form were served, when it expires."""

    nonce: str
    issued: int
    first_served: int
    #: Rounded up to the minute: nothing stored says when a form was served to the second.
    expires: int


class Spent(enum.Enum):
    """What an already used token was used for."""

    REPORTED = "report"
    REFUSED = "refused"

    @classmethod
    def from_stored(cls, outcome: str) -> Spent:
        return cls.REPORTED if outcome.startswith("report:") else cls.REFUSED


#: How a refused token's use is recorded in the outbox (a stored report is recorded by the outbox).
REFUSED_HONEYPOT = "refused:honeypot"


class TokenSigner:
    """Issues and checks tokens; one per app, built once."""

    def __init__(self, keys: t.Sequence[str], partner: str, max_age: int, min_fill: float, salt: str = SALT) -> None:
        # itsdangerous signs with the last key and verifies with all: our first key signs.
        # The salt keeps tokens of one purpose (a report, a status lookup) from serving another.
        self.serializer = URLSafeTimedSerializer(list(reversed(keys)), salt=salt)
        self.partner = partner
        self.max_age = max_age
        self.min_fill = min_fill

    def issue(self, lang: str, first_served: int | None = None) -> str:
        """A new token; ``first_served`` carries over the time of the person's first form."""
        data: dict[str, t.Any] = {"p": self.partner, "l": lang, "n": secrets.token_hex(16)}
        if first_served is not None:
            data["f"] = int(first_served)
        return self.serializer.dumps(data)

    def check(self, token: str, lang: str, now: float | None = None) -> Claims:
        """The token's claims, or :class:`TokenProblem`; never another exception."""
        # itsdangerous skips non-ASCII characters when it decodes: one token, many spellings.
        if not isinstance(token, str) or not token.isascii() or len(token) > MAX_TOKEN_LENGTH:
            raise TokenProblem(Reason.INVALID)
        try:
            data, signed = self.serializer.loads(token, max_age=self.max_age, return_timestamp=True)
        except SignatureExpired:
            raise TokenProblem(Reason.EXPIRED) from None
        except BadData:
            raise TokenProblem(Reason.INVALID) from None
        except Exception:  # noqa: BLE001  anything else a hostile spelling might provoke is a refusal too
            raise TokenProblem(Reason.INVALID) from None
        if not _canonical(token):
            raise TokenProblem(Reason.INVALID)
        if (
            not isinstance(data, dict)
            or data.get("p") != self.partner
            or data.get("l") != lang
            or not isinstance(data.get("n"), str)
        ):
            raise TokenProblem(Reason.INVALID)
        issued = int(signed.timestamp())
        first = data.get("f", issued)
        if not isinstance(first, int) or isinstance(first, bool) or not 0 < first <= issued:
            raise TokenProblem(Reason.INVALID)
        now = time.time() if now is None else now
        if now - first < self.min_fill:
            raise TokenProblem(Reason.TOO_FAST, first_served=first)
        return Claims(nonce=data["n"], issued=issued, first_served=first, expires=minute_up(issued + self.max_age))


class FormTokens:
    """The token's whole life for a submission: issue, check, and spend in the outbox."""

    def __init__(self, signer: TokenSigner, outbox: Outbox) -> None:
        self.signer = signer
        self.outbox = outbox

    def issue(self, lang: str, first_served: int | None = None) -> str:
        return self.signer.issue(lang, first_served)

    def check(self, token: str | None, lang: str, now: float | None = None) -> Claims | TokenProblem:
        """Claims for a genuine token, else the problem (returned, not raised)."""
        if not token:
            return TokenProblem(Reason.INVALID)
        try:
            return self.signer.check(token, lang, now)
        except TokenProblem as problem:
            return problem

    def earlier(self, claims: Claims) -> Spent | None:
        """What this token was already used for, if anything."""
        outcome = self.outbox.spent(claims.nonce)
        return Spent.from_stored(outcome) if outcome else None

    def spend_refused(self, claims: Claims) -> Spent | None:
        """Use up a token without a report (a filled honeypot); the earlier use, if any."""
        outcome = self.outbox.spend(claims.nonce, claims.expires, REFUSED_HONEYPOT)
        return Spent.from_stored(outcome) if outcome else None

    def store_report(
        self, claims: Claims, partner: str, sealed: bytes, lang: str | None = None, status_key: str | None = None
    ) -> Spent | None:
        """Store the sealed report, start its status and spend its token in one transaction.

        None when stored; the earlier use when the token was already spent
        (a replay, a double click), and then nothing is stored.
        """
        outcome = self.outbox.accept(claims.nonce, partner, sealed, claims.nonce, claims.expires, lang, status_key)
        return Spent.from_stored(outcome) if outcome else None


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
