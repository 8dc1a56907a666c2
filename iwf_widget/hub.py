"""Hub mode: one deployment serves many partners' portals, each under ``/report/p/<id>/``.

``IWF_WIDGET_PARTNERS_FILE`` names a TOML file with one table per partner,
``[partners.<partner_id>]``, whose keys are the single-partner settings lowercased
without the ``IWF_WIDGET_`` prefix (``signing_key``, ``allowed_origins``,
``locales``, ``default_locale``, ``help_text``, ...; lists as TOML arrays,
per-language values as a table, ``help_text = {ar = "...", fr = "..."}``). What
all partners share, the intake and the machinery (``IWF_WIDGET_INTAKE_URL``,
``..._INTAKE_PUBLIC_KEY``, ``..._OUTBOX_URL``, Redis, forwarding, proxies), comes
from the deployment's own settings and may not be set per partner.

Each partner gets a :class:`~iwf_widget.extension.WidgetState` of its own (its
tokens, limits, frame ancestors, wording, status keys, its own forwarder that
sends only its reports, signed with its key), all on one outbox. The file is
read and checked at start-up (each error names the partner and the key) and
again on :meth:`Hub.reload` (``SIGHUP`` for ``iwf-widget serve`` and ``iwf-widget
forward --loop``): a partner
added, changed or removed takes effect for the next request, while requests
already running finish with the settings they began with.
"""

from __future__ import annotations

import difflib
import logging
import sys
import threading
import typing as t
from pathlib import Path

from .outbox import Outbox
from .settings import PER_LANGUAGE, PREFIX, WIDGET_KEYS, ConfigError, Settings, language_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

if t.TYPE_CHECKING:
    from .extension import WidgetState
    from .forwarder import Forwarder

log = logging.getLogger("iwf_widget")

KEY = PREFIX + "PARTNERS_FILE"
#: Shared by every partner of a hub: from the deployment's settings, never from a partner's table.
SHARED = (
    "INTAKE_URL",
    "INTAKE_PUBLIC_KEY",
    "OUTBOX_URL",
    "INSTANCE",
    "REDIS_URL",
    "REDIS_PERSISTENCE_OK",
    "TRUSTED_PROXIES",
    "FORWARDER",
    "FORWARD_INTERVAL",
    "BATCH_SIZE",
    "FORWARD_TIMEOUT",
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "OUTCOMES_INTERVAL",
    "STATUS_DAYS",
    "METRICS_TOKEN",
)
#: What a partner's table may set: every other single-partner setting.
PER_PARTNER = tuple(k for k in WIDGET_KEYS if k not in SHARED and k not in ("PARTNER_ID", "PARTNERS_FILE"))


