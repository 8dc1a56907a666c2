"""The reference central intake: a small Flask app speaking protocol v1.

Every refusal happens as early and as cheaply as it can: too busy (503) and too
large (413) before the body is read, unsigned or stale (401) before it is read,
a wrong signature (401) before it is parsed. Only an authenticated,
well-formed batch is unsealed, and every report in it is checked again before
it is stored.
"""
from __future__ import annotations

import logging
import math
import threading
import time
import typing as t
from collections import Counter

from flask import Flask, Response, request
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .. import protocol
from ..headers import relative_location
from ..sealing import Opener, SealError
from . import validate
from .settings import PREFIX, IntakeSettings
from .store import Store

log = logging.getLogger(__name__)


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

    def allow(self, partner: str, reports: int) -> float | None:
        """Count a partner's reports; None if allowed, else seconds until they would be."""
        for item in self.limits:
            if not self.limiter.hit(item, "iwf-intake", partner, cost=reports):
                stats = self.limiter.get_window_stats(item, "iwf-intake", partner)
                return max(1.0, stats.reset_time - time.time())
        return None

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
        wait = self.allow(signed.partner, len(batch.reports))
        if wait is not None:
            raise PartnerLimited(wait)
        refused: dict[str, protocol.Result] = {}
        good: list[validate.Report] = []
        for item in batch.reports:
            try:
                good.append(validate.check(self.opener.open(item.sealed), item.id, signed.partner))
            except SealError:
                refused[item.id] = protocol.Result(
                    item.id, protocol.REJECTED, "the sealed report does not open with the intake's key"
                )
            except validate.Rejected as e:
                refused[item.id] = protocol.Result(item.id, protocol.REJECTED, str(e))
        stored = self.store.put(signed.partner, good)
        results = [refused.get(item.id) or stored[item.id] for item in batch.reports]
        counts = Counter(r.status for r in results)
        log.info("batch from %s: %s", signed.partner, dict(counts))
        return results


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
            log.error("database check failed: %s", type(e).__name__)
            return _json(503, {"status": "unavailable"})
        return _json(200, {"status": "ok", "protocol": [protocol.VERSION]})

    @app.post(protocol.PATH)
    def reports() -> Response:
        if not intake.slots.acquire(blocking=False):
            return _error(503, "the intake is busy; retry later", retry_after=2)
        try:
            return _reports(intake)
        finally:
            intake.slots.release()

    @app.post(protocol.CHECK_PATH)
    def check() -> Response:
        return _check(intake)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        return _error(error.code or 500, error.description or error.name)

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
        return _error(413, f"the body is larger than {settings.max_body} bytes")
    try:
        protocol.check_headers(request.headers, settings.partners)
        body = request.get_data(cache=False)
        signed = protocol.verify(request.headers, body, settings.partners)
    except protocol.AuthError as e:
        return _error(401, str(e))
    except RequestEntityTooLarge:
        return _error(413, f"the body is larger than {settings.max_body} bytes")
    if not intake.enter(signed.partner):
        return _error(429, "too many batches at once from this partner", retry_after=1)
    try:
        try:
            results = intake.receive(signed, body)
        except protocol.ProtocolError as e:
            return _error(e.status, str(e))
        except PartnerLimited as e:
            return _error(429, "too many reports from this partner; retry later", retry_after=math.ceil(e.wait))
        except SQLAlchemyError as e:
            # The type only: the message of a database error can quote report content.
            log.error("storing a batch from %s failed: %s", signed.partner, type(e).__name__)
            return _error(503, "the intake cannot store reports right now", retry_after=5)
    finally:
        intake.leave(signed.partner)
    answer = protocol.encode_results(results)
    response = Response(answer, 200, content_type=protocol.CONTENT_TYPE)
    response.headers.update(protocol.response_headers(signed, answer))
    return response


def _json(status: int, data: t.Mapping[str, t.Any]) -> Response:
    import json

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
    from nacl.exceptions import CryptoError
    from nacl.public import PrivateKey, SealedBox

    settings = intake.settings
    if request.content_length is None or request.content_length > protocol.MAX_CHECK_BODY:
        return _error(413, f"a check body has a Content-Length of at most {protocol.MAX_CHECK_BODY} bytes")
    try:
        protocol.check_headers(request.headers, settings.partners)
        body = request.get_data(cache=False)
        signed = protocol.verify(request.headers, body, settings.partners)
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
    answer = protocol.encode_check_answer(signed.partner, proof, opened_with)
    response = Response(answer, 200, content_type=protocol.CONTENT_TYPE)
    response.headers.update(protocol.response_headers(signed, answer))
    return response
