"""`robot dialogs chat` and `robot dialogs graph`, run as a supervisor would."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import DIALOGS, MINIMAL_SCRIPT, REPO

ROBOT = [sys.executable, "-m", "robot.cli"]


def robot(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ROBOT, *args], input=stdin, capture_output=True, text=True, cwd=REPO, timeout=60)


def test_chat_reads_turns_from_stdin_and_ends_with_json():
    script = str(DIALOGS / "zh-CN" / "generic.yaml")
    run = robot("dialogs", "chat", script, "--var", "name=王先生", "--json", stdin="是我\n\n我没有转账\n#2\n好的\n")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "robot: 您好，这里是市公安局反诈中心，这是一通反诈预警电话。请问是王先生吗？"
    assert "[call ended: dissuaded]" in lines
    assert "callee: (silence)" in lines and "callee: #2" in lines
    # Folded YAML lines are joined without the space YAML puts between them.
    assert "也没有所谓的“安全账户”。请问您最近有没有向陌生人转账" in run.stdout
    result = json.loads(lines[-1])
    assert result["outcome"] == "dissuaded"
    assert result["path"] == ["greet", "warning", "check_contact", "advice", "goodbye"]
    assert result["escalation"] is None
    callee = [turn for turn in result["turns"] if turn["speaker"] == "callee"]
    assert [(turn["input"], turn["text"]) for turn in callee] == [
        ("speech", "是我"),
        ("silence", ""),
        ("speech", "我没有转账"),
        ("dtmf", "2"),
        ("speech", "好的"),
    ]
    robot_lines = [turn["text"] for turn in result["turns"] if turn["speaker"] == "robot"]
    assert all(line in lines for line in (f"robot: {text}" for text in robot_lines))


def test_chat_escalation_in_json():
    run = robot("dialogs", "chat", str(DIALOGS / "en-US" / "generic.yaml"), "--json", stdin="yes\nI sent money to a safe account\n")
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["outcome"] == "escalated"
    assert result["escalation"] == {"reason": "urgent_speech", "mode": "live", "phrase": "I sent money to a safe account"}
    assert "[escalation: urgent_speech, live]" in run.stdout


def test_chat_end_of_input_is_a_hang_up():
    run = robot("dialogs", "chat", str(DIALOGS / "en-US" / "generic.yaml"), "--json", stdin="yes\n")
    assert json.loads(run.stdout.splitlines()[-1])["outcome"] == "hung_up"  # refused is an explicit refusal only


def test_chat_rejects_unknown_variable_and_bad_scripts(tmp_path):
    run = robot("dialogs", "chat", str(DIALOGS / "en-US" / "generic.yaml"), "--var", "nmae=Sam")
    assert run.returncode == 2
    assert "declares no variable nmae" in run.stderr
    run = robot("dialogs", "chat", str(DIALOGS / "en-US" / "generic.yaml"), "--var", "oops")
    assert run.returncode == 2 and "expected NAME=VALUE" in run.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL_SCRIPT.replace("  version: 1\n", "  version: one\n"))
    run = robot("dialogs", "chat", str(bad))
    assert run.returncode == 1
    assert run.stderr.startswith(f"{bad}:3:12: meta.version:")


def test_graph_prints_mermaid():
    run = robot("dialogs", "graph", str(DIALOGS / "en-US" / "generic.yaml"))
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    assert "stateDiagram-v2" in lines
    assert "    [*] --> greet" in lines
    assert "    greet --> warning: affirm" in lines
    assert "    goodbye --> [*]: then ⇒ dissuaded" in lines
    assert "    any_listening_state --> [*]: urgent_money ⇒ escalate urgent_speech (live)" in lines
    assert "    note right of any_listening_state: identity answered in place" not in lines
    assert "    any_listening_state --> any_listening_state: identity (repeat)" in lines


def test_check_the_shipped_folder_from_the_command_line():
    run = robot("dialogs", "check", "dialogs")
    assert run.returncode == 0, run.stdout
    assert run.stdout == ""
    assert "8 script(s) OK" in run.stderr
