"""The call listener: barge-in, urgency on partials while the robot talks, no-input, turns."""

from __future__ import annotations

import numpy as np
import pytest

from robot.dialog.const import EscalationReason, Outcome
from robot.dialog.engine import DialogEngine
from robot.dialog.loader import load_script
from robot.speech.audio import TELEPHONE_RATE, frames, silence
from robot.speech.pipeline import AudioClock, CallListener, ListenerSettings
from robot.speech.vad import WebRtcSpeechDetector
from tests.conftest import DIALOGS
from tests.speech.conftest import ScriptedRecognizer, ScriptedStream


@pytest.fixture(scope="module")
def english():
    return load_script(DIALOGS / "en-US" / "generic.yaml").script


async def listener_for(script, recognizer):
    clock = AudioClock()
    interrupts: list[tuple[float, str]] = []
    holder: dict[str, CallListener] = {}
    engine = DialogEngine(script, clock=clock, on_event=lambda event: holder["l"].dialog_event(event))
    listener = CallListener(
        engine, recognizer.stream(), WebRtcSpeechDetector(), clock, interrupt=lambda reason: interrupts.append((clock.now(), reason))
    )
    holder["l"] = listener
    await engine.start()
    return engine, listener, interrupts


async def play(listener, audio):
    for frame in frames(audio, TELEPHONE_RATE):
        await listener.feed(frame)
        if listener.engine.finished:
            break


async def test_urgent_phrase_interrupts_the_robot_before_the_utterance_ends(english, catalog, phone_audio):
    from robot.speech.asr import recognizer_from_catalog

    engine, listener, interrupts = await listener_for(english, recognizer_from_catalog(catalog, "pocketsphinx-en-us"))
    # The robot is still saying its greeting (no prompt_finished) when the callee speaks.
    audio, start, end = phone_audio("They told me to keep it secret and I am really very scared.")
    await play(listener, audio)
    spotted = listener.first("urgent_spotted")
    assert spotted is not None and "keep it" in spotted.text  # the partial may not have "secret" yet: heard by sound
    assert spotted.at_seconds < end  # from a partial, before the callee even stopped talking
    # Two words that are no backchannel ("they told") stopped the robot first; the urgent
    # phrase came after, while the callee still spoke, and ended the dialog then.
    speech_started = listener.first("speech_started").at_seconds
    assert [reason for _at, reason in interrupts] == ["barge_in"]
    assert speech_started < interrupts[0][0] < spotted.at_seconds
    assert engine.outcome is Outcome.ESCALATED
    assert engine.escalation.reason is EscalationReason.URGENT_SPEECH
    assert listener.first("utterance_ended") is None  # acted on before the utterance ended


async def test_barge_in_and_a_normal_turn_with_a_scripted_recogniser(english, phone_audio):
    # Over the greeting, "yes speaking" is a turn: "speaking" is no backchannel. The robot stops
    # once the callee has talked for the state's barge_in_min_seconds (0.8 s), not at the first
    # sound: a "yes" alone could have been only "I'm listening".
    stream = ScriptedStream({3: "yes", 30: "yes speaking"}, final="yes speaking")
    engine, listener, interrupts = await listener_for(english, ScriptedRecognizer(stream))
    audio, start, end = phone_audio("Yes, speaking.", before_seconds=0.4, after_seconds=1.0)
    await play(listener, audio)
    assert interrupts[0][1] == "barge_in"
    speech_started = listener.first("speech_started").at_seconds
    assert interrupts[0][0] == pytest.approx(speech_started + 0.8, abs=0.021)
    assert engine.path == ["greet", "warning"]
    assert stream.grammars and "yes" in stream.grammars[0]  # the state's phrases became the grammar
    ended = listener.first("utterance_ended").at_seconds
    assert listener.first("final").at_seconds == ended


async def test_no_input_is_timed_from_the_end_of_the_prompt(english):
    stream = ScriptedStream({}, final="")
    engine, listener, _ = await listener_for(english, ScriptedRecognizer(stream))
    await play(listener, silence(2.0, TELEPHONE_RATE))  # the greeting is playing: no timer yet
    listener.prompt_finished()
    await play(listener, silence(6.0, TELEPHONE_RATE))
    assert listener.first("no_input").at_seconds == pytest.approx(8.0, abs=1e-6)
    assert engine.events[-1].type == "listening"  # reprompted, still in greet
    listener.prompt_finished()
    for _ in range(2):
        await play(listener, silence(6.0, TELEPHONE_RATE))
        listener.prompt_finished()
    assert engine.outcome is Outcome.NO_INPUT


