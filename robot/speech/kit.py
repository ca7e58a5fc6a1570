"""The speech engines a call worker needs, loaded once per process and shared by its calls."""

from __future__ import annotations

from ..config import SpeechSettings
from .asr import SpeechRecognizer, recognizer_from_catalog
from .catalog import Catalog
from .error import SpeechError
from .prompts import PromptCache
from .tts import PiperSynthesizer


class SpeechKit:
    def __init__(self, settings: SpeechSettings | None = None, *, deterministic_voices: bool = False) -> None:
        self.settings = settings or SpeechSettings()
        self.catalog = Catalog.load(self.settings.catalog_dir, self.settings.models_dir)
        self._deterministic = deterministic_voices
        self._caches: dict[str, PromptCache] = {}
        self._recognizers: dict[str, SpeechRecognizer] = {}

    def prompts(self, voice_id: str) -> PromptCache:
        if voice_id not in self._caches:
            synthesizer = PiperSynthesizer.from_catalog(self.catalog, voice_id, deterministic=self._deterministic)
            self._caches[voice_id] = PromptCache(self.settings.cache_dir, synthesizer, self.settings.call_sample_rate)
        return self._caches[voice_id]

    def recognizer(self, language: str) -> SpeechRecognizer:
        if language not in self._recognizers:
            model_id = self.settings.recognizers.get(language)
            if model_id is None:
                raise SpeechError("no_recognizer", f"no recogniser is configured for {language}")
            self._recognizers[language] = recognizer_from_catalog(self.catalog, model_id)
        return self._recognizers[language]
