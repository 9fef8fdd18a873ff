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
from ..model.optim import load_optimizer_state, make_optimizers, optimizer_state, step_all
from ..model.plan import ModelConfig
from ..model.widedeep import RaggedBags, WideDeep, probabilities
from ..spec.types import Train
from .checkpoint import StoppingState, TrainerState
from .exchange import Exchange
from .runtime import Runtime
from .schedule import Schedule


def _by_member(
    each: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, int]:
    """Each member's logits [B, K] as the loss reads them: of one member, its logits [B] and the labels as they
    are; of several, every member's logit beside a copy of its row's label (and weight), so that the loss's
    mean is the mean of the members' losses. Also K."""
    k = each.shape[1]
    if k == 1:
        return each[:, 0], label, weight, 1
    weight = weight.unsqueeze(1).expand(-1, k) if weight is not None else None
    return each, label.unsqueeze(1).expand(-1, k), weight, k


class Trainer:
    def __init__(self, config: ModelConfig, train: Train, runtime: Runtime):
        self.runtime = runtime
        torch.manual_seed(train.seed)  # the initial weights (the same on every process)
        self.model = WideDeep(config).to(runtime.device)
        self.optimizers = make_optimizers(self.model, train)
        self.exchange = Exchange(self.model, runtime.device) if runtime.distributed else None
        self.flags = torch.zeros(2, dtype=torch.float64)  # requests shared across processes: stop, save
        self.bias_pending = True  # the first step starts the bias at the base rate (not after load_state)
        self.schedule: Schedule | None = None  # the step sizes over the run (a run's recipe sets it)

    def step(self, batch: Batch, global_rows: int | None = None) -> tuple[torch.Tensor, int] | None:
        """One optimization step on one batch (on the model's device). Returns the summed loss of the (global)
        batch as a float64 tensor on the device (reading it is the caller's choice: on a GPU that waits for the
        step) and its rows, or None for a batch too small to train on (one row, with batch norm).

        In a data-parallel run each process gives its own rows and `global_rows`, the rows of all processes'
        batches together; the gradients are exchanged (`exchange.Exchange`) and `flags` summed on the way."""
        if not self.model.training:
            self.model.train()
        if len(batch) < 2 and self.model.cfg.batch_norm and self.exchange is None:
            return None
        if self.bias_pending:
            self.start_bias(batch)
        with self.runtime.autocast():
            each = self.model.member_logits(batch.sparse, RaggedBags(batch.multi), batch.dense)  # [B, K]
        assert batch.label is not None, "a training source's batches carry their labels"
        logits, label, weight, members = _by_member(each.float(), batch.label, batch.weight)
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        if self.exchange is None:  # (of several members: the mean of their losses, each on its own logit)
            loss = F.binary_cross_entropy_with_logits(logits, label, weight=weight)
            loss.backward()
            total, rows = loss.detach().double() * len(batch), len(batch)
        else:  # this process's share of the global batch's mean loss
            assert global_rows is not None, "a data-parallel step is given the global batch's rows"
            loss = F.binary_cross_entropy_with_logits(logits, label, weight=weight, reduction="sum") / members
            (loss / global_rows).backward()
            shared = self.exchange(torch.cat([loss.detach().double().reshape(1).cpu(), self.flags]))
            total, rows, self.flags = shared[0], global_rows, shared[1:]
        if self.schedule is not None:
            self.schedule.before_step()
        step_all(self.optimizers, rows)  # the gradient of the mean over `rows` rows
        return total, rows

    @torch.no_grad()
    def start_bias(self, batch: Batch) -> None:
        """Start the shared bias at the log-odds of the (global) first batch's label rate, so that the first
        steps' gradients say what the features add to the base rate instead of all pushing every weight towards
        it at once (with large batches that overshoots before the next step can correct it: -0.003 AUC at batch
        8,192 on bench/synth.py's data)."""
        self.bias_pending = False
        assert batch.label is not None, "a training source's batches carry their labels"
        w = batch.weight if batch.weight is not None else torch.ones_like(batch.label)
        sums = torch.stack([(w * batch.label).sum(), w.sum()]).double()
        if self.exchange is not None:
            import torch.distributed as dist

            dist.all_reduce(sums)
        p = float((sums[0] / sums[1]).clamp(1e-4, 1 - 1e-4)) if float(sums[1]) > 0 else 0.5
        self.model.bias.fill_(float(np.log(p / (1 - p))))

    def evaluate(self, source, advance=None, limit: int | None = None, ndcg: bool = True) -> dict:
        """The metrics of the current weights on the rows of a labelled source (`wdcli.metrics.evaluate`; `ndcg`:
        NDCG@10 too, with groups): exact, over all rows (or the first `limit`), holding 12 to 20 bytes a row
        (score, label, weight, group).
        In a data-parallel run each process scores its share of the rows and all get every row's figures."""
        parts: dict[str, list[np.ndarray]] = {"score": [], "label": [], "weight": [], "group": []}
        seen = 0
        for batch in source.ordered(rank=self.runtime.rank, world=self.runtime.world):
            if limit is not None and seen >= limit:
                break
            seen += len(batch)
            with self.runtime.autocast():
                parts["score"].append(probabilities(self.model, [batch]))
            parts["label"].append(batch.label.cpu().numpy())
            if batch.weight is not None:
                parts["weight"].append(batch.weight.cpu().numpy())
            if batch.group is not None:
                parts["group"].append(_group_ids(batch.group) if self.runtime.distributed else batch.group)
            if advance is not None and not self.runtime.distributed:
                advance(len(batch))
        cat = {k: np.concatenate(v) if v else np.zeros(0, dtype=_DTYPES[k]) for k, v in parts.items()}
        if self.runtime.distributed:
            cat = {k: gather(v, self.runtime) for k, v in cat.items()}
            if advance is not None:
                advance(len(cat["label"]))
        n = len(cat["label"])
        weight, group = (cat[k] if n and len(cat[k]) == n else None for k in ("weight", "group"))
        return evaluate(cat["label"], cat["score"], weight, group, ndcg)

    def state(self) -> TrainerState:
        """The model's weights and every optimizer's state (by parameter name), for a checkpoint."""
        opt = optimizer_state(self.model, self.optimizers)
        return TrainerState(self.model.state_dict(), opt, tuple(type(o).__name__ for o in self.optimizers))

    def load_state(self, state: TrainerState) -> None:
        self.bias_pending = False
        self.model.load_state_dict(state.weights)
        load_optimizer_state(self.model, self.optimizers, state.optimizer)


