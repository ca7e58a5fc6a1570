"""Understanding on real calls: Piper and espeak-ng callee voices through G.711, heard by the
robot's PocketSphinx. A backchannel over a prompt, urgency said over the greeting in several
wordings, and an acknowledgment to a yes/no question, each with its outcome checked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import pytest_asyncio

from robot.dialog.loader import load_script
from robot.sip.result import CallRequest
from robot.speech.audio import TELEPHONE_RATE, read_wav, resample, write_wav
from robot.speech.prompts import script_sentences
from tests.conftest import DIALOGS
from tests.sip.conftest import SimulatedCallee

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

PIPER = "joe"


@pytest.fixture(scope="module")
def english():
    return load_script(DIALOGS / "en-US" / "generic.yaml").script


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rendered(speech_kit, english):
    await speech_kit.prompts(english.meta.voice).render_all(script_sentences(english))  # as at start-up


def say(speech_kit, directory: Path, name: str, text: str, voice: str = PIPER) -> str:
    """A callee utterance as an 8 kHz WAV: Piper's joe, or an espeak-ng voice ("en-us+m3")."""
    path = directory / f"{name}.wav"
    if voice == PIPER:
        audio = speech_kit.prompts("en_US-joe-medium").synthesizer.render(text, TELEPHONE_RATE)
    else:
        espeak = shutil.which("espeak-ng")
        assert espeak, "espeak-ng is required: `make test` installs it"
        raw = directory / f"{name}.espeak.wav"
        subprocess.run([espeak, "-v", voice, "-s", "140", "-w", str(raw), text], check=True)
        samples, rate = read_wav(raw)
        audio = resample(samples, rate, TELEPHONE_RATE)
    write_wav(path, audio, TELEPHONE_RATE)
    return str(path)


async def call(worker, english, persona, workdir: Path):
    callee = await SimulatedCallee.start(persona, workdir / "callee")
    try:
        result = await worker.call(CallRequest(target=callee.uri, script=english))
        events = await callee.finish()
    finally:
        await callee.kill()
    return result, events


async def test_yeah_during_the_warning_neither_stops_it_nor_answers_it(worker, speech_kit, english, rendered, tmp_path):
    persona = {"answer_after_seconds": 0.3, "steps": [
        {"wait_for_robot_turn": 0.8},
        {"say": say(speech_kit, tmp_path, "yes", "Yes, speaking.")},  # greet -> warning
        {"wait_for_robot_speech": True},
        {"wait_seconds": 3.0},
        {"say": say(speech_kit, tmp_path, "yeah", "Yeah.", voice="en-us+m3")},  # 3 s into the warning
        {"wait_for_robot_turn": 0.8},
        {"say": say(speech_kit, tmp_path, "no", "No, nothing like that.")},  # the question answered
        {"wait_for_robot_turn": 0.8},
        {"say": say(speech_kit, tmp_path, "no2", "No, nothing like that.")},
        {"wait_for_robot_turn": 0.8},
        {"say": say(speech_kit, tmp_path, "agree", "Yes, I will.")},
    ]}
    result, events = await call(worker, english, persona, tmp_path)
    assert result.escalation is None, result.transcript  # it once escalated "yes, I transferred"
    assert result.outcome == "dissuaded"
    assert result.path == ["greet", "warning", "check_contact", "advice", "goodbye"]
    heard = [line for line in result.transcript if line["speaker"] == "callee"]
    assert heard[1].get("backchannel") is True
    yeah = next(e for e in events if e["event"] == "said" and e["file"].endswith("yeah.wav"))
    assert yeah["over_robot"]
    # Measured at the callee: the robot's voice went on straight through the "Yeah".
    replied = events[events.index(yeah) + 1]
    assert replied["event"] == "robot_replied" and replied["after_seconds"] < 0.2


@pytest.mark.parametrize(("voice", "text"), [
    (PIPER, "They told me to buy gift cards and read them the numbers."),
    (PIPER, "I gave them the verification code from my text message."),
    (PIPER, "The police officer told me to keep it secret."),
    # The issue's own call: PocketSphinx once heard "...move my savings and to take account".
    (PIPER, "Oh, I already did what the officer told me and moved my savings to the safe account."),
    (PIPER, "Someone from the bank asked me to share my screen and I did."),
], ids=["piper-gift-cards", "piper-code", "piper-secret", "piper-safe-account", "piper-share-screen"])
# (espeak-ng voices are not used here: PocketSphinx hears "They told me to keep it secret" from
# them as "i told you to keep it the" or "totally took the the" depending on the voice and the
# alignment of the call's audio, so a test with them measured the recogniser, not understanding.)
async def test_urgency_said_over_the_greeting_escalates(worker, speech_kit, english, rendered, tmp_path, voice, text):
    persona = {"answer_after_seconds": 0.3, "steps": [
        {"wait_for_robot_speech": True},
        {"wait_seconds": 0.8},
        {"say": say(speech_kit, tmp_path, "urgent", text, voice=voice)},
        {"wait_seconds": 4.0},
        {"hang_up": True},
    ]}
    result, _events = await call(worker, english, persona, tmp_path)
    assert result.escalation is not None, result.transcript
    assert result.escalation.reason == "urgent_speech"
    assert result.path == ["greet"]


async def test_okay_i_understand_to_a_yes_no_question_is_asked_again(worker, speech_kit, english, rendered, tmp_path):
    persona = {"answer_after_seconds": 0.3, "steps": [
        {"wait_for_robot_turn": 0.8},
        {"say": say(speech_kit, tmp_path, "yes", "Yes, speaking.")},
        {"wait_for_robot_turn": 0.8},
        {"say": say(speech_kit, tmp_path, "no", "No.")},  # warning -> check_contact
        {"wait_for_robot_turn": 0.8},
        # No answer. (Piper: PocketSphinx hears espeak-ng's "Okay, I understand" as "oh kitty i could and".)
        {"say": say(speech_kit, tmp_path, "ok", "Okay, I understand.")},
        {"wait_for_robot_turn": 0.8},
        {"say": say(speech_kit, tmp_path, "no2", "No, nothing like that.")},
        {"wait_for_robot_turn": 0.8},
        {"say": say(speech_kit, tmp_path, "agree", "Yes, I will.")},
    ]}
    result, _events = await call(worker, english, persona, tmp_path)
    assert result.escalation is None, result.transcript  # it once escalated as "yes, it happened"
    assert result.path == ["greet", "warning", "check_contact", "advice", "goodbye"]
    robot = [line["text"] for line in result.transcript if line["speaker"] == "robot"]
    assert any("Please say yes or no" in text for text in robot)


async def test_urgency_said_just_before_hanging_up_escalates(worker, speech_kit, english, rendered, tmp_path):
    # The click comes right after the last word: no endpoint silence ever follows. A partial
    # result may catch it; if not, the final decode made when the BYE arrives does.
    persona = {"answer_after_seconds": 0.3, "steps": [
        {"wait_for_robot_turn": 0.8},
        {"say": say(speech_kit, tmp_path, "yes", "Yes, speaking.")},
        {"wait_for_robot_turn": 0.8},
        {"say": say(speech_kit, tmp_path, "gone", "Sorry, I have to go, the officer said I must not tell anyone about the transfer.")},
        {"hang_up": True},
    ]}
    result, _events = await call(worker, english, persona, tmp_path)
    assert result.escalation is not None, result.transcript
    assert result.escalation.reason == "urgent_speech" and result.escalation.mode == "ticket"
