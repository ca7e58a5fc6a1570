"""The supervisors' figures (`period_statistics`) on both stores, over a seeded day of
warnings, calls and escalations written through the store's own methods. Every expected
number is worked out by hand from the seed below (the comments show the working), never
with the query under test."""

from __future__ import annotations

import re

import pytest

from robot.dialog.const import RiskLevel
from robot.store import AttemptResult, Decision, Intake, SqliteRepository
from robot.store.statistics import (
    ATTEMPTS_SQL,
    ESCALATIONS_SQL,
    FIRST_CALLS_SQL,
    WARNINGS_SQL,
    GroupFigures,
    PeriodStatistics,
    histogram_median,
)
from tests.store.test_sqlite import warning

DAY_SECONDS = 86_400.0
T0 = 1_795_000_000.0  # the period is [T0, T0 + one day)
INVESTMENT_V1 = ("zh-CN/investment", "v1-aaa")
INVESTMENT_V2 = ("zh-CN/investment", "v2-bbb")
LOAN = ("zh-CN/online_loan", "v2-ccc")
GENERIC = ("zh-CN/generic", "v1-ddd")

DISSUADED = AttemptResult(sip_status=200, call_outcome="answered", outcome="dissuaded", answered=True, duration_seconds=80)
REFUSED = AttemptResult(sip_status=200, call_outcome="answered", outcome="refused", answered=True, duration_seconds=20)
BUSY = AttemptResult(sip_status=486, call_outcome="busy", outcome="busy")
NO_ANSWER = AttemptResult(sip_status=480, call_outcome="no_answer", outcome="no_answer")
URGENT = AttemptResult(sip_status=200, call_outcome="answered", outcome="escalated", answered=True, duration_seconds=40,
                       escalation={"reason": "urgent_speech", "phrase": "我已经转账了", "mode": "ticket"})


async def call(store, warning_id: int, script: tuple[str, str], at: float):  # type: ignore[no-untyped-def]
    attempt = await store.claim(warning_id, owner="node-a", worker="w1", script=script[0], script_version=script[1],
                                lease_seconds=600, now=at)
    assert attempt is not None
    return attempt


async def seed(store, start: float = T0) -> None:  # type: ignore[no-untyped-def]
    """A day of work from `start` (T0 below). Times are seconds after it; the delay to the first call is in brackets."""
    T0 = start  # noqa: N806

    async def accept(external_id: str, at: float, **fields):  # type: ignore[no-untyped-def]
        return (await store.accept_warning(warning(external_id, **fields), T0 + at)).warning

    # W7: taken in the hour before the period, called (answered, dissuaded) 50 s into it.
    w7 = await accept("W7", -3600, phone="+8613800000007")
    a = await call(store, w7.id, INVESTMENT_V1, T0 + 50)
    await store.finish_attempt(a.id, DISSUADED, Decision(finished=True, outcome="dissuaded"), T0 + 130)
    # W1 medium investment at 100, called at 160 [60 s]: answered, dissuaded.
    w1 = await accept("W1", 100, phone="+8613800000001")
    a = await call(store, w1.id, INVESTMENT_V1, T0 + 160)
    await store.finish_attempt(a.id, DISSUADED, Decision(finished=True, outcome="dissuaded"), T0 + 240)
    # W2 low investment at 200; W6 (low, same number) at 250 is merged into it.
    w2 = await accept("W2", 200, phone="+8613800000002", risk=RiskLevel.LOW)
    await accept("W6", 250, phone="+8613800000002", risk=RiskLevel.LOW)
    # W3 medium online loan at 300, called at 330 [30 s]: answered, urgent speech, escalated.
    w3 = await accept("W3", 300, phone="+8613800000003", fraud_type="online_loan")
    a = await call(store, w3.id, LOAN, T0 + 330)
    await store.finish_attempt(a.id, URGENT, Decision(finished=True, outcome="escalated"), T0 + 370)
    # W4 high risk at 400: not called, escalated at intake.
    await store.accept_warnings([Intake(warning=warning("W4", phone="+8613800000004", risk=RiskLevel.HIGH,
                                                        fraud_type="impersonate_police"), escalate="high_risk")], T0 + 400)
    # W2's first call at 500 [300 s]: busy; its second at 1000 (script version 2): answered, refused.
    a = await call(store, w2.id, INVESTMENT_V1, T0 + 500)
    await store.finish_attempt(a.id, BUSY, Decision(finished=False, next_attempt_at=T0 + 1000), T0 + 510)
    # W5 low online loan at 500, called at 620 [120 s]: no answer, escalated as unanswered.
    w5 = await accept("W5", 500, phone="+8613800000005", risk=RiskLevel.LOW, fraud_type="online_loan")
    a = await call(store, w5.id, LOAN, T0 + 620)
    await store.finish_attempt(a.id, NO_ANSWER, Decision(finished=True, outcome="no_answer", escalate="unanswered"), T0 + 660)
    # W8 low investment at 700, called at 800 with the generic script [100 s]: still in flight.
    w8 = await accept("W8", 700, phone="+8613800000008", risk=RiskLevel.LOW)
    await call(store, w8.id, GENERIC, T0 + 800)
    a = await call(store, w2.id, INVESTMENT_V2, T0 + 1000)
    await store.finish_attempt(a.id, REFUSED, Decision(finished=True, outcome="refused"), T0 + 1030)
    # W9: the next day (outside the period): taken in, called, dissuaded, escalated by the script.
    w9 = await accept("W9", DAY_SECONDS + 10, phone="+8613800000009")
    a = await call(store, w9.id, INVESTMENT_V1, T0 + DAY_SECONDS + 20)
    await store.finish_attempt(a.id, DISSUADED, Decision(finished=True, outcome="dissuaded", escalate="script"),
                               T0 + DAY_SECONDS + 90)


