"""`wdcli eval`, `predict`, `rank` and `inspect`: what a trained model says. Each names the run it loaded in
one line on stderr (`--quiet` drops it)."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import counted
from .app import DebugOpt, command
from .options import (
    DeviceOpt,
    JsonOpt,
    ModelOpt,
    OutputOpt,
    QuietOpt,
    RowsOpt,
    SeparatorOpt,
    SplitOpt,
    count_option,
)
from .output import METRIC_KEYS, cell, emit_json, err, metrics_table, note_model, out, parameter_parts, shown_path


def load_scorer(model: Path | None, quiet: bool = False, device: str = "cpu"):
    """The Scorer of --model (or the latest run), named in one line on stderr unless quiet."""
    from ..score.scorer import Scorer

    scorer = Scorer.load(model, device)
    note_model(scorer.artifact, model, quiet)
    return scorer


EvalModelsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--model",
        metavar="DIR",
        help="A run folder, runs/NAME (its latest run) or a LATEST file; repeat it to evaluate several runs on the "
        "same rows, one row each; default: the latest run of any spec (runs/LATEST).",
        show_default=False,
    ),
]


@command
def eval(
    model: EvalModelsOpt = None,
    input: RowsOpt = None,
    split: SplitOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
    device: DeviceOpt = "auto",
    separator: SeparatorOpt = None,
    debug: DebugOpt = False,
) -> None:
    """AUC, log loss, accuracy, calibration and row count (and gAUC with a group column) on a labelled file, or
    on the run's own test (validation, train) rows with --split.

    Several --model runs are evaluated on the same rows, one row of the table each (--json: a list): the rows
    are read once, and encoded once for the runs whose features are the same."""
    from ..score.evaluation import evaluate_runs

    _one_of(input, split)
    models: list[Path | None] = [*model] if model else [None]
    scorers = [load_scorer(m, quiet, device) for m in models]
    metrics = evaluate_runs(scorers, input, split, separator)
    own = "the run's" if len(scorers) == 1 else "the runs'"
    what = input if input is not None else f"{own} {split} rows"
    if any(isinstance(m.get("auc"), float) and math.isnan(m["auc"]) for m in metrics):
        err.print(f"warning: AUC is undefined on {what}: every row has the same label", markup=False, highlight=False)
    group = scorers[0].spec.label.group  # (the same for every run: evaluate_runs refuses others)
    if group is not None and "gauc" not in metrics[0]:
        err.print(f"warning: no gAUC: {what} has no column '{group}' (label.group)", markup=False, highlight=False)
    name = input.name if input is not None else f"{split} split"
    if len(scorers) == 1:
        if json_:
            emit_json(metrics[0])
            return
        out.print(metrics_table(f"{scorers[0].artifact.path}", {name: metrics[0]}, [*METRIC_KEYS, "calibration"]))
        return
    runs = [shown_path(s.artifact.path) for s in scorers]
    if json_:
        emit_json([{"model": str(s.artifact.path), **m} for s, m in zip(scorers, metrics)])
        return
    title = f"{len(runs)} runs on " + (input.name if input is not None else f"their {split} rows")
    t = metrics_table(title, dict(zip(runs, metrics)), [*METRIC_KEYS, "calibration"])
    t.columns[0].header = "run"
    out.print(t)


def _one_of(input: Path | None, split: str | None, labelled: bool = True) -> None:
    """The rows to score: a file (--input; `labelled`: with the label) or the run's own (--split), one of them."""
    from ..errors import WdcliError

    if (input is None) == (split is None):
        what = "a labelled file" if labelled else "rows with the model's columns"
        raise WdcliError(
            f"give the rows to score: --input FILE ({what}), or --split test|validation|train (the run's "
            "own rows, split as it split them)" + (", not both" if input is not None else "")
        )


