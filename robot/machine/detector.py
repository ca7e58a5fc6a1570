"""Machine or person, in the first seconds after answer: the shape of the far end's speech,
its words, and the voicemail beep.

- Shape (Asterisk's AMD() defaults, configurable): a person says a short greeting ("喂？",
  "hello?") and pauses for the caller (after_greeting_silence_seconds); a machine talks on
  without a pause for a turn. Still talking at total_analysis_seconds without such a pause
  is a machine; a greeting with a pause is a person.
- Words: a per-language catalogue (languages/LANGUAGE.yaml: 留言, 语音信箱, 机主暂时无法接听,
  请问您有什么事; leave a message, after the tone, screening) names the kind of machine.
- The beep (beep.py) is a voicemail box ready to record.

The verdict can still change in the analysis window: a person who picks up after the
assistant ("喂？我是") is a person after all. Fed frame by frame, so audio time is the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

from ..dialog.const import Language
from ..dialog.matcher import IntentMatcher
from ..dialog.schema import Intent
from .beep import Beep, BeepDetector, BeepSettings

LANGUAGES_DIR = Path(__file__).with_name("languages")


class Kind(StrEnum):
    VOICEMAIL = "voicemail"
    ASSISTANT = "assistant"
    SECRETARY = "secretary"


class Verdict(StrEnum):
    UNDECIDED = "undecided"
    HUMAN = "human"
    MACHINE = "machine"


class MachineSettings(BaseModel):
    """Asterisk AMD()'s parameters, in seconds; configurable per deployment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_silence_seconds: float = 2.5
    greeting_seconds: float = 1.5
    after_greeting_silence_seconds: float = 0.8
    total_analysis_seconds: float = 5.0
    machine_talk_seconds: float = 4.0
    """Talk this long without a pause for the caller, and without a person's pick-up words
    (Catalogue.person), is a machine: voicemail greetings run 4 to 10 s. Chosen on the
    benchmark's development openings (bench/machine.py --dev-only --talk-seconds)."""
    min_word_seconds: float = 0.1
    max_words: int = 3
    beep: BeepSettings = Field(default_factory=BeepSettings)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    kind: Kind | None = None
    reason: str = ""
    """Why, in words an officer reads: "heard 留言", "a 1000 Hz beep of 0.5 s", "talked 5 s without a pause"."""
    heard: str = ""
    at_seconds: float = 0.0
    beep: Beep | None = None


