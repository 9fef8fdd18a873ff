"""A training run: set up (fit the pipeline, make the batch sources and the trainer, resume), train epoch by
epoch with early stopping and checkpoints, clean up (keep the best weights, final metrics).

    result = train(spec)                 # reads the spec's files
    result = train(spec, frames)         # or given frames: {"train": ..., "validation": ..., "test": ...}
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import polars as pl
import torch

from ..data.stream import Stream
from ..errors import Interrupted
from ..features import FittedPipeline
from ..model.plan import ModelConfig, build_config
from ..model.widedeep import WideDeep
from ..spec import Spec
from . import checkpoint as ckpt
from .runtime import Runtime
from .signals import StopRequests
from .sources import prepare
from .trainer import EarlyStopping, Trainer

TRAIN_METRIC_ROWS = 1_000_000  # final metrics of streamed training rows are taken on their first rows


class Reporter(Protocol):
    """What a run says as it goes. A reporter may also have `task(description, total)`, which returns a
    function called with each number of rows done, for the work around the epochs (fitting, encoding,
    evaluating)."""

    def start_epoch(self, epoch: int, epochs: int, rows: int) -> None: ...
    def advance(self, rows: int, loss: float) -> None: ...
    def end_epoch(self, record: dict) -> None: ...


def _progress(reporter: Reporter | None):
    task = getattr(reporter, "task", None)
    return task if task is not None else (lambda description, total: lambda rows: None)


@dataclass
class TrainResult:
    spec: Spec
    fitted: FittedPipeline
    config: ModelConfig
    model: WideDeep
    metrics: dict[str, dict] = field(default_factory=dict)  # split -> metrics of the kept weights
    history: list[dict] = field(default_factory=list)  # one record per epoch
    seconds: float = 0.0
    runtime: Runtime | None = None  # where it ran (its rank decides who saves the artifact)
    trainer: Trainer | None = None  # its optimizers' state goes into the artifact (for a later warm start)
    warm_start: dict | None = None  # what a warm start carried (wdcli.train.warm), set by its caller


def train(
    spec: Spec,
    frames: dict[str, pl.DataFrame] | None = None,
    reporter: Reporter | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    warm: Callable[[Trainer, FittedPipeline], None] | None = None,
) -> TrainResult:
    """Fit the pipeline on the training rows, train the model, keep the best epoch's weights.

    With `checkpoint`, the run's state is written there now and then (spec.train.checkpoint) and on Ctrl-C or
    SIGTERM, which stop the run with `Interrupted`; `resume=True` continues from the checkpoint there.
    Started by torchrun, every process runs this (on its share of the rows); the first reports and writes.
    `warm(trainer, fitted)` initialises the new trainer from a previous run (`wdcli.train.warm`)."""
    cfg = spec.train
    runtime = Runtime.start(cfg.threads, cfg.device, cfg.precision)
    reporter = reporter if runtime.main else None
    fp = ckpt.fingerprint(spec) if checkpoint is not None else ""
    progress = _progress(reporter)
    fitted, sources, names = prepare(spec, frames, runtime, progress)
    config = build_config(fitted)
    trainer = Trainer(config, cfg, runtime)
    if warm is not None:
        warm(trainer, fitted)
    stopper = EarlyStopping(cfg.early_stopping.metric, cfg.early_stopping.patience)
    data = sources["train"]
    monitor = sources.get("validation", data)
    run = _Run(spec, trainer, stopper, data, runtime, checkpoint, fp, reporter)
    if resume and checkpoint is not None and checkpoint.exists():
        run.resume()
    with StopRequests() as stop:
        run.stop = stop
        for epoch in range(run.progress.epoch, cfg.epochs + 1):
            run.epoch(epoch)
            record = run.progress.history[-1]
            val = trainer.evaluate(monitor)
            split = "validation" if "validation" in sources else "train"
            record.update({f"{split}_{k}": v for k, v in val.items() if k in ("auc", "logloss", "gauc")})
            if stopper.update(val[stopper.metric], trainer.model):
                record["best"] = True
            if reporter:
                reporter.end_epoch(record)
            if stopper.stop:
                break
            run.progress = ckpt.Progress(epoch + 1, history=run.progress.history, elapsed=run.progress.elapsed)
            if epoch < cfg.epochs:
                run.save()
            run.check_stop()
    result = TrainResult(
        spec, fitted, config, trainer.model, history=run.progress.history, seconds=run.elapsed(), trainer=trainer
    )
    if stopper.best_state is not None:
        trainer.model.load_state_dict(stopper.best_state)
    for split, source in sources.items():  # (streamed training rows: the first TRAIN_METRIC_ROWS of them)
        limit = TRAIN_METRIC_ROWS if split == "train" and isinstance(source, Stream) else None
        rows = min(source.rows, limit or source.rows)
        result.metrics[split] = trainer.evaluate(source, progress(f"evaluating on {split} rows", rows), limit)
    result.runtime = runtime
    return result


class _Run:
    """One run's loop state: progress, checkpoint timing, stop requests (agreed by every process)."""

    REPORT_EVERY = 0.25  # seconds between progress reports off the CPU (each one waits for the device)

    def __init__(
        self,
        spec,
        trainer: Trainer,
        stopper: EarlyStopping,
        data,
        runtime: Runtime,
        checkpoint: Path | None,
        fp: str,
        reporter: Reporter | None,
    ):
        self.spec, self.trainer, self.stopper, self.data, self.runtime = spec, trainer, stopper, data, runtime
        self.checkpoint, self.fp, self.reporter = checkpoint, fp, reporter
        self.saving = checkpoint is not None and spec.train.checkpoint.enabled
        self.progress = ckpt.Progress()
        self.source_state: dict | None = None  # where to resume within the epoch
        self.start = time.perf_counter()
        self.last_save = time.perf_counter()
        self.steps = 0
        self.stop = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def resume(self) -> None:
        saved = ckpt.load(self.checkpoint, self.fp, self.trainer, self.stopper, self.runtime.world)
        self.progress, self.source_state = saved.progress, saved.source
        self.data.restore(saved.source)
        self.runtime.set_rng_state(saved.rng)
        self.start -= saved.progress.elapsed

    def epoch(self, epoch: int) -> None:
        """Train one epoch, writing checkpoints as the spec says and stopping cleanly when asked."""
        cfg, p = self.spec.train, self.progress
        t0 = time.perf_counter()
        if self.reporter:
            self.reporter.start_epoch(epoch, cfg.epochs, self.data.rows)
        state, self.source_state = self.source_state, None
        if self.reporter and state and state.get("at"):  # resuming part-way through this epoch
            self.reporter.advance(int(state["at"]), p.total / max(p.seen, 1))
        every_s, every_steps = cfg.checkpoint.every_seconds, cfg.checkpoint.every_steps
        on_cpu = self.runtime.device.type == "cpu"
        total = p.total if on_cpu else torch.tensor(p.total, dtype=torch.float64, device=self.runtime.device)
        unreported, last_report = 0, time.perf_counter()
        for batch in self.data.batches(state):
            mid_epoch = self.data.position < self.data.rows
            save = (
                self.saving
                and self.runtime.main
                and mid_epoch
                and bool(
                    (every_steps and (self.steps + 1) % every_steps == 0)
                    or (every_s and time.perf_counter() - self.last_save >= every_s)
                )
            )
            self.trainer.flags = torch.tensor([float(self.stop.signal is not None), float(save)], dtype=torch.float64)
            done = self.trainer.step(batch, self.data.global_rows if self.runtime.distributed else None)
            if done is not None:
                loss, rows = done
                total = total + (float(loss) if on_cpu else loss)
                p.seen += rows
                unreported += rows
                if self.reporter and (on_cpu or time.perf_counter() - last_report >= self.REPORT_EVERY):
                    p.total = float(total)
                    self.reporter.advance(unreported, p.total / p.seen)
                    unreported, last_report = 0, time.perf_counter()
            self.steps += 1
            flags = self.trainer.flags  # (summed over the processes of a data-parallel run)
            if flags[0] > 0 or flags[1] > 0:
                p.total = float(total)
                self.save()
                self.check_stop(force=bool(flags[0] > 0))
        p.total = float(total)  # (off the CPU: summed on the device, read here)
        if self.reporter and unreported:
            self.reporter.advance(unreported, p.total / max(p.seen, 1))
        seconds = time.perf_counter() - t0
        p.history.append(
            {
                "epoch": epoch,
                "train_loss": p.total / max(p.seen, 1),
                "seconds": seconds,
                "rows_per_s": p.seen / max(seconds, 1e-9),
            }
        )

    def save(self) -> None:
        if not self.saving:
            return
        self.progress.elapsed = self.elapsed()
        if self.runtime.main:
            ckpt.save(
                self.checkpoint,
                self.fp,
                self.trainer,
                self.stopper,
                self.data.state(),
                self.runtime.rng_state(),
                self.progress,
                self.runtime.world,
            )
        self.last_save = time.perf_counter()
        self.runtime.barrier()

    def check_stop(self, force: bool = False) -> None:
        if self.stop is not None and (force or self.stop.signal is not None):
            signum = self.stop.signal if self.stop.signal is not None else signal.SIGTERM
            raise _interrupted(signum, self.checkpoint if self.saving else None)


def _interrupted(signum: int, checkpoint: Path | None) -> Interrupted:
    what = "interrupted (Ctrl-C)" if signum == signal.SIGINT else "stopped by SIGTERM"
    code = 130 if signum == signal.SIGINT else 143
    if checkpoint is None:
        return Interrupted(f"training {what}; nothing was saved", code)
    return Interrupted(f"training {what}; checkpoint written to {checkpoint}", code, checkpoint)
