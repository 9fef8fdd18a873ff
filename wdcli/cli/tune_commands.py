"""`wdcli tune`: an Optuna study of a spec's settings, with a live display and a table of the best trials."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ..errors import counted
from .app import DebugOpt, command
from .options import JsonOpt, SetOpt, SpecArg, count_option, output_option
from .output import cell, emit_json, err, out
from .train_commands import note

if TYPE_CHECKING:
    from rich.progress import TaskID

SpaceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--space",
        metavar="KEY=RANGE",
        help="Search a key, e.g. 'train.deep_optimizer.lr={log_uniform: [0.001, "
        "0.3]}' (or uniform, int, log_int, choice); repeatable; adds to the spec's tune.space.",
    ),
]
StudyOpt = Annotated[
    Path | None,
    output_option(
        "--study",
        metavar="DIR",
        folder_for="the study",
        help="Folder of the study (study.db) and best.yaml; default: runs/NAME/tune.",
    ),
]


@command
def tune(
    spec: SpecArg,
    set: SetOpt = None,
    trials: Annotated[
        int | None,
        count_option(
            "--trials", "Trials in the study (default: the spec's tune.trials, 20); a resumed study runs the rest."
        ),
    ] = None,
    space: SpaceOpt = None,
    study: StudyOpt = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Delete the study there and start a new one.")] = False,
    top: Annotated[int, count_option("--top", "Rows in the table of the best trials.")] = 10,
    json_: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live display.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Search the spec's settings on the training and validation rows (never the test rows), stop bad trials
    early, and write the best trial's spec (best.yaml), which `wdcli train` takes.

    The study is kept in a SQLite file: running the same command again continues it."""
    from ..tune import tune as run_tune

    display = None if quiet or json_ else TuneDisplay()
    if display:
        err.print(
            f"tune {spec}: reading its training and validation rows, then the trials", markup=False, highlight=False
        )
        display.bar.start()
    try:
        result = run_tune(spec, set or [], space or [], trials, study, fresh, display, note)
    finally:
        if display:
            display.bar.stop()
    show_tuned(result, top, json_)


def show_tuned(result, top: int, json_: bool) -> None:
    """A study's outcome (a `wdcli.tune.TuneResult`): the best trials and how many ran, or JSON; an error where no
    trial completed."""
    none = "no trial completed, so there is no best spec to write; the failed trials above say why"
    if result.stopped:
        none = f"{result.stopped}; fix that and run the same command again (with --fresh to start the study anew)"
    if json_:
        study = {
            "metric": result.metric,
            "study": str(result.study),
            "best_spec": str(result.best_spec) if result.best_spec else None,
            "ran": result.ran,
            "trials": result.rows,
        }
        if result.best_spec is None:  # (one JSON object on stdout: the study, and the error; exit 2 as without)
            err.print(f"[bold red]error:[/] {none.replace('above', 'in the JSON')}")
            emit_json({"exit_code": 2, "error": none.replace("above", "in trials"), **study})
            raise typer.Exit(2)
        emit_json(study)
        return
    out.print(best_table(result, top))
    counts = {s: sum(r["state"] == s for r in result.rows) for s in ("complete", "pruned", "failed")}
    out.print(
        f"{counted(len(result.rows), 'trial')} ({counts['complete']} complete, {counts['pruned']} pruned, "
        f"{counts['failed']} failed; {result.ran} run now), study: {result.study}"
    )
    if result.best_spec is None:
        from ..errors import WdcliError

        raise WdcliError(none)
    out.print(f"best spec: {result.best_spec}\ntrain it and see its test metrics: wdcli train {result.best_spec}")


def best_table(result, top: int) -> Table:
    rows = [r for r in result.rows if r["state"] == "complete"][:top]
    keys = list(dict.fromkeys(k for r in rows for k in r["params"]))
    t = Table(title=f"best trials by validation {result.metric} ({'higher' if result.maximize else 'lower'} is better)")
    fixed = ("trial", result.metric, "epochs", "seconds")
    for c in (*fixed, *short_names(keys, taken=fixed)):
        t.add_column(c, justify="right", overflow="fold")
    for r in rows:
        t.add_row(
            str(r["trial"]),
            cell(r["value"]),
            _epochs(r),
            f"{r['seconds'] or 0:.0f}",
            *[_short(r["params"].get(k)) for k in keys],
        )
    return t


