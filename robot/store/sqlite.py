"""The embedded store: SQLite through aiosqlite, in WAL mode, with numbered migrations.

Durability: WAL with `synchronous=FULL`, and every change that belongs together is one
`BEGIN IMMEDIATE` transaction, so a `kill -9` at any moment leaves either all of it or none.
Reads have a connection of their own and see only committed data (`sqlite_db.py`). This
file holds warnings and attempts; `sqlite_queue.py` escalations, deliveries and the audit log.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from ..dialog.const import AttemptOutcome, EscalationMode, RiskLevel
from .migrations import MIGRATIONS
from .records import (
    Accepted,
    AttemptRecord,
    AttemptResult,
    AttemptState,
    Decision,
    EscalationRecord,
    Intake,
    WarningRecord,
    WarningStatus,
)
from .repository import NotFound
from .sqlite_db import BUSY_TIMEOUT_SECONDS, Database
from .sqlite_queue import SqliteQueue
from .sqlite_rows import (
    attempt_record,
    audit,
    fetch_all,
    fetch_one,
    open_escalation,
    queue_outcomes,
    warning_record,
)
from .sqlite_stats import SqliteStatistics
from .sqlite_users import SqliteUsers

RISK_ORDER = "CASE risk WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END"
RISK_RANK = {"low": 0, "medium": 1, "high": 2}


class _NumberBusy(Exception):
    """The database refused a second live attempt for one number."""


class SqliteRepository(SqliteStatistics, SqliteQueue, SqliteUsers):
    migrations = MIGRATIONS

    def __init__(self, path: str | Path, *, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> None:
        """`busy_timeout_seconds`: how long a write waits for another process's lock before
        the store counts as unavailable."""
        self.path = Path(path)
        self.database = Database(self.path, busy_timeout_seconds=busy_timeout_seconds)

    async def open(self) -> None:
        self.database.migrations = self.migrations
        await self.database.open()

    async def close(self) -> None:
        await self.database.close()

    def unavailable(self) -> str | None:
        return self.database.failing

    async def schema_version(self) -> int:
        return await self.database.schema_version()

    # -- intake ----------------------------------------------------------------------

    async def accept_warnings(self, intakes: Sequence[Intake], now: float) -> list[Accepted]:
        accepted: list[Accepted] = []
        async with self.database.transaction() as db:
            for intake in intakes:
                accepted.append(await self._accept(db, intake, now))
        return accepted

    async def _accept(self, db: aiosqlite.Connection, intake: Intake, now: float) -> Accepted:
        warning = intake.warning
        existing = await fetch_one(db, "SELECT * FROM warnings WHERE external_id = ?", warning.external_id)
        if existing is not None:
            carrier_id = existing["merged_into"]
            carrier_row = await fetch_one(db, "SELECT external_id FROM warnings WHERE id = ?", carrier_id) if carrier_id else None
            return Accepted(warning=warning_record(existing), created=False, merged_into=carrier_id,
                            merged_into_external_id=carrier_row["external_id"] if carrier_row else None)
        status, merged_into, merged_into_external_id = WarningStatus.QUEUED.value, None, None
        if intake.escalate is None:
            carrier = await fetch_one(
                db, "SELECT * FROM warnings WHERE phone = ? AND status IN ('queued', 'calling') ORDER BY id LIMIT 1", warning.phone
            )
            if carrier is not None:
                status, merged_into, merged_into_external_id = WarningStatus.MERGED.value, carrier["id"], carrier["external_id"]
                if RISK_RANK[warning.risk.value] > RISK_RANK[carrier["risk"]]:
                    await db.execute("UPDATE warnings SET risk = ?, updated_at = ? WHERE id = ?", (warning.risk.value, now, carrier["id"]))
        else:
            status = WarningStatus.DONE.value
        cursor = await db.execute(
            """INSERT INTO warnings (external_id, phone, dial_number, name, risk, fraud_type, language, received_at,
               callback_url, extra, accepted_at, status, next_attempt_at, merged_into, outcome, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (warning.external_id, warning.phone, warning.dial_number, warning.name, warning.risk.value, warning.fraud_type,
             warning.language, warning.received_at, warning.callback_url, json.dumps(warning.extra, ensure_ascii=False),
             now, status, now, merged_into, AttemptOutcome.ESCALATED.value if intake.escalate else None, now),
        )
        warning_id = cursor.lastrowid
        assert warning_id is not None
        await audit(db, "accepted", now, warning_id, {"risk": warning.risk.value, "merged_into": merged_into})
        escalation_id = None
        if intake.escalate is not None:  # finished at once: an escalation, and the outcome to deliver
            escalation = await open_escalation(db, warning_id, intake.escalate, "", EscalationMode.TICKET, None, now)
            escalation_id = escalation.id
            await queue_outcomes(db, warning_id, now)
        row = await fetch_one(db, "SELECT * FROM warnings WHERE id = ?", warning_id)
        assert row is not None
        return Accepted(warning=warning_record(row), created=True, merged_into=merged_into,
                        merged_into_external_id=merged_into_external_id, escalation_id=escalation_id)

    async def get_warning(self, warning_id: int) -> WarningRecord | None:
        row = await self.database.read_one("SELECT * FROM warnings WHERE id = ?", warning_id)
        return warning_record(row) if row else None

    async def get_warning_by_external_id(self, external_id: str) -> WarningRecord | None:
        row = await self.database.read_one("SELECT * FROM warnings WHERE external_id = ?", external_id)
        return warning_record(row) if row else None

    async def queue_depth(self) -> dict[str, int]:
        rows = await self.database.read_all("SELECT risk, COUNT(*) FROM warnings WHERE status = 'queued' GROUP BY risk")
        depth = {risk.value: 0 for risk in RiskLevel}
        depth.update({row[0]: row[1] for row in rows})
        return depth

    # -- scheduling ------------------------------------------------------------------

    async def due_warnings(self, now: float, risks: Sequence[RiskLevel], limit: int) -> list[WarningRecord]:
        if not risks:
            return []
        marks = ",".join("?" * len(risks))
        rows = await self.database.read_all(
            f"""SELECT * FROM warnings WHERE status = 'queued' AND next_attempt_at <= ? AND risk IN ({marks})
                ORDER BY {RISK_ORDER}, received_at, id LIMIT ?""",
            now, *[risk.value for risk in risks], limit,
        )
        return [warning_record(row) for row in rows]

    async def next_due_at(self, risks: Sequence[RiskLevel]) -> float | None:
        if not risks:
            return None
        marks = ",".join("?" * len(risks))
        row = await self.database.read_one(
            f"SELECT MIN(next_attempt_at) FROM warnings WHERE status = 'queued' AND risk IN ({marks})",
            *[risk.value for risk in risks],
        )
        return row[0] if row and row[0] is not None else None

    async def attempts_since(self, phone: str, since: float) -> int:
        row = await self.database.read_one("SELECT COUNT(*) FROM attempts WHERE phone = ? AND started_at >= ?", phone, since)
        return int(row[0]) if row else 0

    async def claim(
        self, warning_id: int, *, owner: str, worker: str, script: str, script_version: str, lease_seconds: float, now: float
    ) -> AttemptRecord | None:
        try:
            return await self._claim(warning_id, owner, worker, script, script_version, lease_seconds, now)
        except _NumberBusy:  # the whole claim was rolled back
            return None

    async def _claim(
        self, warning_id: int, owner: str, worker: str, script: str, script_version: str, lease_seconds: float, now: float
    ) -> AttemptRecord | None:
        async with self.database.transaction() as db:
            row = await fetch_one(db, "SELECT * FROM warnings WHERE id = ?", warning_id)
            if row is None or row["status"] != WarningStatus.QUEUED.value:
                return None
            await db.execute(
                """UPDATE warnings SET status = 'calling', lease_owner = ?, lease_expires_at = ?, script = ?, updated_at = ?
                   WHERE id = ?""",
                (owner, now + lease_seconds, script, now, warning_id),
            )
            count = await fetch_one(db, "SELECT COUNT(*) FROM attempts WHERE warning_id = ?", warning_id)
            try:
                cursor = await db.execute(
                    """INSERT INTO attempts (warning_id, number, phone, worker, script, script_version, started_at, state)
                       VALUES (?, ?, ?, ?, ?, ?, ?, 'in_flight')""",
                    (warning_id, (count[0] if count else 0) + 1, row["phone"], worker, script, script_version, now),
                )
            except sqlite3.IntegrityError as err:  # attempts_one_live_per_number: this number has a live attempt
                raise _NumberBusy from err
            attempt_id = cursor.lastrowid
            await audit(db, "dialling", now, warning_id, {"attempt": attempt_id, "worker": worker, "script": script})
            attempt = await fetch_one(db, "SELECT * FROM attempts WHERE id = ?", attempt_id)
        assert attempt is not None
        return attempt_record(attempt)

    async def renew_leases(self, owner: str, until: float) -> None:
        async with self.database.transaction() as db:
            await db.execute("UPDATE warnings SET lease_expires_at = ? WHERE status = 'calling' AND lease_owner = ?", (until, owner))

    async def defer(self, warning_id: int, until: float, note: str, now: float) -> None:
        async with self.database.transaction() as db:
            await db.execute(
                "UPDATE warnings SET next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'queued'", (until, now, warning_id)
            )
            await audit(db, "deferred", now, warning_id, {"until": until, "why": note})

    # -- attempts --------------------------------------------------------------------

    async def get_attempt(self, attempt_id: int) -> AttemptRecord | None:
        row = await self.database.read_one("SELECT * FROM attempts WHERE id = ?", attempt_id)
        return attempt_record(row) if row else None

    async def attempts_of(self, warning_id: int) -> list[AttemptRecord]:
        rows = await self.database.read_all("SELECT * FROM attempts WHERE warning_id = ? ORDER BY id", warning_id)
        return [attempt_record(row) for row in rows]

    async def finish_attempt(self, attempt_id: int, result: AttemptResult, decision: Decision, now: float) -> list[EscalationRecord]:
        opened: list[EscalationRecord] = []
        async with self.database.transaction() as db:
            attempt = await fetch_one(db, "SELECT * FROM attempts WHERE id = ?", attempt_id)
            if attempt is None:
                raise NotFound(f"no attempt {attempt_id}")
            if attempt["state"] != AttemptState.IN_FLIGHT.value:
                return []  # already closed (e.g. recovered after a lease expired): keep the first record
            warning_id = attempt["warning_id"]
            await db.execute(
                """UPDATE attempts SET state = 'finished', ended_at = ?, sip_status = ?, call_outcome = ?, outcome = ?,
                   answered = ?, duration_seconds = ?, transcript = ?, escalation = ?, recording = ?, error = ?, path = ? WHERE id = ?""",
                (now, result.sip_status, result.call_outcome, result.outcome.value, int(result.answered), result.duration_seconds,
                 json.dumps(result.transcript, ensure_ascii=False),
                 json.dumps(result.escalation, ensure_ascii=False) if result.escalation else None, result.recording,
                 result.error, json.dumps(result.path, ensure_ascii=False), attempt_id),
            )
            if result.escalation:  # the call's own escalation (it may already be open from the live event)
                opened += await self._call_escalation(db, warning_id, attempt_id, result.escalation, now)
            if decision.escalate:
                already = await fetch_one(
                    db, "SELECT 1 FROM escalations WHERE warning_id = ? AND reason = ? AND status != 'resolved'",
                    warning_id, decision.escalate,
                )
                if already is None:
                    opened.append(await open_escalation(db, warning_id, decision.escalate, "", EscalationMode.TICKET, None, now))
            faults = (int(decision.counts_attempt), int(decision.trunk_fault), int(decision.robot_fault))
            if decision.finished:
                outcome = decision.outcome.value if decision.outcome else None
                await db.execute(
                    """UPDATE warnings SET status = 'done', outcome = ?, lease_owner = NULL, lease_expires_at = NULL,
                       attempts = attempts + ?, trunk_failures = trunk_failures + ?, robot_errors = robot_errors + ?,
                       updated_at = ? WHERE id = ?""",
                    (outcome, *faults, now, warning_id),
                )
                await db.execute(
                    "UPDATE warnings SET status = 'done', outcome = ?, updated_at = ? WHERE merged_into = ? AND status = 'merged'",
                    (outcome, now, warning_id),
                )
                await queue_outcomes(db, warning_id, now)
            else:
                await db.execute(
                    """UPDATE warnings SET status = 'queued', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL,
                       attempts = attempts + ?, trunk_failures = trunk_failures + ?, robot_errors = robot_errors + ?,
                       updated_at = ? WHERE id = ?""",
                    (decision.next_attempt_at if decision.next_attempt_at is not None else now, *faults, now, warning_id),
                )
            await audit(db, "attempt_finished", now, warning_id, {
                "attempt": attempt_id, "outcome": result.outcome.value, "sip_status": result.sip_status,
                "finished": decision.finished, "next_attempt_at": decision.next_attempt_at, "note": decision.note,
            })
        return opened

    async def _call_escalation(
        self, db: aiosqlite.Connection, warning_id: int, attempt_id: int, escalation: dict[str, object], now: float,
    ) -> list[EscalationRecord]:
        existing = await fetch_one(db, "SELECT * FROM escalations WHERE attempt_id = ?", attempt_id)
        mode = str(escalation.get("mode") or EscalationMode.TICKET.value)
        if existing is None:
            return [await open_escalation(db, warning_id, str(escalation["reason"]), str(escalation.get("phrase") or ""),
                                          EscalationMode(mode), attempt_id, now)]
        if existing["mode"] != mode and existing["status"] != "resolved":
            # e.g. live -> ticket: no officer answered, so one calls back
            failed = existing["mode"] == EscalationMode.LIVE.value and mode == EscalationMode.TICKET.value
            await db.execute("UPDATE escalations SET mode = ?, handoff_failed = MAX(handoff_failed, ?) WHERE id = ?",
                             (mode, int(failed), existing["id"]))
            await audit(db, "escalation_mode", now, warning_id, {"escalation": existing["id"], "from": existing["mode"], "to": mode})
        return []

    async def finish_without_call(self, warning_id: int, outcome: AttemptOutcome, escalate: str, now: float) -> EscalationRecord:
        async with self.database.transaction() as db:
            await db.execute(
                "UPDATE warnings SET status = 'done', outcome = ?, updated_at = ? WHERE id = ? OR merged_into = ?",
                (outcome.value, now, warning_id, warning_id),
            )
            escalation = await open_escalation(db, warning_id, escalate, "", EscalationMode.TICKET, None, now)
            await queue_outcomes(db, warning_id, now)
        return escalation

    async def recover(self, now: float, *, owner: str | None = None, attempt_ids: Sequence[int] | None = None) -> list[int]:
        async with self.database.transaction() as db:
            if attempt_ids is not None:
                marks = ",".join("?" * len(attempt_ids))
                rows = await fetch_all(
                    db, f"SELECT id, warning_id FROM attempts WHERE state = 'in_flight' AND id IN ({marks})", *attempt_ids
                ) if attempt_ids else []
            elif owner is not None:
                rows = await fetch_all(
                    db, """SELECT a.id, a.warning_id FROM attempts a JOIN warnings w ON w.id = a.warning_id
                           WHERE a.state = 'in_flight' AND (w.lease_owner = ? OR w.status != 'calling')""", owner
                )
            else:
                rows = await fetch_all(
                    db, """SELECT a.id, a.warning_id FROM attempts a JOIN warnings w ON w.id = a.warning_id
                           WHERE a.state = 'in_flight' AND w.lease_expires_at < ?""", now
                )
            for row in rows:
                await db.execute(
                    """UPDATE attempts SET state = 'finished', ended_at = ?, call_outcome = 'interrupted', outcome = 'interrupted'
                       WHERE id = ?""", (now, row["id"]),
                )
                await db.execute(
                    """UPDATE warnings SET status = 'queued', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL,
                       updated_at = ? WHERE id = ? AND status = 'calling'""", (now, now, row["warning_id"]),
                )
                await audit(db, "attempt_interrupted", now, row["warning_id"], {"attempt": row["id"]})
        return [row["id"] for row in rows]
