"""SQLite rows to records, and the writes several transactions share (each takes the
transaction's connection: it runs inside the caller's transaction)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite

from ..dialog.const import EscalationMode
from .records import (
    AttemptRecord,
    DeliveryKind,
    DeliveryRecord,
    EscalationRecord,
    QueuedEscalation,
    WarningRecord,
)


def _json_fields(row: sqlite3.Row, fields: Sequence[str]) -> dict[str, Any]:
    data = dict(row)
    for name in fields:
        if data.get(name) is not None:
            data[name] = json.loads(data[name])
    return data


def warning_record(row: sqlite3.Row) -> WarningRecord:
    return WarningRecord.model_validate(_json_fields(row, ["extra"]))


def attempt_record(row: sqlite3.Row) -> AttemptRecord:
    data = _json_fields(row, ["transcript", "escalation", "path"])
    data.pop("phone")
    data["answered"] = bool(data["answered"])
    return AttemptRecord.model_validate(data)


def _notes(data: dict[str, Any], notes: Sequence[sqlite3.Row] | None) -> dict[str, Any]:
    data.pop("notes")  # the single text of schema 1; migration 2 copied it into escalation_notes
    if notes is None:  # gathered by the query itself, as JSON
        data["notes"] = json.loads(data.pop("notes_json") or "[]")
    else:
        data["notes"] = [{"author": n["author"], "written_at": n["written_at"], "text": n["text"]} for n in notes]
    return data


def escalation_record(row: sqlite3.Row, notes: Sequence[sqlite3.Row]) -> EscalationRecord:
    return EscalationRecord.model_validate(_notes(dict(row), notes))


def queued_escalation(row: sqlite3.Row) -> QueuedEscalation:
    """A row of `QUEUE_SELECT`."""
    return QueuedEscalation.model_validate(_notes(dict(row), None))


QUEUE_SELECT = """
    SELECT e.*, w.external_id AS warning_external_id, w.phone, w.name, w.risk, w.fraud_type,
           (SELECT json_group_array(json_object('author', n.author, 'written_at', n.written_at, 'text', n.text))
              FROM (SELECT * FROM escalation_notes WHERE escalation_id = e.id ORDER BY id) n) AS notes_json
    FROM escalations e JOIN warnings w ON w.id = e.warning_id
"""
"""The officers' queue, in one query: each escalation with its warning's particulars and its notes."""


def delivery_record(row: sqlite3.Row) -> DeliveryRecord:
    return DeliveryRecord.model_validate(dict(row))


async def fetch_one(db: aiosqlite.Connection, sql: str, *args: Any) -> sqlite3.Row | None:
    async with db.execute(sql, args) as cursor:
        return await cursor.fetchone()


async def fetch_all(db: aiosqlite.Connection, sql: str, *args: Any) -> list[sqlite3.Row]:
    async with db.execute(sql, args) as cursor:
        return list(await cursor.fetchall())


async def audit(db: aiosqlite.Connection, kind: str, now: float, warning_id: int | None, detail: dict[str, Any]) -> None:
    await db.execute(
        "INSERT INTO audit (at, warning_id, kind, detail) VALUES (?, ?, ?, ?)",
        (now, warning_id, kind, json.dumps(detail, ensure_ascii=False)),
    )


async def queue_delivery(db: aiosqlite.Connection, kind: DeliveryKind, subject_id: int, now: float) -> None:
    await db.execute(
        "INSERT INTO deliveries (kind, subject_id, status, next_try_at, created_at) VALUES (?, ?, 'pending', ?, ?)",
        (kind.value, subject_id, now, now),
    )


async def queue_outcomes(db: aiosqlite.Connection, warning_id: int, now: float) -> None:
    """A finished warning's outcome, and that of each warning merged into it, to deliver."""
    for row in await fetch_all(db, "SELECT id FROM warnings WHERE id = ? OR merged_into = ?", warning_id, warning_id):
        await queue_delivery(db, DeliveryKind.OUTCOME, row["id"], now)


async def escalation_in(db: aiosqlite.Connection, escalation_id: int) -> EscalationRecord | None:
    row = await fetch_one(db, "SELECT * FROM escalations WHERE id = ?", escalation_id)
    if row is None:
        return None
    return escalation_record(row, await fetch_all(db, "SELECT * FROM escalation_notes WHERE escalation_id = ? ORDER BY id", escalation_id))


async def open_escalation(
    db: aiosqlite.Connection, warning_id: int, reason: str, phrase: str, mode: EscalationMode, attempt_id: int | None, now: float,
) -> EscalationRecord:
    cursor = await db.execute(
        """INSERT INTO escalations (warning_id, attempt_id, reason, phrase, mode, status, created_at)
           VALUES (?, ?, ?, ?, ?, 'open', ?)""",
        (warning_id, attempt_id, reason, phrase, mode.value, now),
    )
    escalation_id = cursor.lastrowid
    assert escalation_id is not None
    await queue_delivery(db, DeliveryKind.ESCALATION, escalation_id, now)
    await audit(db, "escalated", now, warning_id, {"escalation": escalation_id, "reason": reason, "mode": mode.value})
    escalation = await escalation_in(db, escalation_id)
    assert escalation is not None
    return escalation
