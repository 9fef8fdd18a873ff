"""A training run as a recipe of small steps (in the way of torchtune's recipes): set up (fit the pipeline, make
the batch sources and the trainer, warm-start or resume), train epoch by epoch with early stopping and
checkpoints, finish (keep the best weights, take the final metrics).

    result = train(spec)                   # reads the spec's files, in a runtime of its own (one process)
    result = train(spec, frames)           # or given frames: {"train": ..., "validation": ..., "test": ...}
    result = train(spec, runtime=runtime)  # in a runtime its caller started (and closes): a job's process

    run = Recipe.setup(spec, runtime)      # the steps `train` takes
    run.epochs()
    result = run.finish()
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import polars as pl
import torch

from ..data.cache import Encodings
from ..data.source import BatchSource
from ..data.stream import Stream
from ..errors import DataError, Interrupted
from ..features import FittedPipeline
from ..metrics import EpochRecord, RunMetrics, WarmReport
from ..model.plan import ModelConfig, build_config
from ..model.widedeep import WideDeep
from ..spec import Spec
from ..spec.settings import batch_rows
from . import checkpoint as ckpt
from .runtime import Runtime
from .schedule import Schedule
from .signals import StopRequests
from .sources import prepare
from .trainer import EarlyStopping, Trainer
from .warm import Previous, kept_numbers, warm_start

TRAIN_METRIC_ROWS = 1_000_000  # final metrics of streamed training rows are taken on their first rows


class Reporter(Protocol):
    """What a run says as it goes. A reporter may also have `task(description, total)`, which returns a
    function called with each number of rows done, for the work around the epochs (fitting, encoding,
    evaluating)."""

    def start_epoch(self, epoch: int, epochs: int, rows: int) -> None: ...
    def advance(self, rows: int, loss: float) -> None: ...
    def end_epoch(self, record: EpochRecord) -> None: ...


def _progress(reporter: Reporter | None):
    task = getattr(reporter, "task", None)
    return task if task is not None else (lambda description, total: lambda rows: None)


@dataclass
class TrainResult:
    spec: Spec
    fitted: FittedPipeline
    config: ModelConfig
    model: WideDeep
    trainer: Trainer  # its optimizers' state goes into the artifact (for a later warm start)
    metrics: RunMetrics  # each split's metrics of the kept weights, the epochs, what a warm start carried


def train(
    spec: Spec,
    frames: dict[str, pl.DataFrame] | None = None,
    reporter: Reporter | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    warm: Previous | None = None,
    runtime: Runtime | None = None,
    reuse: Encodings | None = None,
) -> TrainResult:
    """Fit the pipeline on the training rows, train the model, keep the best epoch's weights.

    With `checkpoint`, the run's state is written there now and then (spec.train.checkpoint) and on Ctrl-C or
    SIGTERM, which stop the run with `Interrupted`; `resume=True` continues from the checkpoint there. `warm`
    (a previous run) initialises the new model and optimizers (`wdcli.train.warm`). In a job's `runtime`
    every process runs this (on its share of the rows); the first reports and writes. `reuse` (with `frames`)
    keeps their encodings for later runs on them with the same features (`wdcli.data.cache.Encodings`)."""
    if runtime is None:
        cfg = spec.train
        with Runtime.start(threads=cfg.threads, device=cfg.device, precision=cfg.precision) as runtime:
            return train(spec, frames, reporter, checkpoint, resume, warm, runtime, reuse)
    run = Recipe.setup(spec, runtime, frames, reporter, checkpoint, warm, reuse)
    if resume and checkpoint is not None and checkpoint.exists():
        run.resume(checkpoint)
    run.epochs()
    return run.finish()


class _KeepNumbers:
    """Gives a fitted pipeline the numbers' forms (and so their clips) as the previous run has them, before any
    row is encoded, and says which it kept (`kept`: name -> what), for the checkpoint's fingerprint and the report."""

    def __init__(self, warm: Previous):
        self.warm, self.kept = warm, dict[str, str]()

    def __call__(self, fitted: FittedPipeline) -> FittedPipeline:
        fitted, self.kept = kept_numbers(self.warm, fitted)
        return fitted