@command
def inspect(
    model: ModelOpt = None,
    top: Annotated[int, count_option("--top", "How many weights to list.")] = 15,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The model's shape, and what the wide part memorized: its heaviest features and crosses."""
    from ..artifact import load_artifact
    from ..score.inspect import HeaviestWide, heaviest_wide

    art = load_artifact(model)
    note_model(art, model, quiet)
    rows = heaviest_wide(art, top) if art.config.wide else HeaviestWide()
    if json_:
        emit_json(_inspected(art, rows))
    else:
        _show_inspected(art, rows)


def _inspected(art, rows) -> dict:
    """`inspect --json`: a model's shape and its heaviest wide weights (`rows`, a HeaviestWide)."""
    cfg = art.config
    return {
        "path": str(art.path),
        "name": art.spec.name,
        "model": cfg.model,
        "parameters": cfg.param_counts(),
        "deep": {
            "tables": len(cfg.tables),
            "input_width": cfg.deep_input_width,
            "hidden": cfg.hidden,
            "members": cfg.members,
        }
        if cfg.has_deep
        else None,
        "wide": {
            "size": cfg.wide_size,
            "nonzero": rows.nonzero,
            "heaviest_crosses": [{"weight": w, "name": n} for w, n in rows.cross],
            "heaviest_values": [{"weight": w, "name": n} for w, n in rows.single],
        }
        if cfg.wide
        else None,
    }


def _show_inspected(art, rows) -> None:
    """`inspect`: a model's shape in a line or two, and tables of its heaviest wide weights."""
    cfg = art.config
    p = cfg.param_counts()
    out.print(
        f"[bold]{escape(str(art.spec.name))}[/] ({escape(str(art.path))}): model {cfg.model}, parameters "
        f"{p['total']:,} ({parameter_parts(p)})",
        highlight=False,
    )
    if cfg.has_deep:
        out.print(
            f"deep: {len(cfg.tables)} tables, input width {cfg.deep_input_width}, hidden {cfg.hidden}"
            + (f" x {cfg.members} members, " if cfg.members > 1 else ", ")
            + f"{cfg.activation}, dropout {cfg.dropout}, batch norm {cfg.batch_norm}"
            + "".join(f", {b}" for b in _blocks(cfg)),
            highlight=False,
        )
    if not cfg.wide:
        return
    for title, key in (("heaviest crosses", "cross"), ("heaviest single values", "single")):
        if not rows.of(key):  # e.g. a wide part of crosses only
            continue
        t = Table(title=f"wide part: {title}")
        t.add_column("weight", justify="right")
        t.add_column("feature = value", overflow="fold")
        for w, name in rows.of(key):
            t.add_row(f"{w:+.4f}", name)
        out.print(t)
    out.print(f"non-zero wide weights: {rows.nonzero:,} of {cfg.wide_size:,}")


def _blocks(cfg) -> list[str]:
    """The deep part's optional blocks, as inspect's `deep:` line names them: the numeric columns' own
    embeddings (`periodic embeddings of 6 numbers (dim 8)`) and the interaction (`cross interaction (2 layers)`)."""
    shown = []
    for kind in dict.fromkeys(n.kind for n in cfg.numeric):
        of = [n for n in cfg.numeric if n.kind == kind]
        dims = sorted({n.dim for n in of})
        shown.append(f"{kind} embeddings of {counted(len(of), 'number')} (dim {', '.join(map(str, dims))})")
    i = cfg.interaction
    if i.kind == "cross":
        shown.append(f"cross interaction ({counted(i.layers, 'layer')}{f', rank {i.rank}' if i.rank else ''})")
    elif i.kind != "none":
        shown.append(f"{i.kind} interaction (dim {i.dim})")
    return shown


# ------------------------------------------------------------------------------------ predict, rank


def _wrote(rows: int, output: Path | None, quiet: bool, extra: str = "") -> None:
    if not quiet:
        err.print(
            f"wrote {counted(rows, 'row')}{extra} to {output if output is not None else 'stdout'}",
            markup=False,
            highlight=False,
        )


@command
def predict(
    *,
    model: ModelOpt = None,
    input: RowsOpt = None,
    split: SplitOpt = None,
    output: OutputOpt = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", metavar="A,B", help="Comma-separated input columns to keep; default: all."),
    ] = None,
    batch_rows: Annotated[int, count_option("--batch-rows", "Rows scored per streamed batch.")] = 200_000,
    quiet: QuietOpt = False,
    device: DeviceOpt = "auto",
    separator: SeparatorOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Score every row (of a file, or the run's own rows with --split); the output keeps the input's columns (or
    --columns) and adds `score`."""
    from ..errors import DataError
    from ..score.files import predict_file

    _one_of(input, split, labelled=False)
    keep = [c.strip() for c in columns.split(",")] if columns is not None else None
    if keep is not None and not all(keep):
        raise DataError(
            f"--columns {columns!r}: a column name is empty; give names separated by commas, e.g. --columns id,age"
        )
    scorer = load_scorer(model, quiet, device)
    rows = predict_file(model, input, output, keep, batch_rows, scorer=scorer, separator=separator, split=split)
    _wrote(rows, output, quiet)


@command
def rank(
    model: ModelOpt = None,
    input: RowsOpt = None,
    split: SplitOpt = None,
    group_by: Annotated[
        str | None, typer.Option("--group-by", metavar="COLUMN", help="Group column; default: the spec's label.group.")
    ] = None,
    top_k: Annotated[int | None, count_option("--top-k", "Keep the k best of each group; default: all.")] = None,
    k: Annotated[
        int | None, count_option("--k", "The k of the metrics NDCG@k and HitRate@k; default: --top-k, else 10.")
    ] = None,
    output: OutputOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
    device: DeviceOpt = "auto",
    separator: SeparatorOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Score candidates (a file, or the run's own rows with --split), order each group best first, add `rank`;
    with labels, print ranking metrics.

    The ranked rows go to --output (or CSV on stdout); the metrics to stdout with --output, else to stderr.
    A file whose rows are grouped by the group column streams in bounded memory; another is read whole."""
    from ..score.files import rank_file

    _one_of(input, split)
    scorer = load_scorer(model, quiet, device)
    ranked = rank_file(model, input, output, group_by, top_k, k, scorer=scorer, separator=separator, split=split)
    if not ranked.streamed and not quiet and input is not None:  # (a run's own rows: no file of the user's to sort)
        err.print(
            f"note: {input or 'the data'} is not grouped by its group column, so it was ranked in memory; sort it "
            "by that column to rank it in bounded memory",
            markup=False,
            highlight=False,
        )
    _wrote(ranked.rows, output, quiet, f" of {counted(ranked.groups, 'group')}")
    if ranked.note is not None:
        err.print(f"note: {ranked.note}", markup=False, highlight=False)
    if ranked.metrics is None:
        return
    shown = out if output is not None else err  # stdout carries the rows when there is no --output
    m = ranked.metrics
    if json_:
        emit_json(m, sys.stdout if output is not None else sys.stderr)
        return
    t = Table(title=f"ranking metrics over {counted(m.get('groups_with_positives', 0), 'group')} with a positive")
    for key in m:
        t.add_column(key, justify="right")
    t.add_row(*[cell(v) for v in m.values()])
    shown.print(t)
