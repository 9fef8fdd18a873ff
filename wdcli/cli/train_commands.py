"""`wdcli train` and `wdcli compare`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ..errors import counted
from .app import DebugOpt, command
from .options import JsonOpt, SetOpt, SpecArg, count_option, output_option
from .output import METRIC_KEYS, cell, emit_json, err, metrics_table, out
from .progress import TrainingDisplay

if TYPE_CHECKING:
    from ..metrics import WarmReport


def note(message: str) -> None:
    """A line on stderr that the library says (what it resumes, which settings came from defaults)."""
    err.print(message, markup=False, highlight=False)


def notes(quiet: bool) -> Callable[[str], None]:
    """`note`, less the settings that came from defaults under --quiet (what it resumes or replaces stays)."""
    from ..run import DEFAULTS_NOTE

    return (lambda m: None if m.startswith(DEFAULTS_NOTE) else note(m)) if quiet else note


OutputOpt = Annotated[
    Path | None,
    output_option(
        "--output",
        "-o",
        metavar="DIR",
        folder_for="the run",
        help="Write the run to this folder instead of runs/NAME/RUN_ID (an existing one needs --force).",
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace the run already in --output DIR.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its checkpoint.")]
WarmStartOpt = Annotated[
    Path | None,
    typer.Option(
        "--warm-start",
        metavar="DIR",
        help="Start from this previous run's weights and optimizer state (a run folder, or runs/NAME for its latest).",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, nor the settings that came from defaults.")]
DeviceOpt = Annotated[
    str | None, typer.Option("--device", metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps (sets train.device).")
]
NprocOpt = Annotated[
    int | None,
    count_option("--nproc", "Train in N processes on this machine (data parallel, as torchrun starts them)."),
]
LogOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--log", metavar="NAME", help="Also log the run to mlflow or tensorboard (repeatable; adds to train.log)."
    ),
]


@command
def train(
    spec: SpecArg,
    set: SetOpt = None,
    output: OutputOpt = None,
    force: ForceOpt = False,
    resume: ResumeOpt = False,
    warm_start: WarmStartOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
    device: DeviceOpt = None,
    nproc: NprocOpt = None,
    log: LogOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Fit the pipeline, train the model, save the run and print the final metrics.

    Progress shows as a live bar on a terminal, and as one line per epoch when piped.

    Checkpoints are written as it trains: Ctrl-C stops after writing one, and --resume continues from it.
    Under torchrun (`torchrun --nproc-per-node N -m wdcli train SPEC`, or --nproc N) every process trains on its
    share of each batch; the first one reports and saves.
    --warm-start RUN carries the previous run's weights over, value by value, to the new data's features."""
    from ..run import run_training
    from ..spec import load_spec
    from ..train.runtime import Processes

    processes = Processes.from_env()  # this process's place in a torchrun job (the environment's only reader)
    overrides = list(set or []) + ([f"train.device={device}"] if device else [])
    overrides += _log_overrides(spec, overrides, log or [])
    s = load_spec(spec, overrides)
    if nproc is not None and nproc > 1 and not processes.launched:
        raise typer.Exit(_spawn(nproc, spec, overrides, output, force, resume, quiet, json_, warm_start))
    replacing = _replacing(output, force) if output is not None else _no_run_at(Path(s.train.output) / str(s.name))
    with TrainingDisplay(err, quiet or not processes.main) as progress:  # Ctrl-C: `command` says how to resume
        result, path = run_training(
            s, output, progress, resume=resume, warm_from=warm_start, processes=processes, say=notes(quiet)
        )
    if not processes.main:  # another process of a torchrun job: the first one speaks
        return
    if replacing:
        note(f"replaced the previous contents of {output}")
    if (more := still_improving(s, result.metrics)) and not quiet:
        note(more)
    show_trained(s, result.metrics, path, json_)


