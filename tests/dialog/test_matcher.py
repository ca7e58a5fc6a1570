"""Intent matching: negation, precedence, and tolerance of recogniser output."""

from __future__ import annotations

import pytest

from robot.dialog.const import Language
from robot.dialog.matcher import IntentMatcher, MatchMethod
from robot.dialog.schema import Intent

ZH = IntentMatcher(
    {
        "urgent": Intent(phrases=["转账", "安全账户", "验证码", "转了", "借钱"]),
        "deny": Intent(phrases=["没有", "不是"]),
        "stop": Intent(phrases=["别打了"], negatable=False),
        "code": Intent(patterns=[r"验证码.{0,4}(给|告诉)"]),
    },
    Language.ZH_CN,
)
EN = IntentMatcher(
    {
        "urgent": Intent(phrases=["transfer*", "sent money", "safe account"]),
        "deny": Intent(phrases=["no", "not"]),
        "human": Intent(phrases=["real person"], dtmf=["0"]),
    },
    Language.EN_US,
)


@pytest.mark.parametrize(
    ("text", "intent", "matched"),
    [
        ("我已经转账了", "urgent", "转账"),
        ("我没有转账", "deny", "没有"),  # negated urgency falls through to the next candidate
        ("我没有转账到安全账户", "deny", "没有"),
        ("我从来没把验证码告诉别人", None, None),
        ("我沒有轉賬", "deny", "没有"),  # traditional characters
        ("没有办法，我只好转账了", "urgent", "转账"),  # the negation is in another clause
        ("没办法我只好转账了", "urgent", "转账"),  # a new subject ends the negation
        ("我不小心转账了", "urgent", "转账"),  # 不小心 does not negate
        ("没有转账，但是验证码给他了", "urgent", "验证码"),
        ("没有人找我借钱", "deny", "没有"),  # "nobody" negates the whole clause
        ("有人找我借钱", "urgent", "借钱"),
    ],
)
def test_chinese_negation(text, intent, matched):
    found = ZH.match_text(text, ["urgent", "deny"])
    if intent is None:
        assert found is None
    else:
        assert (found.intent, found.phrase) == (intent, matched)


@pytest.mark.parametrize(
    ("text", "method"),
    [
        ("我 已经 转 账 了", MatchMethod.PHRASE),  # Vosk puts spaces between words
        ("我已经转帐了", MatchMethod.PINYIN),  # homophone: 帐 for 账
        ("钱在安全帐户里", MatchMethod.PINYIN),  # 帐户 for 账户
        ("我已經轉賬了", MatchMethod.PHRASE),  # traditional
        ("ＷＯ已经转账了", MatchMethod.PHRASE),  # full-width letters
        ("验 證 碼 给他了", MatchMethod.PHRASE),
    ],
)
def test_chinese_asr_tolerance(text, method):
    found = ZH.match_text(text, ["urgent"])
    assert found is not None and found.intent == "urgent"
    assert found.method is method


def test_pinyin_needs_two_syllables():
    # One syllable has too many homophones: 是 (shi) must not match 十 (shi).
    matcher = IntentMatcher({"yes": Intent(phrases=["是"])}, Language.ZH_CN)
    assert matcher.match_text("十块", ["yes"]) is None


def test_non_negatable_intent_ignores_negation():
    assert ZH.match_text("不，别打了", ["stop"]).intent == "stop"


def test_patterns_respect_negation():
    assert ZH.match_text("验证码告诉他了", ["code"]).method is MatchMethod.PATTERN
    assert ZH.match_text("我没有把验证码告诉他", ["code"]) is None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I haven't transferred anything", "deny"),
        ("I did not send money to any safe account", "deny"),
        ("no money was transferred", "deny"),
        ("No, I transferred it yesterday", "urgent"),  # "no" answers; then a new clause
        ("I didn't realise I transferred it", "urgent"),  # a new subject ends the negation
        ("I’VE TRANSFERRED it", "urgent"),  # case and curly apostrophe
        ("they want me to use a safe-account", "urgent"),  # punctuation inside a phrase
        ("transferring now", "urgent"),  # the word* wildcard
    ],
)
def test_english_folding_and_negation(text, intent):
    assert EN.match_text(text, ["urgent", "deny"]).intent == intent


def test_precedence_is_the_candidate_order():
    text = "no, let me talk to a real person"
    assert EN.match_text(text, ["human", "deny"]).intent == "human"
    assert EN.match_text(text, ["deny", "human"]).intent == "deny"


def test_dtmf():
    assert EN.match_dtmf("0", ["urgent", "human"]).method is MatchMethod.DTMF
    assert EN.match_dtmf("5", ["urgent", "human"]) is None


def test_empty_text_matches_nothing():
    assert EN.match_text("  ... ", ["urgent", "deny"]) is None


def test_korean_matches_whole_words_with_hangul_kept():
    korean = IntentMatcher({"urgent": Intent(phrases=["돈을 보냈어요", "비밀"]), "yes": Intent(phrases=["네"])}, Language.KO_KR)
    urgent = korean.match_text("저는 돈을 보냈어요", ["yes", "urgent"])
    assert urgent is not None and urgent.intent == "urgent"
    assert korean.match_text("네 알겠습니다", ["yes", "urgent"]).intent == "yes"
    assert korean.match_text("네요", ["yes"]) is None  # a word, not a prefix of one
