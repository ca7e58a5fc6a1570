"""Storage behind a repository interface; SQLite (aiosqlite) is the embedded default."""

from .records import (
    Accepted,
    AttemptRecord,
    AttemptResult,
    Decision,
    DeliveryRecord,
    EscalationRecord,
    EscalationStatus,
    NewWarning,
    WarningRecord,
    WarningStatus,
)
from .repository import Conflict, NotFound, Repository, StoreError
from .sqlite import SqliteRepository

__all__ = [
    "Accepted", "AttemptRecord", "AttemptResult", "Conflict", "Decision", "DeliveryRecord", "EscalationRecord",
    "EscalationStatus", "NewWarning", "NotFound", "Repository", "SqliteRepository", "StoreError", "WarningRecord",
    "WarningStatus",
]
