"""`--set key.path=value` overrides, applied to the raw spec data before it is validated.

A value is read as YAML (`train.epochs=3` is a number, `deep.hidden=[64, 32]` a list), so unquoted yes, no,
on, off, true and false are booleans: `--set 'label.positive="yes"'` keeps it text. Setting a key under a
section written in short form (`education: categorical`, `interaction: dot`: where the spec's types hold a
`ShortForm`) expands it to its mapping (`{kind: categorical}`).
Every path an override touches is marked in `lines` with FROM_SET, so that problems there name `--set`, not
a line of the file.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel

from ..errors import Problem, SpecError, counted
from .settings import ShortForm
from .types import Spec
from .yaml_lines import Path_, compose, path_text

FROM_SET = -1  # the "line" of a path that came from --set


def problem_at(file: str, line: int | None, where: str, msg: str) -> Problem:
    """A problem on a line of the file, or on the command line where --set put the value (line FROM_SET)."""
    return Problem("--set", None, where, msg) if line == FROM_SET else Problem(file, line, where, msg)


_PIECE = re.compile(r"\"([^\"]*)\"|'([^']*)'|\[(\d+)\]|([^.\[\"']+)")  # "a.b", 'a.b', [0], or a name


def parse_key(key: str) -> Path_:
    """`train.epochs` -> ("train", "epochs"); `crosses[0]` -> ("crosses", 0); a name with dots quoted:
    `columns."sleep.hours".min_count` -> ("columns", "sleep.hours", "min_count") (R's names often hold dots)."""
    parts: list[str | int] = []
    for double, single, index, plain in _PIECE.findall(key):
        if index:
            parts.append(int(index))
        elif plain:
            parts.append(int(plain) if plain.isdigit() else plain)
        elif double or single:
            parts.append(double or single)
    return tuple(parts)


class _Refused(Exception):
    """An override that cannot be applied; the message says why."""


def _child(node: Any, seg: str | int, path: Path_, next_seg: str | int | None, created: list[Path_]) -> Any:
    """The container one step down from `node` along `seg`, made (or expanded from a short form) when needed."""
    where = path_text(path[:-1]) or "the spec"
    if isinstance(node, dict):
        if isinstance(seg, int) and seg not in node:
            seg = str(seg)  # a key that looks like a number (a column named 2019, say)
        if seg not in node or node[seg] is None:
            node[seg] = [] if isinstance(next_seg, int) else _seed(path)
            created.append(path)
        elif isinstance(node[seg], str) and _short_form(path):
            node[seg] = {"kind": node[seg]}  # `education: categorical` -> {kind: categorical}
        return node[seg]
    if isinstance(node, list):
        if not isinstance(seg, int):
            raise _Refused(f"'{where}' is a list; pick an item by its index, e.g. {path_text(path[:-1])}[0]")
        if seg > len(node) or (seg == len(node) and next_seg is None):
            raise _Refused(_no_item(node, path))
        if seg == len(node):  # one past the end: a new item
            node.append([] if isinstance(next_seg, int) else {})
            created.append(path)
        return node[seg]
    raise _Refused(f"'{where}' is the value {node!r}, not a mapping; set '{where}' itself")


def _short_form(path: Path_) -> bool:
    """Whether the spec may write `kind` alone at `path` (`education: categorical`, `interaction: dot`): what
    stands there is, by the spec's types, a `ShortForm` (or a union of them, as a column is)."""
    annotation: Any = Spec
    for seg in path:
        annotation = _inner(annotation, seg)
    models = _models(annotation)
    return bool(models) and all(issubclass(m, ShortForm) for m in models)


def _inner(annotation: Any, seg: str | int) -> Any:
    """The type of what stands at `seg` in a value of type `annotation` (None: nothing the types name)."""
    members = _members(annotation)
    if len(members) != 1:
        return None
    one = members[0]
    if isinstance(one, type) and issubclass(one, BaseModel):
        field = one.model_fields.get(seg) if isinstance(seg, str) else None
        return field.annotation if field is not None else None
    origin, args = typing.get_origin(one), typing.get_args(one)
    return args[1] if origin is dict else args[0] if origin is list else None


def _members(annotation: Any) -> tuple[Any, ...]:
    """What a value of this type may be: each of a union's types (None aside), else the type itself."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(a for a in typing.get_args(annotation) if a is not type(None))
    return (annotation,)


def _models(annotation: Any) -> list[type[BaseModel]]:
    return [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]


def _seed(path: Path_) -> dict:
    """A new mapping at `path`: empty, or naming the kind of the default there, so that
    `--set train.wide_optimizer.alpha=0.2` changes the default optimizer (FTRL) instead of an unnamed one."""
    model: type[BaseModel] = Spec
    default = None
    for seg in path:
        field = model.model_fields.get(seg) if isinstance(seg, str) else None
        if field is None:
            return {}
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            model = type(default)
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            model = field.annotation
        else:
            return {}
    tag = next((t for t in ("kind", "name") if t in type(default).model_fields), None) if default is not None else None
    return {tag: getattr(default, tag)} if tag else {}


def _no_item(node: list, path: Path_) -> str:
    n = len(node)
    have = f"it has {counted(n, 'item')}" + (f" ({path_text(path[:-1])}[0] to [{n - 1}])" if n else "")
    return f"'{path_text(path[:-1])}' has no item [{path[-1]}]: {have}; [{n}] adds one"


def apply_overrides(
    data: Any, overrides: list[str], lines: dict[Path_, int], booleans: dict[Path_, str] | None = None
) -> tuple[Any, list[Problem]]:
    """Apply `key.path=value` overrides (values parsed as YAML) to the raw spec data. `booleans` (if given)
    collects the text of each value YAML read as a boolean, for the messages that explain it."""
    problems = []
    for item in overrides:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            problems.append(Problem("--set", None, item, "expected KEY=VALUE, e.g. --set train.epochs=1"))
            continue
        path = parse_key(key)
        if not path:
            problems.append(Problem("--set", None, item, "no key before '='; e.g. --set train.epochs=1"))
            continue
        read: dict[Path_, str] = {}  # the value's own booleans, by their path within it
        try:
            parsed = compose(value, "--set", read)[0] if value.strip() else ""
        except SpecError:  # not YAML: the text as it is
            parsed = value
        node, created = data, list[Path_]()
        try:
            for i, seg in enumerate(path[:-1]):
                node = _child(node, seg, path[: i + 1], path[i + 1], created)
            last = path[-1]
            if isinstance(node, dict):
                node[str(last) if isinstance(last, int) and last not in node else last] = parsed
            elif isinstance(node, list) and isinstance(last, int) and last <= len(node):
                node.append(parsed) if last == len(node) else node.__setitem__(last, parsed)
            elif isinstance(node, list):
                raise _Refused(
                    _no_item(node, path)
                    if isinstance(last, int)
                    else f"'{path_text(path[:-1])}' is a list; pick an item by its index, e.g. {path_text(path[:-1])}[0]"
                )
            else:
                raise _Refused(
                    f"'{path_text(path[:-1])}' is the value {node!r}, not a mapping; set '{path_text(path[:-1])}' itself"
                )
        except _Refused as e:
            problems.append(Problem("--set", None, key, f"cannot set: {e}"))
            continue
        for known in (lines, booleans if booleans is not None else {}):
            for stale in [p for p in known if p[: len(path)] == path]:
                del known[stale]  # what the file said under a replaced value no longer applies
        for p in (*created, path):
            lines[p] = FROM_SET
        if booleans is not None:
            booleans.update({path + p: text for p, text in read.items()})
    return data, problems
