"""The ``IWF_WIDGET_*`` settings, read once and validated at start-up.

A partner finds a typo at deploy time, with the key named, rather than when the
first person tries to report.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import difflib
import os
import re
import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .i18n import LOCALES, REGIONAL, base, match, regions
from .report import LANGUAGE_TAG

PREFIX = "IWF_WIDGET_"
DEFAULT_EXIT_URL = "https://duckduckgo.com/"
DEFAULT_RATE_LIMIT = "20/hour;100/day"
DEFAULT_PARTNER_RATE_LIMIT = "300/minute;5000/hour"
DEFAULT_STATUS_RATE_LIMIT = "10/hour;30/day"
PARTNER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
#: Settings that also come per language, ``<KEY>_<LANG>``.
PER_LANGUAGE = ("HELP_TEXT", "EMERGENCY_NUMBER", "SUPPORT_TEXT")
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9a-fA-F:]+\](:\d{1,5})?$")
RATE = re.compile(r"^\s*\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day|month|year)s?\s*$")


class ConfigError(RuntimeError):
    """A missing or invalid setting; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"{key}: {problem}")


@dataclass(frozen=True)
class Settings:
    partner_id: str
    intake_url: str
    signing_keys: tuple[str, ...]
    intake_public_key: bytes
    outbox_url: str
    allowed_origins: tuple[str, ...] = ()
    locales: tuple[str, ...] = LOCALES
    default_locale: str = "en"
    exit_url: str = DEFAULT_EXIT_URL
    min_fill_seconds: float = 3.0
    rate_limit: str | None = DEFAULT_RATE_LIMIT
    token_max_age: int = 7200
    emergency_number: str = "112"
    help_text: str = ""
    partner_rate_limit: str | None = DEFAULT_PARTNER_RATE_LIMIT
    trusted_proxies: int = 0
    ipv6_prefix: int = 64
    work_difficulty: int = 20_000
    redis_url: str | None = None
    #: The operator knows the Redis saves to disk and accepts it (see redischeck).
    redis_persistence_ok: bool = False
    forwarder: bool = True
    forward_interval: float = 1.0
    batch_size: int = 100
    forward_timeout: float = 10.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    #: The bearer token for ``/report/metrics``; None leaves the route unserved (404).
    metrics_token: str | None = None
    #: ``HELP_TEXT_<LANG>`` and ``EMERGENCY_NUMBER_<LANG>``: (language, value) pairs.
    help_texts: tuple[tuple[str, str], ...] = ()
    emergency_numbers: tuple[tuple[str, str], ...] = ()
    #: A folder of partner catalogs searched before the shipped ones (partner_catalogs.py).
    translations_dir: str | None = None
    #: Days a report's status is kept after its state last changed (status.py).
    status_days: int = 90
    #: Seconds between the forwarder's requests for outcomes (``iwf-widget forward`` asks once).
    outcomes_interval: float = 60.0
    #: Status lookups per client, in the ``limits`` notation; None for none.
    status_rate_limit: str | None = DEFAULT_STATUS_RATE_LIMIT
    #: After a report: where support is (``SUPPORT_TEXT``, ``SUPPORT_TEXT_<LANG>``); empty for the default words.
    support_text: str = ""
    support_texts: tuple[tuple[str, str], ...] = ()

    def help_for(self, lang: str) -> str:
        """The partner's help text for a page in ``lang``: its own, its language's
        (``pt`` for ``pt-BR``), else ``HELP_TEXT``.

        ``HELP_TEXT`` is in whatever language the partner wrote it in, so it gets no
        ``lang`` of its own; ``dir="auto"`` gives it the direction of its first words.
        """
        return _for(self.help_texts, lang) or self.help_text

    def support_for(self, lang: str) -> str:
        return _for(self.support_texts, lang) or self.support_text

    def emergency_number_for(self, lang: str) -> str:
        return _for(self.emergency_numbers, lang) or self.emergency_number

    @classmethod
    def from_mapping(cls, config: t.Mapping[str, t.Any], instance_path: str, sealing: bool = True) -> Settings:
        """Build from ``app.config`` or ``os.environ``; raise one ConfigError naming the key.

        ``sealing=False`` is for forwarding alone, which sends what is already sealed:
        the intake's public key may then be absent.
        """
        r = Reader(config)
        translations_dir = r.str("TRANSLATIONS_DIR", default="") or None
        if translations_dir and not os.path.isdir(translations_dir):
            raise ConfigError(PREFIX + "TRANSLATIONS_DIR", f"{translations_dir!r} is not a folder")
        locales = r.list("LOCALES", default=list(LOCALES))
        for code in locales:
            if code not in LOCALES and code not in REGIONAL and not _partner_language(translations_dir, code):
                raise ConfigError(
                    PREFIX + "LOCALES",
                    f"{code!r} is not one of {' '.join(LOCALES)} (or {' '.join(REGIONAL)}); another language "
                    "needs its complete catalog in IWF_WIDGET_TRANSLATIONS_DIR",
                )
        if not locales:
            raise ConfigError(PREFIX + "LOCALES", "name at least one language")
        unreviewed = tuple(r.list("UNREVIEWED_LOCALES", default=[]))
        if r.raw("LOCALES", None) is not None:
            _refuse_needing_review(locales, unreviewed)
        default_locale = r.str("DEFAULT_LOCALE", default="en")
        if match(default_locale, locales) != default_locale:
            raise ConfigError(PREFIX + "DEFAULT_LOCALE", f"{default_locale!r} is not among the offered languages")
        partner_id = r.str("PARTNER_ID")
        if not PARTNER_ID.match(partner_id):
            raise ConfigError(PREFIX + "PARTNER_ID", "use lower-case letters, digits, '.', '_' or '-' (at most 64)")
        keys = r.list("SIGNING_KEY")
        if not keys:
            raise ConfigError(PREFIX + "SIGNING_KEY", "is required")
        for k in keys:
            if len(k) < 16:
                raise ConfigError(PREFIX + "SIGNING_KEY", "each key must be at least 16 characters long")
        origins = r.list("ALLOWED_ORIGINS", default=[])
        for o in origins:
            if not ORIGIN.match(o):
                raise ConfigError(PREFIX + "ALLOWED_ORIGINS", f"{o!r} is not an origin like https://partner.example")
        rate_limit = r.rate("RATE_LIMIT", DEFAULT_RATE_LIMIT)
        outbox = outbox_url(config, instance_path)
        per_language = {
            key: tuple(
                (code, value)
                for code in _with_regions(locales)
                if (value := r.str(f"{key}_{language_key(code)}", default=""))
            )
            for key in PER_LANGUAGE
        }
        return cls(
            partner_id=partner_id,
            intake_url=r.url("INTAKE_URL").rstrip("/"),
            signing_keys=tuple(keys),
            intake_public_key=r.key("INTAKE_PUBLIC_KEY") if sealing or r.str("INTAKE_PUBLIC_KEY", "") else b"",
            outbox_url=outbox,
            allowed_origins=tuple(o.rstrip("/") for o in origins),
            locales=tuple(locales),
            default_locale=default_locale,
            exit_url=r.url("EXIT_URL", default=DEFAULT_EXIT_URL),
            min_fill_seconds=r.number("MIN_FILL_SECONDS", default=3, low=0, high=3600),
            rate_limit=rate_limit,
            token_max_age=int(r.number("TOKEN_MAX_AGE", default=7200, low=60, high=86400)),
            emergency_number=r.str("EMERGENCY_NUMBER", default="112"),
            help_text=r.str("HELP_TEXT", default=""),
            # "IWF_WIDGET_RATE_LIMIT=off" means no limits at all unless a partner-wide one is set.
            partner_rate_limit=r.rate("PARTNER_RATE_LIMIT", DEFAULT_PARTNER_RATE_LIMIT if rate_limit else "off"),
            trusted_proxies=int(r.number("TRUSTED_PROXIES", default=0, low=0, high=10)),
            # IPv6 clients are counted per network of this prefix length (a subscriber's /64).
            ipv6_prefix=r.integer("IPV6_PREFIX", default=64, low=32, high=128),
            work_difficulty=int(r.number("WORK_DIFFICULTY", default=20_000, low=0, high=10_000_000)),
            redis_url=r.redis("REDIS_URL"),
            redis_persistence_ok=r.bool("REDIS_PERSISTENCE_OK", default=False),
            forwarder=r.bool("FORWARDER", default=True),
            forward_interval=r.number("FORWARD_INTERVAL", default=1.0, low=0.05, high=3600),
            batch_size=int(r.number("BATCH_SIZE", default=100, low=1, high=1000)),
            forward_timeout=r.number("FORWARD_TIMEOUT", default=10.0, low=0.1, high=300),
            backoff_base=r.number("BACKOFF_BASE", default=1.0, low=0.01, high=3600),
            backoff_max=r.number("BACKOFF_MAX", default=60.0, low=0.05, high=86400),
            metrics_token=r.str("METRICS_TOKEN", default="").strip() or None,
            help_texts=per_language["HELP_TEXT"],
            emergency_numbers=per_language["EMERGENCY_NUMBER"],
            translations_dir=translations_dir,
            status_days=r.integer("STATUS_DAYS", default=90, low=1, high=3650),
            outcomes_interval=r.number("OUTCOMES_INTERVAL", default=60.0, low=0.05, high=86400),
            status_rate_limit=r.rate("STATUS_RATE_LIMIT", DEFAULT_STATUS_RATE_LIMIT),
            support_text=r.str("SUPPORT_TEXT", default=""),
            support_texts=per_language["SUPPORT_TEXT"],
        )


