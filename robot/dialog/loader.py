"""Load dialog scripts from YAML, keeping the line and column of every key.

Every problem found later (schema errors, graph checks, failing embedded tests) is reported
as `FILE:LINE:COL: message`, so a supervisor can jump straight to it in an editor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from .schema import Script

DataPath = tuple[str | int, ...]

# Sections a script inherits from the script it `extends`. Mappings merge key by key (the
# child's entry wins); other sections are taken whole unless the child sets them.
MERGED_SECTIONS = ("variables", "intents", "states")
REPLACED_SECTIONS = ("listen_defaults", "turn_taking", "machine", "global_intents", "start")
# An intent a script redefines adds its phrases and patterns to the inherited ones (so a scam
# script's markers never lose the generic ones), unless it says `replace: true`; `remove:`
# drops inherited ones deliberately.
INTENT_LISTS = ("phrases", "patterns")


@dataclass(frozen=True, order=True)
class Problem:
    """One finding, printed as one line."""

    file: str
    line: int
    column: int
    message: str
    warning: bool = False
    """Worth a supervisor's look, but the script works (`dialogs check` still exits 0)."""

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.file}:{self.line}:{self.column}: {kind}{self.message}"


class ScriptError(Exception):
    """A script could not be loaded; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Position:
    file: str
    line: int
    column: int


@dataclass
class Locations:
    """Where each key and list item of the merged YAML document came from (1-based)."""

    at: dict[DataPath, Position] = field(default_factory=dict)
    """Keys and list items."""
    values: dict[DataPath, Position] = field(default_factory=dict)
    """Scalar values of mapping keys, for errors about a value rather than its key."""

    def find_value(self, path: DataPath) -> Position:
        return self.values.get(path) or self.find(path)

    def find(self, path: DataPath) -> Position:
        """The position of `path`, or of its nearest ancestor that exists in the file."""
        for end in range(len(path), -1, -1):
            position = self.at.get(path[:end])
            if position is not None:
                return position
        raise KeyError(path)


@dataclass(frozen=True)
class LoadedScript:
    script: Script
    path: Path
    locations: Locations

    def problem(self, path: DataPath, message: str, *, warning: bool = False) -> Problem:
        position = self.locations.find(path)
        return Problem(position.file, position.line, position.column, message, warning)


def dotted(path: DataPath) -> str:
    """`("states", "greet", "on", 0)` → `states.greet.on[0]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _plain(node: Any, path: DataPath, file: str, locations: Locations) -> Any:
    """Turn ruamel's round-trip nodes into plain data, recording positions as we go."""
    if isinstance(node, CommentedMap):
        result = {}
        for key, value in node.items():
            line, column = node.lc.key(key)
            child = (*path, str(key))
            locations.at[child] = Position(file, line + 1, column + 1)
            if not isinstance(value, CommentedMap | CommentedSeq):
                line, column = node.lc.value(key)
                locations.values[child] = Position(file, line + 1, column + 1)
            result[str(key)] = _plain(value, child, file, locations)
        return result
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            line, column = node.lc.item(index)
            child = (*path, index)
            locations.at[child] = Position(file, line + 1, column + 1)
            items.append(_plain(value, child, file, locations))
        return items
    if isinstance(node, str):
        return str(node)
    return node


MAX_FILE_BYTES = 1_000_000
MAX_NODES = 200_000
"""Values in a document once its aliases are expanded: a "billion laughs" file of a few
hundred bytes would otherwise take minutes and gigabytes to read."""
MAX_DEPTH = 64
PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq", "merge",
                                                                "timestamp"))


def _check_shape(root: Node | None, file: str) -> None:
    """Refuse what no script needs and what could hurt the reader: tags beyond plain YAML
    (!!python/...), documents that expand past MAX_NODES, nesting past MAX_DEPTH, and
    aliases that contain themselves. Walks each distinct node once."""
    if root is None:
        return
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_NODES:
                raise ScriptError([_mark_problem(file, node.start_mark, f"this document expands to more than {MAX_NODES} "
                                                                        "values (YAML aliases); scripts are far smaller")])
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise ScriptError([_mark_problem(file, node.start_mark, "a YAML alias refers to itself")])
        if depth > MAX_DEPTH:
            raise ScriptError([_mark_problem(file, node.start_mark, f"nested more than {MAX_DEPTH} levels deep")])
        if str(node.tag) not in PLAIN_TAGS:
            raise ScriptError([_mark_problem(file, node.start_mark, f"YAML tag {node.tag!s} is not allowed in a script")])
        open_nodes.add(key)
        stack.append((node, depth, True))
        stack += [(child, depth + 1, False) for child in _children(node)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def read_yaml(path: Path) -> tuple[Any, Locations]:
    """Parse one YAML file. Syntax errors, duplicate keys, files over MAX_FILE_BYTES, alias
    bombs and tags beyond plain YAML raise ScriptError."""
    file = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ScriptError([Problem(file, 1, 1, f"larger than {MAX_FILE_BYTES} bytes; scripts are far smaller")])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScriptError([Problem(file, 1, 1, f"cannot read file: {err}")]) from err
    try:
        _check_shape(YAML(typ="rt").compose(text), file)
        document = YAML(typ="rt").load(text)
    except DuplicateKeyError as err:
        key = re.search(r'duplicate key "(.*?)" with value', err.problem or "")
        first = err.context_mark.line + 1 if err.context_mark else "?"
        message = f"duplicate key {key.group(1) if key else ''!r} (this mapping starts on line {first})"
        raise ScriptError([_mark_problem(file, err.problem_mark, message)]) from err
    except MarkedYAMLError as err:
        # A key missing its ':' is best shown where the key starts, not where scanning stopped.
        scanning_key = "simple key" in (err.context or "")
        mark = (err.context_mark if scanning_key else None) or err.problem_mark or err.context_mark
        message = " ".join(part for part in (err.context, err.problem) if part)
        raise ScriptError([_mark_problem(file, mark, f"YAML syntax: {message}")]) from err
    except YAMLError as err:
        raise ScriptError([Problem(file, 1, 1, f"YAML syntax: {err}")]) from err
    except RecursionError as err:
        raise ScriptError([Problem(file, 1, 1, "nested too deeply to read")]) from err
    locations = Locations({(): Position(file, 1, 1)})
    return _plain(document, (), file, locations), locations


def _mark_problem(file: str, mark: Any, message: str) -> Problem:
    return Problem(file, mark.line + 1, mark.column + 1, message) if mark else Problem(file, 1, 1, message)


def _read_with_base(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any], Locations]:
    """Read a script and fold in the sections it inherits through `extends`."""
    data, locations = read_yaml(path)
    if not isinstance(data, dict):
        raise ScriptError([Problem(str(path), 1, 1, "a dialog script must be a YAML mapping")])
    base_name = data.get("extends")
    if base_name is None:
        return data, locations
    if not isinstance(base_name, str):
        raise ScriptError([_at(locations, ("extends",), "extends: must be a file name")])
    base_path = (path.parent / base_name).resolve()
    if base_path in chain or base_path == path.resolve():
        raise ScriptError([_at(locations, ("extends",), f"extends: {base_name} extends this script again (a cycle)")])
    if not base_path.is_file():
        raise ScriptError([_at(locations, ("extends",), f"extends: no such script {base_name}")])
    base, base_locations = _read_with_base(base_path, (*chain, path.resolve()))
    return _merge(base, base_locations, data, locations)


def _at(locations: Locations, path: DataPath, message: str) -> Problem:
    position = locations.find(path)
    return Problem(position.file, position.line, position.column, message)


def _merge(
    base: dict[str, Any], base_locations: Locations, child: dict[str, Any], child_locations: Locations
) -> tuple[dict[str, Any], Locations]:
    merged = dict(child)
    locations = Locations(dict(child_locations.at), dict(child_locations.values))

    def inherit(prefix: DataPath) -> None:
        for mine, theirs in ((locations.at, base_locations.at), (locations.values, base_locations.values)):
            for path, position in theirs.items():
                if path[: len(prefix)] == prefix and path not in mine:
                    mine[path] = position

    for section in MERGED_SECTIONS:
        base_section = base.get(section)
        if not isinstance(base_section, dict):
            continue
        own = child.get(section)
        own = own if isinstance(own, dict) else {}
        combined = dict(base_section)
        combined.update(own)
        merged[section] = combined
        for key in base_section:
            if key not in own:
                inherit((section, key))
            elif section == "intents":
                combined[key] = _merge_intent(key, base_section[key], base_locations, own[key], locations)
    for section in REPLACED_SECTIONS:
        if section in base and section not in child:
            merged[section] = base[section]
            inherit((section,))
    return merged, locations


def _merge_intent(
    name: str, base: Any, base_locations: Locations, own: Any, locations: Locations
) -> Any:
    """The child's intent on top of the base's: lists joined (base first, minus `remove`),
    other keys the child's. Positions of inherited list items point into the base file."""
    if not isinstance(base, dict) or not isinstance(own, dict) or own.get("replace") is True:
        return own
    removed = own.get("remove", [])
    removed = [removed] if isinstance(removed, str) else removed if isinstance(removed, list) else []
    merged = {**{key: value for key, value in base.items() if key not in INTENT_LISTS}, **own}
    problems = []
    inherited_items = set()
    for section in INTENT_LISTS:
        base_items = base.get(section, [])
        base_items = [base_items] if isinstance(base_items, str) else base_items if isinstance(base_items, list) else []
        own_items = own.get(section, [])
        own_items = [own_items] if isinstance(own_items, str) else own_items if isinstance(own_items, list) else []
        inherited_items.update(base_items)
        items: list[Any] = []
        moves: list[tuple[DataPath, DataPath, Locations]] = []
        for index, item in enumerate(base_items):
            if item not in removed and item not in items:
                moves.append((("intents", name, section, index), ("intents", name, section, len(items)), base_locations))
                items.append(item)
        for index, item in enumerate(own_items):
            if item not in items:
                moves.append((("intents", name, section, index), ("intents", name, section, len(items)), locations))
                items.append(item)
        for table in (locations.at, locations.values):
            for path in [path for path in table if path[:3] == ("intents", name, section) and len(path) > 3]:
                del table[path]
        for source, target, where in moves:
            for table, from_table in ((locations.at, where.at), (locations.values, where.values)):
                if source in from_table:
                    table[target] = from_table[source]
        if items or section in base or section in own:
            merged[section] = items
    for index, item in enumerate(removed):
        if item not in inherited_items:
            problems.append(_at(locations, ("intents", name, "remove", index),
                                f"remove: {item!r} is not a phrase or pattern of the inherited intent {name!r}"))
    if problems:
        raise ScriptError(problems)
    return merged


def load_script(path: str | Path) -> LoadedScript:
    """Load and validate one script. Raises ScriptError with every schema problem found."""
    path = Path(path)
    data, locations = _read_with_base(path)
    try:
        script = Script.model_validate(data)
    except ValidationError as err:
        raise ScriptError(list(schema_problems(err, locations))) from err
    return LoadedScript(script=script, path=path, locations=locations)


def schema_problems(err: ValidationError, locations: Locations) -> Iterator[Problem]:
    for error in err.errors(include_url=False):
        # Pydantic puts union and validator tags into `loc`; keep only the parts of the path
        # that exist in the document, plus a trailing missing field name.
        path: DataPath = ()
        for part in error["loc"]:
            candidate = (*path, part)
            if candidate in locations.at or (
                isinstance(part, str) and part.isidentifier() and error["type"] == "missing"
            ):
                path = candidate
        key_error = error["type"] in ("extra_forbidden", "missing")
        position = locations.find(path) if key_error else locations.find_value(path)
        if error["type"] == "extra_forbidden":
            message = f"unknown key {path[-1]!r} {'in ' + dotted(path[:-1]) if path[:-1] else 'at the top level'}"
        elif error["type"] == "missing":
            message = f"{dotted(path)}: required key is missing"
        else:
            message = f"{dotted(path) or 'script'}: {error['msg']}"
            if error.get("input") is not None and not isinstance(error["input"], dict | list):
                message += f" (got {error['input']!r})"
        message = message.replace("Value error, ", "")
        yield Problem(position.file, position.line, position.column, message)
