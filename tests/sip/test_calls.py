"""Real calls over loopback against SIPp: call progress, and a dialog with speech."""

from __future__ import annotations

import wave

import pytest

from robot.dialog.loader import load_script
from robot.sip.outcome import CallOutcome
from robot.sip.result import CallRequest, HandOffReport
from robot.speech.audio import TELEPHONE_RATE, silence, write_ulaw_wav
from tests.conftest import DIALOGS
from tests.sip.conftest import until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

SHORT_SCRIPT = """\
meta: {id: short, version: 1, language: en-US, voice: en_US-joe-medium, fraud_types: [generic]}
intents:
  urgent: {phrases: [keep it secret, transfer*]}
  yes: {phrases: [yes, yeah], dtmf: ["1"]}
global_intents:
  - intent: urgent
    say: Connecting you to an officer.
    escalate: {reason: urgent_speech, mode: live}
start: ask
states:
  ask:
    say: Hello?
    listen: {no_input_timeout_seconds: 1, max_no_input: 1}
    no_input: {say: Are you there?}
    on:
      - intent: yes
        goto: bye
  bye:
    say: Goodbye.
    hangup: dissuaded
"""


@pytest.fixture(scope="module")
def english():
    return load_script(DIALOGS / "en-US" / "generic.yaml").script


@pytest.mark.parametrize(
    ("scenario", "outcome", "status"),
    [
        ("busy", CallOutcome.BUSY, 486),
        ("decline", CallOutcome.REJECTED, 603),
        ("not_found", CallOutcome.INVALID_NUMBER, 404),
    ],
)
async def test_final_status_becomes_an_outcome(worker, sipp, english, scenario, outcome, status):
    peer = sipp(scenario)
    result = await worker.call(CallRequest(target=peer.uri, script=english))
    assert (result.call_outcome, result.outcome, result.sip_status) == (outcome, outcome.value, status)
    assert not result.answered and result.transcript == [] and result.recording is None
    assert peer.finish() == 0  # SIPp saw the whole exchange, ACK included
    invite = peer.messages()
    assert 'From: "Anti-Fraud Centre" <sip:96110@127.0.0.1>' in invite  # the centre's tagged number
    assert "P-Asserted-Identity: <sip:96110@127.0.0.1>" in invite


async def test_ringing_without_answer_is_cancelled_at_the_ring_timeout(worker, sipp, english):
    peer = sipp("ring_no_answer")
    result = await worker.call(CallRequest(target=peer.uri, script=english))
    assert result.call_outcome is CallOutcome.NO_ANSWER and result.outcome == "no_answer"
    assert [entry.what for entry in result.timeline] == ["ring_timeout", "ended"]
    assert result.duration_seconds >= 3.0  # ring_timeout_seconds is 3: not cancelled before
    assert peer.finish() == 0
    assert "CANCEL sip:" in peer.messages()


async def test_urgent_speech_over_the_greeting_escalates_with_the_phrase(worker, sipp, english, tmp_path, speech_kit):
    voice = speech_kit.prompts("en_US-joe-medium").synthesizer
    speech = voice.render("They told me to keep it secret and I am really very scared.", TELEPHONE_RATE)
    write_ulaw_wav(tmp_path / "urgent.wav", speech)
    peer = sipp("answer_then_speak", tmp_path / "urgent.wav")
    result = await worker.call(CallRequest(target=peer.uri, script=english, recording_name="urgent"))
    assert result.answered and result.sip_status == 200
    assert result.outcome == "escalated"
    # The phrase is the partial result it was spotted in: "keep it se…" may still read "keep it take".
    assert result.escalation.reason == "urgent_speech" and "told me to keep it" in result.escalation.phrase
    speakers = [line["speaker"] for line in result.transcript]
    assert speakers == ["robot", "callee", "robot"]
    # The callee spoke 2 s after answering, over the greeting: the robot was cut off and the
    # urgent phrase was acted on from a partial result, before the greeting was over and
    # before the callee had finished the sentence.
    whats = [entry.what for entry in result.timeline]
    greeting, spotted = whats.index("say"), whats.index("urgent_spotted")
    assert whats.index("speech_started") < spotted and "utterance_ended" not in whats[:spotted]
    assert "prompt_finished" not in whats[greeting:spotted]
    assert any(what.startswith("interrupt:") for what in whats[greeting:spotted + 2])
    assert peer.finish() == 0  # the robot hung up with BYE
    with wave.open(result.recording) as recording:
        assert recording.getframerate() == TELEPHONE_RATE
        assert recording.getnframes() / TELEPHONE_RATE > 3.0


async def test_answer_then_silence_ends_with_no_input(worker, sipp, tmp_path):
    script_path = tmp_path / "short.yaml"
    script_path.write_text(SHORT_SCRIPT)
    write_ulaw_wav(tmp_path / "quiet.wav", silence(0.5, TELEPHONE_RATE))
    peer = sipp("answer_then_speak", tmp_path / "quiet.wav")
    result = await worker.call(CallRequest(target=peer.uri, script=load_script(script_path).script))
    assert result.answered and result.outcome == "no_input"
    robot_lines = [line["text"] for line in result.transcript if line["speaker"] == "robot"]
    assert robot_lines == ["Hello?", "Are you there?"]
    assert peer.finish() == 0


async def test_dial_uri_from_the_template(worker):
    assert worker.config.dial_uri("13800138000") == "sip:13800138000@127.0.0.1:5060"
    assert worker.config.dial_uri("sip:a@b") == "sip:a@b"


