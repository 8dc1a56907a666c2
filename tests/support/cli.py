"""The ``iwf-widget`` command line in a child process, as an operator runs it."""

from __future__ import annotations

import subprocess
import sys
import typing as t


def succeeds(env: t.Mapping[str, str], *args: str, **run: t.Any) -> subprocess.CompletedProcess[str]:
    """``iwf-widget ARGS`` under ``env``; it must exit 0 (its stderr is the failure's message)."""
    done = subprocess.run(
        [sys.executable, "-m", "iwf_widget.cli", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        **run,
    )
    assert done.returncode == 0, done.stderr
    return done
