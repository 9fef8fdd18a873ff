"""YAML with line numbers: the spec's plain data plus a map from each YAML path to its line, so that every
problem can name the line it is on."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from ..errors import Problem, SpecError

Path_ = tuple[str | int, ...]


def compose(text: str, file: str) -> tuple[Any, dict[Path_, int], list[Problem]]:
    """Parse YAML into plain data plus a map from each YAML path to its 1-based line; flag duplicate keys."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        what = getattr(e, "problem", None) or str(e)
        raise SpecError([Problem(file, line, "", f"not valid YAML: {what}; fix the syntax")]) from None
    lines: dict[Path_, int] = {}
    dupes: list[Problem] = []

    def walk(node, path: Path_):
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value
                if key in seen:
                    dupes.append(
                        Problem(file, key_node.start_mark.line + 1, fmt(path + (key,)),
                                f"declared twice (first at line {seen[key]}); keep one")
                    )
                seen[key] = key_node.start_mark.line + 1
                walk(value_node, path + (key,))
                lines[path + (key,)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    if root is not None:
        walk(root, ())
    try:
        data = yaml.safe_load(text)
    except yaml.constructor.ConstructorError as e:  # e.g. a !!python/object tag: never built, always refused
        mark = e.problem_mark
        raise SpecError([Problem(file, mark.line + 1 if mark else None, "",
                                 f"not valid YAML for a spec: {e.problem}; use plain values (no !! tags)")]) from None
    return data, lines, dupes


def fmt(path: Path_) -> str:
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else str(seg))
    return out


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())



def suggest(word: str, choices) -> str:
    """' (did you mean 'x'?)' for the closest of the choices, or ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
