"""Prometheus metrics for the widget and the intake: counts of what happened, never of whom.

No label carries anything about a reporter: the labels are reasons, causes and
partner ids from the intake's own configuration. Counters live in this
process; with ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn, several workers) the
client library keeps them in files there and a scrape sums every worker's.
Outbox figures are read from the outbox at scrape time, so every server on a
shared outbox reports the same, true numbers.
"""

from __future__ import annotations

import hmac
import os
import typing as t

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

#: Why a submission stored nothing. ``token``: the form's signed token was invalid, expired,
#: already used, or sent before the minimum fill time; ``proof_of_work``: over the limit
#: without the proof of work (which lowers the cost of a submission).
REFUSAL_REASONS = ("token", "origin", "honeypot", "proof_of_work", "limit", "validation")

#: The counters are registered here, not in the library's default registry, so a host
#: app's own metrics stay its own.
REGISTRY = CollectorRegistry(auto_describe=True)

accepted = Counter("iwf_widget_reports_accepted", "Reports stored in the outbox.", registry=REGISTRY)
refused = Counter(
    "iwf_widget_submissions_refused",
    "Submissions that stored nothing, by reason.",
    ["reason"],
    registry=REGISTRY,
)
forward_attempts = Counter(
    "iwf_widget_forward_attempts", "Batches sent to the intake (each request).", registry=REGISTRY
)
forward_failures = Counter(
    "iwf_widget_forward_failures",
    "Requests to the intake that did not deliver their batch, by cause.",
    ["cause"],
    registry=REGISTRY,
)
forward_seconds = Histogram(
    "iwf_widget_forward_seconds",
    "Round-trip time of a request to the intake that got an answer.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)

intake_stored = Counter(
    "iwf_intake_reports_stored", "Reports stored for the first time, by partner.", ["partner"], registry=REGISTRY
)
intake_duplicates = Counter(
    "iwf_intake_reports_duplicate", "Reports already held (a retry), by partner.", ["partner"], registry=REGISTRY
)
intake_rejected = Counter(
    "iwf_intake_reports_rejected",
    "Reports refused for good, by reason (seal, invalid, unreadable, unstorable).",
    ["reason"],
    registry=REGISTRY,
)
intake_batches = Counter("iwf_intake_batches", "Batches answered, by partner.", ["partner"], registry=REGISTRY)
intake_refused = Counter("iwf_intake_batches_refused", "Batches refused whole, by cause.", ["cause"], registry=REGISTRY)
intake_replays = Counter(
    "iwf_intake_replays", "Exact replays answered from memory, by partner.", ["partner"], registry=REGISTRY
)

#: What became of a status lookup. ``known``/``unknown``: answered, the reference held or not
#: (many ``unknown`` is what guessing looks like); ``limited``: over a limit; ``failed``: the
#: outbox could not be used; the rest were not made: ``origin``, ``token`` (missing, wrong or
#: used), ``proof_of_work`` (a proof that does not match), ``mistyped``, ``malformed``.
LOOKUP_RESULTS = ("known", "unknown", "limited", "failed", "origin", "token", "proof_of_work", "mistyped", "malformed")
lookups = Counter("iwf_widget_status_lookups", "Status page lookups, by result.", ["result"], registry=REGISTRY)

for _reason in REFUSAL_REASONS:  # every reason and result present from the start, at 0
    refused.labels(_reason)
for _result in LOOKUP_RESULTS:
    lookups.labels(_result)


class OutboxCollector(Collector):
    """The outbox's figures, read when scraped."""

    def __init__(self, stats: t.Callable[[], t.Mapping[str, t.Any]]) -> None:
        self.stats = stats

    def collect(self) -> t.Iterator[GaugeMetricFamily]:
        stats = self.stats()
        yield GaugeMetricFamily(
            "iwf_widget_outbox_pending", "Reports the intake has not acknowledged yet.", stats["outbox_pending"]
        )
        yield GaugeMetricFamily(
            "iwf_widget_outbox_failed", "Reports the intake refused for good.", stats["outbox_failed"]
        )
        yield GaugeMetricFamily(
            "iwf_widget_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending report (to the minute; 0 when none).",
            stats["oldest_pending_age_s"],
        )


def authorized(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def exposition(*extra: Collector) -> tuple[bytes, str]:
    """The text format: this process's counters, or all workers' in multiprocess mode."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Own())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Own(Collector):
    def collect(self) -> t.Iterable[t.Any]:
        return REGISTRY.collect()
