"""Voice activity and endpointing, driven by chunk durations (never the wall clock).

`SpeechDetector` answers "is this frame speech?" (WebRTC VAD here). `Endpointer` turns that
sequence into events: speech started (the barge-in signal), the utterance ended after a
trailing silence, no input within the state's timeout, and an utterance that runs too long.
`SpeechGate` adds a pre-roll: it passes on only the audio around speech, so a recogniser
never decodes silence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from .audio import FRAME_MS, TELEPHONE_RATE, pcm_rms

PRE_ROLL_SECONDS = 0.3
"""Audio kept from before speech was detected, so the first syllable is not lost."""

# Durations are sums of frame lengths (0.02 + 0.02 + ...), which floats do not add exactly:
# ten 20 ms frames come to 0.19999999999999998 s. Thresholds allow for that.
_TOLERANCE_SECONDS = 1e-6


class VadEvent(StrEnum):
    SPEECH_STARTED = "speech_started"
    UTTERANCE_ENDED = "utterance_ended"
    NO_INPUT = "no_input"
    MAX_LENGTH = "max_length"


class SpeechDetector(ABC):
    """Classifies one frame of 16-bit mono PCM."""

    sample_rate: int = TELEPHONE_RATE
    frame_ms: int = FRAME_MS

    @abstractmethod
    def is_speech(self, frame: bytes) -> bool: ...


class WebRtcSpeechDetector(SpeechDetector):
    """Google's WebRTC VAD; `aggressiveness` 0 (lenient) to 3 (strict)."""

    QUIET_RMS = 80
    """About -52 dBFS: a frame this quiet is silence whatever the VAD says. WebRTC VAD keeps
    saying "speech" for a few frames after speech ends (its hangover); on a quiet line that
    would only delay the end of the utterance, and with it the robot's reply."""

    def __init__(self, aggressiveness: int = 2, sample_rate: int = TELEPHONE_RATE, frame_ms: int = FRAME_MS) -> None:
        import webrtcvad

        if frame_ms not in (10, 20, 30):
            raise ValueError("WebRTC VAD takes 10, 20 or 30 ms frames")
        self._vad = webrtcvad.Vad(aggressiveness)
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms

    def is_speech(self, frame: bytes) -> bool:
        speech = bool(self._vad.is_speech(frame, self.sample_rate))  # always called: the VAD tracks its noise floor
        return speech and pcm_rms(frame) >= self.QUIET_RMS


@dataclass(frozen=True)
class EndpointSettings:
    speech_start_seconds: float = 0.06
    """Continuous speech needed before it counts (filters clicks and line noise)."""
    end_silence_seconds: float = 0.55
    """Trailing silence that ends an utterance."""
    short_answer_end_silence_seconds: float = 0.35
    """... after a complete short answer (是 / 没有 / yes / no): answered sooner. A comma after
    "No," lasts up to 0.3 s in Piper's speech (measured), so not less: the rest would be cut off."""
    trailing_end_silence_seconds: float = 1.2
    """... after words that trail off (然后… / and…) or a lone filler ("oh", 喂): more is coming."""
    max_utterance_seconds: float = 15.0


class Endpointer:
    """Pure endpointing logic over (is_speech, seconds) chunks."""

    def __init__(self, settings: EndpointSettings | None = None) -> None:
        self.settings = settings or EndpointSettings()
        self.in_speech = False
        self._speech_run = 0.0
        self._silence_run = 0.0
        self._utterance_seconds = 0.0
        self._no_input_timeout: float | None = None
        self._waited = 0.0
        self._end_silence = self.settings.end_silence_seconds
        self.last_end_silence = self.settings.end_silence_seconds
        """The trailing silence that ended the last utterance."""

    def set_end_silence(self, seconds: float | None) -> None:
        """The silence that ends the current utterance (None: the default), from what it
        says so far; back to the default at the next utterance."""
        self._end_silence = self.settings.end_silence_seconds if seconds is None else seconds

    def listen(self, no_input_timeout_seconds: float) -> None:
        """The robot finished its prompt: start timing the callee's silence."""
        self._no_input_timeout = no_input_timeout_seconds
        self._waited = 0.0

    def process(self, is_speech: bool, seconds: float) -> list[VadEvent]:
        events: list[VadEvent] = []
        if not self.in_speech:
            if is_speech:
                self._speech_run += seconds
                if self._speech_run >= self.settings.speech_start_seconds - _TOLERANCE_SECONDS:
                    self.in_speech = True
                    self._end_silence = self.settings.end_silence_seconds
                    self._utterance_seconds = self._speech_run
                    self._silence_run = 0.0
                    self._no_input_timeout = None
                    events.append(VadEvent.SPEECH_STARTED)
                return events
            self._speech_run = 0.0
            if self._no_input_timeout is not None:
                self._waited += seconds
                if self._waited >= self._no_input_timeout - _TOLERANCE_SECONDS:
                    self._no_input_timeout = None
                    events.append(VadEvent.NO_INPUT)
            return events
        self._utterance_seconds += seconds
        self._silence_run = 0.0 if is_speech else self._silence_run + seconds
        if self._silence_run >= self._end_silence - _TOLERANCE_SECONDS:
            self.last_end_silence = self._end_silence
            events.append(VadEvent.UTTERANCE_ENDED)
            self._end_utterance()
        elif self._utterance_seconds >= self.settings.max_utterance_seconds - _TOLERANCE_SECONDS:
            events.append(VadEvent.MAX_LENGTH)
            self._end_utterance()
        return events

    def _end_utterance(self) -> None:
        self.in_speech = False
        self._speech_run = 0.0
        self._silence_run = 0.0


class VoiceActivity:
    """A detector and an endpointer together: feed frames, get events."""

    def __init__(self, detector: SpeechDetector, settings: EndpointSettings | None = None) -> None:
        self.detector = detector
        self.endpointer = Endpointer(settings)
        self.frame_seconds = detector.frame_ms / 1000

    def process(self, frame: bytes) -> tuple[bool, list[VadEvent]]:
        speech = self.detector.is_speech(frame)
        return speech, self.endpointer.process(speech, self.frame_seconds)


class Gated(NamedTuple):
    speech: bool
    events: list[VadEvent]
    passed: list[bytes]
    """The audio to recognise: at speech start the pre-roll and this frame, then each frame
    while the utterance lasts; nothing in silence."""


class SpeechGate:
    """Voice activity with a pre-roll: passes on only the audio around speech."""

    def __init__(self, activity: VoiceActivity, pre_roll_seconds: float = PRE_ROLL_SECONDS) -> None:
        self.activity = activity
        self._pre_roll: deque[bytes] = deque(maxlen=max(1, round(pre_roll_seconds / activity.frame_seconds)))
        self.passed_any = False

    def process(self, frame: bytes) -> Gated:
        speech, events = self.activity.process(frame)
        if not self.activity.endpointer.in_speech:
            self._pre_roll.append(frame)
            return Gated(speech, events, [])
        passed = [*self._pre_roll, frame]
        self._pre_roll.clear()
        self.passed_any = True
        return Gated(speech, events, passed)
