"""What the pages show of the store's records: the queue in the officers' order, waiting
times, and phone numbers in full for officers only (masked for everyone else)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from ..dialog.const import EscalationReason, RiskLevel
from ..masking import mask_name, mask_phone
from ..store.records import QueuedEscalation
from .roles import Principal


class Resolution(StrEnum):
    """What the officer's action achieved, recorded when an escalation is resolved."""

    REACHED_DISSUADED = "reached_dissuaded"
    DOOR_VISIT = "door_visit"
    UNREACHABLE = "unreachable"
    FALSE_ALARM = "false_alarm"


def urgency(entry: QueuedEscalation) -> int:
    """0 a live hand-off that failed (someone is waiting for a call back now), 1 high risk
    or money moving, 2 the rest."""
    if entry.handoff_failed:
        return 0
    if entry.risk is RiskLevel.HIGH or entry.reason == EscalationReason.URGENT_SPEECH:
        return 1
    return 2


def queue_order(entries: list[QueuedEscalation]) -> list[QueuedEscalation]:
    """Most urgent first, and within each, newest first."""
    return sorted(entries, key=lambda entry: (urgency(entry), -entry.created_at, -entry.id))


def phone_for(principal: Principal, phone: str) -> str:
    return phone if principal.sees_full_numbers else mask_phone(phone)


def name_for(principal: Principal, name: str) -> str:
    return name if principal.sees_full_numbers else mask_name(name)


def waited_minutes(created_at: float, now: float) -> int:
    return max(0, int((now - created_at) // 60))


def local_clock(seconds: float | None, zone: ZoneInfo) -> str:
    if seconds is None:
        return ""
    return dt.datetime.fromtimestamp(seconds, zone).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class QueueRow:
    id: int
    warning_id: str
    phone: str
    name: str
    risk: str
    fraud_type: str
    reason: str
    phrase: str
    mode: str
    status: str
    claimed_by: str | None
    waited_minutes: int
    urgency: int
    opened_at: str


def queue_rows(entries: list[QueuedEscalation], principal: Principal, now: float, zone: ZoneInfo) -> list[QueueRow]:
    return [QueueRow(
        id=entry.id, warning_id=entry.warning_external_id, phone=phone_for(principal, entry.phone),
        name=name_for(principal, entry.name),
        risk=entry.risk.value, fraud_type=entry.fraud_type, reason=entry.reason, phrase=entry.phrase, mode=entry.mode.value,
        status=entry.status.value, claimed_by=entry.claimed_by, waited_minutes=waited_minutes(entry.created_at, now),
        urgency=urgency(entry), opened_at=local_clock(entry.created_at, zone),
    ) for entry in queue_order(entries)]
