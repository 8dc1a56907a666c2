"""The figures behind ``iwf-widget stats`` (a partner's) and ``intake-stats`` (the hotline's).

A partner's come from the outbox's daily counters (never from reports, which
leave the outbox once delivered); the hotline's from the intake's stored
reports, grouped by partner, month, language and delay. Neither has anything
finer than a day or a month to show, or anything about a person.
"""

from __future__ import annotations

import collections
import datetime as dt
import typing as t
from gettext import NullTranslations

from . import bidi, i18n
from .charts import Chart, Row

#: Delay from submission to arrival: upper bound in seconds (None: no bound), and its label.
DELAYS = (60, 300, 3600, 86400, None)


def _translator(lang: str) -> NullTranslations:
    return i18n.translations(lang)


def _language(code: str) -> Row:
    return Row(i18n.display_name(code) if code in i18n.available() else code, 0, lang=code)


def partner_charts(daily: t.Iterable[tuple[str, str, int]], lang: str) -> tuple[str, str, list[Chart]]:
    """Title, introduction and charts of a partner's daily counters."""
    _ = _translator(lang).gettext
    per_day: collections.Counter[str] = collections.Counter()
    per_week: collections.Counter[str] = collections.Counter()
    per_language: collections.Counter[str] = collections.Counter()
    exits: dict[str, list[int]] = {kind: [0, 0] for kind in EXIT_LABELS}
    lookups: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    days = []
    for day, name, count in daily:
        days.append(day)
        kind, _sep, rest = name.partition(":")
        if kind == "report":
            per_day[day] += count
            year, week, _weekday = dt.date.fromisoformat(day).isocalendar()
            per_week[f"{year}-W{week:02d}"] += count
            per_language[rest] += count
        elif kind == "lookup":
            lookups[day][0 if rest == "answered" else 1] += count
        elif kind == "exit":
            step, _sep, how = rest.partition(":")
            if step in exits:
                exits[step][0 if how == "js" else 1] += count
    labels = exit_labels(lang)
    columns = (
        # TRANSLATORS: A column heading in the statistics: a calendar day (the rows are dates).
        _("Day"),
        # TRANSLATORS: A column heading in the statistics: how many reports were sent.
        _("Reports"),
    )
    # TRANSLATORS: A column heading in the statistics: a calendar week (rows such as 2026-W49).
    week_heading = _("Week")
    # TRANSLATORS: A column heading in the statistics: the kind of help people were sent to.
    kind_heading = _("Kind")
    # TRANSLATORS: A column heading in the statistics: how many people.
    people = _("People")
    charts = [
        Chart("per-day", _("Reports per day"), columns, [Row(d, n, ltr=True) for d, n in sorted(per_day.items())]),
        Chart(
            "per-week",
            _("Reports per week"),
            (week_heading, _("Reports")),
            [Row(w, n, ltr=True) for w, n in sorted(per_week.items())],
        ),
        Chart(
            "languages",
            _("Reports by language"),
            (_("Language"), _("Reports")),
            [Row(_language(code).label, n, lang=code) for code, n in per_language.most_common()],
        ),
        Chart(
            "exits",
            _("People sent to other help, by kind"),
            (kind_heading, people, _("With JavaScript"), _("Without JavaScript")),
            [Row(labels[k], js + nojs, extra=(js, nojs)) for k, (js, nojs) in exits.items() if js + nojs],
        ),
        Chart(
            "lookups",
            # TRANSLATORS: A chart title in the statistics: how often people used their reference to check on a report they sent.
            _("Checks on reports per day"),
            (
                _("Day"),
                # TRANSLATORS: A column heading in the statistics: checks that were answered.
                _("Answered"),
                # TRANSLATORS: A column heading in the statistics: checks refused for a while because too many were made ("Please wait before checking again").
                _("Asked to wait"),
            ),
            [Row(d, a, ltr=True, extra=(w,)) for d, (a, w) in sorted(lookups.items())],
        ),
    ]
    return _("Report form statistics"), _period(_, days), charts


#: The scope step's ways out, in the order the form shows them.
EXIT_LABELS = ("danger", "self", "adult", "other")


def exit_labels(lang: str) -> dict[str, str]:
    _ = _translator(lang).gettext
    return {
        # TRANSLATORS: In the statistics: people who said a child is in danger right now.
        "danger": _("A child in danger right now"),
        # TRANSLATORS: In the statistics: people who said someone threatens to share images of them.
        "self": _("Threats to share images of them"),
        # TRANSLATORS: In the statistics: people who said they saw sexual images of adults only.
        "adult": _("Images of adults only"),
        # TRANSLATORS: In the statistics: bullying, hate or something else.
        "other": _("Something else"),
    }


def intake_charts(rows: t.Iterable[tuple[str, str, int, int]], lang: str) -> tuple[str, str, list[Chart]]:
    """Title, introduction and charts of the intake's reports: (partner, locale, created, received)."""
    _ = _translator(lang).gettext
    per_month: collections.Counter[tuple[str, str]] = collections.Counter()
    per_language: collections.Counter[str] = collections.Counter()
    delays = [0] * len(DELAYS)
    days = []
    for partner, locale, created, received in rows:
        day = dt.datetime.fromtimestamp(received, dt.timezone.utc)
        days.append(day.strftime("%Y-%m-%d"))
        per_month[(partner, day.strftime("%Y-%m"))] += 1
        per_language[locale] += 1
        delay = max(0, received - created)
        delays[next(i for i, bound in enumerate(DELAYS) if bound is None or delay < bound)] += 1
    delay_labels = (
        # TRANSLATORS: How long a report took from being sent to reaching the hotline.
        _("Under 1 minute"),
        _("1 to 5 minutes"),
        _("5 to 60 minutes"),
        _("1 to 24 hours"),
        _("More than a day"),
    )
    charts = [
        Chart(
            "partner-month",
            _("Reports per partner per month"),
            (_("Partner and month"), _("Reports")),
            [Row(f"{p} {m}", n, ltr=True) for (p, m), n in sorted(per_month.items())],
        ),
        Chart(
            "languages",
            _("Reports by language"),
            (_("Language"), _("Reports")),
            [Row(_language(code).label, n, lang=code) for code, n in per_language.most_common()],
        ),
        Chart(
            "delays",
            _("Delay from submission to arrival"),
            # TRANSLATORS: A column heading: how long reports took to reach the hotline.
            (_("Delay"), _("Reports")),
            [Row(label, n) for label, n in zip(delay_labels, delays, strict=True) if n],
        ),
    ]
    return _("Hotline statistics"), _period(_, days), charts


def empty_text(lang: str) -> str:
    return _translator(lang).gettext("No figures yet.")


def _period(_: t.Callable[[str], str], days: list[str]) -> str:
    if not days:
        return _("No figures yet.")
    # TRANSLATORS: %(start)s and %(end)s are dates such as 2026-12-01.
    return _("Figures from %(start)s to %(end)s (UTC), counted per day.") % {
        "start": bidi.isolate(min(days)),
        "end": bidi.isolate(max(days)),
    }
