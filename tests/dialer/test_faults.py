"""The daemon when the store fails under it, when a call fails inside the robot, and the
worker pool when what a worker reports cannot be handled: nothing costs a call, nothing is
lost, the pool always comes back."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest

from robot.dialer.api import create_app
from robot.dialer.config import CircuitBreakerConfig, load_dialer_config
from robot.dialer.daemon import Daemon
from robot.dialer.results import AttemptFinished, Report, ResultRecorder
from robot.dialer.wire import StartCall, WireError, decode, encode
from robot.dialer.workers import PoolListener, WorkerPool
from robot.dialog.events import EscalationRequested
from robot.dialog.loader import ScriptError
from robot.sip.result import CallRequest, CallResult
from robot.store import SqliteRepository
from tests.dialer.test_scheduler import phone

TOKEN = "fault-token"


class Lock:
    """Another process's write lock on the database (a backup tool, an operator's shell)."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


def busy(**fields) -> CallResult:  # type: ignore[no-untyped-def]
    return CallResult.model_validate({"outcome": "busy", "call_outcome": "busy", "sip_status": 486, **fields})


async def test_a_result_the_store_cannot_take_is_kept_and_stored_once_it_can(harness):
    """With the write lock held by another process, storing a 486 raised out of the worker
    message handler: the daemon cut the worker off and the result was lost."""
    h = await harness(busy_timeout_seconds=0.1, calls_per_second=100)
    h.daemon.started = True
    await h.submit({"id": "W", "phone": phone(1)}, {"id": "V", "phone": phone(2)})
    job, other = await h.tick()
    lock = Lock(h.daemon.config.database)
    try:
        h.pool.active.pop(job.attempt_id)
        h.daemon.attempt_finished(job.attempt_id, busy())  # taken at once, whatever the store does
        await h.daemon.recorder.flush(timeout_seconds=0.3)
        assert h.daemon.recorder.pending == 1
        journal = h.daemon.config.results_journal
        [line] = journal.read_text().splitlines()
        assert json.loads(line)["attempt_id"] == job.attempt_id  # and kept on disk meanwhile
        health = h.daemon.health()
        assert (health.status, health.results_waiting) == ("store_unavailable", 1) and "locked" in health.store
        assert h.pool.active == {other.attempt_id: other}  # the other call goes on
        assert h.daemon.metrics.outcomes.labels("busy")._value.get() == 1  # counted as it came
    finally:
        lock.release()
    await h.stored()
    assert h.daemon.recorder.pending == 0 and journal.read_text() == ""
    view = await h.warning("W")
    assert view["attempts"][0]["outcome"] == "busy" and view["escalation"]["reason"] == "unanswered_busy"
    assert h.daemon.health().status == "ok"


async def test_results_waiting_when_the_daemon_stopped_are_stored_first_at_the_next_start(harness, shipped_scripts):
    """...instead of the attempt being closed as interrupted (and its escalation lost)."""
    h = await harness(busy_timeout_seconds=0.1)
    await h.submit({"id": "W", "phone": phone(1)})
    [job] = await h.tick()
    lock = Lock(h.daemon.config.database)
    h.daemon.attempt_event(job.attempt_id, EscalationRequested(
        at_seconds=9.0, state="warning", reason="urgent_speech", mode="live", phrase="安全账户"))  # type: ignore[arg-type]
    h.daemon.attempt_finished(job.attempt_id, CallResult.model_validate({
        "outcome": "escalated", "call_outcome": "answered", "answered": True, "sip_status": 200,
        "escalation": {"reason": "urgent_speech", "phrase": "安全账户", "mode": "ticket"}}))
    await h.daemon.recorder.flush(timeout_seconds=0.3)
    assert h.daemon.recorder.pending == 2
    await h.daemon.repository.close()
    lock.release()

    restarted = Daemon(h.daemon.config, SqliteRepository(h.daemon.config.database), clock=h.clock, pool=type(h.pool)(),
                       library=shipped_scripts)
    await restarted.start()
    try:
        detail = await restarted.warning("W")
        assert detail is not None
        [attempt] = detail.attempts
        assert (attempt.outcome, detail.warning.status) == ("escalated", "done")  # not "interrupted"
        assert [(e.reason, e.phrase, e.mode) for e in detail.escalations] == [("urgent_speech", "安全账户", "ticket")]
        assert restarted.config.results_journal.read_text() == ""
    finally:
        await restarted.stop(0)


