"""`robot dialogs graph`: a Mermaid state diagram of a script."""

from __future__ import annotations

from .engine import DEFAULT_GIVE_UP, NO_INPUT, NO_MATCH
from .schema import Action, Script

ANY_STATE = "any_listening_state"


def _label(text: str) -> str:
    # Mermaid ends a transition label at a newline and treats ':' specially.
    return text.replace(":", " ").replace("\n", " ").strip()


def _arrow(source: str, action: Action, label: str, lines: list[str]) -> None:
    if action.goto:
        lines.append(f"    {source} --> {action.goto}: {_label(label)}")
    elif action.escalate:
        mode = action.escalate.mode.value
        lines.append(f"    {source} --> [*]: {_label(f'{label} ⇒ escalate {action.escalate.reason.value} ({mode})')}")
    elif action.hangup:
        lines.append(f"    {source} --> [*]: {_label(f'{label} ⇒ {action.hangup.value}')}")
    elif action.repeat:
        lines.append(f"    {source} --> {source}: {_label(f'{label} (repeat)')}")


def mermaid(script: Script) -> str:
    meta = script.meta
    lines = [
        "---",
        f"title: {meta.id} v{meta.version} ({meta.language.value})",
        "---",
        "stateDiagram-v2",
        f"    [*] --> {script.start}",
    ]
    for name, state in script.states.items():
        if state.moves:
            _arrow(name, state, "then", lines)
            continue
        for handler in state.on:
            _arrow(name, handler, handler.intent, lines)
        listen = script.listen_for(state)
        for key, reprompt, limit in (
            (NO_INPUT, state.no_input, listen.max_no_input),
            (NO_MATCH, state.no_match, listen.max_no_match),
        ):
            give_up = (reprompt.then if reprompt else None) or DEFAULT_GIVE_UP[key]
            _arrow(name, give_up, f"{key} x{limit + 1}", lines)
    if script.global_intents:
        lines.append(f'    state "any listening state" as {ANY_STATE}')
        for handler in script.global_intents:
            if handler.goto or handler.ends_call or handler.repeat:
                _arrow(ANY_STATE, handler, handler.intent, lines)
            else:
                lines.append(f"    note right of {ANY_STATE}: {_label(handler.intent)} answered in place")
    return "\n".join(lines) + "\n"
