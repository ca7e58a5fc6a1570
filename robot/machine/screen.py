"""What a call does in its first seconds, while it is not yet sure who answered: listen for
喂/hello, greet a person, and deal with a machine without telling it anything about the case.

The screen is fed the far end's frames (and the recogniser's text) on audio time and answers
with steps for the call to take:

    listening --GREET--> dialog                        a person, or nobody says anything
        |                   |
        | machine           | machine (words, the beep, or talk without a pause),
        v                   v   while the detector still decides: STOP the dialog
    machine: wait for the voicemail's beep (or the end of its greeting), or for the assistant
             to finish asking; a secretary message takes nothing: HANG_UP
        |
        LEAVE_MESSAGE (the script's machine message) --> after it, a short wait --> HANG_UP

A person who speaks up after the assistant, during the message or just after it ("喂？")
is a person after all: PERSON_AFTER_ALL stops the message and starts the dialog.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from ..dialog.const import Language
from ..dialog.schema import Script
from .detector import Decision, Kind, MachineDetector, MachineSettings, Verdict, default_message


def machine_message(script: Script) -> str:
    """What the script says to a voicemail or an assistant ('' for nothing)."""
    message = script.machine.message
    return default_message(script.meta.language) if message is None else message.strip()


class Step(StrEnum):
    GREET = "greet"
    """Start the dialog: a person answered, or the line stayed quiet."""
    STOP = "stop"
    """A machine: stop the dialog and whatever the robot is saying."""
    LEAVE_MESSAGE = "leave_message"
    """Say the machine message now (the beep sounded, or the machine stopped for the caller)."""
    HANG_UP = "hang_up"
    PERSON_AFTER_ALL = "person_after_all"
    """A person spoke up after the machine: stop the message, start the dialog from the top."""


class Phase(StrEnum):
    LISTENING = "listening"
    DIALOG = "dialog"
    MACHINE = "machine"
    MESSAGE = "message"
    AFTER_MESSAGE = "after_message"
    DONE = "done"


@dataclass(frozen=True)
class ScreenTimes:
    """Seconds of audio time."""

    hello_seconds: float = 1.0
    """Listen at least this long for 喂/hello before greeting."""
    greet_after_quiet_seconds: float = 0.5
    """After the hello window, greet once the far end has been quiet this long. A far end
    that said something is greeted when the detector hears the pause a person leaves for the
    caller (after_greeting_silence_seconds, 0.8 s): greeting into a machine's shorter pauses
    would tell a phone assistant, which transcribes, who is calling about whom."""
    voicemail_quiet_seconds: float = 2.0
    """No beep: the voicemail's greeting is over after this much quiet (it records already)."""
    assistant_quiet_seconds: float = 1.0
    """An assistant has asked its question and waits after this much quiet."""
    after_message_seconds: float = 2.5
    """After the message, how long a person may still speak up before the robot hangs up."""
    machine_max_seconds: float = 40.0
    """From answer: a machine that never stops talking is hung up on at this point."""


@dataclass(frozen=True)
class MachineAnswer:
    """What answered, for the attempt's stored result."""

    kind: Kind
    reason: str
    heard: str
    at_seconds: float
    beep_hz: float | None = None
    beep_seconds: float | None = None
    message: str = ""
    """What the robot said to the machine ('' if nothing)."""
    person_after: bool = False
    """A person spoke up after the machine; the call went on as a conversation."""

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind.value, "reason": self.reason, "heard": self.heard, "at_seconds": round(self.at_seconds, 2),
                "beep_hz": self.beep_hz, "beep_seconds": self.beep_seconds, "message": self.message,
                "person_after": self.person_after}


