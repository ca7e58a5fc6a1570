"""The shared store's escalations (the officers' queue), deliveries (the webhook outbox),
audit log, nodes and pacing; `PostgresRepository` (postgres.py) adds warnings and attempts.

Deliveries are claimed like calls: `due_deliveries` takes the due ones no other node holds
(`FOR UPDATE SKIP LOCKED`) and marks them as this node's until `claim_expires_at`; each is
sent by one node at a time, and one whose node died is taken over when its claim expires.

Pacing is one token bucket for the whole cluster, a row of `dial_pacing`: a node takes a
token (one statement, under the row's lock) before it claims a call."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..dialog.const import EscalationMode
from .postgres_db import Connection, PostgresDatabase, fetch_one
from .postgres_rows import (
    QUEUE_SELECT,
    Row,
    audit,
    delivery_record,
    escalation_in,
    escalation_record,
    node_record,
    open_escalation,
    queued_escalation,
)
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

_DELIVERY_ORDER = "CASE kind WHEN 'escalation' THEN 0 ELSE 1 END, next_try_at, id"

_TAKE_TOKEN = """
    WITH bucket AS (
        SELECT LEAST(%(burst)s, tokens + GREATEST(0, %(now)s - at) * %(rate)s) AS have
        FROM dial_pacing WHERE id = 1 FOR UPDATE
    ), taken AS (
        UPDATE dial_pacing SET tokens = (SELECT have FROM bucket) - 1, at = GREATEST(at, %(now)s)
        WHERE id = 1 AND (SELECT have FROM bucket) >= 1 RETURNING tokens
    )
    SELECT (SELECT have FROM bucket) AS have, EXISTS (SELECT 1 FROM taken) AS took
