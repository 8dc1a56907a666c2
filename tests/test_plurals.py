"""Plural strings read as each language's grammar wants, for every count.

Two checks. Every catalog's Plural-Forms picks one form per CLDR plural category
(so a string has a form for "one", "few", "many"... wherever the language has
them); and the words around the number are what a native speaker writes, from a
table per language, for n = 0, 1, 2, 3, 11 and 100.
"""

from __future__ import annotations

import gettext
import re

import pytest
from babel import Locale
from babel.messages.pofile import read_po

from iwf_widget import i18n
from iwf_widget.catalog_check import COUNT, single_count_forms

LANGUAGES = [lang for lang in i18n.LOCALES if lang != "en"]
COUNTS = (0, 1, 2, 3, 11, 100)
#: Enough counts to meet every integer category (Arabic's "many" is 11-99, French and
#: Spanish have one for millions).
SAMPLES = (*range(0, 201), 1000, 1001, 1_000_000, 2_000_000)

WAIT = (
    "A lot of reports have arrived in a short time. Please wait %(num)s minute, then send your report again.",
    "A lot of reports have arrived in a short time. Please wait %(num)s minutes, then send your report again.",
)
AT_MOST = (
    "You can send up to %(num)s address at a time. Remove some, and send the others in another report.",
    "You can send up to %(num)s addresses at a time. Remove some, and send the others in another report.",
)


SHORTEN = ("Please shorten this to %(num)s character.", "Please shorten this to %(num)s characters.")


def render(lang: str, msgids: tuple[str, str], n: int) -> str:
    return i18n.translations(lang).ngettext(*msgids, n) % {"num": n}


def plural_rule(lang: str):
    """The catalog's own choice of form for a count (from its Plural-Forms header)."""
    if lang == "en":
        return lambda n: int(n != 1)
    return i18n.translations(lang).plural


def catalog(lang: str):
    with (i18n.TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "iwf_widget.po").open("rb") as f:
        return read_po(f, locale=lang)


@pytest.mark.parametrize("lang", i18n.LOCALES)
def test_plural_forms_match_the_cldr_categories_one_to_one(lang):
    pick, locale = plural_rule(lang), Locale.parse(lang)
    form_of: dict[str, int] = {}
    category_of: dict[int, str] = {}
    for n in SAMPLES:
        category, form = locale.plural_form(n), pick(n)
        assert form_of.setdefault(category, form) == form, f"{lang}: {category!r} takes two forms (n={n})"
        assert category_of.setdefault(form, category) == category, f"{lang}: form {form} serves two categories (n={n})"


#: "Please wait N minutes": the number and its noun as the language says them.
#: A phrase without the number means the number is said in words.
WAIT_MINUTES = {
    "en": ["0 minutes", "1 minute", "2 minutes", "3 minutes", "11 minutes", "100 minutes"],
    # Arabic: the dual and "one minute" without a digit; 3-10 plural; 11-99 singular
    # (tamyiz); 100 and 0 singular.
    "ar": ["0 دقيقة", "دقيقة واحدة", "دقيقتين", "3 دقائق", "11 دقيقة", "100 دقيقة"],
    "es": ["0 minutos", "1 minuto", "2 minutos", "3 minutos", "11 minutos", "100 minutos"],
    # French: 0 and 1 are singular.
    "fr": ["0 minute", "1 minute", "2 minutes", "3 minutes", "11 minutes", "100 minutes"],
    "hi": ["0 मिनट", "1 मिनट", "2 मिनट", "3 मिनट", "11 मिनट", "100 मिनट"],
    "id": ["0 menit", "1 menit", "2 menit", "3 menit", "11 menit", "100 menit"],
    "kk": ["0 минут", "1 минут", "2 минут", "3 минут", "11 минут", "100 минут"],
    # Lingala: the noun before the number; loanword plural in ba-, as Kinshasa writes it.
    "ln": ["miniti 0", "miniti 1", "baminiti 2", "baminiti 3", "baminiti 11", "baminiti 100"],
    "mn": ["0 минут", "1 минут", "2 минут", "3 минут", "11 минут", "100 минут"],
    "ms": ["0 minit", "1 minit", "2 minit", "3 minit", "11 minit", "100 minit"],
    "ne": ["0 मिनेट", "1 मिनेट", "2 मिनेट", "3 मिनेट", "11 मिनेट", "100 मिनेट"],
    "ps": ["0 دقیقې", "1 دقیقه", "2 دقیقې", "3 دقیقې", "11 دقیقې", "100 دقیقې"],
    # Portuguese: 0 takes the singular, as CLDR's "one" (i = 0..1) says.
    "pt": ["0 minuto", "1 minuto", "2 minutos", "3 minutos", "11 minutos", "100 minutos"],
    # Swahili: the noun before the number.
    "sw": ["dakika 0", "dakika 1", "dakika 2", "dakika 3", "dakika 11", "dakika 100"],
    # Ukrainian: accusative after "зачекайте"; 2-4 paucal, 0 and 5-20 genitive plural.
    "uk": ["0 хвилин", "1 хвилину", "2 хвилини", "3 хвилини", "11 хвилин", "100 хвилин"],
    "ur": ["0 منٹ", "1 منٹ", "2 منٹ", "3 منٹ", "11 منٹ", "100 منٹ"],
    "wo": ["0 simili", "1 simili", "2 simili", "3 simili", "11 simili", "100 simili"],
}

