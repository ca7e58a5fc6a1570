"""The dashboard page's content from the store's figures: the numbers as shown (rates,
durations, names in the page's language), the tables and the SVG charts. Everything here is
presentation; the counting is the store's (`robot/store/statistics.py`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from markupsafe import Markup

from ..store.statistics import GroupFigures, PeriodStatistics
from .charts import Bar, Series, bar_chart, line_chart
from .dashboard_text import Catalogue
from .stats import (
    PERIOD_DAYS,
    REFERENCE_DISSUASION_RATE,
    Period,
    bucket_label,
    connect_rate,
    dissuasion_rate,
    duration,
    percent,
)

RISK_FIRST = {"high": 0, "medium": 1, "low": 2}
REFERENCE_COLOUR = "#9ca3af"


@dataclass(frozen=True)
class Figure:
    """One headline number: `id` names it in the page (`data-figure`), `value` is the raw number."""

    id: str
    label: str
    shown: str
    value: float | None
    note: str = ""


@dataclass(frozen=True)
class GroupRow:
    name: str
    version: str
    warnings: int
    calls_placed: int
    answered: int
    connect_rate: str
    dissuaded: int
    dissuasion_rate: str
    median_first_call: str


@dataclass(frozen=True)
class PeriodLink:
    days: int
    label: str
    current: bool


@dataclass(frozen=True)
class DashboardContent:
    periods: list[PeriodLink]
    period_range: str
    since: float
    until: float
    figures: list[Figure]
    explanation: str
    series_chart: Markup
    risk_chart: Markup
    outcome_chart: Markup
    escalation_chart: Markup
    scam_type_chart: Markup
    script_chart: Markup
    scam_types: list[GroupRow]
    scripts: list[GroupRow]


def _local(seconds: float, zone: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(seconds, zone).strftime("%Y-%m-%d %H:%M")


def _rate_shown(numerator: int, denominator: int, rate: float | None) -> str:
    return f"{percent(rate)} ({numerator}/{denominator})"


def _units(text: Catalogue) -> tuple[str, str, str]:
    return text.text("unit_hours"), text.text("unit_minutes"), text.text("unit_seconds")


def _row(group: GroupFigures, name: str, text: Catalogue) -> GroupRow:
    return GroupRow(
        name=name, version=group.version, warnings=group.warnings, calls_placed=group.calls_placed, answered=group.answered,
        connect_rate=percent(connect_rate(group)), dissuaded=group.dissuaded, dissuasion_rate=percent(dissuasion_rate(group)),
        median_first_call=duration(group.median_seconds_to_first_call, _units(text)),
    )


def _counts_chart(counts: dict[str, int], title: str, text: Catalogue) -> Markup:
    bars = [Bar(text.code(code), count) for code, count in counts.items()]
    return Markup(bar_chart(bars, title=title, empty=text.text("nothing")))


def _rates_chart(groups: list[GroupFigures], names: list[str], title: str, text: Catalogue) -> Markup:
    """Each group's dissuasion rate (of those with answered calls), beside the reference."""
    bars = [Bar(name, (rate or 0) * 100, shown=_rate_shown(group.dissuaded, group.answered, rate))
            for group, name in zip(groups, names, strict=True)
            if (rate := dissuasion_rate(group)) is not None]
    if bars:
        bars.append(Bar(text.text("reference"), REFERENCE_DISSUASION_RATE * 100, shown=percent(REFERENCE_DISSUASION_RATE),
                        colour=REFERENCE_COLOUR))
    return Markup(bar_chart(bars, title=title, empty=text.text("nothing"), width=640, scale_max=100))


def dashboard_content(period: Period, figures: PeriodStatistics, text: Catalogue, zone: ZoneInfo) -> DashboardContent:
    calls = figures.calls
    warnings_total = sum(figures.warnings_by_risk.values())
    escalations_total = sum(figures.escalations_by_reason.values())
    connect, dissuasion = connect_rate(calls), dissuasion_rate(calls)
    headline = [
        Figure("warnings", text.text("warnings_total"), str(warnings_total), warnings_total),
        Figure("calls-placed", text.text("calls_placed"), str(calls.calls_placed), calls.calls_placed,
               text.text("in_flight") + f" {figures.calls_in_flight}" if figures.calls_in_flight else ""),
        Figure("answered", text.text("answered"), str(calls.answered), calls.answered),
        Figure("connect-rate", text.text("connect_rate"), percent(connect), connect, f"{calls.answered}/{calls.calls_placed}"),
        Figure("dissuaded", text.text("dissuaded"), str(calls.dissuaded), calls.dissuaded),
        Figure("dissuasion-rate", text.text("dissuasion_rate"), percent(dissuasion), dissuasion,
               f"{text.text('dissuasion_rate_note')}: {calls.dissuaded}/{calls.answered}. "
               + text.text("reference_rate", rate=percent(REFERENCE_DISSUASION_RATE))),
        Figure("escalations", text.text("escalations_total"), str(escalations_total), escalations_total),
        Figure("median-first-call", text.text("median_first_call"), duration(figures.median_seconds_to_first_call, _units(text)),
               figures.median_seconds_to_first_call, text.text("median_first_call_note", count=figures.first_calls)),
    ]
    labels = [bucket_label(point.start, period.bucket, zone) for point in figures.series]
    series = [
        Series(text.text("chart_warnings"), [p.warnings for p in figures.series]),
        Series(text.text("chart_calls"), [p.calls_placed for p in figures.series]),
        Series(text.text("chart_answered"), [p.answered for p in figures.series]),
        Series(text.text("chart_dissuaded"), [p.dissuaded for p in figures.series]),
    ]
    scam_names = [text.code(group.key) for group in figures.by_scam_type]
    script_names = [f"{group.key} {group.version}" for group in figures.by_script]
    return DashboardContent(
        periods=[PeriodLink(days, text.text(f"period_{days}"), days == period.days) for days in PERIOD_DAYS],
        period_range=text.text("period_range", since=_local(period.since, zone), until=_local(period.until, zone), zone=zone.key),
        since=period.since, until=period.until, figures=headline, explanation=text.text("what_numbers_mean"),
        series_chart=Markup(line_chart(labels, series, title=text.text("over_time"))),
        risk_chart=_counts_chart(dict(sorted(figures.warnings_by_risk.items(), key=lambda item: RISK_FIRST.get(item[0], 3))),
                                 text.text("warnings_by_risk"), text),
        outcome_chart=_counts_chart(figures.outcomes, text.text("outcomes"), text),
        escalation_chart=_counts_chart(figures.escalations_by_reason, text.text("escalations_by_reason"), text),
        scam_type_chart=_rates_chart(figures.by_scam_type, scam_names, text.text("dissuasion_rate"), text),
        script_chart=_rates_chart(figures.by_script, script_names, text.text("dissuasion_rate"), text),
        scam_types=[_row(group, name, text) for group, name in zip(figures.by_scam_type, scam_names, strict=True)],
        scripts=[_row(group, group.key, text) for group in figures.by_script],
    )
