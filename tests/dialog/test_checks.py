"""Every check `robot dialogs check` makes, with the line it reports."""

from __future__ import annotations

import asyncio

from robot.cli import main
from robot.dialog.checks import check_paths
from tests.conftest import MINIMAL_SCRIPT


def check(path) -> list[str]:
    problems, _count = asyncio.run(check_paths([path]))
    return [str(problem) for problem in problems]


def test_minimal_script_is_clean(write_script):
    assert check(write_script(MINIMAL_SCRIPT)) == []


def test_undefined_target_state(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("goto: bye", "goto: by"))
    assert check(path) == [
        f"{path}:29:9: goto: no state named 'by'; did you mean 'bye'?",
        f"{path}:36:3: state 'bye' is unreachable from start state 'ask'",
    ]


def test_undefined_start_state(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("start: ask", "start: hello"))
    assert check(path)[0] == f"{path}:22:1: start: no state named 'hello'"


def test_undefined_intent(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("      - intent: no\n", "      - intent: nah\n"))
    assert check(path) == [
        f"{path}:15:3: intent 'no' is never used by any state or global intent",
        f"{path}:28:9: intent: no intent named 'nah'",
    ]


def test_unreachable_state(write_script):
    path = write_script(MINIMAL_SCRIPT + "  lonely:\n    say: Nobody comes here.\n    hangup: refused\n")
    assert check(path) == [f"{path}:39:3: state 'lonely' is unreachable from start state 'ask'"]


def test_state_with_no_way_out(write_script):
    script = MINIMAL_SCRIPT.replace("        goto: bye\n", "        goto: loop\n") + (
        "  loop:\n    say: Tell me more.\n    on:\n      - intent: yes\n        goto: loop\n"
    )
    path = write_script(script)
    assert check(path) == [
        f"{path}:36:3: state 'bye' is unreachable from start state 'ask'",
        f"{path}:39:3: state 'loop' has no way out: none of its own transitions leads to a hang-up or escalation",
    ]


def test_undefined_template_variable(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("Goodbye {name}.", "Goodbye {nme}, call {verify_number}."))
    assert check(path) == [
        f"{path}:37:5: template variable {{nme}} is not declared under variables; did you mean 'name'?",
        f"{path}:37:5: template variable {{verify_number}} is not declared under variables",
    ]


def test_template_variable_in_reprompt_and_set(write_script):
    script = MINIMAL_SCRIPT.replace("say: Are you there?", "say: [\"Are you there, {who}?\"]").replace(
        "        goto: bye\n", "        goto: bye\n        set: {mood: calm}\n"
    )
    path = write_script(script)
    assert check(path) == [
        f"{path}:30:15: set: no variable named 'mood'; declare it under variables",
        f"{path}:34:13: template variable {{who}} is not declared under variables",
    ]


def test_unquoted_template_at_start_of_text_gets_a_hint(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("say: Goodbye {name}.", "say: {name}"))
    (problem,) = check(path)
    assert problem == f"{path}:37:5: states.bye.say: a text that starts with {{ must be in quotes, e.g. say: \"{{name}}, hello\""


def test_malformed_template_field(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("Goodbye {name}.", "Goodbye {name.upper}."))
    (problem,) = check(path)
    assert problem.startswith(f"{path}:37:5: template field {{name.upper}}")


def test_intent_never_used(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("global_intents:", "  spare:\n    phrases: [spare]\nglobal_intents:"))
    assert check(path) == [f"{path}:18:3: intent 'spare' is never used by any state or global intent"]


def test_handler_shadowed_by_global_and_duplicates(write_script):
    script = MINIMAL_SCRIPT.replace(
        "      - intent: yes\n        escalate: urgent_speech\n",
        "      - intent: yes\n        escalate: urgent_speech\n      - intent: yes\n        goto: bye\n"
        "      - intent: urgent\n        goto: bye\n",
    )
    path = write_script(script)
    assert check(path) == [
        f"{path}:32:9: state 'ask' handles intent 'yes' twice; only the first is used",
        f"{path}:34:9: intent 'urgent' is global, so this handler in state 'ask' is never used",
    ]


def test_high_risk_scripts_are_refused(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("  fraud_types: [generic]\n", "  fraud_types: [generic]\n  risk_levels: [medium, high]\n"))
    assert check(path) == [f"{path}:7:3: meta.risk_levels: high-risk warnings go to officers and are never dialled"]


EMBEDDED_TESTS = """\
tests:
  - name: says no
    turns: ["no"]
    expect: {outcome: dissuaded, path: [ask, bye]}
  - name: wrong expectation
    turns: ["no"]
    expect: {outcome: refused, path: [ask]}
  - name: urgent
    turns: ["I transferred it to a safe account"]
    expect:
      outcome: escalated
      escalation: {reason: callee_request, phrase: bank}
  - name: too many turns
    turns: ["no", "yes"]
    expect: {outcome: dissuaded}
  - name: too few turns
    turns: ["maybe"]
    expect: {outcome: dissuaded, says: [Goodbye friend]}
  - name: unknown variable
    vars: {surname: Lee}
    turns: ["no"]
    expect: {outcome: dissuaded}
"""


def test_failing_embedded_tests_are_reported_at_the_test(write_script):
    path = write_script(MINIMAL_SCRIPT + EMBEDDED_TESTS.replace("  - name: unknown variable\n    vars: {surname: Lee}\n    turns: [\"no\"]\n    expect: {outcome: dissuaded}\n", ""))
    assert check(path) == [
        f"{path}:43:5: test 'wrong expectation' failed: expected outcome refused, got dissuaded; expected path ask, got ask > bye",
        f"{path}:46:5: test 'urgent' failed: expected escalation reason callee_request, got urgent_speech; "
        "expected the escalation phrase to contain 'bank', got 'I transferred it to a safe account'",
        f"{path}:51:5: test 'too many turns' failed: the call ended with 1 turn(s) left over",
        f"{path}:54:5: test 'too few turns' failed: the call had not ended after all 1 turns (waiting in state 'ask'); "
        "the robot never said 'Goodbye friend'",
    ]


def test_test_with_undeclared_variable(write_script):
    path = write_script(MINIMAL_SCRIPT + EMBEDDED_TESTS)
    assert f"{path}:58:12: test 'unknown variable': no variable named 'surname'" in check(path)


def test_duplicate_script_ids(write_script):
    first = write_script(MINIMAL_SCRIPT, "one.yaml")
    second = write_script(MINIMAL_SCRIPT, "two.yaml")
    problems, count = asyncio.run(check_paths([first.parent]))
    assert count == 2
    assert [str(p) for p in problems] == [f"{second}:2:3: script id 'mini' (en-US) is already used by {first}"]


def test_cli_exit_codes_and_one_line_per_problem(write_script, capsys):
    good = write_script(MINIMAL_SCRIPT, "good.yaml")
    assert main(["dialogs", "check", str(good)]) == 0
    assert capsys.readouterr().out == ""
    bad = write_script(MINIMAL_SCRIPT.replace("goto: bye", "goto: by").replace("  version: 1", "  version: 1\n  colour: red"), "bad.yaml")
    assert main(["dialogs", "check", str(good), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{bad}:4:3: unknown key 'colour' in meta"]
    assert main(["dialogs", "check", str(bad.parent / "missing.yaml")]) == 1
    assert capsys.readouterr().out.strip().endswith("missing.yaml:1:1: no such file or directory")
