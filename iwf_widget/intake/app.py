"""The reference central intake: a small Flask app speaking protocol v1.

Every refusal happens as early and as cheaply as it can: too busy (503) and too
large (413) before the body is read, unsigned or stale (401) before it is read,
a wrong signature (401) before it is parsed. Only an authenticated,
well-formed batch is unsealed, and every report in it is checked again before
it is stored.

Every refusal of a request that names a partner is signed (see
``protocol.refusal_headers``), so a partner lets only the intake fail a report,
never a proxy. Whatever one sealed report holds, it costs only its own
rejection: nothing in it can turn the batch into a 5xx.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import typing as t
from collections import Counter, OrderedDict

import sqlalchemy as sa
from flask import Flask, Response, g, request
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge

from .. import i18n, metrics, protocol, reference
from ..headers import relative_location
from ..lograte import EveryMinute
from ..sealing import Opener, SealError
from . import bounds, validate
from .outcomes import AmbiguousReference, OutcomeError
from .outcomes import record as record_outcome
from .settings import PREFIX, IntakeSettings
from .store import Store

log = logging.getLogger(__name__)

#: How long after a failed write health says "degraded" unless a write has succeeded since.
DEGRADED_FOR = 300.0
#: Bytes of signed answers kept for answering exact replays.
REPLAY_MEMORY = 32 * 1024 * 1024


class PartnerLimited(Exception):
    """A partner sent more reports than its limit allows; it may retry after ``wait`` seconds."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        super().__init__(wait)


