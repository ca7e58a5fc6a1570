"""What the robot understands, on the shipped scripts: the failures found on real calls
(issue 11), acknowledgments that are no answer, danger in words no phrase list holds,
English that survives the recogniser, and hang-ups that are not refusals."""

from __future__ import annotations

import pytest

from robot.clock import VirtualClock
from robot.dialog.const import EscalationReason, Language, Outcome
from robot.dialog.engine import DialogEngine
from robot.dialog.events import Backchannel, NoMatch, Say
from robot.dialog.loader import load_script
from robot.understanding.classifier import danger_classifier
from robot.understanding.danger import danger_detector
from tests.conftest import DIALOGS

STATES = ["greet", "warning", "check_contact", "advice"]


def script(name: str, language: str = "zh-CN"):
    return load_script(DIALOGS / language / f"{name}.yaml").script


async def in_state(name: str, state: str, language: str = "zh-CN") -> DialogEngine:
    engine = DialogEngine(script(name, language), clock=VirtualClock())
    await engine.start(at_state=state)
    engine.prompt_finished()
    return engine


@pytest.mark.parametrize(("name", "language", "said"), [
    ("generic", "zh-CN", "我另一个电话还在跟检察院的人通话，他们说我的账户涉嫌洗钱"),
    ("impersonate_police", "zh-CN", "他在视频里穿着警服，让我一个人去宾馆开房间配合办案"),
    ("impersonate_acquaintance", "zh-CN", "我领导加我微信，让我先帮他垫付一笔钱给客户"),
    ("generic", "en-US", "they asked me for the verification code from my text message and I gave it to them"),
])
@pytest.mark.parametrize("state", STATES)
async def test_a_victim_describing_the_scam_is_escalated_in_every_state(name, language, said, state):
    # On real calls these got a reprompt, and when the callee hung up, `refused`.
    engine = await in_state(name, state, language)
    await engine.handle_speech(said)
    assert engine.escalation is not None and engine.escalation.reason is EscalationReason.URGENT_SPEECH
    assert engine.outcome is Outcome.ESCALATED


@pytest.mark.parametrize("said", [
    "他让我去ATM把钱存到他给的卡上",
    "对方说我涉嫌一宗跨境案件，要我每天汇报行踪",
    "他让我把手机里的反诈App卸载了",
    "我把身份证照片和刷脸视频都发给他了",
])
async def test_danger_in_words_no_phrase_list_holds(said):
    assert danger_detector(Language.ZH_CN).detect(said) is not None  # the detector alone finds it
    engine = await in_state("investment", "advice")  # a state whose own intents know nothing of it
    await engine.handle_speech(said)
    assert engine.escalation.reason is EscalationReason.URGENT_SPEECH


@pytest.mark.parametrize("said", ["我没转账，我知道那是骗子", "我知道公安不会让人转账", "安全账户是啥意思？",
                                  "我给我妈转了两千，她就住我楼下，我当面问过的", "没有人让我下载什么软件"])
async def test_negated_known_or_harmless_mentions_are_not_danger(said):
    engine = await in_state("generic", "warning")
    await engine.handle_speech(said)
    assert engine.escalation is None


@pytest.mark.parametrize(("language", "said", "again"), [
    ("en-US", "okay I understand", "Please say yes or no"),
    ("zh-CN", "明白了", "请说“有”或者“没有”"),
    ("zh-CN", "好的好的，知道了", "请说“有”或者“没有”"),
])
async def test_an_acknowledgment_to_a_yes_no_question_is_no_answer(language, said, again):
    # "Has anyone asked you to download an app…?" — "okay I understand" escalated as urgent.
    engine = await in_state("generic", "check_contact", language)
    await engine.handle_speech(said)
    assert engine.escalation is None and engine.state == "check_contact"
    assert isinstance(engine.events[-3], NoMatch) and engine.events[-3].acknowledgment
    assert isinstance(engine.events[-2], Say) and again in engine.events[-2].text
    await engine.handle_speech("no" if language == "en-US" else "没有")
    assert engine.state == "advice"


