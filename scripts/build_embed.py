"""Builds ``static/embed.min.js`` and ``static/embed-dialog.min.js`` from their readable
sources with terser. A development tool: the package ships the built files, and
``tests/test_embed.py`` checks that they are current. Run through ``scripts/build-embed``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iwf_widget import i18n  # noqa: E402
from iwf_widget.embed import CONFIG_SLOT, DIALOG_MINIFIED, DIALOG_SOURCE, MIN_SLOT, MINIFIED, SOURCE  # noqa: E402


def minify(source: str, terser: str | Path, slot: bool = True) -> str:
    """``source`` through terser, its config slot (if ``slot``) kept as ``__IWF_CONFIG__``."""
    prepared, found = CONFIG_SLOT.subn(MIN_SLOT, source, count=1)
    if slot and not found:
        raise RuntimeError("embed.js has no /*@config*/ slot")
    done = subprocess.run(
        [str(terser), "--compress", "passes=3", "--mangle", "--ecma", "2017", "--comments", "false"],
        input=prepared,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if done.count(MIN_SLOT) != (1 if slot else 0):
        raise RuntimeError("terser changed the config slot")
    return done


def build(static_dir: str | Path, terser: str | Path) -> tuple[Path, Path]:
    """Writes ``embed.min.js`` and ``embed-dialog.min.js`` beside their sources."""
    folder = Path(static_dir)
    done = []
    for source, target, slot in ((SOURCE, MINIFIED, True), (DIALOG_SOURCE, DIALOG_MINIFIED, False)):
        (folder / target).write_text(minify((folder / source).read_text("utf-8"), terser, slot), "utf-8")
        done.append(folder / target)
    return done[0], done[1]


if __name__ == "__main__":
    terser = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "tests" / "node_modules" / ".bin" / "terser")
    print(*build(i18n.resource_dir("static"), terser))
