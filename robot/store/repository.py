"""The store's interface. The daemon only talks to this; `SqliteRepository` is the embedded
implementation, and a shared server database for several dialer nodes can implement the
same methods (every write that must be atomic is one method here)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from ..dialog.const import EscalationMode, RiskLevel
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
)


class StoreError(Exception):
    """The store cannot be opened or used (e.g. a database from a newer version)."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """The change does not fit the record's state (e.g. resolving an escalation twice)."""


class Repository(ABC):
    """Async storage for the dialer. Times are epoch seconds, passed in by the caller."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    @abstractmethod
    async def close(self) -> None: ...

    # -- intake ----------------------------------------------------------------------

    @abstractmethod
    async def accept_warning(
        self, warning: NewWarning, now: float, *, escalate_reason: str | None = None, escalation_url: str | None = None
    ) -> Accepted:
        """Store a warning once per external id. A new warning for a number that already has
        an open warning is merged into it (the open one takes the higher risk). With
        `escalate_reason`, the warning is not dialled: it is finished with an escalation."""

    @abstractmethod
    async def get_warning(self, warning_id: int) -> WarningRecord | None: ...

    @abstractmethod
    async def get_warning_by_external_id(self, external_id: str) -> WarningRecord | None: ...

    @abstractmethod
    async def queue_depth(self) -> dict[str, int]:
        """Queued warnings by risk."""

    # -- scheduling ------------------------------------------------------------------

    @abstractmethod
    async def due_warnings(self, now: float, risks: Sequence[RiskLevel], limit: int) -> list[WarningRecord]:
        """Queued warnings whose next attempt is due: medium before low, oldest first."""

    @abstractmethod
    async def next_due_at(self, risks: Sequence[RiskLevel]) -> float | None:
        """When the earliest queued warning becomes due."""

    @abstractmethod
    async def attempts_since(self, phone: str, since: float) -> int:
        """Call attempts to this number started at or after `since`."""

    @abstractmethod
    async def claim(
        self, warning_id: int, *, owner: str, worker: str, script: str, script_version: str, lease_seconds: float, now: float
    ) -> AttemptRecord | None:
        """Lease a queued warning and open an in-flight attempt; None if someone else has it."""

    @abstractmethod
    async def renew_leases(self, owner: str, until: float) -> None: ...

    @abstractmethod
    async def defer(self, warning_id: int, until: float, note: str, now: float) -> None:
        """Move a queued warning's next attempt (calling window, daily cap)."""

    # -- attempts --------------------------------------------------------------------

    @abstractmethod
    async def get_attempt(self, attempt_id: int) -> AttemptRecord | None: ...

    @abstractmethod
    async def attempts_of(self, warning_id: int) -> list[AttemptRecord]: ...

    @abstractmethod
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
        """Close the attempt, apply the policy's decision to its warning (and the warnings
        merged into it), open escalations and queue deliveries, in one transaction.
        Returns the escalations opened."""

    @abstractmethod
    async def finish_without_call(
        self, warning_id: int, outcome: str, escalate: str, now: float, *, escalation_url: str | None = None,
        outcome_url: str | None = None,
    ) -> EscalationRecord:
        """Finish a queued warning that cannot be called (e.g. no script fits) with an escalation."""

    @abstractmethod
    async def recover(self, now: float, *, owner: str | None = None, attempt_ids: Sequence[int] | None = None) -> list[int]:
        """Close in-flight attempts as `interrupted` and put their warnings back in the queue:
        all of `owner`'s (a restart), the listed ones (a worker died), or, with neither,
        every attempt whose lease has expired (another node died). Returns the attempt ids."""

    # -- escalations -----------------------------------------------------------------

    @abstractmethod
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
        """Store an escalation (and queue its webhook delivery). One per attempt: a second
        call for the same attempt returns the first. The flag says whether it is new."""

    @abstractmethod
    async def get_escalation(self, escalation_id: int) -> EscalationRecord | None: ...

    @abstractmethod
    async def escalations(self, status: EscalationStatus | None = None, warning_id: int | None = None) -> list[EscalationRecord]: ...

    @abstractmethod
    async def claim_escalation(self, escalation_id: int, officer: str, now: float) -> EscalationRecord:
        """Conflict if another officer has it or it is resolved (a resolved escalation is final)."""

    @abstractmethod
    async def resolve_escalation(self, escalation_id: int, officer: str, notes: str, now: float) -> EscalationRecord:
        """Resolve it, appending `notes` (if any) as the officer's note; Conflict if already resolved."""

    @abstractmethod
    async def add_escalation_note(self, escalation_id: int, officer: str, text: str, now: float) -> EscalationRecord:
        """Append a note with its author and time; Conflict if resolved. Notes are never replaced."""

    # -- deliveries ------------------------------------------------------------------

    @abstractmethod
    async def due_deliveries(self, now: float, limit: int) -> list[DeliveryRecord]: ...

    @abstractmethod
    async def delivery_done(self, delivery_id: int, now: float) -> None: ...

    @abstractmethod
    async def delivery_failed(self, delivery_id: int, error: str, retry_at: float | None, now: float) -> None:
        """Record a failed try; `retry_at` None gives up."""

    @abstractmethod
    async def get_delivery(self, delivery_id: int) -> DeliveryRecord | None: ...

    # -- audit -----------------------------------------------------------------------

    @abstractmethod
    async def audit(self, kind: str, now: float, *, warning_id: int | None = None, detail: dict[str, Any] | None = None) -> None: ...

    @abstractmethod
    async def audit_log(self, warning_id: int) -> list[dict[str, Any]]: ...
