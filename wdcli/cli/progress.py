"""Training progress on the console: a live bar on a terminal; one plain line per epoch and per step around
the epochs when the output is a pipe or a file (a log keeps every line, whole); nothing when quiet.

    with TrainingDisplay(err, quiet) as progress:
        run_training(spec, reporter=progress)   # start_epoch, advance, end_epoch; task(...) for fit, encode, eval
        progress.stage("a line of its own")

A line is printed when the next thing starts (an epoch, a task, a stage, the end): a task's line can then say
how many rows it took (its total is an estimate).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console

from ..errors import counted

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ..metrics import EpochRecord


def _figures(record: EpochRecord) -> str:
    """`validation auc 0.8812 logloss 0.3321` from an epoch's record (the monitored split's metrics)."""
    figures = record.figures()
    return f"{record.split} " + " ".join(f"{k} {v:.4f}" for k, v in figures.items()) if figures else ""


class TrainingDisplay:
    """The reporter `run_training` calls, shown on a console (see the module's doc)."""

    def __init__(self, console: Console, quiet: bool = False):
        self.console, self.quiet = console, quiet
        self.bar: Progress | None = None  # the live bar (on a terminal)
        self.current: TaskID | None = None  # and its current row
        self.pending: EpochRecord | dict | None = (
            None  # the last epoch's record, or a task's, printed when the next starts
        )
        self.epochs, self.rows, self.last = 0, 0, ""
        self.t0 = self.t1 = time.perf_counter()  # when the current row started, and when it last advanced
        if console.is_terminal and not quiet:
            from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self.bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[detail]}"),
                TimeRemainingColumn(),
                console=console,
            )

    def __enter__(self) -> TrainingDisplay:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.flush()
        if self.bar is not None:
            self.bar.stop()

    # ---- the trainer's reporter protocol (wdcli.train.loop.Reporter)
    def start_epoch(self, epoch: int, epochs: int, rows: int) -> None:
        self._begin(f"epoch {epoch}/{epochs}", rows)
        self.epochs = epochs

    def advance(self, rows: int, loss: float) -> None:
        self._advance(rows, f"  loss {loss:.4f}  {self.last}")

    def end_epoch(self, record: EpochRecord) -> None:
        self.pending = record

    def task(self, description: str, total: int | None) -> Callable[[int], None]:
        """A step around the epochs (fitting the pipeline, encoding, the final evaluation); returns the function
        called with each number of rows done."""
        self._begin(description, total)
        self.pending = {"task": description}
        return lambda rows: self._advance(rows, "")

    # ---- anything else worth a line
    def stage(self, message: str) -> None:
        self.flush()
        if not self.quiet:
            self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def _begin(self, description: str, total: int | None) -> None:
        self.flush()
        self.t0 = self.t1 = time.perf_counter()
        self.rows = 0
        if self.bar is not None:
            if self.current is not None:
                self.bar.stop_task(self.current)
            self.current = self.bar.add_task(description, total=total, detail="")

    def _advance(self, rows: int, detail: str) -> None:
        self.rows += rows
        self.t1 = time.perf_counter()
        if self.bar is not None and self.current is not None:
            speed = self.rows / max(time.perf_counter() - self.t0, 1e-9)
            self.bar.update(self.current, advance=rows, detail=f"{speed:,.0f} rows/s{detail}")

    def flush(self) -> None:
        record, self.pending = self.pending, None
        if record is None or self.quiet:
            return
        seconds = self.t1 - self.t0
        if isinstance(record, dict):  # a task's
            if self.bar is None:
                self.console.print(
                    f"{record['task']}: {counted(self.rows, 'row')} in {seconds:.1f}s",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            return
        best = "  (best so far)" if record.best else ""
        self.last = _figures(record)
        if self.bar is not None:
            assert self.current is not None  # an epoch's record follows its row (start_epoch)
            self.bar.update(self.current, detail=f"{self.last}{'  *' if best else ''}")
            return
        self.console.print(
            f"epoch {record.epoch}/{self.epochs}  loss {record.train_loss:.4f}  {self.last}  {record.seconds:.1f}s"
            f"  {record.rows_per_s:,.0f} rows/s{best}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
