"""Run a conversation from text turns: the engine behind `dialogs chat` and embedded tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..clock import VirtualClock
from .const import InputKind, Outcome
from .engine import DialogEngine
from .events import DialogEvent
from .matcher import IntentMatcher
from .schema import Script, Turn


@dataclass
class ConversationResult:
    outcome: Outcome | None
    path: list[str]
    escalation: dict[str, Any] | None
    turns: list[dict[str, Any]]
    unused_turns: int
    """Turns left over because the conversation ended before them."""

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value if self.outcome else None,
            "path": self.path,
            "escalation": self.escalation,
            "turns": self.turns,
        }


async def feed_turn(engine: DialogEngine, turn: Turn, clock: VirtualClock) -> None:
    """Play one callee turn into the engine, on virtual time.

    The robot's prompt is taken to have finished first; silence then lets the state's
    no-input timeout run out on the clock, as it would on a call.
    """
    engine.prompt_finished()
    if turn.kind is InputKind.SILENCE:
        timeout = engine.script.listen_for(engine.script.states[engine.state]).no_input_timeout_seconds
        clock.advance(timeout)
        await engine.check_no_input()
        return
    clock.advance(1.0)
    engine.speech_started()
    if turn.kind is InputKind.DTMF:
        await engine.handle_dtmf(turn.digits)
    else:
        await engine.handle_speech(turn.text)


def escalation_json(engine: DialogEngine) -> dict[str, Any] | None:
    if engine.escalation is None:
        return None
    return {
        "reason": engine.escalation.reason.value,
        "mode": engine.escalation.mode.value,
        "phrase": engine.escalation.phrase,
    }


async def run_conversation(
    script: Script,
    turns: Iterable[Turn],
    *,
    variables: Mapping[str, str] | None = None,
    matcher: IntentMatcher | None = None,
    on_event: Callable[[DialogEvent], None] | None = None,
) -> ConversationResult:
    clock = VirtualClock()
    engine = DialogEngine(script, variables=variables, clock=clock, on_event=on_event, matcher=matcher)
    await engine.start()
    pending = list(turns)
    while pending and not engine.finished:
        await feed_turn(engine, pending.pop(0), clock)
    return ConversationResult(
        outcome=engine.outcome,
        path=list(engine.path),
        escalation=escalation_json(engine),
        turns=engine.transcript(),
        unused_turns=len(pending),
    )
