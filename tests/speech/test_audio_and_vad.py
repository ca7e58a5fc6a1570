"""Audio helpers, and VAD/endpointing that are exact on virtual (audio) time."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from robot.speech.audio import (
    TELEPHONE_RATE,
    frames,
    g711_round_trip,
    read_wav,
    resample,
    silence,
    write_ulaw_wav,
    write_wav,
)
from robot.speech.vad import (
    Endpointer,
    EndpointSettings,
    VadEvent,
    VoiceActivity,
    WebRtcSpeechDetector,
)


def test_resample_and_round_trip_keep_length_and_shape():
    t = np.arange(22050) / 22050
    tone = (np.sin(2 * np.pi * 300 * t) * 10000).astype(np.int16)
    narrow = resample(tone, 22050, 8000)
    assert narrow.dtype == np.int16 and len(narrow) == 8000
    line = g711_round_trip(narrow)
    assert len(line) == len(narrow)
    # μ-law keeps a loud tone to within a few percent.
    assert np.abs(line.astype(int) - narrow.astype(int)).max() < 0.05 * 10000


def test_wav_files(tmp_path):
    samples = (np.arange(800) % 100 * 100).astype(np.int16)
    write_wav(tmp_path / "a.wav", samples, 8000)
    back, rate = read_wav(tmp_path / "a.wav")
    assert rate == 8000 and np.array_equal(back, samples)
    write_ulaw_wav(tmp_path / "u.wav", samples)
    raw = (tmp_path / "u.wav").read_bytes()
    assert raw[20:22] == (7).to_bytes(2, "little")  # WAVE_FORMAT_MULAW, as SIPp plays it
    assert len(raw) == 58 + len(samples)
    with pytest.raises(Exception, match="cannot read WAV"):
        read_wav(tmp_path / "missing.wav")
    with wave.open(str(tmp_path / "a.wav")) as wav:
        assert wav.getframerate() == 8000


def test_frames_are_whole_20ms_frames():
    chunks = list(frames(np.ones(170, dtype=np.int16), 8000))
    assert [len(chunk) for chunk in chunks] == [320, 320]
    assert chunks[1][20:] == bytes(300)  # padded with silence


def run(endpointer: Endpointer, pattern: str, frame_seconds: float = 0.02) -> list[tuple[float, VadEvent]]:
    """Feed a pattern of speech ('#') and silence ('.') frames; return (time, event) pairs."""
    out = []
    for index, symbol in enumerate(pattern):
        for event in endpointer.process(symbol == "#", frame_seconds):
            out.append((round((index + 1) * frame_seconds, 3), event))
    return out


def test_endpointing_is_exact_on_virtual_time():
    endpointer = Endpointer(EndpointSettings(speech_start_seconds=0.06, end_silence_seconds=0.2, max_utterance_seconds=5))
    endpointer.listen(no_input_timeout_seconds=1.0)
    pattern = "." * 10 + "##" + "." + "#" * 20 + "." * 5 + "#" * 3 + "." * 10
    assert run(endpointer, pattern) == [
        (0.32, VadEvent.SPEECH_STARTED),  # frame 16: the 3rd speech frame in a row; the 2-frame blip is not enough
        (1.02, VadEvent.UTTERANCE_ENDED),  # frame 51: 10 silent frames (0.2 s) after the last speech frame
    ]


def test_no_input_timeout_and_max_length():
    endpointer = Endpointer(EndpointSettings(max_utterance_seconds=0.5))
    endpointer.listen(no_input_timeout_seconds=0.3)
    assert run(endpointer, "." * 20) == [(0.3, VadEvent.NO_INPUT)]
    endpointer.listen(no_input_timeout_seconds=10)
    assert run(endpointer, "#" * 40) == [(0.06, VadEvent.SPEECH_STARTED), (0.5, VadEvent.MAX_LENGTH), (0.56, VadEvent.SPEECH_STARTED)]


def test_no_input_only_after_the_prompt():
    endpointer = Endpointer()
    assert run(endpointer, "." * 600) == []  # the robot is still talking: no timer
    endpointer.listen(6.0)
    assert run(endpointer, "." * 300)[-1] == (6.0, VadEvent.NO_INPUT)


def test_webrtc_vad_on_synthesised_speech(phone_audio):
    audio, speech_start, speech_end = phone_audio("Yes, this is me speaking.", before_seconds=1.0, after_seconds=1.0)
    activity = VoiceActivity(WebRtcSpeechDetector(), EndpointSettings(end_silence_seconds=0.55))
    decisions, events = [], []
    for index, frame in enumerate(frames(audio, TELEPHONE_RATE)):
        speech, found = activity.process(frame)
        decisions.append(speech)
        events += [(round((index + 1) * 0.02, 2), event) for event in found]
    started = [at for at, event in events if event is VadEvent.SPEECH_STARTED]
    ended = [at for at, event in events if event is VadEvent.UTTERANCE_ENDED]
    assert len(started) == 1 and len(ended) == 1
    assert speech_start <= started[0] <= speech_start + 0.2
    last_speech = (max(i for i, s in enumerate(decisions) if s) + 1) * 0.02
    assert ended[0] == pytest.approx(last_speech + 0.56, abs=0.001)  # exactly the trailing silence later
    assert speech_end - 0.3 <= last_speech <= speech_end + 0.05


def test_silence_is_not_speech():
    detector = WebRtcSpeechDetector()
    assert not any(detector.is_speech(frame) for frame in frames(silence(1.0, TELEPHONE_RATE), TELEPHONE_RATE))


def test_leading_silence_is_trimmed_to_10_ms():
    import numpy as np

    from robot.speech.audio import trim_leading_silence

    rate = 8000
    speech = np.concatenate([np.zeros(400), np.full(800, 3000.0), np.zeros(400)])  # 50 ms quiet, 100 ms loud
    trimmed = trim_leading_silence(speech, rate)
    assert len(trimmed) == len(speech) - 400 + 80  # 10 ms kept before the sound
    assert trim_leading_silence(np.zeros(800), rate).shape == (800,)  # all quiet: unchanged


def test_a_quiet_line_ends_speech_at_once_without_the_vads_hangover():
    import numpy as np

    from robot.speech.audio import frames
    from robot.speech.vad import WebRtcSpeechDetector

    rate = 8000
    t = np.arange(rate) / rate
    voiced = (6000 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.int16)
    detector = WebRtcSpeechDetector()
    loud = [detector.is_speech(frame) for frame in frames(voiced, rate)]
    assert sum(loud) > len(loud) // 2
    quiet_after = [detector.is_speech(frame) for frame in frames(np.zeros(rate // 5, dtype=np.int16), rate)]
    assert not any(quiet_after)  # digital silence right after speech: silence from the first frame