async def test_yes_to_the_question_still_escalates_and_ok_still_agrees_where_it_is_asked_for():
    engine = await in_state("generic", "check_contact", "en-US")
    await engine.handle_speech("yes")
    assert engine.escalation is not None
    engine = await in_state("generic", "advice", "en-US")  # "Will you stop all contact…?"
    await engine.handle_speech("okay")
    assert engine.path == ["advice", "goodbye"]


async def test_a_backchannel_over_the_prompt_changes_nothing():
    engine = await in_state("generic", "warning", "zh-CN")
    assert await engine.handle_speech("嗯嗯，对", over_prompt=True) is None
    assert isinstance(engine.events[-1], Backchannel) and engine.state == "warning"
    await engine.handle_speech("对", over_prompt=False)  # the same word after the question is a yes
    assert engine.escalation is not None


@pytest.mark.parametrize("said", [
    "oh I already did what the officer told me to move my savings and to take account",  # as PocketSphinx heard it
    "I moved my savings to the safe account",
    "I already sent money to them",
    "I bought gift cards and read them the numbers",
    "he has remote access to my computer",
    "they told me to keep it a secret",
    "i gave him the very fication code",
])
async def test_english_that_survives_the_recogniser(said):
    engine = await in_state("generic", "greet", "en-US")
    await engine.handle_speech(said)
    assert engine.escalation is not None and engine.escalation.reason is EscalationReason.URGENT_SPEECH


@pytest.mark.parametrize("said", [
    "yes speaking", "we should take into account the weather", "my savings account is at the credit union",
    "I have a bank account", "I sent my daughter rent money after calling her first", "what is a safe account",
])
async def test_sound_alike_and_inflection_matching_does_not_invent_danger(said):
    engine = await in_state("generic", "greet", "en-US")
    await engine.handle_speech(said)
    assert engine.escalation is None


async def test_a_misheard_safe_account_is_found_by_sound_but_not_a_same_account():
    detector = danger_detector(Language.EN_US)
    assert detector.detect("they told me to take account").phrase == "take account"
    assert detector.detect("save a count") is not None
    assert detector.detect("take into account") is None


async def test_a_hang_up_is_not_a_refusal_and_keeps_what_was_not_understood():
    engine = await in_state("generic", "warning", "zh-CN")
    await engine.callee_hung_up()
    assert engine.outcome is Outcome.HUNG_UP
    engine = await in_state("generic", "advice", "zh-CN")  # on_hangup: dissuaded ...
    await engine.handle_speech("那个我儿子下个月结婚要用钱的嘛你晓得伐")
    await engine.callee_hung_up()
    assert engine.outcome is Outcome.HUNG_UP  # ... but not after words nobody understood
    callee = [line for line in engine.transcript() if line["speaker"] == "callee"]
    assert callee[-1]["understood"] is False
    engine = await in_state("generic", "warning", "zh-CN")
    await engine.handle_speech("别打了，烦不烦")
    assert engine.outcome is Outcome.REFUSED  # refused means an explicit refusal


async def test_the_warning_reprompt_asks_only_the_question():
    engine = await in_state("generic", "warning", "en-US")
    await engine.handle_no_input()
    again = engine.events[-2]
    assert isinstance(again, Say)
    assert again.text == "Have you transferred any money, or shared a verification code with anyone?"


def test_every_script_inherits_every_scam_types_markers():
    # impersonate_acquaintance once replaced scam_urgent and lost generic's 垫付.
    generic = set(script("generic").intents["scam_urgent"].phrases)
    for name in ("impersonate_acquaintance", "investment", "impersonate_police", "online_loan"):
        assert generic <= set(script(name).intents["scam_urgent"].phrases), name


def test_the_shipped_classifiers_load_and_tell_a_story_from_a_greeting():
    for language, story, greeting in ((Language.ZH_CN, "他让我先交两万保证金才能放款，我刚转过去了", "你好，我在吃饭"),
                                      (Language.EN_US, "he told me to buy gift cards and send him the codes", "hello who is this")):
        classifier = danger_classifier(language)
        assert classifier is not None and 0.5 <= classifier.threshold < 1.0
        assert classifier.probability(story) > classifier.threshold > classifier.probability(greeting)
