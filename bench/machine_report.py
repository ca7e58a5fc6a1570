"""The machine-detection rows and section of docs/benchmarks.md (from bench/results/machine.json)."""

from __future__ import annotations

from typing import Any

MACHINES_TARGET = 95.0
PEOPLE_TARGET = 2.0
DECISION_P95_TARGET = 4.0


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def machine_rows(found: dict[str, Any] | None) -> list[str]:
    """Summary rows: the held-out set's figures (the ones that count)."""
    if not found or "held_out" not in found["summary"]:
        return []
    held = found["summary"]["held_out"]["all"]
    return [
        f"| machine detection, held-out: machines detected | {held['machines_detected_percent']:.1f} % | >= 95 % | "
        f"{_met(held['machines_detected_percent'] >= MACHINES_TARGET)} |",
        f"| machine detection, held-out: people called machines | {held['people_called_machines_percent']:.1f} % | <= 2 % | "
        f"{_met(held['people_called_machines_percent'] <= PEOPLE_TARGET)} |",
        f"| machine detection, held-out: decision p95 after answer | {held['decision_p95_seconds']:.2f} s | <= 4 s | "
        f"{_met(held['decision_p95_seconds'] <= DECISION_P95_TARGET)} |",
    ]


def machine_section(found: dict[str, Any] | None) -> list[str]:
    if not found:
        return []
    lines = ["## Machine detection: the first seconds after answer", "",
             "Command: `.venv/bin/python bench/machine.py` (issue 16). Openings as a call hears them (G.711, 8 kHz): "
             "voicemail greetings with and without a beep, phone assistants asking the caller's purpose, carrier "
             "secretary messages, and people (a hello and a wait, a name, a long pick-up line, silence), in Piper joe "
             "and espeak-ng voices, English heard by PocketSphinx, Korean by the Vosk Korean model; Mandarin has no "
             "recogniser installable here, so its text is revealed at speaking pace 0.3 s behind the audio. Each "
             "opening runs through the detector a call uses, for 8 s. `bench/machine_heldout.yaml` was written by a "
             "helper that never saw the detector or its words and was never tuned against: **its figures count**.", "",
             "| set | language | openings | machines detected | people called machines | kind right | "
             "decision p50 / p95 |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, languages in found["summary"].items():
        for language, row in languages.items():
            label = "**held-out**" if name == "held_out" else name
            lines.append(f"| {label} | {language} | {row['openings']} ({row['machines']} machines) | "
                         f"{row['machines_detected_percent']:.1f} % | {row['people_called_machines_percent']:.1f} % | "
                         f"{row['kind_right_percent']:.1f} % | {row['decision_p50_seconds']:.2f} / "
                         f"{row['decision_p95_seconds']:.2f} s |")
    return [*lines, ""]
