"""The scheduler and the outcome policies on virtual time: no sleeps, exact times."""

from __future__ import annotations

import pytest

from robot.dialer.config import CircuitBreakerConfig
from robot.dialog.const import EscalationMode, EscalationReason
from robot.dialog.events import EscalationRequested
from tests.dialer.conftest import local

MINUTE = 60.0


def phone(n: int) -> str:
    return f"1380013{n:04d}"


async def test_medium_before_low_oldest_first_as_many_as_there_are_free_slots(harness):
    h = await harness(slots=3, calls_per_second=100)
    await h.submit(
        {"id": "low-1", "phone": phone(1), "risk": "low", "received_at": "2026-11-23T07:00:00"},
        {"id": "med-late", "phone": phone(2), "received_at": "2026-11-23T09:30:00"},
        {"id": "med-early", "phone": phone(3), "received_at": "2026-11-23T09:00:00"},
        {"id": "low-2", "phone": phone(4), "risk": "low", "received_at": "2026-11-23T08:00:00"},
    )
    started = await h.tick()
    assert [job.request.warning_id for job in started] == ["med-early", "med-late", "low-1"]
    assert await h.tick() == []  # no free slot
    await h.end(started[0], "dissuaded")
    assert [job.request.warning_id for job in await h.tick()] == ["low-2"]


async def test_new_calls_are_paced(harness):
    h = await harness(slots=4, calls_per_second=2)
    await h.submit(*({"id": f"W{n}", "phone": phone(n)} for n in range(3)))
    assert len(await h.tick()) == 1
    wait = await h.daemon.schedule_once()
    assert wait == pytest.approx(0.5)
    h.clock.advance(0.5)
    assert len(await h.tick()) == 1


async def test_low_risk_waits_for_its_calling_window_medium_does_not(harness):
    h = await harness(start=local(22, 30))
    await h.submit({"id": "low", "phone": phone(1), "risk": "low"}, {"id": "medium", "phone": phone(2)})
    assert [job.request.warning_id for job in await h.tick()] == ["medium"]
    low = await h.warning("low")
    assert low["status"] == "queued" and low["next_attempt_at"].startswith("2026-11-24T08:00:00")
    h.clock.advance(local(8, 0, day=24) - h.clock.now())
    assert [job.request.warning_id for job in await h.tick()] == ["low"]


async def test_warnings_for_one_number_are_merged_and_called_once(harness):
    h = await harness()
    await h.submit({"id": "A", "phone": "13800138000", "risk": "low"}, {"id": "B", "phone": "+86 138-0013-8000"})
    [job] = await h.tick()
    assert job.request.warning_id == "A"
    b = await h.warning("B")
    assert b["status"] == "merged" and b["merged_into"] == "A"
    assert (await h.warning("A"))["risk"] == "medium"
    await h.end(job, "dissuaded")
    assert (await h.warning("B"))["status"] == "done" and (await h.warning("B"))["outcome"] == "dissuaded"


async def test_busy_escalates_at_once_and_retries_in_two_minutes(harness):
    h = await harness()
    await h.submit({"id": "W", "phone": phone(1)})
    [job] = await h.tick()
    await h.end(job, "busy", sip_status=486)
    view = await h.warning("W")
    assert view["status"] == "queued" and view["escalation"]["reason"] == "unanswered_busy"
    h.clock.advance(2 * MINUTE - 1)
    assert await h.tick() == []
    h.clock.advance(1)
    assert len(await h.tick()) == 1


@pytest.mark.parametrize(("risk", "delays_minutes"), [("medium", [2, 5, 10]), ("low", [10, 30])])
async def test_unanswered_calls_are_retried_then_escalated(harness, risk, delays_minutes):
    h = await harness()
    await h.submit({"id": "W", "phone": phone(1), "risk": risk})
    job = (await h.tick())[0]
    for delay in delays_minutes:
        await h.end(job, "no_answer", sip_status=408)
        assert (await h.warning("W"))["escalation"] is None
        h.clock.advance(delay * MINUTE - 1)
        assert await h.tick() == []
        h.clock.advance(1)
        [job] = await h.tick()
    await h.end(job, "no_answer")
    view = await h.warning("W")
    assert (view["status"], view["outcome"], len(view["attempts"])) == ("done", "no_answer", len(delays_minutes) + 1)
    assert view["escalation"]["reason"] == "unanswered"


@pytest.mark.parametrize(("risk", "escalated"), [("medium", True), ("low", False)])
async def test_a_callee_who_hung_up_is_called_back_by_an_officer_when_the_risk_is_medium(harness, risk, escalated):
    # Hanging up is not refusing: a medium-risk warning goes to an officer at once, and the
    # robot keeps trying; a low-risk one is only tried again.
    h = await harness()
    await h.submit({"id": "W", "phone": phone(1), "risk": risk})
    [job] = await h.tick()
    await h.end(job, "hung_up")
    view = await h.warning("W")
    assert view["status"] == "queued"
    assert (view["escalation"]["reason"] if view["escalation"] else None) == ("hung_up" if escalated else None)