#: "At most N addresses", where the noun changes with the number.
AT_MOST_ADDRESSES = {
    "ar": ["0 رابط", "رابطًا واحدًا", "رابطين", "3 روابط", "11 رابطًا", "100 رابط"],
    "uk": ["0 адрес", "1 адресу", "2 адреси", "3 адреси", "11 адрес", "100 адрес"],
    "fr": ["0 adresse", "1 adresse", "2 adresses", "3 adresses", "11 adresses", "100 adresses"],
    "ps": ["0 پتې", "1 پته", "2 پتې", "3 پتې", "11 پتې", "100 پتې"],
    "hi": ["0 पता", "1 पता", "2 पते", "3 पते", "11 पते", "100 पते"],
}


#: "Please shorten this to N characters": after a preposition (Arabic "إلى", Ukrainian "до").
SHORTEN_TO = {
    "ar": ["0 حرف", "حرف واحد", "حرفين", "3 أحرف", "11 حرفًا", "100 حرف"],
    "uk": ["0 символів", "1 символу", "2 символів", "3 символів", "11 символів", "100 символів"],
    "fr": ["0 caractère", "1 caractère", "2 caractères", "3 caractères", "11 caractères", "100 caractères"],
    "ps": ["0 تورو", "1 توري", "2 تورو", "3 تورو", "11 تورو", "100 تورو"],
    "ur": ["0 حروف", "1 حرف", "2 حروف", "3 حروف", "11 حروف", "100 حروف"],
}


def assert_says(text: str, phrase: str, n: int) -> None:
    assert re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text), f"n={n}: {phrase!r} not in {text!r}"
    if str(n) not in phrase:
        assert not re.search(rf"(?<!\d){n}(?!\d)", text), f"n={n}: said in words, yet the digits are there: {text!r}"


@pytest.mark.parametrize("lang", i18n.LOCALES)
@pytest.mark.parametrize("index, n", list(enumerate(COUNTS)))
def test_please_wait_n_minutes_reads_as_native_grammar_requires(lang, index, n):
    assert_says(render(lang, WAIT, n), WAIT_MINUTES[lang][index], n)


@pytest.mark.parametrize(
    "n, phrase",
    [
        (21, "21 хвилину"),
        (22, "22 хвилини"),
        (25, "25 хвилин"),
        (111, "111 хвилин"),
        (112, "112 хвилин"),
        (101, "101 хвилину"),
    ],
)
def test_ukrainian_minutes_follow_the_last_digits(n, phrase):
    assert_says(render("uk", WAIT, n), phrase, n)


@pytest.mark.parametrize("n, phrase", [(10, "10 روابط"), (102, "102 رابط"), (103, "103 روابط"), (111, "111 رابطًا")])
def test_arabic_addresses_follow_the_last_two_digits(n, phrase):
    assert_says(render("ar", AT_MOST, n), phrase, n)


@pytest.mark.parametrize("lang", sorted(AT_MOST_ADDRESSES))
@pytest.mark.parametrize("index, n", list(enumerate(COUNTS)))
def test_at_most_n_addresses_reads_as_native_grammar_requires(lang, index, n):
    assert_says(render(lang, AT_MOST, n), AT_MOST_ADDRESSES[lang][index], n)


@pytest.mark.parametrize("lang", sorted(SHORTEN_TO))
@pytest.mark.parametrize("index, n", list(enumerate(COUNTS)))
def test_shorten_to_n_characters_reads_as_native_grammar_requires(lang, index, n):
    assert_says(render(lang, SHORTEN, n), SHORTEN_TO[lang][index], n)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_plural_string_shows_its_count_unless_the_form_is_for_one_count(lang):
    """Each plural entry, for each count: the count is in the text, unless its form
    serves that count alone (then the language may say it in words)."""
    po = catalog(lang)
    worded = single_count_forms(po.plural_expr)
    pick = gettext.c2py(po.plural_expr)
    entries = [m for m in po if m.id and isinstance(m.id, tuple)]
    assert entries
    for message in entries:
        assert len(message.string) == po.num_plurals, f"{lang}: {message.id[0]!r} has the wrong number of forms"
        for n in COUNTS:
            form = pick(n)
            text = message.string[form]
            if form not in worded:
                assert COUNT in text, f"{lang}: form {form} of {message.id[0]!r} (n={n}) leaves out the count"
