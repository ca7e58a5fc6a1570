"""Piper at telephone rate, sentence streaming off the loop, and the prompt cache."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from robot.dialog.loader import load_script
from robot.speech.audio import read_wav
from robot.speech.error import SpeechError
from robot.speech.prompts import PromptCache, script_sentences
from robot.speech.tts import PiperSynthesizer, split_sentences, synthesize_sentences
from tests.conftest import DIALOGS, REPO
from tests.speech.conftest import FakeSynthesizer


def test_split_sentences():
    assert split_sentences("您好，这里是反诈中心。请问是王先生吗？ Mr. Lee, hello. Call 96110!") == [
        "您好，这里是反诈中心。",
        "请问是王先生吗？",
        "Mr. Lee, hello.",
        "Call 96110!",
    ]


def test_piper_renders_at_the_call_rate(joe):
    audio = joe.render("Hello.", 8000)
    assert audio.dtype == np.int16
    assert 0.3 < len(audio) / 8000 < 2.0
    assert np.abs(audio).max() > 3000  # not silence
    assert len(joe.model_checksum) == 64


async def test_sentences_come_one_at_a_time_off_the_event_loop():
    fake = FakeSynthesizer()
    loop_thread = threading.get_ident()
    threads = []
    original = fake.synthesize

    def spying(text):
        threads.append(threading.get_ident())
        return original(text)

    fake.synthesize = spying  # type: ignore[method-assign]
    lengths = [len(chunk) async for chunk in synthesize_sentences(fake, "One. Two and two.", 8000)]
    assert fake.calls == ["One.", "Two and two."]
    assert lengths == [round(0.05 * 4 * 8000), round(0.05 * 12 * 8000)]
    assert loop_thread not in threads


def test_a_pinyin_voice_never_downloads(tmp_path):
    (tmp_path / "v.onnx").write_bytes(b"")
    (tmp_path / "v.onnx.json").write_text(json.dumps({"phoneme_type": "pinyin", "audio": {"sample_rate": 22050}}))
    with pytest.raises(SpeechError, match="needs the g2pW model"):
        PiperSynthesizer("zh_CN-test", tmp_path / "v.onnx", tmp_path / "v.onnx.json")


async def test_cache_hit_never_synthesises_and_survives_restart(tmp_path):
    fake = FakeSynthesizer()
    cache = PromptCache(tmp_path, fake, 8000)
    first = await cache.sentence("Hello there.")
    assert fake.calls == ["Hello there."]
    samples, rate = read_wav(first)
    assert rate == 8000 and len(samples) == round(0.05 * 12 * 8000)
    assert await cache.sentence("Hello there.") == first
    restarted = PromptCache(tmp_path, fake, 8000)
    assert restarted.lookup("Hello there.") == first
    assert await restarted.sentence("Hello there.") == first
    assert fake.calls == ["Hello there."]


async def test_cache_key_has_voice_checksum_text_and_rate(tmp_path):
    base = PromptCache(tmp_path, FakeSynthesizer("a"), 8000)
    paths = {
        base.path_for("Hi."),
        base.path_for("Hi!"),
        PromptCache(tmp_path, FakeSynthesizer("b"), 8000).path_for("Hi."),
        PromptCache(tmp_path, FakeSynthesizer("a"), 16000).path_for("Hi."),
    }
    assert len(paths) == 4


async def test_concurrent_requests_synthesise_once(tmp_path):
    fake = FakeSynthesizer()
    cache = PromptCache(tmp_path, fake, 8000)
    results = await asyncio.gather(*(cache.sentence("Same words.") for _ in range(5)))
    assert len(set(results)) == 1
    assert fake.calls == ["Same words."]


async def test_prompt_streams_sentence_files_in_order(tmp_path):
    fake = FakeSynthesizer()
    cache = PromptCache(tmp_path, fake, 8000)
    await cache.sentence("Second one.")
    files = [path async for path in cache.prompt("First one. Second one.")]
    assert files == [cache.path_for("First one."), cache.path_for("Second one.")]
    assert fake.calls == ["Second one.", "First one."]


def test_script_sentences_cover_every_prompt_with_defaults():
    script = load_script(DIALOGS / "en-US" / "generic.yaml").script
    sentences = script_sentences(script)
    assert "Am I speaking with the account holder?" in sentences  # {name} at its default
    assert "Please say yes or no." in sentences  # a reprompt
    assert "If anyone asks you for money, call 96110." in sentences
    assert len(sentences) == len(set(sentences))
    zh = script_sentences(load_script(DIALOGS / "zh-CN" / "investment.yaml").script)
    assert "请问您有没有往对方推荐的平台充值或者转过钱？" in zh  # folded YAML lines joined without a space


def test_voices_render_fills_the_cache_for_the_shipped_scripts(tmp_path):
    env = {**os.environ, "ROBOT_CACHE_DIR": str(tmp_path / "cache"), "ROBOT_MODELS_DIR": str(tmp_path / "models")}
    command = [sys.executable, "-m", "robot.cli", "voices", "render", "dialogs", "--skip-missing"]
    first = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    english = len(script_sentences(load_script(DIALOGS / "en-US" / "generic.yaml").script))
    assert f"en_US-joe-medium: {english} rendered, 0 already cached, at 8000 Hz" in first.stdout
    assert "skipped zh_CN-huayan-medium" in first.stderr and "robot voices install zh_CN-huayan-medium" in first.stderr
    assert len(list((tmp_path / "cache" / "en_US-joe-medium" / "8000").rglob("*.wav"))) == english
    second = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert f"en_US-joe-medium: 0 rendered, {english} already cached" in second.stdout
    strict = subprocess.run(command[:-1], capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert strict.returncode == 1 and "zh_CN-huayan-medium" in strict.stderr


async def test_the_next_sentence_is_synthesised_while_the_one_before_plays(tmp_path):
    import threading

    class Watched(FakeSynthesizer):
        def __init__(self) -> None:
            super().__init__()
            self.second_started = threading.Event()

        def synthesize(self, text):  # type: ignore[no-untyped-def]
            if text == "Am I speaking with Alex?":
                self.second_started.set()
            return super().synthesize(text)

    fake = Watched()
    cache = PromptCache(tmp_path, fake, 8000)
    sentences = cache.prompt("Hello, this is the anti-fraud centre. Am I speaking with Alex?")
    first = await anext(sentences)  # the robot is now playing this one and has not asked for more
    assert first == cache.path_for("Hello, this is the anti-fraud centre.")
    # No gap in the robot's speech for a whole synthesis: the second is already under way.
    assert await asyncio.to_thread(fake.second_started.wait, 10)
    assert await anext(sentences) == cache.path_for("Am I speaking with Alex?")
    assert fake.calls == ["Hello, this is the anti-fraud centre.", "Am I speaking with Alex?"]


async def test_cache_folders_and_files_are_the_robots_alone(tmp_path):
    cache = PromptCache(tmp_path / "cache", FakeSynthesizer(), 8000)
    path = await cache.sentence("Hello there.")
    assert path.stat().st_mode & 0o777 == 0o600
    folder = path.parent
    while folder != tmp_path:
        assert folder.stat().st_mode & 0o777 == 0o700, folder
        folder = folder.parent


async def test_a_calls_personal_sentences_are_never_cached_and_are_gone_once_played(tmp_path):
    fake = FakeSynthesizer()
    cache = PromptCache(tmp_path, fake, 8000)
    call = cache.for_call({"Hello.", "Goodbye."})
    files = []
    async for path in call.prompt("Hello. This is for Li Hua. Goodbye."):
        assert path.exists()
        files.append(path)
    assert files[0] == cache.path_for("Hello.") and files[2] == cache.path_for("Goodbye.")
    personal = files[1]
    assert tmp_path not in personal.parents and not personal.exists()  # played, then deleted
    assert personal.parent.stat().st_mode & 0o777 == 0o700
    assert cache.lookup("This is for Li Hua.") is None
    assert all("Li Hua" not in str(p) for p in tmp_path.rglob("*"))
    assert fake.calls == ["Hello.", "This is for Li Hua.", "Goodbye."]


async def test_a_personal_sentence_cut_off_by_barge_in_is_deleted_too(tmp_path):
    cache = PromptCache(tmp_path, FakeSynthesizer(), 8000)
    sentences = cache.for_call(set()).prompt("Mr. Li, hello. Your account is at risk.")
    first = await anext(sentences)
    await sentences.aclose()  # the callee barged in while the first sentence played
    await cache.idle()  # the second, still being synthesised, is removed when it is done
    assert not first.exists() and not list(first.parent.glob("*.wav"))
