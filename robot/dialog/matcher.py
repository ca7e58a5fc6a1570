"""Decide which intent, if any, a callee's words or key press express.

Rules, in order:
- Candidates are tried in precedence order (global intents first, then the state's own);
  the first that matches wins.
- Within an intent: phrases (exact, then by toneless pinyin for Chinese), then patterns.
- A match preceded in its clause by a negation ("我没有转账", "I haven't transferred")
  is ignored for intents that are `negatable` (the default).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from .const import Language
from .normalize import Clause, clauses, is_cjk, normalize, to_pinyin
from .schema import Intent

# A negation cue negates what follows it in its clause until a new subject or conjunction
# starts: "I did not send money to any safe account" is negated, "I didn't realise I
# transferred it" is not. Scope is capped at a few words (English) or characters (Chinese).
_ZH_NEGATIONS = ("没有", "没", "不是", "不", "未", "别", "从未", "并未", "无")
# "Nobody" negates the whole clause: "没有人找我借钱" stays negated past the "我".
_ZH_NOBODY = ("没有人", "没人", "没有谁")
# Words that contain a negation character but do not negate what follows.
_ZH_NOT_NEGATING = ("不小心", "不好意思", "不得不", "不久", "不停", "不断", "不少", "没想到", "差不多", "不然")
_ZH_SUBJECTS = ("我", "他", "她", "他们", "我们")
_ZH_CONJUNCTIONS = ("就", "所以", "因为", "而且", "还是", "结果")
_ZH_NEGATION_SCOPE_CHARS = 8
_EN_NEGATIONS = frozenset({"no", "not", "never", "nothing", "nobody", "neither", "nor", "without", "none"})
_EN_SCOPE_BREAKERS = frozenset({"i", "it", "he", "she", "they", "we", "and", "because", "so", "then", "that", "which", "until"})
_EN_NEGATION_SCOPE_WORDS = 8
_MIN_PINYIN_PHRASE_CHARS = 2  # one syllable has too many homophones to match on sound


class MatchMethod(StrEnum):
    PHRASE = "phrase"
    PINYIN = "pinyin"
    PATTERN = "pattern"
    DTMF = "dtmf"


@dataclass(frozen=True)
class Match:
    intent: str
    phrase: str
    """The words that matched, as heard (normalised), or the DTMF key."""
    method: MatchMethod


@dataclass(frozen=True)
class _Phrase:
    text: str
    tokens: tuple[str, ...]
    pinyin: tuple[str, ...] | None


class _CompiledIntent:
    def __init__(self, name: str, intent: Intent, language: Language) -> None:
        self.name = name
        self.language = language
        self.negatable = intent.negatable
        self.dtmf = frozenset(intent.dtmf)
        self.patterns = [re.compile(pattern) for pattern in intent.patterns]
        self.phrases = [self._compile_phrase(phrase) for phrase in intent.phrases]

    def _compile_phrase(self, phrase: str) -> _Phrase:
        text = normalize(phrase, self.language)
        if self.language.spaced:
            return _Phrase(text, tuple(text.split()), None)
        use_pinyin = is_cjk(text) and len(text) >= _MIN_PINYIN_PHRASE_CHARS
        return _Phrase(text, tuple(text), tuple(to_pinyin(text)) if use_pinyin else None)

    def find(self, clause: Clause) -> Match | None:
        for phrase in self.phrases:
            for start, end, method in self._phrase_spans(phrase, clause):
                if not self._negated(clause, start):
                    return Match(self.name, self._span_text(clause, start, end), method)
        for pattern in self.patterns:
            for found in pattern.finditer(clause.text):
                start = self._token_index(clause, found.start())
                if found.group(0) and not self._negated(clause, start):
                    return Match(self.name, found.group(0), MatchMethod.PATTERN)
        return None

    def _phrase_spans(self, phrase: _Phrase, clause: Clause) -> Iterator[tuple[int, int, MatchMethod]]:
        """Token spans where the phrase occurs: exact first, then by sound."""
        exact = list(_subsequences(clause.tokens, phrase.tokens, wildcard=self.language.spaced))
        yield from ((start, end, MatchMethod.PHRASE) for start, end in exact)
        if phrase.pinyin and not exact:
            for start, end in _subsequences(clause.pinyin, phrase.pinyin, wildcard=False):
                yield start, end, MatchMethod.PINYIN

    def _span_text(self, clause: Clause, start: int, end: int) -> str:
        separator = " " if self.language.spaced else ""
        return separator.join(clause.tokens[start:end])

    def _token_index(self, clause: Clause, char_index: int) -> int:
        if self.language.spaced:
            return len(clause.text[:char_index].split())
        return char_index

    def _negated(self, clause: Clause, start: int) -> bool:
        if not self.negatable:
            return False
        if self.language.spaced:
            before = clause.tokens[max(0, start - _EN_NEGATION_SCOPE_WORDS) : start]
            cues = [index for index, word in enumerate(before) if word in _EN_NEGATIONS]
            return bool(cues) and not _EN_SCOPE_BREAKERS.intersection(before[cues[-1] + 1 :])
        window = clause.text[max(0, start - _ZH_NEGATION_SCOPE_CHARS) : start]
        for harmless in _ZH_NOT_NEGATING:
            window = window.replace(harmless, "_" * len(harmless))
        found = [(window.rfind(cue) + len(cue), len(cue), cue) for cue in (*_ZH_NEGATIONS, *_ZH_NOBODY) if cue in window]
        if not found:
            return False
        cue_end, _length, cue = max(found)  # the last cue; the longest where they end together
        breakers = _ZH_CONJUNCTIONS if cue in _ZH_NOBODY else (*_ZH_CONJUNCTIONS, *_ZH_SUBJECTS)
        return not any(breaker in window[cue_end:] for breaker in breakers)


def _subsequences(
    haystack: Sequence[str], needle: Sequence[str], *, wildcard: bool
) -> Iterator[tuple[int, int]]:
    """Start and end of each contiguous occurrence; `word*` matches a word's prefix."""
    size = len(needle)
    if not size:
        return
    for start in range(len(haystack) - size + 1):
        if all(
            _word_matches(haystack[start + offset], word, wildcard)
            for offset, word in enumerate(needle)
        ):
            yield start, start + size


def _word_matches(heard: str, word: str, wildcard: bool) -> bool:
    if wildcard and word.endswith("*"):
        return heard.startswith(word[:-1])
    return heard == word


class IntentMatcher:
    """Matches text and DTMF against a script's intents."""

    def __init__(self, intents: dict[str, Intent], language: Language) -> None:
        self.language = language
        self._intents = {name: _CompiledIntent(name, intent, language) for name, intent in intents.items()}

    def match_text(self, text: str, candidates: Iterable[str]) -> Match | None:
        """The first candidate intent (in the order given) that the text expresses."""
        parts = clauses(text, self.language)
        if not parts:
            return None
        for name in candidates:
            intent = self._intents[name]
            for clause in parts:
                found = intent.find(clause)
                if found:
                    return found
        return None

    def match_dtmf(self, digit: str, candidates: Iterable[str]) -> Match | None:
        for name in candidates:
            if digit in self._intents[name].dtmf:
                return Match(name, digit, MatchMethod.DTMF)
        return None

    def phrases(self, name: str) -> list[str]:
        """The normalised phrases of an intent (for recogniser grammars)."""
        return [phrase.text for phrase in self._intents[name].phrases]
