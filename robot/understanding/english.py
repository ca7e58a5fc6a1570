"""English words as a recogniser hears them: inflections folded, and phrases matched by sound.

`stem` folds inflections so one phrase covers its forms: move / moved / moving, transfer /
transferred, send / sent, card / cards. `SoundMatcher` finds a multi-word phrase in heard
words that sound like it ("take account" or "save a count" for "safe account"), comparing
CMU dictionary pronunciations (the one PocketSphinx ships) by a weighted edit distance. It is
meant for urgent phrases only, where a miss costs far more than a false alarm; its
false-positive rate is measured on the evaluation set (bench/understanding).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path

_IRREGULAR = {
    "sent": "send", "gave": "give", "given": "give", "paid": "pay", "bought": "buy", "told": "tell",
    "took": "take", "taken": "take", "made": "make", "went": "go", "gone": "go", "did": "do", "done": "do",
    "said": "say", "got": "get", "gotten": "get", "sold": "sell", "lost": "lose", "left": "leave",
    "kept": "keep", "met": "meet", "spoke": "speak", "spoken": "speak", "spent": "spend", "withdrew": "withdraw",
    "withdrawn": "withdraw", "drew": "draw", "brought": "bring", "thought": "think", "wrote": "write",
    "written": "write", "asked": "ask", "has": "have", "had": "have", "was": "be", "were": "be", "is": "be",
    "are": "be", "am": "be", "been": "be", "being": "be", "read": "read", "understood": "understand", "noted": "note",
}
_KEEP = frozenset({"this", "his", "yes", "us", "bus", "plus", "is", "was", "has", "does", "always", "news", "series"})
_DOUBLE_OK = frozenset("lsz")


@lru_cache(maxsize=4096)
def stem(word: str) -> str:
    """A crude but consistent base form: both a script's phrase and what was heard go through
    it, so only consistency matters (moved → mov, moving → mov, move → mov)."""
    word = _IRREGULAR.get(word, word)
    if word in _KEEP or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "shes", "ches", "xes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in _DOUBLE_OK and word[-1] not in "aeiou":
        word = word[:-1]  # transferr(ed) → transfer, stopp(ed) → stop
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


# -- matching by sound -----------------------------------------------------------------------

_SIMILAR = [
    {"F", "V", "TH", "DH"}, {"S", "Z", "SH", "ZH"}, {"T", "D"}, {"P", "B"}, {"K", "G"}, {"M", "N", "NG"},
    {"CH", "JH"}, {"IY", "IH"}, {"EH", "AE", "EY"}, {"AH", "AA", "AO", "ER", "UH"}, {"UW", "UH"}, {"OW", "AO"},
]
_NEAR = {(a, b) for group in _SIMILAR for a in group for b in group if a != b}
MAX_DISTANCE_RATIO = 0.25
"""Phonemes that may differ, per phoneme of the phrase: "safe account" (8 phonemes) allows
2 ("take account" is exactly 2 substitutions away)."""
MIN_PHRASE_PHONEMES = 6
"""Shorter phrases are too easy to hear by accident."""


def _cmudict_path() -> Path | None:
    try:
        import pocketsphinx
    except ImportError:
        return None
    model = Path(pocketsphinx.get_model_path())
    for path in (model / "en-us" / "cmudict-en-us.dict", model / "cmudict-en-us.dict"):
        if path.exists():
            return path
    return None


@cache
def pronunciations() -> dict[str, tuple[str, ...]]:
    """Word → phonemes (stress marks dropped), first pronunciation of each word."""
    path = _cmudict_path()
    table: dict[str, tuple[str, ...]] = {}
    if path is None:
        return table
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            word, _, phones = line.strip().partition(" ")
            if "(" in word or not phones:
                continue
            table[word] = tuple(phone.rstrip("012") for phone in phones.split())
    return table


MIN_SHARED_BIGRAMS = 0.3
"""A window sharing fewer phoneme pairs with the phrase is not compared at all (measured: the
edit distance on every window cost 10 ms per English partial result)."""


@lru_cache(maxsize=8192)
def _bigrams(sounds: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    return frozenset(zip(sounds, sounds[1:], strict=False))


@lru_cache(maxsize=8192)
def _phonemes(words: tuple[str, ...]) -> tuple[str, ...] | None:
    table = pronunciations()
    out: list[str] = []
    for word in words:
        found = table.get(word)
        if found is None:
            return None
        out += found
    return tuple(out)


def phonemes(words: Sequence[str]) -> tuple[str, ...] | None:
    """The words' phonemes in a row, or None if one of them is not in the dictionary."""
    return _phonemes(tuple(words))


def distance(a: Sequence[str], b: Sequence[str]) -> float:
    """Edit distance between phoneme strings; similar phonemes (F/V, T/D, M/N …) and a
    schwa in or out cost half."""
    previous = [index * 1.0 for index in range(len(b) + 1)]
    for i, left in enumerate(a, 1):
        current = [float(i)]
        for j, right in enumerate(b, 1):
            substitution = 0.0 if left == right else 0.5 if (left, right) in _NEAR else 1.0
            insertion = 0.5 if right == "AH" else 1.0
            deletion = 0.5 if left == "AH" else 1.0
            current.append(min(previous[j - 1] + substitution, current[j - 1] + insertion, previous[j] + deletion))
        previous = current
    return previous[-1]


def _contains(window: Sequence[str], words: tuple[str, ...]) -> bool:
    return any(tuple(window[i : i + len(words)]) == words for i in range(len(window) - len(words) + 1))


class SoundMatcher:
    """Finds a phrase of several words in heard words by how it sounds."""

    def __init__(self, phrase_words: Sequence[str]) -> None:
        self.words = tuple(phrase_words)
        self.phonemes = phonemes(self.words) if len(self.words) >= 2 else None
        self._bigrams = _bigrams(self.phonemes) if self.phonemes else frozenset()

    @property
    def usable(self) -> bool:
        return self.phonemes is not None and len(self.phonemes) >= MIN_PHRASE_PHONEMES

    def find(self, heard: Sequence[str]) -> tuple[int, int] | None:
        """The span of heard words closest in sound to the phrase, if close enough."""
        if self.phonemes is None or not self.usable:
            return None
        size = len(self.words)
        best: tuple[float, int, int] | None = None
        for length in range(max(1, size - 1), size + 2):
            for start in range(0, len(heard) - length + 1):
                window = heard[start : start + length]
                if _contains(window, self.words):
                    continue  # an exact match is the phrase matcher's business
                sounds = phonemes(window)
                if sounds is None or abs(len(sounds) - len(self.phonemes)) > 2:
                    continue
                if len(self._bigrams & _bigrams(sounds)) < MIN_SHARED_BIGRAMS * len(self._bigrams):
                    continue  # nothing like it: no need for the edit distance
                ratio = distance(self.phonemes, sounds) / len(self.phonemes)
                if ratio <= MAX_DISTANCE_RATIO and (best is None or ratio < best[0]):
                    best = (ratio, start, start + length)
        return None if best is None else (best[1], best[2])
