"""What commands print: two consoles (`out`, results on stdout; `err`, notes, progress and errors on stderr),
one line of JSON (`emit_json`), tables of metrics, how a number reads in a table (`cell`), a model's parameters
by part (`parameter_parts`) and the line that names the run a command read (`note_model`).

Output to a pipe or a file is never folded or cut: the app calls `fit_to_streams` before each command, which
gives a console that is not a terminal a width of PIPED_WIDTH (a terminal keeps its own).
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

PIPED_WIDTH = 10_000
METRIC_KEYS = ["rows", "auc", "logloss", "accuracy", "mean_score", "base_rate"]

out = Console()
err = Console(stderr=True, soft_wrap=True)


def fit_to_streams() -> None:
    """Give each console that writes to a pipe or a file (not a terminal) a width that folds and cuts nothing."""
    for console in (out, err):
        if not console.is_terminal:
            console.width = PIPED_WIDTH


def shown_path(path: str | Path) -> str:
    """A run's folder as the notes name it: relative to the working folder when it is under it."""
    return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)


def note_model(artifact, model: str | Path | None, quiet: bool = False, role: str = "model") -> None:
    """One line on stderr: which run a command loaded (its `role`: the model, verify's baseline), and how it was
    chosen where the user named no run folder: `model: runs/apps/20261128-112703 (spec 'apps', the latest run in
    runs/apps)`. Every command that reads a run says it so; --quiet drops it."""
    if quiet:
        return
    path = artifact.path
    how = (
        ", the latest run of any spec; --model runs/NAME picks another"
        if model is None
        else f", the latest run in {model}"
        if Path(model).exists() and Path(model).resolve() != Path(path).resolve()
        else ""
    )
    err.print(f"{role}: {shown_path(path)} (spec '{artifact.spec.name}'{how})", markup=False, highlight=False)


def emit_json(value, stream=None) -> None:
    """One line of JSON on stdout (or `stream`); NaN and infinities as null: JSON has no such numbers."""

    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    (stream or sys.stdout).write(json.dumps(clean(value), default=str) + "\n")


def cell(v) -> str:
    """A value as a table shows it: floats to 4 places, whole numbers with thousands separators."""
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def parameter_parts(counts: dict[str, int]) -> str:
    """A model's parameters by part (`ModelConfig.param_counts()`), each part that has any, the shared bias
    last, so that the parts add up to the total: `wide 7,035, embeddings 2,644, mlp 25,088, interaction
    34,060, bias 1`."""
    keys = [k for k in counts if k not in ("bias", "total")] + ["bias"]
    return ", ".join(f"{k} {counts[k]:,}" for k in keys if counts.get(k))


def metrics_table(title: str, rows: dict[str, dict], keys: list[str]) -> Table:
    """One row per split (or file), one column per metric; gAUC and NDCG@10 too where a row has them (a spec with
    a group: each group's rows ranked as `wdcli rank` ranks them)."""
    grouped = ("gauc", "ndcg@10")  # (wdcli.metrics.DEFAULT_K: not imported, the CLI starts without numpy)
    keys = keys + [k for k in grouped if k not in keys and any(k in m for m in rows.values())]
    t = Table(title=title)
    t.add_column("split")
    for k in keys:
        t.add_column(k, justify="right")
    for name, m in rows.items():
        t.add_row(name, *[cell(m.get(k, "")) for k in keys])
    why = {
        "auc": "the rows hold fewer than two labels",
        "gauc": "no group holds both labels",
        "ndcg@10": "no group holds a positive",
    }
    nan = [k for k in why if k in keys and any(isinstance(m.get(k), float) and math.isnan(m[k]) for m in rows.values())]
    ungrouped = [
        f"{name}: gauc and ndcg@10 leave out its {m['ungrouped_rows']:,} rows of no group value"
        for name, m in rows.items()
        if m.get("ungrouped_rows")
    ]
    t.caption = "; ".join([f"{k} nan: {why[k]}" for k in nan] + ungrouped) or None
    return t
