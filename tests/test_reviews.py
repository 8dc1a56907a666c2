"""The review trail: who reviewed each language, for whom, when and against which catalog
version, in one record copied into the catalogs and STATUS.md; and a language that needs
review is offered only when a partner says so."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from iwf_widget import reviews
from iwf_widget.i18n import LOCALES, TRANSLATIONS_DIR
from iwf_widget.settings import ConfigError


def test_every_catalog_and_status_md_carry_the_review_recorded_for_it():
    recorded = reviews.load()
    status = (TRANSLATIONS_DIR / "STATUS.md").read_text("utf-8")
    for lang in (code for code in LOCALES if code != "en"):
        summary = recorded[lang].summary(reviews.catalog_version(lang))
        assert reviews.in_catalog(lang) == summary, f"{lang}: run python -m iwf_widget.reviews --write"
        row = next(line for line in status.splitlines() if line.startswith(f"| {lang} |"))
        assert f" | {summary} | " in row, f"{lang}: run python -m iwf_widget.reviews --write"


def test_a_review_is_of_one_catalog_version_and_a_later_change_shows(tmp_path):
    folder = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS_DIR, folder)
    before = reviews.catalog_version("fr", folder)
    (folder / "REVIEWS.toml").write_text(
        f'[fr]\nstate = "reviewed"\nreviewer = "Claire Martin"\norganisation = "e-Enfance"\n'
        f'date = "2026-11-30"\ncatalog = "{before}"\n',
        "utf-8",
    )
    review = reviews.load(folder)["fr"]
    assert review.effective(before) == reviews.REVIEWED
    assert review.summary(before) == f"reviewed by Claire Martin (e-Enfance) on 2026-11-30, catalog {before}"
    reviews.write(folder)
    assert reviews.in_catalog("fr", folder) == review.summary(before)

    po = folder / "fr" / "LC_MESSAGES" / "iwf_widget.po"
    po.write_text(po.read_text("utf-8").replace('msgstr "Vérifier"', 'msgstr "Contrôler"'), "utf-8")
    after = reviews.catalog_version("fr", folder)
    assert after != before
    assert review.effective(after) == reviews.CHANGED  # still offered: nothing is blocked by a change
    assert "changed since" in review.summary(after)


def test_the_review_trail_survives_the_standard_gettext_update(tmp_path):
    folder = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS_DIR, folder)
    before = {lang: reviews.in_catalog(lang, folder) for lang in ("wo", "fr")}
    pybabel = [sys.executable, "-m", "babel.messages.frontend"]
    done = subprocess.run(
        [
            *pybabel,
            "update",
            "-i",
            str(folder / "iwf_widget.pot"),
            "-d",
            str(folder),
            "-D",
            "iwf_widget",
            "--no-fuzzy-matching",
            "--ignore-obsolete",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert {lang: reviews.in_catalog(lang, folder) for lang in ("wo", "fr")} == before


def test_a_language_that_needs_review_is_offered_only_when_the_partner_says_so(make_app):
    needing = reviews.needing_review()
    assert needing, "no shipped language is marked needs-review"
    lang = sorted(needing)[0]
    with pytest.raises(ConfigError) as refused:
        make_app(IWF_WIDGET_LOCALES=f"fr,{lang},en")
    assert refused.value.key == "IWF_WIDGET_LOCALES"
    assert needing[lang] in str(refused.value) and "IWF_WIDGET_UNREVIEWED_LOCALES" in str(refused.value)
    client = make_app(IWF_WIDGET_LOCALES=f"fr,{lang},en", IWF_WIDGET_UNREVIEWED_LOCALES=lang).test_client()
    assert f'<html lang="{lang}"' in client.get(f"/report/form?lang={lang}").get_data(as_text=True)
    # Offering every language (no IWF_WIDGET_LOCALES) keeps offering it, as before.
    default = make_app().test_client()
    assert f'<html lang="{lang}"' in default.get(f"/report/form?lang={lang}").get_data(as_text=True)


def test_a_malformed_review_record_names_the_language_and_key(tmp_path):
    folder = tmp_path / "translations"
    folder.mkdir()
    (folder / "REVIEWS.toml").write_text('[fr]\nstate = "reviewed"\nreviewer = "X"\n', "utf-8")
    with pytest.raises(reviews.ReviewError, match=r"\[fr\] a review needs organisation, date, catalog"):
        reviews.load(folder)
    (folder / "REVIEWS.toml").write_text('[fr]\nstate = "approved"\n', "utf-8")
    with pytest.raises(reviews.ReviewError, match="use one of reviewed, unreviewed, needs-review"):
        reviews.load(folder)
