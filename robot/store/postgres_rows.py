"""PostgreSQL rows to records, and the writes several transactions share (each takes the
transaction's connection: it runs inside the caller's transaction). The twin of
`sqlite_rows.py`, in PostgreSQL's placeholders and JSON functions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..dialog.const import EscalationMode
from .postgres_db import Connection, fetch_all, fetch_one
from .records import (
    AttemptRecord,
    DeliveryKind,
    DeliveryRecord,
    EscalationRecord,
    NodeRecord,
    QueuedEscalation,
    WarningRecord,
)

Row = Mapping[str, Any]


def _json_fields(row: Row, fields: Sequence[str]) -> dict[str, Any]:
    data = dict(row)
    for name in fields:
        if data.get(name) is not None:
            data[name] = json.loads(data[name])
    return data


def warning_record(row: Row) -> WarningRecord:
    return WarningRecord.model_validate(_json_fields(row, ["extra"]))


def attempt_record(row: Row) -> AttemptRecord:
    data = _json_fields(row, ["transcript", "escalation", "path"])
    data.pop("phone")
    data["answered"] = bool(data["answered"])
    return AttemptRecord.model_validate(data)


def _notes(data: dict[str, Any], notes: Sequence[Row] | None) -> dict[str, Any]:
    data.pop("notes")  # the single text of schema 1; migration 2 copied it into escalation_notes
    if notes is None:  # gathered by the query itself, as JSON
        data["notes"] = json.loads(data.pop("notes_json") or "[]")
    else:
        data["notes"] = [{"author": n["author"], "written_at": n["written_at"], "text": n["text"]} for n in notes]
    return data


def escalation_record(row: Row, notes: Sequence[Row]) -> EscalationRecord:
    return EscalationRecord.model_validate(_notes(dict(row), notes))


def queued_escalation(row: Row) -> QueuedEscalation:
    """A row of `QUEUE_SELECT`."""
    return QueuedEscalation.model_validate(_notes(dict(row), None))


QUEUE_SELECT = """
    SELECT e.*, w.external_id AS warning_external_id, w.phone, w.name, w.risk, w.fraud_type,
           (SELECT COALESCE(json_agg(json_build_object('author', n.author, 'written_at', n.written_at, 'text', n.text)
                                     ORDER BY n.id), '[]')::text
              FROM escalation_notes n WHERE n.escalation_id = e.id) AS notes_json
    FROM escalations e JOIN warnings w ON w.id = e.warning_id
"""
"""The officers' queue, in one query: each escalation with its warning's particulars and its notes."""


def delivery_record(row: Row) -> DeliveryRecord:
    return DeliveryRecord.model_validate(dict(row))


def node_record(row: Row) -> NodeRecord:
    return NodeRecord.model_validate(dict(row))


async def audit(db: Connection, kind: str, now: float, warning_id: int | None, detail: dict[str, Any]) -> None:
    await db.execute(
        "INSERT INTO audit (at, warning_id, kind, detail) VALUES (%s, %s, %s, %s)",
        (now, warning_id, kind, json.dumps(detail, ensure_ascii=False)),
    )


async def queue_outcomes(db: Connection, warning_id: int, now: float) -> None:
    """A finished warning's outcome, and that of each warning merged into it, to deliver."""
    await db.execute(
        """INSERT INTO deliveries (kind, subject_id, status, next_try_at, created_at)
           SELECT %s, id, 'pending', %s, %s FROM warnings WHERE id = %s OR merged_into = %s ORDER BY id""",
        (DeliveryKind.OUTCOME.value, now, now, warning_id, warning_id),
    )


async def escalation_in(db: Connection, escalation_id: int) -> EscalationRecord | None:
    row = await fetch_one(db, "SELECT * FROM escalations WHERE id = %s", escalation_id)
    if row is None:
        return None
    notes = await fetch_all(db, "SELECT * FROM escalation_notes WHERE escalation_id = %s ORDER BY id", escalation_id)
    return escalation_record(row, notes)


async def open_escalation(
    db: Connection, warning_id: int, reason: str, phrase: str, mode: EscalationMode, attempt_id: int | None, now: float,
) -> EscalationRecord:
    row = await fetch_one(
        db,
        """INSERT INTO escalations (warning_id, attempt_id, reason, phrase, mode, status, created_at)
           VALUES (%s, %s, %s, %s, %s, 'open', %s) RETURNING *""",
        warning_id, attempt_id, reason, phrase, mode.value, now,
    )
    assert row is not None
    await db.execute(
        "INSERT INTO deliveries (kind, subject_id, status, next_try_at, created_at) VALUES (%s, %s, 'pending', %s, %s)",
        (DeliveryKind.ESCALATION.value, row["id"], now, now),
    )
    await audit(db, "escalated", now, warning_id, {"escalation": row["id"], "reason": reason, "mode": mode.value})
    return escalation_record(row, [])
