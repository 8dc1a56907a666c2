"""Every shipped catalog is complete and current; the check itself catches each kind of slip."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from iwf_widget.catalog_check import PLACEHOLDER, _key, check, check_language
from iwf_widget.i18n import LOCALES

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"


def test_shipped_catalogs_are_complete_and_compiled():
    problems = check(TRANSLATIONS, [lang for lang in LOCALES if lang != "en"], ROOT)
    assert problems == [], "\n".join(problems[:40])


def scratch_copy(tmp_path: Path, lang: str) -> Path:
    """A scratch copy of one language's catalog, compiled, and the template."""
    folder = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS / lang, folder / lang)
    shutil.copy(TRANSLATIONS / "iwf_widget.pot", folder)
    return folder


@pytest.fixture
def french(tmp_path) -> Path:
    return scratch_copy(tmp_path, "fr")


@pytest.fixture
def arabic(tmp_path) -> Path:
    return scratch_copy(tmp_path, "ar")


def edit(folder: Path, change, compile_after: bool = True, lang: str = "fr") -> None:
    po = folder / lang / "LC_MESSAGES" / "iwf_widget.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
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
    edit(french, lambda c: setattr(c.get("Back", context="button"), "string", "Back"))
    assert any("equals the English source 'Back'" in p for p in check_language(french, "fr", template(french)))


def test_check_catches_a_stale_compiled_catalog(french):
    edit(french, lambda c: setattr(c["Send report"], "string", "Envoyer mon signalement"), compile_after=False)
    assert any("out of date" in p for p in check_language(french, "fr", template(french)))


def test_check_catches_a_string_missing_from_the_catalog(french):
    edit(french, lambda c: c.delete("Send report"))
    assert any("missing 'Send report'" in p for p in check_language(french, "fr", template(french)))


SCHEME = "The address on line %(line)s must start with http:// or https://."


def test_check_catches_an_address_left_unisolated_in_right_to_left_text(arabic):
    edit(
        arabic,
        lambda c: setattr(c[SCHEME], "string", c[SCHEME].string.replace("\u2066", "").replace("\u2069", "")),
        lang="ar",
    )
    problems = check_language(arabic, "ar", template(arabic))
    assert any("'http://' in 'The address on line" in p and "not isolated" in p for p in problems), problems
    assert any("'https://' in 'The address on line" in p for p in problems), problems


@pytest.mark.parametrize(
    "change, complaint",
    [
        (lambda text: text.replace("\u2069", "", 1), "leaves an isolate open"),
        (lambda text: "\u2069" + text, "closes an isolate"),
        (lambda text: text.replace("\u2066", "\u202d").replace("\u2069", "\u202c"), "embedding or override"),
    ],
)
def test_check_catches_bidi_controls_that_leak_into_the_text_around(arabic, change, complaint):
    edit(arabic, lambda c: setattr(c[SCHEME], "string", change(c[SCHEME].string)), lang="ar")
    assert any(complaint in p for p in check_language(arabic, "ar", template(arabic)))


WAIT = "A lot of reports have arrived in a short time. Please wait %(num)s minute, then send your report again."


def set_form(catalog, msgid: str, form: int, text: str) -> None:
    forms = list(catalog[msgid].string)
    forms[form] = text
    catalog[msgid].string = tuple(forms)


def test_check_lets_a_form_for_one_count_say_it_in_words(arabic):
    forms = read_po((arabic / "ar/LC_MESSAGES/iwf_widget.po").open("rb"), locale="ar")[WAIT].string
    assert "%(num)s" not in forms[1] and "%(num)s" not in forms[2]  # one, two: "دقيقة واحدة", "دقيقتين"
    assert check_language(arabic, "ar", template(arabic)) == []


@pytest.mark.parametrize("lang, form", [("ar", 3), ("ar", 5), ("fr", 0), ("fr", 2)])
def test_check_catches_a_count_left_out_of_a_form_for_several_counts(tmp_path, lang, form):
    folder = scratch_copy(tmp_path, lang)
    edit(folder, lambda c: set_form(c, WAIT, form, c[WAIT].string[form].replace("%(num)s", "")), lang=lang)
    problems = check_language(folder, lang, template(folder))
    assert any("placeholders differ in 'A lot of reports" in p for p in problems), problems


def test_check_still_wants_every_other_placeholder_in_a_form_for_one_count(arabic):
    at_most = "You can send up to %(num)s address at a time. Remove some, and send the others in another report."
    edit(arabic, lambda c: set_form(c, at_most, 1, c[at_most].string[1] + " %(line)s"), lang="ar")
    problems = check_language(arabic, "ar", template(arabic))
    assert any("placeholders differ in 'You can send up to" in p for p in problems), problems


def test_check_tells_a_string_with_a_context_from_the_same_words_without(french):
    def add_bare_back(catalog):
        catalog.add("Back", "Retour")  # the same words, but no "button" context: not in the template

    edit(french, add_bare_back)
    problems = check_language(french, "fr", template(french))
    assert problems == ["fr: obsolete 'Back' (run scripts/i18n update)"], problems


def test_template_gives_translators_context():
    """Where each string is used, and a comment wherever its words alone could mislead."""
    pot = template(TRANSLATIONS)
    messages = [m for m in pot if m.id]
    assert all(m.locations for m in messages), [m.id for m in messages if not m.locations]
    assert all(line is None for m in messages for _file, line in m.locations), "line numbers churn every catalog"
    needs_comment = [m for m in messages if PLACEHOLDER.search(str(m.id)) or " " not in _key(m)[0]]
    assert needs_comment
    bare = [_key(m) for m in needs_comment if not m.auto_comments and not m.context]
    assert bare == [], f"give these a # TRANSLATORS: comment or a context: {bare}"
    placeholders = [_key(m) for m in messages if PLACEHOLDER.search(str(m.id)) and not m.auto_comments]
    assert placeholders == [], f"say what each placeholder stands for: {placeholders}"


def test_catalogs_carry_the_templates_comments():
    pot = {_key(m): m.auto_comments for m in template(TRANSLATIONS) if m.id}
    for lang in LOCALES:
        if lang == "en":
            continue
        with (TRANSLATIONS / lang / "LC_MESSAGES" / "iwf_widget.po").open("rb") as f:
            po = {_key(m): m.auto_comments for m in read_po(f, locale=lang) if m.id}
        assert po == pot, f"{lang}: run scripts/i18n update"


def test_command_line_check_fails_on_a_planted_problem(french):
    edit(french, lambda c: setattr(c["Send report"], "string", ""))
    out = subprocess.run(
        [sys.executable, "-m", "iwf_widget.catalog_check", "--folder", str(french), "--source", str(ROOT), "fr"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 1 and "untranslated" in out.stdout
