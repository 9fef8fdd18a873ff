"""Training progress on the console: a live bar on a terminal, one plain line per epoch when the output is a
pipe or a file (a log keeps every epoch, whole), nothing when quiet.

    with Progress(err, quiet) as progress:
        run_training(spec, reporter=progress)     # start_epoch, advance, end_epoch
        progress.stage("final evaluation")        # a line of its own, between epochs or after them

An epoch's line is printed when the next thing starts (an epoch, a stage, the end), so that it can say whether
that epoch was the best so far (the loop marks it after reporting it).
"""

from __future__ import annotations

import time

from rich.console import Console


def _figures(record: dict) -> str:
    """`validation auc 0.8812 logloss 0.3321` from an epoch's record (the monitored split's metrics)."""
    found = [(k.split("_", 1)[0], k.split("_", 1)[1], v) for k, v in record.items()
             if isinstance(v, float) and k.split("_", 1)[-1] in ("auc", "logloss", "gauc")]
    if not found:
        return ""
    return f"{found[0][0]} " + " ".join(f"{name} {v:.4f}" for split, name, v in found if split == found[0][0])


class Progress:
    def __init__(self, console: Console, quiet: bool = False):
        self.console, self.quiet = console, quiet
        self.live = console.is_terminal and not quiet
        self.bar = self.task = None
        self.pending: dict | None = None  # the last epoch's record, printed when the next thing starts
        self.epochs = 0
        self.last = ""
        self.t0 = time.perf_counter()
        if self.live:
            from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self.bar = Bar(TextColumn("epoch {task.fields[epoch]}"), BarColumn(),
                           TextColumn("{task.percentage:>3.0f}%"),
                           TextColumn("{task.fields[speed]} rows/s  loss {task.fields[loss]}  {task.fields[last]}"),
                           TimeRemainingColumn(), console=console, transient=False)

    def __enter__(self) -> Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.flush()
        if self.bar is not None:
            self.bar.stop()

    # ---- the trainer's reporter protocol
    def start_epoch(self, epoch: int, epochs: int, rows: int) -> None:
        self.flush()
        self.t0, self.epochs = time.perf_counter(), epochs
        if self.bar is not None:
            if self.task is not None:
                self.bar.stop_task(self.task)
            self.task = self.bar.add_task("", total=rows, epoch=f"{epoch}/{epochs}", speed="-", loss="-",
                                          last=self.last)

    def advance(self, rows: int, loss: float) -> None:
        if self.bar is None or self.task is None:
            return
        done = self.bar.tasks[-1].completed + rows
        speed = f"{done / max(time.perf_counter() - self.t0, 1e-9):,.0f}"
        self.bar.update(self.task, advance=rows, speed=speed, loss=f"{loss:.4f}")

    def end_epoch(self, record: dict) -> None:
        self.pending = record

    # ---- anything else worth a line
    def stage(self, message: str) -> None:
        """A step outside the epochs (fitting the pipeline, the final evaluation): one line."""
        self.flush()
        if not self.quiet:
            self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def flush(self) -> None:
        record, self.pending = self.pending, None
        if record is None or self.quiet:
            return
        best = "  (best so far)" if record.get("best") else ""
        if self.bar is not None:
            self.last = _figures(record)
            self.bar.update(self.task, last=self.last + ("  *" if best else ""))
            return
        rows_s = record.get("rows_per_s")
        self.console.print(
            f"epoch {record.get('epoch', '?')}/{self.epochs}  loss {record.get('train_loss', float('nan')):.4f}  "
            f"{_figures(record)}  {record.get('seconds', 0.0):.1f}s"
            + (f"  {rows_s:,.0f} rows/s" if rows_s is not None else "") + best,
            markup=False, highlight=False, soft_wrap=True)
