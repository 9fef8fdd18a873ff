"""The space `wdcli tune` searches: spec keys by their `--set` paths with a range or choices (`tune.space` in the
spec, `--space` flags, or `default_space`), checked against the spec before any trial, and turned into Optuna's
distributions and back into spec values."""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import Problem, SpecError
from ..spec import Spec, load_spec
from ..spec.overrides import parse_key
from ..spec.types import Range
from ..spec.yaml_lines import line_of, path_text

RULES = "uniform, log_uniform, int, log_int, choice"
# keys a trial may not change: what the rows are, where runs go, how the trial is run
FIXED = (
    "name",
    "data",
    "label",
    "tune",
    "train.output",
    "train.checkpoint",
    "train.threads",
    "train.max_rows",
    "train.log",
    "train.device",
)


def default_space(spec: Spec) -> dict[str, Range]:
    """The space searched when neither the spec nor `--space` names one: the optimizers' step sizes (and FTRL's
    regularization), the deep part's embedding size, dropout, layers and blocks (interaction, numeric
    embeddings), the batch size and the step sizes' schedule."""
    space: dict[str, Range] = {}
    parts = [("wide", spec.train.wide_optimizer)] if spec.uses_wide() else []
    parts += [("deep", spec.train.deep_optimizer)] if spec.uses_deep() else []
    for part, opt in parts:
        key = f"train.{part}_optimizer"
        if opt.name == "ftrl":
            space[f"{key}.alpha"] = Range(log_uniform=(0.01, 1.0))
            space[f"{key}.l1"] = Range(choice=[0.0, 0.01, 0.1, 1.0])
            space[f"{key}.l2"] = Range(choice=[0.0, 0.01, 0.1, 1.0])
        elif opt.name == "adagrad":
            space[f"{key}.lr"] = Range(log_uniform=(0.003, 0.3))
        elif opt.name in ("adam", "adamw"):
            space[f"{key}.lr"] = Range(log_uniform=(1e-4, 1e-2))
        else:
            space[f"{key}.lr"] = Range(log_uniform=(1e-3, 0.3))
    if spec.uses_deep():
        space["deep.embedding_dim"] = Range(choice=[4, 8, 16, 32])
        space["deep.dropout"] = Range(choice=[0.0, 0.1, 0.2, 0.3])
        space["deep.hidden"] = Range(choice=[[64, 32], [128, 64], [256, 128], [256, 128, 64]])
        space["deep.interaction.kind"] = Range(choice=["none", "dot", "cross"])
        if spec.deep_dense():
            space["deep.numeric_embedding.kind"] = Range(choice=["auto", "none", "periodic", "piecewise"])
    space["train.batch_size"] = Range(choice=[128, 256, 512, 1024])
    space["train.schedule.kind"] = Range(choice=["constant", "cosine", "plateau"])
    return space


def parse_space(items: list[str]) -> tuple[dict[str, Range], list[Problem]]:
    """`--space key.path=YAML` flags (`train.deep_optimizer.lr={log_uniform: [0.001, 0.3]}`)."""
    space, problems = {}, []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            problems.append(
                Problem("--space", None, item, "expected key.path=range, e.g. 'deep.dropout={uniform: [0, 0.5]}'")
            )
            continue
        try:
            space[key.strip()] = Range.model_validate(yaml.safe_load(value))
        except yaml.YAMLError:
            problems.append(Problem("--space", None, key.strip(), f"not valid YAML: {value}"))
        except ValidationError as e:
            for x in e.errors():
                where = ".".join(str(p) for p in x["loc"] if p != "int_")
                msg = x["msg"].removeprefix("Value error, ").replace("Input should be", "should be")
                if x["type"] == "extra_forbidden":
                    where, msg = "", f"unknown rule '{x['loc'][-1]}'; give one of {RULES}"
                elif x["type"] == "model_type":
                    msg = f"should be a mapping with one of {RULES}, e.g. {{uniform: [0, 0.5]}}"
                problems.append(Problem("--space", None, key.strip(), f"{where + ': ' if where else ''}{msg}"))
    return space, problems


def distributions(space: dict[str, Range]) -> dict[str, Any]:
    """The Optuna distribution of each key (choices that are not plain scalars are offered as JSON text)."""
    from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, BaseDistribution] = {}
    for key, r in space.items():
        if r.uniform is not None or r.log_uniform is not None:
            lo, hi = _bounds(r)
            out[key] = FloatDistribution(float(lo), float(hi), log=r.log_uniform is not None)
        elif r.int_ is not None or r.log_int is not None:
            lo, hi = _bounds(r)
            out[key] = IntDistribution(int(lo), int(hi), log=r.log_int is not None)
        else:
            out[key] = CategoricalDistribution([c if _scalar(c) else json.dumps(c) for c in r.choice or []])
    return out


def _bounds(r: Range) -> tuple[float, float]:
    """The [low, high] of a range that is not a choice (a Range holds exactly one rule)."""
    bounds = r.uniform or r.log_uniform or r.int_ or r.log_int
    assert bounds is not None, "a choice has no bounds"
    return bounds


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def spec_value(r: Range, sampled: Any) -> Any:
    """The spec value of a sampled parameter: JSON choices decoded, floats to 4 significant digits (what the
    trial trains with, shows and writes: 0.03125, not 0.031249517...)."""
    if r.choice is not None and isinstance(sampled, str) and not any(c == sampled for c in r.choice):
        return json.loads(sampled)
    if r.uniform is not None or r.log_uniform is not None:
        lo, hi = _bounds(r)
        return min(max(float(f"{sampled:.4g}"), lo), hi)
    return sampled


def _corners(r: Range) -> list[Any]:
    """The values that stand for a range when checking it: each choice; the ends (and, for a float range, the
    middle: an integer key given a float range fails there)."""
    if r.choice is not None:
        return list(r.choice)
    lo, hi = _bounds(r)
    middle = [(lo + hi) / 2] if (r.uniform or r.log_uniform) and lo != hi else []
    return [lo, *middle, hi] if lo != hi else [lo]


def overrides_of(values: dict[str, Any]) -> list[str]:
    return [f"{k}={json.dumps(v)}" for k, v in values.items()]


def check_space(
    path: Path,
    overrides: list[str],
    space: dict[str, Range],
    lines: dict,
    problems: list[Problem] | None = None,
    flags: AbstractSet[str] = frozenset(),
) -> None:
    """Every problem of a space (with `problems` found before), before any trial: keys a trial may not change,
    and keys or values the spec rejects (the ends and middle of each range, and each choice, are tried on the
    spec one key at a time). Keys in `flags` came from --space."""
    file = str(path)
    problems = list(problems or [])
    for key, r in space.items():
        src = (
            ("--space", None, key)
            if key in flags
            else (file, line_of(lines, ("tune", "space", key)), path_text(("tune", "space", key)))
        )
        text = path_text(parse_key(key))
        if any(text == f or text.startswith((f + ".", f + "[")) for f in FIXED):
            problems.append(
                Problem(
                    *src, "a trial may not change this key; tune settings of the model, its features or its training"
                )
            )
            continue
        for value in _corners(r):
            try:
                load_spec(path, overrides + overrides_of({key: value}), check_paths=False)
            except SpecError as e:
                problems += [Problem(*src, f"{json.dumps(value)}: {p.message}") for p in e.problems]
                break
    if problems:
        raise SpecError(problems)
