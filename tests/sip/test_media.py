"""The media bridge's frame copy: the fast path must return exactly what bytes() does."""

from __future__ import annotations

import random

import pjsua2 as pj

from robot.sip.media import _vector_bytes_fast, _vector_bytes_slow, vector_bytes


def test_the_fast_frame_copy_is_used_and_exact():
    assert vector_bytes is _vector_bytes_fast  # the libstdc++ layout check passed on this build
    rng = random.Random(7)
    for size in (0, 1, 160, 320, 640):
        vector = pj.ByteVector()
        for _ in range(size):
            vector.append(rng.randrange(256))
        assert _vector_bytes_fast(vector) == _vector_bytes_slow(vector)
    frame = pj.MediaFrame()
    frame.buf = pj.ByteVector([1, 2, 3, 250])
    assert vector_bytes(frame.buf) == bytes([1, 2, 3, 250])
