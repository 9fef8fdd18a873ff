"""Joint training of the wide and deep parts under one logistic loss.

The encoded data sits in tensors; each epoch walks a seeded permutation in slices of `batch_size`. After each
epoch a validation pass feeds early stopping, and the best weights are the ones kept.
"""

from __future__ import annotations

import copy
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F

from . import checkpoint as ckpt
from .data import load_splits, split_names
from .errors import DataError, Interrupted
from .metrics import evaluate
from .model import WideDeep
from .optim import make_optimizers
from .pipeline import Encoded, FittedPipeline, fit_pipeline, transform
from .plan import ModelConfig, build_config
from .spec import Spec


@dataclass
class Tensors:
    sparse: torch.Tensor
    multi: dict[str, tuple[torch.Tensor, torch.Tensor]]
    dense: torch.Tensor
    label: torch.Tensor | None
    weight: torch.Tensor | None

    @staticmethod
    def of(enc: Encoded) -> Tensors:
        t = lambda a: None if a is None else torch.from_numpy(a)  # noqa: E731
        return Tensors(t(enc.sparse), {k: (t(i), t(w)) for k, (i, w) in enc.multi.items()}, t(enc.dense),
                       t(enc.label), t(enc.weight))

    def rows(self, idx: torch.Tensor) -> Tensors:
        pick = lambda a: None if a is None else a.index_select(0, idx)  # noqa: E731
        return Tensors(pick(self.sparse), {k: (pick(i), pick(w)) for k, (i, w) in self.multi.items()},
                       pick(self.dense), pick(self.label), pick(self.weight))

    def slice(self, a: int, b: int) -> Tensors:
        cut = lambda x: None if x is None else x[a:b]  # noqa: E731
        return Tensors(cut(self.sparse), {k: (cut(i), cut(w)) for k, (i, w) in self.multi.items()},
                       cut(self.dense), cut(self.label), cut(self.weight))

    def __len__(self) -> int:
        return self.sparse.shape[0]


class Reporter(Protocol):
    def start_epoch(self, epoch: int, epochs: int, rows: int) -> None: ...
    def advance(self, rows: int, loss: float) -> None: ...
    def end_epoch(self, record: dict) -> None: ...


@dataclass
class TrainResult:
    spec: Spec
    fitted: FittedPipeline
    config: ModelConfig
    model: WideDeep
    metrics: dict[str, dict] = field(default_factory=dict)  # split -> metrics of the kept weights
    history: list[dict] = field(default_factory=list)  # one record per epoch
    seconds: float = 0.0


@torch.inference_mode()
def predict_logits(model: WideDeep, data: Tensors, batch_size: int = 1024) -> np.ndarray:
    """Logits in batches; ~1,000 rows a batch keeps the MLP's activations in cache (fastest on CPU)."""
    model.eval()
    out = [model(b.sparse, b.multi, b.dense) for b in (data.slice(a, a + batch_size)
                                                       for a in range(0, len(data), batch_size))]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def score(model: WideDeep, data: Tensors) -> np.ndarray:
    """Probabilities of the positive class."""
    return 1.0 / (1.0 + np.exp(-predict_logits(model, data).astype(np.float64)))


def evaluate_split(model: WideDeep, data: Tensors, enc: Encoded) -> dict:
    return evaluate(enc.label, score(model, data), enc.weight, enc.group)


def _better(metric: str, new: float, best: float | None) -> bool:
    if best is None or np.isnan(best):
        return not np.isnan(new)
    return new > best if metric == "auc" else new < best


def _fit_and_encode(spec: Spec, frames: dict[str, pl.DataFrame] | None):
    """Fit the pipeline on the training rows and encode every split; also how messages name each split."""
    names = {"train": "training data", "validation": "validation data", "test": "test data"}
    if frames is None:
        frames, names = load_splits(spec.data), split_names(spec.data)
    train_df = frames["train"]
    if spec.train.max_rows is not None and len(train_df) > spec.train.max_rows:
        train_df = train_df.head(spec.train.max_rows)
    fitted = fit_pipeline(spec, train_df, names["train"])
    encoded = {"train": transform(fitted, train_df, names["train"], with_label=True)}
    for split in ("validation", "test"):
        if split in frames and len(frames[split]):
            encoded[split] = transform(fitted, frames[split], names[split], with_label=True)
    return fitted, encoded, names


