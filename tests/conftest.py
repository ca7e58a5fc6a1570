from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DIALOGS = REPO / "dialogs"

MINIMAL_SCRIPT = """\
meta:
  id: mini
  version: 1
  language: en-US
  voice: en_US-joe-medium
  fraud_types: [generic]
variables:
  name: friend
intents:
  urgent:
    phrases: [transfer*, safe account]
  yes:
    phrases: [yes, yeah]
    dtmf: ["1"]
  no:
    phrases: [no, nope]
    dtmf: ["2"]
global_intents:
  - intent: urgent
    say: Connecting you to an officer.
    escalate: {reason: urgent_speech, mode: live}
start: ask
states:
  ask:
    say: Hello {name}, did you send money?
    listen: {no_input_timeout_seconds: 5, max_no_input: 1, max_no_match: 1}
    on:
      - intent: no
        goto: bye
      - intent: yes
        escalate: urgent_speech
    no_input:
      say: Are you there?
    no_match:
      say: Please say yes or no.
  bye:
    say: Goodbye {name}.
    hangup: dissuaded
"""


@pytest.fixture
def write_script(tmp_path: Path) -> Callable[..., Path]:
    """Write a YAML script into a temporary folder and return its path."""

    def write(text: str, name: str = "script.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
