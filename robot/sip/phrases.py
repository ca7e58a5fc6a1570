"""What the robot says on a call that no script says: the whisper to an officer, the
call-back promise when no officer answers, and the apology when the robot itself fails.

The call-back promise and the apology carry nothing personal, so they are rendered into the
prompt cache before any call (`fixed_sentences`): the apology must play even when it is the
synthesiser that failed.
"""

from __future__ import annotations

from ..dialog.normalize import split_sentences

WHISPER = {
    "zh-CN": "紧急预警转接。编号{warning_id}，{fraud_type_label}。对方说：{phrase}。",
    "en-US": "Urgent warning hand-off. Warning {warning_id}, {fraud_type_label}. The caller said: {phrase}.",
}
CALL_BACK = {
    "zh-CN": "暂时无法接通民警，民警会尽快给您回电。在此之前，请不要向任何人转账。再见。",
    "en-US": "I could not reach an officer right now. An officer will call you back very soon. Until then, please do not transfer any money. Goodbye.",
}
APOLOGY = {
    "zh-CN": "非常抱歉，我们的系统出现了故障，我们会尽快再联系您。在此之前，请不要向任何人转账。再见。",
    "en-US": "I am sorry, something went wrong on our side. We will call you again very soon. Until then, please do not transfer any money. Goodbye.",
}


def whisper_text(language: str, *, warning_id: str, fraud_type_label: str, phrase: str) -> str:
    template = WHISPER.get(language, WHISPER["en-US"])
    return template.format(warning_id=warning_id or "-", fraud_type_label=fraud_type_label or "-", phrase=phrase or "-")


def call_back_text(language: str) -> str:
    return CALL_BACK.get(language, CALL_BACK["en-US"])


def apology_text(language: str) -> str:
    return APOLOGY.get(language, APOLOGY["en-US"])


def fixed_sentences(language: str) -> list[str]:
    """The sentences of the call-back promise and the apology, for the prompt cache."""
    return [*split_sentences(call_back_text(language)), *split_sentences(apology_text(language))]
