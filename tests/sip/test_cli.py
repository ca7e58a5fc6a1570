"""`robot call`, run as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import DIALOGS, REPO

pytestmark = pytest.mark.slow  # real processes (see pyproject: markers)


def test_robot_call_command_prints_one_json_line(sipp, tmp_path):
    peer = sipp("busy")
    env = {**os.environ, "ROBOT_CACHE_DIR": str(tmp_path / "cache"), "ROBOT_MODELS_DIR": str(tmp_path / "models")}
    run = subprocess.run(
        [sys.executable, "-m", "robot.cli", "call", peer.uri, "--dialog", str(DIALOGS / "en-US" / "generic.yaml"), "--json"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=240,
    )
    assert run.returncode == 0, run.stderr[-1500:]
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["outcome"] == "busy" and result["sip_status"] == 486 and result["answered"] is False
    assert set(result) >= {"outcome", "sip_status", "answered", "duration_seconds", "transcript", "escalation", "recording"}
    assert "13800138000" not in run.stderr  # logs mask the number
    bad = subprocess.run(
        [sys.executable, "-m", "robot.cli", "call", "123", "--dialog", str(DIALOGS / "en-US" / "generic.yaml"), "--var", "nope=1"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )
    assert bad.returncode == 2 and "declares no variable nope" in bad.stderr
