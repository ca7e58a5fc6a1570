"""The public JSON of warnings and escalations: what `GET /v1/warnings/{id}` and
`GET /v1/escalations` answer, and what the webhooks carry. Built in this one place from the
store's records; times become ISO 8601 in the configured time zone."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from ..masking import mask_name, mask_phone
from ..store.records import AttemptRecord, QueuedEscalation, WarningDetail, WarningStatus


def local_time(seconds: float | None, zone: ZoneInfo) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, zone).isoformat(timespec="milliseconds")


def local_times(value: Any, zone: ZoneInfo) -> Any:
    """Epoch seconds under `*_at` keys become ISO 8601 in `zone`, at any depth."""
    if isinstance(value, list):
        return [local_times(item, zone) for item in value]
    if isinstance(value, dict):
        return {
            key: local_time(item, zone)
            if key.endswith("_at") and isinstance(item, float | int) and not isinstance(item, bool) else local_times(item, zone)
            for key, item in value.items()
        }
    return value


def attempt_json(attempt: AttemptRecord) -> dict[str, Any]:
    """An attempt, with its recording as the console's URL for it (officers and up may fetch
    it; the fetch is audited), never the file's path on the server."""
    data = attempt.model_dump(mode="json")
    data["recording"] = f"/recordings/{attempt.id}" if attempt.recording else None
    return data


def warning_json(detail: WarningDetail, zone: ZoneInfo, *, full_numbers: bool) -> dict[str, Any]:
    """A warning: its status and outcome, every attempt (with transcript and error) and every
    escalation of the warning that carries it. Without `full_numbers` the phone number and the
    name are masked (`robot/masking.py`)."""
    warning = detail.warning
    return local_times({
        "id": warning.external_id, "phone": warning.phone if full_numbers else mask_phone(warning.phone),
        "name": warning.name if full_numbers else mask_name(warning.name), "risk": warning.risk.value,
        "fraud_type": warning.fraud_type, "language": warning.language, "received_at": warning.received_at,
        "extra": warning.extra, "status": warning.status.value, "outcome": warning.outcome.value if warning.outcome else None,
        "attempts_used": warning.attempts, "robot_errors": warning.robot_errors,
        "next_attempt_at": warning.next_attempt_at if warning.status is WarningStatus.QUEUED else None,
        "script": warning.script, "merged_into": detail.merged_into_external_id,
        "attempts": [attempt_json(attempt) for attempt in detail.attempts],
        "escalation": detail.escalations[-1].model_dump(mode="json") if detail.escalations else None,
        "escalations": [escalation.model_dump(mode="json") for escalation in detail.escalations],
    }, zone)


def escalation_json(entry: QueuedEscalation, zone: ZoneInfo, *, full_numbers: bool) -> dict[str, Any]:
    """An escalation as officers see it in their queue: with the warning's particulars (the
    number and name masked without `full_numbers`)."""
    return local_times({
        "id": entry.id, "warning_id": entry.warning_external_id, "phone": entry.phone if full_numbers else mask_phone(entry.phone),
        "name": entry.name if full_numbers else mask_name(entry.name),
        "risk": entry.risk.value, "fraud_type": entry.fraud_type, "reason": entry.reason, "phrase": entry.phrase,
        "mode": entry.mode.value, "status": entry.status.value, "claimed_by": entry.claimed_by,
        "notes": [note.model_dump() for note in entry.notes], "created_at": entry.created_at,
        "claimed_at": entry.claimed_at, "resolved_at": entry.resolved_at, "resolved_by": entry.resolved_by,
    }, zone)


def escalation_body(entry: QueuedEscalation, detail: WarningDetail, zone: ZoneInfo) -> dict[str, Any]:
    """The escalation webhook: the escalation, and the warning as it stands (in full: it goes
    only to the configured hooks.escalation_url)."""
    return {"type": "escalation", "escalation": escalation_json(entry, zone, full_numbers=True),
            "warning": warning_json(detail, zone, full_numbers=True)}


def outcome_body(detail: WarningDetail, zone: ZoneInfo) -> dict[str, Any]:
    """The outcome webhook of a finished warning: the same JSON as `GET /v1/warnings/{id}` gives
    the intake token (in full: it goes only to the configured URL)."""
    return {"type": "outcome", "warning": warning_json(detail, zone, full_numbers=True)}
