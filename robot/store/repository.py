"""The store's interface. The daemon only talks to this; `SqliteRepository` is the embedded
implementation, and a shared server database for several dialer nodes can implement the
same methods (every write that must be atomic is one method here).

The store stores and returns records (`records.py`). It knows nothing of webhook URLs or of
how anything is shown to people: the API layer builds the public JSON, and the deliverer
decides where a delivery goes. A store that cannot be used right now (locked, a full disk)
raises `StoreUnavailable`: callers keep what they could not store and try again."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from ..dialog.const import AttemptOutcome, EscalationMode, RiskLevel
from .records import (
    Accepted,
    AttemptRecord,
    AttemptResult,
    AuditEntry,
    Decision,
    DeliveryKind,
    DeliveryRecord,
    DeliveryStatus,
    EscalationRecord,
    EscalationStatus,
    Intake,
    NewWarning,
    NodeRecord,
    QueuedEscalation,
    SessionRecord,
    UserRecord,
    WarningDetail,
    WarningRecord,
)
from .statistics import PeriodStatistics


class StoreError(Exception):
    """The store cannot be opened or used (e.g. a database from a newer version)."""


class StoreUnavailable(StoreError):
    """The store cannot be used right now (locked by another process, a full disk, an I/O
    error); the same request may succeed later. Nothing of the failed change was stored."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """The change does not fit the record's state (e.g. resolving an escalation twice)."""


