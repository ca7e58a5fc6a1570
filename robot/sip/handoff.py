"""Live hand-off of a call to an officer: dial the human queue, whisper, bridge.

REFER is not used: PSTN trunks rarely honour it. The robot keeps both legs and bridges
their audio in pjsua2's conference bridge.
"""

from __future__ import annotations

WHISPER = {
    "zh-CN": "紧急预警转接。编号{warning_id}，{fraud_type_label}。对方说：{phrase}。",
    "en-US": "Urgent warning hand-off. Warning {warning_id}, {fraud_type_label}. The caller said: {phrase}.",
}
CALL_BACK = {
    "zh-CN": "暂时无法接通民警，民警会尽快给您回电。在此之前，请不要向任何人转账。再见。",
    "en-US": "I could not reach an officer right now. An officer will call you back very soon. Until then, please do not transfer any money. Goodbye.",
}


def whisper_text(language: str, *, warning_id: str, fraud_type_label: str, phrase: str) -> str:
    template = WHISPER.get(language, WHISPER["en-US"])
    return template.format(warning_id=warning_id or "-", fraud_type_label=fraud_type_label or "-", phrase=phrase or "-")


def call_back_text(language: str) -> str:
    return CALL_BACK.get(language, CALL_BACK["en-US"])
