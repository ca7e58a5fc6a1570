"""Danger in the callee's own words: a scam described in words no phrase list holds.

Victims tell a story: who contacted them, what that person asked, what they did or are about
to do ("他让我去ATM把钱存到他给的卡上", "I read him the numbers on the back of the cards").
The detector models that story rather than listing sentences. In each utterance it looks for

- an instruction and a dangerous act: someone asked the callee (让我 / 说要先 / told me to)
  to move money, pay a fee, buy cards, hand over codes, install an app, share the screen,
  keep it secret, go somewhere alone…;
- the callee doing a dangerous act: done (转了 / 交完 / I sent), under way or about to
  (正在 / 准备 / I'm about to);
- credentials handed over (验证码 … 告诉他 / gave him the code);
- words that are danger on their own (安全账户, 共享屏幕, 卸载反诈, AnyDesk), coaching
  (别告诉家里人, don't pick up if the police call), and the fraudster still on the line
  (另一个电话上 / on the other line);
- a scam's threats (涉嫌洗钱, a warrant), unless the callee already dealt with it (报警了).

Each finding must be live: not negated (我没转), not a question about the word itself
(安全账户是啥意思), and an instruction the callee already refused (挂了, 没理他) does not count
unless something is still pending (还没 / 正准备). When in doubt it finds danger: a missed
victim costs far more than an officer's call-back.

The words live in `languages/LANGUAGE.danger.yaml`; Chinese words of two characters or more
also match by toneless pinyin, so recogniser homophones (验正码, 保正金, 理才) are caught.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from pydantic import BaseModel, ConfigDict
from ruamel.yaml import YAML

from ..dialog.const import Language
from ..dialog.negation import asked_about, negated, negated_after
from ..dialog.normalize import Clause, clauses, homophone, is_cjk, normalize, to_pinyin
from .classifier import DangerClassifier, danger_classifier
from .english import SoundMatcher, stem
from .lexicon import LANGUAGES_DIR

_MIN_PINYIN_CHARS = 2
_BY_SOUND = ("strong", "credentials")
_SAID = ("strong", "threats", "acts", "setup", "credentials")
"""Categories whose words do not count when the callee asks what they mean."""
"""Categories whose English words also match by sound (a misheard "safe account" or code)."""


class _Terms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    words: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()


class DangerWords(BaseModel):
    """One language's lexicon (see languages/zh-CN.danger.yaml for what each part means)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strong: _Terms = _Terms()
    coaching: _Terms = _Terms()
    ongoing: _Terms = _Terms()
    threats: _Terms = _Terms()
    acts: _Terms = _Terms()
    setup: _Terms = _Terms()
    """Acts that are danger only when someone asked for them (install an app, share a screen):
    callees do these of their own accord too."""
    credentials: _Terms = _Terms()
    handover: _Terms = _Terms()
    asks: _Terms = _Terms()
    doing: _Terms = _Terms()
    done: _Terms = _Terms()
    resolved: _Terms = _Terms()
    refused: _Terms = _Terms()
    benign: _Terms = _Terms()
    """The callee's own legitimate business (to family confirmed face to face, official
    channels, their own bills) or knowledge ("我知道那是骗局"). Clears everything but coaching
    and a fraudster on the line, and a script's urgent phrase said in it."""
    pending: _Terms = _Terms()
    asking_about: _Terms = _Terms()
    doing_window: int = 6
    """How far before an act (characters; words for spaced languages) a `doing` cue counts."""


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    """Token positions in the clause (characters for Chinese)."""


@dataclass(frozen=True)
class _Context:
    """What a sentence says about itself."""

    handled: bool
    """Reported, hung up, blocked, nothing pending: clears its threats, strong words and
    instructions."""
    refused: bool
    """"我没转" / "I never sent it", nothing pending: clears the instructions it answers."""
    benign: bool
    """The callee's own legitimate business, or knowledge: clears all but coaching and a
    fraudster on the line."""

    @property
    def explains(self) -> bool:
        return self.handled or self.refused or self.benign


_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=[a-z]\.)\s")


@dataclass(frozen=True)
class Danger:
    phrase: str
    """The words that showed it, as heard (normalised)."""
    reason: str
    """Which part of the model found it: strong, coaching, ongoing, threat, asked, doing, handed_over."""


