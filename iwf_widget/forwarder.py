"""Sends the outbox to the central intake, batch by batch, until every report is acknowledged.

A report leaves the outbox only when the intake has answered, in a signed
answer, that it holds it (``accepted`` or ``duplicate``). Everything else keeps
it: a network error, a timeout, a 5xx, a 429 or an answer that does not add up
puts it back with a backoff (exponential, full jitter, capped, and never sooner
than the intake's ``Retry-After``). A report the intake refuses for good moves
to the failed state with the intake's reason, for a person to look at.

Leases make several forwarders on one outbox (threads, worker processes, hosts
sharing a database) safe: a claimed report is invisible to the others until
its lease ends, and a lease outlasts the longest request one attempt can make.
"""
from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
import typing as t

import httpx

from . import protocol
from .outbox import Outbox, Pending
from .settings import Settings

log = logging.getLogger(__name__)

#: A ``Retry-After`` longer than this is treated as this (a misconfigured intake must not park reports for days).
MAX_RETRY_AFTER = 3600.0
#: An intake answer larger than this is not an answer to a batch.
MAX_ANSWER = 4 * 1024 * 1024


class _Unanswered(Exception):
    """The request did not get a usable answer in time."""


class Forwarder:
    """One sender: ``start()`` runs it in a daemon thread, ``run_once()`` does one pass."""

    def __init__(self, settings: Settings, outbox: Outbox, owner: str | None = None) -> None:
        self.settings = settings
        self.outbox = outbox
        self.owner = owner or f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.url = settings.intake_url + protocol.PATH
        self.timeout = settings.forward_timeout
        # connect + write + the last read can each take up to ``timeout``; the read
        # loop stops at ``timeout`` in total. The lease outlasts all of it.
        self.lease_seconds = 4 * self.timeout + 5
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            headers={"User-Agent": f"iwf-widget-forwarder/{_version()}"},
            follow_redirects=False,
        )
        self._failures = 0
        self._paused_until = 0.0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- running ------------------------------------------------------------

    def start(self) -> None:
        """Forward in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="iwf-widget-forwarder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.timeout * 2 + 5 if timeout is None else timeout)
            self._thread = None
        self._client.close()

    def notify(self) -> None:
        """A report was just accepted: send it now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                summary = self.run_once()
            except Exception:  # a database hiccup must not end the thread
                log.exception("forwarding pass failed")
                self._pause(self._backoff(self._failures))
                self._failures += 1
                summary = {}
            if self._stopping.is_set():
                break
            if summary.get("claimed", 0) >= self.settings.batch_size and not summary.get("error"):
                continue  # a backlog: keep going
            wait = self.settings.forward_interval
            paused = self._paused_until - time.monotonic()
            if paused > 0:
                wait = min(wait, paused)
            self._wake.wait(wait)

    def drain(self, max_passes: int | None = None) -> dict[str, t.Any]:
        """Pass after pass until nothing is due or the intake stops answering."""
        total: dict[str, t.Any] = _summary()
        passes = 0
        while max_passes is None or passes < max_passes:
            passes += 1
            summary = self.run_once()
            for key in ("claimed", "accepted", "duplicate", "rejected", "retried"):
                total[key] += summary[key]
            total["error"] = summary["error"] or total["error"]
            total["retry_in"] = summary["retry_in"]
            if not summary["claimed"] or summary["error"] or summary["retried"]:
                break
        return total

    def run_once(self) -> dict[str, t.Any]:
        """Claim one batch, send it, and record the intake's answer for every report."""
        with self._lock:
            summary = _summary()
            paused = self._paused_until - time.monotonic()
            if paused > 0:
                summary["retry_in"] = paused
                return summary
            claimed = self.outbox.claim(self.owner, self.settings.batch_size, self.lease_seconds)
            summary["claimed"] = len(claimed)
            for chunk in _by_size(claimed, protocol.MAX_BODY - 4096):
                if summary["error"]:  # the intake is not answering: give the rest back
                    self._give_back(chunk, summary)
                else:
                    self._deliver(chunk, summary)
            if summary["error"]:
                summary["retry_in"] = max(0.0, self._paused_until - time.monotonic())
            return summary

    # -- one request ----------------------------------------------------------

    def _deliver(self, chunk: list[Pending], summary: dict[str, t.Any]) -> None:
        partner = self.settings.partner_id
        body = protocol.encode_batch(partner, [(p.id, p.sealed) for p in chunk])
        headers = protocol.request_headers(partner, self.settings.signing_keys[0], body)
        try:
            status, answer_headers, answer = self._post(body, headers)
        except (httpx.HTTPError, OSError, _Unanswered) as e:
            self._retry(chunk, f"intake unreachable: {type(e).__name__}: {e}"[:300], None, summary)
            return
        if status == 200:
            try:
                protocol.verify_response(
                    answer_headers, answer, partner, self.settings.signing_keys,
                    headers[protocol.SIGNATURE_HEADER],
                )
                results = protocol.decode_results(answer)
            except protocol.ProtocolError as e:
                self._retry(chunk, f"unusable answer from the intake: {e}", None, summary)
                return
            self._record(chunk, results, summary)
        elif status in (400, 413) and len(chunk) > 1:
            # One report may be what the intake cannot take: halve until it is alone.
            middle = len(chunk) // 2
            self._deliver(chunk[:middle], summary)
            if summary["error"]:
                self._give_back(chunk[middle:], summary)
            else:
                self._deliver(chunk[middle:], summary)
        elif status in (400, 413):
            reason = f"the intake refused it (HTTP {status}: {_error_of(answer)})"
            log.error("report %s moved to failed: %s", chunk[0].id, reason)
            self.outbox.fail({chunk[0].id: reason})
            summary["rejected"] += 1
        else:
            if status == 401:
                log.error(
                    "the intake refused this partner's signature: check IWF_WIDGET_PARTNER_ID "
                    "and IWF_WIDGET_SIGNING_KEY (%s)", _error_of(answer),
                )
            wait = protocol.retry_after(answer_headers.get("Retry-After"))
            self._retry(chunk, f"intake answered HTTP {status}: {_error_of(answer)}", wait, summary)

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, httpx.Headers, bytes]:
        """POST with a bound on the whole exchange, not only on each read."""
        deadline = time.monotonic() + self.timeout
        with self._client.stream("POST", self.url, content=body, headers=headers) as response:
            chunks, size = [], 0
            for data in response.iter_bytes():
                chunks.append(data)
                size += len(data)
                if size > MAX_ANSWER:
                    raise _Unanswered("the answer is too large")
                if time.monotonic() > deadline:
                    raise _Unanswered("the answer took too long")
            return response.status_code, response.headers, b"".join(chunks)

    def _record(self, chunk: list[Pending], results: dict[str, protocol.Result], summary: dict[str, t.Any]) -> None:
        acked, rejected, missing = [], {}, []
        for p in chunk:
            result = results.get(p.id)
            if result is None:
                missing.append(p)
            elif result.status in protocol.ACKNOWLEDGED:
                acked.append(p.id)
                summary[result.status] += 1
            else:
                rejected[p.id] = f"rejected by the intake: {result.reason or 'no reason given'}"
        if acked:
            self.outbox.ack(acked)
        if rejected:
            for report_id, reason in rejected.items():
                log.error("report %s moved to failed: %s", report_id, reason)
            self.outbox.fail(rejected)
            summary["rejected"] += len(rejected)
        recovered = self._failures > 0
        self._failures = 0
        self._paused_until = 0.0
        if missing:
            self._retry(missing, "the intake's answer left this report out", None, summary)
        elif recovered:
            self.outbox.expedite()  # the intake is back: no need to sit out old backoffs

    def _retry(
        self, chunk: list[Pending], error: str, retry_after: float | None, summary: dict[str, t.Any]
    ) -> None:
        attempts = max([p.attempts for p in chunk] + [self._failures])
        self._failures += 1
        if retry_after is not None:
            wait = min(retry_after, MAX_RETRY_AFTER)
            delay = wait + random.uniform(0, min(wait, self.settings.backoff_base))
        else:
            delay = self._backoff(attempts)
        self.outbox.retry([p.id for p in chunk], self.owner, error, delay)
        self._pause(delay)
        summary["retried"] += len(chunk)
        summary["error"] = error
        log.warning("forwarding %d report(s) deferred %.1f s: %s", len(chunk), delay, error)

    def _give_back(self, chunk: list[Pending], summary: dict[str, t.Any]) -> None:
        """Release reports not sent because an earlier request of this pass failed."""
        wait = max(0.0, self._paused_until - time.monotonic())
        self.outbox.retry([p.id for p in chunk], self.owner, summary["error"], wait)
        summary["retried"] += len(chunk)

    def _backoff(self, attempts: int) -> float:
        """Full jitter: anywhere between now and the capped exponential step."""
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** min(attempts, 32))
        return random.uniform(0, ceiling)

    def _pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)


def _summary() -> dict[str, t.Any]:
    return {"claimed": 0, "accepted": 0, "duplicate": 0, "rejected": 0, "retried": 0, "error": None, "retry_in": 0.0}


def _by_size(claimed: list[Pending], budget: int) -> t.Iterator[list[Pending]]:
    chunk: list[Pending] = []
    size = 0
    for p in claimed:
        cost = protocol.encoded_size(p.sealed)
        if chunk and size + cost > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(p)
        size += cost
    if chunk:
        yield chunk


def _error_of(answer: bytes) -> str:
    """The intake's ``error`` message, if its answer carries one."""
    import json

    try:
        message = json.loads(answer).get("error")
    except (ValueError, AttributeError, UnicodeDecodeError):
        message = None
    return str(message)[:200] if message else "no reason given"


def _version() -> str:
    from . import __version__

    return __version__
