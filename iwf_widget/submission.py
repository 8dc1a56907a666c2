"""One submission of the form, from the posted fields to a typed result.

The order is the point: everything that refuses junk (the origin, the token
with its minimum fill time, the honeypot) comes first and costs a signature
check at most; the answers are validated next; only then is the submission
charged to the client's and the partner's limits, so a refusal or a mistake
in the form costs nobody any of their budget; last, the report is sealed and
stored with its token spent in the same transaction.

Nothing here knows about Flask: the view turns the request into arguments and
the result into a page.
"""

from __future__ import annotations

import enum
import logging
import time
import typing as t
from dataclasses import dataclass

from . import report
from .db import brief_error
from .forms import ReportForm
from .lograte import EveryMinute
from .ratelimit import Limiter
from .sealing import Sealer
from .status import StatusKeys
from .tokens import Claims, FormTokens, Reason, Spent, TokenProblem
from .work import ProofOfWork

log = logging.getLogger("iwf_widget")


class Refusal(enum.Enum):
    """Why nothing was stored; the view picks the message."""

    CROSS_SITE = "cross_site"
    TOKEN_INVALID = "token_invalid"
    TOKEN_EXPIRED = "token_expired"
    TOO_FAST = "too_fast"
    HONEYPOT = "honeypot"
    #: The token was already used up by an earlier refusal.
    ALREADY_REFUSED = "already_refused"
    #: The answers did not validate; the form carries the errors.
    INVALID_ANSWERS = "invalid_answers"


_TOKEN_REFUSALS = {
    Reason.INVALID: Refusal.TOKEN_INVALID,
    Reason.EXPIRED: Refusal.TOKEN_EXPIRED,
    Reason.TOO_FAST: Refusal.TOO_FAST,
}


@dataclass(frozen=True)
class Accepted:
    """Stored, token spent: say thank you with the report's reference."""

    report_id: str


@dataclass(frozen=True)
class Replayed:
    """The token of a report already stored (a double click, a resend): the same thank-you."""

    report_id: str


@dataclass(frozen=True)
class Refused:
    """Nothing stored, nothing charged. ``token`` is the one for the form shown again."""

    reason: Refusal
    form: ReportForm
    token: str


@dataclass(frozen=True)
class Limited:
    """Over a limit: nothing stored; the form again, to be sent after ``retry_after`` seconds."""

    retry_after: float
    form: ReportForm
    token: str
    #: Sent without a solved proof of work, which made it cost more.
    unproven: bool = False


@dataclass(frozen=True)
class Unsaved:
    """Storing failed (``error`` is the exception's type): the person must not be thanked."""

    error: str
    form: ReportForm
    token: str


Result = Accepted | Replayed | Refused | Limited | Unsaved


class FormData(t.Protocol):
    """What a submission reads: a multi-dict of the posted fields (Werkzeug's will do)."""

    def get(self, key: str) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...


