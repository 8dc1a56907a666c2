"""A SQLite lock held by another process, as a maintenance script or a stuck writer holds it.

``held_lock(path)`` starts a process that opens the database, begins a write
transaction (``BEGIN IMMEDIATE``: SQLite's write lock) and writes a row it does
not commit, then waits until the ``with`` block ends. ``exclusive=True`` holds
the file in ``locking_mode=EXCLUSIVE`` instead, which shuts out readers too; it can
only be taken while no other connection has the file open (close pooled ones first).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import typing as t
from pathlib import Path

HOLDER = r"""
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
if sys.argv[2] == "exclusive":
    db.execute("PRAGMA locking_mode=EXCLUSIVE")
    db.execute("BEGIN EXCLUSIVE")
else:
    db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO iwf_forward_state (name, value) VALUES ('held-by-a-test', 0)")
print("held", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
db.close()
print("released", flush=True)
"""


class HeldLock:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    @property
    def holding(self) -> bool:
        """Still holding: the process has not been told to let go, and has not died."""
        return self.proc.poll() is None


@contextlib.contextmanager
def held_lock(path: Path, exclusive: bool = False) -> t.Iterator[HeldLock]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), "exclusive" if exclusive else "write"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline()
        if line.strip() != "held":
            problem = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"the lock holder did not get its lock: {line}{problem}")
        yield HeldLock(proc)
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "released"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
