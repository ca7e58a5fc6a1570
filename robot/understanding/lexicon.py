"""Word lists for how callees take turns, per language, and what an utterance consists of.

The lists live in `languages/LANGUAGE.yaml` beside this file; a script may replace any of
them under `turn_taking:`. Everything here works on the same folded text as the intent
matcher (`dialog.normalize`), so recogniser spacing, traditional characters, case and
contractions do not matter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from ruamel.yaml import YAML

from ..dialog.const import Language
from ..dialog.normalize import Clause, clauses, normalize

LANGUAGES_DIR = Path(__file__).with_name("languages")
_TRAILING_PUNCTUATION = re.compile(r"[\s,.!?;:，。！？；：、…]+$")
_PUNCTUATION = re.compile(r"[,.!?;:，。！？；：、…]+")


class TurnWords(BaseModel):
    """The word lists of one language (see languages/zh-CN.yaml for what each means)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backchannels: tuple[str, ...] = ()
    acknowledgments: tuple[str, ...] = ()
    fillers: tuple[str, ...] = ()
    particles: tuple[str, ...] = ()
    short_answers: tuple[str, ...] = ()
    trailing: tuple[str, ...] = ()


@cache
def language_words(language: Language) -> TurnWords:
    """The shipped lists of a language (none for a language without a file)."""
    path = LANGUAGES_DIR / f"{language.value}.yaml"
    if not path.exists():
        return TurnWords()
    return TurnWords.model_validate(YAML(typ="safe").load(path.read_text(encoding="utf-8")))


class Vocabulary:
    """A set of words or phrases, taken out of utterances longest first."""

    def __init__(self, items: Iterable[str], language: Language) -> None:
        self.language = language
        self.spaced = language.spaced
        units: set[tuple[str, ...]] = set()
        for item in items:
            # Items are words, not utterances: conjunctions such as 然后 / "but" must stay
            # whole here, where `clauses` would split on them.
            folded = _PUNCTUATION.sub(" ", normalize(item, language)).strip()
            if folded:
                units.add(tuple(Clause(folded, language).tokens) if self.spaced else (folded.replace(" ", ""),))
        self._set_units(units)

    def _set_units(self, units: set[tuple[str, ...]]) -> None:
        self.units = frozenset(units)
        # Longest first, so 没有没有 goes before 没有, "i see" before "i".
        self._units = sorted(units, key=lambda unit: (-len(unit), -len("".join(unit))))
        self._chinese = sorted((unit[0] for unit in units if not self.spaced), key=len, reverse=True)

    @classmethod
    def joined(cls, *vocabularies: Vocabulary) -> Vocabulary:
        """One vocabulary of all their words, so the longest word wins across all of them."""
        joined = cls.__new__(cls)
        joined.language = vocabularies[0].language
        joined.spaced = vocabularies[0].spaced
        joined._set_units(set().union(*(vocabulary.units for vocabulary in vocabularies)))
        return joined

    def __bool__(self) -> bool:
        return bool(self._units)

    def strip(self, tokens: list[str]) -> list[str]:
        """Spaced languages: the tokens left once every listed phrase is taken out."""
        left: list[str] = []
        index = 0
        while index < len(tokens):
            for unit in self._units:
                if tuple(tokens[index : index + len(unit)]) == unit:
                    index += len(unit)
                    break
            else:
                left.append(tokens[index])
                index += 1
        return left

    def strip_text(self, text: str) -> str:
        """Chinese: the characters left once every listed word is taken out."""
        for word in self._chinese:
            text = text.replace(word, "")
        return text

    def ends(self, text_or_tokens: str | list[str]) -> bool:
        """True if the utterance ends with a listed word or phrase."""
        if isinstance(text_or_tokens, str):
            return any(text_or_tokens.endswith(word) for word in self._chinese)
        tokens = text_or_tokens
        return any(len(unit) <= len(tokens) and tuple(tokens[-len(unit) :]) == unit for unit in self._units)


def units_left(text: str, language: Language, vocabulary: Vocabulary | None = None) -> int:
    """How much of `text` the vocabulary does not cover: words (spaced languages) or
    characters (Chinese). 0 means the utterance consists of its words only."""
    parts = clauses(text, language)
    if language.spaced:
        tokens = [token for clause in parts for token in clause.tokens]
        return len(vocabulary.strip(tokens) if vocabulary else tokens)
    return sum(len(vocabulary.strip_text(clause.text) if vocabulary else clause.text) for clause in parts)


def last_words(text: str, language: Language) -> str | list[str]:
    """The whole utterance folded, for `Vocabulary.ends` (conjunctions such as 然后 or
    "and" split clauses, so they are read from the text itself, not from its clauses)."""
    folded = _TRAILING_PUNCTUATION.sub("", normalize(text, language))
    if language.spaced:
        return Clause(folded, language).tokens
    return folded
