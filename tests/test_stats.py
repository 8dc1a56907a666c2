"""Partner and hotline statistics: daily counters, the printed figures, and the charts in Chromium."""

from __future__ import annotations

import httpx
import pytest
from support.browser import axe_violations, explain, watching
from support.cli import succeeds
from support.partner import mistyped
from support.procs import System, wait_until

from iwf_widget import charts, reference
from iwf_widget.outbox import Outbox
from iwf_widget.stats import intake_charts

DASHBOARD_TOKEN = "dashboard-token-0123456789abcdef"
LANGUAGES = {"en": 1, "fr": 2, "ar": 3}
UNKNOWN = reference.for_report("0" * 31 + "1")


@pytest.fixture(scope="module")
def reported(tmp_path_factory, keypair, browser):
    """Reports in three languages delivered to the intake; scope-step exits with and without JavaScript."""
    tmp = tmp_path_factory.mktemp("stats")
    system = System(tmp, keypair)
    system.intake_env["IWF_INTAKE_DASHBOARD_TOKEN"] = DASHBOARD_TOKEN
    system.widget_env.update(IWF_WIDGET_WORK_DIFFICULTY="0", IWF_WIDGET_STATUS_RATE_LIMIT="2/hour")
    system.start_intake()
    system.start_widget()
    try:
        for lang, n in LANGUAGES.items():
            for _ in range(n):
                held = system.submit(lang=lang)
        # Two checks answered (a known and an unknown reference), one asked to wait (over 2/hour),
        # and a mistyped one, which is not counted: it is corrected and sent again.
        looked = [system.look(typed) for typed in (held, UNKNOWN, held, mistyped(held))]
        assert looked == [200, 200, 429, 400], looked
        assert system.http.get(f"{system.widget_url}/form", params={"step": "adult"}).status_code == 200
        assert system.http.get(f"{system.widget_url}/form", params={"step": "adult"}).status_code == 200
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{system.widget_url}/form?lang=en")
        page.click('[data-iwf-go="danger"]')
        outbox = Outbox(system.widget_env["IWF_WIDGET_OUTBOX_URL"], create=False)
        assert wait_until(lambda: any(name == "exit:danger:js" for _, name, _ in outbox.daily()))
        outbox.close()
        context.close()
        system.wait_for_reports(sum(LANGUAGES.values()))
        yield system
    finally:
        system.stop_all()


def test_daily_counters_hold_languages_exits_and_checks_never_reports(reported):
    outbox = Outbox(reported.widget_env["IWF_WIDGET_OUTBOX_URL"], create=False)
    try:
        counts = {name: n for _, name, n in outbox.daily()}
        days = {day for day, _, _ in outbox.daily()}
    finally:
        outbox.close()
    assert counts == {
        "report:en": 1,
        "report:fr": 2,
        "report:ar": 3,
        "exit:adult:nojs": 2,
        "exit:danger:js": 1,
        "lookup:answered": 2,
        "lookup:limited": 1,
    }
    assert all(len(day) == 10 for day in days)  # a day, nothing finer


def test_stats_prints_the_counts(reported):
    out = succeeds(reported.widget_env, "stats").stdout
    assert "Reports by language" in out and "Français" in out
    assert "Images of adults only" in out and "A child in danger right now" in out
    assert "Checks on reports per day" in out and "Asked to wait" in out


def test_an_exit_from_another_site_is_not_counted(reported):
    answer = httpx.post(f"{reported.widget_url}/exit", data={"kind": "self"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 204
    outbox = Outbox(reported.widget_env["IWF_WIDGET_OUTBOX_URL"], create=False)
    try:
        assert not any(name.startswith("exit:self") for _, name, _ in outbox.daily())
    finally:
        outbox.close()


def figures(page) -> dict[str, dict[str, list[int]]]:
    """Per chart: the bars' values and the table's first number column."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-iwf-chart]')].map(svg => {
            const id = svg.getAttribute('data-iwf-chart');
            const table = document.querySelector(`[data-iwf-table="${id}"]`);
            return [id, {
                bars: [...svg.querySelectorAll('rect')].map(r => Number(r.dataset.value)),
                widths: [...svg.querySelectorAll('rect')].map(r => r.getBBox().width),
                shown: [...svg.querySelectorAll('text[data-value]')].map(t => Number(t.textContent)),
                table: [...table.querySelectorAll('tbody tr')].map(tr => Number(tr.querySelector('td').textContent)),
            }];
        }))"""
    )


def open_page(browser, path):
    context = browser.new_context()
    page = context.new_page()
    with watching(context) as seen:
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
    return context, page, seen


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_partner_page_shows_charts_that_match_their_tables(reported, browser, tmp_path, lang):
    out = tmp_path / f"stats-{lang}.html"
    succeeds(reported.widget_env, "stats", "--html", str(out), "--lang", lang)
    context, page, seen = open_page(browser, out)
    try:
        assert seen["origins"] == {"file:"}, seen["origins"]  # nothing leaves the page
        assert page.evaluate("document.documentElement.dir") == ("rtl" if lang == "ar" else "ltr")
        found = figures(page)
        assert found["per-day"]["table"] == [6]
        assert sorted(found["languages"]["table"]) == [1, 2, 3]
        assert found["exits"]["table"] == [1, 2]  # danger, then adult, in the form's order
        assert found["lookups"]["table"] == [2]  # answered; the one asked to wait is the next column
        for chart in found.values():
            assert chart["bars"] == chart["table"] == chart["shown"]
            assert all(w > 0 for w in chart["widths"])
        violations = axe_violations(page)
        assert not violations, explain(violations)
    finally:
        context.close()


def test_hotline_page_shows_partners_languages_and_delays(reported, browser, tmp_path):
    out = tmp_path / "intake.html"
    succeeds(reported.intake_env, "intake-stats", "--html", str(out))
    context, page, seen = open_page(browser, out)
    try:
        assert seen["origins"] == {"file:"}, seen["origins"]
        found = figures(page)
        assert found["partner-month"]["table"] == [6]
        assert sorted(found["languages"]["table"]) == [1, 2, 3]
        assert sum(found["delays"]["table"]) == 6
        for chart in found.values():
            assert chart["bars"] == chart["table"] == chart["shown"]
        violations = axe_violations(page)
        assert not violations, explain(violations)
    finally:
        context.close()


def test_intake_dashboard_needs_its_token(reported):
    url = f"{reported.intake_url}/dashboard"
    assert httpx.get(url).status_code == 401
    answer = httpx.get(url, params={"lang": "fr"}, headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"})
    assert answer.status_code == 200
    assert 'lang="fr"' in answer.text and "data-iwf-chart" in answer.text
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]


def test_a_right_to_left_chart_mirrors_its_bars():
    chart = charts.Chart("c", "t", ("a", "b"), [charts.Row("x", 4), charts.Row("y", 2)])
    ltr, rtl = str(charts.bar_chart(chart, "ltr")), str(charts.bar_chart(chart, "rtl"))
    assert f'<rect x="{charts.LABEL}"' in ltr
    assert f'<rect x="{charts.LABEL}"' not in rtl and 'direction="rtl"' in rtl


def test_delays_fall_into_their_bands():
    minute = 60
    rows = [("p", "en", 0, 0), ("p", "en", 0, 2 * minute), ("p", "fr", 0, 2 * 86400)]
    _, _, found = intake_charts(rows, "en")
    delays = {r.label: r.value for r in found[2].rows}
    assert delays == {"Under 1 minute": 1, "1 to 5 minutes": 1, "More than a day": 1}
