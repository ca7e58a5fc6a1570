"""Whether something a callee said is asserted: not negated ("我没有转账", "I haven't
transferred") and not a question about the word itself ("安全账户是啥意思？").

A negation cue negates what follows it in its clause until a new subject or conjunction
starts: "I did not send money to any safe account" is negated, "I didn't realise I
transferred it" is not. Scope is capped at a few words (English) or characters (Chinese).
The intent matcher and the danger detector both ask here.
"""

from __future__ import annotations

import re

from .normalize import Clause

_ZH_NEGATIONS = ("没有", "没", "不是", "不", "未", "别", "从未", "并未", "无", "冇", "莫得", "没得", "唔", "哪有", "哪来", "哪能",
                 "怎么可能",
                 # hypothetical: "要是有人让我转钱，我就打96110" asserts nothing happened
                 "要是", "如果", "假如", "万一", "再有人", "要有人")
# "Nobody" negates the whole clause: "没有人找我借钱" stays negated past the "我".
_ZH_NOBODY = ("没有人", "没人", "没有谁", "冇人", "没得人", "没有熟人", "没熟人", "没有朋友", "没有领导", "没有客服",
              "没有警察", "没有老师", "没有亲戚", "没有同学", "没有陌生人", "没有什么人", "没什么人")
# Right after what was said: "手续费都没收", "一分钱也没转".
_ZH_NEGATED_AFTER = ("都没", "都不", "也没", "也不", "不了", "不起", "是不可能", "不可能")
# Words that contain a negation character but do not negate what follows.
_ZH_NOT_NEGATING = ("不小心", "不好意思", "不得不", "不久", "不停", "不断", "不少", "没想到", "差不多", "不然", "别的", "别人", "特别")
_ZH_SUBJECTS = ("我", "他", "她", "他们", "我们")
# After these a pronoun is an object, not a new subject: "他没让我下载" stays negated.
_ZH_OBJECT_MARKERS = ("让", "叫", "要", "给", "帮", "跟", "和", "替", "被", "把", "逼", "教", "带", "催", "找", "问")
# A conjunction, or 了 closing the negated verb ("我不借了，答应你"), ends the negation's scope.
_ZH_CONJUNCTIONS = ("就", "所以", "因为", "而且", "还是", "结果", "说是", "了")
_ZH_NEGATION_SCOPE_CHARS = 8
_EN_NEGATIONS = frozenset({"no", "not", "never", "nothing", "nobody", "neither", "nor", "without", "none",
                           "whoever", "anybody", "anyone"})  # "anybody asks me for a gift card, I hang up"
_EN_SCOPE_BREAKERS = frozenset({"i", "it", "he", "she", "they", "we", "and", "because", "so", "then", "that", "which", "until"})
_EN_NEGATION_SCOPE_WORDS = 8


def negated_after(clause: Clause, end: int) -> bool:
    """True if what ends at token `end` is negated right after it: "I did not", "手续费都没收"."""
    if clause.language.spaced:
        return clause.tokens[end : end + 1] in (["not"], ["never"])
    return clause.text[end:].startswith(_ZH_NEGATED_AFTER)


def negated(clause: Clause, start: int) -> bool:
    """True if the words from token `start` on are negated in this clause."""
    if clause.language.spaced:
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
    scope = window[cue_end:]
    if any(conjunction in scope for conjunction in _ZH_CONJUNCTIONS):
        return False
    if cue in _ZH_NOBODY:
        return True
    # "他没让我下载": the 我 of a 让 right after the cue is its object, still in scope; in
    # "我没注销，让我先把钱打过去" a later 让我 starts a new predicate.
    return not any(
        not (index == 1 and scope[:1] in _ZH_OBJECT_MARKERS)
        for subject in _ZH_SUBJECTS
        for index in _positions(scope, subject)
    )


def _positions(text: str, word: str) -> list[int]:
    return [index for index in range(len(text)) if text.startswith(word, index)]


# A question about a word rather than a statement with it: "安全账户是啥意思？", "什么叫刷单",
# "what's a safe account?".
_ZH_ASKING_AFTER = re.compile(r"^((是|叫)个?(啥|什么)|(是|叫)?个?(啥|什么)(意思|东西|玩意)|(啥|什么)$|算?(不|没有?)$)")
_ZH_ASKING_BEFORE = re.compile(r"(^|说|是)(什么|啥)(是|叫)?$")
_EN_ASKING_BEFORE = re.compile(
    r"\b(what|whats) (is |s )?(a |an |the |this |that )?$|\bwhat does (a |an |the )?$"
    r"|\b(who|why|how) would (i|we) .{0,40}$"  # "who would I send money to?": rhetorical
)
_EN_ASKING_AFTER = re.compile(r"^ ?(mean|means)\b")


_ECHO_QUESTION_WORDS = frozenset({"what", "huh", "吗", "啥", "什么", "呢"})


def _echoed(clause: Clause, start: int, end: int) -> bool:
    """The clause is the words themselves asked back ("保密？", "Transferred what?")."""
    rest = [*clause.tokens[:start], *clause.tokens[end:]]
    return all(token in _ECHO_QUESTION_WORDS for token in rest)


def asked_about(clause: Clause, start: int, end: int) -> bool:
    """True if the words at tokens `start`..`end` are asked about, not said: a question about
    the word ("安全账户是啥意思"), or the word echoed back as a question ("保密？", "Share my
    screen?")."""
    if clause.question and _echoed(clause, start, end):
        return True
    if clause.language.spaced:
        before = " ".join(clause.tokens[:start])
        following = " ".join(clause.tokens[end:])
        return bool(_EN_ASKING_BEFORE.search(before + " " if before else "")) or bool(_EN_ASKING_AFTER.match(following))
    after = _ZH_ASKING_AFTER.match(clause.text[end:])
    if after and after.group(0) in ("啥", "什么") and any(cue in clause.text[:start] for cue in ("没", "不")):
        return False  # "没人让我下载什么": 什么 is "anything" here, not a question
    return bool(after) or bool(_ZH_ASKING_BEFORE.search(clause.text[:start]))
