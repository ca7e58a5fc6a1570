"""A small linear classifier for danger in words the detector's lexicon lacks.

Character n-grams (Chinese) or word and character n-grams (English) of the folded text are
hashed into a fixed number of buckets; a logistic regression trained offline
(`bench/understanding/train.py`, on the development sets only, never the held-out one) gives
each bucket a weight. Shipped as `languages/LANGUAGE.danger-model.npz` (a few hundred KB), run
with NumPy alone. It only adds danger where its probability is high; the detector's rules
stay the first word, and when in doubt both escalate.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..dialog.const import Language
from ..dialog.normalize import clauses
from .lexicon import LANGUAGES_DIR

BUCKETS = 1 << 16


def features(text: str, language: Language) -> list[int]:
    """The hashed n-grams of an utterance (the same function trains and runs the model)."""
    grams: list[str] = []
    for clause in clauses(text, language):
        if language.spaced:
            words = clause.stems if language is Language.EN_US else clause.tokens
            grams += [f"w:{word}" for word in words]
            grams += [f"b:{a} {b}" for a, b in zip(words, words[1:], strict=False)]
            joined = f" {' '.join(clause.tokens)} "
            grams += [f"c:{joined[i:i + 4]}" for i in range(len(joined) - 3)]
        else:
            chars = f"^{clause.text}$"
            for size in (1, 2, 3):
                grams += [f"{size}:{chars[i:i + size]}" for i in range(len(chars) - size + 1)]
    return sorted({zlib.crc32(gram.encode("utf-8")) % BUCKETS for gram in grams})


@dataclass(frozen=True)
class DangerClassifier:
    language: Language
    weights: np.ndarray
    bias: float
    threshold: float
    """Probability from which an utterance counts as danger (chosen for few false alarms)."""

    def probability(self, text: str) -> float:
        found = features(text, self.language)
        if not found:
            return 0.0
        score = float(self.weights[found].sum()) + self.bias
        return float(1.0 / (1.0 + np.exp(-score)))

    def says_danger(self, text: str) -> bool:
        return self.probability(text) >= self.threshold

    def save(self, path: Path) -> None:
        np.savez_compressed(path, weights=self.weights.astype(np.float32), bias=np.float32(self.bias),
                            threshold=np.float32(self.threshold))


def model_path(language: Language) -> Path:
    return LANGUAGES_DIR / f"{language.value}.danger-model.npz"


@cache
def danger_classifier(language: Language) -> DangerClassifier | None:
    """The shipped model of a language, or None where there is none."""
    path = model_path(language)
    if not path.exists():
        return None
    with np.load(path) as stored:
        return DangerClassifier(language, stored["weights"].astype(np.float32), float(stored["bias"]),
                                float(stored["threshold"]))
