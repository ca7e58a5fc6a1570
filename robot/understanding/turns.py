"""Turn-taking: a backchannel is not a turn, an acknowledgment is not an answer, and an
utterance that trails off is not finished.

Pure text logic on the word lists of `lexicon.py`; the call listener supplies the timing
(`speech.pipeline`), the dialog engine the conversation (`dialog.engine`).
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING

from ..dialog.const import Language
from .lexicon import TurnWords, Vocabulary, language_words, last_words, units_left

if TYPE_CHECKING:
    from ..dialog.schema import Script

SHORT_ANSWER_MAX_UNITS = 6
"""A short answer is at most this many words (or Chinese characters)."""


class Ending(StrEnum):
    """How soon after the callee stops talking the robot should take its turn."""

    SHORT_ANSWER = "short_answer"
    """是 / 没有 / yes / no: complete, answered sooner than usual."""
    TRAILING = "trailing"
    """然后… / and… / a lone "oh" or 喂: more is coming, wait longer."""
    NORMAL = "normal"


class TurnTaking:
    def __init__(self, words: TurnWords, language: Language) -> None:
        self.language = language
        self.words = words

        def vocabulary(*items: tuple[str, ...]) -> Vocabulary:
            return Vocabulary([item for group in items for item in group], language)

        self.acknowledgments = vocabulary(words.acknowledgments)
        self.short_answers = vocabulary(words.short_answers)
        self.trailing = vocabulary(words.trailing)
        self._padding = vocabulary(words.fillers, words.particles)
        self._listening = vocabulary(words.backchannels, words.fillers, words.particles)
        self._listening_or_heard = vocabulary(words.backchannels, words.acknowledgments, words.fillers, words.particles)
        self._heard = vocabulary(words.acknowledgments, words.fillers, words.particles)
        self._short = vocabulary(words.short_answers, words.acknowledgments, words.fillers, words.particles)
        self._complete = vocabulary(words.short_answers, words.acknowledgments)

    def _units(self, text: str, vocabulary: Vocabulary | None = None) -> int:
        return units_left(text, self.language, vocabulary)

    def turn_units(self, text: str) -> int:
        """Words (Chinese: characters) that are neither backchannel nor filler: how much of
        a real turn the callee has said so far."""
        return self._units(text, self._listening)

    def is_backchannel(self, text: str) -> bool:
        """"嗯" / "对对" / "uh-huh, okay": the callee is only listening. Acknowledgments and
        fillers count too. Empty text is not a backchannel (nothing was recognised)."""
        return self._units(text) > 0 and self._units(text, self._listening_or_heard) == 0

    def is_acknowledgment(self, text: str) -> bool:
        """"明白了" / "好的好的" / "okay, I understand": heard, but no answer to a question
        about whether something happened. A lone 嗯 is an answer, not this."""
        return self._consists_of(text, self.acknowledgments, self._heard)

    def _consists_of(self, text: str, words: Vocabulary, padded: Vocabulary) -> bool:
        """At least one of `words`, and nothing else but fillers and particles."""
        total = self._units(text)
        return total > 0 and self._units(text, words) < total and self._units(text, padded) == 0

    def ending(self, text: str) -> Ending:
        """Whether an utterance (so far) is a complete short answer, trails off, or neither."""
        total = self._units(text)
        if not total:
            return Ending.NORMAL
        if self.trailing.ends(last_words(text, self.language)):
            return Ending.TRAILING
        if total <= SHORT_ANSWER_MAX_UNITS and self._consists_of(text, self._complete, self._short):
            return Ending.SHORT_ANSWER
        if self._units(text, self._padding) == 0:
            return Ending.TRAILING  # only "oh" / 喂 / 那个 so far
        return Ending.NORMAL


def turn_taking_for(script: Script) -> TurnTaking:
    """The script's language lists, with any list the script replaces under `turn_taking:`."""
    language = script.meta.language
    defaults = language_words(language)
    own = {name: tuple(value) for name, value in script.turn_taking.model_dump().items() if value is not None}
    return _turn_taking(defaults.model_copy(update=own), language)


@lru_cache(maxsize=64)
def _turn_taking(words: TurnWords, language: Language) -> TurnTaking:
    return TurnTaking(words, language)
