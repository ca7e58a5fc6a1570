"""Fixed vocabularies shared by scripts, the engine and the dialer."""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    """Languages a dialog script can be written in."""

    ZH_CN = "zh-CN"
    EN_US = "en-US"
    KO_KR = "ko-KR"
    """Korean: the one real Vosk model installable here (tests and the Vosk benchmark)."""

    @property
    def spaced(self) -> bool:
        """Words are separated by spaces (matching works on words, not characters)."""
        return self is not Language.ZH_CN


class RiskLevel(StrEnum):
    """Risk grade of a warning, as pushed by the national platform."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Outcome(StrEnum):
    """How an answered conversation ended."""

    DISSUADED = "dissuaded"
    ESCALATED = "escalated"
    REFUSED = "refused"
    NO_INPUT = "no_input"
    WRONG_PERSON = "wrong_person"
    CALLBACK_REQUESTED = "callback_requested"
    HUNG_UP = "hung_up"
    """The callee hung up without refusing: after silence, or after saying something no
    handler understood (those turns are in the transcript, marked not understood)."""


class EscalationReason(StrEnum):
    """Why a case went to a human officer."""

    URGENT_SPEECH = "urgent_speech"
    """The callee said money has moved or is about to, or similar."""
    CALLEE_REQUEST = "callee_request"
    """The callee asked for a person."""
    NOT_UNDERSTOOD = "not_understood"
    """The robot could not understand the callee after its reprompts."""
    HIGH_RISK = "high_risk"
    UNANSWERED = "unanswered"
    UNANSWERED_BUSY = "unanswered_busy"
    INVALID_NUMBER = "invalid_number"
    SCRIPT = "script"
    """The script decided a human should follow up (e.g. a vulnerable callee)."""
    CALL_FAILED = "call_failed"
    """The trunk kept failing for this warning; nobody could be called."""
    NO_SCRIPT = "no_script"
    """No dialog script fits the warning's language and scam type."""
    HUNG_UP = "hung_up"
    """The callee hung up before the warning was done (by default for medium risk)."""
    ROBOT_ERROR = "robot_error"
    """The robot itself kept failing on this warning's calls (its error is on each attempt)."""


class AttemptOutcome(StrEnum):
    """How one call attempt ended, as the dialer records it and its policy keys it: the
    conversation's `Outcome` when the call was answered, else how the call itself ended."""

    DISSUADED = "dissuaded"
    ESCALATED = "escalated"
    REFUSED = "refused"
    NO_INPUT = "no_input"
    WRONG_PERSON = "wrong_person"
    CALLBACK_REQUESTED = "callback_requested"
    HUNG_UP = "hung_up"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    INVALID_NUMBER = "invalid_number"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    """A SIP or transport fault on the trunk (the circuit breaker counts these)."""
    ROBOT_ERROR = "robot_error"
    """Something in the robot failed (a recogniser, a synthesiser, a bug): not the trunk's doing."""
    INTERRUPTED = "interrupted"
    """Shutdown or a dead worker: back in the queue."""
    NO_SCRIPT = "no_script"
    """Never called: no script fits (escalated)."""


class EscalationMode(StrEnum):
    """How the escalation reaches an officer."""

    TICKET = "ticket"
    """Queued for an officer to call back or visit."""
    LIVE = "live"
    """The call is bridged to an officer now."""


class QuestionKind(StrEnum):
    """What a listening state asks, when the answer must be of a certain kind."""

    YES_NO = "yes_no"
    """Has something happened? An acknowledgment (明白 / okay, I understand) is no answer."""


class Detector(StrEnum):
    """Built-in understanding an intent can use instead of (or beside) phrases."""

    DANGER = "danger"
    """A scam described in the callee's own words: who asked them to do what dangerous thing,
    or what dangerous thing they did (see robot/understanding/danger.py)."""


class InputKind(StrEnum):
    """What the callee did in one turn."""

    SPEECH = "speech"
    DTMF = "dtmf"
    SILENCE = "silence"
