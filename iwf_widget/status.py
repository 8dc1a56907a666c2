"""A report's status as the reporter may learn it with only its reference.

The partner keeps, per report, a keyed hash of the reference, a state and the
day the state began (outbox table ``iwf_report_status``): ``received`` when
stored, ``delivered`` once the intake acknowledged it, then the analyst's
outcome when the forwarder fetches it. The hash is keyed with the partner's
signing keys, so a copy of the database alone matches no reference, and a
reference never sits beside anything of what was reported.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import time
import typing as t
from dataclasses import dataclass

from . import reference
from .protocol import OUTCOMES
from .ratelimit import Limiter
from .reference import compact, for_report
from .tokens import TokenProblem, TokenSigner
from .work import ProofOfWork

if t.TYPE_CHECKING:
    from .outbox import Outbox
    from .submission import FormData

RECEIVED = "received"
DELIVERED = "delivered"
UNKNOWN = "unknown"
#: Every state the status page can show.
STATES = (UNKNOWN, RECEIVED, DELIVERED, *OUTCOMES)


class StatusKeys:
    """Keyed hashes of references: written under the first signing key's, found under any.

    After a key rotation, statuses written under the old key are found while it
    is still listed; remove it no sooner than ``IWF_WIDGET_STATUS_DAYS`` later.
    """

    def __init__(self, signing_keys: t.Sequence[str]) -> None:
        self._keys = [hashlib.sha256(b"iwf-widget.status|" + k.encode("utf-8")).digest() for k in signing_keys]

    def _hash(self, key: bytes, code: str) -> str:
        return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()

    def every(self, code: str) -> list[str]:
        """Every hash a status for ``code`` may be stored under (one per signing key)."""
        return [self._hash(key, code) for key in self._keys]

    def for_report(self, report_id: str) -> list[str]:
        """:meth:`every` hash for a report id (the forwarder knows ids, the person references);
        the first is the one a new status is written under."""
        return self.every(_code(report_id))


def _code(report_id: str) -> str:
    code = compact(for_report(report_id))
    assert code is not None
    return code


# -- a lookup -----------------------------------------------------------------

#: Lookups a partner answers an hour, whoever asks: the bound on a guesser with many addresses.
PARTNER_LOOKUPS = "2000/hour"
#: What a spent lookup token is recorded with in the outbox (a form token's is its outcome).
SPENT = "lookup"
STATUS_SALT = "iwf-widget.status-token.v1"


class Problem(enum.Enum):
    """Why a lookup was not made; nothing was charged to anyone. The values are metrics' results."""

    CROSS_SITE = "origin"
    TOKEN = "token"
    WORK = "proof_of_work"
    MISTYPED = "mistyped"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class Found:
    """The answer: ``state`` (``unknown`` for a reference this partner does not hold) and its day."""

    state: str
    day: str | None
    reference: str


@dataclass(frozen=True)
class NotLooked:
    problem: Problem


@dataclass(frozen=True)
class Wait:
    retry_after: float


Lookup = Found | NotLooked | Wait


class Lookups:
    """Status lookups, protected like submissions so references cannot be enumerated.

    A lookup needs the page's signed token (single-use, bound to the language) and,
    from a page with JavaScript, its solved proof-of-work; without one it costs
    more (ProofOfWork.weight). A mistyped or malformed reference is answered
    before anything is charged; only a well-formed one is charged, to the
    client's anonymous limit and to the partner-wide one, and then looked up.
    Nothing about who looked is kept: a spent token is its random nonce and its
    expiry in the outbox (shared by every process, as form tokens are), and the
    limits count under a keyed hash that rotates daily.
    """

    def __init__(self, signer: TokenSigner, work: ProofOfWork, limiter: Limiter, outbox: Outbox, keys: StatusKeys):
        self.signer = signer
        self.work = work
        self.limiter = limiter
        self.outbox = outbox
        self.keys = keys

    def lookup(self, data: FormData, lang: str, client: str, same_origin: bool, now: float | None = None) -> Lookup:
        now = time.time() if now is None else now
        if not same_origin:
            return NotLooked(Problem.CROSS_SITE)
        token = data.get("iwf_token") or ""
        try:
            claims = self.signer.check(token, lang, now)
        except TokenProblem:
            return NotLooked(Problem.TOKEN)
        typed = data.get("reference") or ""
        problem = reference.problem(typed)
        if problem is not None:
            return NotLooked(Problem.MISTYPED if problem == reference.MISTYPED else Problem.MALFORMED)
        proof = data.get("iwf_pow")
        worked = self.work.verify(proof, token)
        if proof and not worked:  # a forged or borrowed solution: refused, like a forged token
            return NotLooked(Problem.WORK)
        if self.outbox.spend(claims.nonce, claims.expires, SPENT) is not None:  # used already
            return NotLooked(Problem.TOKEN)
        wait = self.limiter.hit(client, cost=self.work.weight(worked))
        if wait is not None:
            return Wait(wait)
        code = reference.compact(typed)
        assert code is not None
        found = self.outbox.status(self.keys.every(code))
        state, day = found if found else (UNKNOWN, None)
        return Found(state if state in STATES else UNKNOWN, day, reference.formatted(code))
