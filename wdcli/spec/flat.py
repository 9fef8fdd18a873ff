"""A spec as flat `key.path: value` pairs, the way `--set` names keys (`train.epochs`, `crosses[0].columns`):
what trackers log as parameters and what `wdcli runs` compares."""

from __future__ import annotations


def flatten(value: object, prefix: str = "") -> dict[str, object]:
    """{"train.epochs": 20, "crosses[0].columns": [...], ...}; lists of scalars stay whole."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}
