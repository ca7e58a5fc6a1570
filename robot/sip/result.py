"""What a call is asked to do and what it reports: the call worker's input and output.

Plain pydantic models with no pjsua2 in sight, so the dialer daemon (which never loads
pjsua2) and the worker process share them over the wire (`robot/dialer/wire.py`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..dialog.const import AttemptOutcome, EscalationMode, EscalationReason
from ..dialog.schema import Script
from .outcome import CallOutcome


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CallRequest(_Model):
    """One call to place: whom, with which script, and what goes with it."""

    target: str = Field(description="A phone number (dialled through the template) or a sip: URI")
    script: Script
    variables: dict[str, str] = Field(default={}, description="Script variables (a warning's name ...)")
    headers: dict[str, str] = Field(default={}, description="Added to the INVITE (X-Warning-Id ...)")
    recording_name: str | None = Field(default=None, description="The recording's file name, without .wav (never from input)")
    ring_timeout_seconds: float | None = Field(default=None, gt=0, description="Instead of the SIP config's")
    human_queue_uri: str | None = Field(default=None, description="Instead of the SIP config's, for a live hand-off")
    warning_id: str = Field(default="", description="The warning system's id: X-Warning-Id and the officer's whisper")


class CallEscalation(_Model):
    reason: EscalationReason
    phrase: str | None = None
    mode: EscalationMode


class HandOffReport(_Model):
    """A live escalation's officer leg."""

    officer_uri: str | None
    answered: bool = False
    bridged_seconds: float = 0.0
    """How long callee and officer were bridged (0: never)."""
    ended_by: str | None = None
    """Who hung up first once bridged: `callee` or `officer`."""
    error: str | None = None
    """Why the officer could not be dialled (then an officer calls back)."""


class TimelineEntry(_Model):
    """Something that happened in the call, in order, at the call's audio time."""

    at_seconds: float
    what: str
    text: str = ""


class CallStats(_Model):
    """For the daemon's metrics."""

    asr_final_seconds: list[float] = []
    tts_first_audio_seconds: list[float] = []
    frames_received: int = 0
    audio_gaps: int = 0
    """Receive ticks without callee audio."""
    frames_dropped: int = 0
    frames_processed_late: int = 0
    recognizer_restarts: int = 0
    """Recogniser streams replaced after a failure; the call went on."""


class CallResult(_Model):
    outcome: AttemptOutcome
    """The dialog's outcome when answered, else the call outcome (busy, no_answer, ...)."""
    call_outcome: CallOutcome
    sip_status: int | None = None
    answered: bool = False
    duration_seconds: float = 0.0
    transcript: list[dict[str, Any]] = []
    escalation: CallEscalation | None = None
    recording: str | None = None
    path: list[str] = []
    handoff: HandOffReport | None = None
    """For a live escalation: the officer leg's URI, whether it answered, how long the callee
    and the officer were bridged."""
    error: str | None = None
    """What failed, for `robot_error` (and a trunk fault the robot saw as an exception)."""
    timeline: list[TimelineEntry] = []
    stats: CallStats = CallStats()

    @classmethod
    def failure(cls, outcome: CallOutcome, error: str) -> CallResult:
        """A call that failed before it could report anything else."""
        return cls(outcome=AttemptOutcome(outcome.value), call_outcome=outcome, error=error)