class Recipe:
    """One run's parts (sources, trainer, early stopping) and the loop's state (epoch, loss, history)."""

    REPORT_EVERY = 0.25  # seconds between progress reports off the CPU (each one waits for the device)

    def __init__(self, spec: Spec, runtime: Runtime, fitted: FittedPipeline, sources: dict[str, BatchSource]):
        self.spec, self.runtime, self.fitted, self.sources = spec, runtime, fitted, sources
        self.config = build_config(fitted)
        self.trainer = Trainer(self.config, spec.train, runtime)
        cfg = spec.train.early_stopping
        self.stopper = EarlyStopping(cfg.metric, cfg.patience)
        self.data = sources["train"]
        self.reporter: Reporter | None = None
        self.checkpoint: Path | None = None  # where checkpoints go (None: nowhere)
        self.fingerprint = ""  # of the spec and its data, with a checkpoint's path
        self.warm_report: WarmReport | None = None
        self.loop = ckpt.LoopState()  # (its history grows in self.history)
        self.history: list[EpochRecord] = []
        self.start = self.last_save = time.perf_counter()
        self.steps = 0
        self.stop: StopRequests | None = None

    @staticmethod
    def setup(
        spec: Spec,
        runtime: Runtime,
        frames: dict[str, pl.DataFrame] | None = None,
        reporter: Reporter | None = None,
        checkpoint: Path | None = None,
        warm: Previous | None = None,
        reuse: Encodings | None = None,
    ) -> Recipe:
        """Fit the pipeline and make the batch sources, the trainer (warm-started from `warm`, if given) and
        early stopping."""
        reporter = reporter if runtime.main else None
        keep = _KeepNumbers(warm) if warm is not None else None
        fitted, sources, _ = prepare(spec, frames, runtime, _progress(reporter), reuse, keep)
        kept = keep.kept if keep is not None else {}
        run = Recipe(spec, runtime, fitted, sources)
        run.reporter = reporter
        if checkpoint is not None:
            run.fingerprint = ckpt.fingerprint(spec)
            if warm is not None and kept:  # (a model a warm start shaped resumes only with it)
                run.fingerprint += f"; {', '.join(kept)} kept from {warm.path}"
            run.checkpoint = checkpoint if spec.train.checkpoint.enabled else None
        if warm is not None:
            run.warm_report = warm_start(warm, run.trainer.model, run.trainer.optimizers, fitted, kept)
        batch = batch_rows(spec.train, fitted.rows)
        steps = -(-run.data.rows // batch)  # (an epoch's steps: every process's rows together)
        run.trainer.schedule = Schedule(spec.train.schedule, run.trainer.optimizers, steps, spec.train.epochs)
        run.start = run.last_save = time.perf_counter()  # (a run's seconds are its training's)
        return run

    @property
    def schedule(self) -> Schedule:
        assert self.trainer.schedule is not None  # (set by setup)
        return self.trainer.schedule

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def resume(self, checkpoint: Path) -> None:
        """Continue from a checkpoint: the trainer's, early stopping's, the source's and the loop's state."""
        kinds = tuple(type(o).__name__ for o in self.trainer.optimizers)
        saved = ckpt.Checkpoint.load(checkpoint, self.fingerprint, self.runtime.world, kinds)
        self.trainer.load_state(saved.trainer)
        self.stopper.restore(saved.stopping, self.runtime.device)
        self.data.restore(saved.source)
        self.runtime.set_rng_state(saved.rng)
        self.schedule.restore(saved.schedule)
        self.loop, self.history = saved.loop, list(saved.loop.history)
        self.start -= saved.loop.elapsed

    def epochs(self) -> None:
        """Train epoch by epoch until the last, or until early stopping says so; a checkpoint between epochs."""
        cfg = self.spec.train
        monitor = "validation" if "validation" in self.sources else "train"
        with StopRequests() as self.stop:
            for epoch in range(self.loop.epoch, cfg.epochs + 1):
                record = self.train_epoch(epoch)
                figures = self.trainer.evaluate(self.sources[monitor], ndcg=False)  # (what an epoch records)
                best = self.stopper.update(self.watched(figures, monitor), self.trainer.model)
                self.schedule.after_epoch(best)
                kept = {k: v for k, v in figures.items() if k in ("auc", "logloss", "gauc")}
                record = replace(record, split=monitor, best=best, **kept)
                self.history.append(record)
                if self.reporter:
                    self.reporter.end_epoch(record)
                if self.stopper.stop:
                    break
                self.loop = ckpt.LoopState(epoch + 1)
                if epoch < cfg.epochs:
                    self.save()
                self.check_stop()

    def watched(self, figures: dict[str, float], split: str) -> float:
        """The figure early stopping watches; gauc that the rows cannot give is an error, not a silent stop."""
        value = figures.get(self.stopper.metric)
        if value is not None and not (self.stopper.metric == "gauc" and math.isnan(value)):
            return value
        if value is None:
            why, fix = f"the {split} rows have no column '{self.spec.label.group}' (label.group)", "give them one"
        else:
            why = f"no group of the {split} rows holds both a positive and a negative row"
            fix = "hold out more rows of each group"
        raise DataError(f"train.early_stopping.metric gauc: {why}, so there is no gAUC to watch; {fix}, or use auc")

    def finish(self) -> TrainResult:
        """Keep the best epoch's weights and take each split's metrics (streamed training rows: the first
        TRAIN_METRIC_ROWS of them)."""
        seconds = self.elapsed()
        if self.stopper.best_state is not None:
            self.trainer.model.load_state_dict(self.stopper.best_state)
        splits = {}
        for split, source in self.sources.items():
            limit = TRAIN_METRIC_ROWS if split == "train" and isinstance(source, Stream) else None
            rows = min(source.rows, limit or source.rows)
            advance = _progress(self.reporter)(f"evaluating on {split} rows", rows)
            splits[split] = self.trainer.evaluate(source, advance, limit)
        metrics = RunMetrics(splits, self.history, seconds, self.config.param_counts(), self.warm_report)
        return TrainResult(self.spec, self.fitted, self.config, self.trainer.model, self.trainer, metrics)

    def train_epoch(self, epoch: int) -> EpochRecord:
        """Train one epoch, writing checkpoints as the spec says and stopping cleanly when asked; its record
        (before evaluation)."""
        t0 = time.perf_counter()
        if self.reporter:
            self.reporter.start_epoch(epoch, self.spec.train.epochs, self.data.rows)
            if self.data.at:  # resuming part-way through this epoch
                self.reporter.advance(self.data.at, self.loop.total / max(self.loop.seen, 1))
        meter = _Meter(self.loop.total, self.loop.seen, self.runtime.device, self.reporter)
        for batch in self.data.batches():
            self.trainer.flags = self._requests()
            meter.add(self.trainer.step(batch, self.data.global_rows if self.runtime.distributed else None))
            self.steps += 1
            flags = self.trainer.flags  # (summed over the processes of a data-parallel run)
            if flags[0] > 0 or flags[1] > 0:
                self.loop = ckpt.LoopState(epoch, meter.read(), meter.seen)
                self.save()
                self.check_stop(force=bool(flags[0] > 0))
        total = meter.finish()
        seconds = time.perf_counter() - t0
        self.loop = ckpt.LoopState(epoch, total, meter.seen)
        return EpochRecord(epoch, total / max(meter.seen, 1), seconds, meter.seen / max(seconds, 1e-9))

    def _requests(self) -> torch.Tensor:
        """This process's requests before a step, shared with the others by the step: stop (a signal came), and
        save (a checkpoint is due, mid-epoch, by steps or seconds)."""
        every_s, every_steps = self.spec.train.checkpoint.every_seconds, self.spec.train.checkpoint.every_steps
        due = bool(
            (every_steps and (self.steps + 1) % every_steps == 0)
            or (every_s and time.perf_counter() - self.last_save >= every_s)
        )
        save = self.checkpoint is not None and self.runtime.main and self.data.at < self.data.rows and due
        assert self.stop is not None, "steps run inside epochs' StopRequests"
        return torch.tensor([float(self.stop.signal is not None), float(save)], dtype=torch.float64)

    def save(self) -> None:
        """Write a checkpoint (the first process; the others wait for it)."""
        if self.checkpoint is None:
            return
        if self.runtime.main:
            loop = ckpt.LoopState(self.loop.epoch, self.loop.total, self.loop.seen, tuple(self.history), self.elapsed())
            saved = ckpt.Checkpoint(
                self.trainer.state(),
                loop,
                self.stopper.state(),
                self.data.position(),
                self.runtime.rng_state(),
                self.schedule.state,
            )
            saved.save(self.checkpoint, self.fingerprint, self.runtime.world)
        self.last_save = time.perf_counter()
        self.runtime.barrier()

    def check_stop(self, force: bool = False) -> None:
        if self.stop is not None and (force or self.stop.signal is not None):
            signum = self.stop.signal if self.stop.signal is not None else signal.SIGTERM
            raise _interrupted(signum, self.checkpoint, self.runtime.main)


class _Meter:
    """An epoch's summed loss and rows, and their reports: summed on the device off the CPU (read when reported,
    at most every REPORT_EVERY seconds), as floats on it."""

    def __init__(self, total: float, seen: int, device: torch.device, reporter: Reporter | None):
        self.on_cpu = device.type == "cpu"
        self.total = total if self.on_cpu else torch.tensor(total, dtype=torch.float64, device=device)
        self.seen, self.reporter = seen, reporter
        self.unreported, self.last_report = 0, time.perf_counter()

    def add(self, done: tuple[torch.Tensor, int] | None) -> None:
        if done is None:
            return
        loss, rows = done
        self.total = self.total + (float(loss) if self.on_cpu else loss)
        self.seen += rows
        self.unreported += rows
        if self.reporter and (self.on_cpu or time.perf_counter() - self.last_report >= Recipe.REPORT_EVERY):
            self.report()

    def read(self) -> float:
        return float(self.total)

    def report(self) -> None:
        assert self.reporter is not None, "called only with a reporter"
        self.reporter.advance(self.unreported, self.read() / max(self.seen, 1))
        self.unreported, self.last_report = 0, time.perf_counter()

    def finish(self) -> float:
        """The epoch's summed loss (off the CPU: summed on the device, read here), the last rows reported."""
        if self.reporter and self.unreported:
            self.report()
        return self.read()


def _interrupted(signum: int, checkpoint: Path | None, main: bool) -> Interrupted:
    what = "interrupted (Ctrl-C)" if signum == signal.SIGINT else "stopped by SIGTERM"
    code = 130 if signum == signal.SIGINT else 143
    if checkpoint is None:
        return Interrupted(f"training {what}; nothing was saved", code, speak=main)
    return Interrupted(f"training {what}; checkpoint written to {checkpoint}", code, checkpoint, speak=main)