def _refuse_needing_review(locales: t.Sequence[str], allowed: t.Sequence[str]) -> None:
    """A language whose catalog is marked ``needs-review`` (translations/REVIEWS.toml) is
    offered only when the partner says so, in ``UNREVIEWED_LOCALES``, as well."""
    from .reviews import needing_review

    needing = needing_review()
    for code in locales:
        if base(code) in needing and code not in allowed and base(code) not in allowed:
            raise ConfigError(
                PREFIX + "LOCALES",
                f"{code!r} needs review ({needing[base(code)]}): have a native speaker review it first "
                f"(translations/STATUS.md), or also list it in {PREFIX}UNREVIEWED_LOCALES to offer it as it is",
            )


def _partner_language(folder: str | None, code: str) -> bool:
    """A language the package does not ship, offered with the partner's own catalog
    (which partner_catalogs.load then requires to be complete)."""
    if not folder or not LANGUAGE_TAG.match(code):
        return False
    messages = os.path.join(folder, code.replace("-", "_"), "LC_MESSAGES")
    return any(os.path.isfile(os.path.join(messages, f"iwf_widget{ext}")) for ext in (".po", ".mo"))


def _for(values: tuple[tuple[str, str], ...], lang: str) -> str:
    found = dict(values)
    return found.get(lang) or found.get(base(lang)) or ""