class Submissions:
    """The submission pipeline of one partner, built once at start-up."""

    def __init__(
        self,
        partner: str,
        tokens: FormTokens,
        work: ProofOfWork,
        limiter: Limiter,
        sealer: Sealer,
        stored: t.Callable[[], None] = lambda: None,
        status_keys: StatusKeys | None = None,
    ) -> None:
        self.partner = partner
        self.tokens = tokens
        self.work = work
        self.limiter = limiter
        self.sealer = sealer
        #: Called after each stored report (to wake the forwarder); its failure changes nothing.
        self.stored = stored
        #: Each stored report starts its status (status.py) in the same transaction.
        self.status_keys = status_keys
        self.throttled = EveryMinute(log)

    def submit(
        self,
        data: FormData,
        lang: str,
        client: str,
        same_origin: bool,
        now: float | None = None,
    ) -> Result:
        """Handle one posted form from ``client`` (its address, for the limits only)."""
        now = time.time() if now is None else now
        if not same_origin:
            # Not the person's answers but another site's: they are not shown back.
            return self._refused(Refusal.CROSS_SITE, None, lang)
        token = data.get("iwf_token")
        checked = self.tokens.check(token, lang, now)
        if isinstance(checked, TokenProblem):
            if checked.reason is Reason.TOO_FAST and not data.get("homepage"):
                # A genuine token sent early: if the answers are incomplete, saying what is
                # missing helps the person more than "too quick" (nothing is stored either way).
                form = ReportForm(data)
                if not form.validate():
                    return Refused(Refusal.INVALID_ANSWERS, form, self.tokens.issue(lang, checked.first_served))
            return self._refused(_TOKEN_REFUSALS[checked.reason], data, lang, checked.first_served)
        claims: Claims = checked
        if data.get("homepage"):
            try:
                self.tokens.spend_refused(claims)
            except Exception as error:  # noqa: BLE001  refused all the same
                self._write_failed(error)
            return self._refused(Refusal.HONEYPOT, data, lang)
        form = ReportForm(data)
        if not form.validate():
            earlier = self._earlier(claims)
            if earlier is not None:
                return self._after(earlier, claims, data, lang)
            return Refused(Refusal.INVALID_ANSWERS, form, self._next_token(lang, claims))
        # Only now, with a genuine token and valid answers, is anyone's budget charged.
        earlier = self._earlier(claims)
        if earlier is not None:
            return self._after(earlier, claims, data, lang)
        worked = self.work.verify(data.get("iwf_pow"), token or "")
        weight = self.work.weight(worked)
        wait = self.limiter.hit(client, cost=weight)
        if wait is not None:
            return Limited(wait, form, self._next_token(lang, claims), unproven=weight > 1)
        self.work.note_submission()
        try:
            sealed = self.sealer.seal(
                report.payload(
                    claims.nonce,
                    self.partner,
                    lang,
                    form.addresses,
                    form.content_kind.data,
                    form.where_seen.data,
                    form.description.data or "",
                    form.contact_email.data or "",
                    created=int(now),
                )
            )
            status_key = self.status_keys.for_report(claims.nonce)[0] if self.status_keys else None
            earlier = self.tokens.store_report(claims, self.partner, sealed, lang, status_key)
        except Exception as error:  # noqa: BLE001  never "thank you" for a report that is not on disk
            self._write_failed(error)
            return Unsaved(type(error).__name__, form, self._next_token(lang, claims))
        if earlier is not None:
            return self._after(earlier, claims, data, lang)
        try:
            self.stored()
        except Exception as error:  # noqa: BLE001  housekeeping: the report is stored whatever happens here
            log.warning("after storing a report: %s", type(error).__name__)
        return Accepted(claims.nonce)

    def _write_failed(self, error: BaseException) -> None:
        """One line per kind of failure a minute: a full disk fails every submission alike."""
        self.throttled.log(
            logging.ERROR, ("write", type(error).__name__), "outbox write failed: %s", brief_error(error)
        )

    def _earlier(self, claims: Claims) -> Spent | None:
        """The token's earlier use; None when the outbox cannot say (storing will then tell)."""
        try:
            return self.tokens.earlier(claims)
        except Exception as error:  # noqa: BLE001
            self.throttled.log(
                logging.WARNING, ("read", type(error).__name__), "outbox read failed: %s", brief_error(error)
            )
            return None

    def _after(self, earlier: Spent, claims: Claims, data: FormData, lang: str) -> Result:
        if earlier is Spent.REPORTED:
            return Replayed(claims.nonce)
        return self._refused(Refusal.ALREADY_REFUSED, data, lang)

    def _refused(self, reason: Refusal, data: FormData | None, lang: str, first_served: int | None = None) -> Refused:
        form = ReportForm(data)
        form.homepage.data = ""
        return Refused(reason, form, self.tokens.issue(lang, first_served))

    def _next_token(self, lang: str, claims: Claims) -> str:
        """A new token for the form shown again, keeping when the person's first form was served."""
        return self.tokens.issue(lang, claims.first_served)
