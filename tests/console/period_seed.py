"""A realistic mix of warnings and calls over the last nine local days, for the dashboard's
browser test: the plain list of cases (from which the test works out by hand what the page
must show), and writing them into a store through its own methods, in time order, the way
intake and the call workers' reports put them there.

Calls end dissuaded, refused, escalated (urgent speech), busy (then called again), unanswered
(escalated as unanswered), or are still in flight; high-risk warnings are escalated at intake
and never called; one warning arrives for a number already waiting and is merged into it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from robot.store import AttemptResult, Decision, Intake, NewWarning
from robot.store.repository import Repository

RESULTS = ("dissuaded", "refused", "escalated", "busy", "no_answer", "in_flight")
SCRIPT_VERSION = "v1-browser"


@dataclass(frozen=True)
class Call:
    result: str
    start: float
    """Epoch seconds."""
    seconds: int = 60
    """How long until the report came back (none for `in_flight`)."""

    def __post_init__(self) -> None:
        if self.result not in RESULTS:
            raise ValueError(f"call result must be one of {RESULTS}, not {self.result!r}")

    @property
    def end(self) -> float:
        return self.start + self.seconds


@dataclass(frozen=True)
class Case:
    external_id: str
    accepted_at: float
    """Epoch seconds."""
    risk: str
    fraud_type: str
    phone: str
    calls: tuple[Call, ...] = ()
    merged_into: str | None = None
    """The warning already waiting for this number, which this one joins (it is never called itself)."""


def realistic_mix(today: dt.date, zone: ZoneInfo) -> list[Case]:
    """Warnings from eight days ago to today, at local times of the day (`today` in `zone`)."""

    def at(day: int, clock: str) -> float:
        hours, minutes = map(int, clock.split(":"))
        return dt.datetime.combine(today + dt.timedelta(days=day), dt.time(hours, minutes), tzinfo=zone).timestamp()

    def case(external_id: str, accepted_at: float, risk: str, fraud_type: str, phone: str,
             *calls: tuple[str, int] | tuple[str, int, int], merged_into: str | None = None) -> Case:
        """`calls`: (result, seconds after intake it started[, seconds it lasted])."""
        return Case(external_id, accepted_at, risk, fraud_type, f"+86138{phone}",
                    tuple(Call(c[0], accepted_at + c[1], *c[2:]) for c in calls), merged_into)

    return [
        # Eight and seven days ago: before the last 7 days.
        case("W-A1", at(-8, "10:00"), "medium", "investment", "00000001", ("dissuaded", 45)),
        case("W-A2", at(-7, "23:50"), "low", "online_loan", "00000002", ("no_answer", 90, 40)),
        # Six days ago (the first of the last 7 days), three days ago, yesterday.
        case("W-B1", at(-6, "00:20"), "medium", "investment", "00000003", ("dissuaded", 30)),
        case("W-B2", at(-6, "08:00"), "high", "impersonate_police", "00000004"),
        case("W-C1", at(-3, "14:00"), "low", "order_brushing", "00000005", ("busy", 120, 30), ("refused", 600, 25)),
        case("W-C2", at(-3, "14:05"), "medium", "fake_customer_service", "00000006", ("escalated", 40, 50)),
        case("W-C3", at(-3, "15:00"), "medium", "investment", "00000007", ("dissuaded", 75, 90)),
        case("W-D2", at(-1, "20:00"), "low", "online_loan", "00000008", ("refused", 60, 20)),
        # Yesterday 23:55, first called today at 00:01:40.
        case("W-D1", at(-1, "23:55"), "medium", "impersonate_police", "00000009", ("dissuaded", 400, 80)),
        # Today.
        case("W-E1", at(0, "00:30"), "medium", "investment", "00000010", ("dissuaded", 35, 70)),
        case("W-E2", at(0, "00:40"), "low", "investment", "00000011", ("busy", 50, 20), ("dissuaded", 900, 100)),
        case("W-E6", at(0, "00:45"), "low", "investment", "00000011", merged_into="W-E2"),
        case("W-E3", at(0, "01:00"), "medium", "online_loan", "00000012", ("escalated", 25, 45)),
        case("W-E4", at(0, "01:10"), "high", "impersonate_police", "00000013"),
        case("W-E5", at(0, "01:20"), "low", "order_brushing", "00000014", ("no_answer", 80, 40)),
        case("W-E7", at(0, "01:40"), "medium", "fake_customer_service", "00000015", ("refused", 60, 15)),
        case("W-E8", at(0, "01:50"), "medium", "impersonate_acquaintance", "00000016", ("dissuaded", 45, 120)),
        case("W-E9", at(0, "02:00"), "low", "investment", "00000017", ("in_flight", 70)),
        case("W-E10", at(0, "02:10"), "medium", "online_loan", "00000018", ("dissuaded", 40, 95)),
    ]


def _report(call: Call, following: Call | None) -> tuple[AttemptResult, Decision]:
    """What the call worker reports for `call` and what the dialer's policy decides."""
    answered = {"sip_status": 200, "call_outcome": "answered", "answered": True, "duration_seconds": float(call.seconds)}
    if call.result == "busy":
        if following is None:
            raise ValueError("a busy call is followed by another in this seed")
        return (AttemptResult(sip_status=486, call_outcome="busy", outcome="busy"),
                Decision(finished=False, next_attempt_at=following.start))
    if call.result == "no_answer":
        return (AttemptResult(sip_status=480, call_outcome="no_answer", outcome="no_answer"),
                Decision(finished=True, outcome="no_answer", escalate="unanswered"))
    if call.result == "escalated":
        return (AttemptResult(**answered, outcome="escalated",
                              escalation={"reason": "urgent_speech", "phrase": "安全账户", "mode": "ticket"}),
                Decision(finished=True, outcome="escalated"))
    return AttemptResult(**answered, outcome=call.result), Decision(finished=True, outcome=call.result)


