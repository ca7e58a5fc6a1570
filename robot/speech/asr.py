"""Streaming speech recognition behind one small interface, with Vosk and PocketSphinx.

A `SpeechRecognizer` holds a loaded model (one per process); each call opens a
`RecognizerStream`, feeds it 20 ms frames of 8 kHz 16-bit PCM, and gets partial and final
hypotheses with word timings (seconds from the start of the stream). Feeding is CPU work:
callers run it off the event loop (see `pipeline.py`).
"""

from __future__ import annotations

import json
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .audio import TELEPHONE_RATE, float_to_int16
from .catalog import Catalog, Engine
from .error import SpeechError


@dataclass(frozen=True)
class Word:
    text: str
    start_seconds: float
    end_seconds: float
    confidence: float = 1.0


@dataclass(frozen=True)
class Hypothesis:
    text: str
    is_final: bool
    words: tuple[Word, ...] = field(default=())
    alternatives: tuple[str, ...] = ()
    """Final results: the recogniser's next-best readings (n-best), best first."""

    @property
    def end_seconds(self) -> float | None:
        return self.words[-1].end_seconds if self.words else None


class RecognizerStream(ABC):
    """One call's recogniser. Not thread-safe: feed it from one thread at a time."""

    sample_rate: int = TELEPHONE_RATE

    @abstractmethod
    def feed(self, pcm: bytes) -> Hypothesis | None:
        """Add audio. Returns a partial hypothesis when it changed, else None."""

    @abstractmethod
    def finish(self) -> Hypothesis:
        """End the utterance: its final hypothesis. The stream is then ready for the next."""

    @abstractmethod
    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        """Limit recognition to these phrases (None: open vocabulary) from the next utterance."""

    def close(self) -> None:  # noqa: B027 - most streams hold nothing to release
        """Release what the stream holds (a child process, for isolated streams)."""


class SpeechRecognizer(ABC):
    """A loaded model; opens one stream per call."""

    model_id: str
    language: str
    holds_gil: bool = False
    """True if decoding keeps Python's GIL: such streams run in a child process in calls
    (`isolated.IsolatedStream`), or they would stall the worker's media thread."""

    @abstractmethod
    def stream(self, grammar: Sequence[str] | None = None) -> RecognizerStream: ...


def _words_of(phrase: str) -> list[str]:
    return phrase.replace("*", "").split()


_CJK = re.compile(r"^[\u3400-\u9fff]+$")


# -- Vosk ------------------------------------------------------------------------------

_vosk_models: dict[Path, object] = {}
_vosk_lock = threading.Lock()


def load_vosk_model(path: Path) -> object:
    """One Vosk model per process, however many calls use it. Never downloads."""
    import vosk

    with _vosk_lock:
        if path not in _vosk_models:
            vosk.SetLogLevel(-1)
            if not (path / "am" / "final.mdl").exists():
                raise SpeechError("model_missing", f"{path} is not a Vosk model folder (no am/final.mdl)")
            try:
                _vosk_models[path] = vosk.Model(str(path))
            except Exception as err:
                raise SpeechError("model_load", f"cannot load the Vosk model in {path}: {err}") from err
        return _vosk_models[path]


class VoskRecognizer(SpeechRecognizer):
    def __init__(self, model_id: str, language: str, model_path: Path) -> None:
        self.model_id = model_id
        self.language = language
        self.model = load_vosk_model(model_path)

    def knows(self, word: str) -> bool:
        return bool(self.model.vosk_model_find_word(word) >= 0)  # type: ignore[attr-defined]

    def grammar_json(self, phrases: Sequence[str]) -> str:
        """Phrases the model can say, as Vosk's JSON grammar, plus [unk] for anything else.

        Chinese phrases the model lacks as words are spelled out character by character.
        """
        kept: list[str] = []
        for phrase in phrases:
            words = _words_of(phrase)
            if words and all(self.knows(word) for word in words):
                kept.append(" ".join(words))
            elif len(words) == 1 and _CJK.match(words[0]) and all(self.knows(char) for char in words[0]):
                kept.append(" ".join(words[0]))
        if self.knows("[unk]"):
            kept.append("[unk]")
        return json.dumps(sorted(set(kept)), ensure_ascii=False)

    def stream(self, grammar: Sequence[str] | None = None) -> VoskStream:
        return VoskStream(self, grammar)


MAX_ALTERNATIVES = 3
"""Readings a final result carries besides the best one (urgent phrases are looked for in them)."""
ALTERNATIVES_MIN_WORDS = 3


