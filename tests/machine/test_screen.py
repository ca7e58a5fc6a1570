"""The first seconds of a call, step by step on audio time: greet a person, leave the message
on a voicemail after its beep, hang up on a secretary message, and let a person who speaks up
after the machine have the conversation."""

from __future__ import annotations

import numpy as np
import pytest

from robot.dialog.const import Language
from robot.machine.detector import Kind
from robot.machine.screen import MachineScreen, Phase, Step
from robot.speech.audio import TELEPHONE_RATE, frames, g711_round_trip, silence
from robot.speech.vad import WebRtcSpeechDetector

MESSAGE = "This is the police anti-fraud centre. Please call 9 6 1 1 0."


def tone(hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(TELEPHONE_RATE * seconds)) / TELEPHONE_RATE
    return (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16)


class Call:
    """Drives a screen the way a call does: frames in, steps out, each with its audio time;
    the message 'plays' for message_seconds of audio time once asked for."""

    def __init__(self, screen: MachineScreen, message_seconds: float = 3.0) -> None:
        self.screen = screen
        self.vad = WebRtcSpeechDetector()
        self.steps: list[tuple[Step, float]] = []
        self.message_seconds = message_seconds
        self._message_ends: float | None = None

    def play(self, audio: np.ndarray, transcript: dict[float, str] | None = None, offset: float = 0.0) -> MachineScreen:
        pending = sorted((at + offset, text) for at, text in (transcript or {}).items())
        for frame in frames(g711_round_trip(audio), TELEPHONE_RATE):
            screen = self.screen
            while pending and pending[0][0] <= screen.seconds + 1e-6:
                self._took(screen.heard(pending.pop(0)[1]))
            self._took(screen.feed(frame, self.vad.is_speech(frame)))
            if self._message_ends is not None and screen.seconds >= self._message_ends - 1e-6:
                self._message_ends = None
                self._took(screen.message_done())
        return self.screen

    def _took(self, steps: list[Step]) -> None:
        for step in steps:
            self.steps.append((step, round(self.screen.seconds, 2)))
            if step is Step.LEAVE_MESSAGE:
                self._message_ends = self.screen.seconds + self.message_seconds
            if step in (Step.PERSON_AFTER_ALL, Step.HANG_UP):
                self._message_ends = None

    @property
    def names(self) -> list[Step]:
        return [step for step, _ in self.steps]

    def at(self, step: Step) -> float:
        return next(at for taken, at in self.steps if taken is step)


def speech_ends(audio: np.ndarray) -> float:
    """Audio time at the end of the last frame the VAD calls speech."""
    vad = WebRtcSpeechDetector()
    spoken = [index for index, frame in enumerate(frames(g711_round_trip(audio), TELEPHONE_RATE)) if vad.is_speech(frame)]
    return (spoken[-1] + 1) * 0.02


def english(message: str = MESSAGE, detect: bool = True) -> Call:
    return Call(MachineScreen(Language.EN_US, detect=detect, message=message))


def test_a_person_who_says_hello_is_greeted_after_the_hello(phone_audio):
    audio, _, _ = phone_audio("Hello?", before_seconds=0.3, after_seconds=6.0)
    said_until = speech_ends(audio)
    call = english()
    screen = call.play(audio)
    assert call.names == [Step.GREET]
    # the pause a person leaves for the caller (0.8 s, Asterisk AMD's after-greeting silence)
    assert said_until + 0.8 <= call.at(Step.GREET) <= said_until + 0.9
    assert screen.answer is None and screen.phase is Phase.DIALOG and not screen.needs_frames


def test_a_silent_line_is_greeted_after_the_hello_window():
    call = english()
    call.play(silence(6.0, TELEPHONE_RATE))
    assert call.steps == [(Step.GREET, 1.0)]


def test_a_person_with_a_long_answer_is_greeted_and_never_taken_for_a_machine(phone_audio):
    audio, _, _ = phone_audio("Hello, yes, this is Wang speaking, who is calling please?", before_seconds=0.3,
                              after_seconds=6.0)
    said_until = speech_ends(audio)
    call = english()
    call.play(audio, {1.5: "hello yes this is wang speaking who is calling please"})
    assert call.names == [Step.GREET] and call.at(Step.GREET) >= said_until  # not while they still talk


def test_a_voicemail_gets_the_message_after_its_beep_then_the_robot_hangs_up(phone_audio):
    greeting, _, said_until = phone_audio("Hi, you have reached John. Please leave a message after the tone.",
                                          before_seconds=0.3, after_seconds=0.4)
    beep_ends = len(greeting) / TELEPHONE_RATE + 0.5
    audio = np.concatenate([greeting, tone(1000, 0.5), silence(8.0, TELEPHONE_RATE)])
    call = english()
    screen = call.play(audio, {2.0: "hi you have reached john please leave a message"})
    names = call.names
    assert names[-2:] == [Step.LEAVE_MESSAGE, Step.HANG_UP]
    assert (Step.STOP in names) == (Step.GREET in names)  # greeted in a pause of the greeting: stopped again
    assert beep_ends <= call.at(Step.LEAVE_MESSAGE) <= beep_ends + 0.1
    assert call.at(Step.HANG_UP) == pytest.approx(call.at(Step.LEAVE_MESSAGE) + 3.0 + 2.5, abs=0.05)
    answer = screen.answer
    assert answer is not None and answer.kind is Kind.VOICEMAIL
    assert answer.reason == "heard 'you have reached'; a 1000 Hz beep of 0.5 s"
    assert answer.beep_hz == pytest.approx(1000, abs=35) and answer.message == MESSAGE and not answer.person_after
    assert answer.at_seconds <= 2.1


