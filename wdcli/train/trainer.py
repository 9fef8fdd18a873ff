"""The trainer: a model, its optimizers and one step, the pieces a training run, a benchmark or a distributed
run is made of (in the way of torchtune's recipes), and early stopping.

    trainer = Trainer(config, spec.train, runtime)
    for batch in source.batches():
        trainer.step(batch)
    metrics = trainer.evaluate(validation)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..data.batch import Batch
from ..metrics import evaluate
from ..model.optim import make_optimizers
from ..model.plan import ModelConfig
from ..model.widedeep import WideDeep, probabilities
from ..spec.types import Train
from .runtime import Runtime


class Trainer:
    def __init__(self, config: ModelConfig, train: Train, runtime: Runtime):
        self.runtime = runtime
        torch.manual_seed(train.seed)  # the initial weights
        self.model = WideDeep(config).to(runtime.device)
        self.optimizers = make_optimizers(self.model, train)

    def step(self, batch: Batch) -> torch.Tensor | None:
        """One optimization step on one batch (on the model's device). Returns the batch's summed loss as a
        float64 tensor on the device (reading it is the caller's choice: on a GPU that waits for the step), or
        None for a batch too small to train on (one row, with batch norm)."""
        self.model.train()
        if len(batch) < 2 and self.model.cfg.batch_norm:
            return None
        logits = self.model(batch.sparse, batch.multi, batch.dense)
        loss = F.binary_cross_entropy_with_logits(logits, batch.label, weight=batch.weight)
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in self.optimizers:
            opt.step()
        return loss.detach().double() * len(batch)

    def evaluate(self, source, advance=None, limit: int | None = None) -> dict:
        """The metrics of the current weights on the rows of a labelled source (`wdcli.metrics.evaluate`):
        exact, over all rows (or the first `limit`), holding 12 to 20 bytes a row (score, label, weight, group)."""
        scores, labels, weights, groups, seen = [], [], [], [], 0
        for batch in source.ordered():
            if limit is not None and seen >= limit:
                break
            seen += len(batch)
            scores.append(probabilities(self.model, [batch]))
            labels.append(batch.label.cpu().numpy())
            if batch.weight is not None:
                weights.append(batch.weight.cpu().numpy())
            if batch.group is not None:
                groups.append(batch.group)
            if advance is not None:
                advance(len(batch))
        cat = lambda xs: np.concatenate(xs) if xs else None  # noqa: E731
        y = cat(labels) if labels else np.zeros(0, dtype=np.float32)
        return evaluate(y, cat(scores) if scores else np.zeros(0), cat(weights), cat(groups))

    def state(self) -> dict[str, torch.Tensor | object]:
        """The model's and every optimizer's state, flat (`model.<key>`, `opt<j>.<param>.<key>`)."""
        out: dict[str, torch.Tensor | object] = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        for j, opt in enumerate(self.optimizers):
            for idx, state in opt.state_dict()["state"].items():
                for key, value in state.items():
                    out[f"opt{j}.{idx}.{key}"] = value
        return out

    def load_state(self, flat: dict[str, torch.Tensor | object]) -> None:
        device = self.runtime.device
        self.model.load_state_dict({k[6:]: v for k, v in flat.items() if k.startswith("model.")})
        for j, opt in enumerate(self.optimizers):
            sd = opt.state_dict()
            state: dict[int, dict] = {}
            prefix = f"opt{j}."
            for k, v in flat.items():
                if k.startswith(prefix):
                    idx, key = k[len(prefix):].split(".", 1)
                    state.setdefault(int(idx), {})[key] = v.to(device) if isinstance(v, torch.Tensor) else v
            sd["state"] = state
            opt.load_state_dict(sd)


@dataclass
class EarlyStopping:
    """Keeps the best epoch's weights; says when `patience` epochs have passed without improvement."""

    metric: str  # auc (higher is better) or logloss (lower is better)
    patience: int
    best: float | None = None
    since_best: int = 0
    best_state: dict[str, torch.Tensor] | None = None

    def update(self, value: float, model: torch.nn.Module) -> bool:
        """Record an epoch's metric; True when it is the best so far (its weights are then kept)."""
        if self._better(value):
            self.best, self.since_best = value, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return True
        self.since_best += 1
        return False

    @property
    def stop(self) -> bool:
        return self.since_best > self.patience

    def _better(self, value: float) -> bool:
        if self.best is None or np.isnan(self.best):
            return not np.isnan(value)
        return value > self.best if self.metric == "auc" else value < self.best
