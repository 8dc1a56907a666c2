"""The code blocks of the README and the guides, as a reader copies them."""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    path: Path
    lang: str
    text: str
    section: str  # the heading it sits under

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)} ({self.section}, {self.lang})"


def blocks(path: Path) -> list[Block]:
    """Every fenced block in ``path``, with the heading above it."""
    source = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(source):
        headings = re.findall(r"^#+ (.+)$", source[: m.start()], re.M)
        out.append(Block(path, m.group(1), m.group(2), headings[-1] if headings else ""))
    return out


def section(path: Path, heading: str) -> list[Block]:
    found = [b for b in blocks(path) if b.section == heading]
    assert found, f"no code block under {heading!r} in {path}"
    return found


def all_docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def required_settings(readme: Path = ROOT / "README.md") -> list[str]:
    """The keys the README's configuration table marks as required."""
    rows = re.findall(r"^\| `(IWF_WIDGET_[A-Z_]+)` \|.*\| required \|$", readme.read_text(encoding="utf-8"), re.M)
    assert rows, "the README's configuration table marks no key as required"
    return rows


def commands(block: Block) -> t.Iterator[str]:
    """The shell commands of a block: one a line, comments and blank lines left out."""
    for line in block.text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line