class Intake:
    """What the intake's views share, built once."""

    def __init__(self, settings: IntakeSettings) -> None:
        self.settings = settings
        self.store = Store(settings.db_url)
        self.opener = Opener(settings.private_key, *settings.previous_private_keys)
        self.slots = threading.BoundedSemaphore(settings.max_inflight)
        self._lock = threading.Lock()
        self._per_partner: Counter[str] = Counter()
        self.limits = parse_many(settings.partner_rate_limit) if settings.partner_rate_limit else []
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.replays = Replays(REPLAY_MEMORY)
        #: Refusals and failures, one line per partner and cause per minute.
        self.throttled = EveryMinute(log)
        self._write_failed: tuple[float, str] | None = None

    def allow(self, partner: str, reports: int) -> float | None:
        """Would ``reports`` new reports fit the partner's limit? None if so, else seconds to wait."""
        if reports <= 0:
            return None
        for item in self.limits:
            if not self.limiter.test(item, "iwf-intake", partner, cost=reports):
                stats = self.limiter.get_window_stats(item, "iwf-intake", partner)
                return max(1.0, stats.reset_time - time.time())
        return None

    def charge(self, partner: str, reports: int) -> None:
        """Count reports newly stored (only those: a retry or a replay costs nothing)."""
        if reports > 0:
            for item in self.limits:
                self.limiter.hit(item, "iwf-intake", partner, cost=reports)

    # -- health -----------------------------------------------------------------

    def wrote(self) -> None:
        self._write_failed = None

    def write_failed(self, error: BaseException) -> None:
        self._write_failed = (time.monotonic(), _db_reason(error))

    def degraded(self) -> str | None:
        """Why storing is failing, if a write failed recently and none succeeded since."""
        failed = self._write_failed
        if failed is None or time.monotonic() - failed[0] > DEGRADED_FOR:
            return None
        return f"storing reports failed ({failed[1]})"

    def enter(self, partner: str) -> bool:
        with self._lock:
            if self._per_partner[partner] >= self.settings.max_inflight_per_partner:
                return False
            self._per_partner[partner] += 1
            return True

    def leave(self, partner: str) -> None:
        with self._lock:
            self._per_partner[partner] -= 1
            if self._per_partner[partner] <= 0:
                del self._per_partner[partner]

    def receive(self, signed: protocol.Signed, body: bytes) -> list[protocol.Result]:
        """Unseal, check and store one authenticated batch; one result per report, in order."""
        batch = protocol.decode_batch(body, signed.partner, self.settings.max_reports)
        ids = [item.id for item in batch.reports]
        # Only reports new for this partner count against its limit: a retry costs nothing.
        wait = self.allow(signed.partner, len(ids) - len(self.store.held(signed.partner, ids)))
        if wait is not None:
            raise PartnerLimited(wait)
        received = int(time.time() // 60 * 60)
        refused: dict[str, protocol.Result] = {}
        good: list[validate.Report] = []
        adjusted: set[str] = set()
        for item in batch.reports:
            try:
                report, moved = self._check(item, signed.partner, received)
            except SealError:
                reason = "the sealed report does not open with the intake's key"
                metrics.intake_rejected.labels("seal").inc()
            except (validate.Rejected, bounds.TooLarge) as e:
                reason = str(e)
                metrics.intake_rejected.labels("invalid").inc()
            except Exception as e:  # noqa: BLE001 (anything a hostile report provokes is its own rejection)
                self.throttled.log(
                    logging.WARNING,
                    (signed.partner, "unreadable"),
                    "a report from %s could not be read: %s",
                    signed.partner,
                    _where(e),
                )
                reason = f"the sealed report could not be read ({type(e).__name__})"
                metrics.intake_rejected.labels("unreadable").inc()
            else:
                good.append(report)
                if moved:
                    adjusted.add(report.id)
                continue
            refused[item.id] = protocol.Result(item.id, protocol.REJECTED, reason)
        stored = self._store(signed.partner, good, adjusted)
        self.charge(signed.partner, sum(r.status == protocol.ACCEPTED for r in stored.values()))
        results = [refused.get(item.id) or stored[item.id] for item in batch.reports]
        counts = Counter(r.status for r in results)
        metrics.intake_batches.labels(signed.partner).inc()
        metrics.intake_stored.labels(signed.partner).inc(counts[protocol.ACCEPTED])
        metrics.intake_duplicates.labels(signed.partner).inc(counts[protocol.DUPLICATE])
        log.info("batch from %s: %s", signed.partner, dict(counts))
        if adjusted:
            self.throttled.log(
                logging.WARNING,
                (signed.partner, "created"),
                "%s sent %d report(s) created in the future or before 2024: stored with the minute received "
                "(created_adjusted); its clock is wrong",
                signed.partner,
                len(adjusted),
            )
        return results

    def _check(self, item: protocol.SealedReport, partner: str, received: int) -> tuple[validate.Report, bool]:
        """One report, checked; True when its ``created`` was replaced by the minute received."""
        data = self.opener.open(item.sealed)
        bounds.check(data)
        moved = False
        created = data.get("created")
        if (
            isinstance(created, int)
            and not isinstance(created, bool)
            and not (validate.EARLIEST <= created <= received + 60 + protocol.MAX_SKEW)
        ):
            # A real report from a partner whose clock is wrong: keep it, dated when it arrived.
            data = {**data, "created": received}
            moved = True
        return validate.check(data, item.id, partner), moved

    def _store(self, partner: str, good: list[validate.Report], adjusted: set[str]) -> dict[str, protocol.Result]:
        """Store the batch; if that fails for anything but the database, store each report alone
        so that one report the database cannot take is rejected and the others are kept."""
        try:
            stored = self.store.put(partner, good, adjusted)
        except sa.exc.OperationalError as e:
            self.write_failed(e)
            raise
        except Exception as e:
            if len(good) < 2:
                self.write_failed(e)
                raise
            stored, failures = {}, {}
            for report in good:
                try:
                    stored.update(self.store.put(partner, [report], adjusted))
                except sa.exc.OperationalError as e2:
                    self.write_failed(e2)
                    raise
                except Exception as e2:  # noqa: BLE001 (this report alone: rejected below)
                    failures[report.id] = e2
            if not stored:
                self.write_failed(e)
                raise
            for report_id, error in failures.items():
                self.throttled.log(
                    logging.WARNING,
                    (partner, "unstorable"),
                    "a report from %s could not be stored: %s",
                    partner,
                    _where(error),
                )
                metrics.intake_rejected.labels("unstorable").inc()
                stored[report_id] = protocol.Result(
                    report_id, protocol.REJECTED, f"the intake could not store this report ({type(error).__name__})"
                )
        if good:
            self.wrote()
        return stored


class Replays:
    """Signed answers by request signature, kept for the timestamp window.

    An exact replay of an accepted request gets the very answer it got the first
    time, without unsealing, storing or charging any limit. Bounded in bytes;
    a replay that finds nothing here is still harmless (every report is then a
    ``duplicate``, and duplicates are not charged).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[float, bytes, dict[str, str]]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, signature: str) -> tuple[bytes, dict[str, str]] | None:
        with self._lock:
            self._expire()
            found = self._items.get(signature)
            return (found[1], found[2]) if found else None

    def put(self, signed: protocol.Signed, answer: bytes, headers: dict[str, str]) -> None:
        if len(answer) > self.max_bytes // 4:
            return
        with self._lock:
            if signed.signature in self._items:
                return
            self._items[signed.signature] = (int(signed.timestamp) + protocol.MAX_SKEW, answer, headers)
            self._bytes += len(answer)
            self._expire()
            while self._bytes > self.max_bytes:
                self._drop()

    def _expire(self) -> None:
        now = time.time()
        # Roughly in timestamp order; an entry stuck behind a later one lives a little longer.
        while self._items and next(iter(self._items.values()))[0] < now:
            self._drop()

    def _drop(self) -> None:
        _, (_, answer, _) = self._items.popitem(last=False)
        self._bytes -= len(answer)


def create_app(config: t.Mapping[str, t.Any]) -> Flask:
    """The intake app; ``config`` holds the ``IWF_INTAKE_*`` keys (``os.environ`` will do)."""
    settings = IntakeSettings.from_mapping(config)
    app = Flask("iwf_widget.intake")
    app.config.update({k: v for k, v in config.items() if k.startswith(PREFIX)})
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    intake = Intake(settings)
    app.extensions["iwf_intake"] = intake

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            intake.store.ping()
        except SQLAlchemyError as e:
            reason = f"the database does not answer ({_db_reason(e)})"
            intake.throttled.log(logging.ERROR, "health", "database check failed: %s", reason)
            return _json(503, {"status": "unavailable", "reason": reason})
        degraded = intake.degraded()
        if degraded:
            return _json(503, {"status": "degraded", "reason": degraded, "protocol": [protocol.VERSION]})
        return _json(200, {"status": "ok", "protocol": [protocol.VERSION]})

    @app.get("/metrics")
    def metrics_text() -> Response:
        """Prometheus text, only with the bearer token of ``IWF_INTAKE_METRICS_TOKEN`` (404 without it set)."""
        token = settings.metrics_token
        if token is None:
            raise NotFound()
        if not metrics.authorized(request.headers.get("Authorization"), token):
            response = Response("a bearer token is needed\n", 401, mimetype="text/plain")
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        body, content_type = metrics.exposition()
        return Response(body, 200, content_type=content_type)

    @app.get("/dashboard")
    def dashboard() -> Response:
        """The hotline's statistics page, only with the bearer token of ``IWF_INTAKE_DASHBOARD_TOKEN``."""
        from .. import charts
        from ..stats import empty_text, intake_charts

        token = settings.dashboard_token
        if token is None:
            raise NotFound()
        if not metrics.authorized(request.headers.get("Authorization"), token):
            response = Response("a bearer token is needed\n", 401, mimetype="text/plain")
            response.headers["WWW-Authenticate"] = 'Bearer realm="dashboard"'
            return response
        lang = i18n.match(request.args.get("lang"), i18n.available()) or "en"
        title, intro, figures = intake_charts(intake.store.figures(), lang)
        response = Response(charts.page(title, lang, figures, intro, empty_text(lang)), 200, mimetype="text/html")
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.post(protocol.PATH)
    def reports() -> Response:
        if not intake.slots.acquire(blocking=False):
            return _refuse(intake, 503, "the intake is busy; retry later", "busy", retry_after=2)
        try:
            return _reports(intake)
        finally:
            intake.slots.release()

    @app.post(protocol.CHECK_PATH)
    def check() -> Response:
        return _check(intake)

    @app.post(protocol.OUTCOMES_PATH)
    def partner_outcomes() -> Response:
        return _outcomes(intake)

    @app.post("/cases/outcome")
    def case_outcome() -> Response:
        """The hotline's case system records an outcome (bearer ``IWF_INTAKE_CASES_TOKEN``; 404 unset)."""
        token = settings.cases_token
        if token is None:
            raise NotFound()
        if not metrics.authorized(request.headers.get("Authorization"), token):
            response = _error(401, "a bearer token is needed")
            response.headers["WWW-Authenticate"] = 'Bearer realm="cases"'
            return response
        data = request.get_json(silent=True) if (request.content_length or 0) <= 4096 else None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("reference", "outcome")):
            return _error(400, f'send JSON: {{"reference": "{reference.EXAMPLE}", "outcome": "removal_requested"}}')
        partner = data.get("partner")
        try:
            done = record_outcome(
                intake.store, data["reference"], data["outcome"], partner if isinstance(partner, str) else None
            )
        except OutcomeError as e:
            extra = {"partners": e.partners} if isinstance(e, AmbiguousReference) else {}
            return _json(e.status, {"error": str(e), **extra})
        log.info("outcome %s recorded for a report from %s", done.outcome, done.partner)
        return _json(200, {"reference": done.reference, "partner": done.partner, "outcome": done.outcome})

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        if request.path == protocol.PATH:
            return _refuse(intake, error.code or 500, error.description or error.name, "http")
        return _error(error.code or 500, error.description or error.name)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # The type and place only: an exception's message can quote report content.
        partner = getattr(g, "iwf_signed", None)
        intake.throttled.log(
            logging.ERROR,
            ("internal", _where(error)),
            "unexpected error on %s %s%s: %s",
            request.method,
            request.path,
            f" (batch from {partner.partner})" if partner else "",
            _where(error),
        )
        if request.path == protocol.PATH:
            return _refuse(intake, 500, "the intake failed on this batch", "internal")
        return _error(500, "internal error")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.pop("Set-Cookie", None)
        return relative_location(response, request.host)

    return app


