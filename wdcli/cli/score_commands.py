"""`wdcli eval`, `predict`, `rank` and `inspect`: what a trained model says."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .common import METRIC_KEYS, InputOpt, ModelOpt, command, err, fmt, metrics_table, out


@command
def eval(model: ModelOpt = None, input: InputOpt = ...,
         json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """AUC, log loss, accuracy, calibration and row count (and gAUC with a group column) on a labelled file."""
    from ..score.files import evaluate_file
    from ..score.scorer import Scorer

    scorer = Scorer.load(model)
    m = evaluate_file(model, input, scorer=scorer)
    if json_:
        sys.stdout.write(json.dumps(m) + "\n")
        return
    out.print(metrics_table(f"{scorer.artifact.path}", {input.name: m}, [*METRIC_KEYS, "calibration"]
                            + (["gauc"] if "gauc" in m else [])))


@command
def inspect(model: ModelOpt = None,
            top: Annotated[int, typer.Option("--top", help="How many weights to list.")] = 15) -> None:
    """The model's shape, and what the wide part memorized: its heaviest features and crosses."""
    from ..artifact import load_artifact
    from ..score.inspect import heaviest_wide

    art = load_artifact(model)
    cfg = art.config
    p = cfg.param_counts()
    out.print(f"[bold]{art.spec.name}[/] ({art.path}): model {cfg.model}, parameters {p['total']:,} "
              f"(wide {p['wide']:,}, embeddings {p['embeddings']:,}, mlp {p['mlp']:,})")
    if cfg.deep:
        out.print(f"deep: {len(cfg.tables)} tables, input width {cfg.deep_input_width}, hidden {cfg.hidden}, "
                  f"{cfg.activation}, dropout {cfg.dropout}, batch norm {cfg.batch_norm}")
    if not cfg.wide:
        return
    rows = heaviest_wide(art, top)
    for title, key in (("heaviest crosses", "cross"), ("heaviest single values", "single")):
        if not rows[key]:  # e.g. a wide part of crosses only
            continue
        t = Table(title=f"wide part: {title}")
        t.add_column("weight", justify="right")
        t.add_column("feature = value", overflow="fold")
        for w, name in rows[key]:
            t.add_row(f"{w:+.4f}", name)
        out.print(t)
    out.print(f"non-zero wide weights: {rows['nonzero']:,} of {cfg.wide_size:,}")


# ------------------------------------------------------------------------------------ predict, rank


@command
def predict(model: ModelOpt = None, input: InputOpt = ...,
            output: Annotated[Optional[Path], typer.Option("--output", help="CSV, Parquet or NDJSON; default: CSV on stdout.")] = None,
            columns: Annotated[Optional[str], typer.Option("--columns", help="Comma-separated input columns to keep.")] = None,
            batch_rows: Annotated[int, typer.Option("--batch-rows", help="Rows scored per streamed batch.")] = 200_000) -> None:
    """Score every row; the output keeps the input's columns (or --columns) and adds `score`."""
    from ..score.files import predict_file

    keep = [c.strip() for c in columns.split(",")] if columns else None
    predict_file(model, input, output, keep, batch_rows)


@command
def rank(model: ModelOpt = None, input: InputOpt = ...,
         group_by: Annotated[Optional[str], typer.Option("--group-by", help="Group column; default: the spec's label.group.")] = None,
         top_k: Annotated[Optional[int], typer.Option("--top-k", help="Keep the k best of each group.")] = None,
         output: Annotated[Optional[Path], typer.Option("--output", help="CSV, Parquet or NDJSON; default: CSV on stdout.")] = None) -> None:
    """Score candidates, order each group best first, add `rank`; with labels, print ranking metrics.

    A file whose rows are grouped by the group column streams in bounded memory; another is read whole."""
    from ..score.files import rank_file

    ranked = rank_file(model, input, output, group_by, top_k)
    if not ranked.streamed:
        err.print(f"note: {input} is not grouped by its group column, so it was ranked in memory; sort it by that "
                  "column to rank it in bounded memory", markup=False, highlight=False)
    if output is not None:
        err.print(f"wrote {ranked.rows:,} rows of {ranked.groups:,} groups to {output}", markup=False)
    if ranked.metrics is not None:
        m = ranked.metrics
        t = Table(title=f"ranking metrics over {m.get('groups_with_positives', 0):,} groups with a positive")
        for key in m:
            t.add_column(key, justify="right")
        t.add_row(*[fmt(v) for v in m.values()])
        err.print(t)