class LanguageFile(BaseModel):
    """languages/LANGUAGE.yaml: the default message to machines and their words by kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message: str = Field(min_length=1, max_length=200)
    words: dict[Kind, list[str]] = {}
    person: list[str] = []
    """What people say picking up (喂, 哪位, who's calling): talk with these and no machine
    words is not called a machine for its length alone."""


@cache
def language_file(language: Language) -> LanguageFile | None:
    path = LANGUAGES_DIR / f"{language.value}.yaml"
    if not path.exists():
        return None
    return LanguageFile.model_validate(YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {})


def default_message(language: Language) -> str:
    """What the robot says to a voicemail or an assistant in this language, unless the script says otherwise."""
    found = language_file(language)
    return found.message if found else ""


def _plain(text: str, language: Language) -> str:
    """Text for a plain substring test: lower case, no punctuation; Chinese without spaces
    (the recogniser spaces its characters), other languages as words between spaces. The
    dialog matcher is not used for people's words: it drops 喂 and 嗯 as fillers."""
    words = "".join(ch if ch.isalnum() or ch == "'" else " " for ch in text.lower()).split()
    if language is Language.ZH_CN:
        return "".join(words)
    return " " + " ".join(words) + " "


class Catalogue:
    """The words machines say in one language, by kind."""

    def __init__(self, language: Language) -> None:
        self.language = language
        found = language_file(language)
        words = found.words if found else {}
        intents = {kind.value: Intent(phrases=phrases, negatable=False) for kind, phrases in words.items() if phrases}
        self._matcher = IntentMatcher(intents, language) if intents else None
        self._order = list(intents)
        self._person = [_plain(phrase, language) for phrase in (found.person if found else [])]

    def kind(self, text: str) -> tuple[Kind, str] | None:
        if self._matcher is None or not text.strip():
            return None
        match = self._matcher.match_text(text, self._order)
        return (Kind(match.intent), match.phrase) if match else None

    def person(self, text: str) -> str | None:
        """The person's pick-up words in `text`, if any (machine words are looked for first)."""
        plain = _plain(text, self.language)
        return next((phrase.strip() for phrase in self._person if phrase.strip() and phrase in plain), None)


class MachineDetector:
    def __init__(self, language: Language, settings: MachineSettings | None = None, frame_seconds: float = 0.02) -> None:
        self.settings = settings or MachineSettings()
        self.language = language
        self.frame_seconds = frame_seconds
        self.catalogue = Catalogue(language)
        self.beeps = BeepDetector(self.settings.beep)
        self.decision = Decision(Verdict.UNDECIDED)
        self.seconds = 0.0
        self._speech_started: float | None = None
        """Start of the far end's current stretch of talk (short pauses included)."""
        self._silence = 0.0
        self._spoken = 0.0
        self._words = 0
        self._word_run = 0.0
        self._machine_done_at: float | None = None
        """When the message that showed a machine ended (a short stretch after it is a person)."""
        self._heard = ""
        self._stretch_text = ""
        """What the recogniser made of the current stretch of talk."""
        self._reopened_at: float | None = None

    def reopen(self) -> None:
        """The robot has said its message to the machine: for another analysis window, a
        person who speaks up (a short stretch of talk, not a machine's words) is a person."""
        self._reopened_at = self._machine_done_at = self.seconds

    @property
    def deciding(self) -> bool:
        """Still within the analysis window (and not a voicemail, which is final)."""
        if self._reopened_at is not None:
            return self.seconds < self._reopened_at + self.settings.total_analysis_seconds
        final = self.decision.verdict is Verdict.MACHINE and self.decision.kind is Kind.VOICEMAIL
        if final:
            return False
        if self._machine_done_at is not None:  # an assistant's message ended: the owner may still pick up
            return self.seconds < self._machine_done_at + self.settings.total_analysis_seconds
        return self.seconds < self.settings.total_analysis_seconds + self.settings.after_greeting_silence_seconds

    def feed(self, frame: bytes, is_speech: bool) -> Decision | None:
        """One 20 ms frame of the far end and whether it is speech; the new decision if it changed."""
        self.seconds += self.frame_seconds
        beep = self.beeps.feed(frame)
        if beep is not None:
            return self._decide(Decision(Verdict.MACHINE, Kind.VOICEMAIL, f"a {beep.hz:g} Hz beep of {beep.seconds:g} s",
                                         self._heard, self.seconds, beep))
        if not self.deciding:
            return None
        settings = self.settings
        if is_speech:
            if self._speech_started is None:
                self._speech_started = self.seconds - self.frame_seconds
            self._silence = 0.0
            self._word_run += self.frame_seconds
            return self._long_talk()
        if self._word_run >= settings.min_word_seconds - 1e-6:
            self._words += 1
        self._word_run = 0.0
        self._silence += self.frame_seconds
        if self._speech_started is None:
            return None
        if self._silence >= settings.after_greeting_silence_seconds - 1e-6:
            return self._paused()
        return None

    def heard(self, text: str) -> Decision | None:
        """Recogniser output (partial or final) of the far end's current stretch of talk."""
        self._heard = text
        self._stretch_text = text
        if not self.deciding:
            return None
        found = self.catalogue.kind(text)
        if found is None:
            return None
        kind, phrase = found
        if self.decision.verdict is Verdict.MACHINE and self.decision.kind is not None:
            return None
        return self._decide(Decision(Verdict.MACHINE, kind, f"heard {phrase!r}", text, self.seconds))

    def _long_talk(self) -> Decision | None:
        assert self._speech_started is not None
        talked = self.seconds - self._speech_started
        if self.catalogue.person(self._stretch_text) is not None:
            return None  # "喂，我是老王，你哪里啊…": a person who talks long, until a machine word says otherwise
        if self.decision.verdict is Verdict.UNDECIDED and talked >= self.settings.machine_talk_seconds - 1e-6:
            return self._decide(Decision(Verdict.MACHINE, Kind.VOICEMAIL,
                                         f"talked {talked:g} s without a pause for the caller", self._heard, self.seconds))
        return None

    def _paused(self) -> Decision | None:
        """The far end stopped for the caller: a short greeting is a person; so is one who
        speaks up after an assistant or a secretary message."""
        assert self._speech_started is not None
        talked = self.seconds - self._silence - self._speech_started
        short = talked < self.settings.greeting_seconds + 1e-6 and self._words <= self.settings.max_words
        text, self._stretch_text = self._stretch_text, ""
        self._speech_started = None
        self._words = 0
        decision = self.decision
        if decision.verdict is Verdict.MACHINE:
            if self._machine_done_at is not None and short and self.catalogue.kind(text) is None:
                return self._decide(Decision(Verdict.HUMAN, None, f"a person spoke up after the {decision.kind}: {text!r}",
                                             text, self.seconds))
            self._machine_done_at = self.seconds  # the machine's own message ended here
            return None
        if short:
            return self._decide(Decision(Verdict.HUMAN, None, f"a short greeting ({talked:.1f} s), then a pause",
                                         text, self.seconds))
        said = self.catalogue.person(text)
        if said is not None:
            return self._decide(Decision(Verdict.HUMAN, None, f"a person's words ({said!r}) and a pause for the caller",
                                         text, self.seconds))
        return None

    def _decide(self, decision: Decision) -> Decision | None:
        same = (decision.verdict, decision.kind) == (self.decision.verdict, self.decision.kind)
        if same and not (decision.beep is not None and self.decision.beep is None):
            return None  # nothing new; but the beep is news even to a known voicemail: the message may start
        self.decision = decision
        return decision

    @property
    def talking(self) -> bool:
        """The far end is in a stretch of talk (pauses shorter than after_greeting_silence_seconds included)."""
        return self._speech_started is not None

    @property
    def quiet_seconds(self) -> float:
        """How long the far end has been silent."""
        return self._silence

    @property
    def silent(self) -> bool:
        """Nothing said for initial_silence_seconds: a person waiting for the caller, most likely."""
        return self.decision.verdict is Verdict.UNDECIDED and self._speech_started is None and \
            self.seconds >= self.settings.initial_silence_seconds
