"""`robot dialogs ...`: the supervisors' tools."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import TextIO

from ..clock import VirtualClock
from .checks import check_paths
from .engine import DialogEngine
from .error import DialogError
from .events import DialogEvent, EscalationRequested, Finished, Say
from .graph import mermaid
from .loader import ScriptError, load_script
from .schema import Script, Turn
from .simulate import ConversationResult, escalation_json, feed_turn


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dialogs = subparsers.add_parser("dialogs", help="check, draw and try out dialog scripts")
    commands = dialogs.add_subparsers(dest="dialogs_command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="validate scripts and run their embedded tests")
    check.add_argument("paths", nargs="+", metavar="PATH", help="script files or folders")
    check.set_defaults(handler=_check)

    graph = commands.add_parser("graph", help="print a Mermaid state diagram of a script")
    graph.add_argument("script", metavar="SCRIPT")
    graph.set_defaults(handler=_graph)

    chat = commands.add_parser(
        "chat",
        help="talk to a script as the callee would, in text",
        description="Each input line is one callee turn: text, an empty line for silence, "
        "or #5 for the key 5. End of input means the callee hung up.",
    )
    chat.add_argument("script", metavar="SCRIPT")
    chat.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="set a script variable")
    chat.add_argument("--json", action="store_true", help="end with one JSON line: outcome, path, escalation, turns")
    chat.set_defaults(handler=_chat)

    evaluate = commands.add_parser(
        "evaluate",
        help="measure how the scripts understand a set of labelled callee turns",
        description="Each turn is played into a fresh conversation in its state; the report gives how many "
        "the robot handled right, per-label precision and recall, and missed urgency and false escalations. "
        "The set's format is bench/understanding/CONTEXT.md.",
    )
    evaluate.add_argument("sets", nargs="+", metavar="SET", help="YAML files of labelled turns")
    evaluate.add_argument("--dialogs", default="dialogs", metavar="DIR", help="the scripts (default: dialogs)")
    evaluate.add_argument("--errors", action="store_true", help="list the turns handled wrongly")
    evaluate.set_defaults(handler=_evaluate)


def _check(args: argparse.Namespace) -> int:
    problems, file_count = asyncio.run(check_paths(args.paths))
    for problem in problems:
        print(problem)
    errors = [problem for problem in problems if not problem.warning]
    warnings = len(problems) - len(errors)
    if errors:
        print(f"{len(errors)} problem(s) and {warnings} warning(s) in {file_count} file(s)", file=sys.stderr)
        return 1
    print(f"{file_count} script(s) OK" + (f", {warnings} warning(s)" if warnings else ""), file=sys.stderr)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from ..understanding.evaluation import Report, evaluate, load_items
    from .checks import script_files

    try:
        scripts = {}
        for path in script_files([args.dialogs]):
            script = load_script(path).script
            scripts[f"{script.meta.language.value}/{script.meta.id}"] = script
        items = [item for path in args.sets for item in load_items(path)]
        report = Report(asyncio.run(evaluate(items, scripts)))
    except (ScriptError, KeyError, ValueError, OSError) as err:
        print(err, file=sys.stderr)
        return 1
    print("\n".join(report.lines(", ".join(args.sets), show_errors=args.errors)))
    return 0


def _graph(args: argparse.Namespace) -> int:
    try:
        loaded = load_script(args.script)
    except ScriptError as err:
        print(err, file=sys.stderr)
        return 1
    sys.stdout.write(mermaid(loaded.script))
    return 0


def parse_vars(pairs: list[str]) -> dict[str, str]:
    variables = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise DialogError("usage", f"--var {pair!r}: expected NAME=VALUE")
        variables[name.strip()] = value
    return variables


def _chat(args: argparse.Namespace) -> int:
    try:
        loaded = load_script(args.script)
        variables = parse_vars(args.var)
        return asyncio.run(chat(loaded.script, variables, sys.stdin, sys.stdout, as_json=args.json))
    except ScriptError as err:
        print(err, file=sys.stderr)
        return 1
    except DialogError as err:
        print(f"{args.script}: {err.message}", file=sys.stderr)
        return 2


def _printer(out: TextIO) -> Callable[[DialogEvent], None]:
    def show(event: DialogEvent) -> None:
        if isinstance(event, Say):
            print(f"robot: {event.text}", file=out, flush=True)
        elif isinstance(event, EscalationRequested):
            print(f"[escalation: {event.reason.value}, {event.mode.value}]", file=out, flush=True)
        elif isinstance(event, Finished):
            print(f"[call ended: {event.outcome.value}]", file=out, flush=True)

    return show


async def chat(script: Script, variables: dict[str, str], source: TextIO, out: TextIO, *, as_json: bool) -> int:
    clock = VirtualClock()
    engine = DialogEngine(script, variables=variables, clock=clock, on_event=_printer(out))
    interactive = source.isatty()
    await engine.start()
    while not engine.finished:
        if interactive:
            print("you> ", end="", file=out, flush=True)
        line = source.readline()
        if not line:  # end of input: the callee hung up
            await engine.callee_hung_up()
            break
        turn = Turn.from_text(line.rstrip("\n"))
        if not interactive:  # show the transcript as it would read on a TTY
            print(f"callee: {turn}", file=out, flush=True)
        await feed_turn(engine, turn, clock)
    if as_json:
        result = ConversationResult(
            outcome=engine.outcome,
            path=list(engine.path),
            escalation=escalation_json(engine),
            turns=engine.transcript(),
            unused_turns=0,
        )
        print(json.dumps(result.to_json(), ensure_ascii=False), file=out)
    return 0
