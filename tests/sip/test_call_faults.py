"""A call whose parts fail, on real calls: the recogniser's process dies and a fresh one takes
over (the call goes on); a recogniser that keeps failing ends the call at once with a spoken
apology and `robot_error`, never silence."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence

import pytest
import pytest_asyncio

from robot.dialog.loader import load_script
from robot.sip.phrases import fixed_sentences
from robot.sip.result import CallRequest
from robot.sip.worker import CallWorker
from robot.speech.asr import Hypothesis, RecognizerStream
from robot.speech.audio import TELEPHONE_RATE, write_ulaw_wav, write_wav
from robot.speech.error import SpeechError
from robot.speech.isolated import IsolatedStream
from robot.speech.kit import SpeechKit
from robot.speech.prompts import script_sentences
from tests.conftest import DIALOGS
from tests.sip.conftest import SimulatedCallee, loopback_config, until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


class DeadStream(RecognizerStream):
    """A recogniser whose process is gone: every request fails, as IsolatedStream's do."""

    def feed(self, pcm: bytes) -> Hypothesis | None:
        raise SpeechError("recognizer_process", "the recogniser process ended: EOFError")

    def finish(self) -> Hypothesis:
        raise SpeechError("recognizer_process", "the recogniser process ended: EOFError")

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        raise SpeechError("recognizer_process", "the recogniser process ended: EOFError")


class FaultyKit(SpeechKit):
    """The real speech kit, except that while `broken` every recogniser stream is dead."""

    broken = False

    def take_stream(self, language: str) -> RecognizerStream:
        return DeadStream() if self.broken else super().take_stream(language)


@pytest.fixture(scope="module")
def english():
    return load_script(DIALOGS / "en-US" / "generic.yaml").script


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def faulty(speech_kit, english):
    kit = FaultyKit(speech_kit.settings, deterministic_voices=True)
    # As at a worker's start: the script's prompts and the apology are in the prompt cache.
    await kit.prompts(english.meta.voice).render_all([*script_sentences(english), *fixed_sentences("en-US")])
    async with CallWorker(loopback_config(), kit, languages=("en-US",)) as worker:
        yield worker, kit
    kit.close()


def utterances(kit: SpeechKit, directory, texts: dict[str, str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    voice = kit.prompts("en_US-joe-medium").synthesizer
    paths = {}
    for name, text in texts.items():
        write_wav(directory / f"{name}.wav", voice.render(text, TELEPHONE_RATE), TELEPHONE_RATE)
        paths[name] = str(directory / f"{name}.wav")
    return paths


async def test_the_recognisers_process_dies_mid_call_and_a_fresh_one_takes_over(faulty, english, tmp_path):
    """The conversation loop never looked at the frame pump: with its recogniser's process
    gone, the callee heard nothing until max_call_seconds, and the attempt was a trunk fault."""
    worker, kit = faulty
    said = utterances(kit, tmp_path, {"yes": "Yes, speaking.", "no": "No, nothing like that.", "agree": "Yes, I will."})
    persona = {"answer_after_seconds": 0.3, "steps": [
        {"wait_for_robot_turn": 0.8}, {"say": said["yes"]},
        {"wait_for_robot_turn": 0.8}, {"dtmf": "2"},
        {"wait_for_robot_turn": 0.8}, {"say": said["no"]},
        {"wait_for_robot_turn": 0.8}, {"say": said["agree"]},
    ]}
    callee = await SimulatedCallee.start(persona, tmp_path / "callee")
    try:
        call = asyncio.create_task(worker.call(CallRequest(target=callee.uri, script=english)))
        await until(lambda: worker.sessions and "warning" in worker.sessions[0].engine.path, what="the first answer")
        [session] = worker.sessions
        assert isinstance(session.stream, IsolatedStream)
        os.kill(session.stream.pid, signal.SIGKILL)  # the PocketSphinx process dies
        result = await call
        await callee.finish()
    finally:
        await callee.kill()
    assert result.outcome == "dissuaded", (result.error, result.transcript)
    assert result.path == ["greet", "warning", "check_contact", "advice", "goodbye"]
    assert result.stats.recognizer_restarts == 1 and result.error is None
    whats = [entry.what for entry in result.timeline]
    assert whats.count("recognizer_restarted") == 1 and "failed" not in whats
    # The answer said while the recogniser was being replaced was heard whole, not lost.
    heard = [line["text"] for line in result.transcript if line["speaker"] == "callee"]
    assert heard[2].startswith("no"), heard


async def test_a_recogniser_that_keeps_failing_ends_the_call_with_an_apology(faulty, english, sipp, tmp_path):
    worker, kit = faulty
    write_ulaw_wav(tmp_path / "yes.wav", kit.prompts("en_US-joe-medium").synthesizer.render("Yes, speaking.", TELEPHONE_RATE))
    peer = sipp("answer_then_speak", tmp_path / "yes.wav")
    kit.broken = True
    try:
        result = await worker.call(CallRequest(target=peer.uri, script=english))
    finally:
        kit.broken = False
    assert (result.outcome, result.call_outcome, result.answered) == ("robot_error", "robot_error", True)
    assert result.error.startswith("recognizer: ") and "recogniser process ended" in result.error
    assert result.stats.recognizer_restarts == 4  # three fresh streams, all dead: then no more
    whats = [entry.what for entry in result.timeline]
    # The failure is answered at once: the apology follows it with nothing in between, is
    # played to its end, and the robot hangs up (SIPp gets the BYE).
    failed = whats.index("failed")
    assert whats[failed:] == ["failed", "apology", "apology_played", "ended"], whats
    assert whats.count("recognizer_restarted") == 3
    assert peer.finish() == 0