class VoskStream(RecognizerStream):
    def __init__(self, recognizer: VoskRecognizer, grammar: Sequence[str] | None) -> None:
        self._recognizer = recognizer
        self._kaldi = self._new_kaldi()
        self._open_vocabulary = True
        self._last_partial = ""
        self._offset_seconds = 0.0  # Vosk's times restart at each result
        self._fed_seconds = 0.0
        self.set_grammar(grammar)

    def _new_kaldi(self) -> Any:
        import vosk

        kaldi = vosk.KaldiRecognizer(self._recognizer.model, float(self.sample_rate))
        # Word times for final results only: partial results are read for their text, and
        # aligning words on every partial would cost a lattice pass each time.
        kaldi.SetWords(True)
        kaldi.SetMaxAlternatives(MAX_ALTERNATIVES + 1)  # final results only: partials stay one reading
        return kaldi

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        if phrases is not None:
            self._kaldi.SetGrammar(self._recognizer.grammar_json(phrases))
            self._open_vocabulary = False
        elif not self._open_vocabulary:
            # Vosk cannot drop a grammar: a fresh recogniser listens to the whole model again
            # (a pooled stream must not keep the last call's grammar for carrier announcements).
            self._kaldi = self._new_kaldi()
            self._open_vocabulary = True
            self._pending_final = None
            self._last_partial = ""

    def feed(self, pcm: bytes) -> Hypothesis | None:
        self._fed_seconds += len(pcm) / 2 / self.sample_rate
        if self._kaldi.AcceptWaveform(pcm):
            # Vosk found an endpoint of its own; keep its words for finish().
            result = json.loads(self._kaldi.Result())
            self._pending_final = self._hypothesis(result, "result", is_final=False)
            self._offset_seconds = self._fed_seconds
            return self._pending_final if self._pending_final.text else None
        partial = json.loads(self._kaldi.PartialResult())
        text = partial.get("partial", "")
        if text == self._last_partial:
            return None
        self._last_partial = text
        return self._hypothesis(partial, "partial_result", is_final=False, text=text)

    _pending_final: Hypothesis | None = None

    def finish(self) -> Hypothesis:
        result = json.loads(self._kaldi.FinalResult())
        final = self._hypothesis(result, "result", is_final=True)
        if self._pending_final is not None:  # text Vosk already closed in this utterance
            before = self._pending_final.text
            final = Hypothesis(
                f"{before} {final.text}".strip(), True, self._pending_final.words + final.words,
                tuple(f"{before} {reading}".strip() for reading in final.alternatives),
            )
        self._pending_final = None
        self._last_partial = ""
        self._offset_seconds = self._fed_seconds
        return final

    def _hypothesis(self, result: dict[str, Any], key: str, *, is_final: bool, text: str | None = None) -> Hypothesis:
        alternatives: tuple[str, ...] = ()
        if result.get("alternatives"):  # n-best: the first is the best reading
            readings = [_clean(reading.get("text", "")) for reading in result["alternatives"]]
            result = result["alternatives"][0]
            alternatives = tuple(dict.fromkeys(r for r in readings[1:] if r and r != readings[0]))
        words = tuple(
            Word(w["word"], self._offset_seconds + w["start"], self._offset_seconds + w["end"], w.get("conf", 1.0))
            for w in result.get(key, [])
            if w.get("word") != "[unk]"
        )
        if text is None:
            text = result.get("text", "")
        return Hypothesis(_clean(text), is_final, words, alternatives)


def _clean(text: str) -> str:
    return " ".join(part for part in text.split() if part != "[unk]")


# -- PocketSphinx ----------------------------------------------------------------------

# Initial cepstral mean for telephone audio (8 kHz G.711, upsampled to 16 kHz). The model's
# own default is for wideband microphones; starting from it, live decoding of phone audio
# is both wrong and many times slower. Measured by batch-decoding Piper speech after a
# μ-law round trip; live CMN keeps adapting to each caller from here.
TELEPHONE_CMN_INIT = "47.41,27.65,-35.59,41.57,-16.24,0.02,9.83,-26.31,16.99,-6.95,5.20,8.02,-15.72"


class PocketsphinxRecognizer(SpeechRecognizer):
    """CMU PocketSphinx with its bundled US English model (16 kHz; 8 kHz input is resampled).

    `grammar` is accepted for interface compatibility and not used (see `set_grammar`).
    """

    model_rate = 16000
    holds_gil = True  # measured: up to 0.7 s in one end_utt()

    def __init__(self, model_id: str, language: str, model_path: Path) -> None:
        self.model_id = model_id
        self.language = language
        self.model_path = model_path
        for required in ("en-us", "en-us.lm.bin", "cmudict-en-us.dict"):
            if not (model_path / required).exists():
                raise SpeechError("model_missing", f"{model_path} has no {required}: not a PocketSphinx model folder")

    def stream(self, grammar: Sequence[str] | None = None) -> PocketsphinxStream:
        return PocketsphinxStream(self, grammar)


