"""All 17 languages: the right language and direction, no English left, sensible negotiation."""

from __future__ import annotations

import re

import pytest
from babel.numbers import format_decimal

from iwf_widget import i18n
from iwf_widget.catalog_check import allowed_same
from iwf_widget.report import DESCRIPTION_MAX

TRANSLATIONS = i18n.TRANSLATIONS_DIR

RTL = {"ar", "ps", "ur"}


def visible_lines(page: str) -> set[str]:
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    lines = {t.strip() for t in re.sub(r"(?s)<[^>]+>", "\n", page).split("\n")}
    return {line for line in lines if len(line) > 3 or any(ch.isalpha() for ch in line)} - {""}


def lang_of(page: str) -> str:
    return re.search(r'<html lang="([^"]+)"', page).group(1)


@pytest.mark.parametrize("lang", i18n.LOCALES)
@pytest.mark.parametrize("step", ["scope", "report", "danger", "self"])
def test_every_language_renders_in_itself_with_its_direction(client, lang, step):
    page = client.get(f"/report/form?lang={lang}&step={step}").get_data(as_text=True)
    assert lang_of(page) == lang
    assert re.search(r'<html lang="[^"]+" dir="(\w+)"', page).group(1) == ("rtl" if lang in RTL else "ltr")
    if lang != "en":
        english = visible_lines(client.get(f"/report/form?lang=en&step={step}").get_data(as_text=True))
        shown = visible_lines(page)
        left = sorted(english & shown - {"English"})
        # Language names in the picker are the same on every page; everything else is translated.
        names = {i18n.display_name(code) for code in i18n.LOCALES}
        same = {msgid for code, msgid in allowed_same(TRANSLATIONS) if code == lang}
        left = [line for line in left if line not in names | same and not line.startswith("Language:")]
        assert left == [], f"{lang}: English left on the page: {left[:5]}"


@pytest.mark.parametrize("lang", i18n.LOCALES)
def test_errors_and_thank_you_are_translated(client, submit, lang):
    bad = submit(lang, urls="javascript:alert(1)").get_data(as_text=True)
    english_error = "must start with http:// or https://"
    assert lang_of(bad) == lang
    if lang != "en":
        assert english_error not in bad
        good = submit(lang).get_data(as_text=True)
        assert "Thank you. We have received your report." not in good
        assert 'id="iwf-reference"' in good


@pytest.mark.parametrize(
    "header, expected",
    [
        # A regional variant the widget knows keeps its region; any other region, its language.
        ("fr-MA,fr;q=0.9,en;q=0.5", "fr-MA"),
        ("fr-CA", "fr"),
        ("ar-MA", "ar"),
        ("pt-BR", "pt-BR"),
        ("pt_pt", "pt-PT"),
        ("es-419", "es-419"),
        ("es-MX", "es-419"),
        ("es-ES", "es-ES"),
        ("wo-SN", "wo"),
        ("ln-CD", "ln"),
        ("ms-MY", "ms"),
        ("sw-KE", "sw"),
        ("uk-UA,ru;q=0.8", "uk"),
        ("en;q=0.1, ur-PK;q=0.9", "ur"),
        ("xx-YY,sw;q=0.5", "sw"),
        ("zz", "en"),
        ("", "en"),
        ("fr;q=0", "en"),
    ],
)
def test_browser_languages_are_negotiated(client, header, expected):
    page = client.get("/report/form", headers={"Accept-Language": header}).get_data(as_text=True)
    assert lang_of(page) == expected


def test_lang_parameter_wins_over_the_browser_and_unknown_ones_fall_back(client):
    page = client.get("/report/form?lang=ps", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert lang_of(page) == "ps"
    for odd in ("zz", "<script>", "fr-MA", "AR", ""):
        r = client.get("/report/form", query_string={"lang": odd}, headers={"Accept-Language": "sw"})
        assert r.status_code == 200
    assert lang_of(client.get("/report/form?lang=fr-MA").get_data(as_text=True)) == "fr-MA"
    assert lang_of(client.get("/report/form?lang=fr-BE").get_data(as_text=True)) == "fr"


def test_partner_chooses_the_languages_and_the_default(make_app):
    client = make_app(
        IWF_WIDGET_LOCALES="fr,ar,wo", IWF_WIDGET_UNREVIEWED_LOCALES="wo", IWF_WIDGET_DEFAULT_LOCALE="fr"
    ).test_client()
    assert lang_of(client.get("/report/form?lang=es").get_data(as_text=True)) == "fr"
    assert lang_of(client.get("/report/form", headers={"Accept-Language": "de"}).get_data(as_text=True)) == "fr"
    page = client.get("/report/form?lang=wo&step=language").get_data(as_text=True)
    assert lang_of(page) == "wo"
    picker = re.findall(r'hreflang="(\w+)"', page)
    assert picker == ["fr", "ar", "wo"]


def test_language_picker_names_each_language_in_itself(client):
    form_page = client.get("/report/form?lang=fr").get_data(as_text=True)
    assert 'href="/report/form?lang=fr&amp;step=language"' in form_page
    page = client.get("/report/form?lang=en&step=language").get_data(as_text=True)
    assert 'lang="ar" hreflang="ar">العربية<' in page
    assert 'lang="fr" hreflang="fr">Français<' in page
    assert 'lang="uk" hreflang="uk">Українська<' in page
    assert len(re.findall(r"hreflang=", page)) == 17


def test_a_missing_string_falls_back_to_the_named_language_not_english():
    wolof = i18n.translations("wo")
    french = i18n.translations("fr")
    fallback = wolof._fallback  # the chain Babel's Translations keeps
    assert fallback is not None
    assert fallback.gettext("Send report") == french.gettext("Send report")
    assert wolof.gettext("Send report") != "Send report"


def test_addresses_are_typed_left_to_right_in_right_to_left_pages(client):
    page = client.get("/report/form?lang=ur&step=report").get_data(as_text=True)
    assert re.search(r'<textarea name="urls"[^>]*dir="ltr"', page)
    assert re.search(r'<input type="email"[^>]*dir="ltr"', page)


@pytest.mark.parametrize("lang, isolated", [("ar", True), ("ur", True), ("fr", False)])
def test_numbers_filled_into_right_to_left_sentences_are_isolated(submit, lang, isolated):
    page = submit(lang, description="x" * (DESCRIPTION_MAX + 1)).get_data(as_text=True)
    written = format_decimal(DESCRIPTION_MAX, locale=lang)
    assert ("\u2066" + written + "\u2069" in page) is isolated
    assert written in page


def test_partner_help_text_keeps_its_numbers_and_addresses_in_order(make_app):
    client = make_app(IWF_WIDGET_HELP_TEXT="خط المساعدة 0800 1111 أو https://help.example.org/ar.").test_client()
    page = client.get("/report/form?lang=ar&step=adult").get_data(as_text=True)
    assert (
        '<p class="iwf-partner-help" dir="auto">خط المساعدة <bdi dir="ltr">0800 1111</bdi> أو '
        '<bdi dir="ltr">https://help.example.org/ar</bdi>.</p>'
    ) in page