def _with_regions(locales: t.Iterable[str]) -> list[str]:
    """The offered languages and the regional variants they answer for."""
    out: list[str] = []
    for code in locales:
        for tag in (code, *regions(code)):
            if tag not in out:
                out.append(tag)
    return out


def language_key(code: str) -> str:
    """How a language appears in a setting's name: ``HELP_TEXT_AR``, ``HELP_TEXT_PT_BR``."""
    return code.upper().replace("-", "_")


def outbox_url(config: t.Mapping[str, t.Any], instance_path: str) -> str:
    """``IWF_WIDGET_OUTBOX_URL``, or the SQLite file in the instance folder (all ``outbox`` needs)."""
    url = Reader(config).str("OUTBOX_URL", default="")
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "iwf_widget_outbox.db")
    database_url(PREFIX + "OUTBOX_URL", url)
    return url


def database_url(key: str, url: str) -> None:
    """Refuse a database URL that is malformed or names a backend the package does not run on."""

    backend: str | None
    driver: str | None
    try:
        parsed = make_url(url)
        backend, driver = parsed.get_backend_name(), parsed.drivername
    except ArgumentError:
        backend = driver = None
    if backend not in ("sqlite", "postgresql", "postgres"):
        what = f"{backend}:// databases are not supported" if backend else "is not a database URL"
        raise ConfigError(key, f"{what}; use sqlite:////path/to/file.db or postgresql://user@host/db")
    # Plain postgresql:// means psycopg 3 here (db.py); another driver named explicitly is kept.
    if driver in ("postgresql", "postgres", "postgresql+psycopg") and not _has_psycopg():
        raise ConfigError(key, "a PostgreSQL database needs psycopg and libpq: pip install 'psycopg[binary]'")


