"""PCM helpers: resampling (soxr), G.711 μ-law, WAV files, 20 ms frames.

Samples are mono signed 16-bit, as numpy int16 arrays or little-endian bytes.
"""

from __future__ import annotations

import warnings
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soxr

from .error import SpeechError

with warnings.catch_warnings():
    # stdlib audioop is deprecated (gone in 3.13, where the `audioop-lts` package provides it)
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

FRAME_MS = 20
TELEPHONE_RATE = 8000


def pcm_rms(frame: bytes) -> int:
    """Root-mean-square level of 16-bit PCM."""
    return int(audioop.rms(frame, 2))


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """High-quality resampling to another rate, as int16."""
    if from_rate == to_rate:
        return samples.astype(np.int16, copy=False)
    out = soxr.resample(samples.astype(np.float32) / 32768.0, from_rate, to_rate, quality="HQ")
    return float_to_int16(out)


def float_to_int16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def ulaw_encode(samples: np.ndarray) -> bytes:
    """G.711 μ-law, one byte per sample."""
    return audioop.lin2ulaw(samples.astype(np.int16).tobytes(), 2)


def ulaw_decode(data: bytes) -> np.ndarray:
    return np.frombuffer(audioop.ulaw2lin(data, 2), dtype=np.int16)


def g711_round_trip(samples: np.ndarray) -> np.ndarray:
    """What a μ-law phone line does to 8 kHz audio."""
    return ulaw_decode(ulaw_encode(samples))


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV (mono, or the first channel). Returns samples and rate."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise SpeechError("bad_audio", f"{path}: expected 16-bit PCM, got {8 * wav.getsampwidth()}-bit")
            rate, channels = wav.getframerate(), wav.getnchannels()
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    except (OSError, EOFError, wave.Error) as err:
        raise SpeechError("bad_audio", f"{path}: cannot read WAV: {err}") from err
    return samples[::channels].copy(), rate


def trim_leading_silence(samples: np.ndarray, sample_rate: int, *, threshold_rms: float = 300.0,
                         keep_seconds: float = 0.01) -> np.ndarray:
    """Drop the quiet start of synthesised speech (Piper leaves 20 to 60 ms), keeping 10 ms:
    every millisecond before the first sound is response latency at the callee."""
    window = max(1, sample_rate // 100)
    count = len(samples) // window
    if count == 0:
        return samples
    blocks = samples[: count * window].astype(np.float64).reshape(count, window)
    loud = np.nonzero(np.sqrt((blocks**2).mean(axis=1)) > threshold_rms)[0]
    if len(loud) == 0:
        return samples
    return samples[max(0, int(loud[0]) * window - int(keep_seconds * sample_rate)):]


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(samples.astype(np.int16).tobytes())


def write_ulaw_wav(path: str | Path, samples: np.ndarray) -> None:
    """An 8 kHz G.711 μ-law WAV (format tag 7), as SIPp's rtp_stream and phones expect."""
    data = ulaw_encode(samples)
    header = (
        b"RIFF" + (50 + len(data)).to_bytes(4, "little") + b"WAVE"
        + b"fmt " + (18).to_bytes(4, "little")
        + (7).to_bytes(2, "little") + (1).to_bytes(2, "little")
        + TELEPHONE_RATE.to_bytes(4, "little") + TELEPHONE_RATE.to_bytes(4, "little")
        + (1).to_bytes(2, "little") + (8).to_bytes(2, "little") + (0).to_bytes(2, "little")
        + b"fact" + (4).to_bytes(4, "little") + len(data).to_bytes(4, "little")
        + b"data" + len(data).to_bytes(4, "little")
    )
    Path(path).write_bytes(header + data)


def frames(samples: np.ndarray, sample_rate: int, frame_ms: int = FRAME_MS) -> Iterator[bytes]:
    """Split audio into whole frames of `frame_ms`, padding the last with silence."""
    size = sample_rate * frame_ms // 1000
    for start in range(0, len(samples), size):
        chunk = samples[start : start + size]
        if len(chunk) < size:
            chunk = np.concatenate([chunk, np.zeros(size - len(chunk), dtype=np.int16)])
        yield chunk.astype(np.int16).tobytes()


def silence(seconds: float, sample_rate: int) -> np.ndarray:
    return np.zeros(round(seconds * sample_rate), dtype=np.int16)
