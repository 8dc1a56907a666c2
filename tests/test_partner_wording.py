"""A partner words the form its own way: catalogs of its own, help text and numbers per language."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po
from markupsafe import escape

from iwf_widget import ConfigError, i18n, views
from iwf_widget.settings import unknown_keys

TITLE = "Report child sexual abuse images"
SEEN = "What did you see?"
FRENCH_TITLE = "Signaler des contenus pédocriminels"
WAIT = (
    "A lot of reports have arrived in a short time. Please wait %(num)s minute, then send your report again.",
    "A lot of reports have arrived in a short time. Please wait %(num)s minutes, then send your report again.",
)
ARABIC_TITLE = "التبليغ عن محتوى الاستغلال الجنسي للأطفال"


def partner_catalog(folder: Path, lang: str, messages: dict[t.Any, t.Any], fuzzy: bool = False) -> Path:
    """Write ``<lang>/LC_MESSAGES/iwf_widget.po`` the way a translator's tools would.

    A key is a msgid, or (singular, plural) with a tuple of forms as its value.
    """
    catalog = Catalog(locale=lang, domain=i18n.DOMAIN, fuzzy=False)
    for msgid, text in messages.items():
        catalog.add(msgid, text, flags=["fuzzy"] if fuzzy else [])
    path = folder / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog)
    return path


def page(app, lang: str, step: str = "scope") -> str:
    return app.test_client().get(f"/report/form?lang={lang}&step={step}").get_data(as_text=True)


def test_a_partner_catalog_changes_one_french_and_one_arabic_string_and_nothing_else(make_app, tmp_path):
    folder = tmp_path / "wording"
    partner_catalog(folder, "fr", {TITLE: FRENCH_TITLE})
    partner_catalog(folder, "ar", {TITLE: ARABIC_TITLE})
    app = make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(folder))

    french = page(app, "fr")
    assert f"<title>{FRENCH_TITLE}</title>" in french
    assert escape(i18n.translations("fr").gettext(TITLE)) not in french
    shipped_seen = i18n.translations("fr").gettext(SEEN)
    assert escape(shipped_seen) in french  # every other string as shipped

    arabic = page(app, "ar")
    assert f"<title>{ARABIC_TITLE}</title>" in arabic
    assert i18n.translations("ar").gettext(SEEN) in arabic

    assert f"<title>{TITLE}</title>" in page(app, "en")
    shipped_spanish = i18n.translations("es").gettext(TITLE)
    assert f"<title>{shipped_spanish}</title>" in page(app, "es")
    # The shipped catalogs themselves are untouched, for any other app in the process.
    assert f"<title>{escape(i18n.translations('fr').gettext(TITLE))}</title>" in page(make_app(), "fr")


def test_a_catalog_compiled_with_pybabel_is_used_and_wins_over_its_po(make_app, tmp_path):
    folder = tmp_path / "wording"
    po = partner_catalog(folder, "fr", {TITLE: FRENCH_TITLE})
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "compile", "-d", str(folder), "-D", i18n.DOMAIN, "-l", "fr"], check=True)
    assert po.with_suffix(".mo").is_file()
    partner_catalog(folder, "fr", {TITLE: "pas celle-ci"})  # the .po edited, not compiled again
    assert f"<title>{FRENCH_TITLE}</title>" in page(make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(folder)), "fr")


def test_empty_and_fuzzy_partner_strings_leave_the_shipped_ones(make_app, tmp_path):
    folder = tmp_path / "wording"
    partner_catalog(folder, "fr", {TITLE: ""})
    partner_catalog(folder, "ar", {TITLE: "كلمات لم تراجع"}, fuzzy=True)
    app = make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(folder))
    assert f"<title>{escape(i18n.translations('fr').gettext(TITLE))}</title>" in page(app, "fr")
    assert f"<title>{i18n.translations('ar').gettext(TITLE)}</title>" in page(app, "ar")


def test_a_partner_plural_keeps_working_for_every_count(make_app, tmp_path):
    """The "please wait" notice counts minutes; a partner's French wording of it serves 1 and 5."""
    singular = "A lot of reports have arrived in a short time. Please wait %(num)s minute, then send your report again."
    plural = singular.replace("minute,", "minutes,")
    forms = ("Patientez %(num)s minute.",) + ("Patientez %(num)s minutes.",) * (Catalog(locale="fr").num_plurals - 1)
    assert i18n.translations("fr").ngettext(singular, plural, 5) not in (plural, forms[1])  # shipped and translated
    folder = tmp_path / "wording"
    partner_catalog(folder, "fr", {WAIT: forms})
    app = make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(folder))
    with app.test_request_context("/report/form?lang=fr"):
        views.language()
        assert i18n.ngettext(singular, plural, 1) == "Patientez 1 minute."
        assert i18n.ngettext(singular, plural, 5) == "Patientez 5 minutes."