def _has_psycopg() -> bool:
    """psycopg is a dependency, but its import can still fail (a build without libpq)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:  # not installed, or no libpq for it
        return False
    return True


class Reader:
    """Reads one kind of value per method, accepting both app.config and env shapes."""

    def __init__(self, config: t.Mapping[str, t.Any], prefix: str = PREFIX) -> None:
        self.config = config
        self.prefix = prefix

    def raw(self, key: str, default: t.Any) -> t.Any:
        READ_KEYS.add(self.prefix + key)
        value = self.config.get(self.prefix + key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if default is _REQUIRED:
                raise ConfigError(self.prefix + key, "is required")
            return default
        return value

    def str(self, key: builtins.str, default: t.Any = None) -> builtins.str:
        value = self.raw(key, _REQUIRED if default is None else default)
        if not isinstance(value, str):
            raise ConfigError(self.prefix + key, "must be a string")
        return value.strip()

    def list(self, key: builtins.str, default: t.Any = None) -> list[builtins.str]:
        value = self.raw(key, _REQUIRED if default is None else default)
        if isinstance(value, str):
            items = value.split(",")
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            raise ConfigError(self.prefix + key, "must be a list or a comma-separated string")
        out = []
        for item in items:
            if not isinstance(item, str):
                raise ConfigError(self.prefix + key, "must hold strings")
            if item.strip():
                out.append(item.strip())
        return out

    def number(self, key: builtins.str, default: float, low: float, high: float) -> float:
        value = self.raw(key, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(self.prefix + key, f"{value!r} is not a number") from None
        if isinstance(value, bool) or not low <= number <= high:
            raise ConfigError(self.prefix + key, f"must be between {low:g} and {high:g}")
        return number

    def integer(self, key: builtins.str, default: int, low: int, high: int) -> int:
        value = self.raw(key, default)
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(self.prefix + key, f"{value!r} is not a whole number") from None
        if isinstance(value, bool) or not low <= number <= high:
            raise ConfigError(self.prefix + key, f"must be between {low} and {high}")
        return number

    def bool(self, key: builtins.str, default: bool) -> bool:
        value = self.raw(key, default)
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on", "thread"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(self.prefix + key, f"{value!r} is not on or off")

    def rate(self, key: builtins.str, default: builtins.str) -> builtins.str | None:
        """Limits in the ``limits`` notation, ``10/hour;30/day``; None for ``off``."""
        value = self.str(key, default=default)
        if value.lower() == "off":
            return None
        for part in value.split(";"):
            if not RATE.match(part):
                raise ConfigError(self.prefix + key, f"{part!r} is not like '10/hour' (or 'off')")
        return value

    def redis(self, key: builtins.str) -> builtins.str | None:
        """A ``redis://`` or ``rediss://`` URL, or None when unset (state stays in this process)."""
        value = self.str(key, default="")
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss") or not parts.netloc:
            raise ConfigError(self.prefix + key, "must be a URL like redis://127.0.0.1:6379/0 (or rediss:// for TLS)")
        return value

    def url(self, key: builtins.str, default: t.Any = None) -> builtins.str:
        value = self.str(key, default)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(self.prefix + key, f"{value!r} is not an http(s) URL")
        return value

    def key(self, key: builtins.str) -> bytes:
        value = self.str(key)
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ConfigError(self.prefix + key, "is not a key printed by `iwf-widget keygen`")
        return raw


