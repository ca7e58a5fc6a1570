"""The daemon on virtual time, with a fake call pool (a subclass of the real interface)
and a real SQLite file."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from robot.clock import VirtualClock
from robot.dialer.config import DialerConfig
from robot.dialer.daemon import Daemon
from robot.dialer.scripts import ScriptLibrary
from robot.dialer.views import warning_json
from robot.dialer.wire import StartCall
from robot.dialer.workers import CallPool
from robot.sip.result import CallResult
from robot.store import SqliteRepository
from tests.conftest import DIALOGS

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(hour: int, minute: int = 0, day: int = 23) -> float:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).timestamp()


class FakePool(CallPool):
    """Takes jobs instead of calling; the test decides how each call ends."""

    def __init__(self, slots: int = 4) -> None:
        self.slots = slots
        self.jobs: list[StartCall] = []
        self.active: dict[int, StartCall] = {}
        self.started = False

    def free_slots(self) -> int:
        return self.slots - len(self.active)

    def active_calls(self) -> int:
        return len(self.active)

    def alive_workers(self) -> int:
        return 1

    async def dispatch(self, job: StartCall) -> str:
        assert self.free_slots() > 0
        self.jobs.append(job)
        self.active[job.attempt_id] = job
        return "fake-worker"

    async def start(self) -> None:
        self.started = True

    async def stop(self, drain_seconds: float) -> None:
        self.active.clear()


@pytest.fixture(scope="session")
def shipped_scripts() -> ScriptLibrary:
    import asyncio

    library = ScriptLibrary(DIALOGS)
    asyncio.run(library.load())
    return library


class Harness:
    def __init__(self, daemon: Daemon, pool: FakePool, clock: VirtualClock) -> None:
        self.daemon = daemon
        self.pool = pool
        self.clock = clock
        self.store = daemon.repository

    async def submit(self, *warnings: dict[str, Any]) -> None:
        await self.daemon.submit([{"received_at": "2026-11-23T09:00:00", "risk": "medium", **w} for w in warnings])

    async def tick(self) -> list[StartCall]:
        """One scheduler pass; the jobs it started."""
        before = len(self.pool.jobs)
        await self.daemon.schedule_once()
        return self.pool.jobs[before:]

    async def end(self, job: StartCall, outcome: str, *, call_outcome: str | None = None, **fields: Any) -> None:
        """The worker reports the call's end; the test waits until the daemon has stored it."""
        self.pool.active.pop(job.attempt_id)
        answered_outcomes = {"dissuaded", "escalated", "refused", "hung_up", "no_input", "wrong_person", "callback_requested"}
        result = CallResult.model_validate({
            "outcome": outcome, "call_outcome": call_outcome or ("answered" if outcome in answered_outcomes else outcome),
            "answered": outcome in answered_outcomes, **fields,
        })
        self.daemon.attempt_finished(job.attempt_id, result)
        await self.stored()

    async def stored(self) -> None:
        """Store what the workers reported (what the daemon's recorder task does)."""
        await self.daemon.recorder.flush(timeout_seconds=5)

    async def warning(self, external_id: str) -> dict[str, Any]:
        detail = await self.daemon.warning(external_id)
        assert detail is not None
        return warning_json(detail, self.daemon.config.zone, full_numbers=True)


@pytest.fixture
async def harness(tmp_path, shipped_scripts):
    made: list[Harness] = []

    async def make(slots: int = 4, start: float = local(10), busy_timeout_seconds: float = 10.0, **config: Any) -> Harness:
        clock = VirtualClock(start)
        settings = DialerConfig(node_id="test", database=tmp_path / f"robot{len(made)}.db", dialogs_dir=DIALOGS, **config)
        pool = FakePool(slots)
        repository = SqliteRepository(settings.database, busy_timeout_seconds=busy_timeout_seconds)
        daemon = Daemon(settings, repository, clock=clock, pool=pool, library=shipped_scripts)
        await daemon.repository.open()
        made.append(Harness(daemon, pool, clock))
        return made[-1]

    yield make
    for item in made:
        await item.daemon.deliverer.close()
        await item.daemon.repository.close()
