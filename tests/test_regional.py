"""Regional variants: pt-BR and pt-PT, es-ES and es-419, fr-MA are negotiated with their
region, say what differs there in the region's words, and fall back to their language for
everything else."""

from __future__ import annotations

import re
import typing as t

import pytest
from support import browser as B
from support.partner import partner_app, valid_answers

from iwf_widget import i18n
from iwf_widget.settings import ConfigError

#: A string whose words differ between the two regions of its language.
GUIDANCE = "Do not download, screenshot or send the images. We only need the web address."
SEND = "Send report"


def lang_of(page: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', page)
    assert found
    return found.group(1)


@pytest.mark.parametrize("tag", i18n.REGIONAL)
def test_a_regional_tag_is_answered_in_that_region_from_page_to_page(client, tag):
    form = client.get(f"/report/form?lang={tag}").get_data(as_text=True)
    assert lang_of(form) == tag
    assert f'action="/report/form?lang={tag}"' in form
    thanks = client.post(f"/report/form?lang={tag}", data=valid_answers(form)).get_data(as_text=True)
    assert lang_of(thanks) == tag and 'id="iwf-reference"' in thanks
    assert f'href="/report/status?lang={tag}"' in thanks
    # The footer names the language in itself, with its region.
    assert f'<span lang="{tag}">{i18n.display_name(tag)}</span>' in form


def test_the_browsers_region_is_kept_and_a_region_without_a_variant_gets_its_language(client):
    for header, expected in [
        ("pt-BR,pt;q=0.9", "pt-BR"),
        ("pt-PT", "pt-PT"),
        ("pt-AO", "pt"),
        ("es-AR", "es-419"),
        ("es-ES", "es-ES"),
        ("fr-MA", "fr-MA"),
        ("fr-SN", "fr"),
    ]:
        page = client.get("/report/form", headers={"Accept-Language": header}).get_data(as_text=True)
        assert lang_of(page) == expected, header


@pytest.mark.parametrize(("language", "regions"), [("pt", ("pt-BR", "pt-PT")), ("es", ("es-419", "es-ES"))])
def test_the_two_regions_of_a_language_differ_where_their_wording_does(client, language, regions):
    pages = {tag: client.get(f"/report/form?lang={tag}&step=report").get_data(as_text=True) for tag in regions}
    differing = 0
    for msgid in (GUIDANCE, SEND):
        said = {tag: i18n.translations(tag).gettext(msgid) for tag in regions}
        for tag in regions:
            assert said[tag] != msgid and said[tag] in pages[tag], (tag, msgid)
        differing += said[regions[0]] != said[regions[1]]
    assert differing, f"{regions} word {GUIDANCE!r} and {SEND!r} alike"
    # And everything a region does not word its own way is its language's.
    base = i18n.translations(language)
    for tag in regions:
        left = unworded(tag)
        assert left, f"{tag}'s catalog words every string itself: it is not a variant"
        for msgid in left:
            assert i18n.translations(tag).gettext(msgid) == base.gettext(msgid) != msgid, (tag, msgid)


def unworded(tag: str) -> list[str]:
    """The strings a regional catalog leaves to its language (empty in its .po)."""
    from babel.messages.pofile import read_po

    path = i18n.TRANSLATIONS_DIR / i18n.babel_locale(tag) / "LC_MESSAGES" / "iwf_widget.po"
    if not path.exists():
        with open(i18n.TRANSLATIONS_DIR / "iwf_widget.pot", "rb") as f:
            return [m.id for m in read_po(f) if isinstance(m.id, str) and m.id and not m.context][:20]
    with open(path, "rb") as f:
        return [m.id for m in read_po(f) if isinstance(m.id, str) and m.id and not m.string and not m.context][:20]


def test_european_and_brazilian_portuguese_pages_are_not_the_same(client):
    brazil = client.get("/report/form?lang=pt-BR&step=report").get_data(as_text=True)
    portugal = client.get("/report/form?lang=pt-PT&step=report").get_data(as_text=True)
    text = [re.sub(r"<[^>]+>|value=\"[^\"]*\"", "", page) for page in (brazil, portugal)]
    assert text[0] != text[1]


def test_settings_per_language_serve_its_regions_unless_a_region_has_its_own(make_app):
    client = make_app(
        IWF_WIDGET_HELP_TEXT_PT="Ligue para a linha de apoio 116 111.",
        IWF_WIDGET_HELP_TEXT_PT_BR="Ligue para o Disque 100.",
        IWF_WIDGET_EMERGENCY_NUMBER_PT_BR="190",
    ).test_client()
    brazil = client.get("/report/form?lang=pt-BR&step=other").get_data(as_text=True)
    portugal = client.get("/report/form?lang=pt-PT&step=other").get_data(as_text=True)
    assert "Disque 100" in brazil and "116 111" not in brazil
    assert "116 111" in portugal and "Disque 100" not in portugal
    assert "190" in client.get("/report/form?lang=pt-BR").get_data(as_text=True)


def test_a_partner_may_offer_a_language_only_in_its_own_region(make_app):
    client = make_app(IWF_WIDGET_LOCALES="pt-BR,en", IWF_WIDGET_DEFAULT_LOCALE="pt-BR").test_client()
    assert lang_of(client.get("/report/form").get_data(as_text=True)) == "pt-BR"
    assert lang_of(client.get("/report/form?lang=pt").get_data(as_text=True)) == "pt-BR"
    # Portugal's variant is not offered here: a visitor from Portugal reads the one that is.
    assert lang_of(client.get("/report/form?lang=pt-PT").get_data(as_text=True)) == "pt-BR"
    assert lang_of(client.get("/report/form?lang=fr").get_data(as_text=True)) == "pt-BR"


@pytest.mark.parametrize(("key", "value"), [("IWF_WIDGET_LOCALES", "pt-XX,en"), ("IWF_WIDGET_DEFAULT_LOCALE", "pt-BR")])
def test_a_region_the_widget_does_not_know_or_does_not_offer_stops_start_up(make_app, key, value):
    config = {key: value}
    if key == "IWF_WIDGET_DEFAULT_LOCALE":
        config["IWF_WIDGET_LOCALES"] = "fr,en"
    with pytest.raises(ConfigError) as failed:
        make_app(**config)
    assert failed.value.key == key


def test_a_partners_catalog_for_a_language_speaks_for_its_regions_too(make_app, tmp_path):
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    folder = tmp_path / "wording" / "pt" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    catalog = Catalog(locale="pt")
    catalog.add(SEND, "Enviar a denúncia agora")
    with open(folder / "iwf_widget.po", "wb") as f:
        write_po(f, catalog)
    client = make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(tmp_path / "wording")).test_client()
    for tag in ("pt", "pt-BR", "pt-PT"):
        page = client.get(f"/report/form?lang={tag}&step=report").get_data(as_text=True)
        assert "Enviar a denúncia agora" in page, tag
        # Strings the partner left alone keep the region's own wording.
        assert i18n.translations(tag).gettext(GUIDANCE) in page, tag