class _Matcher:
    """Finds one category's words and patterns in a clause; English words of several words
    also by sound when `by_sound` ("very vacation code" for "verification code"). Words are
    indexed by their first character (Chinese), syllable (pinyin) or word (English), so a
    clause is scanned once, not once per word: this runs on every partial result of a call."""

    _CACHE_SIZE = 4096

    def __init__(self, terms: _Terms, language: Language, *, by_sound: bool = False) -> None:
        self.language = language
        self.sound: list[SoundMatcher] = []
        self.patterns = [re.compile(pattern) for pattern in terms.patterns]
        self._first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        self._wild_first: list[tuple[str, ...]] = []
        self._syllable: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        for word in terms.words:
            text = normalize(word, language)
            if language.spaced:
                tokens = tuple(part if part.endswith("*") else stem(part) for part in text.split())
                if tokens and tokens[0].endswith("*"):
                    self._wild_first.append(tokens)
                elif tokens:
                    self._first[tokens[0]].append(tokens)
                if by_sound and language is Language.EN_US and "*" not in text:
                    sound = SoundMatcher(text.split())
                    if sound.usable:
                        self.sound.append(sound)
            elif text:
                self._first[text[0]].append((text,))
                if is_cjk(text) and len(text) >= _MIN_PINYIN_CHARS:
                    pinyin = tuple(to_pinyin(text))
                    self._syllable[pinyin[0]].append((text, pinyin))
        self._cache: dict[Clause, list[Span]] = {}

    def spans(self, clause: Clause) -> list[Span]:
        found = self._cache.get(clause)
        if found is None:
            if len(self._cache) >= self._CACHE_SIZE:
                self._cache.clear()
            found = self._cache[clause] = self._spans(clause)
        return found

    def _spans(self, clause: Clause) -> list[Span]:
        found: list[Span] = []
        if self.language.spaced:
            heard = clause.stems if self.language is Language.EN_US else clause.tokens
            raw = clause.tokens
            for start, first in enumerate(heard):
                for word in [*self._first.get(first, ()), *self._wild_first]:
                    end = start + len(word)
                    if end <= len(heard) and all(_same(heard[start + i], raw[start + i], part) for i, part in enumerate(word)):
                        found.append(Span(start, end))
        else:
            text = clause.text
            exact: set[str] = set()
            for start, char in enumerate(text):
                for (word,) in self._first.get(char, ()):
                    if text.startswith(word, start):
                        exact.add(word)
                        found.append(Span(start, start + len(word)))
            if self._syllable:
                syllables = clause.pinyin
                for start, syllable in enumerate(syllables):
                    for word, pinyin in self._syllable.get(syllable, ()):
                        end = start + len(pinyin)
                        if (word not in exact and tuple(syllables[start:end]) == pinyin
                                and homophone(text[start:end], word)):
                            found.append(Span(start, end))
        for pattern in self.patterns:
            for match in pattern.finditer(clause.text):
                if match.group(0):
                    found.append(Span(self._index(clause, match.start()), self._index(clause, match.end())))
        for sound in self.sound:
            span = sound.find(clause.tokens)
            if span is not None:
                found.append(Span(*span))
        return found

    def words(self) -> list[str]:
        """The literal words (for recogniser grammars)."""
        if self.language.spaced:
            return [" ".join(w) for words in (*self._first.values(), self._wild_first) for w in words]
        return [word for words in self._first.values() for (word,) in words]

    def _index(self, clause: Clause, char_index: int) -> int:
        if self.language.spaced:
            return len(clause.text[:char_index].split())
        return char_index


def _same(heard: str, heard_raw: str, word: str) -> bool:
    if word.endswith("*"):
        return heard_raw.startswith(word[:-1])
    return heard == word