_REQUIRED = object()


# -- the environment, and keys nobody reads ------------------------------------

#: Every ``IWF_WIDGET_*`` key, without its prefix (per-language ones aside: ``HELP_TEXT_AR``, ...).
WIDGET_KEYS: tuple[str, ...] = (
    "PARTNER_ID",
    "INTAKE_URL",
    "SIGNING_KEY",
    "INTAKE_PUBLIC_KEY",
    "OUTBOX_URL",
    "ALLOWED_ORIGINS",
    "LOCALES",
    "DEFAULT_LOCALE",
    "EXIT_URL",
    "MIN_FILL_SECONDS",
    "RATE_LIMIT",
    "TOKEN_MAX_AGE",
    "EMERGENCY_NUMBER",
    "HELP_TEXT",
    "PARTNER_RATE_LIMIT",
    "TRUSTED_PROXIES",
    "IPV6_PREFIX",
    "WORK_DIFFICULTY",
    "REDIS_URL",
    "REDIS_PERSISTENCE_OK",
    "FORWARDER",
    "FORWARD_INTERVAL",
    "BATCH_SIZE",
    "FORWARD_TIMEOUT",
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "INSTANCE",
    "TRANSLATIONS_DIR",
    "UNREVIEWED_LOCALES",
    "STATUS_DAYS",
    "OUTCOMES_INTERVAL",
    "STATUS_RATE_LIMIT",
    "SUPPORT_TEXT",
    "METRICS_TOKEN",
    "PARTNERS_FILE",
)

#: Every key this package reads, so a misspelt one can be named with its likely meaning.
#: Keys read through :class:`Reader` are added as they are read (:data:`READ_KEYS`).
KNOWN_KEYS = (
    frozenset(PREFIX + k for k in WIDGET_KEYS)
    | frozenset(
        "IWF_INTAKE_" + k
        for k in [
            "DB_URL",
            "PRIVATE_KEY",
            "PARTNERS",
            "MAX_BODY",
            "MAX_REPORTS",
            "MAX_INFLIGHT",
            "MAX_INFLIGHT_PER_PARTNER",
            "PARTNER_RATE_LIMIT",
            "METRICS_TOKEN",
            "DASHBOARD_TOKEN",
            "CASES_TOKEN",
        ]
    )
    | frozenset(f"{PREFIX}{key}_{language_key(code)}" for key in PER_LANGUAGE for code in (*LOCALES, *REGIONAL))
)
READ_KEYS: set[str] = set()
_WARNED: set[str] = set()
PREFIXES = (PREFIX, "IWF_INTAKE_")


def from_environ(environ: t.Mapping[str, str] | None = None, prefixes: t.Sequence[str] = (PREFIX,)) -> dict[str, str]:
    """The environment's settings under ``prefixes``: what a Flask app lacks in ``app.config``."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if k.startswith(tuple(prefixes))}


def unknown_keys(keys: t.Iterable[str], prefixes: t.Sequence[str] = PREFIXES, once: bool = False) -> list[str]:
    """One warning per key under ``prefixes`` that nothing reads, with the closest known key.

    ``once``: leave out keys already warned about in this process (a server that
    reads the same environment twice warns once).
    """

    known = sorted(KNOWN_KEYS | READ_KEYS)
    out = []
    for key in sorted(set(keys)):
        if not isinstance(key, str) or not key.startswith(tuple(prefixes)) or key in known:
            continue
        if once:
            if key in _WARNED:
                continue
            _WARNED.add(key)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else " and is ignored"
        out.append(f"{key} is not a setting{hint}")
    return out