"""


class PostgresQueue(Repository):
    database: PostgresDatabase
    node_id: str
    delivery_claim_seconds: float
    shared = True

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
                # one per attempt: the attempt's row lock makes a second call wait, then find the first
                await db.execute("SELECT 1 FROM attempts WHERE id = %s FOR UPDATE", (attempt_id,))
                existing = await fetch_one(db, "SELECT id FROM escalations WHERE attempt_id = %s", attempt_id)
                if existing is not None:
                    found = await escalation_in(db, existing["id"])
                    assert found is not None
                    return found, False
            return await open_escalation(db, warning_id, reason, phrase, mode, attempt_id, now), True

    async def get_escalation(self, escalation_id: int) -> EscalationRecord | None:
        row = await self.database.read_one("SELECT * FROM escalations WHERE id = %s", escalation_id)
        return await self._with_notes(row) if row else None

    async def _with_notes(self, row: Row) -> EscalationRecord:
        notes = await self.database.read_all("SELECT * FROM escalation_notes WHERE escalation_id = %s ORDER BY id", row["id"])
        return escalation_record(row, notes)

    async def escalations(self, status: EscalationStatus | None = None, warning_id: int | None = None) -> list[EscalationRecord]:
        clauses: list[str] = ["TRUE"]
        args: list[Any] = []
        if status is not None:
            clauses.append("status = %s")
            args.append(str(status))
        if warning_id is not None:
            clauses.append("warning_id = %s")
            args.append(warning_id)
        rows = await self.database.read_all(f"SELECT * FROM escalations WHERE {' AND '.join(clauses)} ORDER BY id", *args)
        return [await self._with_notes(row) for row in rows]

    async def escalation_queue(
        self, *, status: EscalationStatus | None = None, reason: str | None = None, since: float | None = None,
        after: int | None = None, limit: int = 100,
    ) -> list[QueuedEscalation]:
        clauses = ["e.id > %s"]
        args: list[Any] = [after or 0]
        if status is not None:
            clauses.append("e.status = %s")
            args.append(str(status))
        if reason is not None:
            clauses.append("e.reason = %s")
            args.append(reason)
        if since is not None:
            clauses.append("e.created_at >= %s")
            args.append(since)
        rows = await self.database.read_all(f"{QUEUE_SELECT} WHERE {' AND '.join(clauses)} ORDER BY e.id LIMIT %s", *args, limit)
        return [queued_escalation(row) for row in rows]

    async def queued_escalation(self, escalation_id: int) -> QueuedEscalation | None:
        row = await self.database.read_one(f"{QUEUE_SELECT} WHERE e.id = %s", escalation_id)
        return queued_escalation(row) if row else None

    async def claim_escalation(self, escalation_id: int, officer: str, now: float) -> EscalationRecord:
        async with self.database.transaction() as db:
            row = await fetch_one(db, "SELECT * FROM escalations WHERE id = %s FOR UPDATE", escalation_id)
            if row is None:
                raise NotFound(f"no escalation {escalation_id}")
            if row["status"] == EscalationStatus.RESOLVED.value:
                raise Conflict(f"escalation {escalation_id} was resolved by {row['resolved_by'] or row['claimed_by']}: "
                               "a resolved escalation is final")
            if row["status"] == EscalationStatus.CLAIMED.value and row["claimed_by"] != officer:
                raise Conflict(f"escalation {escalation_id} is claimed by {row['claimed_by']}")
            if row["status"] == EscalationStatus.OPEN.value:
                await db.execute(
                    "UPDATE escalations SET status = 'claimed', claimed_by = %s, claimed_at = %s WHERE id = %s",
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
                "UPDATE escalations SET status = 'resolved', claimed_by = COALESCE(claimed_by, %s), resolved_by = %s, "
                "resolved_at = %s WHERE id = %s",
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
    async def _final_check(db: Connection, escalation_id: int) -> Row:
        row = await fetch_one(db, "SELECT * FROM escalations WHERE id = %s FOR UPDATE", escalation_id)
        if row is None:
            raise NotFound(f"no escalation {escalation_id}")
        if row["status"] == EscalationStatus.RESOLVED.value:
            raise Conflict(f"escalation {escalation_id} is already resolved by {row['resolved_by'] or row['claimed_by']}: "
                           "a resolved escalation is final")
        return row

    @staticmethod
    async def _append_note(db: Connection, row: Row, officer: str, text: str, now: float) -> None:
        await db.execute(
            "INSERT INTO escalation_notes (escalation_id, author, written_at, text) VALUES (%s, %s, %s, %s)",
            (row["id"], officer, now, text),
        )
        await audit(db, "escalation_note", now, row["warning_id"], {"escalation": row["id"], "officer": officer, "note": text})

    # -- deliveries ------------------------------------------------------------------

    async def due_deliveries(self, now: float, limit: int, *, exclude: Sequence[int] = ()) -> list[DeliveryRecord]:
        """Claims them for this node (see the module's note)."""
        async with self.database.transaction() as db:
            cursor = await db.execute(
                f"""UPDATE deliveries SET claimed_by = %s, claim_expires_at = %s
                    WHERE id IN (SELECT id FROM deliveries
                                 WHERE status = 'pending' AND next_try_at <= %s AND NOT (id = ANY(%s))
                                   AND (claimed_by IS NULL OR claimed_by = %s OR claim_expires_at < %s)
                                 ORDER BY {_DELIVERY_ORDER} LIMIT %s FOR UPDATE SKIP LOCKED)
                    RETURNING *""",
                (self.node_id, now + self.delivery_claim_seconds, now, list(exclude), self.node_id, now, limit),
            )
            rows = await cursor.fetchall()
        records = [delivery_record(row) for row in rows]
        records.sort(key=lambda d: (d.kind is not DeliveryKind.ESCALATION, d.next_try_at, d.id))
        return records

    async def release_deliveries(self, delivery_ids: Sequence[int]) -> None:
        if delivery_ids:
            await self.database.execute(
                "UPDATE deliveries SET claimed_by = NULL, claim_expires_at = NULL WHERE id = ANY(%s) AND claimed_by = %s",
                list(delivery_ids), self.node_id,
            )

    async def delivery_prepared(self, delivery_id: int, url: str, payload: str) -> DeliveryRecord:
        async with self.database.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET url = %s, payload = %s WHERE id = %s AND (url IS NULL OR payload IS NULL)",
                (url, payload, delivery_id),
            )
            row = await fetch_one(db, "SELECT * FROM deliveries WHERE id = %s", delivery_id)
        if row is None:
            raise NotFound(f"no delivery {delivery_id}")
        return delivery_record(row)

    async def delivery_done(self, delivery_id: int, now: float) -> None:
        await self.database.execute(
            """UPDATE deliveries SET status = 'delivered', tries = tries + 1, delivered_at = %s, last_error = '',
               claimed_by = NULL, claim_expires_at = NULL WHERE id = %s""", now, delivery_id,
        )

    async def delivery_failed(self, delivery_id: int, error: str, retry_at: float | None, now: float) -> None:
        if retry_at is None:
            await self.database.execute(
                """UPDATE deliveries SET status = 'failed', tries = tries + 1, last_error = %s, claimed_by = NULL,
                   claim_expires_at = NULL WHERE id = %s""", error, delivery_id,
            )
        else:
            await self.database.execute(
                """UPDATE deliveries SET tries = tries + 1, last_error = %s, next_try_at = %s, claimed_by = NULL,
                   claim_expires_at = NULL WHERE id = %s""", error, retry_at, delivery_id,
            )

    async def delivery_skipped(self, delivery_id: int, reason: str, now: float) -> None:
        await self.database.execute(
            "UPDATE deliveries SET status = 'skipped', last_error = %s, claimed_by = NULL, claim_expires_at = NULL WHERE id = %s",
            reason, delivery_id,
        )

    async def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        row = await self.database.read_one("SELECT * FROM deliveries WHERE id = %s", delivery_id)
        return delivery_record(row) if row else None

    async def deliveries(
        self, *, status: DeliveryStatus | None = None, kind: DeliveryKind | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        clauses, args = ["TRUE"], []
        if status is not None:
            clauses.append("status = %s")
            args.append(str(status))
        if kind is not None:
            clauses.append("kind = %s")
            args.append(str(kind))
        rows = await self.database.read_all(
            f"SELECT * FROM deliveries WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT %s", *args, limit
        )
        return [delivery_record(row) for row in rows]

    async def requeue_deliveries(self, delivery_ids: Sequence[int] | None, now: float) -> list[int]:
        async with self.database.transaction() as db:
            if delivery_ids is None:
                cursor = await db.execute("SELECT id FROM deliveries WHERE status = 'failed' ORDER BY id FOR UPDATE")
            else:
                cursor = await db.execute(
                    "SELECT id FROM deliveries WHERE status IN ('failed', 'pending') AND id = ANY(%s) ORDER BY id FOR UPDATE",
                    (list(delivery_ids),),
                )
            ids = [row["id"] for row in await cursor.fetchall()]
            for delivery_id in ids:
                await db.execute(
                    "UPDATE deliveries SET status = 'pending', tries = 0, next_try_at = %s WHERE id = %s", (now, delivery_id)
                )
                await audit(db, "delivery_requeued", now, None, {"delivery": delivery_id})
        return ids

    async def delivery_backlog(self) -> tuple[int, float | None]:
        row = await self.database.read_one(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE status IN ('pending', 'failed')"
        )
        return (int(row["n"]), row["oldest"]) if row else (0, None)

    # -- audit -----------------------------------------------------------------------

    async def audit_log(self, warning_id: int) -> list[dict[str, Any]]:
        rows = await self.database.read_all("SELECT at, kind, detail FROM audit WHERE warning_id = %s ORDER BY id", warning_id)
        return [{"at": row["at"], "kind": row["kind"], **json.loads(row["detail"])} for row in rows]

    # -- nodes and pacing ------------------------------------------------------------

    async def heartbeat(self, node_id: str, api: str, now: float, *, starting: bool = False) -> None:
        await self.database.execute(
            """INSERT INTO nodes (node_id, started_at, seen_at, api) VALUES (%s, %s, %s, %s)
               ON CONFLICT (node_id) DO UPDATE SET seen_at = EXCLUDED.seen_at, api = EXCLUDED.api,
               started_at = CASE WHEN %s THEN EXCLUDED.started_at ELSE nodes.started_at END""",
            node_id, now, now, api, starting,
        )

    async def nodes_alive(self, since: float) -> list[NodeRecord]:
        rows = await self.database.read_all("SELECT * FROM nodes WHERE seen_at >= %s ORDER BY node_id", since)
        return [node_record(row) for row in rows]

    async def take_dial_token(self, rate_per_second: float, burst: float, now: float) -> float | None:
        values = {"rate": rate_per_second, "burst": burst, "now": now}
        row = await self.database.read_one(_TAKE_TOKEN, values)
        if row is None or row["have"] is None:  # the first call ever: a full bucket
            await self.database.execute(
                "INSERT INTO dial_pacing (id, tokens, at) VALUES (1, %s, %s) ON CONFLICT (id) DO NOTHING", burst, now
            )
            row = await self.database.read_one(_TAKE_TOKEN, values)
            assert row is not None
        if row["took"]:
            return 0.0
        return max(0.001, (1 - float(row["have"])) / rate_per_second)

    async def return_dial_token(self, burst: float) -> None:
        await self.database.execute("UPDATE dial_pacing SET tokens = LEAST(%s, tokens + 1) WHERE id = 1", burst)