class DangerDetector:
    def __init__(self, words: DangerWords, language: Language, classifier: DangerClassifier | None = None) -> None:
        self.language = language
        self.words = words
        self.classifier = classifier
        self._m = {name: _Matcher(getattr(words, name), language, by_sound=name in _BY_SOUND)
                   for name in DangerWords.model_fields if name != "doing_window"}

    def vocabulary(self) -> list[str]:
        """Every word of the lexicon (not its patterns): what a recogniser limited to a
        grammar (Vosk) must be able to hear for the detector to work."""
        words = {word.replace("*", "") for name in DangerWords.model_fields if name != "doing_window"
                 for word in getattr(self.words, name).words}
        return sorted(word for word in words if word)

    def detect(self, text: str) -> Danger | None:
        """The first sign of danger in an utterance, or None."""
        found = self._by_rules(text)
        if found is None and self.classifier is not None and self.classifier.says_danger(text):
            return Danger(text, "classifier")
        return found

    def _by_rules(self, text: str) -> Danger | None:
        for sentence in self._sentences(text):
            context = self._context(sentence)
            asked_before = False
            for clause in sentence:
                found = self._in_clause(clause, context, asked_before)
                if found is not None:
                    return found
                asked_before = bool(self._live(clause, "asks"))
        return None

    def cleared(self, text: str) -> bool:
        """True if the callee explains what they said as dealt with or their own legitimate
        business ("我给我妈转了两千，当面问过的", "I hung up on them") and nothing in it is
        danger: a script's urgent phrase in it ("转了") need not escalate."""
        explained = any(self._context(sentence).explains for sentence in self._sentences(text))
        return explained and self.detect(text) is None

    def _sentences(self, text: str) -> list[list[Clause]]:
        """The utterance's sentences, each as its clauses: what clears one sentence ("国债是在
        柜台买的。") says nothing of the next ("就是还有个老师的群，他让我…")."""
        found = [clauses(part, self.language) for part in _SENTENCE_END.split(text)]
        return [sentence for sentence in found if sentence]

    def _context(self, sentence: list[Clause]) -> _Context:
        pending = any(self._live(clause, "pending") for clause in sentence)
        return _Context(
            handled=not pending and any(self._live(clause, "resolved") for clause in sentence),
            refused=not pending and any(self._live(clause, "refused") for clause in sentence),
            benign=any(self._m["benign"].spans(clause) for clause in sentence),
        )

    def _in_clause(self, clause: Clause, context: _Context, asked_before: bool) -> Danger | None:
        if not context.benign and not context.handled:
            for span in self._live(clause, "strong"):
                return self._danger(clause, span, "strong")
        for span in self._m["coaching"].spans(clause):  # carries its own negation: 别告诉
            return self._danger(clause, span, "coaching")
        for span in self._live(clause, "ongoing"):
            return self._danger(clause, span, "ongoing")
        if context.benign:
            return None
        if not context.handled:
            for span in self._live(clause, "threats"):
                return self._danger(clause, span, "threat")
        asks = self._live(clause, "asks")
        instructed = not (context.handled or context.refused) and (asked_before or bool(asks))

        def asked(span: Span) -> bool:
            return instructed and (asked_before or any(ask.start <= span.start for ask in asks))

        for span in self._live(clause, "acts"):
            if self._doing(clause, span):
                return self._danger(clause, span, "doing")
            if asked(span):
                return self._danger(clause, span, "asked")
        for span in self._live(clause, "setup"):
            if asked(span):
                return self._danger(clause, span, "asked")
        credentials = self._live(clause, "credentials")
        if credentials and self._live(clause, "handover"):
            return self._danger(clause, credentials[0], "handed_over")
        if credentials and asked(credentials[0]):
            return self._danger(clause, credentials[0], "asked")
        return None

    def _live(self, clause: Clause, name: str) -> list[Span]:
        """Spans of a category that are said: not negated, and (for what can be dangerous)
        not asked about ("你刚才说下载啥？")."""
        questionable = name in _SAID
        return [span for span in self._m[name].spans(clause)
                if not negated(clause, span.start) and not negated_after(clause, span.end)
                and not (questionable and self._asked_about(clause, span))]

    def _doing(self, clause: Clause, act: Span) -> bool:
        """Done, under way or about to: a cue just before the act (已经 / I already, "I put"
        overlapping "put money"), a particle just after (交了 / 转过), or the act's own (充了)."""
        window = self.words.doing_window
        if any(cue.start <= act.start and cue.end >= act.start - window for cue in self._live(clause, "doing")):
            return True
        if not self.language.spaced and any(mark in clause.text[act.start : act.end] for mark in ("了", "过", "完")):
            return True  # 充了 / 交了押金
        return any(act.end <= cue.start <= act.end + 3 for cue in self._m["done"].spans(clause))

    def _asked_about(self, clause: Clause, span: Span) -> bool:
        """"安全账户是啥意思？" / "what's a safe account?": a question about the word itself."""
        return asked_about(clause, span.start, span.end) or any(
            question.start == 0 or abs(question.start - span.end) <= 2 or abs(question.end - span.start) <= 2
            for question in self._m["asking_about"].spans(clause)
        )

    def _danger(self, clause: Clause, span: Span, reason: str) -> Danger:
        separator = " " if self.language.spaced else ""
        return Danger(separator.join(clause.tokens[span.start : span.end]), reason)


@cache
def danger_detector(language: Language) -> DangerDetector | None:
    """The shipped detector of a language, or None where there is no lexicon."""
    path = LANGUAGES_DIR / f"{language.value}.danger.yaml"
    if not path.exists():
        return None
    words = DangerWords.model_validate(YAML(typ="safe").load(path.read_text(encoding="utf-8")))
    return DangerDetector(words, language, danger_classifier(language))
