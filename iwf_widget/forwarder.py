"""Sends the outbox to the central intake, batch by batch, until every report is acknowledged.

A report leaves the outbox only when the intake has answered, in a signed
answer, that it holds it (``accepted`` or ``duplicate``). Everything else keeps
it: a network error, a timeout, a 5xx, a 429 or an answer that does not add up
puts it back with a backoff (exponential, full jitter, capped, and never sooner
than the intake's ``Retry-After``). Only the intake can fail a report: a report
it refuses for good, in a signed answer, moves to the failed state with its
reason, for a person to look at; an answer it did not sign (a proxy's 400, a
captive portal) is retried like an outage and named as "not the intake
answering".

One poison report cannot hold its batch-mates back: a batch refused with a
signed 400/413, or failing with 5xx three times running, is halved until the
culprit is alone. The whole exchange (connect, headers, body) is bounded by
``IWF_WIDGET_FORWARD_TIMEOUT``, however slowly a middlebox trickles bytes. A
signed "stale timestamp" answer carries the intake's time: the forwarder logs
how far its clock is off and signs with the intake's time until it is fixed.

Leases make several forwarders on one outbox (threads, worker processes, hosts
sharing a database) safe: a claimed report is invisible to the others until
its lease ends, and a lease outlasts the longest request one attempt can make.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import socket
import threading
import time
import typing as t

import httpcore
import httpx

from . import metrics, protocol
from .lograte import EveryMinute
from .outbox import Outbox, Pending
from .settings import Settings
from .status import StatusKeys

log = logging.getLogger(__name__)

#: A ``Retry-After`` longer than this is treated as this (a misconfigured intake must not park reports for days).
MAX_RETRY_AFTER = 3600.0
#: An intake answer larger than this is not an answer to a batch.
MAX_ANSWER = 4 * 1024 * 1024


#: 5xx answers in a row to the same reports after which their batch is halved.
POISON_AFTER = 3
#: Reports whose run of 5xx answers is remembered, at most.
MAX_STREAKS = 100_000
#: Reports held back by this forwarder alone (the outbox keeps retry times to the minute), at most.
MAX_HELD = 1000
#: Seconds between purges of expired spent tokens.
PURGE_EVERY = 60.0


class OutcomesUnavailable(Exception):
    """The intake did not answer a request for outcomes (an older intake answers 404)."""


class _Unanswered(Exception):
    """The request did not get a usable answer in time."""


class _Answer(t.NamedTuple):
    status: int
    headers: httpx.Headers
    body: bytes
    #: The intake signed it, for this request, with a key this partner holds.
    signed: bool
    #: The refusal's fields when signed (``error``, ``status``, ``cause``).
    error: dict[str, t.Any]


# -- a deadline on the whole exchange -------------------------------------------

_deadline = threading.local()


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    """The per-operation timeout, cut to what is left of the exchange's deadline."""
    deadline: float | None = getattr(_deadline, "at", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("no complete answer within IWF_WIDGET_FORWARD_TIMEOUT")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Every read and write stops at the exchange's deadline, not only after a quiet spell:
    a middlebox sending a header byte every half second cannot stretch a request."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        for start in range(0, len(view), 65536):  # each piece against what is left
            self._inner.write(bytes(view[start : start + 65536]), _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: t.Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> t.Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, *args: t.Any, **kwargs: t.Any
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(super().connect_tcp(host, port, timeout, *args, **kwargs))


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport on a network backend that honours the deadline."""

    def __init__(self) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=10,
            max_keepalive_connections=2,
            keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(),
        )


class Forwarder:
    """One sender: ``start()`` runs it in a daemon thread, ``run_once()`` does one pass."""

    def __init__(self, settings: Settings, outbox: Outbox, owner: str | None = None, named: bool = False) -> None:
        """``named``: one of a hub's partners, whose outbox the deployment's own forwarder keeps
        tidy (spent tokens, old statuses); every log line starts with the partner's id."""
        self.settings = settings
        self.housekeeping = not named
        self.log: logging.Logger | logging.LoggerAdapter[logging.Logger] = (
            _Named(log, settings.partner_id) if named else log
        )
        self.outbox = outbox
        self.owner = owner or f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.url = settings.intake_url + protocol.PATH
        self.outcomes_url = settings.intake_url + protocol.OUTCOMES_PATH
        self.status_keys = StatusKeys(settings.signing_keys)
        self._outcomes_at: float | None = None
        self.timeout = settings.forward_timeout
        # connect + write + the last read can each take up to ``timeout``; the read
        # loop stops at ``timeout`` in total. The lease outlasts all of it.
        self.lease_seconds = 4 * self.timeout + 5
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            headers={"User-Agent": f"iwf-widget-forwarder/{_version()}"},
            follow_redirects=False,
            transport=_DeadlineTransport(),
        )
        #: The intake's clock minus ours, learned from a signed "stale timestamp" answer.
        self.clock_offset = 0.0
        #: Report id -> [5xx answers in a row, when the run began (monotonic)].
        self._streaks: dict[str, list[float]] = {}
        #: Report id -> when it may go again (monotonic): a report deferred alone, to the second.
        self._held: dict[str, float] = {}
        self._purged_at: float | None = None
        self._released = False
        self._acked_at = 0.0
        self._pass_acked = False
        #: One line per kind of failure per minute, not one per pass.
        self.throttled = EveryMinute(self.log)
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
            except Exception as e:  # a database hiccup must not end the thread
                # One line per kind a minute (a full disk fails every pass); the traceback at debug level.
                self.throttled.log(logging.ERROR, ("pass", type(e).__name__), "forwarding pass failed: %s", _brief(e))
                self.log.debug("forwarding pass failed", exc_info=True)
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
            total = combined([total, summary])
            total["retry_in"] = summary["retry_in"]
            if not summary["claimed"] or summary["error"] or summary["retried"]:
                break
        return total

    def run_once(self) -> dict[str, t.Any]:
        """Claim one batch, send it, and record the intake's answer for every report.

        Then, at most once a minute, forget spent tokens past their expiry (housekeeping
        here rather than after storing a report, which must do nothing after its commit).
        """
        with self._lock:
            if not self._released:
                self._release_dead_leases()
            summary = self._pass()
            if not summary["error"]:
                summary["outcomes"] = self._fetch_outcomes_when_due()
            if self.housekeeping:
                self._purge()
            return summary

    def _pass(self) -> dict[str, t.Any]:
        summary = _summary()
        self._pass_acked = False
        paused = self._paused_until - time.monotonic()
        if paused > 0:
            summary["retry_in"] = paused
            return summary
        claimed = self.outbox.claim(
            self.owner, self.settings.batch_size, self.lease_seconds, self._holding(), self.settings.partner_id
        )
        summary["claimed"] = len(claimed)
        for chunk in _by_size(claimed, protocol.MAX_BODY - 4096):
            if summary["error"]:  # the intake is not answering: give the rest back
                self._give_back(chunk, summary)
            else:
                self._deliver(chunk, summary)
        if summary["error"]:
            summary["retry_in"] = max(0.0, self._paused_until - time.monotonic())
        return summary

    def _holding(self) -> list[str]:
        """Reports this forwarder deferred alone that are not due again yet."""
        now = time.monotonic()
        for report_id in [i for i, due in self._held.items() if due <= now]:
            del self._held[report_id]
        return list(self._held)

    def _hold(self, report_id: str, delay: float) -> None:
        self._held[report_id] = time.monotonic() + delay
        while len(self._held) > MAX_HELD:
            del self._held[next(iter(self._held))]

    def _purge(self) -> None:
        now = time.monotonic()
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = now
        try:
            self.outbox.purge_tokens()
            self.outbox.purge_statuses(self.settings.status_days)
        except Exception as e:  # noqa: BLE001  housekeeping: forwarding goes on, the health check says so
            self.throttled.log(logging.ERROR, ("purge", type(e).__name__), "purging spent tokens failed: %s", _brief(e))

    # -- outcomes -------------------------------------------------------------

    def _fetch_outcomes_when_due(self) -> int:
        now = time.monotonic()
        if self._outcomes_at is not None and now - self._outcomes_at < self.settings.outcomes_interval:
            return 0
        self._outcomes_at = now
        try:
            return self.fetch_outcomes()
        except Exception as e:  # noqa: BLE001  outcomes can wait; reports go on being forwarded
            self.throttled.log(
                logging.WARNING, ("outcomes", type(e).__name__), "fetching outcomes failed: %s", _brief(e)
            )
            return 0

    def fetch_outcomes(self, max_pages: int = 10) -> int:
        """Ask the intake for the outcomes of this partner's reports since the last one fetched,
        and record them on the reports' statuses; how many arrived."""
        partner = self.settings.partner_id
        cursor = self.outbox.outcomes_cursor(partner)
        total = 0
        for _ in range(max_pages):
            body = protocol.encode_outcomes_request(partner, cursor)
            headers = protocol.request_headers(
                partner, self.settings.signing_keys[0], body, now=time.time() + self.clock_offset
            )
            answer = self._post(body, headers, self.outcomes_url)
            if not answer.signed or answer.status != 200:
                who = "the intake" if answer.signed else "not the intake answering"
                raise OutcomesUnavailable(f"{who}: HTTP {answer.status} from {self.outcomes_url}")
            items, cursor, more = protocol.decode_outcomes(answer.body)
            self.outbox.record_outcomes(
                [(self.status_keys.for_report(o.id), o.outcome, o.day) for o in items], cursor, partner
            )
            total += len(items)
            if not more:
                break
        if total:
            self.log.info("%d outcome(s) fetched from the intake", total)
        return total

    def _release_dead_leases(self) -> None:
        """Reports leased by a forwarder of this host that has died (``kill -9``, a crash) are due
        now, not when its lease ends: leases end on a whole minute, so that can be a while."""
        gone = [owner for owner in self.outbox.leases() if _dead_here(owner, self.owner)]
        if gone:
            released = self.outbox.release(gone)
            self.log.info(
                "released %d report(s) leased by forwarder(s) no longer running: %s", released, ", ".join(gone)
            )
        self._released = True

    # -- one request ----------------------------------------------------------

    def _deliver(self, chunk: list[Pending], summary: dict[str, t.Any], resent: bool = False) -> None:
        partner = self.settings.partner_id
        body = protocol.encode_batch(partner, [(p.id, p.sealed) for p in chunk])
        headers = protocol.request_headers(
            partner, self.settings.signing_keys[0], body, now=time.time() + self.clock_offset
        )
        metrics.forward_attempts.inc()
        started = time.monotonic()
        try:
            answer = self._post(body, headers)
        except (httpx.TimeoutException, _Unanswered) as e:
            metrics.forward_failures.labels("timeout").inc()
            error = f"no complete answer from the intake within IWF_WIDGET_FORWARD_TIMEOUT ({self.timeout:g} s): {e}"
            self._retry(chunk, error[:300], None, summary, kind="timeout")
            return
        except (httpx.HTTPError, OSError) as e:
            metrics.forward_failures.labels("unreachable").inc()
            self._retry(chunk, f"intake unreachable: {type(e).__name__}: {e}"[:300], None, summary, kind="unreachable")
            return
        metrics.forward_seconds.observe(time.monotonic() - started)
        status = answer.status
        if not answer.signed:
            metrics.forward_failures.labels("not_intake").inc()
        elif status != 200:
            metrics.forward_failures.labels("refused").inc()
        wait = protocol.retry_after(answer.headers.get("Retry-After"))
        if not answer.signed:
            error = f"not the intake answering (HTTP {status} from {self.url})"
            if status == 401:
                error += (
                    f": {_error_of(answer.body)}; if it is the intake, check IWF_WIDGET_PARTNER_ID and "
                    "IWF_WIDGET_SIGNING_KEY against its IWF_INTAKE_PARTNERS"
                )
            elif status == 200:
                error += ": the answer is not signed by the intake"
            if status >= 500 and status != 503 and wait is None:  # 503/Retry-After: "later", not "this batch"
                self._server_error(chunk, summary, answer, error, wait)
            else:
                self._retry(chunk, error, wait, summary, kind=f"not-intake-{status}")
            return
        if status == 200:
            try:
                results = protocol.decode_results(answer.body)
            except protocol.ProtocolError as e:
                metrics.forward_failures.labels("unusable").inc()
                self._retry(chunk, f"unusable answer from the intake: {e}", None, summary, kind="unusable")
                return
            self._record(chunk, results, summary)
        elif status in (400, 413) and len(chunk) > 1:
            # One report may be what the intake cannot take: halve until it is alone.
            self._halve(chunk, chunk, summary)
        elif status in (400, 413):
            reason = f"the intake refused it (HTTP {status}: {_error_of(answer.body)})"
            self.log.error("report %s moved to failed: %s", chunk[0].id, reason)
            self._forget(chunk)
            self.outbox.fail({chunk[0].id: reason})
            summary["rejected"] += 1
        elif status == 401 and answer.error.get("cause") == "clock":
            self._clock(answer)
            if not resent:  # now signed with the intake's time
                self._deliver(chunk, summary, resent=True)
                return
            self._retry(
                chunk, f"the intake refused the request's time: {_error_of(answer.body)}", None, summary, kind="clock"
            )
        elif status == 500 and wait is None:
            self._server_error(chunk, summary, answer, f"intake answered HTTP 500: {_error_of(answer.body)}", wait)
        else:
            if status == 401:
                self.throttled.log(
                    logging.ERROR,
                    "auth",
                    "the intake refused this partner's signature: check IWF_WIDGET_PARTNER_ID "
                    "and IWF_WIDGET_SIGNING_KEY (%s)",
                    _error_of(answer.body),
                )
            self._retry(
                chunk, f"intake answered HTTP {status}: {_error_of(answer.body)}", wait, summary, kind=f"http-{status}"
            )

    def _halve(self, chunk: list[Pending], order: list[Pending], summary: dict[str, t.Any]) -> None:
        """Send ``order`` (``chunk`` rearranged) in two halves; the second only if the first did not
        find the intake down (or something was acknowledged in this pass)."""
        middle = len(order) // 2
        self._deliver(order[:middle], summary)
        if summary["error"] and not self._pass_acked:
            self._give_back(order[middle:], summary)
        else:
            summary["error"] = None
            self._deliver(order[middle:], summary)

    def _server_error(
        self, chunk: list[Pending], summary: dict[str, t.Any], answer: _Answer, error: str, wait: float | None
    ) -> None:
        """A 5xx. Three in a row for the same reports halve the batch (the least suspect first), so
        one report that makes the intake fail ends alone. A report alone is failed only on the
        intake's own signed 500, and only once the intake has taken other reports since its run
        began: an intake that fails on everything, or a proxy's 502, fails nothing."""
        now = time.monotonic()
        for p in chunk:
            streak = self._streaks.setdefault(p.id, [0, now])
            streak[0] += 1
        while len(self._streaks) > MAX_STREAKS:
            del self._streaks[next(iter(self._streaks))]
        worst = max(self._streaks[p.id][0] for p in chunk)
        if worst >= POISON_AFTER and len(chunk) > 1:
            self._halve(chunk, sorted(chunk, key=lambda p: self._streaks[p.id][0]), summary)
            return
        if worst >= POISON_AFTER and self._pass_acked:
            report = chunk[0]
            if answer.signed and answer.status == 500 and self._acked_at > self._streaks[report.id][1]:
                reason = f"the intake failed on this report alone {int(worst)} times ({error})"
                self.log.error("report %s moved to failed: %s", report.id, reason)
                self._forget(chunk)
                self.outbox.fail({report.id: reason})
                summary["rejected"] += 1
                return
            # The intake takes other reports: keep this one back alone, and go on with the rest.
            delay = self._backoff(report.attempts)
            self.outbox.retry([report.id], self.owner, f"{error} (this report alone)", delay)
            self._hold(report.id, delay)
            summary["retried"] += 1
            self.throttled.log(
                logging.WARNING, "poison", "report %s deferred: %s (this report alone)", report.id, error
            )
            return
        self._retry(chunk, error, wait, summary, kind=f"http-{answer.status}")

    def _clock(self, answer: _Answer) -> None:
        """Learn the intake's time from its signed refusal, and say how far ours is off."""
        try:
            offset = int(answer.headers[protocol.TIMESTAMP_HEADER]) - time.time()
        except (KeyError, ValueError):
            return
        self.clock_offset = offset
        self.throttled.log(
            logging.ERROR,
            "clock",
            "this server's clock is %d s %s the intake's: the intake refused the request's time. Forwarding "
            "now signs with the intake's time; fix the clock (NTP)",
            abs(offset),
            "ahead of" if offset < 0 else "behind",
        )

    def _forget(self, chunk: t.Iterable[Pending]) -> None:
        for p in chunk:
            self._streaks.pop(p.id, None)

    def _post(self, body: bytes, headers: dict[str, str], url: str | None = None) -> _Answer:
        """POST with a bound on the whole exchange, connect, headers and body, not only on each read."""
        _deadline.at = time.monotonic() + self.timeout
        try:
            with self._client.stream("POST", url or self.url, content=body, headers=headers) as response:
                chunks, size = [], 0
                for data in response.iter_bytes():
                    chunks.append(data)
                    size += len(data)
                    if size > MAX_ANSWER:
                        raise _Unanswered("the answer is too large")
                status, answer_headers, answer = response.status_code, response.headers, b"".join(chunks)
        finally:
            _deadline.at = None
        try:
            protocol.verify_response(
                answer_headers,
                answer,
                self.settings.partner_id,
                self.settings.signing_keys,
                headers[protocol.SIGNATURE_HEADER],
            )
        except protocol.AuthError:
            return _Answer(status, answer_headers, answer, False, {})
        error = protocol.decode_error(answer) if status != 200 else {}
        if status != 200 and error.get("status") != status:
            # A signed refusal under another status line: not what the intake said.
            return _Answer(status, answer_headers, answer, False, {})
        return _Answer(status, answer_headers, answer, True, error)

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
        self._forget(p for p in chunk if p.id in results)
        if acked:
            self.outbox.ack(acked, [key for report_id in acked for key in self.status_keys.for_report(report_id)])
            self._pass_acked = True
            self._acked_at = time.monotonic()
        if rejected:
            for report_id, reason in rejected.items():
                self.log.error("report %s moved to failed: %s", report_id, reason)
            self.outbox.fail(rejected)
            summary["rejected"] += len(rejected)
        recovered = self._failures > 0
        self._failures = 0
        self._paused_until = 0.0
        if missing:
            self._retry(missing, "the intake's answer left this report out", None, summary)
        elif recovered:
            self.outbox.expedite()  # the intake is back: no need to sit out old backoffs
            self._held.clear()

    def _retry(
        self,
        chunk: list[Pending],
        error: str,
        retry_after: float | None,
        summary: dict[str, t.Any],
        kind: str = "other",
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
        self.throttled.log(
            logging.WARNING, kind, "forwarding %d report(s) deferred %.1f s: %s", len(chunk), delay, error
        )

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


class _Named(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A hub's forwarder: which partner a line is about."""

    def process(self, msg: t.Any, kwargs: t.MutableMapping[str, t.Any]) -> tuple[t.Any, t.MutableMapping[str, t.Any]]:
        return f"[{self.extra['partner'] if self.extra else ''}] {msg}", kwargs

    def __init__(self, logger: logging.Logger, partner: str) -> None:
        super().__init__(logger, {"partner": partner})


def _dead_here(owner: str, me: str) -> bool:
    """Whether lease ``owner`` ("host:pid:random", as ``me``) is a process of this host that no longer runs.

    Another host's forwarder, or a process that may still run, is never declared dead:
    its lease ends on its own.
    """
    parts = owner.rsplit(":", 2)
    if owner == me or len(parts) != 3 or parts[0] != me.rsplit(":", 2)[0] or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, as another user's process
        return False
    return False


#: What a pass counts, summed over passes (and over a hub's forwarders) by :func:`combined`.
COUNTS = ("claimed", "accepted", "duplicate", "rejected", "retried", "outcomes")


def _summary() -> dict[str, t.Any]:
    return {**dict.fromkeys(COUNTS, 0), "error": None, "retry_in": 0.0}


def combined(summaries: t.Sequence[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Summaries added up: every count summed, the first error kept, the longest wait."""
    total = _summary()
    for summary in summaries:
        for key in COUNTS:
            total[key] += summary.get(key, 0)
        total["error"] = total["error"] or summary.get("error")
        total["retry_in"] = max(total["retry_in"], summary.get("retry_in", 0.0))
    return total


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

    try:
        message = json.loads(answer).get("error")
    except (ValueError, AttributeError, UnicodeDecodeError):
        message = None
    return str(message)[:200] if message else "no reason given"


def _brief(error: BaseException) -> str:
    """An exception in one line: the database driver's message, never SQL or parameters."""
    orig = getattr(error, "orig", None)
    lines = str(orig if orig is not None else error).splitlines()
    return f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__


def _version() -> str:
    from . import __version__

    return __version__