def read(
    path: str | Path, environ: t.Mapping[str, t.Any], instance_path: str, sealing: bool = True
) -> dict[str, Settings]:
    """Every partner's settings from the file; one :class:`ConfigError` naming the partner and key.

    ``sealing=False``: for forwarding alone (``iwf-widget forward``), which needs no public key.
    """
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(KEY, f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(KEY, f"{path} cannot be read ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(KEY, f"{path} is not valid TOML ({e})") from None
    partners = data.get("partners")
    if set(data) - {"partners"} or not isinstance(partners, dict) or not partners:
        raise ConfigError(KEY, f"{path} must hold one [partners.<partner_id>] table per partner, and nothing else")
    shared = {PREFIX + k: environ[PREFIX + k] for k in SHARED if environ.get(PREFIX + k) not in (None, "")}
    out = {}
    for partner, table in partners.items():
        where = f"{path}: [partners.{partner}]"
        if not isinstance(table, dict):
            raise ConfigError(KEY, f"{where} must be a table of settings")
        config: dict[str, t.Any] = {**shared, PREFIX + "PARTNER_ID": partner}
        for key, value in table.items():
            name = str(key).upper()
            if name in PER_LANGUAGE and isinstance(value, dict):
                for lang, text in value.items():
                    config[f"{PREFIX}{name}_{language_key(str(lang))}"] = text
                continue
            known = name in PER_PARTNER or any(name.startswith(f"{k}_") for k in PER_LANGUAGE)
            if not known:
                if name in SHARED:
                    problem = f"{key!r} is shared by every partner: set {PREFIX}{name} for the deployment instead"
                else:
                    close = difflib.get_close_matches(name.lower(), [k.lower() for k in PER_PARTNER], n=1)
                    problem = f"{key!r} is not a partner setting" + (f"; did you mean {close[0]!r}?" if close else "")
                raise ConfigError(KEY, f"{where}: {problem}")
            config[PREFIX + name] = value
        try:
            out[partner] = Settings.from_mapping(config, instance_path, sealing=sealing)
        except ConfigError as e:
            setting = e.key.removeprefix(PREFIX).lower()
            problem = str(e).split(": ", 1)[-1]
            raise ConfigError(KEY, f"{where} {setting}: {problem}") from None
    return out


class _Configured(t.Protocol):
    settings: Settings


_Built = t.TypeVar("_Built", bound=_Configured)


class _FromFile:
    """What is built per partner from the partners file, on the outbox they share."""

    def __init__(self, path: str, environ: t.Mapping[str, t.Any], instance_path: str, outbox: Outbox) -> None:
        self.path = path
        self.environ = dict(environ)
        self.instance_path = instance_path
        self.outbox = outbox
        self._lock = threading.Lock()

    @staticmethod
    def _keep_or_make(
        settings: t.Mapping[str, Settings], current: t.Mapping[str, _Built], make: t.Callable[[Settings], _Built]
    ) -> dict[str, _Built]:
        """Per partner, the current one where its settings are as they were (a reload keeps it), else a new one."""
        built = {}
        for partner, these in settings.items():
            old = current.get(partner)
            built[partner] = old if old is not None and old.settings == these else make(these)
        return built


class Hub(_FromFile):
    """The partners of one deployment, their states, and the outbox they share."""

    def __init__(self, path: str, environ: t.Mapping[str, t.Any], instance_path: str, outbox: Outbox) -> None:
        super().__init__(path, environ, instance_path, outbox)
        self.states: dict[str, WidgetState] = self._build(read(path, self.environ, instance_path), {})

    def _build(self, settings: dict[str, Settings], current: t.Mapping[str, WidgetState]) -> dict[str, WidgetState]:
        from .extension import WidgetState

        return self._keep_or_make(settings, current, lambda these: WidgetState(these, self.outbox, hub=True))

    def get(self, partner: str) -> WidgetState | None:
        return self.states.get(partner)

    def reload(self) -> list[str]:
        """Read the file again; what changed. A file with an error changes nothing (and raises)."""
        with self._lock:
            settings = read(self.path, self.environ, self.instance_path)
            old = self.states
            new = self._build(settings, old)
            self.states = new  # one assignment: a request sees the old partners or the new, never half
        for partner in old:
            if new.get(partner) is not old[partner]:
                old[partner].stop_forwarder()
        return _changes(self.path, old, new)

    def ensure_forwarders(self) -> None:
        for state in list(self.states.values()):
            state.ensure_forwarder()

    def stop_forwarders(self) -> None:
        for state in list(self.states.values()):
            state.stop_forwarder()


class PartnerForwarders(_FromFile):
    """A forwarder per partner in the file, for ``iwf-widget forward --loop`` apart from the
    web processes; :meth:`reload` keeps them in step with the file as :meth:`Hub.reload`
    keeps a hub's, so adding a partner needs no restart of forwarding either."""

    def __init__(self, path: str, environ: t.Mapping[str, t.Any], instance_path: str, outbox: Outbox) -> None:
        super().__init__(path, environ, instance_path, outbox)
        self._running = False
        self.forwarders: dict[str, Forwarder] = self._build({})

    def _build(self, current: t.Mapping[str, Forwarder]) -> dict[str, Forwarder]:
        from .forwarder import Forwarder

        settings = read(self.path, self.environ, self.instance_path, sealing=False)
        return self._keep_or_make(settings, current, lambda these: Forwarder(these, self.outbox, named=True))

    def start(self) -> None:
        with self._lock:
            self._running = True
            for forwarder in self.forwarders.values():
                forwarder.start()

    def stop(self) -> None:
        with self._lock:
            self._running = False
            for forwarder in self.forwarders.values():
                forwarder.stop()

    def reload(self) -> list[str]:
        """Read the file again; what changed. A file with an error changes nothing (and raises).

        A removed partner's queued reports stay in the outbox, for when it is added again.
        """
        with self._lock:
            old = self.forwarders
            new = self._build(old)
            self.forwarders = new
            for partner, forwarder in old.items():
                if new.get(partner) is not forwarder:
                    forwarder.stop()
            if self._running:
                for partner, forwarder in new.items():
                    if old.get(partner) is not forwarder:
                        forwarder.start()
        return _changes(self.path, old, new)


def _changes(path: str, old: t.Mapping[str, object], new: t.Mapping[str, object]) -> list[str]:
    """What a reload did, partner by partner: an entry kept as it was is unchanged."""
    changes = [f"added {p}" for p in new if p not in old]
    changes += [f"changed {p}" for p in new if p in old and new[p] is not old[p]]
    changes += [f"removed {p}" for p in old if p not in new]
    for line in changes:
        log.info("partners file %s: %s", path, line)
    return changes
