"""iwf-widget: an embeddable, anonymous form for reporting child sexual abuse imagery online."""

from __future__ import annotations

import typing as t

from .settings import ConfigError

if t.TYPE_CHECKING:
    from .extension import ReportWidget

__version__ = "0.1.0"
__all__ = ["ConfigError", "ReportWidget", "__version__"]


def __getattr__(name: str) -> t.Any:
    # Imported on first use, so ``iwf_widget.intake`` does not load the widget
    # (its form layer, proof-of-work and rate limits) with the package.
    if name == "ReportWidget":
        from .extension import ReportWidget

        return ReportWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
