"""How well the robot understands callees: every labelled set under bench/understanding/.

    python bench/understanding/run.py [--errors]

The held-out set (heldout.yaml, written by a helper who never saw the detector, before it
was tuned, and never used to tune it) is the one that counts; the development sets
(dev*.yaml) were used to tune the word lists and to train the classifier. For each set and
language: accuracy, per-label precision and recall, the urgent-vs-everything-else confusion;
then what each part of the understanding adds on the held-out set (the classifier, matching
English by sound: its false positives). Writes bench/results/understanding.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from robot.dialog.const import Language  # noqa: E402
from robot.dialog.loader import load_script  # noqa: E402
from robot.understanding.danger import danger_detector  # noqa: E402
from robot.understanding.evaluation import Item, Report, evaluate, load_items  # noqa: E402

HELD_OUT = "heldout.yaml"


def scripts() -> dict[str, Any]:
    found = {}
    for path in sorted((REPO / "dialogs").rglob("*.yaml")):
        script = load_script(path).script
        found[f"{script.meta.language.value}/{script.meta.id}"] = script
    return found


def sets() -> list[Path]:
    return [HERE / HELD_OUT, *sorted(path for path in HERE.glob("dev*.yaml"))]


def summary(report: Report) -> dict[str, Any]:
    return {"turns": len(report.outcomes), "right": round(report.accuracy, 4), "exact_label": round(report.exact, 4),
            "urgent": report.urgent, "missed_urgent": len(report.missed_urgent),
            "false_escalations": len(report.false_escalations),
            "false_escalation_rate": round(len(report.false_escalations) / max(1, report.not_urgent), 4),
            "per_label": {label.value: {"precision": round(hits / predicted, 3) if predicted else None,
                                        "recall": round(hits / expected, 3) if expected else None, "turns": expected}
                          for label, (hits, predicted, expected) in report.per_label.items()}}


async def measure(items: list[Item], found: dict[str, Any]) -> Report:
    return Report(await evaluate(items, found))


async def ablations(items: list[Item], found: dict[str, Any]) -> dict[str, Any]:
    """On the held-out set: the same turns without the classifier, and without matching by sound."""
    results: dict[str, Any] = {}
    detectors = [danger_detector(language) for language in (Language.ZH_CN, Language.EN_US)]
    classifiers = [detector.classifier if detector else None for detector in detectors]
    for detector in detectors:
        if detector is not None:
            detector.classifier = None  # type: ignore[misc]
    results["without_classifier"] = summary(await measure(items, found))
    for detector, classifier in zip(detectors, classifiers, strict=True):
        if detector is not None:
            detector.classifier = classifier  # type: ignore[misc]
    english = danger_detector(Language.EN_US)
    assert english is not None
    sound = {name: matcher.sound for name, matcher in english._m.items()}
    with_sound = await measure([item for item in items if item.script.startswith("en")], found)
    for matcher in english._m.values():
        matcher.sound = []
    without_sound = await measure([item for item in items if item.script.startswith("en")], found)
    for name, matcher in english._m.items():
        matcher.sound = sound[name]
    results["english_by_sound"] = {
        "false_escalations_with": len(with_sound.false_escalations),
        "false_escalations_without": len(without_sound.false_escalations),
        "missed_urgent_with": len(with_sound.missed_urgent),
        "missed_urgent_without": len(without_sound.missed_urgent),
        "turns": len(with_sound.outcomes),
    }
    return results


async def main(args: argparse.Namespace) -> dict[str, Any]:
    found = scripts()
    results: dict[str, Any] = {"sets": {}}
    for path in sets():
        items = load_items(path)
        for language in ("zh-CN", "en-US"):
            chosen = [item for item in items if item.script.startswith(language)]
            if not chosen:
                continue
            report = await measure(chosen, found)
            title = f"{path.name} {language}" + (" (held out: the figures that count)" if path.name == HELD_OUT else "")
            # Never the held-out set's turns: looking at them would be tuning on them.
            print("\n".join(report.lines(title, show_errors=args.errors and path.name != HELD_OUT)) + "\n")
            results["sets"].setdefault(path.name, {})[language] = summary(report)
    results["held_out_ablations"] = await ablations(load_items(HERE / HELD_OUT), found)
    print("held-out, what each part adds:", json.dumps(results["held_out_ablations"], indent=1))
    return results


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list the turns understood wrongly (development sets only)")
    args = parser.parse_args()
    results = asyncio.run(main(args))
    out = REPO / "bench" / "results" / "understanding.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(f"(written to {out})")


if __name__ == "__main__":
    run()
