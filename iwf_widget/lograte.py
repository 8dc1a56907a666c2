"""One log line per kind of trouble per minute, however often it happens.

A forwarder retrying every second against a full disk, or an intake refusing
a partner's every batch, would otherwise bury the one line that names the
cause under thousands of copies. The lines held back are counted and the
count rides on the next line of the same kind.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

#: Kinds remembered at most (a key built from untrusted input cannot grow memory).
MAX_KINDS = 1024


class EveryMinute:
    """``log(level, kind, message, *args)`` writes at most one line per ``kind`` per ``interval``."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter[logging.Logger], interval: float = 60.0) -> None:
        self.logger = logger
        self.interval = interval
        self._seen: dict[t.Hashable, list[float]] = {}
        self._lock = threading.Lock()

    def log(self, level: int, kind: t.Hashable, message: str, *args: t.Any) -> bool:
        """True when the line was written, False when it was held back (and counted)."""
        now = time.monotonic()
        with self._lock:
            entry = self._seen.get(kind)
            if entry is not None and now - entry[0] < self.interval:
                entry[1] += 1
                return False
            held = int(entry[1]) if entry is not None else 0
            self._seen.pop(kind, None)
            self._seen[kind] = [now, 0]
            while len(self._seen) > MAX_KINDS:
                del self._seen[next(iter(self._seen))]
        if held:
            message += " (and %d more like it in the last minute)"
            args = (*args, held)
        self.logger.log(level, message, *args)
        return True
