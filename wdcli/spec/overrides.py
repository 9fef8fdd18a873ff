"""`--set key.path=value` overrides, applied to the raw spec data before it is validated."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..errors import Problem
from .yaml_lines import Path_, fmt


def parse_key(key: str) -> Path_:
    parts: list[str | int] = []
    for piece in re.split(r"\.|(?=\[)", key):
        if not piece:
            continue
        m = re.fullmatch(r"\[(\d+)\]", piece)
        parts.append(int(m.group(1)) if m else (int(piece) if piece.isdigit() else piece))
    return tuple(parts)


def apply_overrides(data: Any, overrides: list[str], lines: dict[Path_, int]) -> tuple[Any, list[Problem]]:
    """Apply `key.path=value` overrides (values parsed as YAML) to the raw spec data."""
    problems = []
    for item in overrides:
        if "=" not in item:
            problems.append(Problem("--set", None, item, "expected key.path=value, e.g. train.epochs=1"))
            continue
        key, value = item.split("=", 1)
        path = parse_key(key.strip())
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        node = data
        for i, seg in enumerate(path[:-1]):
            if isinstance(node, dict):
                node = node.setdefault(seg, {} if not isinstance(path[i + 1], int) else [])
            elif isinstance(node, list) and isinstance(seg, int) and seg < len(node):
                node = node[seg]
            else:
                problems.append(Problem("--set", None, key, f"cannot set: '{fmt(path[: i + 1])}' is not a mapping"))
                break
        else:
            last = path[-1] if path else None
            if isinstance(node, dict):
                node[last] = parsed
            elif isinstance(node, list) and isinstance(last, int) and last < len(node):
                node[last] = parsed
            else:
                problems.append(Problem("--set", None, key, "cannot set: no such list item"))
                continue
            lines[path] = -1  # marks "came from --set"
    return data, problems
