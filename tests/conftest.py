from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from robot.speech.audio import TELEPHONE_RATE, g711_round_trip, silence
from robot.speech.catalog import Catalog
from robot.speech.tts import PiperSynthesizer

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


# Speech for tests anywhere (the speech, machine and call tests): real Piper, real G.711.
@pytest.fixture(scope="session")
def catalog(tmp_path_factory) -> Catalog:
    return Catalog.load(REPO / "voices", tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def joe(catalog) -> PiperSynthesizer:
    # Without sampling noise, so the audio (and what the recogniser makes of it) is the same every run.
    return PiperSynthesizer.from_catalog(catalog, "en_US-joe-medium", deterministic=True)


@pytest.fixture(scope="session")
def phone_audio(joe):
    """Piper speech as it arrives over a G.711 μ-law line, with silence around it."""

    def make(text: str, before_seconds: float = 0.5, after_seconds: float = 1.5) -> tuple[np.ndarray, float, float]:
        speech = g711_round_trip(joe.render(text, TELEPHONE_RATE))
        audio = np.concatenate([silence(before_seconds, TELEPHONE_RATE), speech, silence(after_seconds, TELEPHONE_RATE)])
        return audio, before_seconds, before_seconds + len(speech) / TELEPHONE_RATE

    return make




# A throwaway PostgreSQL server for the whole run, started the first time a test needs it.
@pytest.fixture(scope="session")
def postgres_server():
    from tests.postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the run's server."""
    return postgres_server.create_database()
