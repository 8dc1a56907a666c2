"""Every shipped catalog is complete and current; the check itself catches each kind of slip."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from iwf_widget.catalog_check import check, check_language
from iwf_widget.i18n import LOCALES

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"


def test_shipped_catalogs_are_complete_and_compiled():
    problems = check(TRANSLATIONS, [lang for lang in LOCALES if lang != "en"], ROOT)
    assert problems == [], "\n".join(problems[:40])


@pytest.fixture
def french(tmp_path) -> Path:
    """A scratch copy of the French catalog, compiled, and the template."""
    folder = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS / "fr", folder / "fr")
    shutil.copy(TRANSLATIONS / "iwf_widget.pot", folder)
    return folder


def edit(folder: Path, change, compile_after: bool = True) -> None:
    po = folder / "fr" / "LC_MESSAGES" / "iwf_widget.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale="fr")
    change(catalog)
    with po.open("wb") as f:
        write_po(f, catalog)
    if compile_after:
        with po.with_suffix(".mo").open("wb") as f:
            write_mo(f, catalog, use_fuzzy=True)


def template(folder: Path):
    with (folder / "iwf_widget.pot").open("rb") as f:
        return read_po(f)


def test_the_unchanged_copy_passes(french):
    assert check_language(french, "fr", template(french)) == []


def test_check_catches_an_untranslated_string(french):
    edit(french, lambda c: setattr(c["Send report"], "string", ""))
    assert any("untranslated 'Send report'" in p for p in check_language(french, "fr", template(french)))


def test_check_catches_a_fuzzy_entry(french):
    edit(french, lambda c: c["Send report"].flags.add("fuzzy"))
    assert any("fuzzy 'Send report'" in p for p in check_language(french, "fr", template(french)))


def test_check_catches_a_broken_placeholder(french):
    msgid = "Call the police now on %(number)s."
    edit(french, lambda c: setattr(c[msgid], "string", c[msgid].string.replace("%(number)s", "%(numero)s")))
    assert any("placeholders differ" in p for p in check_language(french, "fr", template(french)))


def test_check_catches_english_left_in_place(french):
    edit(french, lambda c: setattr(c["Back"], "string", "Back"))
    assert any("equals the English source 'Back'" in p for p in check_language(french, "fr", template(french)))


def test_check_catches_a_stale_compiled_catalog(french):
    edit(french, lambda c: setattr(c["Send report"], "string", "Envoyer mon signalement"), compile_after=False)
    assert any("out of date" in p for p in check_language(french, "fr", template(french)))


def test_check_catches_a_string_missing_from_the_catalog(french):
    edit(french, lambda c: c.delete("Send report"))
    assert any("missing 'Send report'" in p for p in check_language(french, "fr", template(french)))


def test_command_line_check_fails_on_a_planted_problem(french):
    edit(french, lambda c: setattr(c["Send report"], "string", ""))
    out = subprocess.run(
        [sys.executable, "-m", "iwf_widget.catalog_check", "--folder", str(french), "--source", str(ROOT), "fr"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert out.returncode == 1 and "untranslated" in out.stdout
