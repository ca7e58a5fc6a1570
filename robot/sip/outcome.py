"""Call progress, as outcomes the dialer acts on."""

from __future__ import annotations

from enum import StrEnum

from ..dialog.const import Language
from ..dialog.matcher import IntentMatcher
from ..dialog.schema import Intent


class CallOutcome(StrEnum):
    """How a call attempt ended before (or instead of) a conversation."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    INVALID_NUMBER = "invalid_number"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    """A trunk or transport fault: retryable, and not the callee's doing."""
    ANSWERED = "answered"
    """The call was answered; the dialog's outcome says how it went."""
    INTERRUPTED = "interrupted"
    """The robot stopped the call itself (shutdown); the warning goes back in the queue."""
    ROBOT_ERROR = "robot_error"
    """Something in the robot failed (a recogniser that could not be restarted, a bug): the
    callee heard an apology; not the trunk's doing."""


def outcome_for_status(status_code: int) -> CallOutcome:
    """The outcome of a call that ended with this final SIP status and no conversation."""
    if status_code in (486, 600):
        return CallOutcome.BUSY
    if status_code in (408, 480, 487):
        return CallOutcome.NO_ANSWER
    if status_code == 603:
        return CallOutcome.REJECTED
    if status_code in (404, 410, 484, 604):
        return CallOutcome.INVALID_NUMBER
    if 200 <= status_code < 300:
        return CallOutcome.ANSWERED
    return CallOutcome.FAILED


# Carrier announcements played as early media or right after answer, instead of a final
# status. Matched on recogniser output (normalised like dialog intents).
ANNOUNCEMENTS: dict[str, dict[CallOutcome, list[str]]] = {
    "zh-CN": {
        CallOutcome.UNREACHABLE: ["已关机", "关机", "无法接通", "暂时无法接通", "不在服务区", "停机"],
        CallOutcome.INVALID_NUMBER: ["空号", "号码不存在", "查证后再拨"],
        CallOutcome.BUSY: ["正在通话中", "通话中", "用户忙"],
    },
    "en-US": {
        CallOutcome.UNREACHABLE: ["switched off", "not reachable", "unavailable", "out of service area", "cannot be reached"],
        CallOutcome.INVALID_NUMBER: ["does not exist", "not in service", "is not a valid number", "check the number"],
        CallOutcome.BUSY: ["is busy", "on another call", "line is busy"],
    },
}


class AnnouncementSpotter:
    """Recognises a carrier announcement in recogniser output, as a call outcome."""

    def __init__(self, language: str) -> None:
        table = ANNOUNCEMENTS.get(language, {})
        intents = {outcome.value: Intent(phrases=phrases, negatable=False) for outcome, phrases in table.items()}
        self._matcher = IntentMatcher(intents, Language(language)) if intents else None
        self._order = list(intents)

    def spot(self, text: str) -> CallOutcome | None:
        if self._matcher is None or not text:
            return None
        match = self._matcher.match_text(text, self._order)
        return CallOutcome(match.intent) if match else None
