"""iwf-widget: an embeddable, anonymous form for reporting child sexual abuse imagery online."""
from __future__ import annotations

from .extension import ReportWidget
from .settings import ConfigError

__version__ = "0.1.0"
__all__ = ["ConfigError", "ReportWidget", "__version__"]
