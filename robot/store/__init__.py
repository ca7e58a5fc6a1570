"""Storage behind a repository interface; SQLite (aiosqlite) is the embedded default."""

from .records import (
    Accepted,
    AttemptRecord,
    AttemptResult,
    Decision,
    DeliveryRecord,
    EscalationRecord,
    EscalationStatus,
    Intake,
    NewWarning,
    QueuedEscalation,
    WarningRecord,
    WarningStatus,
)
from .repository import Conflict, NotFound, Repository, StoreError, StoreUnavailable
from .sqlite import SqliteRepository

__all__ = [
    "Accepted", "AttemptRecord", "AttemptResult", "Conflict", "Decision", "DeliveryRecord", "EscalationRecord",
    "EscalationStatus", "Intake", "NewWarning", "NotFound", "QueuedEscalation", "Repository", "SqliteRepository",
    "StoreError", "StoreUnavailable", "WarningRecord", "WarningStatus",
]
