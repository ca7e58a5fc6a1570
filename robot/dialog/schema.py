"""The YAML dialog script schema.

Supervisors write these files by hand, so every model forbids unknown keys: a typo is an
error that names its line, never a silently ignored setting.
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from .const import (
    Detector,
    EscalationMode,
    EscalationReason,
    InputKind,
    Language,
    Outcome,
    QuestionKind,
    RiskLevel,
)

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
DTMF_DIGITS = frozenset("0123456789*#")


def _as_list(value: Any) -> Any:
    """Let a supervisor write one text where a list of variants is allowed."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):  # YAML read `say: {name}, hello` as a mapping
        raise ValueError('a text that starts with { must be in quotes, e.g. say: "{name}, hello"')
    return value


TextVariants = Annotated[list[str], BeforeValidator(_as_list)]


def template_fields(text: str) -> list[str]:
    """Names of the `{variable}` fields in a prompt template.

    Raises ValueError for fields a supervisor cannot mean, such as `{name.upper}` or an
    unbalanced brace.
    """
    names = []
    for _literal, field, _spec, _conversion in string.Formatter().parse(text):
        if field is None:
            continue
        if not re.fullmatch(r"[a-z][a-z0-9_]*", field):
            raise ValueError(f"template field {{{field}}} in {text!r} is not a variable name")
        names.append(field)
    return names


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Meta(_Model):
    id: Identifier
    version: Annotated[int, Field(ge=1)]
    language: Language
    voice: str = Field(min_length=1, description="Voice catalog id used to speak this script")
    fraud_types: list[Identifier] = Field(
        min_length=1, description="Scam types this script handles; `generic` is the fallback"
    )
    risk_levels: list[RiskLevel] = Field(default=[RiskLevel.LOW, RiskLevel.MEDIUM], min_length=1)
    description: str = ""


WARNING_VALUE_PATTERN = r"(?:[^\W\d_]|[ ·.'-])+"
"""What a value from a warning may be unless the script says otherwise: letters of any
script, spaces and ·.'- (a name); no digits, so never a number to call or an account."""


class Variable(_Model):
    default: str = ""
    description: str = ""
    from_warning: bool = Field(
        default=False,
        description="A warning may set this variable (its `name`, or extra.variables); every other variable comes "
                    "only from the script, so whoever submits warnings cannot change what the robot says",
    )
    pattern: str = Field(default=WARNING_VALUE_PATTERN, description="A value from a warning must match this whole")
    max_length: int = Field(default=32, ge=1, le=200, description="Longest value a warning may give")

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {err}") from err
        return pattern

    def refuses(self, value: str) -> str | None:
        """Why a warning may not give this value, or None."""
        if not self.from_warning:
            return "not a variable a warning may set (the script does not say from_warning: true)"
        if len(value) > self.max_length:
            return f"at most {self.max_length} characters"
        if not re.fullmatch(self.pattern, value):
            return f"must match {self.pattern!r}"
        return None


def _variable_shorthand(value: Any) -> Any:
    """`verify_number: "96110"` is short for `verify_number: {default: "96110"}`."""
    if isinstance(value, str | int | float):
        return {"default": str(value)}
    return value


class Intent(_Model):
    phrases: TextVariants = []
    patterns: TextVariants = []
    dtmf: list[str] = []
    detector: Detector | None = Field(
        default=None, description="Also match what a built-in detector finds (`danger`: a scam in any words)"
    )
    negatable: bool = Field(
        default=True,
        description="Ignore a match that the callee negates, as in 'I have not transferred'",
    )
    replace: bool = Field(
        default=False,
        description="In a script that extends another: replace the inherited intent instead of adding to it",
    )
    remove: TextVariants = Field(
        default=[], description="In a script that extends another: inherited phrases or patterns to drop"
    )
    description: str = ""

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {err}") from err
        return patterns

    @field_validator("dtmf", mode="before")
    @classmethod
    def _dtmf_keys(cls, value: Any) -> Any:
        if isinstance(value, str | int):
            value = [value]
        keys = [str(v) for v in value] if isinstance(value, list) else value
        if isinstance(keys, list):
            for key in keys:
                if len(key) != 1 or key not in DTMF_DIGITS:
                    raise ValueError(f"DTMF key {key!r} must be one of 0-9, * or #")
        return keys

    @model_validator(mode="after")
    def _not_empty(self) -> Intent:
        if not (self.phrases or self.patterns or self.dtmf or self.detector):
            raise ValueError("an intent needs at least one of phrases, patterns, dtmf or detector")
        return self


