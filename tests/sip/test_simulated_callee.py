"""Turn-taking, DTMF and barge-in against a simulated callee built on pjsua2 (its own process)."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from robot.dialog.loader import load_script
from robot.speech.audio import TELEPHONE_RATE, write_wav
from robot.speech.prompts import script_sentences
from tests.conftest import DIALOGS, REPO
from tests.sip.conftest import free_udp_port

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_whole_conversation_with_dtmf_and_barge_in(worker, speech_kit, tmp_path):
    voice = speech_kit.prompts("en_US-joe-medium").synthesizer
    for name, text in {"yes": "Yes, speaking.", "no": "No, nothing like that.", "agree": "Yes, I will."}.items():
        write_wav(tmp_path / f"{name}.wav", voice.render(text, TELEPHONE_RATE), TELEPHONE_RATE)
    persona = {
        "answer_after_seconds": 0.3,
        "steps": [
            {"wait_for_robot_turn": 0.8},
            {"say": str(tmp_path / "yes.wav")},  # greet -> warning
            {"wait_for_robot_turn": 0.8},
            {"dtmf": "2"},  # "no" by key: warning -> check_contact
            {"wait_for_robot_speech": True},
            {"wait_seconds": 1.0},
            {"say": str(tmp_path / "no.wav")},  # over the robot: barge-in; check_contact -> advice
            {"wait_for_robot_turn": 0.8},
            {"say": str(tmp_path / "agree.wav")},  # advice -> goodbye, and the robot hangs up
        ],
    }
    (tmp_path / "persona.json").write_text(json.dumps(persona))
    script = load_script(DIALOGS / "en-US" / "generic.yaml").script
    await speech_kit.prompts(script.meta.voice).render_all(script_sentences(script))  # as at start-up
    port = free_udp_port()
    command = [sys.executable, "-m", "robot.sip.simulated_callee", "--port", str(port),
               "--persona", str(tmp_path / "persona.json"), "--timeout", "150"]
    callee = await asyncio.create_subprocess_exec(
        *command, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        line = (await callee.stdout.readline()).decode()
        while not line.startswith("{"):  # pjlib logs a few lines during libCreate
            line = (await callee.stdout.readline()).decode()
        assert json.loads(line)["event"] == "ready"
        result = await worker.call(f"sip:callee@127.0.0.1:{port}", script)
        raw_out, raw_err = await asyncio.wait_for(callee.communicate(), 60)
        out, err = raw_out.decode(), raw_err.decode()
    finally:
        if callee.returncode is None:
            callee.kill()
            await callee.wait()
    assert callee.returncode == 0, err[-2000:]
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    done = events[-1]
    assert result.outcome == "dissuaded", result.transcript
    assert result.path == ["greet", "warning", "check_contact", "advice", "goodbye"]
    heard = [(line["input"], line["text"]) for line in result.transcript if line["speaker"] == "callee"]
    assert heard[1] == ("dtmf", "2")
    assert done["event"] == "done" and done["robot_hung_up"]
    said_over_robot = [e for e in events if e["event"] == "said" and e["over_robot"]]
    assert said_over_robot, "the callee should have barged in"
    # Measured at the callee, as a phone would: the robot stopped talking soon after the
    # callee started, and answered each turn quickly.
    assert done["robot_kept_talking_after_barge_in_seconds"]
    assert max(done["robot_kept_talking_after_barge_in_seconds"]) < 0.5
    assert done["response_latencies_seconds"] and max(done["response_latencies_seconds"]) < 2.0
    print("callee measurements:", json.dumps({k: v for k, v in done.items() if k != "event"}))