class Repository(ABC):
    """Async storage for the dialer. Times are epoch seconds, passed in by the caller."""

    shared: ClassVar[bool] = False
    """Several dialer nodes use this store at once (pacing and deliveries are the cluster's)."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def unavailable(self) -> str | None:
        """Why the store cannot be used right now (its last operation failed and none has
        succeeded since), or None."""

    # -- intake ----------------------------------------------------------------------

    @abstractmethod
    async def accept_warnings(self, intakes: Sequence[Intake], now: float) -> list[Accepted]:
        """Store warnings, all in one transaction (all or none). Each is stored once per
        external id. A new warning for a number that already has an open warning is merged
        into it (the open one takes the higher risk). With `escalate`, a warning is not
        dialled: it is finished with an escalation (and its outcome is queued for delivery)."""

    async def accept_warning(self, warning: NewWarning, now: float, *, escalate: str | None = None) -> Accepted:
        [accepted] = await self.accept_warnings([Intake(warning=warning, escalate=escalate)], now)
        return accepted

    @abstractmethod
    async def get_warning(self, warning_id: int) -> WarningRecord | None: ...

    @abstractmethod
    async def get_warning_by_external_id(self, external_id: str) -> WarningRecord | None: ...

    async def warning_detail(self, warning: WarningRecord) -> WarningDetail:
        """The warning with the attempts and escalations of the warning that carries it."""
        carrier_id = warning.merged_into or warning.id
        carrier = await self.get_warning(warning.merged_into) if warning.merged_into else None
        return WarningDetail(
            warning=warning, merged_into_external_id=carrier.external_id if carrier else None,
            attempts=await self.attempts_of(carrier_id), escalations=await self.escalations(warning_id=carrier_id),
        )

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
    async def finish_attempt(self, attempt_id: int, result: AttemptResult, decision: Decision, now: float) -> list[EscalationRecord]:
        """Close the attempt, apply the policy's decision to its warning (and the warnings
        merged into it), open escalations and queue their deliveries (and, for a finished
        warning, its outcome's), in one transaction. Returns the escalations opened. An
        attempt already closed (recovered meanwhile) keeps its first record: nothing changes."""

    @abstractmethod
    async def finish_without_call(self, warning_id: int, outcome: AttemptOutcome, escalate: str, now: float) -> EscalationRecord:
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
    ) -> tuple[EscalationRecord, bool]:
        """Store an escalation (and queue its webhook delivery). One per attempt: a second
        call for the same attempt returns the first. The flag says whether it is new."""

    @abstractmethod
    async def get_escalation(self, escalation_id: int) -> EscalationRecord | None: ...

    @abstractmethod
    async def escalations(self, status: EscalationStatus | None = None, warning_id: int | None = None) -> list[EscalationRecord]: ...

    @abstractmethod
    async def escalation_queue(
        self, *, status: EscalationStatus | None = None, reason: str | None = None, since: float | None = None,
        after: int | None = None, limit: int = 100,
    ) -> list[QueuedEscalation]:
        """The officers' queue: escalations with their warning's particulars, oldest first,
        those with an id above `after` (keyset pagination), at most `limit`."""

    @abstractmethod
    async def queued_escalation(self, escalation_id: int) -> QueuedEscalation | None:
        """One escalation as the queue lists it."""

    @abstractmethod
    async def claim_escalation(self, escalation_id: int, officer: str, now: float) -> EscalationRecord:
        """Conflict if another officer has it or it is resolved (a resolved escalation is final)."""

    @abstractmethod
    async def resolve_escalation(self, escalation_id: int, officer: str, notes: str, now: float, *,
                                 over_claim: bool = False) -> EscalationRecord:
        """Resolve it as `officer` (kept as `resolved_by`), appending `notes` (if any) as their
        note. Conflict if already resolved (naming who resolved it), or if another officer has
        claimed it, naming them, unless `over_claim` (a supervisor closing someone's case)."""

    @abstractmethod
    async def add_escalation_note(self, escalation_id: int, officer: str, text: str, now: float) -> EscalationRecord:
        """Append a note with its author and time; Conflict if resolved. Notes are never replaced."""

    # -- deliveries ------------------------------------------------------------------

    @abstractmethod
    async def due_deliveries(self, now: float, limit: int, *, exclude: Sequence[int] = ()) -> list[DeliveryRecord]:
        """Pending deliveries due now: escalations first, then outcomes, each oldest first."""

    @abstractmethod
    async def delivery_prepared(self, delivery_id: int, url: str, payload: str) -> DeliveryRecord:
        """Fix where a delivery goes and what it sends (before its first try); a delivery
        prepared already keeps its first URL and body, which are returned."""

    @abstractmethod
    async def delivery_done(self, delivery_id: int, now: float) -> None: ...

    @abstractmethod
    async def delivery_failed(self, delivery_id: int, error: str, retry_at: float | None, now: float) -> None:
        """Record a failed try; `retry_at` None: not tried again until requeued (`failed`)."""

    @abstractmethod
    async def delivery_skipped(self, delivery_id: int, reason: str, now: float) -> None:
        """Nowhere to send it."""

    @abstractmethod
    async def get_delivery(self, delivery_id: int) -> DeliveryRecord | None: ...

    @abstractmethod
    async def deliveries(
        self, *, status: DeliveryStatus | None = None, kind: DeliveryKind | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        """Newest first."""

    @abstractmethod
    async def requeue_deliveries(self, delivery_ids: Sequence[int] | None, now: float) -> list[int]:
        """Make failed (or pending) deliveries due now, their tries counted afresh; None: every
        failed one. Returns the ids requeued."""

    @abstractmethod
    async def delivery_backlog(self) -> tuple[int, float | None]:
        """Deliveries not delivered yet (pending or failed), and when the oldest was queued."""

    async def release_deliveries(self, delivery_ids: Sequence[int]) -> None:
        """Deliveries `due_deliveries` returned that this node will not send now (a shared
        store lets another node take them at once; the embedded one holds no claims)."""
        return None

    # -- audit -----------------------------------------------------------------------

    @abstractmethod
    async def audit_log(self, warning_id: int) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def record_access(self, kind: str, warning_id: int | None, actor: str, detail: dict[str, Any], now: float) -> None:
        """Append to the audit log that `actor` did something that changes nothing (listened to
        a recording, read a transcript)."""

    @abstractmethod
    async def audit_trail(self, kinds: Sequence[str], *, limit: int = 200, before: int | None = None) -> list[AuditEntry]:
        """Audit entries of these kinds, newest first, those with an id below `before`, at most `limit`."""

    # -- console users ---------------------------------------------------------------

    @abstractmethod
    async def add_user(self, name: str, role: str, password_hash: str, now: float, *, by: str) -> UserRecord:
        """Conflict if the name is taken (a disabled user keeps the name). `by`: who did it, for
        the audit log (an admin's name, or `cli` for `robot users`); likewise below."""

    @abstractmethod
    async def get_user(self, name: str) -> UserRecord | None: ...

    @abstractmethod
    async def users(self) -> list[UserRecord]:
        """By name."""

    @abstractmethod
    async def disable_user(self, name: str, now: float, *, by: str) -> UserRecord:
        """NotFound if there is no such user; disabling twice keeps the first time. A disabled
        user can no longer log in, their sessions are deleted and their token stops working."""

    @abstractmethod
    async def set_user_token(self, name: str, token_hash: str, now: float, *, by: str) -> UserRecord:
        """The user's personal token is now the one with this hash (the one before stops working).
        NotFound if there is no such user, Conflict if the user is disabled."""

    @abstractmethod
    async def user_by_token(self, token_hash: str) -> UserRecord | None:
        """The user whose current token has this hash (disabled or not: the caller decides)."""

    # -- console sessions (server-side: every node sees the same) --------------------

    @abstractmethod
    async def add_session(self, session: SessionRecord) -> None:
        """Store a new session (and delete every expired one)."""

    @abstractmethod
    async def session_by_hash(self, id_hash: str, now: float) -> SessionRecord | None:
        """The session with this id hash, if it has not expired at `now` (an expired one is deleted)."""

    @abstractmethod
    async def delete_session(self, id_hash: str) -> None:
        """Logging out: the session is gone (nothing happens if it was not there)."""

    # -- the supervisors' figures ------------------------------------------------------

    @abstractmethod
    async def period_statistics(self, since: float, until: float, bucket_starts: Sequence[float] = ()) -> PeriodStatistics:
        """What happened in [since, until): warnings by risk, calls placed, answered and
        dissuaded, outcomes, escalations by reason, the median time from a warning to its
        first call, per scam type and per script version, and per bucket (`bucket_starts`,
        increasing, within the period). `statistics.py` says exactly what each counts."""

    # -- nodes and pacing ------------------------------------------------------------

    def describe(self) -> str:
        """Which store this is, for /healthz and logs (never a password)."""
        return type(self).__name__

    async def heartbeat(self, node_id: str, api: str, now: float, *, starting: bool = False) -> None:
        """This node is alive (every few seconds); `starting`: it has just started."""
        return None

    async def nodes_alive(self, since: float) -> list[NodeRecord]:
        """The nodes whose last heartbeat was at or after `since`."""
        return []

    async def take_dial_token(self, rate_per_second: float, burst: float, now: float) -> float | None:
        """Cluster-wide pacing: take one token from the store's bucket (0.0), or say how many
        seconds until one is there. None: this store does not pace (the node paces alone)."""
        return None

    async def return_dial_token(self, burst: float) -> None:
        """A token taken for a call that was not started after all."""
        return None
