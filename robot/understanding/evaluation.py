"""Measure understanding on labelled callee turns: `robot dialogs evaluate SET.yaml`.

Each item is one thing a callee says in context (the script, the state whose prompt it
answers, whether it was said over the prompt) with the reaction a person would want from the
robot. The item is played into a fresh dialog engine in that state and the engine's reaction
is read back as a label; the report gives accuracy, per-label precision and recall, and the
confusion between `urgent` and everything else: missed victims and false escalations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

from ..clock import VirtualClock
from ..dialog.const import EscalationReason
from ..dialog.engine import DialogEngine
from ..dialog.events import Backchannel, EscalationRequested, IntentMatched, NoMatch
from ..dialog.matcher import IntentMatcher, matcher_for
from ..dialog.schema import Script


class Label(StrEnum):
    URGENT = "urgent"
    HUMAN = "human"
    YES = "yes"
    NO = "no"
    NOT_AN_ANSWER = "not_an_answer"
    IGNORE = "ignore"
    UNSURE = "unsure"
    IDENTITY = "identity"
    REFUSE = "refuse"
    WRONG_PERSON = "wrong_person"
    LATER = "later"
    UNCLEAR = "unclear"


INTENT_LABELS = {
    "affirm": Label.YES,
    "its_me": Label.YES,
    "agree": Label.YES,
    "promise": Label.YES,
    "deny": Label.NO,
    "unsure": Label.UNSURE,
    "identity": Label.IDENTITY,
    "ask_human": Label.HUMAN,
    "stop_calling": Label.REFUSE,
    "wrong_person": Label.WRONG_PERSON,
    "call_later": Label.LATER,
}
"""The shipped scripts' intent names, read as labels (urgent ones escalate anyway)."""


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    script: str = Field(description="LANGUAGE/SCRIPT_ID, e.g. zh-CN/impersonate_police")
    state: str
    over_prompt: bool = False
    scam_type: str = "none"
    text: str
    expect: Label
    style: str = "other"
    note: str = ""


@dataclass(frozen=True)
class Outcome:
    item: Item
    got: Label
    detail: str
    """What decided it: the intent and how it matched, or no_match."""
    same_reaction: bool = False
    """A different label that makes the robot do the same thing in this state (in `greet`,
    a "no" and "wrong person" both end with the wrong-person goodbye)."""

    @property
    def right(self) -> bool:
        return self.got is self.item.expect or self.same_reaction


def reaction(script: Script, state: str, label: Label) -> tuple[str, ...]:
    """What the robot does in `state` with a turn of this label: the action of the handler
    of the label's intent (its goto, hang-up or escalation), a reprompt, or nothing."""
    if label is Label.URGENT:
        return ("escalate", EscalationReason.URGENT_SPEECH.value)
    if label in (Label.NOT_AN_ANSWER, Label.UNCLEAR):
        return ("reprompt",)
    if label is Label.IGNORE:
        return ("ignore",)
    intents = [name for name, mapped in INTENT_LABELS.items() if mapped is label]
    for handler in [*script.global_intents, *script.states[state].on]:
        if handler.intent in intents:
            if handler.escalate:
                return ("escalate", handler.escalate.reason.value)
            if handler.hangup:
                return ("hangup", handler.hangup.value)
            return ("goto", handler.goto or ("=" if handler.repeat else state))
    return ("reprompt",)


def load_items(path: str | Path) -> list[Item]:
    data = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8")) or []
    return [Item.model_validate(entry) for entry in data]


async def react(script: Script, item: Item, matcher: IntentMatcher | None = None) -> Outcome:
    """Play one item into a fresh engine in its state; read the reaction as a label."""
    found = await _react(script, item, matcher)
    if found.got is not item.expect and reaction(script, item.state, found.got) == reaction(script, item.state, item.expect):
        return Outcome(item, found.got, found.detail, same_reaction=True)
    return found


