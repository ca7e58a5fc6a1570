"""The voicemail beep: a steady tone of 0.3 to 2 s between 400 and 2,000 Hz.

Each 20 ms frame's spectrum (an FFT, no model) is tonal when one narrow band in that range
holds most of its energy; a run of tonal frames at one frequency, long enough and not too
long, is a beep. Speech is never that pure nor that steady. Driven by frames, so audio time
is the only clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..speech.audio import TELEPHONE_RATE

FFT_SIZE = 256
"""A 20 ms frame (160 samples at 8 kHz) zero-padded: bins of about 31 Hz."""


@dataclass(frozen=True)
class BeepSettings:
    low_hz: float = 400.0
    high_hz: float = 2000.0
    min_seconds: float = 0.3
    max_seconds: float = 2.0
    purity: float = 0.6
    """Share of the frame's energy in the peak band (the peak bin and its neighbours)."""
    min_rms: float = 300.0
    """Quieter frames are not a beep (about -40 dBFS)."""
    drift_bins: int = 2
    """How far the peak may wander from frame to frame and still be one tone."""


@dataclass(frozen=True)
class Beep:
    started_seconds: float
    ended_seconds: float
    hz: float

    @property
    def seconds(self) -> float:
        return round(self.ended_seconds - self.started_seconds, 3)


class BeepDetector:
    def __init__(self, settings: BeepSettings | None = None, sample_rate: int = TELEPHONE_RATE) -> None:
        self.settings = settings or BeepSettings()
        self.sample_rate = sample_rate
        frequencies = np.fft.rfftfreq(FFT_SIZE, 1 / sample_rate)
        self._band = np.flatnonzero((frequencies >= self.settings.low_hz) & (frequencies <= self.settings.high_hz))
        self._frequencies = frequencies
        self._window = np.hanning(sample_rate // 50)
        self._run_bin: int | None = None
        self._run_start = 0.0
        self._run_frames = 0
        self.seconds = 0.0
        """Audio time: the end of the last frame fed."""

    def tonal_bin(self, frame: bytes) -> int | None:
        """The frame's peak bin if the frame is a pure tone in the band, else None."""
        samples = np.frombuffer(frame, dtype=np.int16).astype(np.float32)
        if samples.size == 0 or float(np.sqrt(np.mean(samples**2))) < self.settings.min_rms:
            return None
        window = self._window if samples.size == self._window.size else np.hanning(samples.size)
        power = np.abs(np.fft.rfft(samples * window, FFT_SIZE)) ** 2
        total = float(power.sum())
        if total <= 0:
            return None
        peak = int(self._band[np.argmax(power[self._band])])
        near = float(power[max(0, peak - 1) : peak + 2].sum())
        return peak if near / total >= self.settings.purity else None

    def feed(self, frame: bytes) -> Beep | None:
        """One frame; a Beep when a tone of the right length has just ended."""
        frame_seconds = len(frame) / 2 / self.sample_rate
        start = self.seconds
        self.seconds += frame_seconds
        peak = self.tonal_bin(frame)
        if peak is not None and self._run_bin is not None and abs(peak - self._run_bin) <= self.settings.drift_bins:
            self._run_frames += 1
            return None
        finished = self._finish(start)
        if peak is not None:
            self._run_bin, self._run_start, self._run_frames = peak, start, 1
        return finished

    def _finish(self, at: float) -> Beep | None:
        if self._run_bin is None:
            return None
        seconds = at - self._run_start
        hz = float(self._frequencies[self._run_bin])
        self._run_bin, self._run_frames = None, 0
        if self.settings.min_seconds - 1e-6 <= seconds <= self.settings.max_seconds + 1e-6:
            return Beep(round(self._run_start, 3), round(at, 3), round(hz))
        return None
