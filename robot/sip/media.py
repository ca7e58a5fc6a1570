"""The media bridge: received audio to Python, prompts from WAV files, recording.

Everything here is created and destroyed on the pjsua thread. The two callbacks that run
on the media clock thread (`onFrameReceived`, `onEof2`) only append to a deque or post a
note to the event loop: they must return within microseconds.
"""

from __future__ import annotations

import ctypes
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pjsua2 as pj

FRAME_MS = 20
RATE = 8000
FRAME_BYTES = RATE * FRAME_MS // 1000 * 2
SILENT_FRAME = bytes(FRAME_BYTES)


def _vector_bytes_slow(vector: Any) -> bytes:
    return bytes(vector)  # SWIG iterates the std::vector element by element: about 320 µs a frame


_POINTER = ctypes.sizeof(ctypes.c_void_p)


def _vector_bytes_fast(vector: Any) -> bytes:
    """Copy a pjsua2 ByteVector (std::vector<unsigned char>) in one memcpy: about 5 µs.

    Reads the vector's begin and end pointers from the SWIG-wrapped object. Used only if
    `_choose_vector_bytes` proved at import that it returns exactly what `bytes()` does."""
    address = int(vector.this)
    begin = ctypes.c_void_p.from_address(address).value
    end = ctypes.c_void_p.from_address(address + _POINTER).value
    if not begin or not end or end < begin:
        return b""
    return ctypes.string_at(begin, end - begin)


def _choose_vector_bytes() -> Callable[[Any], bytes]:
    probe = pj.ByteVector()
    for value in range(FRAME_BYTES):
        probe.append(value * 7 % 256)
    try:
        if _vector_bytes_fast(probe) == bytes(probe) and _vector_bytes_fast(pj.ByteVector()) == b"":
            return _vector_bytes_fast
    except (AttributeError, TypeError, ValueError, OSError):
        pass
    return _vector_bytes_slow


vector_bytes = _choose_vector_bytes()
"""The bytes of a media frame's buffer, as fast as this build allows (media thread: every µs counts)."""


def audio_format() -> pj.MediaFormatAudio:
    fmt = pj.MediaFormatAudio()
    fmt.type = pj.PJMEDIA_TYPE_AUDIO
    fmt.clockRate = RATE
    fmt.channelCount = 1
    fmt.bitsPerSample = 16
    fmt.frameTimeUsec = FRAME_MS * 1000
    return fmt


class ReceivePort(pj.AudioMediaPort):
    """Receives the callee's audio: 20 ms frames of 8 kHz 16-bit PCM into a deque.

    `deque.append` and `popleft` are atomic in CPython, so the media thread and the event
    loop share the deque without a lock. At most 10 s is kept if the loop falls behind.
    """

    def __init__(self) -> None:
        super().__init__()
        self.frames: deque[bytes] = deque(maxlen=500)
        self.received = 0
        self.dropped = 0
        """Frames lost because the event loop fell 10 s behind."""
        self.gaps = 0
        """Ticks with no callee audio ready (jitter-buffer underruns, lost RTP)."""

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:  # noqa: N802 - pjsua2 name
        if len(self.frames) == self.frames.maxlen:
            self.dropped += 1
        data = vector_bytes(frame.buf)
        # A tick with no audio still lasts 20 ms: keep audio time exact with silence.
        if len(data) != FRAME_BYTES:
            self.gaps += 1
            data = SILENT_FRAME
        self.frames.append(data)
        self.received += 1

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:  # noqa: N802 - pjsua2 name
        frame.type = pj.PJMEDIA_FRAME_TYPE_NONE  # this port only listens


class PromptPlayer(pj.AudioMediaPlayer):
    """Plays one WAV file once, with no Python per frame; tells the loop when it ends."""

    def __init__(self, path: Path, on_end: Callable[[], None]) -> None:
        super().__init__()
        self._on_end = on_end
        self.createPlayer(str(path), pj.PJMEDIA_FILE_NO_LOOP)

    def onEof2(self) -> None:  # noqa: N802 - pjsua2 name
        self._on_end()
