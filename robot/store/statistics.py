"""The supervisors' figures for a period, as the store counts them (`Repository.period_statistics`).

What each figure counts, for the period [since, until) in epoch seconds:

- warnings: warnings taken in (`accepted_at`) in the period, by their own risk (merged ones too);
- calls placed: call attempts started in the period (every attempt the robot dialled, whatever
  became of it: in flight, busy, a trunk fault, interrupted); answered: those a person or a
  machine picked up; dissuaded: those whose conversation ended `dissuaded`;
- outcomes: the finished attempts started in the period, by outcome (in-flight ones apart);
- escalations: escalations opened in the period, by reason;
- time to first call: for the warnings taken in during the period that have been called
  themselves (not those merged into another), the first attempt's start minus the warning's
  `accepted_at`, to the second; the median of those (the middle one, or the mean of the two
  middle ones), overall, per scam type, and per script version (the first attempt's);
- per scam type (the warning's `fraud_type`) and per script version (the attempt's script and
  version): the same counts;
- the series: calls placed, answered, dissuaded and warnings taken in, per bucket (the caller
  gives the buckets' starts, e.g. local midnights or hours; a bucket ends where the next starts,
  the last at `until`).

The store only counts: rates (answered / placed, dissuaded / answered) and everything shown
are the console's (`robot/console/stats.py`). The SQL here is the same text for both stores,
with `{mark}` for their parameter marker; each store runs it on its own connections
(`sqlite_stats.py`, `postgres_stats.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..dialog.const import AttemptOutcome, RiskLevel


class CallCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls_placed: int = 0
    answered: int = 0
    dissuaded: int = 0


class GroupFigures(CallCounts):
    """One scam type's, or one script version's, figures."""

    key: str = Field(description="The scam type, or the script's name")
    version: str = Field(default="", description="The script's version (per script only)")
    warnings: int = Field(default=0, description="Warnings taken in (per scam type only)")
    first_calls: int = Field(default=0, description="Warnings whose first call the median is over")
    median_seconds_to_first_call: float | None = None


class SeriesPoint(CallCounts):
    start: float = Field(description="The bucket's start, epoch seconds")
    end: float
    warnings: int = 0


class PeriodStatistics(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: float
    until: float
    warnings_by_risk: dict[str, int] = Field(description="Every risk level, zeros included")
    calls: CallCounts
    calls_in_flight: int = 0
    outcomes: dict[str, int] = Field(description="Finished attempts by outcome; only outcomes that occurred")
    escalations_by_reason: dict[str, int]
    first_calls: int = 0
    median_seconds_to_first_call: float | None = None
    by_scam_type: list[GroupFigures] = Field(description="By warnings, then calls, most first")
    by_script: list[GroupFigures] = Field(description="By calls placed, most first")
    series: list[SeriesPoint]


# -- the queries (the same for both stores; `{mark}` is the parameter marker) -----------------

WARNINGS_SQL = """SELECT risk, fraud_type, COUNT(*) AS warnings FROM warnings
    WHERE accepted_at >= {mark} AND accepted_at < {mark} GROUP BY risk, fraud_type"""

ATTEMPTS_SQL = """SELECT w.fraud_type, a.script, a.script_version, a.state, a.outcome, a.answered, COUNT(*) AS attempts
    FROM attempts a JOIN warnings w ON w.id = a.warning_id
    WHERE a.started_at >= {mark} AND a.started_at < {mark}
    GROUP BY w.fraud_type, a.script, a.script_version, a.state, a.outcome, a.answered"""

ESCALATIONS_SQL = """SELECT reason, COUNT(*) AS escalations FROM escalations
    WHERE created_at >= {mark} AND created_at < {mark} GROUP BY reason"""

FIRST_CALLS_SQL = """SELECT w.fraud_type, a.script, a.script_version, ROUND(a.started_at - w.accepted_at) AS delay_seconds,
        COUNT(*) AS warnings
    FROM warnings w JOIN attempts a ON a.warning_id = w.id AND a.number = 1
    WHERE w.accepted_at >= {mark} AND w.accepted_at < {mark}
    GROUP BY 1, 2, 3, 4"""
"""How many warnings of the period waited how long (to the second) for their first call, per
scam type and script version: the medians are taken from this histogram (one pass, no sort
of every warning; a day of 61,000 warnings reads a few thousand rows)."""


def series_sql(buckets: int, mark: str) -> str:
    values = ", ".join(f"({mark}, {mark})" for _ in range(buckets))
    return f"""WITH buckets(start_at, end_at) AS (VALUES {values})
        SELECT b.start_at, b.end_at,
            (SELECT COUNT(*) FROM warnings w WHERE w.accepted_at >= b.start_at AND w.accepted_at < b.end_at) AS warnings,
            (SELECT COUNT(*) FROM attempts a WHERE a.started_at >= b.start_at AND a.started_at < b.end_at) AS placed,
            (SELECT COUNT(*) FROM attempts a WHERE a.started_at >= b.start_at AND a.started_at < b.end_at
                AND a.answered = 1) AS answered,
            (SELECT COUNT(*) FROM attempts a WHERE a.started_at >= b.start_at AND a.started_at < b.end_at
                AND a.outcome = 'dissuaded') AS dissuaded
        FROM buckets b ORDER BY b.start_at"""


def bucket_bounds(since: float, until: float, bucket_starts: Sequence[float]) -> list[tuple[float, float]]:
    """(start, end) of each bucket: ends where the next starts, the last at `until`. The starts
    must be increasing and within [since, until)."""
    starts = list(bucket_starts)
    if any(not since <= start < until for start in starts) or any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
        raise ValueError(f"bucket starts must be increasing and within [{since}, {until}): {starts}")
    return list(zip(starts, [*starts[1:], until], strict=False))


# -- rows to the record ----------------------------------------------------------------------


def histogram_median(counts: Mapping[float, int]) -> tuple[int, float | None]:
    """How many values, and their median, from how many times each value occurs: the middle
    value, or the mean of the two middle values for an even count."""
    total = sum(counts.values())
    if total == 0:
        return 0, None
    wanted = sorted({(total + 1) // 2, (total + 2) // 2})  # 1-based positions of the middle value(s)
    found: list[float] = []
    seen = 0
    for value, count in sorted(counts.items()):
        seen += count
        while wanted and wanted[0] <= seen:
            found.append(value)
            wanted.pop(0)
    middle = found if len(found) == 2 else found * 2
    return total, (middle[0] + middle[1]) / 2


def _most_first(groups: Iterable[GroupFigures]) -> list[GroupFigures]:
    return sorted(groups, key=lambda g: (-g.warnings, -g.calls_placed, g.key, g.version))


def assemble(
    since: float, until: float, *, warnings: Sequence[Sequence[Any]], attempts: Sequence[Sequence[Any]],
    escalations: Sequence[Sequence[Any]], first_calls: Sequence[Sequence[Any]], series: Sequence[Sequence[Any]],
) -> PeriodStatistics:
    """The record from the rows of the queries above (tuples in their column order)."""
    by_risk = {risk.value: 0 for risk in RiskLevel}
    scam_types: dict[str, GroupFigures] = {}
    for risk, fraud_type, count in warnings:
        by_risk[risk] = by_risk.get(risk, 0) + int(count)
        scam_types.setdefault(fraud_type, GroupFigures(key=fraud_type)).warnings += int(count)
    calls = CallCounts()
    outcomes: dict[str, int] = {}
    in_flight = 0
    scripts: dict[tuple[str, str], GroupFigures] = {}
    for fraud_type, script, version, state, outcome, answered, count in attempts:
        count = int(count)
        groups = (calls, scam_types.setdefault(fraud_type, GroupFigures(key=fraud_type)),
                  scripts.setdefault((script, version), GroupFigures(key=script, version=version)))
        for group in groups:
            group.calls_placed += count
            group.answered += count if answered else 0
            group.dissuaded += count if outcome == AttemptOutcome.DISSUADED.value else 0
        if state == "in_flight" or outcome is None:
            in_flight += count
        else:
            outcomes[outcome] = outcomes.get(outcome, 0) + count
    delays: dict[float, int] = {}
    by_type: dict[str, dict[float, int]] = {}
    by_script: dict[tuple[str, str], dict[float, int]] = {}
    for fraud_type, script, version, delay_seconds, count in first_calls:
        for histogram in (delays, by_type.setdefault(fraud_type, {}), by_script.setdefault((script, version), {})):
            histogram[float(delay_seconds)] = histogram.get(float(delay_seconds), 0) + int(count)
    for fraud_type, histogram in by_type.items():
        group = scam_types.setdefault(fraud_type, GroupFigures(key=fraud_type))
        group.first_calls, group.median_seconds_to_first_call = histogram_median(histogram)
    for (script, version), histogram in by_script.items():
        group = scripts.setdefault((script, version), GroupFigures(key=script, version=version))
        group.first_calls, group.median_seconds_to_first_call = histogram_median(histogram)
    overall_count, overall_median = histogram_median(delays)
    return PeriodStatistics(
        since=since, until=until, warnings_by_risk=by_risk, calls=calls, calls_in_flight=in_flight,
        outcomes=dict(sorted(outcomes.items(), key=lambda item: (-item[1], item[0]))),
        escalations_by_reason=dict(sorted(((str(r), int(n)) for r, n in escalations), key=lambda item: (-item[1], item[0]))),
        first_calls=overall_count, median_seconds_to_first_call=overall_median,
        by_scam_type=_most_first(scam_types.values()), by_script=_most_first(scripts.values()),
        series=[SeriesPoint(start=float(start), end=float(end), warnings=int(w), calls_placed=int(placed), answered=int(answered),
                            dissuaded=int(dissuaded)) for start, end, w, placed, answered, dissuaded in series],
    )
