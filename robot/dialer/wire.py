"""The messages between the daemon and its call-worker processes, defined once and used on
both sides: JSON lines over a socket pair, each one of `Message` (a union told apart by
`type`). A line that is not a valid message is an error naming what is wrong with it.

    daemon -> worker   call (StartCall), stop (Stop)
    worker -> daemon   ready (Ready), escalation (Escalated, as it happens), result (Finished)
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..dialog.events import EscalationRequested
from ..sip.result import CallRequest, CallResult


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StartCall(_Message):
    """Place this call (the daemon has claimed the attempt)."""

    type: Literal["call"] = "call"
    attempt_id: int
    request: CallRequest


class Stop(_Message):
    """Let calls finish for up to `drain_seconds`, hang up the rest, and exit."""

    type: Literal["stop"] = "stop"
    drain_seconds: float = Field(default=0.0, ge=0)


class Ready(_Message):
    """The worker is up: SIP started, recognisers warm."""

    type: Literal["ready"] = "ready"
    slots: int = Field(ge=1)
    pid: int


class Escalated(_Message):
    """An escalation decided during a call: stored by the daemon at once, before the call ends."""

    type: Literal["escalation"] = "escalation"
    attempt_id: int
    event: EscalationRequested


class Finished(_Message):
    """How an attempt ended."""

    type: Literal["result"] = "result"
    attempt_id: int
    result: CallResult


Message = Annotated[StartCall | Stop | Ready | Escalated | Finished, Field(discriminator="type")]
_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


class WireError(ValueError):
    """A line on the worker socket that is not a valid message."""


def encode(message: Message) -> bytes:
    return message.model_dump_json().encode() + b"\n"


def decode(line: bytes) -> Message:
    try:
        return _ADAPTER.validate_json(line)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in err.errors(include_url=False)[:5])
        raise WireError(f"not a valid worker message ({problems})") from err
