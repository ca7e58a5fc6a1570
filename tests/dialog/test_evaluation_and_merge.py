"""The understanding evaluation (labels read back from the engine, same-reaction credit,
the report's numbers) and intents extended, not replaced, by a script that extends another."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from robot.dialog.loader import ScriptError, load_script
from robot.understanding.evaluation import Item, Label, Report, evaluate
from tests.conftest import DIALOGS, REPO


@pytest.fixture(scope="module")
def scripts():
    found = {}
    for path in (DIALOGS / "zh-CN" / "generic.yaml", DIALOGS / "en-US" / "generic.yaml"):
        script = load_script(path).script
        found[f"{script.meta.language.value}/{script.meta.id}"] = script
    return found


def item(text: str, expect: str, state: str = "warning", script: str = "zh-CN/generic", over_prompt: bool = False) -> Item:
    return Item(id=text, script=script, state=state, text=text, expect=Label(expect), over_prompt=over_prompt)


async def test_the_engines_reaction_is_read_back_as_a_label(scripts):
    outcomes = await evaluate([
        item("我刚把钱转过去了", "urgent"),
        item("嗯", "ignore", over_prompt=True),
        item("明白了", "not_an_answer"),
        item("没有", "no"),
        item("你们是不是骗子", "identity"),
        item("打错了", "wrong_person", state="greet"),
        item("不是我", "no", state="greet"),  # a "no" in greet is the wrong-person goodbye too
        item("banana", "yes", state="greet", script="en-US/generic"),  # wrong on purpose
    ], scripts)
    got = [(outcome.got.value, outcome.right) for outcome in outcomes]
    assert got == [("urgent", True), ("ignore", True), ("not_an_answer", True), ("no", True), ("identity", True),
                   ("wrong_person", True), ("wrong_person", True), ("unclear", False)]
    report = Report(outcomes)
    assert report.accuracy == pytest.approx(7 / 8) and report.exact == pytest.approx(6 / 8)
    assert report.missed_urgent == [] and report.false_escalations == []
    hits, predicted, expected = report.per_label[Label.NO]
    assert (hits, predicted, expected) == (1, 1, 2)  # precision counts exact labels only


async def test_missed_urgency_and_false_escalations_are_counted(scripts):
    outcomes = await evaluate([item("有", "no"), item("没有", "urgent")], scripts)  # both labelled wrongly on purpose
    report = Report(outcomes)
    assert [o.item.text for o in report.false_escalations] == ["有"]
    assert [o.item.text for o in report.missed_urgent] == ["没有"]
    assert "missed urgency: 1 of 1" in "\n".join(report.lines("t"))


def test_dialogs_evaluate_prints_the_report(tmp_path):
    turns = [{"id": "a", "script": "en-US/generic", "state": "warning", "text": "I sent them money this morning",
              "expect": "urgent"}, {"id": "b", "script": "en-US/generic", "state": "warning", "text": "no", "expect": "no"}]
    path = tmp_path / "set.yaml"
    path.write_text(json.dumps(turns))  # JSON is YAML
    run = subprocess.run([sys.executable, "-m", "robot.cli", "dialogs", "evaluate", str(path), "--dialogs", str(DIALOGS)],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "right overall: 100.0%" in run.stdout and "missed urgency: 0 of 1" in run.stdout


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


BASE = """\
meta: {id: base, version: 1, language: en-US, voice: en_US-joe-medium, fraud_types: [generic]}
intents:
  urgent: {phrases: [safe account, gift card*]}
  yes: {phrases: [yes]}
start: ask
states:
  ask:
    say: Did you?
    on:
      - intent: urgent
        escalate: urgent_speech
      - intent: yes
        hangup: dissuaded
"""


def child(intent: str) -> str:
    return ("extends: base.yaml\nmeta: {id: child, version: 1, language: en-US, voice: en_US-joe-medium, "
            f"fraud_types: [investment]}}\nintents:\n  urgent: {intent}\n")


def test_a_redefined_intent_adds_to_the_inherited_one(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    script = load_script(write(tmp_path, "child.yaml", child("{phrases: [crypto wallet]}"))).script
    assert script.intents["urgent"].phrases == ["safe account", "gift card*", "crypto wallet"]
    script = load_script(write(tmp_path, "child.yaml", child("{phrases: [crypto wallet], remove: [gift card*]}"))).script
    assert script.intents["urgent"].phrases == ["safe account", "crypto wallet"]
    script = load_script(write(tmp_path, "child.yaml", child("{phrases: [crypto wallet], replace: true}"))).script
    assert script.intents["urgent"].phrases == ["crypto wallet"]


def test_removing_a_phrase_that_is_not_inherited_names_the_line(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    path = write(tmp_path, "child.yaml", child("{phrases: [crypto wallet], remove: [bitcoin]}"))
    with pytest.raises(ScriptError) as raised:
        load_script(path)
    assert str(raised.value) == f"{path}:4:47: remove: 'bitcoin' is not a phrase or pattern of the inherited intent 'urgent'"
