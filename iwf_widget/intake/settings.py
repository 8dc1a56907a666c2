"""The ``IWF_INTAKE_*`` settings, read once and validated when the intake starts.

A mistyped partner key found at start-up, with the key named, is better than
every partner's batches refused at 3 a.m.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import typing as t
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .. import protocol
from ..settings import ConfigError, Reader, database_url

PREFIX = "IWF_INTAKE_"
#: Where the reports go when ``IWF_INTAKE_DB_URL`` is not set: a file in the working directory.
DEFAULT_DB = os.path.join("instance", "iwf_intake.db")


#: Generous for a partner draining a day's backlog; a bound on a compromised partner's flood.
DEFAULT_PARTNER_RATE_LIMIT = "60000/hour"


@dataclass(frozen=True)
class IntakeSettings:
    db_url: str
    private_key: bytes
    partners: dict[str, tuple[str, ...]]
    max_body: int = protocol.MAX_BODY
    max_reports: int = protocol.MAX_REPORTS
    #: Batches processed at once; beyond it the intake answers 503 with Retry-After.
    max_inflight: int = 8
    #: Batches of one partner processed at once; beyond it, 429 with Retry-After.
    max_inflight_per_partner: int = 4
    #: Older private keys that still open reports, while partners move to a new public key.
    previous_private_keys: tuple[bytes, ...] = ()
    #: Reports one partner may deliver, in the ``limits`` notation; None for no limit.
    partner_rate_limit: str | None = DEFAULT_PARTNER_RATE_LIMIT
    #: Bearer tokens for ``/metrics`` and ``/dashboard``; None leaves the route unserved (404).
    metrics_token: str | None = None
    dashboard_token: str | None = None
    #: The bearer token of the case-system API (``POST /cases/outcome``); None leaves it unserved.
    cases_token: str | None = None

    @classmethod
    def from_mapping(cls, config: t.Mapping[str, t.Any]) -> IntakeSettings:
        private_keys = _private_keys(config)
        r = Reader(config, PREFIX)
        return cls(
            db_url=db_url(config),
            private_key=private_keys[0],
            previous_private_keys=private_keys[1:],
            partners=_partners(config),
            max_body=r.integer("MAX_BODY", protocol.MAX_BODY, 1024, 64 * 1024 * 1024),
            max_reports=r.integer("MAX_REPORTS", protocol.MAX_REPORTS, 1, protocol.MAX_REPORTS),
            max_inflight=r.integer("MAX_INFLIGHT", 8, 1, 1024),
            max_inflight_per_partner=r.integer("MAX_INFLIGHT_PER_PARTNER", 4, 1, 1024),
            partner_rate_limit=r.rate("PARTNER_RATE_LIMIT", DEFAULT_PARTNER_RATE_LIMIT),
            metrics_token=r.str("METRICS_TOKEN", default="").strip() or None,
            dashboard_token=r.str("DASHBOARD_TOKEN", default="").strip() or None,
            cases_token=r.str("CASES_TOKEN", default="").strip() or None,
        )


def db_url(config: t.Mapping[str, t.Any]) -> str:
    """The database URL alone (all ``intake-export`` needs)."""
    value = config.get(PREFIX + "DB_URL")
    if value is None or (isinstance(value, str) and not value.strip()):
        return "sqlite:///" + os.path.abspath(DEFAULT_DB)
    if not isinstance(value, str) or "://" not in value:
        raise ConfigError(PREFIX + "DB_URL", "must be a database URL such as sqlite:////var/lib/iwf/intake.db")

    try:
        make_url(value.strip())
    except ArgumentError:
        raise ConfigError(PREFIX + "DB_URL", "is not a database URL") from None
    database_url(PREFIX + "DB_URL", value.strip())
    return value.strip()


def _private_keys(config: t.Mapping[str, t.Any]) -> tuple[bytes, ...]:
    """The current key first, then older ones (comma-separated) that still open reports."""
    key = PREFIX + "PRIVATE_KEY"
    value = config.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigError(key, "is required (see `iwf-widget keygen`)")
    items = value.split(",") if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else [None]
    keys = []
    for n, item in enumerate(items, 1):
        try:
            raw = base64.b64decode(item.strip(), validate=True) if isinstance(item, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            where = f"key {n} " if len(items) > 1 else ""
            raise ConfigError(key, f"{where}is not a key printed by `iwf-widget keygen`")
        keys.append(raw)
    return tuple(keys)


def _partners(config: t.Mapping[str, t.Any]) -> dict[str, tuple[str, ...]]:
    key = PREFIX + "PARTNERS"
    value = config.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigError(key, 'is required: JSON like {"partner-id": ["signing key", ...]}')
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise ConfigError(key, f"is not valid JSON ({e.msg} at position {e.pos})") from None
    if not isinstance(value, t.Mapping) or not value:
        raise ConfigError(key, 'must map partner ids to key lists: {"partner-id": ["signing key", ...]}')
    partners = {}
    for partner, keys in value.items():
        if not isinstance(partner, str) or not protocol.PARTNER_ID.match(partner):
            raise ConfigError(key, f"{partner!r} is not a partner id (lower-case letters, digits, '.', '_', '-')")
        if isinstance(keys, str):
            keys = [keys]
        if not isinstance(keys, (list, tuple)) or not keys:
            raise ConfigError(key, f"{partner!r} needs a non-empty list of signing keys")
        for k in keys:
            if not isinstance(k, str) or len(k) < 16:
                raise ConfigError(key, f"{partner!r}: each signing key must be a string of at least 16 characters")
        partners[partner] = tuple(keys)
    return partners
