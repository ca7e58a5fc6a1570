from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from robot.speech.asr import Hypothesis, RecognizerStream, SpeechRecognizer
from robot.speech.audio import TELEPHONE_RATE, read_wav, resample
from robot.speech.tts import Synthesizer


@pytest.fixture(scope="session")
def korean_audio(tmp_path_factory) -> np.ndarray:
    """Korean speech from espeak-ng (installed by the test command), at 8 kHz."""
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is required: `make test` installs it"
    path = tmp_path_factory.mktemp("ko") / "ko.wav"
    subprocess.run([espeak, "-v", "ko", "-s", "140", "-w", str(path), "안녕하세요 저는 돈을 보냈어요"], check=True)
    samples, rate = read_wav(path)
    return resample(samples, rate, TELEPHONE_RATE)


class FakeSynthesizer(Synthesizer):
    """A synthesiser that counts calls and returns a tone whose length follows the text."""

    voice_id = "fake-voice"
    sample_rate = 16000

    def __init__(self, checksum: str = "fake-checksum") -> None:
        self.calls: list[str] = []
        self._checksum = checksum

    @property
    def model_checksum(self) -> str:
        return self._checksum

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        self.calls.append(text)
        seconds = 0.05 * len(text)
        t = np.arange(int(seconds * self.sample_rate)) / self.sample_rate
        yield (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)


class ScriptedStream(RecognizerStream):
    """Returns scripted partials frame by frame while fed, then a scripted final."""

    def __init__(self, partials: dict[int, str], final: str) -> None:
        self.partials = partials
        self.final = final
        self.fed = 0
        self.grammars: list[Sequence[str] | None] = []

    def feed(self, pcm: bytes) -> Hypothesis | None:
        self.fed += 1
        text = self.partials.get(self.fed)
        return Hypothesis(text, False) if text else None

    def finish(self) -> Hypothesis:
        self.fed = 0
        return Hypothesis(self.final, True)

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        self.grammars.append(phrases)


class ScriptedRecognizer(SpeechRecognizer):
    model_id = "scripted"
    language = "en-US"

    def __init__(self, stream: ScriptedStream) -> None:
        self._stream = stream

    def stream(self, grammar: Sequence[str] | None = None) -> RecognizerStream:
        return self._stream