class Escalate(_Model):
    reason: EscalationReason
    mode: EscalationMode = EscalationMode.TICKET


def _escalate_shorthand(value: Any) -> Any:
    """`escalate: urgent_speech` is short for `escalate: {reason: urgent_speech}`."""
    if isinstance(value, str):
        return {"reason": value}
    return value


class Action(_Model):
    """What happens after the robot has said this step's `say` text.

    At most one of goto / hangup / escalate / repeat. With none of them the robot keeps
    listening in the same state without repeating its question.
    """

    say: TextVariants = []
    set: dict[Identifier, str] = {}
    goto: Identifier | None = None
    hangup: Outcome | None = None
    escalate: Annotated[Escalate | None, BeforeValidator(_escalate_shorthand)] = None
    repeat: bool = Field(default=False, description="Say the state's prompt again")

    @model_validator(mode="after")
    def _one_next_step(self) -> Action:
        chosen = [
            name
            for name, value in (
                ("goto", self.goto),
                ("hangup", self.hangup),
                ("escalate", self.escalate),
                ("repeat", self.repeat or None),
            )
            if value is not None
        ]
        if len(chosen) > 1:
            raise ValueError(f"choose one of goto, hangup, escalate or repeat, not {' and '.join(chosen)}")
        if self.hangup is Outcome.ESCALATED:
            raise ValueError("use `escalate: REASON` rather than `hangup: escalated`")
        return self

    @property
    def ends_call(self) -> bool:
        return self.hangup is not None or self.escalate is not None

    @property
    def moves(self) -> bool:
        """True when this action leaves the current state (or ends the call)."""
        return self.goto is not None or self.ends_call


class IntentHandler(Action):
    intent: Identifier


class Listen(_Model):
    no_input_timeout_seconds: float = Field(default=6.0, gt=0, le=60)
    max_no_input: int = Field(
        default=2, ge=0, le=10, description="Silent turns answered with a reprompt; one more ends it"
    )
    max_no_match: int = Field(
        default=2, ge=0, le=10, description="Unclear answers met with a reprompt; one more ends it"
    )
    barge_in: bool = Field(default=True, description="The callee may interrupt the robot")
    barge_in_min_words: int = Field(
        default=2,
        ge=1,
        le=20,
        description="Speech over the robot stops it once this many words (Chinese: characters) "
        "that are not backchannels (嗯, 对, uh-huh) have been recognised",
    )
    barge_in_min_seconds: float = Field(
        default=0.8,
        gt=0,
        le=10,
        description="... or once it has lasted this long, unless all that was recognised is backchannel",
    )


class Reprompt(_Model):
    say: TextVariants = Field(default=[], description="The n-th reprompt uses the n-th text")
    then: Action | None = Field(default=None, description="What to do once the reprompts run out")


class State(Action):
    """One step of the conversation.

    A state says its `say` text and then either moves on at once (goto / hangup / escalate)
    or listens and reacts to the intents listed under `on`.
    """

    listen: Listen | None = None
    question: QuestionKind | None = Field(
        default=None,
        description="yes_no: the state asks whether something happened, so an acknowledgment "
        "(明白 / okay, I understand) is no answer and gets the no_match reprompt",
    )
    on: list[IntentHandler] = []
    no_input: Reprompt | None = None
    no_match: Reprompt | None = None
    on_hangup: Outcome | None = Field(
        default=None,
        description="Outcome if the callee hangs up in this state (default: hung_up); a callee who "
        "hangs up after saying something no handler understood is always hung_up",
    )

    @model_validator(mode="after")
    def _listen_or_act(self) -> State:
        if self.repeat:
            raise ValueError("`repeat` is for intent handlers, not states")
        if self.moves and (self.on or self.listen or self.question or self.no_input or self.no_match):
            raise ValueError(
                "a state that moves on by itself (goto, hangup or escalate) cannot also listen "
                "(on, listen, question, no_input, no_match)"
            )
        return self

    @property
    def listens(self) -> bool:
        return not self.moves


