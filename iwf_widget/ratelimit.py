"""Rate limits that cannot identify anyone.

Clients are counted under a keyed hash of their address. The key is random,
lives only in memory, and is replaced every day, so a counter outlives neither
the process nor the day, and no stored value can be matched to an address.
Counting is done by the ``limits`` package (moving windows), in memory or, when
several servers share state, in Redis.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import typing as t

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

#: Without proof-of-work (JavaScript off) each report weighs this much against the limit.
NO_WORK_COST = 4
ROTATE_SECONDS = 86400


class ClientKeys:
    """Keyed hashes of client addresses, under a key that rotates daily and is never stored."""

    def __init__(self, rotate_seconds: int = ROTATE_SECONDS) -> None:
        self.rotate_seconds = rotate_seconds
        self._lock = threading.Lock()
        self._period = -1
        self._key = b""

    def _current_key(self) -> bytes:
        period = int(time.time() // self.rotate_seconds)
        if period != self._period:
            with self._lock:
                if period != self._period:
                    self._key = secrets.token_bytes(32)
                    self._period = period
        return self._key

    def __call__(self, address: str) -> str:
        return hmac.new(self._current_key(), address.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


class Limiter:
    """Per-client and per-partner limits on report submissions."""

    def __init__(
        self,
        client_limits: str | None,
        partner_limits: str | None,
        partner: str,
        storage_uri: str = "memory://",
    ) -> None:
        self.client_limits: list[RateLimitItem] = parse_many(client_limits) if client_limits else []
        self.partner_limits: list[RateLimitItem] = parse_many(partner_limits) if partner_limits else []
        self.partner = partner
        self.strategy = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self.keys = ClientKeys()

    @property
    def enabled(self) -> bool:
        return bool(self.client_limits or self.partner_limits)

    def hit(self, address: str, cost: int = 1) -> float | None:
        """Count one submission; None if allowed, else seconds until it would be."""
        if not self.enabled:
            return None
        client = self.keys(address)
        checks: list[tuple[RateLimitItem, tuple[str, ...]]] = [
            (item, ("iwf-client", self.partner, client)) for item in self.client_limits
        ] + [(item, ("iwf-partner", self.partner)) for item in self.partner_limits]
        for item, ids in checks:
            if not self.strategy.test(item, *ids, cost=cost):
                return self._retry_after(item, ids)
        for item, ids in checks:
            if not self.strategy.hit(item, *ids, cost=cost):
                return self._retry_after(item, ids)
        return None

    def _retry_after(self, item: RateLimitItem, ids: t.Sequence[str]) -> float:
        stats = self.strategy.get_window_stats(item, *ids)
        return max(1.0, stats.reset_time - time.time())


def client_address(environ: t.Mapping[str, t.Any], remote_addr: str | None, trusted_proxies: int) -> str:
    """The client's address, taken from ``X-Forwarded-For`` only behind that many trusted proxies."""
    if trusted_proxies > 0:
        forwarded = [p.strip() for p in str(environ.get("HTTP_X_FORWARDED_FOR", "")).split(",") if p.strip()]
        if len(forwarded) >= trusted_proxies:
            return forwarded[-trusted_proxies]
    return remote_addr or ""
