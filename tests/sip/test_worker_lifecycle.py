"""A worker process with 4 calls up at once, shut down cleanly, with no pjsua2 assertion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from robot.speech.audio import TELEPHONE_RATE, silence, write_ulaw_wav
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # real processes (see pyproject: markers)


def test_four_calls_at_once_then_a_clean_shutdown(sipp, tmp_path, speech_kit):
    write_ulaw_wav(tmp_path / "quiet.wav", silence(0.5, TELEPHONE_RATE))
    peers = [sipp("answer_then_speak", tmp_path / "quiet.wav") for _ in range(4)]
    run = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "lifecycle_program.py"), str(speech_kit.settings.cache_dir),
         str(tmp_path / "models"), str(REPO), *(peer.uri for peer in peers)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Assertion" not in run.stderr and "assert" not in run.stderr.lower().replace("assertions", "")
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["up"] == 4
    assert result["answered"] == [True] * 4
    assert result["outcomes"] == ["interrupted"] * 4  # hung up by the shutdown (not left to end), to be retried
    codes = [peer.finish() for peer in peers]
    assert codes == [0] * 4  # every callee got a BYE