async def test_a_report_being_stored_when_the_daemon_stops_is_stored_once_and_the_recorder_does_not_crash(tmp_path):
    """At shutdown `flush` stored the report that `run` was storing at that moment too, and
    `run` then crashed popping an empty queue ("daemon task results crashed", bench/faults.py)."""
    stored: list[int] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def store(report: Report) -> None:
        started.set()
        await release.wait()
        stored.append(report.attempt_id)  # type: ignore[union-attr]

    recorder = ResultRecorder(store, tmp_path / "results.jsonl")
    run = asyncio.create_task(recorder.run())
    recorder.add(AttemptFinished(received_at=1.0, attempt_id=7, result=busy()))
    await started.wait()
    flush = asyncio.create_task(recorder.flush(timeout_seconds=5))
    await asyncio.sleep(0)
    release.set()
    await flush
    await asyncio.sleep(0)
    assert stored == [7] and recorder.pending == 0 and not run.done()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run


async def test_intake_answers_503_with_retry_after_while_the_store_is_locked(harness):
    h = await harness(busy_timeout_seconds=0.1)
    h.daemon.started = True
    transport = httpx.ASGITransport(app=create_app(h.daemon, TOKEN))
    async with httpx.AsyncClient(transport=transport, base_url="http://robot", headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        lock = Lock(h.daemon.config.database)
        try:
            batch = [{"id": f"W-{n}", "phone": phone(n), "risk": "medium", "received_at": "2026-11-23T09:00:00"} for n in range(3)]
            refused = await api.post("/v1/warnings", json=batch)
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
            assert "nothing was stored" in refused.json()["detail"]
            health = await api.get("/healthz")
            assert health.status_code == 503 and health.json()["status"] == "store_unavailable"
            assert (await api.get("/v1/escalations")).status_code == 200  # reading goes on
        finally:
            lock.release()
        assert (await api.post("/v1/warnings", json=batch)).status_code == 201
        assert (await api.get("/healthz")).json()["status"] == "ok"


# -- robot errors ----------------------------------------------------------------------


async def test_a_robot_error_is_retried_a_bounded_number_of_times_and_never_trips_the_breaker(harness):
    """Every exception inside a call used to be a trunk fault: retried up to 20 times and
    counted by the circuit breaker, so a robot bug could stop all dialling."""
    breaker = CircuitBreakerConfig(window_seconds=60, min_attempts=2, failure_ratio=0.5, open_seconds=30)
    h = await harness(slots=4, calls_per_second=100, circuit_breaker=breaker)
    await h.submit(*({"id": f"W{n}", "phone": phone(n)} for n in range(4)))
    delays = []
    for round_ in range(3):
        jobs = await h.tick()
        assert len(jobs) == 4, f"round {round_}: the breaker stopped dialling"
        for job in jobs:
            await h.end(job, "robot_error", call_outcome="robot_error", error="recognizer: the recogniser process ended")
        view = await h.warning("W0")
        if view["status"] == "queued":
            delays.append(view["next_attempt_at"])
            h.clock.advance(300)
    assert h.daemon.breaker.state(h.clock.now()) == "closed"
    view = await h.warning("W0")
    assert (view["status"], view["outcome"], view["robot_errors"], view["attempts_used"]) == ("done", "robot_error", 3, 0)
    assert view["escalation"]["reason"] == "robot_error"  # after 3 robot errors, an officer takes it
    assert [a["error"] for a in view["attempts"]] == ["recognizer: the recogniser process ended"] * 3  # on every attempt
    assert 'robot_call_outcomes_total{outcome="robot_error"} 12.0' in h.daemon.metrics_text().decode()


async def test_the_workers_error_text_is_stored_on_the_attempt(harness):
    """It was dropped on the way to the store (only some result fields were kept)."""
    h = await harness()
    await h.submit({"id": "W", "phone": phone(1)})
    [job] = await h.tick()
    await h.end(job, "failed", call_outcome="failed", error="SipError: pjsua: Unable to resolve host (PJ_ERESOLVE)")
    [attempt] = (await h.warning("W"))["attempts"]
    assert (attempt["outcome"], attempt["error"]) == ("failed", "SipError: pjsua: Unable to resolve host (PJ_ERESOLVE)")


def test_a_misspelt_outcome_in_the_policy_is_an_error_naming_its_line(tmp_path):
    path = tmp_path / "robot.yaml"
    path.write_text("policy:\n  outcomes:\n    busy: {finish: true}\n    dissuadded: {finish: true}\n")
    with pytest.raises(ScriptError) as raised:
        load_dialer_config(path)
    [problem] = [str(p) for p in raised.value.problems]
    assert problem.startswith(f"{path}:4:5: policy.outcomes.dissuadded") and "'dissuaded'" in problem
    path.write_text("policy:\n  outcomes:\n    busy: {finish: true}\n")
    assert load_dialer_config(path).policy.outcomes["busy"].finish  # type: ignore[index]


# -- the wire and the pool -------------------------------------------------------------


def test_every_wire_message_round_trips_and_a_bad_line_names_what_is_wrong(english_script):
    call = StartCall(attempt_id=7, request=CallRequest(target="13800138000", script=english_script, warning_id="W-7",
                                                       variables={"name": "Li Hua"}, headers={"X-Warning-Id": "W-7"}))
    assert decode(encode(call)) == call
    with pytest.raises(WireError, match="attempt_id"):
        decode(b'{"type": "result", "attempt_id": "x", "result": {"outcome": "busy", "call_outcome": "busy"}}')
    with pytest.raises(WireError, match="message"):
        decode(b'{"type": "hello"}')


class _Reports(PoolListener):
    """Takes the pool's reports; handling a result fails, as a broken store once made it."""

    def __init__(self) -> None:
        self.results: list[int] = []
        self.lost: list[list[int]] = []
        self.fail = True

    def attempt_event(self, attempt_id: int, event: EscalationRequested) -> None:
        raise AssertionError("no escalations here")

    def attempt_finished(self, attempt_id: int, result: CallResult) -> None:
        self.results.append(attempt_id)
        if self.fail:
            raise sqlite3.OperationalError("database is locked")

    def attempts_lost(self, attempt_ids: list[int], worker: str) -> None:
        self.lost.append(attempt_ids)
        raise sqlite3.OperationalError("database is locked")


async def test_a_report_the_daemon_cannot_handle_never_cuts_a_worker_off_and_a_dead_worker_always_comes_back(english_script):
    reports = _Reports()
    fake = [sys.executable, str(Path(__file__).parent / "fake_worker.py"), "--garbage"]
    pool = WorkerPool(reports, processes=1, slots_per_process=2, config_path=None, restart_delay_seconds=0, command=fake)
    await pool.start()
    try:
        [worker] = pool.workers
        first_pid = worker.process.pid  # type: ignore[union-attr]
        request = CallRequest(target="13800138000", script=english_script)
        for attempt_id in (1, 2):
            await pool.dispatch(StartCall(attempt_id=attempt_id, request=request))
            await _until(lambda attempt_id=attempt_id: attempt_id in reports.results)
        assert pool.free_slots() == 2 and worker.restarts == 0 and worker.process.pid == first_pid  # type: ignore[union-attr]
        # A worker that dies with a call up is restarted, even though recording the lost call fails.
        worker.in_flight.add(3)
        worker.process.kill()  # type: ignore[union-attr]
        await _until(lambda: worker.restarts == 1 and worker.ready)
        assert reports.lost == [[3]] and worker.process.pid != first_pid  # type: ignore[union-attr]
        reports.fail = False
        await pool.dispatch(StartCall(attempt_id=4, request=request))
        await _until(lambda: 4 in reports.results)
    finally:
        await pool.stop(0)


async def _until(condition, timeout_seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.fixture(scope="module")
def english_script():
    from robot.dialog.loader import load_script
    from tests.conftest import DIALOGS

    return load_script(DIALOGS / "en-US" / "generic.yaml").script
