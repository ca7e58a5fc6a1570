"""Fold recogniser output and script phrases into one comparable form.

Speech recognisers disagree with supervisors about spacing, script (traditional or
simplified), full-width forms, homophones, case and contractions. Both sides of every
comparison go through the same functions here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from .const import Language

# Clause boundaries: punctuation and contrastive conjunctions. Negation never reaches across
# one, so "我没有转账，但是验证码给他了" still matches the verification-code intent.
_ZH_BOUNDARY = re.compile(r"[,.!?;:\n，。！？；：、…]+|但是|可是|不过|然后")
_EN_BOUNDARY = re.compile(r"[,.!?;:\n…]+|\b(?:but|however|although|though|except)\b")
_EN_TOKEN = re.compile(r"[a-z0-9]+")
_WORD_TOKEN = re.compile(r"\w+")
_SPACE_NOT_BETWEEN_LATIN = re.compile(r"(?<![a-z0-9])\s+|\s+(?![a-z0-9])")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

_CONTRACTIONS = [
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\bain't\b"), "am not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\blet's\b"), "let us"),
    (re.compile(r"\b(it|that|what|there|here|he|she|who|where|how|this)'s\b"), r"\1 is"),
    (re.compile(r"'s\b"), ""),
    # Recognisers and hurried typists drop the apostrophe: "i havent", "dont", "im".
    (re.compile(r"\b(have|has|had|do|does|did|is|are|was|were|could|should|would|must|need)nt\b"), r"\1 not"),
    (re.compile(r"\bcant\b"), "can not"),
    (re.compile(r"\bwont\b"), "will not"),
    (re.compile(r"\bim\b"), "i am"),
    (re.compile(r"\bive\b"), "i have"),
    (re.compile(r"\b(you|they|we)re\b"), r"\1 are"),
    (re.compile(r"\b(that|what|there)s\b"), r"\1 is"),
]


@cache
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def fold_width_and_case(text: str) -> str:
    """NFKC folds full-width letters, digits and punctuation to their ASCII forms."""
    return unicodedata.normalize("NFKC", text).lower()


def is_cjk(text: str) -> bool:
    return bool(text) and all(_CJK.match(char) for char in text)


@dataclass(frozen=True)
class Clause:
    """One clause of normalised text.

    `text` is the comparison form: for Chinese, simplified characters with no spaces
    between them; for English, lower-case words separated by single spaces.
    """

    text: str
    language: Language
    question: bool = False
    """The clause ended with a question mark ("保密？")."""

    @cached_property
    def tokens(self) -> list[str]:
        """English words, or Chinese characters (one per token)."""
        if self.language is Language.EN_US:
            return _EN_TOKEN.findall(self.text)
        if self.language.spaced:
            return _WORD_TOKEN.findall(self.text)
        return list(self.text)

    @cached_property
    def stems(self) -> list[str]:
        """English words with inflections folded (moved → mov, sent → send)."""
        from ..understanding.english import stem

        return [stem(token) for token in self.tokens]

    @cached_property
    def spaced_pinyin(self) -> str:
        """The syllables joined by spaces, padded: a quick "is this word here by sound?"."""
        return f" {' '.join(self.pinyin)} "

    @cached_property
    def pinyin(self) -> list[str]:
        """One toneless syllable per character of `text` (Chinese only)."""
        return to_pinyin(self.text)


# A sentence ends at 。！？；!?; or at a full stop followed by a space or the end.
# Titles such as "Mr." do not end a sentence.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bMrs\.)(?<=\.)(?=\s|$)")


def split_sentences(text: str) -> list[str]:
    """Sentences in order, so the first can be synthesised (and played) first."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


_CJK_WIDE = r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef“”‘’]"
_SPACE_BESIDE_CJK = re.compile(rf"(?<={_CJK_WIDE})\s+|\s+(?={_CJK_WIDE})")


def tidy_prompt(text: str, language: Language) -> str:
    """Drop the spaces YAML folding leaves between Chinese lines ("。 请问" → "。请问")."""
    if language is Language.ZH_CN:
        text = _SPACE_BESIDE_CJK.sub("", text)
    return text.strip()


# Two-character phrases match by sound only through these recogniser confusions: 转帐 = 转账,
# 冲值 = 充值, but not 队的 = 对的 or 不识 = 不是.
_HOMOPHONES = frozenset(
    frozenset(pair) for pair in ("帐账", "冲充", "再在", "连链", "代贷", "正证", "才财", "会汇", "前钱", "马码", "介借", "付副")
)


def homophone(heard: str, written: str) -> bool:
    """Whether `heard` (same pinyin as `written`) may stand for it: for two characters each
    difference must be a known recogniser confusion; longer words may differ in one other
    character (保正金 = 保证金, but the 点复 of 有点复杂 is not 垫付, nor 知道我 指导我)."""
    pairs = list(zip(heard, written, strict=False))
    unknown = [(a, b) for a, b in pairs if a != b and frozenset((a, b)) not in _HOMOPHONES]
    if len(written) <= 2:
        return not unknown
    return len(unknown) <= 1 and any(a == b for a, b in pairs)


def to_pinyin(text: str) -> list[str]:
    from pypinyin import lazy_pinyin

    syllables = lazy_pinyin(text, errors=_one_per_character)
    if len(syllables) != len(text):  # never seen; keep alignment honest if it happens
        syllables = [lazy_pinyin(char, errors=_one_per_character)[0] for char in text]
    return syllables


def _one_per_character(chunk: str) -> Any:
    """pypinyin hands non-Chinese runs here; keep one item per character."""
    return list(chunk)


# "是不是 / 有没有 / 能不能" ask a question; their 不/没 negate nothing and their 是/有 answer
# nothing: "你们是不是骗子" is not "不是", "能不能转人工" does not negate 人工.
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])(?<![不没])[不没]\1")


def normalize_zh(text: str) -> str:
    text = _t2s().convert(fold_width_and_case(text))
    text = _SPACE_NOT_BETWEEN_LATIN.sub("", text).strip()
    return _A_NOT_A.sub(r"\1吗", text)


def normalize_en(text: str) -> str:
    text = fold_width_and_case(text).replace("\u2019", "'").replace("`", "'")
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    text = re.sub(r"[^a-z0-9*\s,.!?;:]", " ", text)  # `*` is the phrase wildcard
    return re.sub(r"[ \t]+", " ", text).strip()


def normalize_spaced(text: str) -> str:
    """Other languages with spaces between words (Korean): letters of any script kept."""
    text = re.sub(r"[^\w*\s,.!?;:]", " ", fold_width_and_case(text))
    return re.sub(r"[ \t]+", " ", text).strip()


def normalize(text: str, language: Language) -> str:
    """The comparison form of a phrase, keeping clause punctuation."""
    if language is Language.ZH_CN:
        return normalize_zh(text)
    return normalize_en(text) if language is Language.EN_US else normalize_spaced(text)


def clauses(text: str, language: Language) -> list[Clause]:
    """Split an utterance into normalised clauses."""
    boundary = _ZH_BOUNDARY if language is Language.ZH_CN else _EN_BOUNDARY
    folded = normalize(text, language)
    found: list[Clause] = []
    position = 0
    for separator in [*boundary.finditer(folded), None]:
        end = separator.start() if separator else len(folded)
        part = folded[position:end].strip()
        if part:
            found.append(Clause(part, language, question=separator is not None and "?" in separator.group(0)))
        position = separator.end() if separator else end
    return found