async def test_speech_over_a_prompt_that_may_not_be_interrupted_is_ignored(write_script):
    from tests.conftest import MINIMAL_SCRIPT

    script = load_script(write_script(MINIMAL_SCRIPT.replace("barge_in: true", "").replace(
        "listen: {no_input_timeout_seconds: 5, max_no_input: 1, max_no_match: 1}",
        "listen: {no_input_timeout_seconds: 5, max_no_input: 1, max_no_match: 1, barge_in: false}"))).script
    stream = ScriptedStream({}, final="no")
    engine, listener, interrupts = await listener_for(script, ScriptedRecognizer(stream))
    tone = (np.sin(np.arange(8000) / 8000 * 2 * np.pi * 300) * 8000).astype(np.int16)
    await play(listener, np.concatenate([tone, silence(1.0, TELEPHONE_RATE)]))
    assert interrupts == []
    assert engine.state == "ask" and not engine.finished  # "no" was said over the prompt


async def test_partials_are_checked_only_while_the_callee_speaks(english):
    stream = ScriptedStream({}, final="")
    _engine, listener, _ = await listener_for(english, ScriptedRecognizer(stream))
    await play(listener, silence(3.0, TELEPHONE_RATE))
    assert stream.fed == 0  # no recogniser work on silence


async def test_the_recogniser_hears_the_pre_roll_before_speech_was_detected(english, phone_audio):
    """The first syllable starts before the VAD is sure it is speech: the 0.3 s before that
    go to the recogniser too."""
    stream = ScriptedStream({}, final="yes")
    _engine, listener, _ = await listener_for(english, ScriptedRecognizer(stream))
    listener.prompt_finished()
    audio, start, _end = phone_audio("Yes.", before_seconds=1.0, after_seconds=0.0)
    frames_before = round(ListenerSettings().pre_roll_seconds / 0.02)
    fed_at_start = []
    for frame in frames(audio, TELEPHONE_RATE):
        await listener.feed(frame)
        if listener.first("speech_started") is not None and not fed_at_start:
            fed_at_start.append(stream.fed + len(listener._unfed))
    assert fed_at_start == [frames_before + 1]  # the pre-roll, and the frame that started speech


async def test_a_negated_urgent_partial_does_not_interrupt(english, phone_audio):
    # "I have not transferred" must not stop the robot, as "我没有转账" must not.
    stream = ScriptedStream({4: "i have not", 6: "i have not transferred", 8: "i have not transferred anything"}, final="no")
    engine, listener, interrupts = await listener_for(english, ScriptedRecognizer(stream))
    await engine.handle_speech("yes")  # now in `warning`: "Have you transferred any money?"
    audio, _start, _end = phone_audio("No, I have not transferred anything.")
    await play(listener, audio)  # spoken over the question: barge-in, but no urgency
    assert listener.first("urgent_spotted") is None
    assert engine.escalation is None
    assert engine.path == ["greet", "warning", "check_contact"]
    assert [reason for _at, reason in interrupts] == ["barge_in"]


class CountingStream(ScriptedStream):
    """Remembers how many frames each final result was decoded from."""

    def __init__(self) -> None:
        super().__init__({}, final="yes")
        self.finals_after_frames: list[int] = []

    def finish(self):  # type: ignore[no-untyped-def]
        self.finals_after_frames.append(self.fed)
        return super().finish()


async def test_the_final_result_is_decoded_during_the_endpoint_silence(english, phone_audio):
    first_part, _, _ = phone_audio("Yes, speaking.", before_seconds=0.2, after_seconds=0.0)
    second_part, _, _ = phone_audio("Yes, speaking.", before_seconds=0.0, after_seconds=1.0)
    stream = CountingStream()
    stream.final = "it is me who is speaking"  # no short answer: the usual 0.55 s endpoint
    engine, listener, _ = await listener_for(english, ScriptedRecognizer(stream))
    listener.prompt_finished()
    # A pause inside the answer (Piper's own trailing silence plus 0.2 s): longer than the
    # early-final wait of 0.25 s, shorter than the 0.55 s endpoint.
    await play(listener, np.concatenate([first_part, silence(0.2, TELEPHONE_RATE), second_part]))
    whats = [mark.what for mark in listener.marks]
    assert whats.count("speech_started") == 1 and whats.count("utterance_ended") == 1  # one answer
    assert listener.early_finals_dropped >= 1 and whats.count("early_final") == listener.early_finals_dropped + 1
    # A dropped result had heard only part of it; the kept one was decoded again from the start.
    assert stream.finals_after_frames[-1] > max(stream.finals_after_frames[:-1]) + 20
    ended = listener.first("utterance_ended").at_seconds
    assert listener.first("final").at_seconds == ended
    early = [mark.at_seconds for mark in listener.marks if mark.what == "early_final"][-1]
    assert ended - early == pytest.approx(0.55 - 0.25, abs=0.021)  # decoded 0.3 s before the turn ended
    assert engine.path == ["greet", "warning"]  # handled once


