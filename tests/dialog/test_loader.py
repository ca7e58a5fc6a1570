"""Schema errors name the file, line and column of the offending key."""

from __future__ import annotations

import pytest

from robot.dialog.loader import ScriptError, load_script
from tests.conftest import MINIMAL_SCRIPT


def problems_of(path) -> list[str]:
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    return [str(problem) for problem in caught.value.problems]


def test_minimal_script_loads(write_script):
    loaded = load_script(write_script(MINIMAL_SCRIPT))
    assert loaded.script.meta.id == "mini"
    assert loaded.script.states["ask"].say == ["Hello {name}, did you send money?"]


def test_unknown_key_is_reported_at_its_line(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("    phrases: [yes, yeah]", "    phrasez: [yes, yeah]"))
    assert problems_of(path) == [f"{path}:13:5: unknown key 'phrasez' in intents.yes"]


def test_an_intent_needs_something_to_match(write_script):
    path = write_script(MINIMAL_SCRIPT.replace('    phrases: [yes, yeah]\n    dtmf: ["1"]\n', "    description: empty\n"))
    assert problems_of(path) == [f"{path}:12:3: intents.yes: an intent needs at least one of phrases, patterns, dtmf or detector"]


def test_unknown_key_in_a_state(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("    hangup: dissuaded", "    hangup: dissuaded\n    sya: oops"))
    assert problems_of(path) == [f"{path}:39:5: unknown key 'sya' in states.bye"]


def test_wrong_value_names_field_and_value(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("max_no_input: 1", "max_no_input: -3"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:26:57: ")
    assert "states.ask.listen.max_no_input" in problem
    assert "greater than or equal to 0" in problem
    assert "(got -3)" in problem


def test_unknown_outcome_is_rejected(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("hangup: dissuaded", "hangup: persuaded"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:38:13: states.bye.hangup:")
    assert "'dissuaded'" in problem


def test_missing_required_key(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("  version: 1\n", ""))
    assert problems_of(path) == [f"{path}:1:1: meta.version: required key is missing"]


def test_two_next_steps_is_an_error(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("        goto: bye", "        goto: bye\n        hangup: refused"))
    (problem,) = problems_of(path)
    assert problem == f"{path}:28:9: states.ask.on[0]: choose one of goto, hangup, escalate or repeat, not goto and hangup"


def test_bad_regular_expression(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("    phrases: [no, nope]", "    patterns: ['(unclosed']"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:16:5: intents.no.patterns: pattern '(unclosed' is not a valid regular expression")


def test_yaml_syntax_error_has_a_line(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("  yes:\n", "  yes\n"))
    (problem,) = problems_of(path)
    assert problem == f"{path}:12:3: YAML syntax: while scanning a simple key could not find expected ':'"


def test_duplicate_key_is_an_error(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("  bye:\n", "  ask:\n"))
    (problem,) = problems_of(path)
    assert problem == f"{path}:36:3: duplicate key 'ask' (this mapping starts on line 24)"


def test_extends_merges_sections_and_reports_child_lines(write_script, tmp_path):
    write_script(MINIMAL_SCRIPT, "base.yaml")
    child = write_script(
        """\
        extends: base.yaml
        meta:
          id: child
          version: 2
          language: en-US
          voice: en_US-joe-medium
          fraud_types: [online_loan]
        variables:
          name: neighbour
        states:
          bye:
            say: Bye now {name}.
            hangup: dissuaded
            colour: blue
        """,
        "child.yaml",
    )
    assert problems_of(child) == [f"{child}:14:5: unknown key 'colour' in states.bye"]
    child.write_text(child.read_text().replace("    colour: blue\n", ""))
    loaded = load_script(child)
    script = loaded.script
    assert script.meta.id == "child"
    assert script.variables["name"].default == "neighbour"
    assert script.states["bye"].say == ["Bye now {name}."]
    assert script.states["ask"].on[0].goto == "bye"  # inherited
    assert [h.intent for h in script.global_intents] == ["urgent"]
    # An inherited part is located in the base file, an overridden one in the child.
    assert loaded.problem(("states", "ask"), "x").file == str(tmp_path / "base.yaml")
    assert loaded.problem(("states", "bye"), "x").file == str(child)


def test_extends_cycle_and_missing_base(write_script):
    a = write_script("extends: b.yaml\n", "a.yaml")
    write_script("extends: a.yaml\n", "b.yaml")
    (problem,) = problems_of(a)
    assert "cycle" in problem
    missing = write_script("extends: nowhere.yaml\n", "c.yaml")
    assert problems_of(missing) == [f"{missing}:1:1: extends: no such script nowhere.yaml"]


def bomb(levels: int) -> str:
    lines = ['x0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_is_expanded(write_script):
    """Nine levels once ran 41 s and died at 4 GB; six would still expand to a million values."""
    for levels in (6, 9):
        path = write_script(bomb(levels))
        assert problems_of(path) == [f"{path}:6:5: this document expands to more than 200000 values (YAML aliases); "
                                     "scripts are far smaller"]


def test_tags_beyond_plain_yaml_are_refused(write_script):
    path = write_script(MINIMAL_SCRIPT.replace("  id: mini", '  id: !!python/object/apply:os.system ["echo pwned"]'))
    assert problems_of(path) == [f"{path}:2:7: YAML tag tag:yaml.org,2002:python/object/apply:os.system is not allowed in a script"]
    path = write_script(MINIMAL_SCRIPT.replace("  id: mini", "  id: !custom mini"))
    assert problems_of(path) == [f"{path}:2:7: YAML tag !custom is not allowed in a script"]


def test_self_referencing_aliases_deep_nesting_and_huge_files_are_refused(write_script):
    assert "refers to itself" in problems_of(write_script("a: &x [1, *x]\n"))[0]
    assert "nested more than 64 levels deep" in problems_of(write_script("a: " + "[" * 70 + "]" * 70 + "\n"))[0]
    path = write_script("a: b\n" + "# padding\n" * 110_000)
    assert problems_of(path) == [f"{path}:1:1: larger than 1000000 bytes; scripts are far smaller"]


def test_anchors_and_merge_keys_still_work(write_script):
    text = MINIMAL_SCRIPT.replace("    listen: {no_input_timeout_seconds: 5, max_no_input: 1, max_no_match: 1}",
                                  "    listen: &quick {no_input_timeout_seconds: 5, max_no_input: 1, max_no_match: 1}")
    assert load_script(write_script(text)).script.states["ask"].listen is not None


def test_a_machine_message_is_the_languages_unless_the_script_sets_one(write_script):
    from robot.machine.screen import machine_message
    from robot.speech.prompts import script_sentences

    default = load_script(write_script(MINIMAL_SCRIPT)).script
    assert machine_message(default) == "This is the police anti-fraud centre. Please call 9 6 1 1 0 as soon as you can."
    assert "Please call 9 6 1 1 0 as soon as you can." in script_sentences(default)  # rendered ahead like every prompt
    own = load_script(write_script(MINIMAL_SCRIPT + "machine:\n  message: Please call the police on 110.\n")).script
    assert machine_message(own) == "Please call the police on 110."
    silent = load_script(write_script(MINIMAL_SCRIPT + "machine:\n  message: ''\n")).script
    assert machine_message(silent) == "" and silent.machine.detect


def test_a_machine_message_cannot_name_the_callee(write_script):
    path = write_script(MINIMAL_SCRIPT + "machine:\n  message: Hello {name}, call 110.\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:") and "machine.message" in problem and "whoever plays the voicemail" in problem
