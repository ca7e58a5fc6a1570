"""`robot voices say`, `hear` and `install`, run as a supervisor or operator would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.conftest import REPO


def robot(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "robot.cli", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)


def test_say_then_hear_as_the_phone_would(tmp_path):
    out = tmp_path / "prompt.wav"
    said = robot("voices", "say", "They told me to keep it secret.", "--voice", "en_US-joe-medium", "-o", str(out), "--g711")
    assert said.returncode == 0, said.stderr
    assert "at 8000 Hz G.711 μ-law" in said.stdout
    assert out.read_bytes()[20:22] == (7).to_bytes(2, "little")
    plain = tmp_path / "plain.wav"
    assert robot("voices", "say", "Can I talk to a real person?", "--voice", "en_US-joe-medium", "-o", str(plain)).returncode == 0
    heard = robot("voices", "hear", str(plain), "--json")
    assert heard.returncode == 0, heard.stderr
    result = json.loads(heard.stdout.splitlines()[-1])
    assert "real person" in result["text"]
    assert result["model"] == "pocketsphinx-en-us"
    assert result["partials"] and result["words"][0]["start"] >= 0


def test_say_with_a_missing_voice_explains_how_to_install(tmp_path):
    run = robot("voices", "say", "你好", "--voice", "zh_CN-huayan-medium", "-o", str(tmp_path / "x.wav"),
                env_extra={"ROBOT_MODELS_DIR": str(tmp_path / "models")})
    assert run.returncode == 1
    assert "robot voices install zh_CN-huayan-medium --from PATH_OR_ARCHIVE" in run.stderr
    assert not (tmp_path / "x.wav").exists()


def test_install_command(tmp_path):
    models = tmp_path / "models"
    source = tmp_path / "download" / "vosk-model-small-cn-0.22"
    # A stand-in with the real model's layout (the real one cannot be fetched here).
    for file in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst", "graph/Gr.fst", "ivector/final.ie"):
        (source / file).parent.mkdir(parents=True, exist_ok=True)
        (source / file).write_bytes(file.encode())
    archive = shutil.make_archive(str(tmp_path / "vosk-model-small-cn-0.22"), "zip", tmp_path / "download")
    env = {"ROBOT_MODELS_DIR": str(models)}
    run = robot("voices", "install", "vosk-model-small-cn-0.22", "--from", archive, env_extra=env)
    assert run.returncode == 0, run.stderr
    assert (models / "vosk" / "vosk-model-small-cn-0.22" / "am" / "final.mdl").exists()
    listing = robot("voices", "list", env_extra=env).stdout
    assert any(line.startswith("vosk-model-small-cn-0.22") and " installed " in line for line in listing.splitlines())
    bad = robot("voices", "install", "vosk-model-small-cn-0.22", "--from", str(tmp_path / "nothing.zip"), env_extra=env)
    assert bad.returncode == 1 and "no such file" in bad.stderr
