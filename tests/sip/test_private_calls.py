"""What a call leaves on disk: recordings for the robot's user alone, named by the caller's
plain name never by a path, and no sentence with a citizen's name kept in the prompt cache."""

from __future__ import annotations

import pytest

from robot.dialog.loader import load_script
from robot.sip.result import CallRequest
from robot.sip.worker import CallWorker
from robot.speech.audio import TELEPHONE_RATE, silence, write_ulaw_wav
from tests.conftest import DIALOGS
from tests.sip.conftest import loopback_config

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

GREETING_SCRIPT = """\
meta: {id: greet, version: 1, language: en-US, voice: en_US-joe-medium, fraud_types: [generic]}
variables:
  name: {default: the account holder}
start: ask
states:
  ask:
    say: Hello {name}, this is the anti-fraud centre.
    listen: {no_input_timeout_seconds: 1, max_no_input: 0}
    no_input: {then: {hangup: no_input}}
"""


async def test_a_call_leaves_a_private_recording_and_no_personal_prompt(sipp, speech_kit, tmp_path):
    script_path = tmp_path / "greet.yaml"
    script_path.write_text(GREETING_SCRIPT)
    script = load_script(script_path).script
    write_ulaw_wav(tmp_path / "quiet.wav", silence(0.5, TELEPHONE_RATE))
    peer = sipp("answer_then_speak", tmp_path / "quiet.wav")
    recordings = tmp_path / "var" / "recordings"
    async with CallWorker(loopback_config(recordings_dir=recordings), speech_kit) as worker:
        result = await worker.call(CallRequest(target=peer.uri, script=script, variables={"name": "Li Hua"}, recording_name="attempt-7"))
    assert result.answered and result.transcript[0]["text"] == "Hello Li Hua, this is the anti-fraud centre."
    assert result.recording == str(recordings / "attempt-7.wav")
    assert (recordings / "attempt-7.wav").stat().st_mode & 0o777 == 0o600
    assert recordings.stat().st_mode & 0o777 == (recordings.parent.stat().st_mode & 0o777) == 0o700
    cache = speech_kit.prompts("en_US-joe-medium")
    assert cache.lookup("Hello Li Hua, this is the anti-fraud centre.") is None  # said, never kept
    assert peer.finish() == 0


@pytest.mark.parametrize("name", ["../../escaped/pwn", "/tmp/pwn", "W-1\r\nX: y", "."])
async def test_a_recording_name_is_never_a_path(speech_kit, tmp_path, name):
    script = load_script(DIALOGS / "en-US" / "generic.yaml").script
    async with CallWorker(loopback_config(recordings_dir=tmp_path / "recordings"), speech_kit) as worker:
        with pytest.raises(ValueError, match="recording name"):
            await worker.call(CallRequest(target="sip:x@127.0.0.1:9", script=script, recording_name=name))
    assert not (tmp_path / "escaped").exists() and list((tmp_path / "recordings").glob("*")) == []