async def test_an_invalid_number_is_escalated_and_not_called_again(harness):
    h = await harness()
    await h.submit({"id": "W", "phone": phone(1)})
    [job] = await h.tick()
    await h.end(job, "invalid_number", sip_status=404)
    view = await h.warning("W")
    assert (view["status"], view["escalation"]["reason"]) == ("done", "invalid_number")


async def test_attempts_per_number_per_day_are_capped(harness):
    h = await harness(max_attempts_per_number_per_day=2, start=local(20), calls_per_second=100)
    await h.submit({"id": "W", "phone": phone(1), "risk": "medium"})
    for _ in range(2):
        [job] = await h.tick()
        await h.end(job, "interrupted", call_outcome="interrupted")  # back at once, not counted as an attempt
    assert await h.tick() == []  # two calls to this number today already
    view = await h.warning("W")
    assert view["next_attempt_at"].startswith("2026-11-24T00:00:00")
    h.clock.advance(local(0, 0, day=24) - h.clock.now())
    assert len(await h.tick()) == 1


async def test_trunk_faults_do_not_use_attempts_and_trip_the_circuit_breaker(harness):
    breaker = CircuitBreakerConfig(window_seconds=60, min_attempts=4, failure_ratio=0.5, open_seconds=30)
    h = await harness(slots=4, calls_per_second=100, circuit_breaker=breaker)
    await h.submit(*({"id": f"W{n}", "phone": phone(n)} for n in range(6)))
    jobs = await h.tick()
    for job in jobs:
        await h.end(job, "failed", sip_status=503)
    assert h.daemon.breaker.state(h.clock.now()) == "open"
    assert h.daemon.metrics.circuit_trips._value.get() == 1
    view = await h.warning("W0")
    assert view["attempts_used"] == 0 and view["status"] == "queued"  # a trunk fault is not the callee's doing
    h.clock.advance(29)
    assert await h.tick() == []  # open: nothing is dialled
    h.clock.advance(1)
    [probe] = await h.tick()  # half-open: one probe call
    assert await h.tick() == []
    await h.end(probe, "dissuaded")
    assert h.daemon.breaker.state(h.clock.now()) == "closed"
    assert len(await h.tick()) == 4


async def test_the_script_follows_the_scam_type_with_the_generic_fallback(harness):
    h = await harness(calls_per_second=100)
    await h.submit(
        {"id": "inv", "phone": phone(1), "fraud_type": "investment"},
        {"id": "other", "phone": phone(2), "fraud_type": "lottery"},
        {"id": "english", "phone": phone(3), "extra": {"language": "en-US"}},
        {"id": "korean", "phone": phone(4), "extra": {"language": "ko-KR"}},
    )
    jobs = {job.request.warning_id: job for job in await h.tick()}
    assert jobs["inv"].request.script.meta.id == "investment" and jobs["inv"].request.script.meta.language == "zh-CN"
    assert jobs["other"].request.script.meta.id == "generic" and jobs["other"].request.script.meta.language == "zh-CN"
    assert jobs["english"].request.script.meta.language == "en-US"
    assert "korean" not in jobs
    korean = await h.warning("korean")
    assert (korean["status"], korean["outcome"], korean["escalation"]["reason"]) == ("done", "no_script", "no_script")


async def test_the_callee_name_reaches_the_script(harness):
    h = await harness()
    await h.submit({"id": "W", "phone": phone(1), "name": "李华"})
    [job] = await h.tick()
    assert job.request.variables == {"name": "李华"}
    assert job.request.target == phone(1) and job.request.headers == {"X-Warning-Id": "W"}
    assert job.request.recording_name == f"attempt-{job.attempt_id}"  # never named after the warning's id


async def test_a_dead_worker_puts_its_calls_back_in_the_queue(harness):
    h = await harness(calls_per_second=100)
    await h.submit({"id": "W", "phone": phone(1)})
    [job] = await h.tick()
    h.pool.active.clear()
    h.daemon.attempts_lost([job.attempt_id], "w1")
    await h.stored()
    view = await h.warning("W")
    assert view["status"] == "queued" and view["attempts"][0]["outcome"] == "interrupted" and view["attempts_used"] == 0
    assert len(await h.tick()) == 1


async def test_an_escalation_heard_during_the_call_is_stored_at_once(harness):
    h = await harness()
    await h.submit({"id": "W", "phone": phone(1)})
    [job] = await h.tick()
    h.daemon.attempt_event(job.attempt_id, EscalationRequested(
        at_seconds=12.0, state="warning", reason=EscalationReason.URGENT_SPEECH, mode=EscalationMode.LIVE, phrase="安全账户"))
    await h.stored()
    view = await h.warning("W")
    assert view["status"] == "calling" and view["escalation"]["phrase"] == "安全账户" and view["escalation"]["mode"] == "live"
    await h.end(job, "escalated", escalation={"reason": "urgent_speech", "phrase": "安全账户", "mode": "live"})
    view = await h.warning("W")
    assert view["status"] == "done" and len(view["escalations"]) == 1
