"""Turn-taking on a call, on audio time: backchannels over a prompt, barge-in only for a real
turn, resuming after a backchannel that stopped the robot, adaptive endpointing, DTMF."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from robot.dialog.const import EscalationReason
from robot.dialog.engine import DialogEngine
from robot.dialog.events import Backchannel, Say
from robot.dialog.loader import load_script
from robot.speech.asr import Hypothesis, RecognizerStream
from robot.speech.audio import TELEPHONE_RATE, frames, silence
from robot.speech.pipeline import AudioClock, CallListener
from robot.speech.vad import PRE_ROLL_SECONDS, WebRtcSpeechDetector
from tests.conftest import DIALOGS


class TimedStream(RecognizerStream):
    """A recogniser whose reading depends on how much of the utterance it has heard:
    `readings` are (seconds of audio, text so far); `finish` gives the text so far."""

    def __init__(self, readings: Sequence[tuple[float, str]], alternatives: tuple[str, ...] = ()) -> None:
        self.readings = sorted(readings)
        self.alternatives = alternatives
        self.heard_seconds = 0.0
        self._last = ""

    def _text(self) -> str:
        return next((text for at, text in reversed(self.readings) if at <= self.heard_seconds + 1e-6), "")

    def feed(self, pcm: bytes) -> Hypothesis | None:
        self.heard_seconds += len(pcm) / 2 / TELEPHONE_RATE
        text = self._text()
        if text == self._last:
            return None
        self._last = text
        return Hypothesis(text, False)

    def finish(self) -> Hypothesis:
        final = Hypothesis(self._text(), True, alternatives=self.alternatives)
        self.heard_seconds, self._last = 0.0, ""
        return final

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        pass


class Call:
    """A listener wired like a call: interrupts and resumes are recorded on audio time, and
    the robot counts as speaking from each Say until `prompt_done()`."""

    def __init__(self, engine: DialogEngine, stream: RecognizerStream) -> None:
        self.clock = engine._clock
        self.engine = engine
        self.interrupts: list[tuple[float, str]] = []
        self.resumed: list[float] = []
        self.said: list[str] = []
        self.listener = CallListener(engine, stream, WebRtcSpeechDetector(), self.clock,  # type: ignore[arg-type]
                                     interrupt=self._interrupt, resume=self._resume)

    def _interrupt(self, reason: str) -> bool:
        self.interrupts.append((round(self.clock.now(), 3), reason))
        return True

    def _resume(self) -> bool:
        self.resumed.append(round(self.clock.now(), 3))
        return True

    def event(self, event: object) -> None:
        self.listener.dialog_event(event)  # type: ignore[arg-type]
        if isinstance(event, Say):
            self.said.append(event.text)

    async def play(self, audio: np.ndarray) -> None:
        for frame in frames(audio, TELEPHONE_RATE):
            await self.listener.feed(frame)


async def call_in(state: str, stream: RecognizerStream, language: str = "en-US") -> Call:
    script = load_script(DIALOGS / language / "generic.yaml").script
    clock = AudioClock()
    holder: dict[str, Call] = {}
    engine = DialogEngine(script, clock=clock, on_event=lambda event: holder["call"].event(event))
    holder["call"] = Call(engine, stream)
    await engine.start(at_state=state)
    return holder["call"]


def speech(phone_audio, text: str) -> np.ndarray:
    audio, _, _ = phone_audio(text, before_seconds=0.0, after_seconds=0.0)
    return audio


async def test_a_backchannel_during_the_warning_neither_stops_it_nor_answers(phone_audio):
    # The robot is 3 s into the warning; the callee says "Yeah." before the question is asked.
    call = await call_in("warning", TimedStream([(0.1, "yeah")]))
    await call.play(silence(3.0, TELEPHONE_RATE))
    await call.play(np.concatenate([speech(phone_audio, "Yeah."), silence(1.0, TELEPHONE_RATE)]))
    assert call.interrupts == []  # the prompt played on
    assert call.engine.state == "warning" and call.engine.escalation is None
    assert isinstance(call.engine.events[-1], Backchannel) and call.engine.events[-1].text == "yeah"
    # Its question, asked at the end of the prompt, is still to be answered: "no" now counts.
    call.listener.prompt_finished()
    call.listener.stream = TimedStream([(0.1, "no")])
    await call.play(np.concatenate([speech(phone_audio, "No."), silence(1.0, TELEPHONE_RATE)]))
    assert call.engine.path == ["warning", "check_contact"]


async def test_a_real_turn_over_the_prompt_stops_it_once_it_has_two_words(phone_audio):
    call = await call_in("warning", TimedStream([(0.2, "no"), (0.5, "no i have"), (0.8, "no i have not sent anything")]))
    audio = np.concatenate([silence(1.0, TELEPHONE_RATE), speech(phone_audio, "No, I have not sent anything."),
                            silence(1.0, TELEPHONE_RATE)])
    await call.play(audio)
    # The recogniser hears from the pre-roll on: 0.3 s before speech was confirmed.
    heard_from = call.listener.first("speech_started").at_seconds - PRE_ROLL_SECONDS
    assert [reason for _at, reason in call.interrupts] == ["barge_in"]
    # "no" alone (one word, and a short answer) did not stop it; "no i have" (two words that
    # are not backchannels) did, with the first batch of audio that had them.
    assert call.interrupts[0][0] == pytest.approx(heard_from + 0.5, abs=0.061)
    assert call.engine.path == ["warning", "check_contact"]


async def test_backchannels_that_stopped_the_robot_give_the_turn_back(phone_audio):
    # "uh-huh, okay, yeah, I see" runs past barge_in_min_seconds while the recogniser has
    # nothing yet: the robot stops; the final says it was only listening: it resumes.
    call = await call_in("warning", TimedStream([(2.2, "uh huh okay yeah i see")]))
    long_listening = np.concatenate([speech(phone_audio, "Uh-huh, okay, yeah, I see."), silence(1.0, TELEPHONE_RATE)])
    await call.play(np.concatenate([silence(0.5, TELEPHONE_RATE), long_listening]))
    started = call.listener.first("speech_started").at_seconds
    assert call.interrupts and call.interrupts[0] == (pytest.approx(started + 0.8, abs=0.021), "barge_in")
    ended = call.listener.first("utterance_ended").at_seconds
    assert call.resumed == [pytest.approx(ended, abs=0.001)]
    assert call.engine.state == "warning" and call.engine.escalation is None


async def test_a_short_answer_ends_sooner_and_words_that_trail_off_wait_longer(phone_audio):
    short = await call_in("check_contact", TimedStream([(0.1, "no")]))
    short.listener.prompt_finished()
    await short.play(np.concatenate([speech(phone_audio, "No."), silence(1.5, TELEPHONE_RATE)]))
    trailing = await call_in("check_contact", TimedStream([(0.1, "no and")]))
    trailing.listener.prompt_finished()
    await trailing.play(np.concatenate([speech(phone_audio, "No, and"), silence(2.0, TELEPHONE_RATE)]))
    normal = await call_in("check_contact", TimedStream([(0.1, "i would like to think")]))
    normal.listener.prompt_finished()
    await normal.play(np.concatenate([speech(phone_audio, "I would like to think."), silence(2.0, TELEPHONE_RATE)]))
    assert [ending for ending, _ in short.listener.endings] == ["short_answer"]
    waited = {name: call.listener.endings[0][1] for name, call in (("short", short), ("trailing", trailing), ("normal", normal))}
    assert waited == {"short": 0.35, "trailing": 1.2, "normal": 0.55}
    assert short.engine.path == ["check_contact", "advice"]


async def test_oh_then_a_pause_then_the_story_is_one_turn(phone_audio):
    # "Oh," (alone it is only a filler), 0.8 s of thought, then the urgent story.
    oh = speech(phone_audio, "Oh,")
    story = "i already did what the officer told me and moved my savings"
    oh_seconds = len(oh) / TELEPHONE_RATE
    stream = TimedStream([(0.1, "oh"), (oh_seconds + 0.8 + 0.4, f"oh {story}")])
    call = await call_in("greet", stream)
    call.listener.prompt_finished()
    audio = np.concatenate([oh, silence(0.8, TELEPHONE_RATE), speech(phone_audio, "I already did what the officer told me."),
                            silence(1.5, TELEPHONE_RATE)])
    await call.play(audio)
    whats = [mark.what for mark in call.listener.marks]
    assert whats.count("speech_started") == 1  # the pause after "oh" did not end the turn
    assert call.engine.escalation is not None and call.engine.escalation.reason is EscalationReason.URGENT_SPEECH
    assert not any("Sorry, I did not catch that" in text for text in call.said)


async def test_a_key_press_stops_the_prompt_at_once():
    call = await call_in("warning", TimedStream([]))
    await call.play(silence(2.0, TELEPHONE_RATE))
    await call.listener.dtmf("2")
    assert call.interrupts == [(2.0, "dtmf")]
    assert call.engine.path == ["warning", "check_contact"]


async def test_a_noise_over_the_prompt_that_nothing_was_recognised_in_is_not_a_turn(phone_audio):
    call = await call_in("warning", TimedStream([]))  # the recogniser makes nothing of it
    await call.play(np.concatenate([silence(1.0, TELEPHONE_RATE), speech(phone_audio, "Hmm."), silence(1.0, TELEPHONE_RATE)]))
    assert call.interrupts == [] and call.engine.state == "warning"
    assert not any(event.type == "no_input" for event in call.engine.events)


async def test_an_urgent_reading_among_the_alternatives_escalates(phone_audio):
    # The best reading misses it; the recogniser's second reading has it.
    stream = TimedStream([(0.1, "they told me to buy gift card and read them the number")],
                         alternatives=("they told me to buy gift cards and read them the numbers",))
    call = await call_in("warning", stream)
    call.listener.prompt_finished()
    await call.play(np.concatenate([speech(phone_audio, "They told me to buy gift cards."), silence(1.0, TELEPHONE_RATE)]))
    assert call.engine.escalation is not None and call.engine.escalation.reason is EscalationReason.URGENT_SPEECH
