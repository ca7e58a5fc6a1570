"""Events the dialog engine emits for the speech and SIP layers to act on."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .const import EscalationMode, EscalationReason, InputKind, Outcome
from .matcher import MatchMethod


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at_seconds: float
    """Seconds since the conversation started, on the engine's clock."""


class StateEntered(_Event):
    type: Literal["state_entered"] = "state_entered"
    state: str


class Say(_Event):
    """The robot should say this text now."""

    type: Literal["say"] = "say"
    state: str
    text: str
    barge_in: bool
    """Whether the callee may interrupt this text."""


class Listening(_Event):
    """The robot now waits for the callee (after the preceding `say` texts are played)."""

    type: Literal["listening"] = "listening"
    state: str
    no_input_timeout_seconds: float
    barge_in: bool
    expected_phrases: list[str]
    """Phrases that can move the conversation on (for a recogniser grammar)."""
    dtmf: list[str]


class Heard(_Event):
    type: Literal["heard"] = "heard"
    state: str
    kind: InputKind
    text: str


class IntentMatched(_Event):
    type: Literal["intent_matched"] = "intent_matched"
    state: str
    intent: str
    matched: str
    method: MatchMethod
    is_global: bool


class NoMatch(_Event):
    type: Literal["no_match"] = "no_match"
    state: str
    count: int
    acknowledgment: bool = False
    """An acknowledgment (明白 / okay) where the state asked whether something happened."""


class Backchannel(_Event):
    """嗯 / uh-huh over the robot's prompt: the callee is listening; nothing changes."""

    type: Literal["backchannel"] = "backchannel"
    state: str
    text: str


class NoInput(_Event):
    type: Literal["no_input"] = "no_input"
    state: str
    count: int


class EscalationRequested(_Event):
    type: Literal["escalation"] = "escalation"
    state: str
    reason: EscalationReason
    mode: EscalationMode
    phrase: str | None
    """What the callee said that triggered it, if anything."""


class Finished(_Event):
    type: Literal["finished"] = "finished"
    outcome: Outcome
    path: list[str]


DialogEvent = Annotated[
    StateEntered | Say | Listening | Heard | Backchannel | IntentMatched | NoMatch | NoInput | EscalationRequested | Finished,
    Field(discriminator="type"),
]


def transcript(events: list[DialogEvent]) -> list[dict[str, Any]]:
    """What was said, in order: `{speaker, text, at_seconds}`, and for the callee `input`, and
    `backchannel: true` (said over a prompt) or `understood: false` (no handler got it: shown
    to officers)."""
    lines: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, Say):
            lines.append({"speaker": "robot", "text": event.text, "at_seconds": event.at_seconds})
        elif isinstance(event, Heard):
            lines.append({"speaker": "callee", "text": event.text, "input": event.kind.value, "at_seconds": event.at_seconds})
        elif isinstance(event, Backchannel):
            lines.append({"speaker": "callee", "text": event.text, "input": "speech", "at_seconds": event.at_seconds,
                          "backchannel": True})
        elif isinstance(event, NoMatch) and lines and lines[-1]["speaker"] == "callee":
            lines[-1]["understood"] = False
    return lines
