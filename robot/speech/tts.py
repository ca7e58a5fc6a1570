"""Text to speech: the synthesiser interface and Piper behind it."""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor
from functools import cached_property
from pathlib import Path

import numpy as np

from ..dialog.normalize import split_sentences
from .audio import resample
from .catalog import MANIFEST, Catalog, Engine, sha256_of
from .error import SpeechError


class Synthesizer(ABC):
    """Turns text into 16-bit mono PCM at `sample_rate`, one array per sentence."""

    voice_id: str
    sample_rate: int

    @property
    @abstractmethod
    def model_checksum(self) -> str:
        """Identifies the exact model, so cached audio is never reused across models."""

    @abstractmethod
    def synthesize(self, text: str) -> Iterator[np.ndarray]: ...

    def render(self, text: str, sample_rate: int) -> np.ndarray:
        """All of `text` at another rate (CPU-heavy: call it off the event loop)."""
        parts = list(self.synthesize(text))
        audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        return resample(audio, self.sample_rate, sample_rate)


class PiperSynthesizer(Synthesizer):
    def __init__(self, voice_id: str, model_path: Path, config_path: Path, *, deterministic: bool = False) -> None:
        """`deterministic` turns off the model's sampling noise: the same text then gives the
        same samples every time (for tests and benchmarks; prompts sound flatter)."""
        from piper import PiperVoice, SynthesisConfig

        self.voice_id = voice_id
        self._synthesis = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0) if deterministic else None
        self._model_path = model_path
        config = json.loads(config_path.read_text(encoding="utf-8"))
        download_dir = model_path.parent
        if config.get("phoneme_type") == "pinyin" and not (download_dir / "g2pW" / "g2pw.onnx").exists():
            # Piper would fetch the g2pW model from the internet on first use: never at run time.
            raise SpeechError(
                "model_missing",
                f"{voice_id} uses pinyin phonemes and needs the g2pW model in {download_dir / 'g2pW'}; "
                "install it there together with the voice",
            )
        try:
            self._voice = PiperVoice.load(model_path, config_path, download_dir=download_dir)
        except Exception as err:  # onnxruntime raises its own types
            raise SpeechError("model_load", f"{voice_id}: cannot load {model_path}: {err}") from err
        self.sample_rate = int(self._voice.config.sample_rate)

    @classmethod
    def from_catalog(cls, catalog: Catalog, voice_id: str, *, deterministic: bool = False) -> PiperSynthesizer:
        entry = catalog.entry(voice_id)
        if entry.engine is not Engine.PIPER:
            raise SpeechError("wrong_engine", f"{voice_id} is a {entry.engine} model, not a Piper voice")
        root = catalog.require(voice_id)
        model = next(root / f.path for f in entry.files if f.path.endswith(".onnx"))
        synthesizer = cls(voice_id, model, model.with_name(model.name + ".json"), deterministic=deterministic)
        known = next((f.sha256 for f in entry.files if f.path.endswith(".onnx") and f.sha256), None)
        if known is None and (root / MANIFEST).exists():
            known = json.loads((root / MANIFEST).read_text())[model.name]["sha256"]
        if known:
            synthesizer.__dict__["model_checksum"] = known
        return synthesizer

    @cached_property
    def model_checksum(self) -> str:
        return sha256_of(self._model_path)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        for chunk in self._voice.synthesize(text, self._synthesis):
            yield chunk.audio_int16_array


async def synthesize_sentences(
    synthesizer: Synthesizer, text: str, sample_rate: int, executor: Executor | None = None
) -> AsyncIterator[np.ndarray]:
    """Sentence by sentence, off the event loop: the first sentence is ready first."""
    loop = asyncio.get_running_loop()
    for sentence in split_sentences(text):
        yield await loop.run_in_executor(executor, synthesizer.render, sentence, sample_rate)