def _turn_shorthand(value: Any) -> Any:
    """A test turn is text, `#5` for DTMF, or empty / null for silence."""
    if value is None:
        return {"kind": InputKind.SILENCE}
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {"kind": InputKind.SILENCE}
        if text.startswith("#") and len(text) > 1 and set(text[1:]) <= DTMF_DIGITS:
            return {"kind": InputKind.DTMF, "digits": text[1:]}
        return {"kind": InputKind.SPEECH, "text": text}
    return value


class Turn(_Model):
    kind: InputKind
    text: str = ""
    digits: str = ""

    @classmethod
    def from_text(cls, text: str | None) -> Turn:
        """`"#5"` is the key 5, an empty line is silence, anything else is speech."""
        return cls.model_validate(_turn_shorthand(text))

    def __str__(self) -> str:
        if self.kind is InputKind.DTMF:
            return f"#{self.digits}"
        if self.kind is InputKind.SILENCE:
            return "(silence)"
        return self.text


class ExpectedEscalation(_Model):
    reason: EscalationReason
    mode: EscalationMode | None = None
    phrase: str | None = None


class Expectation(_Model):
    outcome: Outcome
    escalation: Annotated[ExpectedEscalation | None, BeforeValidator(_escalate_shorthand)] = None
    path: list[Identifier] | None = None
    says: TextVariants = Field(default=[], description="Texts the robot must say at some point")


class ScriptTest(_Model):
    name: str = Field(min_length=1)
    vars: dict[Identifier, str] = {}
    turns: list[Annotated[Turn, BeforeValidator(_turn_shorthand)]] = []
    expect: Expectation


class TurnTakingWords(_Model):
    """Per-script replacements for the language's turn-taking word lists
    (robot/understanding/languages/LANGUAGE.yaml); a list not given keeps the language's."""

    backchannels: list[str] | None = None
    acknowledgments: list[str] | None = None
    fillers: list[str] | None = None
    particles: list[str] | None = None
    short_answers: list[str] | None = None
    trailing: list[str] | None = None


class MachineAnswers(_Model):
    """What the robot does when a machine answers: a voicemail box, a phone assistant that
    asks the caller's purpose, a carrier's secretary message (robot/machine)."""

    detect: bool = Field(default=True, description="Tell machines from people in the first seconds; false: "
                                                   "everyone who answers hears the script")
    message: str | None = Field(
        default=None, max_length=200,
        description="Said to a voicemail after its beep and to an assistant that asks the purpose, then the robot "
                    "hangs up. Nothing about the case: whoever plays the box hears it. Omitted: the language's "
                    "default (robot/machine/languages); empty: say nothing",
    )

    @field_validator("message")
    @classmethod
    def _no_variables(cls, message: str | None) -> str | None:
        if message and template_fields(message):
            raise ValueError("a machine message cannot use {variables}: whoever plays the voicemail hears it")
        return message


class Script(_Model):
    extends: str | None = Field(default=None, description="A base script whose parts this one reuses")
    meta: Meta
    variables: dict[Identifier, Annotated[Variable, BeforeValidator(_variable_shorthand)]] = {}
    listen_defaults: Listen = Listen()
    turn_taking: TurnTakingWords = TurnTakingWords()
    machine: MachineAnswers = MachineAnswers()
    intents: dict[Identifier, Intent] = {}
    global_intents: list[IntentHandler] = Field(
        default=[], description="Checked in every state, before the state's own intents"
    )
    start: Identifier
    states: dict[Identifier, State] = Field(min_length=1)
    tests: list[ScriptTest] = []

    def listen_for(self, state: State) -> Listen:
        return state.listen or self.listen_defaults

    def variable_defaults(self) -> dict[str, str]:
        return {name: variable.default for name, variable in self.variables.items()}

    def warning_variables(self) -> dict[str, Variable]:
        """The variables a warning may set."""
        return {name: variable for name, variable in self.variables.items() if variable.from_warning}