def test_a_voicemail_without_a_beep_gets_the_message_once_its_greeting_is_over(phone_audio):
    greeting, _, _ = phone_audio("The person you are trying to reach is not here right now, so please say what "
                                 "you need to say and they will get back to you later today.",
                                 before_seconds=0.3, after_seconds=8.0)
    said_until = speech_ends(greeting)
    call = english()
    screen = call.play(greeting)  # no words recognised: the shape of the talk decides
    assert call.names == [Step.LEAVE_MESSAGE, Step.HANG_UP]
    assert said_until + 2.0 <= call.at(Step.LEAVE_MESSAGE) <= said_until + 2.2
    assert screen.answer is not None and "without a pause" in screen.answer.reason and screen.answer.beep_hz is None


def test_an_assistant_hears_the_message_when_it_has_asked_and_the_owner_who_picks_up_gets_the_dialog(phone_audio):
    assistant, _, _ = phone_audio("Hello, I am an automated assistant. Who is calling and what is this call about?",
                                  before_seconds=0.3, after_seconds=2.0)
    asked_until = speech_ends(assistant)
    call = english()
    call.message_seconds = 4.0
    call.play(assistant, {2.0: "hello i am an automated assistant"})
    assert call.names == [Step.LEAVE_MESSAGE] and asked_until + 1.0 <= call.at(Step.LEAVE_MESSAGE) <= asked_until + 1.2
    owner, _, _ = phone_audio("Hello? Yes?", before_seconds=0.2, after_seconds=2.0)  # while the message plays
    at_owner = call.screen.seconds
    screen = call.play(owner, {0.9: "hello yes"}, offset=at_owner)
    assert call.names == [Step.LEAVE_MESSAGE, Step.PERSON_AFTER_ALL]
    assert screen.phase is Phase.DIALOG and screen.answer is not None
    assert screen.answer.kind is Kind.ASSISTANT and screen.answer.person_after and screen.answer.message == MESSAGE


def test_a_person_taken_for_a_machine_is_a_person_again_when_they_speak_up_after_the_message(phone_audio):
    rambling, _, _ = phone_audio("Hello, hello, yes, this is the Wang family, we are having dinner so please be quick, "
                                 "who is it?", before_seconds=0.3, after_seconds=0.0)
    after, _, _ = phone_audio("Hello? Who?", before_seconds=0.3, after_seconds=3.0)
    call = english()
    call.message_seconds = 2.0
    call.play(np.concatenate([rambling, silence(4.5, TELEPHONE_RATE)]))
    assert call.names == [Step.LEAVE_MESSAGE] and call.screen.phase is Phase.AFTER_MESSAGE
    call.play(after)
    assert call.names == [Step.LEAVE_MESSAGE, Step.PERSON_AFTER_ALL]


def test_a_secretary_message_is_hung_up_on_without_a_word():
    call = Call(MachineScreen(Language.ZH_CN, message="这里是公安反诈中心，请尽快回电九六一一零。"))
    speech = np.random.default_rng(1).normal(0, 3000, int(TELEPHONE_RATE * 0.4)).astype(np.int16)
    call.play(np.concatenate([silence(0.3, TELEPHONE_RATE), speech, silence(0.5, TELEPHONE_RATE)]),
              {0.6: "您拨打的用户暂时无法接听，来电提醒已通过短信通知机主"})
    assert call.names == [Step.HANG_UP] and call.at(Step.HANG_UP) == 0.6
    assert call.screen.answer is not None and call.screen.answer.kind is Kind.SECRETARY and call.screen.answer.message == ""


def test_with_no_message_a_voicemail_is_hung_up_on_at_once(phone_audio):
    greeting, _, _ = phone_audio("Hi, you have reached John. Please leave a message after the tone.", before_seconds=0.3)
    call = english(message="")
    call.play(greeting, {2.0: "hi you have reached john"})
    assert call.names in ([Step.HANG_UP], [Step.GREET, Step.STOP, Step.HANG_UP]) and call.at(Step.HANG_UP) == 2.0


def test_with_detection_off_everyone_is_greeted(phone_audio):
    greeting, _, _ = phone_audio("Hi, you have reached John. Please leave a message after the tone.", before_seconds=0.3,
                                 after_seconds=3.0)
    call = english(detect=False)
    call.play(greeting, {2.0: "hi you have reached john"})
    assert call.names == [Step.GREET] and call.screen.answer is None


def test_once_the_callee_talks_with_the_robot_their_words_do_not_make_them_a_machine():
    screen = MachineScreen(Language.ZH_CN, message="这里是公安反诈中心。")
    quiet = bytes(320)
    steps = [step for _ in range(60) for step in screen.feed(quiet, False)]
    assert steps == [Step.GREET]
    screen.engaged()
    assert screen.heard("他让我在提示音后留言") == [] and screen.answer is None and not screen.needs_frames