def _group_ids(group: np.ndarray) -> np.ndarray:
    """Group values as ids that are the same in every process: a stable hash of their text, as float64 (equal
    values, equal ids), NaN for a null, which metrics count in no group as one process does."""
    import polars as pl

    from ..features import hashing

    values = pl.Series(group.tolist() if group.dtype == object else group, strict=False)  # (a null first: object)
    text = values.cast(pl.String)
    if values.dtype.is_float():  # (whole numbers as an integer column writes them: a batch with a null is float)
        whole = values.is_finite() & (values == values.floor())
        text = pl.select(
            pl.when(whole).then(values.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(text)
        ).to_series()
    ids = hashing.hash_strings(text).astype(np.float64)
    missing = values.is_null().to_numpy() | (values.is_nan().to_numpy() if values.dtype.is_float() else False)
    ids[missing] = np.nan
    return ids


def gather(values: np.ndarray, runtime: Runtime) -> np.ndarray:
    """Every process's array, concatenated (rank order), on every process."""
    import torch.distributed as dist

    t = torch.from_numpy(np.ascontiguousarray(values)).to(runtime.device)
    n = torch.tensor([len(t)], device=runtime.device)
    sizes = [torch.zeros_like(n) for _ in range(runtime.world)]
    dist.all_gather(sizes, n)
    counts = [int(x.item()) for x in sizes]
    padded = torch.nn.functional.pad(t, (0, max(counts) - len(t)))
    parts = [torch.zeros_like(padded) for _ in range(runtime.world)]
    dist.all_gather(parts, padded)
    return np.concatenate([p[:c].cpu().numpy() for p, c in zip(parts, counts)])


_DTYPES = {"score": np.float64, "label": np.float32, "weight": np.float32, "group": np.float64}


@dataclass
class EarlyStopping:
    """Keeps the best epoch's weights; says to stop when more than `patience` epochs have passed without
    improvement (Keras stops at `patience`: docs/spec.md)."""

    metric: str  # auc or gauc (higher is better), or logloss (lower is better)
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

    def state(self) -> StoppingState:
        return StoppingState(self.best, self.since_best, self.best_state)

    def restore(self, state: StoppingState, device: torch.device) -> None:
        self.best, self.since_best = state.best, state.since_best
        self.best_state = {k: v.to(device) for k, v in state.weights.items()} if state.weights is not None else None

    def _better(self, value: float) -> bool:
        if self.best is None or np.isnan(self.best):
            return not np.isnan(value)
        return value < self.best if self.metric == "logloss" else value > self.best