@pytest.mark.parametrize(
    ("announcement", "outcome"),
    [
        ("Sorry, the phone you are calling is switched off.", CallOutcome.UNREACHABLE),
        ("The number you have dialled cannot be reached at the moment.", CallOutcome.UNREACHABLE),
        ("The number you have dialled does not exist. Please check the number and dial again.", CallOutcome.INVALID_NUMBER),
    ],
)
async def test_carrier_announcement_in_early_media(worker, sipp, english, tmp_path, speech_kit, announcement, outcome):
    voice = speech_kit.prompts("en_US-joe-medium").synthesizer
    write_ulaw_wav(tmp_path / "announcement.wav", voice.render(announcement, TELEPHONE_RATE))
    peer = sipp("early_announcement", tmp_path / "announcement.wav")
    result = await worker.call(CallRequest(target=peer.uri, script=english, ring_timeout_seconds=10))
    assert result.call_outcome is outcome and result.outcome == outcome.value  # recognised while it played
    assert not result.answered and result.transcript == []
    assert [entry.what for entry in result.timeline][:1] == [f"announcement:{outcome.value}"]  # no ring timeout first
    assert peer.finish() == 0
    assert "CANCEL sip:" in peer.messages()



async def test_live_hand_off_whispers_to_the_officer_and_bridges(worker, sipp, english, tmp_path, speech_kit):
    voice = speech_kit.prompts("en_US-joe-medium").synthesizer
    write_ulaw_wav(tmp_path / "urgent.wav", voice.render("They told me to keep it secret and I am really very scared.", TELEPHONE_RATE))
    callee = sipp("answer_then_speak", tmp_path / "urgent.wav")
    officer = sipp("officer_answers")
    result = await worker.call(CallRequest(
        target=callee.uri, script=english, headers={"X-Warning-Id": "W-2026-0042"}, human_queue_uri=officer.uri,
        variables={"fraud_type_label": "an investment scam"},
    ))
    assert result.outcome == "escalated"
    assert result.escalation.mode == "live" and "told me to keep it" in result.escalation.phrase, (result.handoff, result.transcript)
    assert result.handoff.answered and result.handoff.officer_uri == officer.uri
    assert result.handoff.bridged_seconds > 0 and result.handoff.ended_by == "officer"  # it hung up 14 s after answering
    handoff = [entry.what for entry in result.timeline if entry.what.startswith(("officer", "bridge"))]
    assert handoff == ["officer_dialled", "officer_answered", "bridged", "bridge_ended:officer"]
    assert officer.finish() == 0 and callee.finish() == 0  # officer's BYE; then the robot's BYE to the callee
    invite = officer.messages()
    assert "X-Warning-Id: W-2026-0042" in invite and "X-Robot-Handoff: live" in invite


async def test_hand_off_falls_back_to_a_call_back_ticket(worker, sipp, english, tmp_path, speech_kit):
    voice = speech_kit.prompts("en_US-joe-medium").synthesizer
    write_ulaw_wav(tmp_path / "urgent.wav", voice.render("They told me to keep it secret and I am really very scared.", TELEPHONE_RATE))
    callee = sipp("answer_then_speak", tmp_path / "urgent.wav")
    officer = sipp("busy")
    result = await worker.call(CallRequest(target=callee.uri, script=english, human_queue_uri=officer.uri))
    assert result.outcome == "escalated"
    assert result.escalation.mode == "ticket"  # no officer reached: an officer calls back
    assert result.handoff == HandOffReport(officer_uri=officer.uri, answered=False, bridged_seconds=0.0)
    assert "call_back_promised" in [entry.what for entry in result.timeline]
    assert callee.finish() == 0 and officer.finish() == 0


async def test_callee_hanging_up_mid_script_is_hung_up(worker, sipp, english):
    peer = sipp("officer_answers")  # answers, says nothing, hangs up after 14 s
    result = await worker.call(CallRequest(target=peer.uri, script=english))
    assert result.answered and result.outcome == "hung_up"
    assert result.path and result.path[0] == "greet"
    assert peer.finish() == 0



async def test_a_live_escalation_in_a_full_worker_becomes_a_call_back_ticket(worker, sipp, english, tmp_path, speech_kit):
    import asyncio

    voice = speech_kit.prompts("en_US-joe-medium").synthesizer
    write_ulaw_wav(tmp_path / "urgent.wav", voice.render("They told me to keep it secret and I am really very scared.", TELEPHONE_RATE))
    ringing = [sipp("ring_no_answer") for _ in range(3)]
    waiting = [asyncio.create_task(worker.call(CallRequest(target=peer.uri, script=english, ring_timeout_seconds=60)))
               for peer in ringing]
    try:
        # Three calls ring: with this one, all four pjsua2 call slots are taken.
        await until(lambda: len(worker.sessions) == 3 and all(session.status == 180 for session in worker.sessions))
        callee = sipp("answer_then_speak", tmp_path / "urgent.wav")
        officer = sipp("officer_answers")
        result = await worker.call(CallRequest(target=callee.uri, script=english, human_queue_uri=officer.uri))
    finally:
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
    assert result.outcome == "escalated" and result.escalation.mode == "ticket"  # not a failed call
    assert "PJ_ETOOMANY" in result.handoff.error and result.handoff.answered is False
    assert callee.finish() == 0