async def write(repository: Repository, cases: list[Case]) -> None:
    """Every intake, call start and report, in time order (a merge depends on what is waiting)."""
    events: list[tuple[float, int, Callable[[], Any]]] = []
    ids: dict[str, int] = {}
    attempts: dict[tuple[str, int], int] = {}

    def accept(case: Case) -> Callable[[], Any]:
        async def run() -> None:
            warning = NewWarning(external_id=case.external_id, phone=case.phone, dial_number=case.phone.removeprefix("+86"),
                                 risk=case.risk, fraud_type=case.fraud_type, language="zh-CN", name="王芳",
                                 received_at=dt.datetime.fromtimestamp(case.accepted_at, dt.UTC).isoformat())
            [accepted] = await repository.accept_warnings(
                [Intake(warning=warning, escalate="high_risk" if case.risk == "high" else None)], case.accepted_at)
            if accepted.merged_into_external_id != case.merged_into:
                raise AssertionError(f"{case.external_id}: merged into {accepted.merged_into_external_id}, "
                                     f"the seed says {case.merged_into}")
            ids[case.external_id] = accepted.warning.id
        return run

    def start(case: Case, number: int, call: Call) -> Callable[[], Any]:
        async def run() -> None:
            attempt = await repository.claim(ids[case.external_id], owner="node-a", worker="worker-1",
                                             script=f"zh-CN/{case.fraud_type}", script_version=SCRIPT_VERSION,
                                             lease_seconds=600, now=call.start)
            if attempt is None:
                raise AssertionError(f"{case.external_id}: call {number} could not be claimed")
            attempts[(case.external_id, number)] = attempt.id
        return run

    def finish(case: Case, number: int, call: Call, following: Call | None) -> Callable[[], Any]:
        async def run() -> None:
            result, decision = _report(call, following)
            await repository.finish_attempt(attempts[(case.external_id, number)], result, decision, call.end)
        return run

    order = 0
    for case in cases:
        events.append((case.accepted_at, (order := order + 1), accept(case)))
        for number, call in enumerate(case.calls):
            events.append((call.start, (order := order + 1), start(case, number, call)))
            if call.result != "in_flight":
                following = case.calls[number + 1] if number + 1 < len(case.calls) else None
                events.append((call.end, (order := order + 1), finish(case, number, call, following)))
    for _, _, run in sorted(events, key=lambda event: (event[0], event[1])):
        await run()
