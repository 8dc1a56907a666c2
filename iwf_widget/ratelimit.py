"""Rate limits that cannot identify anyone.

Clients are counted under a keyed hash of their address. The key is random,
lives only in memory, and is replaced every day, so a counter outlives neither
the process nor the day, and no stored value can be matched to an address.
Counting is done by the ``limits`` package (moving windows), in memory or, when
several servers share state, in Redis. Then the day's key lives in Redis too
(set once by whichever server needs it first, read by all, expiring with its
day), because servers hashing with different keys would count one client as
several. Redis must run without persistence for the key to stay off disk.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import threading
import time
import typing as t

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

#: Without proof-of-work (JavaScript off) each report weighs this much against the limit.
NO_WORK_COST = 4
ROTATE_SECONDS = 86400
#: How often a server reads the shared key again (a Redis restart loses it; servers converge).
REFRESH_SECONDS = 60.0
#: The shared key outlives its period by this much, for clocks that differ a little.
KEY_SLACK_SECONDS = 300
REDIS_TIMEOUTS = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}
#: One IPv6 subscriber usually has a whole /64 and can pick any address in it.
DEFAULT_IPV6_PREFIX = 64


class ClientKeys:
    """Keyed hashes of client addresses, under a key that rotates daily and is never stored.

    With ``redis_url`` the key of each period is shared by every server through
    Redis: ``SET NX`` with an expiry at the end of the period, then read back.
    """

    def __init__(self, rotate_seconds: int = ROTATE_SECONDS, redis_url: str | None = None) -> None:
        self.rotate_seconds = rotate_seconds
        self._lock = threading.Lock()
        self._period = -1
        self._key = b""
        self._checked = 0.0
        self._redis = _redis_client(redis_url) if redis_url else None

    def _current_key(self) -> bytes:
        now = time.time()
        period = int(now // self.rotate_seconds)
        stale = self._redis is not None and now - self._checked > REFRESH_SECONDS
        if period != self._period or stale:
            with self._lock:
                if period != self._period:
                    self._key = self._new_key(period, now, b"")
                    self._period = period
                    self._checked = now
                elif now - self._checked > REFRESH_SECONDS:
                    self._checked = now  # Redis down: keep this period's key, try again later
                    self._key = self._new_key(period, now, self._key)
        return self._key

    def _new_key(self, period: int, now: float, current: bytes) -> bytes:
        """This period's key: our own, or the one all servers share (ours offered if Redis lost it)."""
        if self._redis is None:
            return secrets.token_bytes(32)
        name = f"iwf-widget:client-key:{self.rotate_seconds}:{period}"
        expires = int((period + 1) * self.rotate_seconds - now) + KEY_SLACK_SECONDS
        self._redis.set(name, current or secrets.token_bytes(32), nx=True, ex=max(1, expires))
        shared = self._redis.get(name)
        if not isinstance(shared, bytes) or len(shared) != 32:
            raise RuntimeError(f"the shared client key in Redis ({name}) is not 32 bytes")
        return shared

    def __call__(self, address: str) -> str:
        return hmac.new(self._current_key(), address.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


def _redis_client(url: str) -> t.Any:
    from .settings import ConfigError

    try:
        import redis
    except ImportError:
        raise ConfigError("IWF_WIDGET_REDIS_URL", "needs the redis package: pip install 'iwf-widget[redis]'") from None
    return redis.Redis.from_url(url, **REDIS_TIMEOUTS)


class Limiter:
    """Per-client and per-partner limits on report submissions (or, named ``iwf-status``, lookups)."""

    def __init__(
        self,
        client_limits: str | None,
        partner_limits: str | None,
        partner: str,
        storage_uri: str = "memory://",
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
        name: str = "iwf",
    ) -> None:
        self.ipv6_prefix = ipv6_prefix
        #: Counters of different limiters never share a key, even in one Redis.
        self.name = name
        self.client_limits: list[RateLimitItem] = parse_many(client_limits) if client_limits else []
        self.partner_limits: list[RateLimitItem] = parse_many(partner_limits) if partner_limits else []
        self.partner = partner
        # Counters shared through Redis need a hashing key shared the same way.
        self.shared = storage_uri.startswith(("redis://", "rediss://"))
        self.keys = ClientKeys(redis_url=storage_uri if self.shared else None)
        # Bounded waits: a Redis cut off by the network must not hold a person's report.
        options = REDIS_TIMEOUTS if self.shared else {}
        self.strategy = MovingWindowRateLimiter(storage_from_string(storage_uri, **options))
        self._warned = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.client_limits or self.partner_limits)

    def hit(self, address: str, cost: int = 1) -> float | None:
        """Count one submission; None if allowed, else seconds until it would be."""
        if not self.enabled:
            return None
        if not self.shared:
            return self._hit(address, cost)
        try:
            return self._hit(address, cost)
        except Exception as e:  # Redis is down: a report matters more than a limit
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning("rate limits not applied, Redis failed: %s", type(e).__name__)
            return None

    def _hit(self, address: str, cost: int) -> float | None:
        # The extra weight of a report without proof-of-work is for the client's
        # limit only: the partner-wide limit counts reports, or a few people with
        # JavaScript off would use up everyone's share.
        checks: list[tuple[RateLimitItem, tuple[str, ...], int]] = []
        if self.client_limits:
            client = self.keys(client_key(address, self.ipv6_prefix))
            checks += [(item, (f"{self.name}-client", self.partner, client), cost) for item in self.client_limits]
        checks += [(item, (f"{self.name}-partner", self.partner), 1) for item in self.partner_limits]
        for item, ids, weight in checks:
            if not self.strategy.test(item, *ids, cost=weight):
                return self._retry_after(item, ids)
        for item, ids, weight in checks:
            if not self.strategy.hit(item, *ids, cost=weight):
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


def client_key(address: str, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """What one client is counted under: an IPv4 address, or the IPv6 network it lies in.

    Counting IPv6 clients by full address would give each one 2**64 fresh budgets;
    an IPv4 address written as IPv6 (``::ffff:a.b.c.d``) is counted as itself.
    """
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        network = ipaddress.IPv6Network((ip, ipv6_prefix), strict=False)
        return f"{network.network_address}/{ipv6_prefix}"
    return str(ip)