@pytest.fixture
async def figures(store) -> PeriodStatistics:
    await seed(store)
    return await store.period_statistics(T0, T0 + DAY_SECONDS, [T0, T0 + 600, T0 + 3600])


async def test_warnings_calls_outcomes_and_escalations(figures):
    # Taken in during the period: W1 medium, W2 low, W3 medium, W4 high, W5 low, W6 low, W8 low.
    assert figures.warnings_by_risk == {"high": 1, "medium": 2, "low": 4}
    # Started in the period: W7 (50), W1 (160), W3 (330), W2 (500), W5 (620), W8 (800), W2 (1000).
    # Answered: W7, W1, W3, W2's second. Dissuaded: W7, W1.
    assert (figures.calls.calls_placed, figures.calls.answered, figures.calls.dissuaded) == (7, 4, 2)
    assert figures.calls_in_flight == 1  # W8
    assert figures.outcomes == {"dissuaded": 2, "busy": 1, "escalated": 1, "no_answer": 1, "refused": 1}
    # Opened in the period: W3's call (urgent speech), W4 at intake (high risk), W5's unanswered.
    assert figures.escalations_by_reason == {"high_risk": 1, "unanswered": 1, "urgent_speech": 1}


async def test_the_median_time_from_a_warning_to_its_first_call(figures):
    # Warnings of the period called themselves: W1 60, W2 300, W3 30, W5 120, W8 100 -> 30 60 [100] 120 300.
    assert (figures.first_calls, figures.median_seconds_to_first_call) == (5, 100.0)


async def test_per_scam_type(figures):
    assert figures.by_scam_type == [
        # W1, W2, W6, W8 taken in; calls W7, W1, W2 twice, W8; answered W7, W1, W2's second; dissuaded W7, W1;
        # first calls W1 60, W2 300, W8 100 -> median 100.
        GroupFigures(key="investment", warnings=4, calls_placed=5, answered=3, dissuaded=2, first_calls=3,
                     median_seconds_to_first_call=100.0),
        # W3, W5: both called, W3 answered; first calls 30 and 120 -> median (30 + 120) / 2.
        GroupFigures(key="online_loan", warnings=2, calls_placed=2, answered=1, dissuaded=0, first_calls=2,
                     median_seconds_to_first_call=75.0),
        GroupFigures(key="impersonate_police", warnings=1),  # W4: never called
    ]