def still_improving(s, m) -> str | None:
    """A note where the run trained every epoch `train.epochs` allows while its validation figure was still
    getting better: its best epoch after the first and within the last `patience` (at least the last), so that
    early stopping would have gone on. (On 12,000 rows of COVID-19 tests the columns-only spec's best epochs were
    18-19 of 20, and 40 epochs gave +0.007 test AUC, with a worse log loss: docs/benchmarks.md.)"""
    h, stop = m.history, s.train.early_stopping
    if "validation" not in m.splits or len(h) < max(s.train.epochs, 2):
        return None
    best = max((r.epoch for r in h if r.best), default=1)
    if best == 1 or len(h) - best >= max(stop.patience, 1):
        return None
    return (
        f"note: the run trained all {len(h)} epochs train.epochs allows, and its validation {stop.metric} was still "
        f"improving (best at epoch {best}): more epochs may help (--set train.epochs={2 * len(h)})"
    )


def show_trained(s, m, path: Path, json_: bool) -> None:
    """A trained run's figures (a `wdcli.metrics.RunMetrics`): tables, or JSON."""
    from ..metrics import worse_than_the_rate

    for part, loss, rate in worse_than_the_rate(m.splits):
        stop, held = s.train.early_stopping.metric, "validation" in m.splits
        if not held:
            advice = "hold out validation rows (data.split.validation) for early stopping to read"
        elif stop != "logloss":
            advice = "stop on log loss (--set train.early_stopping.metric=logloss)"
        else:
            advice = "fewer epochs or more regularization may help"
        err.print(
            f"warning: the {part} rows' log loss {loss:.4f} is above {rate:.4f}, that of scoring every row the "
            f"training rows' positive rate: the kept epoch (best by {stop}{'' if held else ' on the training rows'}) "
            f"is overconfident as probabilities; where probabilities matter, {advice}",
            markup=False,
            highlight=False,
            style="yellow",
        )
    if json_:
        emit_json(
            {
                "path": str(path),
                "name": s.name,
                "model": s.model,
                "epochs": m.epochs,
                "seconds": m.seconds,
                "metrics": m.splits,
                "history": [r.to_json() for r in m.history],
                **({"warm_start": m.warm_start.to_json()} if m.warm_start else {}),
            }
        )
        return
    if m.warm_start:
        out.print(warm_table(m.warm_start))
        if m.warm_start.split:  # (the previous run's figures are of other rows: not to be compared with these)
            out.print(f"warm start: {m.warm_start.split}", markup=False, highlight=False)
    out.print(
        metrics_table(f"{s.name}: {s.model}, {counted(m.epochs, 'epoch')} in {m.seconds:.1f}s", m.splits, METRIC_KEYS)
    )
    out.print(f"saved: {path}", markup=False, highlight=False)


def _no_run_at(folder: Path) -> bool:
    """False, or an error before training where the spec's runs folder (runs/NAME) is itself a run (one trained
    with --output runs/NAME): its new run would be saved inside that one, and --model runs/NAME would still find
    the old."""
    from ..errors import ArtifactError

    if (folder / "manifest.json").is_file():
        raise ArtifactError(
            f"{folder} is a run folder (trained with --output {folder}), so this run, saved as {folder}/RUN_ID, "
            f"would be a run inside a run; pass --output DIR, or move that run out of {folder}"
        )
    return False


def _replacing(output: Path | None, force: bool) -> bool:
    """Whether --output DIR holds something the run will replace; an error without --force."""
    from ..errors import ArtifactError

    if output is None or not output.is_dir() or not any(output.iterdir()):
        return False
    if not force:
        what = "a run" if (output / "manifest.json").exists() else "files"
        raise ArtifactError(
            f"{output} already holds {what}; pass --force to replace it (the new run replaces it "
            "only once it is complete), or choose another --output"
        )
    return True