def train(spec: Spec, frames: dict[str, pl.DataFrame] | None = None, reporter: Reporter | None = None,
          checkpoint: Path | None = None, resume: bool = False) -> TrainResult:
    """Fit the pipeline on the training rows, train the model, keep the best epoch's weights.

    With `checkpoint`, the run's state is written there now and then (spec.train.checkpoint) and on Ctrl-C or
    SIGTERM, which stop the run with `Interrupted`; `resume=True` continues from the checkpoint there."""
    cfg = spec.train
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    fp = ckpt.fingerprint(spec) if checkpoint is not None else ""
    fitted, encoded, names = _fit_and_encode(spec, frames)
    tensors = {k: Tensors.of(v) for k, v in encoded.items()}
    config = build_config(fitted)
    torch.manual_seed(cfg.seed)
    model = WideDeep(config)
    optimizers = make_optimizers(model, cfg)
    monitor = "validation" if "validation" in tensors else "train"
    metric = cfg.early_stopping.metric
    result = TrainResult(spec, fitted, config, model)
    gen = torch.Generator().manual_seed(cfg.seed)
    data = tensors["train"]
    n = len(data)
    if n < 2:
        raise DataError(f"{names['train']}: {n} row{'s' if n != 1 else ''} to train on; training needs at least 2")
    pos = ckpt.Position(epoch=1)
    if resume and checkpoint is not None and checkpoint.exists():
        pos = ckpt.load(checkpoint, fp, model, optimizers)
        if pos.generator is not None:
            gen.set_state(pos.generator)
        if pos.rng is not None:
            torch.set_rng_state(pos.rng)
    saving = checkpoint is not None and cfg.checkpoint.enabled
    every_s, every_steps = cfg.checkpoint.every_seconds, cfg.checkpoint.every_steps
    start = time.perf_counter() - pos.elapsed
    last_save, steps = time.perf_counter(), 0
    best, best_state, since_best, result.history = pos.best, pos.best_state, pos.since_best, pos.history

    def save(position: ckpt.Position) -> None:
        nonlocal last_save
        position.generator, position.rng = gen.get_state(), torch.get_rng_state()
        position.best, position.best_state, position.since_best = best, best_state, since_best
        position.history, position.elapsed = result.history, time.perf_counter() - start
        ckpt.save(checkpoint, fp, model, optimizers, position)
        last_save = time.perf_counter()

    with ckpt.StopRequests() as stop:
        for epoch in range(pos.epoch, cfg.epochs + 1):
            model.train()
            t0 = time.perf_counter()
            if reporter:
                reporter.start_epoch(epoch, cfg.epochs, n)
            if epoch == pos.epoch and pos.perm is not None:  # resuming part-way through this epoch
                perm, at, total, seen = pos.perm, pos.at, pos.total, pos.seen
                if reporter and at:
                    reporter.advance(at, total / max(seen, 1))
            else:
                perm, at, total, seen = torch.randperm(n, generator=gen), 0, 0.0, 0
            for a in range(at, n, cfg.batch_size):
                b = data.rows(perm[a:a + cfg.batch_size])
                if not (len(b) < 2 and model.cfg.batch_norm):
                    logits = model(b.sparse, b.multi, b.dense)
                    loss = F.binary_cross_entropy_with_logits(logits, b.label, weight=b.weight)
                    for opt in optimizers:
                        opt.zero_grad(set_to_none=True)
                    loss.backward()
                    for opt in optimizers:
                        opt.step()
                    total += loss.item() * len(b)
                    seen += len(b)
                    if reporter:
                        reporter.advance(len(b), total / seen)
                steps += 1
                done = a + cfg.batch_size
                if stop.signal is not None or (saving and done < n and (
                        (every_steps and steps % every_steps == 0)
                        or (every_s and time.perf_counter() - last_save >= every_s))):
                    if saving:
                        save(ckpt.Position(epoch, done, perm, total=total, seen=seen))
                    if stop.signal is not None:
                        raise _interrupted(stop.signal, checkpoint if saving else None)
            record = {"epoch": epoch, "train_loss": total / max(seen, 1), "seconds": time.perf_counter() - t0,
                      "rows_per_s": seen / max(time.perf_counter() - t0, 1e-9)}
            val = evaluate_split(model, tensors[monitor], encoded[monitor])
            record.update({f"{monitor}_{k}": v for k, v in val.items() if k in ("auc", "logloss", "gauc")})
            result.history.append(record)
            if reporter:
                reporter.end_epoch(record)
            if _better(metric, val[metric], best):
                best, best_state, since_best = val[metric], copy.deepcopy(model.state_dict()), 0
                record["best"] = True
            else:
                since_best += 1
                if since_best > cfg.early_stopping.patience:
                    break
            if saving and epoch < cfg.epochs:
                save(ckpt.Position(epoch + 1))
            if stop.signal is not None:
                raise _interrupted(stop.signal, checkpoint if saving else None)
    result.seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    for split in tensors:
        result.metrics[split] = evaluate_split(model, tensors[split], encoded[split])
    return result


def _interrupted(signum: int, checkpoint: Path | None) -> Interrupted:
    what = "interrupted (Ctrl-C)" if signum == signal.SIGINT else "stopped by SIGTERM"
    code = 130 if signum == signal.SIGINT else 143
    if checkpoint is None:
        return Interrupted(f"training {what}; nothing was saved", code)
    return Interrupted(f"training {what}; checkpoint written to {checkpoint}", code, checkpoint)