def _reports(intake: Intake) -> Response:
    settings = intake.settings
    if request.content_length is not None and request.content_length > settings.max_body:
        return _refuse(intake, 413, f"the body is larger than {settings.max_body} bytes", "too_large")
    try:
        protocol.check_headers(request.headers, settings.partners)
        body = request.get_data(cache=False)
        signed = protocol.verify(request.headers, body, settings.partners)
    except protocol.StaleTimestamp as e:
        return _refuse(intake, 401, str(e), "clock", skew=e.skew)
    except protocol.AuthError as e:
        return _refuse(intake, 401, str(e), e.cause)
    except RequestEntityTooLarge:
        return _refuse(intake, 413, f"the body is larger than {settings.max_body} bytes", "too_large")
    g.iwf_signed = signed
    replayed = intake.replays.get(signed.signature)
    if replayed is not None:  # the same request again: the same answer, for nothing
        answer, headers = replayed
        metrics.intake_replays.labels(signed.partner).inc()
        response = Response(answer, 200, content_type=protocol.CONTENT_TYPE)
        response.headers.update(headers)
        return response
    if not intake.enter(signed.partner):
        return _refuse(intake, 429, "too many batches at once from this partner", "inflight", retry_after=1)
    try:
        try:
            results = intake.receive(signed, body)
        except protocol.ProtocolError as e:
            return _refuse(intake, e.status, str(e), "malformed")
        except PartnerLimited as e:
            return _refuse(
                intake,
                429,
                "too many reports from this partner; retry later",
                "rate_limit",
                retry_after=math.ceil(e.wait),
            )
        except SQLAlchemyError as e:
            # The type only: the message of a database error can quote report content.
            reason = _db_reason(e)
            if not isinstance(e, sa.exc.OperationalError):
                return _refuse(intake, 500, f"the intake failed storing this batch ({reason})", "storage")
            return _refuse(
                intake, 503, f"the intake cannot store reports right now ({reason})", "storage", retry_after=5
            )
    finally:
        intake.leave(signed.partner)
    answer = protocol.encode_results(results)
    headers = protocol.response_headers(signed, answer)
    intake.replays.put(signed, answer, headers)
    response = Response(answer, 200, content_type=protocol.CONTENT_TYPE)
    response.headers.update(headers)
    return response


