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
from functools import lru_cache

from ..understanding.danger import DangerDetector, danger_detector
from ..understanding.english import stem
from ..understanding.lexicon import Vocabulary, language_words
from .const import Detector, Language
from .negation import asked_about, negated, negated_after
from .normalize import Clause, clauses, homophone, is_cjk, normalize, to_pinyin
from .schema import Intent, Script

_MIN_PINYIN_PHRASE_CHARS = 2  # one syllable has too many homophones to match on sound


class MatchMethod(StrEnum):
    PHRASE = "phrase"
    PINYIN = "pinyin"
    PATTERN = "pattern"
    DTMF = "dtmf"
    DETECTOR = "detector"
    """A built-in detector (a scam described in the callee's own words)."""


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
        self.detector: DangerDetector | None = (
            danger_detector(language) if intent.detector is Detector.DANGER else None
        )

    def _compile_phrase(self, phrase: str) -> _Phrase:
        text = normalize(phrase, self.language)
        if self.language.spaced:
            words = tuple(text.split())
            if self.language is Language.EN_US:  # inflections fold: move = moved = moving
                words = tuple(word if word.endswith("*") else stem(word) for word in words)
            return _Phrase(text, words, None)
        use_pinyin = is_cjk(text) and len(text) >= _MIN_PINYIN_PHRASE_CHARS
        return _Phrase(text, tuple(text), tuple(to_pinyin(text)) if use_pinyin else None)

    def find(self, clause: Clause) -> Match | None:
        for phrase in self.phrases:
            if len(phrase.tokens) == 1 and not self.language.spaced and is_cjk(phrase.text):
                # One character (有, 是, 不, 没) is an answer only on its own: "有。" / "不不不",
                # not the 有 of "我现在有事" or the 不 of "听不见".
                core = _core(clause)
                alone = bool(core) and set(core) == {phrase.text}
                if alone or (clause.text[:1] == phrase.text and clause.text[1:2] in _OPENING_PARTICLES):
                    return Match(self.name, phrase.text, MatchMethod.PHRASE)  # 有。/ 有啊，他让我…
                continue
            leading_only = self.language.spaced and len(phrase.tokens) == 1 and phrase.text in _answer_words(self.language)
            for start, end, method in self._phrase_spans(phrase, clause):
                if leading_only and (start != _leading_fillers(clause) or clause.tokens[start] != phrase.text):
                    continue  # "no" / "okay" answer at the start, as said: not the "speak" of "speak up"
                if self._asserted(clause, start, end):
                    return Match(self.name, self._span_text(clause, start, end), method)
        for pattern in self.patterns:
            for found in pattern.finditer(clause.text):
                start = self._token_index(clause, found.start())
                end = self._token_index(clause, found.end())
                if found.group(0) and self._asserted(clause, start, end):
                    return Match(self.name, found.group(0), MatchMethod.PATTERN)
        return None

    def find_by_detector(self, text: str) -> Match | None:
        if self.detector is None:
            return None
        found = self.detector.detect(text)
        return Match(self.name, found.phrase, MatchMethod.DETECTOR) if found else None

    def _phrase_spans(self, phrase: _Phrase, clause: Clause) -> Iterator[tuple[int, int, MatchMethod]]:
        """Token spans where the phrase occurs: exact first, then by sound."""
        if not self.language.spaced and phrase.text not in clause.text:
            exact: list[tuple[int, int]] = []  # the common case, found in C: not there as written
        else:
            heard = clause.stems if self.language is Language.EN_US else clause.tokens
            exact = list(_subsequences(heard, phrase.tokens, wildcard=self.language.spaced, raw=clause.tokens))
        yield from ((start, end, MatchMethod.PHRASE) for start, end in exact)
        if phrase.pinyin and not exact and f" {' '.join(phrase.pinyin)} " in clause.spaced_pinyin:
            for start, end in _subsequences(clause.pinyin, phrase.pinyin, wildcard=False):
                if homophone(clause.text[start:end], phrase.text):
                    yield start, end, MatchMethod.PINYIN

    def _span_text(self, clause: Clause, start: int, end: int) -> str:
        separator = " " if self.language.spaced else ""
        return separator.join(clause.tokens[start:end])

    def _token_index(self, clause: Clause, char_index: int) -> int:
        if self.language.spaced:
            return len(clause.text[:char_index].split())
        return char_index

    def _asserted(self, clause: Clause, start: int, end: int) -> bool:
        """Said, not negated before or after ("我没转", "I did not", "手续费都没收") nor asked about."""
        if self.negatable and (negated(clause, start) or negated_after(clause, end)):
            return False
        return not asked_about(clause, start, end)


_OPENING_PARTICLES = frozenset("啊呀的哦嘛呢吧")
@lru_cache(maxsize=8)
def _answer_words(language: Language) -> frozenset[str]:
    """One-word answers and acknowledgments (yes, no, okay, never): answers only where a
    clause starts with them."""
    words = language_words(language)
    return frozenset(
        normalize(word, language)
        for word in (*words.short_answers, *words.acknowledgments, *words.backchannels)
        if len(normalize(word, language).split()) == 1
    )


