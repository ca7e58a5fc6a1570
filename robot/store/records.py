"""What the store keeps: warnings, call attempts, escalations, deliveries and the audit log."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..dialog.const import AttemptOutcome, EscalationMode, RiskLevel


class WarningStatus(StrEnum):
    QUEUED = "queued"
    """Waiting for its next attempt (`next_attempt_at`)."""
    CALLING = "calling"
    """Leased to a dialer node; an attempt is in flight."""
    DONE = "done"
    """Finished; `outcome` says how."""
    MERGED = "merged"
    """Another warning for the same number carries it (`merged_into`)."""


class AttemptState(StrEnum):
    IN_FLIGHT = "in_flight"
    FINISHED = "finished"


class EscalationStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Tried until delivered, with a capped back-off."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """Not sent, and not tried again until an operator requeues it (`robot deliveries retry`):
    its host is no longer allowed; or given up by an older release."""
    SKIPPED = "skipped"
    """Nowhere to send it: no URL is configured for its kind (nor a callback_url)."""


class DeliveryKind(StrEnum):
    ESCALATION = "escalation"
    OUTCOME = "outcome"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewWarning(_Record):
    """A validated warning, ready to store (phone already normalised)."""

    external_id: str
    phone: str = Field(description="E.164, e.g. +8613800138000")
    dial_number: str = Field(description="What the trunk dials, e.g. 13800138000")
    name: str = ""
    risk: RiskLevel
    fraud_type: str = "generic"
    language: str
    received_at: str = Field(description="ISO 8601, as the warning system sent it")
    callback_url: str | None = None
    extra: dict[str, Any] = {}


class WarningRecord(NewWarning):
    id: int
    accepted_at: float
    status: WarningStatus
    attempts: int = Field(description="Attempts that count against the retry schedule")
    trunk_failures: int = Field(description="Attempts lost to trunk faults; they do not count")
    robot_errors: int = Field(default=0, description="Attempts lost to the robot's own errors; they do not count")
    next_attempt_at: float
    script: str | None = None
    outcome: AttemptOutcome | None = None
    merged_into: int | None = None
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    updated_at: float


class AttemptRecord(_Record):
    id: int
    warning_id: int
    number: int
    worker: str
    script: str
    script_version: str
    started_at: float
    ended_at: float | None = None
    state: AttemptState
    sip_status: int | None = None
    call_outcome: str | None = None
    outcome: AttemptOutcome | None = None
    answered: bool = False
    duration_seconds: float | None = None
    transcript: list[dict[str, Any]] = []
    escalation: dict[str, Any] | None = None
    recording: str | None = None
    error: str | None = Field(default=None, description="What failed, for robot_error and trunk faults")
    path: list[str] = Field(default=[], description="The script's states, in the order the call went through them")


class EscalationNote(_Record):
    """One note on an escalation: appended, never replaced."""

    author: str
    written_at: float
    text: str


class EscalationRecord(_Record):
    id: int
    warning_id: int
    attempt_id: int | None
    reason: str
    phrase: str = ""
    mode: EscalationMode
    status: EscalationStatus
    claimed_by: str | None = None
    handoff_failed: bool = Field(default=False, description="Opened live, but no officer could be bridged: someone must call back now")
    notes: list[EscalationNote] = Field(default=[], description="Oldest first")
    created_at: float
    claimed_at: float | None = None
    resolved_at: float | None = None
    resolved_by: str | None = Field(default=None, description="Who resolved it (not always who had claimed it)")


class QueuedEscalation(EscalationRecord):
    """An escalation as the officers' queue lists it: with its warning's particulars."""

    warning_external_id: str
    phone: str
    name: str
    risk: RiskLevel
    fraud_type: str


class DeliveryRecord(_Record):
    """A webhook to send: an escalation (to the escalation URL) or a finished warning's outcome
    (to its callback_url, else the outcome URL). Where it goes and its body are fixed at the
    first try, so every retry sends the same bytes to the same place."""

    id: int
    kind: DeliveryKind
    subject_id: int
    url: str | None = None
    payload: str | None = None
    status: DeliveryStatus
    tries: int
    next_try_at: float
    last_error: str = ""
    created_at: float
    delivered_at: float | None = None
    claimed_by: str | None = Field(default=None, description="The node sending it now (a shared store)")
    claim_expires_at: float | None = Field(default=None, description="When another node may take it over")


class NodeRecord(_Record):
    """A dialer node using the store, as its last heartbeat left it."""

    node_id: str
    started_at: float
    seen_at: float
    api: str = ""


class AttemptResult(_Record):
    """What a call worker reports at the end of an attempt, as stored."""

    sip_status: int | None = None
    call_outcome: str
    outcome: AttemptOutcome
    answered: bool = False
    duration_seconds: float = 0.0
    transcript: list[dict[str, Any]] = []
    escalation: dict[str, Any] | None = None
    recording: str | None = None
    error: str | None = None
    path: list[str] = []


class Decision(_Record):
    """What the policy decided after an attempt; the store applies it in one transaction."""

    finished: bool
    outcome: AttemptOutcome | None = Field(default=None, description="The warning's final outcome, when finished")
    next_attempt_at: float | None = None
    counts_attempt: bool = True
    trunk_fault: bool = False
    robot_fault: bool = False
    escalate: str | None = Field(default=None, description="An escalation reason to open now (besides the call's own)")
    note: str = ""


class Intake(_Record):
    """A warning to store, and whether it is finished at once with an escalation (high risk
    is not dialled)."""

    warning: NewWarning
    escalate: str | None = None


class WarningDetail(_Record):
    """A warning with what became of it: the attempts and escalations of the warning that
    carries it (itself, or the one it was merged into)."""

    warning: WarningRecord
    merged_into_external_id: str | None = None
    attempts: list[AttemptRecord] = []
    escalations: list[EscalationRecord] = []


class Accepted(_Record):
    warning: WarningRecord
    created: bool
    """False: this external id was already stored (idempotent)."""
    merged_into: int | None = None
    merged_into_external_id: str | None = None
    escalation_id: int | None = None


class UserRecord(_Record):
    """A console user (an officer, a supervisor or an admin). The password is kept only as its
    argon2 hash, a personal API token only as its SHA-256 (a token is random, 256 bits)."""

    id: int
    name: str
    role: str
    password_hash: str
    disabled: bool = False
    created_at: float
    disabled_at: float | None = None
    token_created_at: float | None = Field(default=None, description="When the current personal token was made (None: none)")


class SessionRecord(_Record):
    """A console session, kept server-side: the cookie carries a random id, the store only its
    SHA-256 (`id_hash`)."""

    id_hash: str
    user_name: str
    csrf: str
    created_at: float
    expires_at: float


class AuditEntry(_Record):
    """One line of the audit log, with the external id of the warning it concerns (if any)."""

    id: int
    at: float
    kind: str
    warning_external_id: str | None = None
    detail: dict[str, Any] = {}
