"""Machine or person in the first seconds after answer, on audio time: the beep, the shape
of the far end's talk, the words of the catalogue, and a person who speaks up after an
assistant."""

from __future__ import annotations

import numpy as np
import pytest

from robot.dialog.const import Language
from robot.machine.beep import BeepDetector
from robot.machine.detector import Kind, MachineDetector, Verdict
from robot.speech.audio import TELEPHONE_RATE, frames, g711_round_trip, silence
from robot.speech.vad import WebRtcSpeechDetector


def tone(hz: float, seconds: float, amplitude: float = 8000) -> np.ndarray:
    t = np.arange(int(TELEPHONE_RATE * seconds)) / TELEPHONE_RATE
    return (np.sin(2 * np.pi * hz * t) * amplitude).astype(np.int16)


def beeps(audio: np.ndarray) -> list:
    detector = BeepDetector()
    return [beep for frame in frames(g711_round_trip(audio), TELEPHONE_RATE) if (beep := detector.feed(frame))]


def test_a_steady_tone_of_the_right_length_and_pitch_is_a_beep():
    found = beeps(np.concatenate([silence(0.5, TELEPHONE_RATE), tone(1000, 0.5), silence(0.5, TELEPHONE_RATE)]))
    assert len(found) == 1
    assert found[0].started_seconds == pytest.approx(0.5, abs=0.021) and found[0].seconds == pytest.approx(0.5, abs=0.041)
    assert found[0].hz == pytest.approx(1000, abs=35)


@pytest.mark.parametrize(("hz", "seconds"), [(1000, 0.2), (1000, 2.6), (250, 0.5), (3000, 0.5)])
def test_tones_too_short_too_long_or_out_of_band_are_not(hz, seconds):
    assert beeps(np.concatenate([tone(hz, seconds), silence(0.5, TELEPHONE_RATE)])) == []


def test_speech_is_not_a_beep(phone_audio):
    audio, _, _ = phone_audio("Hmmmm. Ahhhhh, please leave a message. Oooooh.")
    assert beeps(audio) == []


def decide(audio: np.ndarray, transcript: dict[float, str] | None = None, language: Language = Language.EN_US):
    """Feed audio (and the recogniser's text at given audio times); every change of mind."""
    detector = MachineDetector(language)
    vad = WebRtcSpeechDetector()
    pending = sorted((transcript or {}).items())
    changes = []
    for frame in frames(g711_round_trip(audio), TELEPHONE_RATE):
        while pending and pending[0][0] <= detector.seconds + 1e-6:
            changed = detector.heard(pending.pop(0)[1])
            if changed:
                changes.append(changed)
        changed = detector.feed(frame, vad.is_speech(frame))
        if changed:
            changes.append(changed)
    return detector, changes


def test_hello_then_a_pause_is_a_person(phone_audio):
    audio, _, _ = phone_audio("Hello?", before_seconds=0.3, after_seconds=2.0)
    detector, changes = decide(audio)
    assert [change.verdict for change in changes] == [Verdict.HUMAN]
    assert "short greeting" in changes[0].reason


def test_a_voicemail_greeting_is_named_by_its_words_and_its_beep(phone_audio):
    greeting, _, end = phone_audio("Hi, you have reached John. Please leave a message after the tone.", before_seconds=0.3,
                                   after_seconds=0.3)
    audio = np.concatenate([greeting, tone(1000, 0.5), silence(1.0, TELEPHONE_RATE)])
    detector, changes = decide(audio, {2.0: "hi you have reached john please leave a message"})
    # the words name it first; the beep is news to a known voicemail: it is ready to record
    assert [(change.verdict, change.kind) for change in changes] == [(Verdict.MACHINE, Kind.VOICEMAIL)] * 2
    assert changes[0].reason == "heard 'you have reached'" and changes[0].beep is None
    assert changes[1].beep is not None and changes[1].at_seconds >= len(greeting) / TELEPHONE_RATE + 0.5
    detector, changes = decide(audio)  # no words recognised: the beep alone
    assert changes[-1].kind is Kind.VOICEMAIL and changes[-1].beep is not None and "beep" in changes[-1].reason
    assert changes[-1].at_seconds >= len(greeting) / TELEPHONE_RATE + 0.5


def test_talking_on_without_a_pause_for_the_caller_is_a_machine(phone_audio):
    message, _, _ = phone_audio("The subscriber you have dialled would like you to state your name and the reason for "
                                "your call, and they will get back to you as soon as possible, thank you very much.",
                                before_seconds=0.2, after_seconds=0.5)
    detector, changes = decide(message)
    assert changes and changes[0].verdict is Verdict.MACHINE and "without a pause" in changes[0].reason
    assert changes[0].at_seconds == pytest.approx(0.2 + 4.0, abs=0.3)


