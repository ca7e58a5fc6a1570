"""The embedded store: SQLite through aiosqlite, in WAL mode, with numbered migrations.

Durability: WAL with `synchronous=FULL`, and every change that belongs together is one
`BEGIN IMMEDIATE` transaction, so a `kill -9` at any moment leaves either all of it or none.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from ..dialog.const import EscalationMode, RiskLevel
from ..private import private_dir, private_file, tighten
from .migrations import MIGRATIONS
from .records import (
    Accepted,
    AttemptRecord,
    AttemptResult,
    AttemptState,
    Decision,
    DeliveryKind,
    DeliveryRecord,
    EscalationRecord,
    EscalationStatus,
    NewWarning,
    WarningRecord,
    WarningStatus,
)
from .repository import Conflict, NotFound, Repository, StoreError

RISK_ORDER = "CASE risk WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END"
RISK_RANK = {"low": 0, "medium": 1, "high": 2}

def _json_fields(row: sqlite3.Row, fields: Sequence[str]) -> dict[str, Any]:
    data = dict(row)
    for name in fields:
        if data.get(name) is not None:
            data[name] = json.loads(data[name])
    return data


def _warning(row: sqlite3.Row) -> WarningRecord:
    return WarningRecord.model_validate(_json_fields(row, ["extra"]))


def _attempt(row: sqlite3.Row) -> AttemptRecord:
    data = _json_fields(row, ["transcript", "escalation"])
    data.pop("phone")
    data["answered"] = bool(data["answered"])
    return AttemptRecord.model_validate(data)


def _escalation(row: sqlite3.Row, notes: Sequence[sqlite3.Row]) -> EscalationRecord:
    data = dict(row)
    data.pop("notes")  # the single text of schema 1; migration 2 copied it into escalation_notes
    data["notes"] = [{"author": n["author"], "written_at": n["written_at"], "text": n["text"]} for n in notes]
    return EscalationRecord.model_validate(data)


def _delivery(row: sqlite3.Row) -> DeliveryRecord:
    return DeliveryRecord.model_validate(dict(row))


class SqliteRepository(Repository):
    migrations = MIGRATIONS

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        # One connection: transactions from concurrent coroutines must take turns, or one
        # coroutine's BEGIN lands inside another's transaction.
        self._writer = asyncio.Lock()

    # -- connection and schema -----------------------------------------------------

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError(f"the store {self.path} is not open")
        return self._db

    async def open(self) -> None:
        try:
            # Warnings are personal data: the database (and SQLite's -wal and -shm files, which
            # take its mode) is 0600, in a folder that is 0700 if the robot creates it.
            private_dir(self.path.parent)
            private_file(self.path)
            for companion in ("-wal", "-shm"):
                tighten(f"{self.path}{companion}")
        except OSError as err:
            raise StoreError(f"cannot create the database {self.path}: {err}") from err
        try:
            db = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(f"cannot open the database {self.path}: {err}") from err
        db.row_factory = sqlite3.Row
        self._db = db
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=FULL")
            await db.execute("PRAGMA foreign_keys=ON")
            await db.execute("PRAGMA busy_timeout=10000")
            await self._migrate()
        except BaseException:
            await self.close()
            raise

    async def schema_version(self) -> int:
        async with self.db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        version = await self.schema_version()
        if version > len(self.migrations):
            raise StoreError(
                f"the database {self.path} has schema version {version}, newer than this robot "
                f"understands ({len(self.migrations)}): upgrade the robot"
            )
        for number, script in enumerate(self.migrations[version:], start=version + 1):
            # executescript commits first; the script and the version bump are one transaction.
            await self.db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._writer:
            db = self.db
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        async with self.db.execute(sql, args) as cursor:
            return await cursor.fetchone()

    async def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        async with self.db.execute(sql, args) as cursor:
            return list(await cursor.fetchall())

    # -- intake ----------------------------------------------------------------------

    async def accept_warning(
        self, warning: NewWarning, now: float, *, escalate_reason: str | None = None, escalation_url: str | None = None
    ) -> Accepted:
        async with self._transaction() as db:
            existing = await self._one("SELECT * FROM warnings WHERE external_id = ?", warning.external_id)
            if existing is not None:
                return Accepted(warning=_warning(existing), created=False, merged_into=existing["merged_into"])
            status, merged_into = WarningStatus.QUEUED.value, None
            if escalate_reason is None:
                carrier = await self._one(
                    "SELECT * FROM warnings WHERE phone = ? AND status IN ('queued', 'calling') ORDER BY id LIMIT 1", warning.phone
                )
                if carrier is not None:
                    status, merged_into = WarningStatus.MERGED.value, carrier["id"]
                    if RISK_RANK[warning.risk.value] > RISK_RANK[carrier["risk"]]:
                        await db.execute(
                            "UPDATE warnings SET risk = ?, updated_at = ? WHERE id = ?", (warning.risk.value, now, carrier["id"])
                        )
            else:
                status = WarningStatus.DONE.value
            cursor = await db.execute(
                """INSERT INTO warnings (external_id, phone, dial_number, name, risk, fraud_type, language, received_at,
                   callback_url, extra, accepted_at, status, next_attempt_at, merged_into, outcome, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (warning.external_id, warning.phone, warning.dial_number, warning.name, warning.risk.value, warning.fraud_type,
                 warning.language, warning.received_at, warning.callback_url, json.dumps(warning.extra, ensure_ascii=False),
                 now, status, now, merged_into, "escalated" if escalate_reason else None, now),
            )
            warning_id = cursor.lastrowid
            assert warning_id is not None
            await self._audit(db, "accepted", now, warning_id, {"risk": warning.risk.value, "merged_into": merged_into})
            escalation_id = None
            if escalate_reason is not None:
                escalation = await self._open_escalation(
                    db, warning_id, escalate_reason, "", EscalationMode.TICKET, None, now, escalation_url
                )
                escalation_id = escalation.id
            row = await self._one("SELECT * FROM warnings WHERE id = ?", warning_id)
        assert row is not None
        return Accepted(warning=_warning(row), created=True, merged_into=merged_into, escalation_id=escalation_id)

    async def get_warning(self, warning_id: int) -> WarningRecord | None:
        row = await self._one("SELECT * FROM warnings WHERE id = ?", warning_id)
        return _warning(row) if row else None

    async def get_warning_by_external_id(self, external_id: str) -> WarningRecord | None:
        row = await self._one("SELECT * FROM warnings WHERE external_id = ?", external_id)
        return _warning(row) if row else None

    async def queue_depth(self) -> dict[str, int]:
        rows = await self._all("SELECT risk, COUNT(*) FROM warnings WHERE status = 'queued' GROUP BY risk")
        depth = {risk.value: 0 for risk in RiskLevel}
        depth.update({row[0]: row[1] for row in rows})
        return depth

    # -- scheduling ------------------------------------------------------------------

    async def due_warnings(self, now: float, risks: Sequence[RiskLevel], limit: int) -> list[WarningRecord]:
        if not risks:
            return []
        marks = ",".join("?" * len(risks))
        rows = await self._all(
            f"""SELECT * FROM warnings WHERE status = 'queued' AND next_attempt_at <= ? AND risk IN ({marks})
                ORDER BY {RISK_ORDER}, received_at, id LIMIT ?""",
            now, *[risk.value for risk in risks], limit,
        )
        return [_warning(row) for row in rows]

    async def next_due_at(self, risks: Sequence[RiskLevel]) -> float | None:
        if not risks:
            return None
        marks = ",".join("?" * len(risks))
        row = await self._one(
            f"SELECT MIN(next_attempt_at) FROM warnings WHERE status = 'queued' AND risk IN ({marks})",
            *[risk.value for risk in risks],
        )
        return row[0] if row and row[0] is not None else None

    async def attempts_since(self, phone: str, since: float) -> int:
        row = await self._one("SELECT COUNT(*) FROM attempts WHERE phone = ? AND started_at >= ?", phone, since)
        return int(row[0]) if row else 0

    async def claim(
        self, warning_id: int, *, owner: str, worker: str, script: str, script_version: str, lease_seconds: float, now: float
    ) -> AttemptRecord | None:
        async with self._transaction() as db:
            row = await self._one("SELECT * FROM warnings WHERE id = ?", warning_id)
            if row is None or row["status"] != WarningStatus.QUEUED.value:
                return None
            busy = await self._one(
                "SELECT 1 FROM warnings WHERE phone = ? AND status = 'calling' AND id != ?", row["phone"], warning_id
            )
            if busy is not None:  # at most one live attempt per number
                return None
            await db.execute(
                """UPDATE warnings SET status = 'calling', lease_owner = ?, lease_expires_at = ?, script = ?, updated_at = ?
                   WHERE id = ?""",
                (owner, now + lease_seconds, script, now, warning_id),
            )
            count = await self._one("SELECT COUNT(*) FROM attempts WHERE warning_id = ?", warning_id)
            cursor = await db.execute(
                """INSERT INTO attempts (warning_id, number, phone, worker, script, script_version, started_at, state)
                   VALUES (?, ?, ?, ?, ?, ?, ?, 'in_flight')""",
                (warning_id, (count[0] if count else 0) + 1, row["phone"], worker, script, script_version, now),
            )
            attempt_id = cursor.lastrowid
            await self._audit(db, "dialling", now, warning_id, {"attempt": attempt_id, "worker": worker, "script": script})
            attempt = await self._one("SELECT * FROM attempts WHERE id = ?", attempt_id)
        assert attempt is not None
        return _attempt(attempt)

    async def renew_leases(self, owner: str, until: float) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE warnings SET lease_expires_at = ? WHERE status = 'calling' AND lease_owner = ?", (until, owner)
            )

    async def defer(self, warning_id: int, until: float, note: str, now: float) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE warnings SET next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'queued'", (until, now, warning_id)
            )
            await self._audit(db, "deferred", now, warning_id, {"until": until, "why": note})

    # -- attempts --------------------------------------------------------------------

    async def get_attempt(self, attempt_id: int) -> AttemptRecord | None:
        row = await self._one("SELECT * FROM attempts WHERE id = ?", attempt_id)
        return _attempt(row) if row else None

    async def attempts_of(self, warning_id: int) -> list[AttemptRecord]:
        return [_attempt(row) for row in await self._all("SELECT * FROM attempts WHERE warning_id = ? ORDER BY id", warning_id)]

    async def finish_attempt(
        self,
        attempt_id: int,
        result: AttemptResult,
        decision: Decision,
        now: float,
        *,
        escalation_url: str | None = None,
        outcome_url: str | None = None,
    ) -> list[EscalationRecord]:
        opened: list[EscalationRecord] = []
        async with self._transaction() as db:
            attempt = await self._one("SELECT * FROM attempts WHERE id = ?", attempt_id)
            if attempt is None:
                raise NotFound(f"no attempt {attempt_id}")
            if attempt["state"] != AttemptState.IN_FLIGHT.value:
                return []  # already closed (e.g. recovered after a lease expired): keep the first record
            warning_id = attempt["warning_id"]
            await db.execute(
                """UPDATE attempts SET state = 'finished', ended_at = ?, sip_status = ?, call_outcome = ?, outcome = ?,
                   answered = ?, duration_seconds = ?, transcript = ?, escalation = ?, recording = ? WHERE id = ?""",
                (now, result.sip_status, result.call_outcome, result.outcome, int(result.answered), result.duration_seconds,
                 json.dumps(result.transcript, ensure_ascii=False),
                 json.dumps(result.escalation, ensure_ascii=False) if result.escalation else None, result.recording, attempt_id),
            )
            if result.escalation:  # the call's own escalation (it may already be open from the live event)
                existing = await self._one("SELECT * FROM escalations WHERE attempt_id = ?", attempt_id)
                if existing is None:
                    opened.append(await self._open_escalation(
                        db, warning_id, result.escalation["reason"], result.escalation.get("phrase") or "",
                        EscalationMode(result.escalation.get("mode", "ticket")), attempt_id, now, escalation_url,
                    ))
                elif existing["mode"] != result.escalation.get("mode", existing["mode"]) and existing["status"] != "resolved":
                    # e.g. live -> ticket: no officer answered, so one calls back
                    await db.execute("UPDATE escalations SET mode = ? WHERE id = ?", (result.escalation["mode"], existing["id"]))
                    await self._audit(db, "escalation_mode", now, warning_id, {
                        "escalation": existing["id"], "from": existing["mode"], "to": result.escalation["mode"]})
            if decision.escalate:
                already = await self._one(
                    "SELECT 1 FROM escalations WHERE warning_id = ? AND reason = ? AND status != 'resolved'", warning_id, decision.escalate
                )
                if already is None:
                    opened.append(await self._open_escalation(
                        db, warning_id, decision.escalate, "", EscalationMode.TICKET, None, now, escalation_url
                    ))
            if decision.finished:
                await db.execute(
                    """UPDATE warnings SET status = 'done', outcome = ?, lease_owner = NULL, lease_expires_at = NULL,
                       attempts = attempts + ?, trunk_failures = trunk_failures + ?, updated_at = ? WHERE id = ?""",
                    (decision.outcome, int(decision.counts_attempt), int(decision.trunk_fault), now, warning_id),
                )
                await db.execute(
                    "UPDATE warnings SET status = 'done', outcome = ?, updated_at = ? WHERE merged_into = ? AND status = 'merged'",
                    (decision.outcome, now, warning_id),
                )
                await self._queue_outcomes(db, warning_id, now, outcome_url)
            else:
                await db.execute(
                    """UPDATE warnings SET status = 'queued', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL,
                       attempts = attempts + ?, trunk_failures = trunk_failures + ?, updated_at = ? WHERE id = ?""",
                    (decision.next_attempt_at if decision.next_attempt_at is not None else now,
                     int(decision.counts_attempt), int(decision.trunk_fault), now, warning_id),
                )
            await self._audit(db, "attempt_finished", now, warning_id, {
                "attempt": attempt_id, "outcome": result.outcome, "sip_status": result.sip_status,
                "finished": decision.finished, "next_attempt_at": decision.next_attempt_at, "note": decision.note,
            })
        return opened

    async def _queue_outcomes(self, db: aiosqlite.Connection, warning_id: int, now: float, outcome_url: str | None) -> None:
        """One outcome delivery per finished warning (and per warning merged into it)."""
        for row in await self._all("SELECT id, callback_url FROM warnings WHERE id = ? OR merged_into = ?", warning_id, warning_id):
            url = row["callback_url"] or outcome_url
            if url:
                await self._queue_delivery(db, DeliveryKind.OUTCOME, row["id"], url, now)

    async def finish_without_call(
        self, warning_id: int, outcome: str, escalate: str, now: float, *, escalation_url: str | None = None,
        outcome_url: str | None = None,
    ) -> EscalationRecord:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE warnings SET status = 'done', outcome = ?, updated_at = ? WHERE id = ? OR merged_into = ?",
                (outcome, now, warning_id, warning_id),
            )
            escalation = await self._open_escalation(db, warning_id, escalate, "", EscalationMode.TICKET, None, now, escalation_url)
            await self._queue_outcomes(db, warning_id, now, outcome_url)
        return escalation

    async def recover(self, now: float, *, owner: str | None = None, attempt_ids: Sequence[int] | None = None) -> list[int]:
        async with self._transaction() as db:
            if attempt_ids is not None:
                marks = ",".join("?" * len(attempt_ids))
                rows = await self._all(
                    f"SELECT id, warning_id FROM attempts WHERE state = 'in_flight' AND id IN ({marks})", *attempt_ids
                ) if attempt_ids else []
            elif owner is not None:
                rows = await self._all(
                    """SELECT a.id, a.warning_id FROM attempts a JOIN warnings w ON w.id = a.warning_id
                       WHERE a.state = 'in_flight' AND (w.lease_owner = ? OR w.status != 'calling')""", owner
                )
            else:
                rows = await self._all(
                    """SELECT a.id, a.warning_id FROM attempts a JOIN warnings w ON w.id = a.warning_id
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
                await self._audit(db, "attempt_interrupted", now, row["warning_id"], {"attempt": row["id"]})
        return [row["id"] for row in rows]

    # -- escalations -----------------------------------------------------------------

    async def _open_escalation(
        self, db: aiosqlite.Connection, warning_id: int, reason: str, phrase: str, mode: EscalationMode,
        attempt_id: int | None, now: float, escalation_url: str | None,
    ) -> EscalationRecord:
        cursor = await db.execute(
            """INSERT INTO escalations (warning_id, attempt_id, reason, phrase, mode, status, created_at)
               VALUES (?, ?, ?, ?, ?, 'open', ?)""",
            (warning_id, attempt_id, reason, phrase, mode.value, now),
        )
        escalation_id = cursor.lastrowid
        assert escalation_id is not None
        if escalation_url:
            await self._queue_delivery(db, DeliveryKind.ESCALATION, escalation_id, escalation_url, now)
        await self._audit(db, "escalated", now, warning_id, {"escalation": escalation_id, "reason": reason, "mode": mode.value})
        return await self._escalation_by_id(escalation_id)

    async def _escalation_by_id(self, escalation_id: int) -> EscalationRecord:
        row = await self._one("SELECT * FROM escalations WHERE id = ?", escalation_id)
        if row is None:
            raise NotFound(f"no escalation {escalation_id}")
        return await self._with_notes(row)

    async def _with_notes(self, row: sqlite3.Row) -> EscalationRecord:
        notes = await self._all("SELECT * FROM escalation_notes WHERE escalation_id = ? ORDER BY id", row["id"])
        return _escalation(row, notes)

    async def open_escalation(
        self,
        warning_id: int,
        reason: str,
        *,
        phrase: str = "",
        mode: EscalationMode = EscalationMode.TICKET,
        attempt_id: int | None = None,
        now: float,
        escalation_url: str | None = None,
    ) -> tuple[EscalationRecord, bool]:
        async with self._transaction() as db:
            if attempt_id is not None:
                existing = await self._one("SELECT * FROM escalations WHERE attempt_id = ?", attempt_id)
                if existing is not None:
                    return await self._with_notes(existing), False
            return await self._open_escalation(db, warning_id, reason, phrase, mode, attempt_id, now, escalation_url), True

    async def get_escalation(self, escalation_id: int) -> EscalationRecord | None:
        row = await self._one("SELECT * FROM escalations WHERE id = ?", escalation_id)
        return await self._with_notes(row) if row else None

    async def escalations(self, status: EscalationStatus | None = None, warning_id: int | None = None) -> list[EscalationRecord]:
        clauses: list[str] = []
        args: list[Any] = []
        if status is not None:
            clauses.append("status = ?")
            args.append(status.value)
        if warning_id is not None:
            clauses.append("warning_id = ?")
            args.append(warning_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return [await self._with_notes(row) for row in await self._all(f"SELECT * FROM escalations {where} ORDER BY id", *args)]

    async def claim_escalation(self, escalation_id: int, officer: str, now: float) -> EscalationRecord:
        async with self._transaction() as db:
            row = await self._one("SELECT * FROM escalations WHERE id = ?", escalation_id)
            if row is None:
                raise NotFound(f"no escalation {escalation_id}")
            if row["status"] == EscalationStatus.RESOLVED.value:
                raise Conflict(f"escalation {escalation_id} was resolved by {row['claimed_by']}: a resolved escalation is final")
            if row["status"] == EscalationStatus.CLAIMED.value and row["claimed_by"] != officer:
                raise Conflict(f"escalation {escalation_id} is claimed by {row['claimed_by']}")
            if row["status"] == EscalationStatus.OPEN.value:
                await db.execute(
                    "UPDATE escalations SET status = 'claimed', claimed_by = ?, claimed_at = ? WHERE id = ?",
                    (officer, now, escalation_id),
                )
                await self._audit(db, "escalation_claimed", now, row["warning_id"], {"escalation": escalation_id, "officer": officer})
            return await self._escalation_by_id(escalation_id)

    async def resolve_escalation(self, escalation_id: int, officer: str, notes: str, now: float) -> EscalationRecord:
        async with self._transaction() as db:
            row = await self._final_check(escalation_id)
            if notes:
                await self._append_note(db, row, officer, notes, now)
            await db.execute(
                "UPDATE escalations SET status = 'resolved', claimed_by = COALESCE(claimed_by, ?), resolved_at = ? WHERE id = ?",
                (officer, now, escalation_id),
            )
            await self._audit(db, "escalation_resolved", now, row["warning_id"], {"escalation": escalation_id, "officer": officer})
            return await self._escalation_by_id(escalation_id)

    async def add_escalation_note(self, escalation_id: int, officer: str, text: str, now: float) -> EscalationRecord:
        async with self._transaction() as db:
            row = await self._final_check(escalation_id)
            await self._append_note(db, row, officer, text, now)
            return await self._escalation_by_id(escalation_id)

    async def _final_check(self, escalation_id: int) -> sqlite3.Row:
        row = await self._one("SELECT * FROM escalations WHERE id = ?", escalation_id)
        if row is None:
            raise NotFound(f"no escalation {escalation_id}")
        if row["status"] == EscalationStatus.RESOLVED.value:
            raise Conflict(f"escalation {escalation_id} is already resolved: a resolved escalation is final")
        return row

    async def _append_note(self, db: aiosqlite.Connection, row: sqlite3.Row, officer: str, text: str, now: float) -> None:
        await db.execute(
            "INSERT INTO escalation_notes (escalation_id, author, written_at, text) VALUES (?, ?, ?, ?)",
            (row["id"], officer, now, text),
        )
        await self._audit(db, "escalation_note", now, row["warning_id"], {"escalation": row["id"], "officer": officer, "note": text})

    # -- deliveries ------------------------------------------------------------------

    async def _queue_delivery(self, db: aiosqlite.Connection, kind: DeliveryKind, subject_id: int, url: str, now: float) -> None:
        payload = await self._payload(kind, subject_id)
        await db.execute(
            """INSERT INTO deliveries (kind, subject_id, url, payload, status, next_try_at, created_at)
               VALUES (?, ?, ?, ?, 'pending', ?, ?)""",
            (kind.value, subject_id, url, json.dumps(payload, ensure_ascii=False), now, now),
        )

    async def _payload(self, kind: DeliveryKind, subject_id: int) -> dict[str, Any]:
        """The body is fixed when the delivery is queued, so every retry sends the same bytes."""
        if kind is DeliveryKind.ESCALATION:
            escalation = await self._one("SELECT * FROM escalations WHERE id = ?", subject_id)
            assert escalation is not None
            warning = await self._one("SELECT * FROM warnings WHERE id = ?", escalation["warning_id"])
            assert warning is not None
            return {"type": "escalation", "escalation": (await self._with_notes(escalation)).model_dump(mode="json"),
                    "warning": _public_warning(warning)}
        warning = await self._one("SELECT * FROM warnings WHERE id = ?", subject_id)
        assert warning is not None
        carrier_id = warning["merged_into"] or warning["id"]
        attempts = [_attempt(row).model_dump(mode="json") for row in
                    await self._all("SELECT * FROM attempts WHERE warning_id = ? ORDER BY id", carrier_id)]
        escalations = [(await self._with_notes(row)).model_dump(mode="json") for row in
                       await self._all("SELECT * FROM escalations WHERE warning_id = ? ORDER BY id", carrier_id)]
        return {"type": "outcome", "warning": _public_warning(warning), "attempts": attempts, "escalations": escalations}

    async def due_deliveries(self, now: float, limit: int) -> list[DeliveryRecord]:
        rows = await self._all(
            "SELECT * FROM deliveries WHERE status = 'pending' AND next_try_at <= ? ORDER BY next_try_at, id LIMIT ?", now, limit
        )
        return [_delivery(row) for row in rows]

    async def delivery_done(self, delivery_id: int, now: float) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE deliveries SET status = 'delivered', tries = tries + 1, delivered_at = ?, last_error = '' WHERE id = ?",
                (now, delivery_id),
            )

    async def delivery_failed(self, delivery_id: int, error: str, retry_at: float | None, now: float) -> None:
        async with self._transaction() as db:
            if retry_at is None:
                await db.execute(
                    "UPDATE deliveries SET status = 'failed', tries = tries + 1, last_error = ? WHERE id = ?", (error, delivery_id)
                )
            else:
                await db.execute(
                    "UPDATE deliveries SET tries = tries + 1, last_error = ?, next_try_at = ? WHERE id = ?",
                    (error, retry_at, delivery_id),
                )

    async def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        row = await self._one("SELECT * FROM deliveries WHERE id = ?", delivery_id)
        return _delivery(row) if row else None

    # -- audit -----------------------------------------------------------------------

    async def _audit(self, db: aiosqlite.Connection, kind: str, now: float, warning_id: int | None, detail: dict[str, Any]) -> None:
        await db.execute(
            "INSERT INTO audit (at, warning_id, kind, detail) VALUES (?, ?, ?, ?)",
            (now, warning_id, kind, json.dumps(detail, ensure_ascii=False)),
        )

    async def audit(self, kind: str, now: float, *, warning_id: int | None = None, detail: dict[str, Any] | None = None) -> None:
        async with self._transaction() as db:
            await self._audit(db, kind, now, warning_id, detail or {})

    async def audit_log(self, warning_id: int) -> list[dict[str, Any]]:
        rows = await self._all("SELECT at, kind, detail FROM audit WHERE warning_id = ? ORDER BY id", warning_id)
        return [{"at": row["at"], "kind": row["kind"], **json.loads(row["detail"])} for row in rows]


def _public_warning(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["external_id"], "phone": row["phone"], "name": row["name"], "risk": row["risk"],
        "fraud_type": row["fraud_type"], "received_at": row["received_at"], "status": row["status"],
        "outcome": row["outcome"], "attempts": row["attempts"], "extra": json.loads(row["extra"]),
    }