class PocketsphinxStream(RecognizerStream):
    # Checking the hypothesis costs a search; every 5 frames (100 ms) is plenty for partials.
    partial_every_frames = 5

    def __init__(self, recognizer: PocketsphinxRecognizer, grammar: Sequence[str] | None) -> None:
        from pocketsphinx import Decoder

        path = recognizer.model_path
        self._recognizer = recognizer
        self._decoder = Decoder(
            hmm=str(path / "en-us"),
            lm=str(path / "en-us.lm.bin"),
            dict=str(path / "cmudict-en-us.dict"),
            samprate=PocketsphinxRecognizer.model_rate,
            cmninit=TELEPHONE_CMN_INIT,
            # The second (flat-lexicon) pass stays on: without it decoding takes 27 % less
            # CPU, but over real calls "Yes, speaking." came out as "yet to be king".
            loglevel="FATAL",
        )
        self._resampler = self._new_resampler()
        self._frames = 0
        self._in_utterance = False
        self._last_partial = ""
        self._offset_seconds = 0.0
        self._fed_seconds = 0.0
        self.set_grammar(grammar)

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        """PocketSphinx always uses its language model.

        Its finite-state grammars were measured here on telephone audio: with a dialog's
        70 phrases they ran at 1-7x real time and recognised worse than the language model
        (0.2x real time), so grammars are a Vosk feature only.
        """

    def feed(self, pcm: bytes) -> Hypothesis | None:
        if not self._in_utterance:
            self._decoder.start_utt()
            self._in_utterance = True
            self._frames = 0
        self._fed_seconds += len(pcm) / 2 / self.sample_rate
        upsampled = self._upsample(np.frombuffer(pcm, dtype=np.int16))
        if upsampled:  # the resampler holds back its first few milliseconds
            self._decoder.process_raw(upsampled, False, False)
        self._frames += 1
        if self._frames % self.partial_every_frames:
            return None
        hyp = self._decoder.hyp()
        text = hyp.hypstr if hyp else ""
        if text == self._last_partial:
            return None
        self._last_partial = text
        return Hypothesis(text, False, self._words())

    def finish(self) -> Hypothesis:
        if not self._in_utterance:
            return Hypothesis("", True)
        tail = self._upsample(np.zeros(0, dtype=np.int16), last=True)
        if tail:
            self._decoder.process_raw(tail, False, False)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        best = hyp.hypstr if hyp else ""
        final = Hypothesis(best, True, self._words(), self._alternatives(best))
        self._in_utterance = False
        self._last_partial = ""
        self._offset_seconds = self._fed_seconds
        self._resampler = self._new_resampler()
        return final

    def _alternatives(self, best: str) -> tuple[str, ...]:
        """The next-best distinct readings from the lattice (n-best): measured at about 25 %
        more decoding per utterance, so only where urgency can hide, in three words or more."""
        if len(best.split()) < ALTERNATIVES_MIN_WORDS:
            return ()
        readings: dict[str, None] = {}
        try:
            for index, hypothesis in enumerate(self._decoder.nbest()):
                text = " ".join(word for word in hypothesis.hypstr.split() if not word.startswith(("<", "[")))
                if text and text != best:
                    readings[text] = None
                if len(readings) >= MAX_ALTERNATIVES or index >= 4 * MAX_ALTERNATIVES:
                    break
        except RuntimeError:  # no lattice (e.g. nothing decoded)
            return ()
        return tuple(readings)

    def _new_resampler(self) -> Any:
        # The same float, high-quality path as audio.resample: int16 resampling measurably
        # cost recognition accuracy here.
        import soxr

        return soxr.ResampleStream(self.sample_rate, PocketsphinxRecognizer.model_rate, 1, dtype="float32", quality="HQ")

    def _upsample(self, pcm: np.ndarray, *, last: bool = False) -> bytes:
        out = self._resampler.resample_chunk(pcm.astype(np.float32) / 32768.0, last=last)
        return float_to_int16(out).tobytes()

    def _words(self) -> tuple[Word, ...]:
        frame_seconds = 0.01  # PocketSphinx counts 100 frames a second
        return tuple(
            Word(seg.word.split("(", 1)[0], self._offset_seconds + seg.start_frame * frame_seconds, self._offset_seconds + seg.end_frame * frame_seconds)
            for seg in self._decoder.seg() or ()
            if not seg.word.startswith(("<", "[", "+"))
        )


def recognizer_from_catalog(catalog: Catalog, model_id: str) -> SpeechRecognizer:
    entry = catalog.entry(model_id)
    root = catalog.require(model_id)
    if entry.engine is Engine.VOSK:
        return VoskRecognizer(model_id, entry.language, root)
    if entry.engine is Engine.POCKETSPHINX:
        return PocketsphinxRecognizer(model_id, entry.language, root)
    raise SpeechError("wrong_engine", f"{model_id} is a {entry.engine} model, not a recogniser")
