"""What the call workers report (results, escalations heard during calls, calls lost with a
dead worker), stored in the order it came, and retried until it is stored.

A store that is locked by another process or has a full disk must never cost a call: the
pool hands each report over here and goes on (no worker is cut off, a dead one is always
restarted), and the report waits in memory, and in a journal file next to the database,
until the store takes it. On the next start the journal is stored first, so a result that
was waiting when the daemon stopped is not mistaken for a call cut off by the restart.
Storing a report twice changes nothing (a finished attempt keeps its first record, an
attempt has one escalation), so a journal replayed after a crash is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..dialog.events import EscalationRequested
from ..private import private_dir, tighten
from ..sip.result import CallResult
from ..store.repository import StoreError, StoreUnavailable

_LOGGER = logging.getLogger(__name__)
RETRY_DELAYS_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Between tries while the store is unavailable; the last repeats."""


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    received_at: float
    """Epoch seconds: the result is stored as of when it came, however late that is."""


class AttemptFinished(_Report):
    kind: Literal["result"] = "result"
    attempt_id: int
    result: CallResult


class EscalationHeard(_Report):
    kind: Literal["escalation"] = "escalation"
    attempt_id: int
    event: EscalationRequested


class AttemptsLost(_Report):
    kind: Literal["lost"] = "lost"
    attempt_ids: list[int]
    worker: str


Report = Annotated[AttemptFinished | EscalationHeard | AttemptsLost, Field(discriminator="kind")]
_REPORT: TypeAdapter[Report] = TypeAdapter(Report)


class ResultRecorder:
    def __init__(self, store: Callable[[Report], Awaitable[None]], journal: Path | None) -> None:
        """`store(report)` stores one report; it raises StoreUnavailable while the store
        cannot be used (tried again later), anything else for a report that can never be
        stored (logged and dropped)."""
        self._store = store
        self.journal = journal
        self._pending: deque[Report] = deque()
        self._unjournaled: list[Report] = []
        self._wake = asyncio.Event()
        self._storing = asyncio.Lock()
        """One report is stored at a time: `flush` at shutdown runs beside `run`."""
        self.failing_since: float | None = None
        self._tries = 0
        """Failed tries of the oldest report in a row: how long to pause before the next."""

    @property
    def pending(self) -> int:
        return len(self._pending)

    def oldest_age_seconds(self, now: float) -> float:
        return max(0.0, now - self._pending[0].received_at) if self._pending else 0.0

    def add(self, report: Report) -> None:
        """Take a report (never fails, never waits)."""
        self._pending.append(report)
        self._unjournaled.append(report)
        self._wake.set()

    async def replay(self, timeout_seconds: float) -> int:
        """At start: store what the journal holds (before anything else is done with the
        attempts it names). StoreUnavailable if the store did not take it in time."""
        if self.journal is None or not self.journal.exists():
            return 0
        reports = await asyncio.to_thread(self._read_journal)
        self._pending.extend(reports)
        if reports:
            _LOGGER.warning("storing %d worker report(s) left waiting by the last run", len(reports))
        deadline = time.monotonic() + timeout_seconds
        while self._pending:
            if not await self._store_first() and time.monotonic() > deadline:
                raise StoreUnavailable(f"{len(self._pending)} worker report(s) from the last run could not be stored")
        await asyncio.to_thread(self._truncate_journal)
        return len(reports)

    async def run(self) -> None:
        """Store reports as they come, in order, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._write_journal()
                await self._store_first()
            await self._write_journal()
            await asyncio.to_thread(self._truncate_journal)

    async def flush(self, timeout_seconds: float) -> None:
        """At shutdown: try to store what is waiting; what is not stays in the journal."""
        await self._write_journal()
        deadline = time.monotonic() + timeout_seconds
        while self._pending and time.monotonic() < deadline:
            await self._store_first()
        if not self._pending:
            await asyncio.to_thread(self._truncate_journal)
        else:
            _LOGGER.error("%d worker report(s) not stored yet; they are kept in %s for the next start", len(self._pending),
                          self.journal)

    async def _store_first(self) -> bool:
        """Store the oldest report; False (after a pause) if the store is unavailable."""
        async with self._storing:
            if not self._pending:  # stored meanwhile by the other caller
                return True
            return await self._store_oldest()

    async def _store_oldest(self) -> bool:
        report = self._pending[0]
        try:
            await self._store(report)
        except StoreUnavailable as err:
            tries = self._tries
            if self.failing_since is None:
                self.failing_since = time.time()
                _LOGGER.error("a worker report cannot be stored (%s): kept, and tried again until it is (%d waiting)",
                              err, len(self._pending))
            self._tries = tries + 1
            await asyncio.sleep(RETRY_DELAYS_SECONDS[min(tries, len(RETRY_DELAYS_SECONDS) - 1)])
            return False
        except (StoreError, ValueError) as err:
            _LOGGER.error("a worker report (%s) cannot ever be stored and is dropped: %s", report.kind, err)
        except Exception:
            _LOGGER.exception("a worker report (%s) could not be stored and is dropped", report.kind)
        if self.failing_since is not None:
            _LOGGER.warning("worker reports are stored again (the store failed for %.1f s)", time.time() - self.failing_since)
            self.failing_since = None
        self._tries = 0
        self._pending.popleft()
        return True

    # -- the journal: one JSON line per report, removed once everything is stored ----------

    async def _write_journal(self) -> None:
        if not self._unjournaled or self.journal is None:
            return
        reports, self._unjournaled = self._unjournaled, []
        try:
            await asyncio.to_thread(self._append, reports)
        except OSError as err:  # a full disk: the reports wait in memory only
            _LOGGER.error("worker reports could not be written to %s (%s): kept in memory", self.journal, err)

    def _append(self, reports: list[Report]) -> None:
        assert self.journal is not None
        private_dir(self.journal.parent)
        fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, b"".join(report.model_dump_json().encode() + b"\n" for report in reports))
            os.fsync(fd)
        finally:
            os.close(fd)
        tighten(self.journal)

    def _read_journal(self) -> list[Report]:
        assert self.journal is not None
        reports: list[Report] = []
        for number, line in enumerate(self.journal.read_bytes().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                reports.append(_REPORT.validate_json(line))
            except ValidationError as err:  # e.g. a line cut short by a crash
                _LOGGER.error("%s:%d: not a worker report, skipped (%s)", self.journal, number, err.errors()[0]["msg"])
        return reports

    def _truncate_journal(self) -> None:
        if self.journal is not None and not self._pending and not self._unjournaled:
            with contextlib.suppress(FileNotFoundError):
                os.truncate(self.journal, 0)
