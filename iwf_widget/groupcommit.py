"""Group commit: writes made at the same moment by one process share a transaction.

A report is on disk before the person is thanked, so every accepted report
waits for the database to flush its transaction (with SQLite, an ``fsync`` of
the write-ahead log). A disk does only a few hundred of those a second, fewer
than a burst of reports asks for. Here the threads of one process that write at
the same moment queue their rows; one of them writes everything queued in one
transaction while the others wait, then each learns its own outcome. Nobody
returns before the transaction holding their row has committed, so a report is
exactly as durable as before; under no load, a batch is one row.
"""

from __future__ import annotations

import threading
import typing as t

T = t.TypeVar("T")
R = t.TypeVar("R")


class _Entry(t.Generic[T, R]):
    __slots__ = ("item", "result", "error", "done")

    def __init__(self, item: T) -> None:
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit(t.Generic[T, R]):
    """Calls ``write(items) -> results`` (one result per item, in order) for batches of concurrent calls.

    When ``write`` raises, every call of that batch raises the same error.
    """

    def __init__(self, write: t.Callable[[list[T]], t.Sequence[R]], max_batch: int = 100) -> None:
        self.write = write
        self.max_batch = max_batch
        self._queue: list[_Entry[T, R]] = []
        self._writing = False
        self._changed = threading.Condition(threading.Lock())

    def __call__(self, item: T) -> R:
        entry: _Entry[T, R] = _Entry(item)
        with self._changed:
            self._queue.append(entry)
        while True:
            with self._changed:
                while self._writing and not entry.done:
                    self._changed.wait()
                if entry.done:
                    return self._outcome(entry)
                # Nobody is writing and our row still waits: write the queue (its oldest rows first).
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                self._writing = True
            self._write(batch)

    def _write(self, batch: list[_Entry[T, R]]) -> None:
        try:
            results = self.write([e.item for e in batch])
            if len(results) != len(batch):
                raise RuntimeError("a group write must give one result per item")
            for e, result in zip(batch, results, strict=True):
                e.result = result
        except BaseException as error:
            for e in batch:
                e.error = error
        finally:
            with self._changed:
                for e in batch:
                    e.done = True
                self._writing = False
                self._changed.notify_all()

    @staticmethod
    def _outcome(entry: _Entry[T, R]) -> R:
        if entry.error is not None:
            raise entry.error
        return t.cast(R, entry.result)