class SlowFinish(ScriptedStream):
    """A final result that takes until the test releases it."""

    def __init__(self) -> None:
        import threading

        super().__init__({}, final="yes")
        self.release = threading.Event()
        self.started = threading.Event()

    def finish(self):  # type: ignore[no-untyped-def]
        self.started.set()
        self.release.wait(10)
        return super().finish()


async def test_a_call_that_ends_mid_utterance_settles_its_recogniser_cleanly(english, phone_audio):
    import asyncio

    stream = SlowFinish()
    _engine, listener, _ = await listener_for(english, ScriptedRecognizer(stream))
    listener.prompt_finished()
    audio, _, _ = phone_audio("Yes, speaking.", before_seconds=0.2, after_seconds=1.0)
    feeding = asyncio.create_task(play(listener, audio))
    await asyncio.to_thread(stream.started.wait, 10)  # the final result is being decoded (slowly)
    await asyncio.sleep(0.5)  # the rest of the audio is fed in far less: the pump now waits for that result
    assert listener.first("utterance_ended") is not None
    feeding.cancel()  # the callee hung up: the call's pump is cancelled
    await asyncio.gather(feeding, return_exceptions=True)
    stream.release.set()
    await listener.settle()  # must not raise, and leaves the stream usable
    assert stream.finish().is_final


async def test_an_urgent_partial_is_acted_on_before_the_final_decode_finishes(english, phone_audio):
    import asyncio

    class UrgentThenSlowFinish(SlowFinish):
        def __init__(self) -> None:
            super().__init__()
            self.partials = {30: "they told me to keep it secret"}
            self.returned = False

        def finish(self):  # type: ignore[no-untyped-def]
            final = super().finish()
            self.returned = True
            return final

    stream = UrgentThenSlowFinish()
    engine, listener, interrupts = await listener_for(english, ScriptedRecognizer(stream))
    audio, _, _ = phone_audio("They told me to keep it secret.", before_seconds=0.2, after_seconds=0.2)
    await play(listener, audio)
    # The escalation and the interrupt happened while the stream's final decode is still blocked.
    assert engine.escalation is not None and engine.escalation.reason is EscalationReason.URGENT_SPEECH
    assert not stream.returned
    assert [reason for _at, reason in interrupts] == ["urgent"]  # 0.3 s into the speech: before any barge-in
    assert await asyncio.to_thread(stream.started.wait, 10) and not stream.release.is_set()
    stream.release.set()
    await listener.settle()


async def test_words_cut_off_by_the_callee_hanging_up_are_still_understood(english, phone_audio):
    # The partials never matched anything urgent (the recogniser had only "they told me"), the
    # callee hung up before the endpoint silence: the final decode says what they said.
    stream = ScriptedStream({10: "they told me"}, final="they told me to keep it secret")
    engine, listener, _ = await listener_for(english, ScriptedRecognizer(stream))
    audio, _, end = phone_audio("They told me to keep it secret.", before_seconds=0.2, after_seconds=0.0)
    await play(listener, audio)  # the line goes dead right after the last word
    assert listener.first("utterance_ended") is None and engine.escalation is None
    await listener.callee_left()
    assert listener.first("final").text == "they told me to keep it secret"
    assert engine.escalation is not None and engine.escalation.reason is EscalationReason.URGENT_SPEECH


async def test_a_hang_up_in_silence_hands_nothing_to_the_dialog(english):
    stream = ScriptedStream({}, final="")
    engine, listener, _ = await listener_for(english, ScriptedRecognizer(stream))
    await play(listener, silence(0.5, TELEPHONE_RATE))
    await listener.callee_left()
    assert listener.first("final") is None and engine.path == ["greet"]
