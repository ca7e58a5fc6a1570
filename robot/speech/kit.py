"""The speech engines a call worker needs, loaded once per process and shared by its calls."""

from __future__ import annotations

import logging

from ..config import SpeechSettings
from .asr import RecognizerStream, SpeechRecognizer, recognizer_from_catalog
from .catalog import Catalog, ModelMissingError
from .error import SpeechError
from .prompts import PromptCache
from .tts import PiperSynthesizer

_LOGGER = logging.getLogger(__name__)


class SpeechKit:
    def __init__(
        self, settings: SpeechSettings | None = None, *, deterministic_voices: bool = False, isolate_gil_holders: bool = True
    ) -> None:
        self.settings = settings or SpeechSettings()
        self.isolate_gil_holders = isolate_gil_holders
        self.catalog = Catalog.load(self.settings.catalog_dir, self.settings.models_dir)
        self._deterministic = deterministic_voices
        self._caches: dict[str, PromptCache] = {}
        self._recognizers: dict[str, SpeechRecognizer] = {}
        self._idle_streams: dict[str, list[RecognizerStream]] = {}

    def prompts(self, voice_id: str) -> PromptCache:
        if voice_id not in self._caches:
            synthesizer = PiperSynthesizer.from_catalog(self.catalog, voice_id, deterministic=self._deterministic)
            self._caches[voice_id] = PromptCache(self.settings.cache_dir, synthesizer, self.settings.call_sample_rate)
        return self._caches[voice_id]

    def missing(self, *, voice: str, language: str) -> list[str]:
        """Why a script with this voice and language could not run here (empty: it can);
        checks files only, loads nothing."""
        problems = []
        model_id = self.settings.recognizers.get(language)
        if model_id is None:
            problems.append(f"no recogniser is configured for {language} (speech.recognizers)")
        for entry_id in (voice, model_id):
            if entry_id is None:
                continue
            try:
                self.catalog.require(entry_id)
            except (ModelMissingError, KeyError, ValueError) as err:
                problems.append(str(err))
        return problems

    def recognizer(self, language: str) -> SpeechRecognizer:
        if language not in self._recognizers:
            model_id = self.settings.recognizers.get(language)
            if model_id is None:
                raise SpeechError("no_recognizer", f"no recogniser is configured for {language}")
            self._recognizers[language] = recognizer_from_catalog(self.catalog, model_id)
        return self._recognizers[language]

    # Opening a stream can be slow C work that holds the GIL (a PocketSphinx decoder: about
    # 0.35 s), which would stall the SIP thread of calls already in progress. Streams are
    # therefore opened when the worker starts and reused from call to call.

    def warm(self, language: str, streams: int) -> None:
        idle = self._idle_streams.setdefault(language, [])
        while len(idle) < streams:
            idle.append(self._new_stream(language))

    def take_stream(self, language: str) -> RecognizerStream:
        idle = self._idle_streams.setdefault(language, [])
        return idle.pop() if idle else self._new_stream(language)

    def _new_stream(self, language: str) -> RecognizerStream:
        recognizer = self.recognizer(language)
        if recognizer.holds_gil and self.isolate_gil_holders:
            from .isolated import IsolatedStream

            return IsolatedStream(recognizer)
        return recognizer.stream()

    def close(self) -> None:
        """Release pooled streams (and their processes)."""
        for streams in self._idle_streams.values():
            for stream in streams:
                stream.close()
        self._idle_streams.clear()

    def return_stream(self, language: str, stream: RecognizerStream) -> None:
        stream.finish()  # drop any half-heard utterance
        stream.set_grammar(None)
        self._idle_streams.setdefault(language, []).append(stream)

    def discard_stream(self, stream: RecognizerStream) -> None:
        """A stream that failed: released (its process ended), never pooled again."""
        try:
            stream.close()
        except Exception:  # noqa: BLE001 - it is broken already; closing is best effort
            _LOGGER.warning("a failed recogniser stream did not close cleanly", exc_info=True)
