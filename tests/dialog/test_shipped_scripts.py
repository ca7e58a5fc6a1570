"""The scripts we ship: clean, self-tested, and urgent speech escalates from every state."""

from __future__ import annotations

import asyncio

import pytest

from robot.clock import VirtualClock
from robot.dialog.checks import check_paths, script_files
from robot.dialog.const import EscalationReason, Language, Outcome
from robot.dialog.engine import DialogEngine
from robot.dialog.loader import load_script
from robot.dialog.matcher import IntentMatcher
from robot.dialog.schema import InputKind, Script, Turn
from robot.dialog.simulate import feed_turn
from tests.conftest import DIALOGS

SHIPPED = sorted(script_files([DIALOGS]))
URGENT_UTTERANCE = {
    Language.ZH_CN: "我刚才已经把钱转到安全账户了",
    Language.EN_US: "I already transferred the money to a safe account",
}


def test_the_expected_scripts_ship():
    names = {str(path.relative_to(DIALOGS)) for path in SHIPPED}
    assert names == {
        "en-US/generic.yaml",
        "zh-CN/generic.yaml",
        "zh-CN/order_brushing.yaml",
        "zh-CN/investment.yaml",
        "zh-CN/impersonate_police.yaml",
        "zh-CN/fake_customer_service.yaml",
        "zh-CN/online_loan.yaml",
        "zh-CN/impersonate_acquaintance.yaml",
    }


def test_shipped_scripts_pass_dialogs_check():
    problems, count = asyncio.run(check_paths([DIALOGS]))
    assert count == len(SHIPPED)
    assert [str(problem) for problem in problems] == []


def _speech(test) -> list[str]:
    return [turn.text for turn in test.turns if turn.kind is InputKind.SPEECH]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_embedded_tests_cover_what_supervisors_rely_on(path):
    script = load_script(path).script
    tests = script.tests
    urgent = [h.intent for h in script.global_intents if h.escalate and h.escalate.reason is EscalationReason.URGENT_SPEECH]
    # The same intents with negation switched off: a negated urgent phrase shows up here.
    unnegated = IntentMatcher(
        {name: intent.model_copy(update={"negatable": False}) for name, intent in script.intents.items()},
        script.meta.language,
    )
    matcher = IntentMatcher(script.intents, script.meta.language)
    covered = {
        "urgent escalation": any(
            t.expect.outcome is Outcome.ESCALATED
            and t.expect.escalation is not None
            and t.expect.escalation.reason is EscalationReason.URGENT_SPEECH
            for t in tests
        ),
        "negated urgency": any(
            t.expect.outcome is not Outcome.ESCALATED
            and any(unnegated.match_text(text, urgent) and not matcher.match_text(text, urgent) for text in _speech(t))
            for t in tests
        ),
        "dissuaded": any(t.expect.outcome is Outcome.DISSUADED for t in tests),
        "no input": any(
            t.expect.outcome is Outcome.NO_INPUT and all(turn.kind is InputKind.SILENCE for turn in t.turns) for t in tests
        ),
        "identity question": any(
            any(matcher.match_text(text, ["identity"]) for text in _speech(t)) and t.expect.says for t in tests
        ),
    }
    assert [name for name, ok in covered.items() if not ok] == []


async def _drive(script: Script, texts: list[str]) -> DialogEngine:
    clock = VirtualClock()
    engine = DialogEngine(script, clock=clock)
    await engine.start()
    for text in texts:
        await feed_turn(engine, Turn.from_text(text), clock)
    return engine


async def _reach_every_listening_state(script: Script) -> dict[str, list[str]]:
    """Find, by driving the engine, callee turns that lead to each listening state."""
    routes: dict[str, list[str]] = {script.start: []}
    pending = [script.start]
    while pending:
        state = pending.pop(0)
        for handler in script.states[state].on:
            if not handler.goto:
                continue
            intent = script.intents[handler.intent]
            for text in [*intent.phrases, *(f"#{d}" for d in intent.dtmf)]:
                engine = await _drive(script, [*routes[state], text])
                if not engine.finished and engine.state not in routes:
                    routes[engine.state] = [*routes[state], text]
                    pending.append(engine.state)
                    break
    return routes


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_urgent_speech_escalates_from_every_state(path):
    script = load_script(path).script
    routes = await _reach_every_listening_state(script)
    listening = {name for name, state in script.states.items() if state.listens}
    assert set(routes) == listening
    for state, route in routes.items():
        engine = await _drive(script, [*route, URGENT_UTTERANCE[script.meta.language]])
        assert engine.outcome is Outcome.ESCALATED, state
        assert engine.escalation.reason is EscalationReason.URGENT_SPEECH, state
        assert engine.escalation.state == state
