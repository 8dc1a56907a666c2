"""The reference central intake: receives signed batches, stores each report once."""

from __future__ import annotations

from .app import create_app
from .settings import IntakeSettings

__all__ = ["IntakeSettings", "create_app"]