async def test_per_script_version(figures):
    assert figures.by_script == [
        # W7, W1, W2's first; answered and dissuaded W7, W1; first calls of the period's warnings W1 60, W2 300.
        GroupFigures(key="zh-CN/investment", version="v1-aaa", calls_placed=3, answered=2, dissuaded=2, first_calls=2,
                     median_seconds_to_first_call=180.0),
        GroupFigures(key="zh-CN/online_loan", version="v2-ccc", calls_placed=2, answered=1, first_calls=2,
                     median_seconds_to_first_call=75.0),
        GroupFigures(key="zh-CN/generic", version="v1-ddd", calls_placed=1, first_calls=1, median_seconds_to_first_call=100.0),
        GroupFigures(key="zh-CN/investment", version="v2-bbb", calls_placed=1, answered=1),  # W2's second: not a first call
    ]


async def test_the_series_by_bucket(figures):
    assert [(p.start - T0, p.end - T0, p.warnings, p.calls_placed, p.answered, p.dissuaded) for p in figures.series] == [
        # W1 W2 W6 W3 W4 W5 taken in; W7 W1 W3 W2 called; W7 W1 W3 answered; W7 W1 dissuaded.
        (0, 600, 6, 4, 3, 2),
        # W8 taken in; W5 W8 W2 called; W2's second answered.
        (600, 3600, 1, 3, 1, 0),
        (3600, DAY_SECONDS, 0, 0, 0, 0),
    ]


async def test_an_empty_period_and_bad_buckets(store):
    await seed(store)
    empty = await store.period_statistics(T0 - 10 * DAY_SECONDS, T0 - 9 * DAY_SECONDS)
    assert empty.warnings_by_risk == {"high": 0, "medium": 0, "low": 0}
    assert empty.calls.calls_placed == 0 and empty.outcomes == {} and empty.escalations_by_reason == {}
    assert (empty.first_calls, empty.median_seconds_to_first_call, empty.by_scam_type, empty.series) == (0, None, [], [])
    with pytest.raises(ValueError, match="increasing"):
        await store.period_statistics(T0, T0 + DAY_SECONDS, [T0 + 600, T0])
    with pytest.raises(ValueError, match="within"):
        await store.period_statistics(T0, T0 + DAY_SECONDS, [T0 - 1])


async def test_a_period_is_read_through_its_indexes_not_every_row(store):
    """Migration 8: a period's rows are found by time (a day of 1.83 million warnings took 47 s without)."""
    if isinstance(store, SqliteRepository):
        for sql in (WARNINGS_SQL, ATTEMPTS_SQL, ESCALATIONS_SQL, FIRST_CALLS_SQL):
            plan = " ".join(row[3] for row in await store.database.read_all("EXPLAIN QUERY PLAN " + sql.format(mark="?"), T0, T0 + 1))
            assert re.search(r"SEARCH \w+ USING (COVERING )?INDEX (warnings_accepted|attempts_started|escalations_created)", plan), plan
    else:
        rows = await store.database.read_all("SELECT indexname FROM pg_indexes WHERE indexname IN "
                                             "('warnings_accepted', 'attempts_started', 'escalations_created')")
        assert len(rows) == 3


def test_the_median_from_a_histogram_of_delays():
    assert histogram_median({}) == (0, None)
    assert histogram_median({30.0: 1, 60.0: 1, 100.0: 1, 120.0: 1, 300.0: 1}) == (5, 100.0)
    assert histogram_median({30.0: 1, 120.0: 1}) == (2, 75.0)
    assert histogram_median({10.0: 2, 20.0: 2}) == (4, 15.0)  # the two middle values fall in different seconds
    assert histogram_median({10.0: 3, 20.0: 1}) == (4, 10.0)  # ... and in the same one
    assert histogram_median({5.0: 1, 7.0: 4, 9.0: 1}) == (6, 7.0)
