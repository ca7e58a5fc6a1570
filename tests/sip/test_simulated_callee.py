"""Real calls to simulated callees built on pjsua2, each in its own process: turn-taking,
DTMF, barge-in, a live hand-off to a simulated officer, and SIP over TLS."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from robot.dialog.loader import load_script
from robot.sip.result import CallRequest
from robot.speech.audio import TELEPHONE_RATE, write_wav
from robot.speech.prompts import script_sentences
from tests.conftest import DIALOGS, REPO
from tests.sip.conftest import SimulatedCallee

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest.fixture(scope="module")
def english():
    return load_script(DIALOGS / "en-US" / "generic.yaml").script


def utterances(speech_kit, directory: Path, texts: dict[str, str]) -> dict[str, str]:
    voice = speech_kit.prompts("en_US-joe-medium").synthesizer
    paths = {}
    for name, text in texts.items():
        write_wav(directory / f"{name}.wav", voice.render(text, TELEPHONE_RATE), TELEPHONE_RATE)
        paths[name] = str(directory / f"{name}.wav")
    return paths


async def test_a_whole_conversation_with_dtmf_and_barge_in(worker, speech_kit, english, tmp_path):
    said = utterances(speech_kit, tmp_path, {"yes": "Yes, speaking.", "no": "No, nothing like that.", "agree": "Yes, I will."})
    persona = {
        "answer_after_seconds": 0.3,
        "steps": [
            {"wait_for_robot_turn": 0.8},
            {"say": said["yes"]},  # greet -> warning
            {"wait_for_robot_turn": 0.8},
            {"dtmf": "2"},  # "no" by key: warning -> check_contact
            {"wait_for_robot_speech": True},
            {"wait_seconds": 1.0},
            {"say": said["no"]},  # over the robot: barge-in; check_contact -> advice
            {"wait_for_robot_turn": 0.8},
            {"say": said["agree"]},  # advice -> goodbye, and the robot hangs up
        ],
    }
    await speech_kit.prompts(english.meta.voice).render_all(script_sentences(english))  # as at start-up
    callee = await SimulatedCallee.start(persona, tmp_path / "callee")
    try:
        result = await worker.call(CallRequest(target=callee.uri, script=english))
        events = await callee.finish()
    finally:
        await callee.kill()
    done = events[-1]
    story = f"path {result.path}; heard {[(t['input'], t['text']) for t in result.transcript if t['speaker'] == 'callee']}; " \
            f"timeline {[(e.at_seconds, e.what, e.text) for e in result.timeline]}; callee {events}"
    assert result.outcome == "dissuaded", story
    assert result.path == ["greet", "warning", "check_contact", "advice", "goodbye"], story
    heard = [(line["input"], line["text"]) for line in result.transcript if line["speaker"] == "callee"]
    assert heard[1] == ("dtmf", "2")
    assert done["robot_hung_up"]
    said_over_robot = [e for e in events if e["event"] == "said" and e["over_robot"]]
    assert said_over_robot, "the callee should have barged in"
    # On the call's audio time: the robot stopped once the callee's words over its prompt were
    # clearly a turn (two words that are not backchannels, or 0.8 s of speech), and only once.
    # (How soon that reaches a phone, and how fast turns are answered, is measured in bench/.)
    timeline = [(entry.at_seconds, entry.what) for entry in result.timeline]
    [(stopped_at, _)] = [(at, what) for at, what in timeline if what == "interrupt:barge_in"]
    started_at = max(at for at, what in timeline if what == "speech_started" and at <= stopped_at)
    assert stopped_at - started_at <= 0.8 + 0.02
    # Measured at the callee, as a phone would: the robot stopped talking while the callee was
    # still saying "No, nothing like that.", and it answered the callee's turns.
    barge_in = said_over_robot[0]
    assert done["robot_kept_talking_after_barge_in_seconds"]
    assert max(done["robot_kept_talking_after_barge_in_seconds"]) < barge_in["ended"] - barge_in["started"]
    assert done["response_latencies_seconds"]
    print("callee measurements:", json.dumps({k: v for k, v in done.items() if k != "event"}))


async def test_live_hand_off_to_a_simulated_officer_bridges_both_ways(worker, speech_kit, english, tmp_path):
    said = utterances(speech_kit, tmp_path, {
        "urgent": "They told me to keep it secret and I am really very scared.",
        "thanks": "Thank you officer, I understand.",
        "officer": "Hello, this is officer Li from the anti fraud centre.",
    })
    citizen = {
        "answer_after_seconds": 0.3,
        "steps": [
            {"wait_for_robot_turn": 0.8},
            {"say": said["urgent"], "reply_within_seconds": 2},  # -> "connecting you to an officer"
            {"wait_for_robot_turn": 1.5},  # the robot's hold prompt, then quiet while the officer hears the whisper
            {"wait_for_robot_turn": 0.8},  # the officer's voice, through the bridge
            {"say": said["thanks"]},
        ],
        "linger_seconds": 30,
    }
    officer = {
        "answer_after_seconds": 0.5,
        "steps": [
            {"wait_for_robot_turn": 1.0},  # the whisper: warning id, scam type, phrase heard
            {"say": said["officer"], "reply_within_seconds": 15},  # the citizen's "thank you" comes back through the bridge
            {"wait_seconds": 0.5},
            {"hang_up": True},
        ],
    }
    await speech_kit.prompts(english.meta.voice).render_all(script_sentences(english))
    callee = await SimulatedCallee.start(citizen, tmp_path / "citizen")
    agent = await SimulatedCallee.start(officer, tmp_path / "officer")
    try:
        result = await worker.call(CallRequest(
            target=callee.uri, script=english, headers={"X-Warning-Id": "W-2026-0077"}, human_queue_uri=agent.uri,
            variables={"fraud_type_label": "an investment scam"},
        ))
        citizen_events, officer_events = await callee.finish(), await agent.finish()
    finally:
        await callee.kill()
        await agent.kill()
    assert result.outcome == "escalated" and result.escalation.mode == "live"
    # What the officer is told is what the robot heard (PocketSphinx hears "secret" as "take" at times).
    assert "told me to keep it" in result.escalation.phrase
    assert result.handoff.answered and result.handoff.bridged_seconds > 0 and result.handoff.ended_by == "officer"
    # The officer heard the whisper, then the citizen through the bridge; the citizen heard the officer.
    assert [e["event"] for e in officer_events[:3]] == ["ringing", "answered", "robot_turn_ended"]
    assert any(e["event"] == "robot_replied" for e in officer_events), "the citizen's voice did not reach the officer"
    turns = [e["at"] for e in citizen_events if e["event"] == "robot_turn_ended"]
    officer_spoke = next(e for e in officer_events if e["event"] == "said")
    assert len(turns) == 3 and turns[2] > officer_spoke["ended"], "the officer's voice did not reach the citizen"
    # The officer hung up; the robot then ended the citizen's leg.
    assert citizen_events[-1]["robot_hung_up"] and officer_events[-1]["robot_hung_up"]


async def test_a_wideband_g722_callee_is_heard(worker, speech_kit, english, tmp_path):
    said = utterances(speech_kit, tmp_path, {"urgent": "They told me to keep it secret and I am really very scared."})
    persona = {"answer_after_seconds": 0.3, "steps": [{"wait_for_robot_turn": 0.8}, {"say": said["urgent"]}]}
    callee = await SimulatedCallee.start(persona, tmp_path / "callee", codec="G722/16000/1")
    try:
        result = await worker.call(CallRequest(target=callee.uri, script=english, human_queue_uri=None))
        await callee.finish()
    finally:
        await callee.kill()
    # G.722 is the only codec the callee accepts; the bridge resamples it to the 8 kHz media path.
    assert result.answered and result.outcome == "escalated", result.transcript
    assert "keep it" in result.escalation.phrase


def tls_config(path: Path, ca_file: Path) -> Path:
    path.write_text(
        "transport: {kind: tls, bind_address: 127.0.0.1, public_address: 127.0.0.1, port: 0, rtp_port_start: 0,\n"
        f"            tls: {{ca_file: '{ca_file}'}}}}\n"
        "dial_template: 'sip:{phone}@127.0.0.1:5061;transport=tls'\n"
        "ring_timeout_seconds: 10\nhello_listen_seconds: 0.5\n"
    )
    return path


async def robot_call(target: str, config: Path, workdir: Path) -> dict:
    """`robot call ... --json` as an operator runs it; its JSON result."""
    env = {**os.environ, "ROBOT_CACHE_DIR": str(workdir / "cache"), "ROBOT_MODELS_DIR": str(workdir / "models")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "robot.cli", "call", target, "--dialog", str(DIALOGS / "en-US" / "generic.yaml"),
        "--config", str(config), "--json", cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode == 0, err.decode()[-1500:]
    return json.loads(out.decode().splitlines()[-1])


async def test_sip_over_tls_with_a_verified_certificate(tmp_path, self_signed_certificate):
    cert, key = self_signed_certificate
    callee = await SimulatedCallee.start(
        {"answer_after_seconds": 0.3, "steps": [{"wait_for_robot_speech": True}, {"wait_seconds": 0.5}, {"hang_up": True}]},
        tmp_path / "callee", tls=(cert, key),
    )
    try:
        result = await robot_call(callee.uri, tls_config(tmp_path / "tls.yaml", cert), tmp_path)
        events = await callee.finish()
    finally:
        await callee.kill()
    # The callee listens on TLS only, so a call that was answered and heard went over TLS.
    assert result["answered"] and result["outcome"] == "hung_up"  # it hung up during the greeting
    assert any(e["event"] == "robot_speaking" for e in events)


async def test_sip_over_tls_refuses_a_certificate_it_cannot_verify(tmp_path, self_signed_certificate, unrelated_certificate):
    callee = await SimulatedCallee.start({"answer_after_seconds": 0.3, "steps": []}, tmp_path / "callee", tls=self_signed_certificate)
    try:
        result = await robot_call(callee.uri, tls_config(tmp_path / "tls.yaml", unrelated_certificate[0]), tmp_path)
    finally:
        await callee.kill()
    assert result["outcome"] == "failed" and not result["answered"], result  # a trunk fault, retryable
