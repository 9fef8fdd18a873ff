"""What every command shares: the app, the consoles, the option types, the error handling, the tables."""

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

app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
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
        from ..errors import Interrupted, SpecError, WdcliError

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
            err.print("[bold red]internal error:[/] ", end="")
            err.print(f"{type(e).__name__}: {e}", markup=False, highlight=False)
            err.print("run again with --debug for the traceback, and please report it")
            raise typer.Exit(1)

    return app.command()(wrapper)


def fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def metrics_table(title: str, rows: dict[str, dict], keys: list[str]) -> Table:
    t = Table(title=title)
    t.add_column("split")
    for k in keys:
        t.add_column(k, justify="right")
    for name, m in rows.items():
        t.add_row(name, *[fmt(m.get(k, "")) for k in keys])
    return t


METRIC_KEYS = ["rows", "auc", "logloss", "accuracy", "mean_score", "base_rate"]


class Progress:
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
