"""Train the danger classifier of each language from the development sets (never held-out).

    python bench/understanding/train.py            # writes robot/understanding/languages/*.danger-model.npz

Needs scikit-learn (`pip install -e '.[train]'`); the robot itself runs the model with NumPy.
The decision threshold is chosen on out-of-fold predictions: the lowest probability at which
at most 1 % of the development turns that are not urgent would be called danger.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from robot.dialog.const import Language  # noqa: E402
from robot.understanding.classifier import BUCKETS, DangerClassifier, features, model_path  # noqa: E402
from robot.understanding.evaluation import Label, load_items  # noqa: E402
from robot.understanding.lexicon import language_words  # noqa: E402
from robot.understanding.turns import TurnTaking  # noqa: E402

DEVELOPMENT_SETS = ("dev.yaml", "dev2.yaml", "dev3.yaml", "dev4.yaml", "dev5.yaml", "dev6.yaml")
HELD_OUT = "heldout.yaml"
MAX_FALSE_ALARMS = 0.01
SHORT_UNITS = 2
"""Urgent turns this short ("有", "yes", "好像有") are urgent because of the question they
answer, not for what they say: left out of training."""


def training_data(language: Language, files: list[Path]) -> tuple[list[str], np.ndarray]:
    turns = TurnTaking(language_words(language), language)
    texts, labels = [], []
    for file in files:
        for item in load_items(file):
            if not item.script.startswith(language.value):
                continue
            urgent = item.expect is Label.URGENT
            if urgent and turns.turn_units(item.text) <= SHORT_UNITS:
                continue
            texts.append(item.text)
            labels.append(1 if urgent else 0)
    return texts, np.array(labels)


def matrix(texts: list[str], language: Language):  # type: ignore[no-untyped-def]
    from scipy.sparse import csr_matrix

    rows, cols = [], []
    for row, text in enumerate(texts):
        for col in features(text, language):
            rows.append(row)
            cols.append(col)
    return csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(texts), BUCKETS))


def train(language: Language, files: list[Path], c: float) -> tuple[DangerClassifier, dict[str, float]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    texts, labels = training_data(language, files)
    x = matrix(texts, language)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=7)
    out_of_fold = cross_val_predict(model, x, labels, cv=folds, method="predict_proba")[:, 1]
    negatives = np.sort(out_of_fold[labels == 0])
    allowed = int(np.floor(MAX_FALSE_ALARMS * len(negatives)))
    threshold = float(negatives[-allowed - 1]) + 1e-6 if allowed < len(negatives) else 0.5
    threshold = max(threshold, 0.5)
    recall = float((out_of_fold[labels == 1] >= threshold).mean())
    false_alarms = float((out_of_fold[labels == 0] >= threshold).mean())
    model.fit(x, labels)
    weights = np.zeros(BUCKETS, dtype=np.float32)
    weights[:] = model.coef_[0]
    classifier = DangerClassifier(language, weights, float(model.intercept_[0]), threshold)
    stats = {"turns": len(texts), "urgent": int(labels.sum()), "threshold": round(threshold, 3),
             "cv_recall": round(recall, 3), "cv_false_alarms": round(false_alarms, 3)}
    return classifier, stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--c", type=float, default=4.0, help="inverse regularisation strength")
    args = parser.parse_args()
    files = [HERE / name for name in DEVELOPMENT_SETS if (HERE / name).exists()]
    assert all(file.name != HELD_OUT for file in files)
    for language in (Language.ZH_CN, Language.EN_US):
        classifier, stats = train(language, files, args.c)
        classifier.save(model_path(language))
        print(language.value, stats, "->", model_path(language).name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