def short_names(keys: list[str], taken: tuple[str, ...] = ()) -> list[str]:
    """Column names for spec keys: the last part of each (`lr`), or more of it where two would read alike
    (`wide_optimizer.lr`, `deep_optimizer.lr`) or where the short one is `taken` by another column (the trial's
    `epochs` beside the searched `train.epochs`)."""
    out = []
    for k in keys:
        parts = k.split(".")
        for n in range(1, len(parts) + 1):
            name = ".".join(parts[-n:])
            if name not in taken and sum(1 for other in keys if other == name or other.endswith("." + name)) == 1:
                break
        out.append(name)
    return out


def _epochs(r: dict) -> str:
    return f"{r['epochs']} (best {r['best_epoch']})" if r.get("best_epoch") else str(r["epochs"])


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


class TuneDisplay:
    """Two live bars (the study's trials, the current trial's epoch) and one line per finished trial; when the
    output is a pipe or a file (no live bars), one line as each trial starts and per epoch too."""

    def __init__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self.trials: TaskID | None = None  # the bar's rows: of the trials, of the current trial's epoch
        self.epoch: TaskID | None = None
        self.last = ""
        self.piped = not err.is_terminal
        self.epochs, self.t0 = 0, time.perf_counter()

    def start_trial(self, number: int, params: dict, done: int, total: int) -> None:
        if self.trials is None:
            self.trials = self.bar.add_task("trials", total=total, completed=done, info="")
        self.bar.update(self.trials, completed=done, total=total)
        self.number, self.params, self.last = number, params, ""
        if self.piped:
            shown = "  ".join(f"{n}={_short(v)}" for n, v in zip(short_names(list(params)), params.values()))
            err.print(f"trial {number:>3}  started ({done} of {total} done)  {shown}", markup=False, highlight=False)

    def start_epoch(self, epoch: int, epochs: int, rows: int) -> None:
        self.t0, self.epochs = time.perf_counter(), epochs
        if self.epoch is None:
            self.epoch = self.bar.add_task("", total=rows, info="")
        self.bar.reset(
            self.epoch, total=rows, description=f"trial {self.number} epoch {epoch}/{epochs}", info=self.last
        )

    def advance(self, rows: int, loss: float) -> None:
        assert self.epoch is not None  # (start_epoch came first)
        self.bar.update(self.epoch, advance=rows, info=f"loss {loss:.4f}  {self.last}")

    def end_epoch(self, record) -> None:  # (a wdcli.metrics.EpochRecord)
        figures = record.figures() if record.split == "validation" else {}
        self.last = "  ".join(f"{k} {v:.4f}" for k, v in figures.items())
        if self.piped:
            seconds = time.perf_counter() - self.t0
            err.print(
                f"trial {self.number:>3}  epoch {record.epoch}/{self.epochs}  validation {self.last}  {seconds:.1f}s",
                markup=False,
                highlight=False,
            )

    def end_trial(self, row: dict, best: dict | None) -> None:
        from rich.markup import escape

        params = "  ".join(
            f"{name}={_short(v)}" for name, v in zip(short_names(list(row["params"])), row["params"].values())
        )
        if row["state"] == "complete":
            what = f"[bold]{row['value']:.4f}[/] in {counted(row['epochs'], 'epoch')}"
        elif row["state"] == "pruned":
            what = f"[yellow]pruned[/] after epoch {row['epochs']}"
        else:
            what = f"[red]failed[/]: {escape(row.get('error', ''))}"
        self.bar.console.print(
            f"trial {row['trial']:>3}  {what}  ({row['seconds']:.0f}s)  {escape(params)}", highlight=False
        )
        assert self.trials is not None  # (start_trial came first)
        self.bar.advance(self.trials)
        if best is not None:
            self.bar.update(self.trials, info=f"best {best['value']:.4f} (trial {best['trial']})")
