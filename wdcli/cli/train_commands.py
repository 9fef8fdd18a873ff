"""`wdcli train` and `wdcli compare`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .common import METRIC_KEYS, Progress, SetOpt, SpecArg, command, err, fmt, metrics_table, out


@command
def train(spec: SpecArg, set: SetOpt = None,
          output: Annotated[Optional[Path], typer.Option("--output", help="Write the artifact here.")] = None,
          resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its checkpoint.")] = False,
          quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Fit the pipeline, train the model, save the artifact and print the final metrics.

    Checkpoints are written as it trains; Ctrl-C stops after writing one, and --resume continues from it."""
    from ..train.checkpoint import checkpoint_path
    from ..spec import load_spec
    from ..run import run_training

    s = load_spec(spec, set or [])
    ckpt = checkpoint_path(s, output)
    if resume and not ckpt.exists():
        err.print(f"no checkpoint at {ckpt}: training from the start")
    elif not resume and ckpt.exists():
        err.print(f"note: {ckpt} holds an interrupted run; it will be replaced (--resume continues it instead)")
    elif resume:
        err.print(f"resuming from {ckpt}")
    progress = None if quiet else Progress(err)
    if progress:
        progress.bar.start()
    try:  # Ctrl-C: the progress bar stops here, then `command` prints how to resume
        result, path = run_training(s, output=output, reporter=progress, resume=resume)
    finally:
        if progress:
            progress.bar.stop()
    out.print(metrics_table(f"{s.name}: {s.model}, {len(result.history)} epochs in {result.seconds:.1f}s",
                             result.metrics, METRIC_KEYS))
    out.print(f"saved: {path}")


@command
def compare(spec: SpecArg, set: SetOpt = None,
            json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Train wide, deep and wide_deep on the same split: the paper's Table 1 for this data."""
    from ..spec import load_spec
    from ..run import compare_models

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
        t.add_row(r["model"], fmt(r[f"{split}_auc"]), fmt(r[f"{split}_logloss"]), fmt(r["parameters"]),
                  f"{r['seconds']:.1f}", str(r["epochs"]))
    out.print(t)