async def _react(script: Script, item: Item, matcher: IntentMatcher | None) -> Outcome:
    engine = DialogEngine(script, clock=VirtualClock(), matcher=matcher)
    await engine.start(at_state=item.state)
    seen = len(engine.events)
    if not item.over_prompt:
        engine.prompt_finished()
    await engine.handle_speech(item.text, over_prompt=item.over_prompt)
    events = engine.events[seen:]
    matched = next((event for event in events if isinstance(event, IntentMatched)), None)
    detail = f"{matched.intent} by {matched.method.value}: {matched.matched}" if matched else "no_match"
    escalation = next((event for event in events if isinstance(event, EscalationRequested)), None)
    if any(isinstance(event, Backchannel) for event in events):
        return Outcome(item, Label.IGNORE, "backchannel")
    if escalation is not None and escalation.reason is EscalationReason.URGENT_SPEECH:
        return Outcome(item, Label.URGENT, detail)
    if escalation is not None and escalation.reason is EscalationReason.CALLEE_REQUEST:
        return Outcome(item, Label.HUMAN, detail)
    if any(isinstance(event, NoMatch) and event.acknowledgment for event in events):
        return Outcome(item, Label.NOT_AN_ANSWER, "acknowledgment")
    if matched is not None:
        return Outcome(item, INTENT_LABELS.get(matched.intent, Label.UNCLEAR), detail)
    return Outcome(item, Label.UNCLEAR, detail)


async def evaluate(items: Iterable[Item], scripts: Mapping[str, Script]) -> list[Outcome]:
    outcomes = []
    for item in items:
        if item.script not in scripts:
            raise KeyError(f"item {item.id}: no script {item.script} (have {', '.join(sorted(scripts))})")
        script = scripts[item.script]
        outcomes.append(await react(script, item, matcher_for(script)))
    return outcomes


@dataclass
class Report:
    outcomes: list[Outcome]
    per_label: dict[Label, tuple[int, int, int]] = field(default_factory=dict)
    """label → (true positives, predicted, expected)."""

    def __post_init__(self) -> None:
        predicted = Counter(outcome.got for outcome in self.outcomes)
        expected = Counter(outcome.item.expect for outcome in self.outcomes)
        right = Counter(outcome.got for outcome in self.outcomes if outcome.got is outcome.item.expect)
        self.per_label = {label: (right[label], predicted[label], expected[label])
                          for label in Label if predicted[label] or expected[label]}

    @property
    def accuracy(self) -> float:
        return sum(outcome.right for outcome in self.outcomes) / max(1, len(self.outcomes))

    @property
    def exact(self) -> float:
        """Share of turns given exactly the expected label (`accuracy` also counts a label
        that makes the robot do the same thing)."""
        return sum(outcome.got is outcome.item.expect for outcome in self.outcomes) / max(1, len(self.outcomes))

    @property
    def missed_urgent(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.item.expect is Label.URGENT and o.got is not Label.URGENT]

    @property
    def false_escalations(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.item.expect is not Label.URGENT and o.got is Label.URGENT]

    @property
    def not_urgent(self) -> int:
        return sum(o.item.expect is not Label.URGENT for o in self.outcomes)

    @property
    def urgent(self) -> int:
        return len(self.outcomes) - self.not_urgent

    def lines(self, title: str, *, show_errors: bool = True) -> list[str]:
        out = [f"## {title}: {len(self.outcomes)} turns",
               f"right overall: {self.accuracy:.1%} (target >= 95 %; the exact label: {self.exact:.1%})",
               f"missed urgency: {len(self.missed_urgent)} of {self.urgent} urgent turns (target 0)",
               f"false escalations: {len(self.false_escalations)} of {self.not_urgent} other turns "
               f"= {len(self.false_escalations) / max(1, self.not_urgent):.1%} (target <= 2 %)",
               "", "| label | precision | recall | turns |", "| --- | --- | --- | --- |"]
        for label, (hits, predicted, expected) in self.per_label.items():
            precision = f"{hits / predicted:.0%}" if predicted else "-"
            recall = f"{hits / expected:.0%}" if expected else "-"
            out.append(f"| {label.value} | {precision} | {recall} | {expected} |")
        urgent_hit = self.urgent - len(self.missed_urgent)
        out += ["", "| urgent vs everything else | robot escalated | robot did not |", "| --- | --- | --- |",
                f"| urgent | {urgent_hit} | {len(self.missed_urgent)} |",
                f"| not urgent | {len(self.false_escalations)} | {self.not_urgent - len(self.false_escalations)} |"]
        if show_errors:
            wrong = [o for o in self.outcomes if not o.right]
            if wrong:
                out += ["", "wrong:"]
                out += [f"- {o.item.id} [{o.item.script} {o.item.state}{' over prompt' if o.item.over_prompt else ''}] "
                        f"expected {o.item.expect.value}, got {o.got.value} ({o.detail}): {o.item.text}" for o in wrong]
        return out
