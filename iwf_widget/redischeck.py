"""Refusing a Redis that writes to disk.

With ``IWF_WIDGET_REDIS_URL`` the day's client-hashing key and every counter
live in Redis. A Redis that saves snapshots (``save``) or an append-only file
(``appendonly``) would put the key on disk, where it outlives its day and, with
a copy of the counters, lets someone test which addresses reported. So the
widget checks at start-up and refuses such a Redis unless
``IWF_WIDGET_REDIS_PERSISTENCE_OK`` says this is intended (e.g. an encrypted,
short-lived volume the operator controls).
"""

from __future__ import annotations

import logging
import typing as t

from .settings import PREFIX, ConfigError

log = logging.getLogger(__name__)
OVERRIDE = PREFIX + "REDIS_PERSISTENCE_OK"


def _text(value: t.Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def _setting(client: t.Any, name: str) -> str:
    found = client.config_get(name)
    for key, value in found.items():
        if _text(key) == name:
            return _text(value).strip()
    return ""


def persistence(client: t.Any) -> list[str]:
    """What this Redis writes to disk, as its settings read (empty: nothing)."""
    out = []
    save = _setting(client, "save")
    if save:
        out.append(f'save "{save}"')
    if _setting(client, "appendonly").lower() == "yes":
        out.append("appendonly yes")
    return out


def refuse_persistence(url: str) -> None:
    """Raise ConfigError if the Redis at ``url`` persists to disk or will not say whether it does.

    A Redis that cannot be reached now is only logged: the limits already give way
    to a Redis outage (a report matters more than a limit), and start-up should too.
    """
    try:
        import redis
    except ImportError:
        return  # the rate limiter names the missing package

    from .ratelimit import REDIS_TIMEOUTS

    client = redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUTS["socket_timeout"],
        socket_connect_timeout=REDIS_TIMEOUTS["socket_connect_timeout"],
    )
    fix = f'turn persistence off (save "", appendonly no) or set {OVERRIDE}=1 if this is intended'
    try:
        found = persistence(client)
    except redis.ResponseError:
        raise ConfigError(
            PREFIX + "REDIS_URL",
            f"this Redis refuses CONFIG GET, so whether it writes the hashing key to disk is unknown; {fix}",
        ) from None
    except redis.RedisError as e:
        log.warning(
            "could not check whether Redis writes to disk (%s); checked again at the next start", type(e).__name__
        )
        return
    finally:
        client.close()
    if found:
        raise ConfigError(
            PREFIX + "REDIS_URL",
            f"this Redis writes to disk ({', '.join(found)}), and the client-hashing key and counters with it; {fix}",
        )