def _leading_fillers(clause: Clause) -> int:
    """How many filler words (oh, well, um) open the clause."""
    fillers = {normalize(word, clause.language) for word in language_words(clause.language).fillers}
    count = 0
    while count < len(clause.tokens) and clause.tokens[count] in fillers:
        count += 1
    return count


@lru_cache(maxsize=1024)
def _core(clause: Clause) -> str:
    """A Chinese clause without fillers and sentence-final particles: "嗯，有啊" → "有"."""
    words = language_words(clause.language)
    return _padding(words.fillers + words.particles, clause.language).strip_text(clause.text)


@lru_cache(maxsize=8)
def _padding(words: tuple[str, ...], language: Language) -> Vocabulary:
    return Vocabulary(words, language)


def _subsequences(
    haystack: Sequence[str], needle: Sequence[str], *, wildcard: bool, raw: Sequence[str] | None = None
) -> Iterator[tuple[int, int]]:
    """Start and end of each contiguous occurrence; `word*` matches a word's prefix (of the
    word as heard, `raw`, when the haystack holds stems)."""
    size = len(needle)
    if not size:
        return
    raw = raw if raw is not None else haystack
    for start in range(len(haystack) - size + 1):
        if all(
            _word_matches(haystack[start + offset], raw[start + offset], word, wildcard)
            for offset, word in enumerate(needle)
        ):
            yield start, start + size


def _word_matches(heard: str, heard_raw: str, word: str, wildcard: bool) -> bool:
    if wildcard and word.endswith("*"):
        return heard_raw.startswith(word[:-1])
    return heard == word


class IntentMatcher:
    """Matches text and DTMF against a script's intents."""

    def __init__(self, intents: dict[str, Intent], language: Language) -> None:
        self.language = language
        self._intents = {name: _CompiledIntent(name, intent, language) for name, intent in intents.items()}
        self._phrases: dict[str, list[str]] = {}

    def match_text(
        self,
        text: str,
        candidates: Iterable[str],
        *,
        alternatives: Sequence[str] = (),
        tolerant: Iterable[str] = (),
        first_clause_first: bool = False,
    ) -> Match | None:
        """The first candidate intent (in the order given) that the text expresses.

        Intents named in `tolerant` (the urgent ones) are also looked for in the recogniser's
        `alternatives`: a missed victim costs more than a false alarm. With `first_clause_first` (a state's own answers), the earliest clause that
        says anything decides: "不行啊，…我还是得办" answers no."""
        readings = [text, *alternatives]
        parts = [clauses(reading, self.language) for reading in readings]
        if not parts[0] and not any(parts):
            return None
        candidates = list(candidates)
        if first_clause_first and len(parts[0]) > 1:
            for clause in parts[0]:
                for name in candidates:
                    found = self._intents[name].find(clause)
                    if found:
                        return found
        tolerant = set(tolerant)
        for name in candidates:
            intent = self._intents[name]
            heard = range(len(readings)) if name in tolerant else range(1)
            for index in heard:
                for clause in parts[index]:
                    found = intent.find(clause)
                    if found:
                        return found
                found = intent.find_by_detector(readings[index]) if parts[index] else None
                if found:
                    return found
        return None

    def cleared(self, text: str) -> bool:
        """The language's danger detector says the callee explained this as dealt with or as
        their own legitimate business, and finds no danger in it."""
        detector = danger_detector(self.language)
        return detector is not None and detector.cleared(text)

    def match_dtmf(self, digit: str, candidates: Iterable[str]) -> Match | None:
        for name in candidates:
            if digit in self._intents[name].dtmf:
                return Match(name, digit, MatchMethod.DTMF)
        return None

    def phrases(self, name: str) -> list[str]:
        """The normalised phrases of an intent (for recogniser grammars); a detector intent's
        are its detector's words, so a grammar-limited recogniser can still hear a story."""
        found = self._phrases.get(name)
        if found is None:
            intent = self._intents[name]
            found = [phrase.text for phrase in intent.phrases]
            if intent.detector is not None:
                found += [normalize(word, self.language) for word in intent.detector.vocabulary()]
            self._phrases[name] = found
        return found


_FOR_SCRIPT: dict[int, tuple[object, IntentMatcher]] = {}


def matcher_for(script: Script) -> IntentMatcher:
    """One matcher per loaded script, shared by its calls: compiling a Chinese script's phrases
    (pinyin of every one) takes about a tenth of a second, too long for the call worker's
    event loop at every call start. Matchers keep no per-call state."""
    found = _FOR_SCRIPT.get(id(script))
    if found is None or found[0] is not script:
        found = (script, IntentMatcher(script.intents, script.meta.language))
        _FOR_SCRIPT[id(script)] = found
    return found[1]
