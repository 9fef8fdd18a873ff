"""Joint training of the wide and deep parts under one logistic loss.

The encoded data sits in tensors; each epoch walks a seeded permutation in slices of `batch_size`. After each
epoch a validation pass feeds early stopping, and the best weights are the ones kept.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F

from .data import load_splits
from .errors import DataError
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


def train(spec: Spec, frames: dict[str, pl.DataFrame] | None = None, reporter: Reporter | None = None) -> TrainResult:
    """Fit the pipeline on the training rows, train the model, keep the best epoch's weights."""
    cfg = spec.train
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    frames = frames if frames is not None else load_splits(spec.data)
    train_df = frames["train"]
    if cfg.max_rows is not None and len(train_df) > cfg.max_rows:
        train_df = train_df.head(cfg.max_rows)
    fitted = fit_pipeline(spec, train_df, "training data")
    encoded = {"train": transform(fitted, train_df, "training data", with_label=True)}
    for split in ("validation", "test"):
        if split in frames and len(frames[split]):
            encoded[split] = transform(fitted, frames[split], f"{split} data", with_label=True)
    tensors = {k: Tensors.of(v) for k, v in encoded.items()}
    config = build_config(fitted)
    torch.manual_seed(cfg.seed)
    model = WideDeep(config)
    optimizers = make_optimizers(model, cfg)
    monitor = "validation" if "validation" in tensors else "train"
    metric = cfg.early_stopping.metric
    result = TrainResult(spec, fitted, config, model)
    best, best_state, since_best = None, None, 0
    gen = torch.Generator().manual_seed(cfg.seed)
    data = tensors["train"]
    n = len(data)
    if n < 2:
        raise DataError(f"training data: {n} row{'s' if n != 1 else ''} after the split; training needs at least 2")
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        if reporter:
            reporter.start_epoch(epoch, cfg.epochs, n)
        perm = torch.randperm(n, generator=gen)
        total, seen = 0.0, 0
        for a in range(0, n, cfg.batch_size):
            b = data.rows(perm[a:a + cfg.batch_size])
            if len(b) < 2 and model.cfg.batch_norm:
                continue
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
    result.seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    for split in tensors:
        result.metrics[split] = evaluate_split(model, tensors[split], encoded[split])
    return result