def test_a_person_who_answers_with_a_long_sentence_stays_a_person(phone_audio):
    audio, _, _ = phone_audio("Hello, yes, this is Wang speaking, who is calling please?", before_seconds=0.3,
                              after_seconds=3.0)
    detector, changes = decide(audio, {1.5: "hello yes this is wang speaking who is calling please"})
    assert all(change.verdict is not Verdict.MACHINE for change in changes)


def test_a_person_talking_long_in_one_breath_is_not_a_machine_for_its_length(phone_audio):
    said = ("Hello, hello? Can you hear me? I am driving on the motorway right now and the line is really bad, "
            "who is this please?")
    audio, _, end = phone_audio(said, before_seconds=0.3, after_seconds=2.0)
    assert end - 0.3 > 4.5  # longer than any talk the shape alone lets a person have
    detector, changes = decide(audio, {1.2: "hello hello", 2.5: "hello hello can you hear me"})
    assert all(change.verdict is not Verdict.MACHINE for change in changes)  # (the screen greets on the pause)
    detector, changes = decide(audio)  # nothing recognised: only the shape, and it says machine
    assert changes[0].verdict is Verdict.MACHINE and "without a pause" in changes[0].reason


def test_person_words_do_not_hide_a_machine_s_own_words():
    detector = MachineDetector(Language.ZH_CN)
    change = detector.heard("喂您好您拨打的用户暂时无法接听请在提示音后留言")
    assert change is not None and change.verdict is Verdict.MACHINE


def test_an_assistant_then_the_owner_picking_up_is_a_person_after_all(phone_audio):
    assistant, _, _ = phone_audio("Hello, this is the call screening assistant. Who is calling and why?",
                                  before_seconds=0.3, after_seconds=1.0)
    owner, _, _ = phone_audio("Hello? Yes?", before_seconds=0.0, after_seconds=1.5)
    at_owner = len(assistant) / TELEPHONE_RATE
    detector, changes = decide(np.concatenate([assistant, owner]),
                               {2.0: "hello this is the call screening assistant", at_owner + 0.4: "hello yes"})
    assert [(change.verdict, change.kind) for change in changes] == [(Verdict.MACHINE, Kind.ASSISTANT), (Verdict.HUMAN, None)]
    assert "spoke up after the assistant" in changes[-1].reason


@pytest.mark.parametrize(("said", "kind"), [
    ("您好，我是机主的智能助理，机主暂时不方便接听，请问您有什么事？", Kind.ASSISTANT),
    ("您拨打的用户暂时无法接听，来电提醒已通过短信通知机主", Kind.SECRETARY),
    ("请 在 提 示 音 后 留 言", Kind.VOICEMAIL),
])
def test_chinese_machines_are_named_by_their_words(said, kind):
    detector = MachineDetector(Language.ZH_CN)
    change = detector.heard(said)
    assert change is not None and (change.verdict, change.kind) == (Verdict.MACHINE, kind)


@pytest.mark.parametrize("said", ["喂？哪位？", "是我，你哪里", "我现在不方便，你晚点打", "你好，请问有什么事"])
def test_chinese_people_are_not(said):
    assert MachineDetector(Language.ZH_CN).heard(said) is None


def test_silence_decides_nothing():
    detector, changes = decide(silence(6.0, TELEPHONE_RATE))
    assert changes == [] and detector.silent and detector.decision.verdict is Verdict.UNDECIDED


def test_voices_hear_detect_machine_prints_the_decision_and_why(tmp_path, joe):
    import subprocess
    import sys

    from robot.speech.audio import write_wav
    from tests.conftest import REPO

    path = tmp_path / "voicemail.wav"
    greeting = joe.render("Hi, you have reached John. Please leave a message after the tone.", TELEPHONE_RATE)
    write_wav(path, np.concatenate([silence(0.3, TELEPHONE_RATE), greeting, silence(0.3, TELEPHONE_RATE), tone(1000, 0.5),
                                    silence(1.0, TELEPHONE_RATE)]), TELEPHONE_RATE)
    run = subprocess.run([sys.executable, "-m", "robot.cli", "voices", "hear", str(path), "--detect-machine"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "machine (voicemail): heard" in run.stdout


def test_a_pause_after_a_long_pick_up_with_a_person_s_words_is_a_person(phone_audio):
    audio, _, end = phone_audio("Hello, who is this? I don't know this number.", before_seconds=0.3, after_seconds=1.5)
    assert 1.5 < end - 0.3 < 4.0  # too long for a short greeting, too short for the shape to call a machine
    detector, changes = decide(audio, {1.0: "hello who is this"})
    assert [change.verdict for change in changes] == [Verdict.HUMAN]
    assert changes[0].reason == "a person's words ('who is this') and a pause for the caller"
    assert changes[0].at_seconds > end
