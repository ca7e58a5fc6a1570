"""The per-call dialog engine: a `transitions` AsyncMachine built from a validated script.

The engine does no I/O. Its driver (the text simulator, the embedded-test runner, or a call
worker) feeds it what the callee did and acts on the events it emits:

    engine = DialogEngine(script, variables={"name": "王先生"}, clock=clock, on_event=emit)
    await engine.start()              # -> StateEntered, Say, Listening
    engine.prompt_finished()          # the Say texts have been played; no-input timing starts
    await engine.handle_speech("是我")
    await engine.handle_dtmf("1")
    await engine.check_no_input()     # True once the state's no-input timeout has passed
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

from transitions.extensions.asyncio import AsyncMachine

from ..clock import Clock, MonotonicClock
from ..understanding.turns import TurnTaking, turn_taking_for
from .const import EscalationReason, InputKind, Outcome
from .error import DialogError
from .events import (
    Backchannel,
    DialogEvent,
    EscalationRequested,
    Finished,
    Heard,
    IntentMatched,
    Listening,
    NoInput,
    NoMatch,
    Say,
    StateEntered,
    transcript,
)
from .interpret import Interpreter, Reading
from .matcher import IntentMatcher, Match, matcher_for
from .normalize import split_sentences, tidy_prompt
from .schema import Action, Escalate, Reprompt, Script, State

IDLE = "_idle"
ENDED = "_ended"
NO_INPUT = "no_input"
NO_MATCH = "no_match"
# What happens when a state's reprompts run out, unless the script says otherwise.
DEFAULT_GIVE_UP = {
    NO_INPUT: Action(hangup=Outcome.NO_INPUT),
    NO_MATCH: Action(escalate=Escalate(reason=EscalationReason.NOT_UNDERSTOOD)),
}


def intent_trigger(intent: str) -> str:
    return f"intent:{intent}"


class _Session:
    """The model object the state machine drives; transitions adds `state` and `trigger`."""

    state: str
    trigger: Callable[..., Awaitable[bool]]


class DialogEngine:
    def __init__(
        self,
        script: Script,
        *,
        variables: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        on_event: Callable[[DialogEvent], None] | None = None,
        matcher: IntentMatcher | None = None,
    ) -> None:
        unknown = sorted(set(variables or {}) - set(script.variables))
        if unknown:
            raise DialogError(
                "unknown_variable",
                f"script {script.meta.id} declares no variable {', '.join(unknown)} "
                f"(declared: {', '.join(script.variables) or 'none'})",
            )
        self.script = script
        self.matcher = matcher or matcher_for(script)
        self.turn_taking: TurnTaking = turn_taking_for(script)
        self.interpreter = Interpreter(script, self.matcher, self.turn_taking)
        self.variables: dict[str, str] = {**script.variable_defaults(), **(variables or {})}
        self.events: list[DialogEvent] = []
        self.path: list[str] = []
        self.outcome: Outcome | None = None
        self.escalation: EscalationRequested | None = None
        self._clock = clock or MonotonicClock()
        self._on_event = on_event
        self._started_at: float | None = None
        self._counts: Counter[str] = Counter()
        self._variant_uses: Counter[int] = Counter()
        self._listening = False
        self._not_understood: str | None = None
        """The callee's last words if no handler understood them and nothing was understood
        since: hanging up now ends the call `hung_up`, whatever the state's on_hangup."""
        self._no_input_deadline: float | None = None
        self._global_intents = [handler.intent for handler in script.global_intents]
        self._session = _Session()
        self._machine = AsyncMachine(
            model=self._session,
            states=self._machine_states(),
            transitions=self._machine_transitions(),
            initial=IDLE,
            auto_transitions=False,
            send_event=True,
            queued=True,
        )

    # -- building the machine ------------------------------------------------------------

    def _machine_states(self) -> list[Any]:
        states: list[Any] = [IDLE, {"name": ENDED, "on_enter": [self._enter_ended]}]
        states += [{"name": name, "on_enter": [self._enter_state]} for name in self.script.states]
        return states

    def _machine_transitions(self) -> list[dict[str, Any]]:
        script = self.script
        listening = [name for name, state in script.states.items() if state.listens]
        transitions: list[dict[str, Any]] = [{"trigger": "start", "source": IDLE, "dest": script.start}]
        # Straight into a state, for evaluations and tests of one exchange (`start(at_state=...)`).
        transitions += [{"trigger": f"start:{name}", "source": IDLE, "dest": name} for name in script.states]
        # Global intents come first, so they take precedence over a state's own.
        transitions += [
            self._action_transition(intent_trigger(handler.intent), listening, handler)
            for handler in script.global_intents
        ]
        for name, state in script.states.items():
            transitions.append(
                {
                    "trigger": "callee_hung_up",
                    "source": name,
                    "dest": ENDED,
                    "before": [partial(self._hung_up, state)],
                }
            )
            if state.moves:
                transitions.append(self._action_transition("advance", name, state, own_words=False))
                continue
            transitions += [
                self._action_transition(intent_trigger(handler.intent), name, handler) for handler in state.on
            ]
            listen = script.listen_for(state)
            for trigger, reprompt, limit in (
                (NO_INPUT, state.no_input, listen.max_no_input),
                (NO_MATCH, state.no_match, listen.max_no_match),
            ):
                give_up = (reprompt.then if reprompt else None) or DEFAULT_GIVE_UP[trigger]
                transitions.append(
                    self._action_transition(trigger, name, give_up)
                    | {"conditions": [partial(self._count_exceeds, trigger, limit)]}
                )
                transitions.append(
                    {
                        "trigger": trigger,
                        "source": name,
                        "dest": None,
                        "before": [partial(self._reprompt, state, reprompt, trigger)],
                        "after": [self._listen],
                    }
                )
        return transitions

    def _action_transition(
        self, trigger: str, source: str | list[str], action: Action, *, own_words: bool = True
    ) -> dict[str, Any]:
        if action.goto:
            dest: str | None = action.goto
        elif action.ends_call:
            dest = ENDED
        else:
            dest = "=" if action.repeat else None
        transition: dict[str, Any] = {
            "trigger": trigger,
            "source": source,
            "dest": dest,
            "before": [partial(self._perform, action, own_words)],
        }
        if dest is None:
            transition["after"] = [self._listen]
        return transition

    # -- machine callbacks ---------------------------------------------------------------

    async def _enter_state(self, event: Any) -> None:
        name = self._session.state
        state = self.script.states[name]
        self.path.append(name)
        self._counts[NO_INPUT] = self._counts[NO_MATCH] = 0
        self._emit(StateEntered(at_seconds=self._elapsed(), state=name))
        self._set_variables(state)
        if state.say:
            self._say(self._variant(state, state.say), barge_in=self.script.listen_for(state).barge_in)
        if state.moves:
            await self._session.trigger("advance")  # queued: runs once this entry finishes
        else:
            self._listen(event)

    async def _enter_ended(self, _event: Any) -> None:
        self._listening = False
        assert self.outcome is not None
        self._emit(Finished(at_seconds=self._elapsed(), outcome=self.outcome, path=list(self.path)))

    def _perform(self, action: Action, own_words: bool, event: Any) -> None:
        if own_words:
            self._set_variables(action)
            if action.say:
                self._say(self._variant(action, action.say), barge_in=True)
        if action.escalate:
            self.escalation = EscalationRequested(
                at_seconds=self._elapsed(),
                state=self._session.state,
                reason=action.escalate.reason,
                mode=action.escalate.mode,
                phrase=event.kwargs.get("phrase"),
            )
            self._emit(self.escalation)
            self._set_outcome(Outcome.ESCALATED, event)
        elif action.hangup:
            self._set_outcome(action.hangup, event)

    def _set_outcome(self, outcome: Outcome, _event: Any) -> None:
        self.outcome = outcome

    def _hung_up(self, state: State, event: Any) -> None:
        """A callee who hangs up has not refused; one who said something nobody understood
        first is `hung_up` even where the state says otherwise (`advice`: dissuaded)."""
        if self._not_understood is not None:
            self._set_outcome(Outcome.HUNG_UP, event)
        else:
            self._set_outcome(state.on_hangup or Outcome.HUNG_UP, event)

    def _count_exceeds(self, trigger: str, limit: int, _event: Any) -> bool:
        return self._counts[trigger] > limit

    def _reprompt(self, state: State, reprompt: Reprompt | None, trigger: str, _event: Any) -> None:
        """The n-th reprompt text; without any, the state's question again: the last sentence
        of its prompt, not the whole prompt ("Thank you. Our system shows…" three times)."""
        barge_in = self.script.listen_for(state).barge_in
        if reprompt and reprompt.say:
            index = min(self._counts[trigger], len(reprompt.say)) - 1
            self._say(self._render(reprompt.say[index]), barge_in=barge_in)
        elif state.say:
            self._say(split_sentences(self._render(state.say[0]))[-1], barge_in=barge_in)

    def _listen(self, _event: Any = None) -> None:
        name = self._session.state
        state = self.script.states[name]
        listen = self.script.listen_for(state)
        intents = [*self._global_intents, *(handler.intent for handler in state.on)]
        self._listening = True
        self._no_input_deadline = None
        self._emit(
            Listening(
                at_seconds=self._elapsed(),
                state=name,
                no_input_timeout_seconds=listen.no_input_timeout_seconds,
                barge_in=listen.barge_in,
                expected_phrases=sorted({p for i in intents for p in self.matcher.phrases(i)}),
                dtmf=sorted({d for i in intents for d in self.script.intents[i].dtmf}),
            )
        )

    # -- helpers -------------------------------------------------------------------------

    def _emit(self, event: DialogEvent) -> None:
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)

    def _elapsed(self) -> float:
        return 0.0 if self._started_at is None else round(self._clock.now() - self._started_at, 3)

    def _variant(self, owner: Action, texts: list[str]) -> str:
        """Variants take turns: the n-th time a step speaks it uses its n-th text."""
        uses = self._variant_uses[id(owner)]
        self._variant_uses[id(owner)] += 1
        return self._render(texts[uses % len(texts)])

    def _render(self, template: str) -> str:
        try:
            return tidy_prompt(template.format_map(self.variables), self.script.meta.language)
        except (KeyError, ValueError, IndexError) as err:
            raise DialogError("template", f"cannot fill prompt {template!r}: {err}") from err

    def _set_variables(self, action: Action) -> None:
        for name, value in action.set.items():
            self.variables[name] = self._render(value)

    def _say(self, text: str, *, barge_in: bool) -> None:
        self._listening = False
        self._emit(Say(at_seconds=self._elapsed(), state=self._session.state, text=text, barge_in=barge_in))

    # -- driving the conversation --------------------------------------------------------

    @property
    def state(self) -> str:
        return self._session.state

    @property
    def finished(self) -> bool:
        return self._session.state == ENDED

    @property
    def listening(self) -> bool:
        """True while the engine waits for the callee.

        This includes the time the driver is still playing the last prompt: whether the
        callee may interrupt it is the driver's call (`Say.barge_in`), and urgent speech
        always may (`spot_urgent`).
        """
        return self._listening and not self.finished

    def candidate_intents(self) -> list[str]:
        """Intents that can act now, in precedence order."""
        if not self.listening:
            return []
        state = self.script.states[self._session.state]
        return [*self._global_intents, *(handler.intent for handler in state.on)]

    def urgent_intents(self) -> list[str]:
        """Global intents that escalate: worth checking on every partial recognition, and on
        the recogniser's alternative readings."""
        return self.interpreter.urgent

    def spot_urgent(self, partial_text: str) -> Match | None:
        """Check partial recogniser output for urgency, even while the robot speaks."""
        if self.finished:
            return None
        return self.interpreter.spot_urgent(partial_text)

    async def start(self, *, at_state: str | None = None) -> None:
        """Begin the conversation at the script's start, or (evaluations, tests) in `at_state`."""
        if self._started_at is not None:
            raise DialogError("already_started", "the conversation has already started")
        if at_state is not None and at_state not in self.script.states:
            raise DialogError("unknown_state", f"script {self.script.meta.id} has no state {at_state!r}")
        self._started_at = self._clock.now()
        await self._session.trigger("start" if at_state is None else f"start:{at_state}")

    def prompt_finished(self) -> None:
        """The robot stopped talking; the state's no-input timeout starts now."""
        if self.listening:
            timeout = self.script.listen_for(self.script.states[self.state]).no_input_timeout_seconds
            self._no_input_deadline = self._clock.now() + timeout

    def speech_started(self) -> None:
        """The callee started talking: no-input timing stops until the next prompt ends."""
        self._no_input_deadline = None

    async def check_no_input(self) -> bool:
        """Handle a no-input if the timeout armed by `prompt_finished` has passed."""
        if self._no_input_deadline is None or self._clock.now() < self._no_input_deadline:
            return False
        await self.handle_no_input()
        return True

    def is_backchannel(self, text: str) -> bool:
        """"嗯" / "uh-huh": said over a prompt, the callee is only listening."""
        return self.turn_taking.is_backchannel(text)

    async def handle_speech(
        self, text: str, *, alternatives: Sequence[str] = (), over_prompt: bool = False
    ) -> Match | None:
        """A final recognition result. Returns the intent it matched, if any.

        `alternatives`: the recogniser's other readings (n-best), tried for urgent intents
        only. `over_prompt`: said while the robot was still talking, so a backchannel is
        ignored (the robot talks on)."""
        if not self.listening:
            return None
        if not text.strip():
            await self.handle_no_input()
            return None
        if over_prompt and self.is_backchannel(text):
            self._emit(Backchannel(at_seconds=self._elapsed(), state=self.state, text=text))
            return None
        self._emit(Heard(at_seconds=self._elapsed(), state=self.state, kind=InputKind.SPEECH, text=text))
        meaning = self.interpreter.meaning(self.state, text, alternatives)
        if meaning.reading is Reading.ACKNOWLEDGMENT:
            # No answer to "has it happened?": the no_match reprompt ("please say yes or no").
            self._counts[NO_MATCH] += 1
            self._emit(NoMatch(at_seconds=self._elapsed(), state=self.state, count=self._counts[NO_MATCH], acknowledgment=True))
            await self._session.trigger(NO_MATCH)
            return None
        if meaning.reading is Reading.NOT_UNDERSTOOD:
            self._not_understood = text
        await self._act_on(meaning.match, phrase=text)
        return meaning.match

    async def handle_dtmf(self, digits: str) -> Match | None:
        """Key presses, one digit at a time; stops early if the conversation ends."""
        match = None
        for digit in digits:
            if not self.listening:
                break
            self._not_understood = None
            self._emit(Heard(at_seconds=self._elapsed(), state=self.state, kind=InputKind.DTMF, text=digit))
            match = self.matcher.match_dtmf(digit, self.candidate_intents())
            await self._act_on(match, phrase=f"#{digit}")
        return match

    async def handle_no_input(self) -> None:
        if not self.listening:
            return
        self._emit(Heard(at_seconds=self._elapsed(), state=self.state, kind=InputKind.SILENCE, text=""))
        self._counts[NO_INPUT] += 1
        self._emit(NoInput(at_seconds=self._elapsed(), state=self.state, count=self._counts[NO_INPUT]))
        await self._session.trigger(NO_INPUT)

    async def callee_hung_up(self) -> None:
        """The callee hung up: the state's `on_hangup` outcome, `hung_up` by default, and
        always `hung_up` after words that nobody understood."""
        if self._started_at is not None and not self.finished:
            await self._session.trigger("callee_hung_up")

    async def _act_on(self, match: Match | None, *, phrase: str) -> None:
        if match is not None:
            self._not_understood = None
        if match is None:
            self._counts[NO_MATCH] += 1
            self._emit(NoMatch(at_seconds=self._elapsed(), state=self.state, count=self._counts[NO_MATCH]))
            await self._session.trigger(NO_MATCH)
            return
        self._emit(
            IntentMatched(
                at_seconds=self._elapsed(),
                state=self.state,
                intent=match.intent,
                matched=match.phrase,
                method=match.method,
                is_global=match.intent in self._global_intents,
            )
        )
        await self._session.trigger(intent_trigger(match.intent), phrase=phrase)

    def transcript(self) -> list[dict[str, Any]]:
        """What was said, in order: `{speaker, text, at_seconds}` (and `input` for the callee)."""
        return transcript(self.events)