def _spawn(
    nproc: int,
    spec: Path,
    overrides: list[str],
    output: Path | None,
    force: bool,
    resume: bool,
    quiet: bool,
    json_: bool,
    warm_start: Path | None,
) -> int:
    """Run this training in `nproc` processes on this machine, as torchrun would start them (RANK, WORLD_SIZE,
    MASTER_ADDR, ... in their environment); returns the first failing process's exit code, else 0. A process
    that fails stops the others."""
    import os
    import socket
    import subprocess
    import sys

    from ..train.runtime import usable_cpus

    with socket.socket() as s:  # a free port on this machine for the processes to meet on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "wdcli", "train", str(spec), *[f"--set={o}" for o in overrides]]
    args += (["--output", str(output)] if output else []) + (["--force"] if force else [])
    args += (["--resume"] if resume else []) + (["-q"] if quiet else []) + (["--json"] if json_ else [])
    args += ["--warm-start", str(warm_start)] if warm_start else []
    threads = str(max(1, usable_cpus() // nproc))  # as each process's runtime counts them
    if not quiet:
        err.print(
            f"starting {nproc} processes (data parallel, {threads} thread{'s' if threads != '1' else ''} each)",
            markup=False,
            highlight=False,
        )
    procs = []
    for rank in range(nproc):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(nproc),
            "LOCAL_WORLD_SIZE": str(nproc),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            # (idle threads spin briefly, then sleep: GOMP_SPINCOUNT, inherited from wdcli/__init__.py)
            "OMP_NUM_THREADS": threads,
        }
        procs.append(subprocess.Popen(args, env=env))
    return _wait_all(procs)


def _wait_all(procs) -> int:
    """Wait for every process; the first failing one's exit code stops the others (SIGTERM) and is returned."""
    import signal
    import time

    code = 0
    try:
        while any(p.poll() is None for p in procs):
            failed = [p.returncode for p in procs if p.returncode not in (None, 0)]
            if failed and not code:
                code = failed[0]
                for p in procs:
                    if p.poll() is None:
                        p.send_signal(signal.SIGTERM)
            time.sleep(0.1)
    except KeyboardInterrupt:  # the processes got the Ctrl-C too: let them write their checkpoint and stop
        for p in procs:
            p.wait()
    return code or next((p.returncode for p in procs if p.returncode), 0)


def warm_table(report: WarmReport) -> Table:
    """What a warm start carried over, per feature (ids)."""
    t = Table(title=f"warm start from {report.source}: mlp {report.mlp}, optimizer state {report.optimizer_state}")
    for c in ("feature", "carried", "new", "dropped"):
        t.add_column(c, justify="left" if c == "feature" else "right")
    t.add_column("note")
    for name, r in report.features.items():
        t.add_row(name, cell(r.carried), cell(r.new), cell(r.dropped), r.note)
    for name, note in report.numbers.items():  # (a number has no ids: its embedding is carried whole)
        t.add_row(name, "-", "-", "-", note)
    return t


def _log_overrides(spec: Path, overrides: list[str], log: list[str]) -> list[str]:
    """--log NAME as a `train.log` override that adds NAME to the trackers the spec (and --set) already name."""
    if not log:
        return []
    from ..spec import load_spec

    named = list(load_spec(spec, overrides).train.log)
    return [f"train.log=[{', '.join(dict.fromkeys([*named, *log]))}]"]


@command
def compare(
    spec: SpecArg,
    set: SetOpt = None,
    json_: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Train wide, deep and wide_deep on the same split: the paper's Table 1 for this data.

    Progress shows as a live bar on a terminal, and as one line per epoch when piped."""
    from ..metrics import DEFAULT_K
    from ..run import compare_models
    from ..spec import load_spec

    s = load_spec(spec, set or [])
    with TrainingDisplay(err, quiet) as progress:
        rows = compare_models(s, reporter=progress, say=notes(quiet))
    if json_:
        emit_json(rows)
        return
    split = next(s for s in ("test", "validation", "train") if f"{s}_auc" in rows[0])
    grouped = f"{split}_gauc" in rows[0]  # (label.group: how each user's or request's rows are ordered)
    t = Table(title=f"{s.name}: wide vs deep vs wide & deep ({split} split)")
    ranked = {"gauc": "gAUC", f"ndcg@{DEFAULT_K}": f"NDCG@{DEFAULT_K}"} if grouped else {}
    for c in ("model", "AUC", "log loss", *ranked.values(), "parameters", "train seconds", "epochs"):
        t.add_column(c, justify="right")
    for r in rows:
        t.add_row(
            r["model"],
            cell(r[f"{split}_auc"]),
            cell(r[f"{split}_logloss"]),
            *[cell(r.get(f"{split}_{k}", float("nan"))) for k in ranked],
            cell(r["parameters"]),
            f"{r['seconds']:.1f}",
            str(r["epochs"]),
        )
    out.print(t)