#: What each cause of a refusal means for the hotline, in its log.
CAUSES = {
    "busy": "the intake is busy (IWF_INTAKE_MAX_INFLIGHT)",
    "too_large": "a batch larger than IWF_INTAKE_MAX_BODY",
    "clock": "its clock is off",
    "unsigned": "an unsigned request",
    "key": "a signature that matches none of its keys in IWF_INTAKE_PARTNERS",
    "unknown_partner": "a partner id not in IWF_INTAKE_PARTNERS",
    "inflight": "too many batches at once (IWF_INTAKE_MAX_INFLIGHT_PER_PARTNER)",
    "rate_limit": "over IWF_INTAKE_PARTNER_RATE_LIMIT",
    "malformed": "a malformed batch",
    "storage": "the database failed",
    "internal": "an unexpected error",
    "http": "an HTTP error",
}


def _refuse(
    intake: Intake, status: int, message: str, cause: str, retry_after: int | None = None, skew: float | None = None
) -> Response:
    """A refusal of a batch, signed for the partner it names, and logged once a minute per cause."""
    metrics.intake_refused.labels(cause if cause in CAUSES else "other").inc()
    extra: dict[str, t.Any] = {"cause": "clock"} if cause == "clock" else {}
    body = protocol.error_body(message, status, **extra)
    response = Response(body, status, content_type="application/json")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    signed = getattr(g, "iwf_signed", None)
    claim = protocol.claimed(request.headers, intake.settings.partners)
    if signed is not None:
        response.headers.update(protocol.response_headers(signed, body))
    elif claim is not None:
        response.headers.update(protocol.refusal_headers(claim[0], claim[2], claim[1], body))
    partner = signed.partner if signed is not None else claim[0] if claim is not None else None
    if partner is None or partner not in intake.settings.partners:
        partner = "an unknown partner"
    detail = CAUSES.get(cause, cause)
    if skew is not None:
        detail += f": its time is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the intake's"
    intake.throttled.log(
        logging.ERROR if status in (401, 413) or status >= 500 else logging.WARNING,
        (partner, cause),
        "refused a batch from %s with %d: %s",
        partner,
        status,
        detail,
    )
    return response