class MachineScreen:
    @classmethod
    def for_script(cls, script: Script, settings: MachineSettings | None = None,
                   times: ScreenTimes | None = None) -> MachineScreen:
        return cls(script.meta.language, detect=script.machine.detect, message=machine_message(script),
                   settings=settings, times=times)

    def __init__(self, language: Language, *, detect: bool = True, message: str = "",
                 settings: MachineSettings | None = None, times: ScreenTimes | None = None,
                 frame_seconds: float = 0.02) -> None:
        self.detect = detect
        self.message = message
        self.times = times or ScreenTimes()
        self.frame_seconds = frame_seconds
        self.detector = MachineDetector(language, settings, frame_seconds)
        self.phase = Phase.LISTENING
        self.answer: MachineAnswer | None = None
        self.seconds = 0.0
        self._quiet = 0.0
        self._talked = False
        """The far end has said something since the machine was decided (or at all)."""
        self._engaged = False
        self._phase_started = 0.0

    # -- what the call tells the screen --------------------------------------------------

    def feed(self, frame: bytes, is_speech: bool) -> list[Step]:
        """One 20 ms frame of the far end and whether it is speech."""
        self.seconds += self.frame_seconds
        if is_speech:
            self._quiet = 0.0
            self._talked = True
        else:
            self._quiet += self.frame_seconds
        steps = self._changed(self.detector.feed(frame, is_speech)) if self.detect else []
        return steps + self._timers()

    def heard(self, text: str) -> list[Step]:
        """The recogniser's text (partial or final) of what the far end is saying."""
        if not self.detect or self.phase is Phase.DONE:
            return []
        return self._changed(self.detector.heard(text))

    def message_done(self) -> list[Step]:
        """The machine message has been played to the end."""
        if self.phase is not Phase.MESSAGE:
            return []
        self._enter(Phase.AFTER_MESSAGE)
        self.detector.reopen()  # a person may still pick up and say 喂
        return []

    def engaged(self) -> None:
        """The dialog understood the callee: a conversation, not a machine, from here on."""
        self._engaged = True

    @property
    def needs_frames(self) -> bool:
        """The screen still has something to decide (the call keeps feeding it)."""
        if self.phase is Phase.DONE:
            return False
        if self.phase is Phase.DIALOG:
            return self.detect and not self._engaged and self.detector.deciding
        return True

    # -- deciding ------------------------------------------------------------------------

    def _changed(self, decision: Decision | None) -> list[Step]:
        if decision is None or self.phase is Phase.DONE:
            return []
        if decision.verdict is Verdict.MACHINE:
            return self._machine(decision)
        if decision.verdict is Verdict.HUMAN:
            return self._person(decision)
        return []

    def _machine(self, decision: Decision) -> list[Step]:
        assert decision.kind is not None
        if self.phase is Phase.DIALOG and self._engaged:
            return []  # the callee is talking with the robot: "留言" is part of their story
        beep = decision.beep
        previous = self.answer
        reason = decision.reason if previous is None or decision.reason == previous.reason else \
            f"{previous.reason}; {decision.reason}"
        self.answer = MachineAnswer(
            decision.kind, reason, decision.heard, previous.at_seconds if previous else decision.at_seconds,
            beep.hz if beep else (previous.beep_hz if previous else None),
            beep.seconds if beep else (previous.beep_seconds if previous else None),
        )
        steps: list[Step] = []
        if self.phase in (Phase.LISTENING, Phase.DIALOG):
            if self.phase is Phase.DIALOG:
                steps.append(Step.STOP)
            self._enter(Phase.MACHINE)
            self._talked = self.detector.talking
        if self.phase is Phase.MACHINE:
            steps += self._machine_next(beeped=beep is not None)
        return steps

    def _machine_next(self, beeped: bool = False) -> list[Step]:
        """In the machine phase: is it time for the message, or to hang up?"""
        assert self.answer is not None
        kind = self.answer.kind
        if kind is Kind.SECRETARY:
            return self._hang_up()  # the carrier's message takes nothing from the caller
        if not self.message:
            if kind is Kind.VOICEMAIL:
                return self._hang_up()
            if self._talked and self._quiet >= self.times.assistant_quiet_seconds - 1e-6:
                self._enter(Phase.AFTER_MESSAGE)  # nothing to say: wait a moment for the owner
                self.detector.reopen()
            return []
        ready = beeped if kind is Kind.VOICEMAIL else False
        if not ready and self._talked:
            wait = self.times.voicemail_quiet_seconds if kind is Kind.VOICEMAIL else self.times.assistant_quiet_seconds
            ready = self._quiet >= wait - 1e-6
        if ready:
            self._enter(Phase.MESSAGE)
            self.answer = replace(self.answer, message=self.message)
            return [Step.LEAVE_MESSAGE]
        return []

    def _person(self, decision: Decision) -> list[Step]:
        if self.phase is Phase.LISTENING:
            self._enter(Phase.DIALOG)
            return [Step.GREET]
        if self.phase in (Phase.MACHINE, Phase.MESSAGE, Phase.AFTER_MESSAGE) and self.answer is not None:
            self.answer = replace(self.answer, person_after=True)
            self._enter(Phase.DIALOG)
            self._engaged = True  # the person has shown themselves: no more machine decisions
            return [Step.PERSON_AFTER_ALL]
        return []

    def _timers(self) -> list[Step]:
        phase = self.phase
        if phase is Phase.LISTENING:
            quiet_enough = self._quiet >= self.times.greet_after_quiet_seconds - 1e-6
            talking_on = self.detect and self.detector.talking
            if self.seconds >= self.times.hello_seconds - 1e-6 and quiet_enough and not talking_on:
                self._enter(Phase.DIALOG)
                return [Step.GREET]
            if not self.detect and self.seconds >= self.times.hello_seconds + self.detector.settings.greeting_seconds:
                self._enter(Phase.DIALOG)  # detection off: nobody waits long for a long hello
                return [Step.GREET]
            return []
        if phase in (Phase.MACHINE, Phase.MESSAGE, Phase.AFTER_MESSAGE) and \
                self.seconds >= self.times.machine_max_seconds - 1e-6:
            return self._hang_up()
        if phase is Phase.MACHINE:
            return self._machine_next()
        if phase is Phase.AFTER_MESSAGE and self.seconds - self._phase_started >= self.times.after_message_seconds - 1e-6 \
                and not self.detector.talking:
            return self._hang_up()
        return []

    def _hang_up(self) -> list[Step]:
        self._enter(Phase.DONE)
        return [Step.HANG_UP]

    def _enter(self, phase: Phase) -> None:
        self.phase = phase
        self._phase_started = self.seconds

