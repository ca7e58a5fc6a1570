"""Storage behind a repository interface; SQLite (aiosqlite) is the embedded default,
PostgreSQL (psycopg 3) the store several dialer nodes share."""

from .postgres import PostgresRepository
from .records import (
    Accepted,
    AttemptRecord,
    AttemptResult,
    AuditEntry,
    Decision,
    DeliveryRecord,
    EscalationRecord,
    EscalationStatus,
    Intake,
    NewWarning,
    QueuedEscalation,
    UserRecord,
    WarningRecord,
    WarningStatus,
)
from .repository import Conflict, NotFound, Repository, StoreError, StoreUnavailable
from .sqlite import SqliteRepository
from .statistics import PeriodStatistics

__all__ = [
    "Accepted", "AttemptRecord", "AttemptResult", "AuditEntry", "Conflict", "Decision", "DeliveryRecord", "EscalationRecord",
    "EscalationStatus", "Intake", "NewWarning", "NotFound", "PeriodStatistics", "PostgresRepository", "QueuedEscalation", "Repository", "SqliteRepository",
    "StoreError", "StoreUnavailable", "UserRecord", "WarningRecord", "WarningStatus",
]
