"""Forwarding protocol v1: how a partner hands sealed reports to the central intake.

One module serves both sides, so the partner's signature and the intake's check
cannot drift apart. A batch is ``POST /v1/reports`` with a JSON body::

    {"v": 1, "partner": "ma-cyberconfiance",
     "reports": [{"id": "<32 hex>", "sealed": "<base64 sealed box>"}, ...]}

and three headers: ``X-IWF-Partner``, ``X-IWF-Timestamp`` (unix seconds) and
``X-IWF-Signature``, the hex HMAC-SHA256 of ``v1\\n{partner}\\n{timestamp}\\n``
followed by the exact body bytes, keyed with the partner's shared key. The
intake answers per report (``accepted``, ``duplicate`` or ``rejected``) and signs
its answer the same way, bound to the request's signature, so a partner only
deletes reports on an acknowledgement that really came from the intake. Its
refusals (400, 401, 413, 429, 5xx) are signed too, with a ``status`` in the
body, so a partner can tell the intake's own refusal from a proxy's and lets
only the intake fail a report.

See ``docs/protocol.md`` for the full description.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
import typing as t
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

if t.TYPE_CHECKING:
    from werkzeug.datastructures import Headers

#: A request's or a response's headers: a plain mapping, or Werkzeug's (case-insensitive).
HeaderLookup = t.Union[t.Mapping[str, str], "Headers"]

VERSION = 1
PATH = "/v1/reports"
CONTENT_TYPE = "application/json"

PARTNER_HEADER = "X-IWF-Partner"
TIMESTAMP_HEADER = "X-IWF-Timestamp"
SIGNATURE_HEADER = "X-IWF-Signature"

#: A request whose timestamp is further than this from the intake's clock is refused.
MAX_SKEW = 300
#: Reports in one batch, at most.
MAX_REPORTS = 1000
#: One sealed report, at most (ten long addresses and a long description fit easily).
MAX_SEALED_BYTES = 48 * 1024
#: A whole request body, at most; the forwarder splits batches to stay under it.
MAX_BODY = 8 * 1024 * 1024
_MAX_SEALED_B64 = 4 * ((MAX_SEALED_BYTES + 2) // 3)

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"
STATUSES = (ACCEPTED, DUPLICATE, REJECTED)
#: Statuses after which the partner may forget the report.
ACKNOWLEDGED = frozenset({ACCEPTED, DUPLICATE})

REPORT_ID = re.compile(r"^[0-9a-f]{32}$")
PARTNER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


class ProtocolError(ValueError):
    """A request or answer that does not follow the protocol; ``status`` is the HTTP answer."""

    status = 400


class AuthError(ProtocolError):
    """Missing, stale or wrong signature, or an unknown partner."""

    status = 401
    #: Why, for the intake's own log (the answer never says whether the partner exists).
    cause = "key"


class StaleTimestamp(AuthError):
    """The request's timestamp is outside the window: the partner's clock (or the intake's) is off."""

    cause = "clock"

    def __init__(self, message: str, skew: float) -> None:
        super().__init__(message)
        #: The request's time minus the intake's: positive when the partner's clock is ahead.
        self.skew = skew


@dataclass(frozen=True)
class SealedReport:
    id: str
    sealed: bytes


@dataclass(frozen=True)
class Batch:
    partner: str
    reports: list[SealedReport]


@dataclass(frozen=True)
class Result:
    id: str
    status: str
    reason: str | None = None


# -- signatures ---------------------------------------------------------------


def _mac(key: str, prefix: bytes, body: bytes) -> str:
    return hmac.new(key.encode("utf-8"), prefix + body, hashlib.sha256).hexdigest()


def _request_prefix(partner: str, timestamp: str) -> bytes:
    return f"v1\n{partner}\n{timestamp}\n".encode()


def _response_prefix(partner: str, timestamp: str, request_signature: str) -> bytes:
    # Binding the answer to the request's signature stops an old answer being replayed.
    return f"v1 response\n{partner}\n{timestamp}\n{request_signature}\n".encode()


def sign(key: str, partner: str, timestamp: int | str, body: bytes) -> str:
    """The hex signature of one request body."""
    return _mac(key, _request_prefix(partner, str(timestamp)), body)


def request_headers(partner: str, key: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers that authenticate ``body`` as coming from ``partner``."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        "Content-Type": CONTENT_TYPE,
        PARTNER_HEADER: partner,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(key, partner, timestamp, body),
    }


def _matches(keys: t.Iterable[str], prefix: bytes, body: bytes, signature: str) -> str | None:
    """The key that made ``signature``, or None; every key is tried (rotation)."""
    found = None
    for key in keys:
        if hmac.compare_digest(_mac(key, prefix, body), signature):
            found = found or key
    return found


@dataclass(frozen=True)
class Signed:
    """Who signed a request, with which key, and the signature to answer to."""

    partner: str
    key: str
    timestamp: str
    signature: str


def check_headers(
    headers: HeaderLookup, partners: t.Mapping[str, t.Sequence[str]], now: float | None = None
) -> tuple[str, str, str, t.Sequence[str]]:
    """What can be checked before the body is read: partner known, timestamp fresh.

    Returns ``(partner, timestamp, signature, keys)``; raises :class:`AuthError`.
    """
    partner = headers.get(PARTNER_HEADER) or ""
    timestamp = headers.get(TIMESTAMP_HEADER) or ""
    signature = (headers.get(SIGNATURE_HEADER) or "").lower()
    if not partner or not timestamp or not signature:
        raise _auth("the request is not signed", "unsigned")
    if not _TIMESTAMP.match(timestamp):
        raise _auth("the timestamp is not unix seconds", "unsigned")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > MAX_SKEW:
        raise StaleTimestamp(
            "the timestamp is outside the accepted window; check the clock (the intake's time is "
            f"in this answer's {TIMESTAMP_HEADER})",
            int(timestamp) - now,
        )
    keys = partners.get(partner)
    if not keys:
        raise _auth("unknown partner or bad signature", "unknown_partner")
    if not _SIGNATURE.match(signature):
        raise _auth("unknown partner or bad signature", "key")
    return partner, timestamp, signature, keys


def _auth(message: str, cause: str) -> AuthError:
    error = AuthError(message)
    error.cause = cause
    return error


def claimed(
    headers: HeaderLookup, partners: t.Mapping[str, t.Sequence[str]]
) -> tuple[str, str, t.Sequence[str]] | None:
    """``(partner, signature, keys)`` when a request names a partner and carries a
    well-formed signature, checked or not: enough to sign a refusal the partner can verify.

    A partner the intake does not know gets a refusal signed with a key nobody
    holds, so that a signed answer does not tell which partners exist.
    """
    partner = headers.get(PARTNER_HEADER) or ""
    signature = (headers.get(SIGNATURE_HEADER) or "").lower()
    if not PARTNER_ID.match(partner) or not _SIGNATURE.match(signature):
        return None
    return partner, signature, partners.get(partner) or (_NOBODYS_KEY,)


_NOBODYS_KEY = secrets.token_hex(32)


def verify(
    headers: HeaderLookup,
    body: bytes,
    partners: t.Mapping[str, t.Sequence[str]],
    now: float | None = None,
) -> Signed:
    """Check a request's signature over its exact body, before anything parses it."""
    partner, timestamp, signature, keys = check_headers(headers, partners, now)
    key = _matches(keys, _request_prefix(partner, timestamp), body, signature)
    if key is None:
        # The same words as for an unknown partner: no hint which partners exist.
        raise AuthError("unknown partner or bad signature")
    return Signed(partner, key, timestamp, signature)


def response_headers(signed: Signed, body: bytes, now: float | None = None) -> dict[str, str]:
    """The intake signs its answer with the key that verified the request."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: _mac(signed.key, _response_prefix(signed.partner, timestamp, signed.signature), body),
    }


def refusal_headers(
    partner: str, keys: t.Sequence[str], request_signature: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    """Sign a refusal of a request whose signature was not (or could not be) checked.

    The intake does not know which of the partner's keys the partner holds, so it
    signs with each (comma-separated). The answer is bound to the request's
    signature like any other: it answers that one request and no other.
    """
    timestamp = str(int(time.time() if now is None else now))
    prefix = _response_prefix(partner, timestamp, request_signature)
    macs = list(dict.fromkeys(_mac(key, prefix, body) for key in keys[:MAX_RESPONSE_SIGNATURES]))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: ",".join(macs)}


#: Signatures one answer may carry (one per key the partner has at the intake).
MAX_RESPONSE_SIGNATURES = 8


def verify_response(
    headers: t.Mapping[str, str], body: bytes, partner: str, keys: t.Sequence[str], request_signature: str
) -> None:
    """Raise :class:`AuthError` unless the intake signed this answer to this request."""
    timestamp = headers.get(TIMESTAMP_HEADER) or ""
    signatures = (headers.get(SIGNATURE_HEADER) or "").lower().split(",")
    if not _TIMESTAMP.match(timestamp) or len(signatures) > MAX_RESPONSE_SIGNATURES:
        raise AuthError("the answer is not signed")
    signatures = [s.strip() for s in signatures if _SIGNATURE.match(s.strip())]
    if not signatures:
        raise AuthError("the answer is not signed")
    prefix = _response_prefix(partner, timestamp, request_signature)
    if not any(_matches(keys, prefix, body, s) is not None for s in signatures):
        raise AuthError("the answer's signature does not match")


# -- batches ------------------------------------------------------------------


def encode_batch(partner: str, reports: t.Iterable[tuple[str, bytes]]) -> bytes:
    """The exact body bytes to sign and send."""
    items = [{"id": rid, "sealed": base64.b64encode(sealed).decode("ascii")} for rid, sealed in reports]
    return json.dumps({"v": VERSION, "partner": partner, "reports": items}, separators=(",", ":")).encode()


def encoded_size(sealed: bytes) -> int:
    """About how many body bytes one report adds, for splitting batches."""
    return 4 * ((len(sealed) + 2) // 3) + 64


def decode_batch(body: bytes, partner: str, max_reports: int = MAX_REPORTS) -> Batch:
    """Parse an authenticated body; raise :class:`ProtocolError` (400) when it is malformed.

    The raw bytes are counted before they are parsed: a batch has one list, one
    object per report plus the outer one, and two commas per report, because no
    string in a valid batch may hold a bracket, a brace or a comma. So no body
    within the size limit makes the parser build millions of values.
    """
    if body.count(b"[") > 1 or body.count(b"{") > max_reports + 1 or body.count(b",") > 2 * max_reports + 2:
        raise ProtocolError(f"the body is not one batch of at most {max_reports} reports")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("the body is not a JSON object")
    if data.get("v") != VERSION or isinstance(data.get("v"), bool):
        raise ProtocolError("unsupported protocol version; this is v1")
    if data.get("partner") != partner:
        raise ProtocolError("the body's partner differs from the signed partner")
    items = data.get("reports")
    if not isinstance(items, list) or not items:
        raise ProtocolError("'reports' must be a non-empty list")
    if len(items) > max_reports:
        raise ProtocolError(f"at most {max_reports} reports a batch")
    reports = []
    seen = set()
    for n, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"id", "sealed"}:
            raise ProtocolError(f"report {n}: must be an object with exactly 'id' and 'sealed'")
        rid, sealed = item["id"], item["sealed"]
        if not isinstance(rid, str) or not REPORT_ID.match(rid):
            raise ProtocolError(f"report {n}: 'id' must be 32 lower-case hex characters")
        if rid in seen:
            raise ProtocolError(f"report {n}: id {rid} appears twice in the batch")
        seen.add(rid)
        if not isinstance(sealed, str) or len(sealed) > _MAX_SEALED_B64:
            raise ProtocolError(f"report {n}: 'sealed' must be base64 of at most {MAX_SEALED_BYTES} bytes")
        try:
            raw = base64.b64decode(sealed, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError(f"report {n}: 'sealed' is not base64") from None
        if not raw or len(raw) > MAX_SEALED_BYTES:
            raise ProtocolError(f"report {n}: 'sealed' must be base64 of 1 to {MAX_SEALED_BYTES} bytes")
        reports.append(SealedReport(rid, raw))
    return Batch(partner, reports)


# -- answers ------------------------------------------------------------------


def encode_results(results: t.Iterable[Result]) -> bytes:
    out = []
    for r in results:
        item: dict[str, t.Any] = {"id": r.id, "status": r.status}
        if r.reason:
            item["reason"] = r.reason
        out.append(item)
    return json.dumps({"results": out}, separators=(",", ":")).encode()


def decode_results(body: bytes) -> dict[str, Result]:
    """The intake's per-report answers by id; raise :class:`ProtocolError` if unreadable."""
    try:
        data = json.loads(body)
        items = data["results"]
        if not isinstance(items, list):
            raise TypeError
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise ProtocolError("the intake's answer has no 'results' list") from None
    results = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        status = item.get("status")
        if status not in STATUSES:
            continue
        reason = item.get("reason")
        results[item["id"]] = Result(item["id"], status, str(reason)[:500] if reason else None)
    return results


def error_body(message: str, status: int | None = None, **extra: t.Any) -> bytes:
    """A refusal; ``status`` repeats the HTTP status inside what the signature covers."""
    data: dict[str, t.Any] = {"error": message}
    if status is not None:
        data["status"] = status
    data.update(extra)
    return json.dumps(data, separators=(",", ":")).encode()


def decode_error(body: bytes) -> dict[str, t.Any]:
    """A refusal's fields (``error``, ``status``, ``cause``), or ``{}`` when it has none."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" and "٣" are digits to str.isdigit
        return float(value)

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


# -- the connection check -------------------------------------------------------
#
# ``POST /v1/check`` is signed like a batch and stores nothing. Its body carries a
# random challenge sealed to the intake's public key; the intake answers with an
# HMAC of the challenge under the partner's key, signed like any answer. The
# partner thus learns, before any real report travels, that its id and key are
# accepted and that the public key it seals to belongs to this intake, and no
# key leaves either side.

CHECK_PATH = "/v1/check"
#: Bigger than any check body; the intake reads no more than this.
MAX_CHECK_BODY = 4096
CHALLENGE_BYTES = 32


def encode_check(partner: str, sealed_challenge: bytes) -> bytes:
    return json.dumps(
        {"v": VERSION, "partner": partner, "challenge": base64.b64encode(sealed_challenge).decode("ascii")},
        separators=(",", ":"),
    ).encode()


def decode_check(body: bytes, partner: str) -> bytes:
    """The sealed challenge of an authenticated check body; :class:`ProtocolError` if malformed."""
    try:
        data = json.loads(body)
        sealed = base64.b64decode(data["challenge"], validate=True)
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, binascii.Error):
        raise ProtocolError('a check body is {"v": 1, "partner": ..., "challenge": base64}') from None
    if data.get("v") != VERSION or data.get("partner") != partner:
        raise ProtocolError("unsupported version, or the body's partner differs from the signed partner")
    if not sealed or len(sealed) > MAX_CHECK_BODY:
        raise ProtocolError("the challenge is empty or too large")
    return sealed


def check_proof(key: str, challenge: bytes) -> str:
    """What only a holder of the private key (to open the challenge) and of ``key`` can compute."""
    return _mac(key, b"v1 check\n", challenge)


def encode_check_answer(partner: str, proof: str | None, opened_with: str | None) -> bytes:
    """``opened_with``: ``current`` or ``previous`` (a key kept during a rotation), None if unopened."""
    return json.dumps({"partner": partner, "proof": proof, "opened_with": opened_with}, separators=(",", ":")).encode()


def decode_check_answer(body: bytes) -> tuple[str | None, str | None]:
    """``(proof, opened_with)`` from the intake's answer to a check."""
    try:
        data = json.loads(body)
        proof, opened = data.get("proof"), data.get("opened_with")
    except (ValueError, UnicodeDecodeError, AttributeError):
        raise ProtocolError("the intake's answer to the check is not JSON") from None
    return (proof if isinstance(proof, str) else None), (opened if isinstance(opened, str) else None)


# -- outcomes -------------------------------------------------------------------
#
# ``POST /v1/outcomes`` is signed like a batch. Its body, ``{"v": 1, "partner": ...,
# "since": N}``, asks for the outcomes of this partner's own reports numbered after
# N; the answer, signed like any answer, is ``{"outcomes": [{"seq", "id",
# "outcome", "day"}, ...], "cursor": M, "more": bool}``. The partner keeps M and
# asks again from there (at once while ``more``). Only the signing partner's
# reports are ever answered: the partner comes from the signature, not the body.

OUTCOMES_PATH = "/v1/outcomes"
#: What an analyst concluded: removal under way, not the hotline's to act on, gone, already known.
OUTCOMES = ("removal_requested", "outside_remit", "not_found", "duplicate")
#: Outcomes in one answer, at most.
MAX_OUTCOMES = 1000
MAX_OUTCOMES_BODY = 1024
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Outcome:
    seq: int
    id: str
    outcome: str
    day: str


def encode_outcomes_request(partner: str, since: int) -> bytes:
    return json.dumps({"v": VERSION, "partner": partner, "since": int(since)}, separators=(",", ":")).encode()


def decode_outcomes_request(body: bytes, partner: str) -> int:
    """The cursor of an authenticated outcomes request; :class:`ProtocolError` if malformed."""
    try:
        data = json.loads(body)
        since = data["since"]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise ProtocolError('an outcomes request is {"v": 1, "partner": ..., "since": N}') from None
    if data.get("v") != VERSION or data.get("partner") != partner:
        raise ProtocolError("unsupported version, or the body's partner differs from the signed partner")
    if not isinstance(since, int) or isinstance(since, bool) or not 0 <= since < 2**63:
        raise ProtocolError("'since' must be a whole number, 0 or more")
    return since


def encode_outcomes(items: t.Sequence[Outcome], since: int, more: bool) -> bytes:
    cursor = items[-1].seq if items else since
    return json.dumps(
        {
            "outcomes": [{"seq": o.seq, "id": o.id, "outcome": o.outcome, "day": o.day} for o in items],
            "cursor": cursor,
            "more": more,
        },
        separators=(",", ":"),
    ).encode()


def decode_outcomes(body: bytes) -> tuple[list[Outcome], int, bool]:
    """``(outcomes, cursor, more)`` from the intake's signed answer; entries it cannot read are skipped."""
    try:
        data = json.loads(body)
        items, cursor, more = data["outcomes"], data["cursor"], data.get("more", False)
        if not isinstance(items, list) or not isinstance(cursor, int) or isinstance(cursor, bool):
            raise TypeError
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise ProtocolError("the intake's answer has no 'outcomes' list and 'cursor'") from None
    found = []
    for item in items[:MAX_OUTCOMES]:
        if not isinstance(item, dict):
            continue
        seq, rid, outcome, day = (item.get(k) for k in ("seq", "id", "outcome", "day"))
        if (
            isinstance(seq, int)
            and isinstance(rid, str)
            and REPORT_ID.match(rid)
            and outcome in OUTCOMES
            and isinstance(day, str)
            and _DAY.match(day)
        ):
            found.append(Outcome(seq, rid, outcome, day))
    return found, cursor, more is True
