"""`robot dialogs check`: find every problem in a set of scripts, one line each."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..understanding.turns import turn_taking_for
from .const import QuestionKind, RiskLevel
from .loader import DataPath, LoadedScript, Problem, ScriptError, load_script
from .matcher import IntentMatcher
from .schema import Action, IntentHandler, Script, template_fields
from .simulate import run_conversation

SCRIPT_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Step:
    """One place in a script that does something: its data path and its action."""

    path: DataPath
    state: str | None
    """The state it belongs to; None for global intents."""
    action: Action


def steps(script: Script) -> Iterator[Step]:
    for index, handler in enumerate(script.global_intents):
        yield Step(("global_intents", index), None, handler)
    for name, state in script.states.items():
        yield Step(("states", name), name, state)
        for index, handler in enumerate(state.on):
            yield Step(("states", name, "on", index), name, handler)
        for key, reprompt in (("no_input", state.no_input), ("no_match", state.no_match)):
            if reprompt and reprompt.then:
                yield Step(("states", name, key, "then"), name, reprompt.then)


def step_texts(script: Script, step: Step) -> Iterator[tuple[DataPath, str]]:
    """What one step can say: its own `say` texts and, for a state, its reprompts."""
    yield from (((*step.path, "say", index), text) for index, text in enumerate(step.action.say))
    if step.state is not None and step.path == ("states", step.state):
        state = script.states[step.state]
        for key, reprompt in (("no_input", state.no_input), ("no_match", state.no_match)):
            if reprompt:
                yield from (((*step.path, key, "say", index), text) for index, text in enumerate(reprompt.say))


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def static_problems(loaded: LoadedScript) -> list[Problem]:
    """Problems visible without running the script: broken references and dead ends."""
    script = loaded.script
    problem = loaded.problem
    found: list[Problem] = []
    states = script.states

    if script.start not in states:
        found.append(problem(("start",), f"start: no state named {script.start!r}{_suggest(script.start, states)}"))
    if RiskLevel.HIGH in script.meta.risk_levels:
        found.append(problem(("meta", "risk_levels"), "meta.risk_levels: high-risk warnings go to officers and are never dialled"))

    used_intents: set[str] = set()
    for step in steps(script):
        action = step.action
        if action.goto and action.goto not in states:
            found.append(problem((*step.path, "goto"), f"goto: no state named {action.goto!r}{_suggest(action.goto, states)}"))
        if isinstance(action, IntentHandler):
            used_intents.add(action.intent)
            if action.intent not in script.intents:
                found.append(
                    problem((*step.path, "intent"), f"intent: no intent named {action.intent!r}{_suggest(action.intent, script.intents)}")
                )
        found += _template_problems(loaded, step)

    global_intents = {handler.intent for handler in script.global_intents}
    for name, state in states.items():
        seen: set[str] = set()
        for index, handler in enumerate(state.on):
            where = ("states", name, "on", index, "intent")
            if handler.intent in seen:
                found.append(problem(where, f"state {name!r} handles intent {handler.intent!r} twice; only the first is used"))
            elif handler.intent in global_intents:
                found.append(problem(where, f"intent {handler.intent!r} is global, so this handler in state {name!r} is never used"))
            seen.add(handler.intent)

    for name in script.intents:
        if name not in used_intents:
            found.append(problem(("intents", name), f"intent {name!r} is never used by any state or global intent"))

    if script.start in states:
        reachable = _reachable(script)
        for name in states:
            if name not in reachable:
                found.append(problem(("states", name), f"state {name!r} is unreachable from start state {script.start!r}"))
    for name in _no_way_out(script):
        found.append(
            problem(
                ("states", name),
                f"state {name!r} has no way out: none of its own transitions leads to a hang-up or escalation",
            )
        )

    found += list(_acknowledgment_problems(loaded))

    for index, test in enumerate(script.tests):
        for variable in test.vars:
            if variable not in script.variables:
                found.append(problem(("tests", index, "vars", variable), f"test {test.name!r}: no variable named {variable!r}"))
        for position, state_name in enumerate(test.expect.path or []):
            if state_name not in states:
                found.append(
                    problem(("tests", index, "expect", "path", position), f"test {test.name!r}: no state named {state_name!r} in expected path")
                )
    return found


def _acknowledgment_problems(loaded: LoadedScript) -> Iterator[Problem]:
    """A state that asks whether something happened ("有没有转账？") and escalates on an intent
    that also matches an acknowledgment ("明白了", "okay, I understand") would send a
    listener to an officer: warn, unless the state says `question: yes_no` (then an
    acknowledgment gets the no_match reprompt before the state's intents are tried)."""
    script = loaded.script
    matcher = IntentMatcher(script.intents, script.meta.language)
    words = turn_taking_for(script).words
    negative = [answer for answer in words.short_answers if answer in ("没有", "no")]
    for name, state in script.states.items():
        if not state.listens or state.question is QuestionKind.YES_NO:
            continue
        intents = [handler.intent for handler in state.on if handler.intent in script.intents]
        if not any(matcher.match_text(answer, intents) for answer in negative):
            continue  # not a yes/no question
        for index, handler in enumerate(state.on):
            if handler.escalate is None or handler.intent not in script.intents:
                continue
            heard = [ack for ack in words.acknowledgments if matcher.match_text(ack, [handler.intent])]
            if heard:
                yield loaded.problem(
                    ("states", name, "on", index, "intent"),
                    f"state {name!r} asks a yes/no question and escalates on intent {handler.intent!r}, which also "
                    f"matches the acknowledgment {heard[0]!r}: a callee who only says they heard would be sent to "
                    "an officer; add `question: yes_no` to the state (acknowledgments then get the no_match reprompt)",
                    warning=True,
                )


def _template_problems(loaded: LoadedScript, step: Step) -> Iterator[Problem]:
    declared = loaded.script.variables
    texts = list(step_texts(loaded.script, step))
    texts += [((*step.path, "set", key), value) for key, value in step.action.set.items()]
    for key in step.action.set:
        if key not in declared:
            yield loaded.problem((*step.path, "set", key), f"set: no variable named {key!r}; declare it under variables")
    for path, text in texts:
        try:
            fields = template_fields(text)
        except ValueError as err:
            yield loaded.problem(path, str(err))
            continue
        for name in fields:
            if name not in declared:
                yield loaded.problem(path, f"template variable {{{name}}} is not declared under variables{_suggest(name, declared)}")


def _edges(script: Script, name: str) -> tuple[set[str], bool]:
    """The states a state's own transitions lead to, and whether one of them ends the call."""
    state = script.states[name]
    actions: list[Action] = [state, *state.on]
    actions += [reprompt.then for reprompt in (state.no_input, state.no_match) if reprompt and reprompt.then]
    targets = {action.goto for action in actions if action.goto}
    return targets, any(action.ends_call for action in actions)


def _reachable(script: Script) -> set[str]:
    global_targets = {handler.goto for handler in script.global_intents if handler.goto}
    seen: set[str] = set()
    pending = [script.start]
    while pending:
        name = pending.pop()
        if name in seen or name not in script.states:
            continue
        seen.add(name)
        targets, _ = _edges(script, name)
        pending += targets
        if script.states[name].listens:
            pending += global_targets
    return seen


def _no_way_out(script: Script) -> list[str]:
    """States from which no chain of the states' own transitions ends the call."""
    can_end = {name for name in script.states if _edges(script, name)[1]}
    changed = True
    while changed:
        changed = False
        for name in script.states:
            if name not in can_end and _edges(script, name)[0] & can_end:
                can_end.add(name)
                changed = True
    return [name for name in script.states if name not in can_end]


async def test_problems(loaded: LoadedScript) -> list[Problem]:
    """Run the script's embedded tests; one problem per failing test."""
    script = loaded.script
    matcher = IntentMatcher(script.intents, script.meta.language)
    found = []
    for index, test in enumerate(script.tests):
        result = await run_conversation(script, test.turns, variables=test.vars, matcher=matcher)
        expect = test.expect
        failures = []
        if result.outcome is None:
            failures.append(f"the call had not ended after all {len(test.turns)} turns (waiting in state {result.path[-1]!r})")
        elif result.outcome != expect.outcome:
            failures.append(f"expected outcome {expect.outcome.value}, got {result.outcome.value}")
        if result.unused_turns:
            failures.append(f"the call ended with {result.unused_turns} turn(s) left over")
        if expect.escalation is not None:
            got = result.escalation
            if got is None:
                failures.append(f"expected an escalation ({expect.escalation.reason.value}), got none")
            else:
                if got["reason"] != expect.escalation.reason:
                    failures.append(f"expected escalation reason {expect.escalation.reason.value}, got {got['reason']}")
                if expect.escalation.mode and got["mode"] != expect.escalation.mode:
                    failures.append(f"expected escalation mode {expect.escalation.mode.value}, got {got['mode']}")
                if expect.escalation.phrase and expect.escalation.phrase not in (got["phrase"] or ""):
                    failures.append(f"expected the escalation phrase to contain {expect.escalation.phrase!r}, got {got['phrase']!r}")
        if expect.path is not None and result.path != expect.path:
            failures.append(f"expected path {' > '.join(expect.path)}, got {' > '.join(result.path)}")
        robot_lines = [turn["text"] for turn in result.turns if turn["speaker"] == "robot"]
        for text in expect.says:
            if not any(text in line for line in robot_lines):
                failures.append(f"the robot never said {text!r}")
        if failures:
            found.append(loaded.problem(("tests", index), f"test {test.name!r} failed: {'; '.join(failures)}"))
    return found


def script_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in SCRIPT_SUFFIXES and p.is_file())
        else:
            yield path


async def check_paths(paths: Iterable[str | Path]) -> tuple[list[Problem], int]:
    """Check every script under `paths`. Returns the problems and how many files were read."""
    problems: list[Problem] = []
    first_seen: dict[tuple[str, str], LoadedScript] = {}
    files = list(script_files(paths))
    for file in files:
        if not file.exists():
            problems.append(Problem(str(file), 1, 1, "no such file or directory"))
            continue
        try:
            loaded = load_script(file)
        except ScriptError as err:
            problems += err.problems
            continue
        key = (loaded.script.meta.language.value, loaded.script.meta.id)
        if key in first_seen:
            problems.append(
                loaded.problem(("meta", "id"), f"script id {key[1]!r} ({key[0]}) is already used by {first_seen[key].path}")
            )
        first_seen.setdefault(key, loaded)
        found = static_problems(loaded)
        problems += found
        if any(not problem.warning for problem in found):
            continue  # the tests would only repeat these problems
        problems += await test_problems(loaded)
    return sorted(problems), len(files)
