"""The `wdcli` command line: each command parses options, makes one library call and prints with rich.

Heavy modules (torch, polars) are imported inside the commands, so `wdcli --help` stays fast.
Errors the user can fix print one clear message and exit 2; anything else exits 1 with a one-line summary
(`--debug` shows the traceback).
"""

from __future__ import annotations

import functools
import json
import math
import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Wide & Deep learning from declarative YAML specs.")
out = Console()
err = Console(stderr=True, soft_wrap=True)
STATE = {"debug": False}

SpecArg = Annotated[Path, typer.Argument(help="The YAML spec file.", show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override a spec key: key.path=value (repeatable).")]
ModelOpt = Annotated[Optional[Path], typer.Option("--model", help="Model folder; default: the latest run under runs/.")]
InputOpt = Annotated[Path, typer.Option("--input", help="CSV, Parquet or NDJSON file.", show_default=False)]


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    STATE["debug"] = debug


def command(fn):
    """Register a command whose WdcliErrors print as messages, with exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .errors import Interrupted, SpecError, WdcliError

        try:
            return fn(*args, **kwargs)
        except Interrupted as e:
            err.print(str(e), markup=False, highlight=False)
            if e.checkpoint is not None:  # the same command line, resuming
                again = ["wdcli", *sys.argv[1:]] + ([] if "--resume" in sys.argv else ["--resume"])
                err.print("continue with: " + shlex.join(again), markup=False, highlight=False)
            raise typer.Exit(e.exit_code)
        except SpecError as e:
            err.print(f"[bold red]error:[/] {len(e.problems)} problem{'s' if len(e.problems) != 1 else ''} in the spec")
            for p in e.problems:
                err.print(f"  {p}", markup=False, highlight=False)
            raise typer.Exit(2)
        except WdcliError as e:
            err.print("[bold red]error:[/] ", end="")
            err.print(str(e), markup=False, highlight=False)
            raise typer.Exit(2)
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as e:  # noqa: BLE001 - the last line of defence: no traceback unless --debug
            if STATE["debug"]:
                raise
            err.print(f"[bold red]internal error:[/] {type(e).__name__}: {e}", markup=True, highlight=False)
            err.print("run again with --debug for the traceback, and please report it")
            raise typer.Exit(1)

    return app.command()(wrapper)


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _metrics_table(title: str, rows: dict[str, dict], keys: list[str]) -> Table:
    t = Table(title=title)
    t.add_column("split")
    for k in keys:
        t.add_column(k, justify="right")
    for name, m in rows.items():
        t.add_row(name, *[_fmt(m.get(k, "")) for k in keys])
    return t


METRIC_KEYS = ["rows", "auc", "logloss", "accuracy", "mean_score", "base_rate"]


# ----------------------------------------------------------------------------------------- validate


@command
def validate(spec: SpecArg, set: SetOpt = None) -> None:
    """Check a spec (and its data, where it can be read) and print the compiled plan."""
    from .data import load_splits, split_names
    from .loading import load_spec
    from .pipeline import fit_pipeline, transform
    from .plan import build_config

    s = load_spec(spec, set or [])
    frames, names = load_splits(s.data), split_names(s.data)
    fitted = fit_pipeline(s, frames["train"], names["train"])
    for split, frame in frames.items():
        if split != "train" and len(frame):
            transform(fitted, frame.head(1000), names[split])
    cfg = build_config(fitted)
    wide = {f.name for f in cfg.wide}
    dims = {f: t.dim for t in cfg.tables for f in t.features}
    shared = {f: t.name for t in cfg.tables if len(t.features) > 1 for f in t.features}
    t = Table(title=f"{s.name}: {len(frames['train']):,} training rows, "
                    + ", ".join(f"{len(v):,} {k}" for k, v in frames.items() if k != "train"))
    for c in ("feature", "kind", "ids / transform", "wide", "deep"):
        t.add_column(c, overflow="fold")
    for name, st in fitted.states.items():
        if st["kind"] == "numeric":
            deep = "dense" if cfg.deep and fitted.dense.index(name) in cfg.dense else ""
            t.add_row(name, "numeric", st["transform"], "", deep)
            continue
        kind = st["kind"] + (" (multi)" if st["multivalent"] else "")
        detail = st.get("encoding", "")
        deep = f"dim {dims[name]}" + (f" (table {shared[name]})" if name in shared else "") if name in dims else ""
        t.add_row(name, kind, f"{st['cardinality']:,} {detail}".strip(), "yes" if name in wide else "", deep)
    out.print(t)
    p = cfg.param_counts()
    out.print(f"model: {s.model}   wide dimension: {cfg.wide_size:,}   deep input width: "
              f"{cfg.deep_input_width if cfg.deep else 0}   hidden: {cfg.hidden}")
    out.print(f"parameters: wide {p['wide']:,}, embeddings {p['embeddings']:,}, mlp {p['mlp']:,}, "
              f"total {p['total']:,}")
    out.print(f"[green]ok[/]: {spec} is valid")


@command
def schema() -> None:
    """Print the spec's JSON Schema (for editors)."""
    from .spec import Spec

    sys.stdout.write(json.dumps(Spec.model_json_schema(), indent=2) + "\n")


# -------------------------------------------------------------------------------------------- train


class _Progress:
    """A rich progress bar: epoch, rows/s, running loss, and the last epoch's validation metrics."""

    def __init__(self, console: Console):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                            TextColumn("{task.fields[speed]} rows/s  loss {task.fields[loss]}  {task.fields[last]}"),
                            TimeRemainingColumn(), console=console, transient=False)
        self.task = None
        self.last = ""

    def start_epoch(self, epoch, epochs, rows):
        import time

        self.t0 = time.perf_counter()
        if self.task is not None:
            self.bar.stop_task(self.task)
        self.task = self.bar.add_task("", total=rows, epoch=f"{epoch}/{epochs}", speed="-", loss="-", last=self.last)

    def advance(self, rows, loss):
        import time

        done = self.bar.tasks[-1].completed + rows
        speed = f"{done / max(time.perf_counter() - self.t0, 1e-9):,.0f}"
        self.bar.update(self.task, advance=rows, speed=speed, loss=f"{loss:.4f}")

    def end_epoch(self, record):
        self.last = "  ".join(f"{k.split('_', 1)[1]} {v:.4f}" for k, v in record.items()
                              if k.startswith(("validation_", "train_auc")) and isinstance(v, float))
        self.bar.update(self.task, last=self.last + ("  *" if record.get("best") else ""))


@command
def train(spec: SpecArg, set: SetOpt = None,
          output: Annotated[Optional[Path], typer.Option("--output", help="Write the artifact here.")] = None,
          resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its checkpoint.")] = False,
          quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Fit the pipeline, train the model, save the artifact and print the final metrics.

    Checkpoints are written as it trains; Ctrl-C stops after writing one, and --resume continues from it."""
    from .checkpoint import checkpoint_path
    from .loading import load_spec
    from .run import run_training

    s = load_spec(spec, set or [])
    ckpt = checkpoint_path(s, output)
    if resume and not ckpt.exists():
        err.print(f"no checkpoint at {ckpt}: training from the start")
    elif not resume and ckpt.exists():
        err.print(f"note: {ckpt} holds an interrupted run; it will be replaced (--resume continues it instead)")
    elif resume:
        err.print(f"resuming from {ckpt}")
    progress = None if quiet else _Progress(err)
    if progress:
        progress.bar.start()
    try:  # Ctrl-C: the progress bar stops here, then `command` prints how to resume
        result, path = run_training(s, output=output, reporter=progress, resume=resume)
    finally:
        if progress:
            progress.bar.stop()
    out.print(_metrics_table(f"{s.name}: {s.model}, {len(result.history)} epochs in {result.seconds:.1f}s",
                             result.metrics, METRIC_KEYS))
    out.print(f"saved: {path}")


# --------------------------------------------------------------------------------------- eval & co


@command
def eval(model: ModelOpt = None, input: InputOpt = ...,
         json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """AUC, log loss, accuracy, calibration and row count (and gAUC with a group column) on a labelled file."""
    from .data import read_table
    from .metrics import evaluate
    from .score import Scorer

    scorer = Scorer.load(model)
    frame = read_table(str(input))
    from .pipeline import label_array, weight_array

    spec = scorer.spec
    y = label_array(spec, frame, str(input))
    w = weight_array(spec, frame, str(input)) if spec.label.weight else None
    group = frame[spec.label.group].to_numpy() if spec.label.group and spec.label.group in frame.columns else None
    m = evaluate(y, scorer.score(frame, str(input)), w, group)
    if json_:
        sys.stdout.write(json.dumps(m) + "\n")
        return
    out.print(_metrics_table(f"{scorer.artifact.path}", {input.name: m}, [*METRIC_KEYS, "calibration"]
                             + (["gauc"] if "gauc" in m else [])))


@command
def compare(spec: SpecArg, set: SetOpt = None,
            json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Train wide, deep and wide_deep on the same split: the paper's Table 1 for this data."""
    from .loading import load_spec
    from .run import compare_models

    s = load_spec(spec, set or [])
    rows = compare_models(s, reporter=None)
    if json_:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    split = "test" if "test_auc" in rows[0] else "validation"
    t = Table(title=f"{s.name}: wide vs deep vs wide & deep ({split} split)")
    for c in ("model", "AUC", "log loss", "parameters", "train seconds", "epochs"):
        t.add_column(c, justify="right")
    for r in rows:
        t.add_row(r["model"], _fmt(r[f"{split}_auc"]), _fmt(r[f"{split}_logloss"]), _fmt(r["parameters"]),
                  f"{r['seconds']:.1f}", str(r["epochs"]))
    out.print(t)


@command
def inspect(model: ModelOpt = None,
            top: Annotated[int, typer.Option("--top", help="How many weights to list.")] = 15) -> None:
    """The model's shape, and what the wide part memorized: its heaviest features and crosses."""
    from .run import heaviest_wide

    from .artifact import load_artifact

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
    from .run import predict_file

    keep = [c.strip() for c in columns.split(",")] if columns else None
    predict_file(model, input, output, keep, batch_rows)


@command
def rank(model: ModelOpt = None, input: InputOpt = ...,
         group_by: Annotated[Optional[str], typer.Option("--group-by", help="Group column; default: the spec's label.group.")] = None,
         top_k: Annotated[Optional[int], typer.Option("--top-k", help="Keep the k best of each group.")] = None,
         output: Annotated[Optional[Path], typer.Option("--output", help="CSV, Parquet or NDJSON; default: CSV on stdout.")] = None) -> None:
    """Score candidates, order each group best first, add `rank`; with labels, print ranking metrics."""
    from .data import read_table
    from .score import Scorer, ranking_metrics, write_frame
    import polars as pl

    scorer = Scorer.load(model)
    frame = read_table(str(input))
    ranked = scorer.rank(frame, group_by, None, str(input))
    group = group_by or scorer.spec.label.group
    k = top_k or 10
    shown = ranked.filter(pl.col("rank") <= top_k) if top_k else ranked
    text = write_frame(shown, output)
    if text is not None:
        sys.stdout.write(text)
    else:
        err.print(f"wrote {len(shown):,} rows of {ranked[group].n_unique():,} groups to {output}")
    label = scorer.spec.label
    if label.column in frame.columns:
        from .pipeline import label_array

        y = label_array(scorer.spec, ranked, str(input))
        m = ranking_metrics(ranked, group, pl.lit(pl.Series(y)), k)
        t = Table(title=f"ranking metrics over {m.get('groups_with_positives', 0):,} groups with a positive")
        for key in m:
            t.add_column(key, justify="right")
        t.add_row(*[_fmt(v) for v in m.values()])
        err.print(t)


if __name__ == "__main__":  # pragma: no cover
    app()
