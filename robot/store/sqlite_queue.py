"""The SQLite store's escalations (the officers' queue), deliveries (the outbox of webhooks)
and audit log; `SqliteRepository` (sqlite.py) adds warnings and attempts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from ..dialog.const import EscalationMode
from .records import (
    DeliveryKind,
    DeliveryRecord,
    DeliveryStatus,
    EscalationRecord,
    EscalationStatus,
    NodeRecord,
    QueuedEscalation,
)
from .repository import Conflict, NotFound, Repository
from .sqlite_db import Database
from .sqlite_rows import (
    QUEUE_SELECT,
    audit,
    delivery_record,
    escalation_in,
    escalation_record,
    fetch_one,
    open_escalation,
    queued_escalation,
)


class SqliteQueue(Repository):
    database: Database

    # -- escalations -----------------------------------------------------------------

    async def open_escalation(
        self,
        warning_id: int,
        reason: str,
        *,
        phrase: str = "",
        mode: EscalationMode = EscalationMode.TICKET,
        attempt_id: int | None = None,
        now: float,
    ) -> tuple[EscalationRecord, bool]:
        async with self.database.transaction() as db:
            if attempt_id is not None:
                existing = await fetch_one(db, "SELECT id FROM escalations WHERE attempt_id = ?", attempt_id)
                if existing is not None:
                    found = await escalation_in(db, existing["id"])
                    assert found is not None
                    return found, False
            return await open_escalation(db, warning_id, reason, phrase, mode, attempt_id, now), True

    async def get_escalation(self, escalation_id: int) -> EscalationRecord | None:
        row = await self.database.read_one("SELECT * FROM escalations WHERE id = ?", escalation_id)
        return await self._with_notes(row) if row else None

    async def _with_notes(self, row: sqlite3.Row) -> EscalationRecord:
        notes = await self.database.read_all("SELECT * FROM escalation_notes WHERE escalation_id = ? ORDER BY id", row["id"])
        return escalation_record(row, notes)

    async def escalations(self, status: EscalationStatus | None = None, warning_id: int | None = None) -> list[EscalationRecord]:
        clauses: list[str] = []
        args: list[Any] = []
        if status is not None:
            clauses.append("status = ?")
            args.append(str(status))
        if warning_id is not None:
            clauses.append("warning_id = ?")
            args.append(warning_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self.database.read_all(f"SELECT * FROM escalations {where} ORDER BY id", *args)
        return [await self._with_notes(row) for row in rows]

    async def escalation_queue(
        self, *, status: EscalationStatus | None = None, reason: str | None = None, since: float | None = None,
        after: int | None = None, limit: int = 100,
    ) -> list[QueuedEscalation]:
        clauses = ["e.id > ?"]
        args: list[Any] = [after or 0]
        if status is not None:
            clauses.append("e.status = ?")
            args.append(str(status))
        if reason is not None:
            clauses.append("e.reason = ?")
            args.append(reason)
        if since is not None:
            clauses.append("e.created_at >= ?")
            args.append(since)
        rows = await self.database.read_all(f"{QUEUE_SELECT} WHERE {' AND '.join(clauses)} ORDER BY e.id LIMIT ?", *args, limit)
        return [queued_escalation(row) for row in rows]

    async def queued_escalation(self, escalation_id: int) -> QueuedEscalation | None:
        row = await self.database.read_one(f"{QUEUE_SELECT} WHERE e.id = ?", escalation_id)
        return queued_escalation(row) if row else None

    async def claim_escalation(self, escalation_id: int, officer: str, now: float) -> EscalationRecord:
        async with self.database.transaction() as db:
            row = await fetch_one(db, "SELECT * FROM escalations WHERE id = ?", escalation_id)
            if row is None:
                raise NotFound(f"no escalation {escalation_id}")
            if row["status"] == EscalationStatus.RESOLVED.value:
                raise Conflict(f"escalation {escalation_id} was resolved by {row['resolved_by'] or row['claimed_by']}: "
                               "a resolved escalation is final")
            if row["status"] == EscalationStatus.CLAIMED.value and row["claimed_by"] != officer:
                raise Conflict(f"escalation {escalation_id} is claimed by {row['claimed_by']}")
            if row["status"] == EscalationStatus.OPEN.value:
                await db.execute(
                    "UPDATE escalations SET status = 'claimed', claimed_by = ?, claimed_at = ? WHERE id = ?",
                    (officer, now, escalation_id),
                )
                await audit(db, "escalation_claimed", now, row["warning_id"], {"escalation": escalation_id, "officer": officer})
            found = await escalation_in(db, escalation_id)
        assert found is not None
        return found

    async def resolve_escalation(self, escalation_id: int, officer: str, notes: str, now: float, *,
                                 over_claim: bool = False) -> EscalationRecord:
        async with self.database.transaction() as db:
            row = await self._final_check(db, escalation_id)
            if row["status"] == EscalationStatus.CLAIMED.value and row["claimed_by"] != officer and not over_claim:
                raise Conflict(f"escalation {escalation_id} is claimed by {row['claimed_by']}: only they or a supervisor may resolve it")
            if notes:
                await self._append_note(db, row, officer, notes, now)
            await db.execute(
                "UPDATE escalations SET status = 'resolved', claimed_by = COALESCE(claimed_by, ?), resolved_by = ?, "
                "resolved_at = ? WHERE id = ?",
                (officer, officer, now, escalation_id),
            )
            await audit(db, "escalation_resolved", now, row["warning_id"], {"escalation": escalation_id, "officer": officer})
            found = await escalation_in(db, escalation_id)
        assert found is not None
        return found

    async def add_escalation_note(self, escalation_id: int, officer: str, text: str, now: float) -> EscalationRecord:
        async with self.database.transaction() as db:
            row = await self._final_check(db, escalation_id)
            await self._append_note(db, row, officer, text, now)
            found = await escalation_in(db, escalation_id)
        assert found is not None
        return found

    @staticmethod
    async def _final_check(db: Any, escalation_id: int) -> sqlite3.Row:
        row = await fetch_one(db, "SELECT * FROM escalations WHERE id = ?", escalation_id)
        if row is None:
            raise NotFound(f"no escalation {escalation_id}")
        if row["status"] == EscalationStatus.RESOLVED.value:
            raise Conflict(f"escalation {escalation_id} is already resolved by {row['resolved_by'] or row['claimed_by']}: "
                           "a resolved escalation is final")
        return row

    @staticmethod
    async def _append_note(db: Any, row: sqlite3.Row, officer: str, text: str, now: float) -> None:
        await db.execute(
            "INSERT INTO escalation_notes (escalation_id, author, written_at, text) VALUES (?, ?, ?, ?)",
            (row["id"], officer, now, text),
        )
        await audit(db, "escalation_note", now, row["warning_id"], {"escalation": row["id"], "officer": officer, "note": text})

    # -- deliveries ------------------------------------------------------------------

    async def due_deliveries(self, now: float, limit: int, *, exclude: Sequence[int] = ()) -> list[DeliveryRecord]:
        skip = f"AND id NOT IN ({','.join('?' * len(exclude))})" if exclude else ""
        rows = await self.database.read_all(
            f"""SELECT * FROM deliveries WHERE status = 'pending' AND next_try_at <= ? {skip}
                ORDER BY CASE kind WHEN 'escalation' THEN 0 ELSE 1 END, next_try_at, id LIMIT ?""",
            now, *exclude, limit,
        )
        return [delivery_record(row) for row in rows]

    async def delivery_prepared(self, delivery_id: int, url: str, payload: str) -> DeliveryRecord:
        async with self.database.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET url = ?, payload = ? WHERE id = ? AND (url IS NULL OR payload IS NULL)",
                (url, payload, delivery_id),
            )
            row = await fetch_one(db, "SELECT * FROM deliveries WHERE id = ?", delivery_id)
        if row is None:
            raise NotFound(f"no delivery {delivery_id}")
        return delivery_record(row)

    async def delivery_done(self, delivery_id: int, now: float) -> None:
        async with self.database.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET status = 'delivered', tries = tries + 1, delivered_at = ?, last_error = '' WHERE id = ?",
                (now, delivery_id),
            )

    async def delivery_failed(self, delivery_id: int, error: str, retry_at: float | None, now: float) -> None:
        async with self.database.transaction() as db:
            if retry_at is None:
                await db.execute(
                    "UPDATE deliveries SET status = 'failed', tries = tries + 1, last_error = ? WHERE id = ?", (error, delivery_id)
                )
            else:
                await db.execute(
                    "UPDATE deliveries SET tries = tries + 1, last_error = ?, next_try_at = ? WHERE id = ?",
                    (error, retry_at, delivery_id),
                )

    async def delivery_skipped(self, delivery_id: int, reason: str, now: float) -> None:
        async with self.database.transaction() as db:
            await db.execute("UPDATE deliveries SET status = 'skipped', last_error = ? WHERE id = ?", (reason, delivery_id))

    async def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        row = await self.database.read_one("SELECT * FROM deliveries WHERE id = ?", delivery_id)
        return delivery_record(row) if row else None

    async def deliveries(
        self, *, status: DeliveryStatus | None = None, kind: DeliveryKind | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        clauses, args = ["1"], []
        if status is not None:
            clauses.append("status = ?")
            args.append(str(status))
        if kind is not None:
            clauses.append("kind = ?")
            args.append(str(kind))
        rows = await self.database.read_all(
            f"SELECT * FROM deliveries WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?", *args, limit
        )
        return [delivery_record(row) for row in rows]

    async def requeue_deliveries(self, delivery_ids: Sequence[int] | None, now: float) -> list[int]:
        async with self.database.transaction() as db:
            if delivery_ids is None:
                async with db.execute("SELECT id FROM deliveries WHERE status = 'failed' ORDER BY id") as cursor:
                    ids = [row[0] for row in await cursor.fetchall()]
            else:
                marks = ",".join("?" * len(delivery_ids))
                async with db.execute(
                    f"SELECT id FROM deliveries WHERE status IN ('failed', 'pending') AND id IN ({marks}) ORDER BY id", delivery_ids
                ) as cursor:
                    ids = [row[0] for row in await cursor.fetchall()]
            for delivery_id in ids:
                await db.execute(
                    "UPDATE deliveries SET status = 'pending', tries = 0, next_try_at = ? WHERE id = ?", (now, delivery_id)
                )
                await audit(db, "delivery_requeued", now, None, {"delivery": delivery_id})
        return ids

    async def delivery_backlog(self) -> tuple[int, float | None]:
        row = await self.database.read_one(
            "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE status IN ('pending', 'failed')"
        )
        return (int(row[0]), row[1]) if row else (0, None)

    # -- audit -----------------------------------------------------------------------

    async def audit_log(self, warning_id: int) -> list[dict[str, Any]]:
        rows = await self.database.read_all("SELECT at, kind, detail FROM audit WHERE warning_id = ? ORDER BY id", warning_id)
        return [{"at": row["at"], "kind": row["kind"], **json.loads(row["detail"])} for row in rows]

    # -- nodes -----------------------------------------------------------------------

    def describe(self) -> str:
        return f"sqlite:{self.database.path}"

    async def heartbeat(self, node_id: str, api: str, now: float, *, starting: bool = False) -> None:
        async with self.database.transaction() as db:
            await db.execute(
                """INSERT INTO nodes (node_id, started_at, seen_at, api) VALUES (?, ?, ?, ?)
                   ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at, api = excluded.api,
                   started_at = CASE WHEN ? THEN excluded.started_at ELSE nodes.started_at END""",
                (node_id, now, now, api, int(starting)),
            )

    async def nodes_alive(self, since: float) -> list[NodeRecord]:
        rows = await self.database.read_all("SELECT * FROM nodes WHERE seen_at >= ? ORDER BY node_id", since)
        return [NodeRecord.model_validate(dict(row)) for row in rows]