def test_a_plural_a_region_leaves_to_its_language_is_its_languages_not_english():
    msgid = (
        "You can send up to %(num)s address, each on its own line.",
        "You can send up to %(num)s addresses, each on its own line.",
    )
    for tag in ("es-ES", "es-419", "pt-PT", "pt-BR"):
        said = i18n.translations(tag).ngettext(*msgid, 5)
        assert said != msgid[1], tag


def test_dates_are_written_the_regions_way():
    assert i18n.format_day("2026-12-03", "pt-PT") == "3 de dezembro de 2026"
    assert i18n.format_day("2026-12-03", "es-419").endswith("2026")
    assert i18n.format_day("2026-12-03", "fr-MA") == "3 décembre 2026"


# -- the snippet, in Chromium ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sites(tmp_path_factory, keypair) -> t.Iterator[str]:
    tmp = tmp_path_factory.mktemp("regional")
    folder = tmp / "site"
    folder.mkdir()
    host_port = B.free_port()
    host = f"http://127.0.0.1:{host_port}"
    app = partner_app(tmp, keypair[1], IWF_WIDGET_ALLOWED_ORIGINS=host)
    widget_server = B.serve_wsgi(app)
    for tag in ("pt-BR", "pt-PT", "es-MX"):
        html = B.page_html("<div data-iwf-report></div>", lang=tag, widget=f"{widget_server.origin}/report")
        (folder / f"{tag}.html").write_text(html, "utf-8")
    host_server = B.serve_site(folder, B.partner_csp(widget_server.origin), port=host_port)
    yield host
    host_server.stop()
    widget_server.stop()