def _db_reason(error: BaseException) -> str:
    """A database error's type, and the driver's message for operational errors (which
    name the condition, such as a read-only database, never a value)."""
    if isinstance(error, sa.exc.OperationalError) and getattr(error, "orig", None) is not None:
        return f"{type(error).__name__}: {str(error.orig)[:120]}"
    return type(error).__name__


def _where(error: BaseException) -> str:
    """An exception's type and the line that raised it, never its message."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return type(error).__name__
    code = tb.tb_frame.f_code
    return f"{type(error).__name__} at {code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno} ({code.co_name})"


def _json(status: int, data: t.Mapping[str, t.Any]) -> Response:

    return Response(json.dumps(data), status, content_type="application/json")


def _error(status: int, message: str, retry_after: int | None = None) -> Response:
    response = Response(protocol.error_body(message), status, content_type="application/json")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _check(intake: Intake) -> Response:
    """A signed no-op: proves the partner's id and key, and that this intake holds the private key.

    Nothing is stored. The sealed challenge is opened with each private key in
    turn, so a partner still sealing to a previous key learns it should update.
    """

    settings = intake.settings
    got = _small_signed_request(intake, protocol.MAX_CHECK_BODY, "a check body")
    if isinstance(got, Response):
        return got
    signed, body = got
    try:
        sealed = protocol.decode_check(body, signed.partner)
    except protocol.ProtocolError as e:
        return _error(e.status, str(e))
    proof = opened_with = None
    for name, key in (("current", settings.private_key), *(("previous", k) for k in settings.previous_private_keys)):
        try:
            challenge = SealedBox(PrivateKey(key)).decrypt(sealed)
        except (CryptoError, ValueError):
            continue
        proof, opened_with = protocol.check_proof(signed.key, challenge), name
        break
    return _signed_answer(signed, protocol.encode_check_answer(signed.partner, proof, opened_with))


def _small_signed_request(intake: Intake, limit: int, what: str) -> tuple[protocol.Signed, bytes] | Response:
    """A request that must be small and signed (a check, an outcomes request): its signer and
    body, or the refusal. The size is checked from the headers, the signature before parsing."""
    if request.content_length is None or request.content_length > limit:
        return _error(413, f"{what} has a Content-Length of at most {limit} bytes")
    partners = intake.settings.partners
    try:
        protocol.check_headers(request.headers, partners)
        body = request.get_data(cache=False)
        return protocol.verify(request.headers, body, partners), body
    except protocol.ProtocolError as e:
        return _error(e.status, str(e))


def _signed_answer(signed: protocol.Signed, answer: bytes) -> Response:
    response = Response(answer, 200, content_type=protocol.CONTENT_TYPE)
    response.headers.update(protocol.response_headers(signed, answer))
    return response


def _outcomes(intake: Intake) -> Response:
    """A partner fetches the outcomes of its own reports after a cursor (signed both ways).

    The partner is the one whose key signed the request: no body can ask for another's.
    """
    got = _small_signed_request(intake, protocol.MAX_OUTCOMES_BODY, "an outcomes request")
    if isinstance(got, Response):
        return got
    signed, body = got
    try:
        since = protocol.decode_outcomes_request(body, signed.partner)
    except protocol.ProtocolError as e:
        return _error(e.status, str(e))
    rows = intake.store.outcomes_since(signed.partner, since, protocol.MAX_OUTCOMES + 1)
    items = [protocol.Outcome(*row) for row in rows[: protocol.MAX_OUTCOMES]]
    return _signed_answer(signed, protocol.encode_outcomes(items, since, more=len(rows) > protocol.MAX_OUTCOMES))
