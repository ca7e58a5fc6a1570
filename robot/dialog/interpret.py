"""What a callee's words mean in a state: an urgent phrase, a global intent, an
acknowledgment where a yes/no answer was asked for, the state's own intents, or nothing.

The dialog engine asks here for every final result; it owns what happens next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..understanding.turns import TurnTaking
from .const import EscalationReason, QuestionKind
from .matcher import IntentMatcher, Match, MatchMethod
from .schema import Script

NO_ANSWERS = ("没有", "no")
"""How a "no" is said, to find the intent a state's "no" goes to."""


class Reading(StrEnum):
    INTENT = "intent"
    ACKNOWLEDGMENT = "acknowledgment"
    """明白 / okay, I understand, where the state asked whether something happened."""
    NOT_UNDERSTOOD = "not_understood"
    """Words that no intent of the state understood."""
    NOTHING = "nothing"
    """Only fillers or backchannels, not understood but nothing said either."""


@dataclass(frozen=True)
class Meaning:
    reading: Reading
    match: Match | None = None


class Interpreter:
    def __init__(self, script: Script, matcher: IntentMatcher, turn_taking: TurnTaking) -> None:
        self.script = script
        self.matcher = matcher
        self.turn_taking = turn_taking
        self.global_intents = [handler.intent for handler in script.global_intents]
        self.urgent = [handler.intent for handler in script.global_intents if handler.escalate]
        """Global intents that escalate: checked on every partial and in n-best readings."""
        self._danger = {handler.intent for handler in script.global_intents
                        if handler.escalate and handler.escalate.reason is EscalationReason.URGENT_SPEECH}

    def meaning(self, state: str, text: str, alternatives: Sequence[str] = ()) -> Meaning:
        """Global intents first (urgency wins), then, where a yes/no answer is asked for, an
        acknowledgment is no answer; then the state's own intents; then a yes/no question
        the callee explained away is its "no"."""
        match = self._global(text, alternatives)
        if match is not None:
            return Meaning(Reading.INTENT, match)
        asks_yes_no = self.script.states[state].question is QuestionKind.YES_NO
        if asks_yes_no and self.turn_taking.is_acknowledgment(text):
            return Meaning(Reading.ACKNOWLEDGMENT)
        own = [handler.intent for handler in self.script.states[state].on]
        match = self.matcher.match_text(text, own, alternatives=alternatives, tolerant=self.urgent, first_clause_first=True)
        if match is None and asks_yes_no and self.matcher.cleared(text):
            match = self._explained_away(text, own)
        if match is not None:
            return Meaning(Reading.INTENT, match)
        return Meaning(Reading.NOT_UNDERSTOOD if self.turn_taking.turn_units(text) > 0 else Reading.NOTHING)

    def spot_urgent(self, partial_text: str) -> Match | None:
        return self.matcher.match_text(partial_text, self.urgent, tolerant=self.urgent)

    def _global(self, text: str, alternatives: Sequence[str]) -> Match | None:
        """The global intents, where an urgent phrase ("转了", "sent money") does not count if
        the danger detector finds the callee explained it as their own legitimate business
        ("我给我妈转了两千，当面问过的") or as dealt with, and nothing in it is danger."""
        candidates = list(self.global_intents)
        while True:
            match = self.matcher.match_text(text, candidates, alternatives=alternatives, tolerant=self.urgent)
            if match is None or match.intent not in self._danger or match.method is MatchMethod.DETECTOR:
                return match
            if not self.matcher.cleared(text):
                return match
            candidates.remove(match.intent)

    def _explained_away(self, text: str, state_intents: list[str]) -> Match | None:
        """Asked whether something happened, the callee explained it as their own business
        or as dealt with ("给女儿转了生活费，视频过的", "they called but I hung up"): that is
        the state's "no"."""
        for word in NO_ANSWERS:
            found = self.matcher.match_text(word, state_intents)
            if found is not None:
                return Match(found.intent, text, MatchMethod.DETECTOR)
        return None