@pytest.mark.parametrize(("page_lang", "form_lang"), [("pt-BR", "pt-BR"), ("pt-PT", "pt-PT"), ("es-MX", "es-419")])
def test_the_snippet_asks_for_the_form_in_the_pages_region(browser, sites, page_lang, form_lang):
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{sites}/{page_lang}.html")
    frame = page.wait_for_selector("iframe.iwf-report-frame").content_frame()
    frame.wait_for_selector("[data-iwf-scope]")
    assert frame.evaluate("document.documentElement.lang") == form_lang
    ctx.close()


# -- a language the package does not ship ---------------------------------------------------------


def somali_catalog(folder, leave_out: int = 0) -> None:
    """A complete Somali catalog (every string "SO: " + its English), less ``leave_out`` strings."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    with open(i18n.TRANSLATIONS_DIR / "iwf_widget.pot", "rb") as f:
        template = read_po(f)
    catalog = Catalog(locale="so")
    messages = [m for m in template if m.id]
    for message in messages[leave_out:]:
        if isinstance(message.id, tuple):
            catalog.add(message.id, [f"SO: {message.id[0]}", f"SO: {message.id[1]}"], context=message.context)
        else:
            catalog.add(message.id, f"SO: {message.id}", context=message.context)
    target = folder / "so" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with open(target / "iwf_widget.po", "wb") as f:
        write_po(f, catalog)


def test_a_partner_may_add_a_language_with_a_complete_catalog(make_app, tmp_path):
    somali_catalog(tmp_path / "wording")
    client = make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(tmp_path / "wording"), IWF_WIDGET_LOCALES="so,en").test_client()
    form = client.get("/report/form?lang=so").get_data(as_text=True)
    assert lang_of(form) == "so" and 'dir="ltr"' in form
    assert "SO: Report child sexual abuse images" in form
    thanks = client.post("/report/form?lang=so", data=valid_answers(form)).get_data(as_text=True)
    assert "SO: Thank you. We have received your report." in thanks
    # The snippet offers it too.
    assert '"so"' in client.get("/report/embed.js").get_data(as_text=True)


def test_an_added_language_with_a_string_missing_stops_start_up_naming_it(make_app, tmp_path):
    from iwf_widget.settings import ConfigError

    somali_catalog(tmp_path / "wording", leave_out=1)
    with pytest.raises(ConfigError) as failed:
        make_app(IWF_WIDGET_TRANSLATIONS_DIR=str(tmp_path / "wording"), IWF_WIDGET_LOCALES="so,en")
    assert "is not translated" in str(failed.value) and "so/LC_MESSAGES" in str(failed.value)
    with pytest.raises(ConfigError):
        make_app(IWF_WIDGET_LOCALES="so,en")  # no catalog at all


def test_reports_in_a_regional_variant_or_an_added_language_reach_the_intake(tmp_path, keypair):
    from support.procs import System

    somali_catalog(tmp_path / "wording")
    system = System(
        tmp_path,
        keypair,
        IWF_WIDGET_LOCALES="pt-BR,es,so,en",
        IWF_WIDGET_TRANSLATIONS_DIR=str(tmp_path / "wording"),
    )
    try:
        system.start_intake()
        system.start_widget()
        for lang in ("pt-BR", "es-MX", "so"):
            system.submit(url=f"https://example.com/{lang}", lang=lang)
        rows = system.wait_for_reports(3)
        assert sorted(r["locale"] for r in rows) == ["es-419", "pt-BR", "so"]
        assert system.health()["outbox_failed"] == 0
    finally:
        system.stop_all()
