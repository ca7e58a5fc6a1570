"""The dialog engine on virtual time: events, reprompts, no-input, urgency, hang-ups."""

from __future__ import annotations

import pytest

from robot.clock import VirtualClock
from robot.dialog.const import EscalationMode, EscalationReason, Outcome
from robot.dialog.engine import DialogEngine
from robot.dialog.error import DialogError
from robot.dialog.events import Finished, Listening, NoInput, Say, StateEntered
from robot.dialog.loader import load_script
from tests.conftest import MINIMAL_SCRIPT


@pytest.fixture
def script(write_script):
    return load_script(write_script(MINIMAL_SCRIPT)).script


@pytest.fixture
def clock():
    return VirtualClock()


async def started(script, clock, **kwargs) -> DialogEngine:
    engine = DialogEngine(script, clock=clock, **kwargs)
    await engine.start()
    return engine


async def test_start_emits_state_prompt_and_listening(script, clock):
    seen = []
    engine = await started(script, clock, variables={"name": "Lee"}, on_event=seen.append)
    assert [type(event) for event in seen] == [StateEntered, Say, Listening]
    assert seen[1].text == "Hello Lee, did you send money?"
    listening = seen[2]
    assert listening.no_input_timeout_seconds == 5
    assert listening.expected_phrases == ["no", "nope", "safe account", "transfer*", "yeah", "yes"]
    assert listening.dtmf == ["1", "2"]
    assert engine.listening and engine.state == "ask"


async def test_no_input_timer_runs_on_the_clock(script, clock):
    engine = await started(script, clock)
    assert not await engine.check_no_input()  # not armed until the prompt has been played
    engine.prompt_finished()
    clock.advance(4.9)
    assert not await engine.check_no_input()
    clock.advance(0.1)
    assert await engine.check_no_input()
    assert isinstance(engine.events[-2], Say) and engine.events[-2].text == "Are you there?"
    assert isinstance(engine.events[-1], Listening)
    # Speech cancels the timer, however long the callee talks.
    engine.prompt_finished()
    engine.speech_started()
    clock.advance(60)
    assert not await engine.check_no_input()


async def test_reprompts_then_no_input_outcome(script, clock):
    engine = await started(script, clock)
    await engine.handle_no_input()
    assert not engine.finished
    await engine.handle_no_input()  # max_no_input is 1: the second silence ends the call
    assert engine.finished and engine.outcome is Outcome.NO_INPUT
    counts = [event.count for event in engine.events if isinstance(event, NoInput)]
    assert counts == [1, 2]
    finished = engine.events[-1]
    assert isinstance(finished, Finished) and finished.path == ["ask"]


async def test_no_match_reprompt_then_escalates_as_not_understood(script, clock):
    engine = await started(script, clock)
    assert await engine.handle_speech("purple") is None
    assert engine.events[-2].text == "Please say yes or no."
    await engine.handle_speech("elephant")
    assert engine.outcome is Outcome.ESCALATED
    assert engine.escalation.reason is EscalationReason.NOT_UNDERSTOOD
    assert engine.escalation.mode is EscalationMode.TICKET


async def test_counters_reset_on_a_new_state(write_script, clock):
    text = MINIMAL_SCRIPT.replace("        goto: bye\n", "        goto: again\n") + (
        "  again:\n    say: Once more?\n    listen: {max_no_input: 1}\n"
        "    on:\n      - intent: no\n        goto: bye\n"
    )
    engine = await started(load_script(write_script(text)).script, clock)
    await engine.handle_no_input()
    await engine.handle_speech("no")
    await engine.handle_no_input()  # the first silence in `again`: a reprompt, not the end
    assert engine.state == "again" and not engine.finished


async def test_dtmf_and_path(script, clock):
    engine = await started(script, clock, variables={"name": "Kim"})
    match = await engine.handle_dtmf("2")
    assert match.intent == "no"
    assert engine.outcome is Outcome.DISSUADED
    assert engine.path == ["ask", "bye"]
    assert engine.transcript()[-1]["text"] == "Goodbye Kim."


async def test_global_urgency_beats_the_states_own_intents(script, clock):
    engine = await started(script, clock)
    match = await engine.handle_speech("no, but yes I transferred it")
    assert match.intent == "urgent"
    assert engine.escalation.reason is EscalationReason.URGENT_SPEECH
    assert engine.escalation.mode is EscalationMode.LIVE
    assert engine.escalation.phrase == "no, but yes I transferred it"
    assert engine.transcript()[-1]["text"] == "Connecting you to an officer."


async def test_spot_urgent_on_partials(script, clock):
    engine = await started(script, clock)
    assert engine.spot_urgent("I have") is None
    assert engine.spot_urgent("I have not transferred") is None
    assert engine.spot_urgent("I have transferred").intent == "urgent"


async def test_callee_hang_up_is_hung_up_unless_the_state_says_otherwise(write_script, clock):
    engine = await started(load_script(write_script(MINIMAL_SCRIPT)).script, clock)
    await engine.callee_hung_up()
    assert engine.outcome is Outcome.HUNG_UP  # not refused: nobody said "stop calling"
    text = MINIMAL_SCRIPT.replace("  ask:\n    say:", "  ask:\n    on_hangup: dissuaded\n    say:")
    engine = await started(load_script(write_script(text)).script, clock)
    await engine.callee_hung_up()
    assert engine.outcome is Outcome.DISSUADED


async def test_variants_take_turns_and_set_variables(write_script, clock):
    text = MINIMAL_SCRIPT.replace(
        "    say: Hello {name}, did you send money?\n",
        '    say: ["First {name}.", "Second {name}."]\n',
    ).replace("        goto: bye\n", "        set: {name: 'dear {name}'}\n        repeat: true\n")
    engine = await started(load_script(write_script(text)).script, clock)
    await engine.handle_speech("no")
    await engine.handle_speech("no")
    says = [event.text for event in engine.events if isinstance(event, Say)]
    assert says == ["First friend.", "Second dear friend.", "First dear dear friend."]


async def test_timestamps_come_from_the_clock(script, clock):
    clock.advance(100)
    engine = await started(script, clock)
    clock.advance(2.5)
    await engine.handle_speech("no")
    assert engine.transcript()[1] == {"speaker": "callee", "text": "no", "input": "speech", "at_seconds": 2.5}


async def test_unknown_variable_is_an_error(script, clock):
    with pytest.raises(DialogError) as caught:
        DialogEngine(script, clock=clock, variables={"surname": "Lee"})
    assert caught.value.code == "unknown_variable"
    assert "surname" in caught.value.message


async def test_input_after_the_end_is_ignored(script, clock):
    engine = await started(script, clock)
    await engine.handle_speech("no")
    assert await engine.handle_speech("I transferred") is None
    await engine.handle_no_input()
    assert engine.outcome is Outcome.DISSUADED
