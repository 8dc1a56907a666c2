"""What the health check says about writing: "degraded" while the outbox recently refused a write.

A reader of the outbox can succeed while every write fails (a full disk, a
read-only mount, an exhausted inode table), so the counts alone would say
"ok" while every reporter is told their report could not be saved. Each kind
of write the outbox makes records its last failure here; one success of the
same kind clears it, and a failure older than :data:`DEGRADED_FOR` no longer
counts (nothing may have been written since to prove it either way).

The state is this process's: with several server processes, each reports
what its own writes met.
"""

from __future__ import annotations

import threading
import time
import typing as t

from .db import brief_error

#: Seconds a failed write keeps health "degraded" unless a write of the same kind succeeds
#: first (the intake's health uses the same five minutes).
DEGRADED_FOR = 300.0

#: The kinds of write, as the health check names them.
STORING = "storing reports"
FORWARDING = "recording forwarding in the outbox"
PURGING = "purging spent tokens"


class WriteHealth:
    """The last failure of each kind of write, until a success of that kind or :data:`DEGRADED_FOR`."""

    def __init__(self, clock: t.Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failed: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def failed(self, kind: str, error: BaseException) -> None:
        with self._lock:
            self._failed[kind] = (self._clock(), brief_error(error))

    def succeeded(self, kind: str) -> None:
        if kind in self._failed:  # the common case costs no lock
            with self._lock:
                self._failed.pop(kind, None)

    def degraded(self) -> str | None:
        """Why writing is failing ("storing reports failed (...)"), or None when it is not."""
        now = self._clock()
        with self._lock:
            recent = [(kind, why) for kind, (at, why) in self._failed.items() if now - at <= DEGRADED_FOR]
        if not recent:
            return None
        return "; ".join(f"{kind} failed ({why})" for kind, why in sorted(recent))