def test_a_partner_plural_missing_a_form_leaves_the_shipped_string(make_app, tmp_path):
    """gettext would show an empty text for the missing form's counts; the shipped one is whole."""
    singular, plural = WAIT
    folder = tmp_path / "wording"
    forms = ("Patientez %(num)s minute.",) + ("",) * (Catalog(locale="fr").num_plurals - 1)
    partner_catalog(folder, "fr", {WAIT: forms})
    app = make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(folder))
    with app.test_request_context("/report/form?lang=fr"):
        views.language()
        for n in (1, 5):
            assert i18n.ngettext(singular, plural, n) == i18n.translations("fr").ngettext(singular, plural, n) % {
                "num": n
            }


@pytest.mark.parametrize(
    "translation, problem",
    [
        ("Appelez le %(numero)s.", "%(numero)s is not in the English string"),
        ("Appelez le %(number)s à 100 %.", "cannot be filled in"),
    ],
)
def test_a_partner_string_that_would_fail_on_the_page_stops_the_start(make_app, tmp_path, translation, problem):
    folder = tmp_path / "wording"
    msgid = "Call the police now on %(number)s."
    path = partner_catalog(folder, "fr", {msgid: translation})
    with pytest.raises(ConfigError) as info:
        make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(folder))
    message = str(info.value)
    assert message.startswith("IWF_WIDGET_TRANSLATIONS_DIR: ")
    assert str(path) in message and msgid in message and problem in message


def test_a_partner_catalog_for_a_language_not_offered_or_damaged_stops_the_start(make_app, tmp_path):
    folder = tmp_path / "wording"
    partner_catalog(folder, "sw", {TITLE: "Ripoti"})
    with pytest.raises(ConfigError, match="'sw' is not an offered language"):
        make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(folder), IWF_WIDGET_LOCALES="en,fr")
    shutil.rmtree(folder)
    broken = folder / "fr" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    broken.parent.mkdir(parents=True)
    broken.write_text('msgid "Report child sexual abuse images"\nmsgstr "Signaler"\nnot gettext at all\n', "utf-8")
    with pytest.raises(ConfigError, match="cannot be read"):
        make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(folder))
    with pytest.raises(ConfigError, match="is not a folder"):
        make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(tmp_path / "nowhere"))


def test_help_text_and_emergency_number_per_language(make_app):
    app = make_app(
        IWF_WIDGET_DEFAULT_LOCALE="fr",
        IWF_WIDGET_HELP_TEXT="Appelez le 3018, gratuit et anonyme.",
        IWF_WIDGET_HELP_TEXT_AR="اتصل بالرقم 3018، مجاني وسري.",
        IWF_WIDGET_EMERGENCY_NUMBER="17",
        IWF_WIDGET_EMERGENCY_NUMBER_EN="999",
    )
    french = page(app, "fr")
    assert '<p class="iwf-partner-help" dir="auto">Appelez le' in french
    arabic = page(app, "ar")
    assert '<p class="iwf-partner-help" dir="auto">اتصل بالرقم' in arabic
    assert "Appelez le" not in arabic
    # Without its own, a page shows the general text.
    assert '<p class="iwf-partner-help" dir="auto">Appelez le' in page(app, "sw")

    def numbers(text: str) -> set[str]:
        return set(re.findall(r'<bdi dir="ltr">(\d+)</bdi>', text))

    assert numbers(page(app, "en", "report")) == {"999"}
    assert numbers(page(app, "fr", "report")) == {"17"}
    assert numbers(page(app, "ar", "report")) == {"17"}


def test_per_language_keys_are_settings_and_a_misspelt_one_is_named(make_app):
    assert unknown_keys(["IWF_WIDGET_HELP_TEXT_AR", "IWF_WIDGET_EMERGENCY_NUMBER_FR"]) == []
    (warning,) = unknown_keys(["IWF_WIDGET_HELP_TEXTE_AR"])
    assert "did you mean IWF_WIDGET_HELP_TEXT_AR?" in warning


def test_the_snippet_labels_take_the_partner_wording(make_app, tmp_path):
    folder = tmp_path / "wording"
    partner_catalog(folder, "fr", {TITLE: FRENCH_TITLE})
    partner_catalog(folder, "ar", {TITLE: ARABIC_TITLE})
    client = make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(folder), IWF_WIDGET_DEFAULT_LOCALE="fr").test_client()
    snippet = client.get("/report/embed.js").get_data(as_text=True)
    assert FRENCH_TITLE in snippet and i18n.translations("fr").gettext(TITLE) not in snippet
    arabic = client.get("/report/embed-labels.js?lang=ar").get_data(as_text=True)
    assert ARABIC_TITLE in arabic
    spanish = client.get("/report/embed-labels.js?lang=es").get_data(as_text=True)
    assert i18n.translations("es").gettext(TITLE) in spanish
    # Another app in the same process keeps the shipped labels.
    plain = make_app(IWF_WIDGET_DEFAULT_LOCALE="fr").test_client().get("/report/embed.js").get_data(as_text=True)
    assert FRENCH_TITLE not in plain
    other = make_app().test_client().get("/report/embed-labels.js?lang=ar").get_data(as_text=True)
    assert ARABIC_TITLE not in other
