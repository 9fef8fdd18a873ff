"""The Wide & Deep model: logit = wide(x) + deep(x) + bias (Cheng et al., 2016).

Only `forward` lives here; the loss, the optimizers and the loop are in `wdcli.train`. The model is rebuilt
from its `ModelConfig` (plain data saved beside the weights), never unpickled.

Storage: the wide part is one weight per id of every wide feature, in a single table (`wide.weight`,
[wide_size, 1]) at per-feature offsets, started at zero as FTRL does. The deep part's tables are stored one
physical table per embedding dimension (`embed.<dim>.weight`), logical tables at row offsets, so that a
batch needs one lookup per dimension. Both are sparse: a batch's gradient touches only the rows it used.
Multivalent features arrive ragged (`wdcli.data.batch.Bag`) and go through `embedding_bag`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.batch import Bag, Batch
from .plan import ModelConfig

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


class WideDeep(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.bias = nn.Parameter(torch.zeros(1))
        if cfg.wide:
            self.wide = nn.Embedding(cfg.wide_size, 1, sparse=True)
            nn.init.zeros_(self.wide.weight)
            offsets, at = {}, 0
            for f in cfg.wide:
                offsets[f.name], at = at, at + f.cardinality
            uni = [f for f in cfg.wide if f.column >= 0]
            self.register_buffer("wide_cols", torch.tensor([f.column for f in uni], dtype=torch.long), persistent=False)
            self.register_buffer(
                "wide_offsets", torch.tensor([offsets[f.name] for f in uni], dtype=torch.long), persistent=False
            )
            self.wide_multi = [(f.name, offsets[f.name]) for f in cfg.wide if f.column < 0]
        if cfg.deep:
            self._build_deep(cfg)

    def _build_deep(self, cfg: ModelConfig) -> None:
        # logical tables -> one physical table per dimension, at row offsets
        rows: dict[int, int] = {}
        where: dict[str, tuple[int, int]] = {}  # logical table -> (dim, row offset)
        for t in cfg.tables:
            where[t.name] = (t.dim, rows.get(t.dim, 0))
            rows[t.dim] = rows.get(t.dim, 0) + t.cardinality
        self.embed = nn.ModuleDict({str(d): nn.Embedding(n, d, sparse=True) for d, n in sorted(rows.items())})
        for e in self.embed.values():
            nn.init.normal_(e.weight, std=0.05)
        self.deep_uni: list[tuple[int, str, str]] = []  # (dim, buffer of columns, buffer of offsets)
        for d in sorted(rows):
            feats = [f for f in cfg.deep if f.column >= 0 and where[cfg.table_of(f.name)][0] == d]
            if feats:
                self.register_buffer(f"deep_cols_{d}", torch.tensor([f.column for f in feats]), persistent=False)
                self.register_buffer(
                    f"deep_offsets_{d}", torch.tensor([where[cfg.table_of(f.name)][1] for f in feats]), persistent=False
                )
                self.deep_uni.append((d, f"deep_cols_{d}", f"deep_offsets_{d}"))
        self.deep_multi = [(f.name, *where[cfg.table_of(f.name)], f.combiner) for f in cfg.deep if f.column < 0]
        layers: list[nn.Module] = []
        width = cfg.deep_input_width
        for h in cfg.hidden:
            layers.append(nn.Linear(width, h))
            if cfg.batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(ACTIVATIONS[cfg.activation]())
            if cfg.dropout > 0:
                layers.append(nn.Dropout(cfg.dropout))
            width = h
        self.mlp = nn.Sequential(*layers)
        self.out = nn.Linear(width, 1, bias=False)
        self.register_buffer("dense_cols", torch.tensor(cfg.dense, dtype=torch.long), persistent=False)

    def forward(self, sparse: torch.Tensor, multi: dict[str, Bag], dense: torch.Tensor) -> torch.Tensor:
        """sparse [B, S] int64, multi name -> Bag (ragged ids, offsets [B + 1], weights), dense [B, D] float
        -> logits [B]."""
        logit = self.bias.expand(sparse.shape[0])
        if self.cfg.wide:
            ids = sparse[:, self.wide_cols] + self.wide_offsets  # [B, W]
            logit = logit + self.wide(ids).sum(dim=(1, 2))  # [B]
            for name, offset in self.wide_multi:
                logit = logit + _bag_sum(self.wide.weight, multi[name], offset).squeeze(-1)  # [B]
        if self.cfg.deep:
            parts = []
            for d, cols, offsets in self.deep_uni:
                ids = sparse[:, getattr(self, cols)] + getattr(self, offsets)  # [B, k]
                parts.append(self.embed[str(d)](ids).flatten(1))  # [B, k * d]
            for name, d, offset, combiner in self.deep_multi:
                bag = multi[name]
                e = _bag_sum(self.embed[str(d)].weight, bag, offset)  # [B, d]: sum of w_i * e_i
                if combiner != "sum":
                    w = bag.weights if combiner == "mean" else bag.weights * bag.weights
                    rows = torch.repeat_interleave(
                        torch.arange(len(bag.offsets) - 1, device=w.device), bag.offsets.diff(), output_size=len(w)
                    )
                    norm = torch.zeros(len(e), dtype=w.dtype, device=w.device).index_add_(0, rows, w)  # [B]
                    e = e / (norm if combiner == "mean" else norm.sqrt()).clamp(min=1e-12).unsqueeze(1)
                parts.append(e)
            parts.append(dense[:, self.dense_cols])  # [B, D']
            x = torch.cat(parts, dim=1)  # [B, deep_input_width]
            logit = logit + self.out(self.mlp(x)).squeeze(-1)
        return logit  # [B]

    def sparse_parameters(self) -> list[nn.Parameter]:
        """The tables whose gradients are sparse (only the rows a batch used)."""
        return self.wide_parameters() + ([e.weight for e in self.embed.values()] if self.cfg.deep else [])

    def wide_parameters(self) -> list[nn.Parameter]:
        return [self.wide.weight] if self.cfg.wide else []

    def deep_parameters(self) -> list[nn.Parameter]:
        if not self.cfg.deep:
            return []
        return [p for n, p in self.named_parameters() if not n.startswith("wide.") and n != "bias"]


def _bag_sum(table: torch.Tensor, bag: Bag, offset: int) -> torch.Tensor:
    """Sum of each row's weighted embeddings: [B, dim] (a sparse gradient for the table)."""
    return F.embedding_bag(
        bag.ids + offset,
        table,
        bag.offsets,
        mode="sum",
        sparse=True,
        per_sample_weights=bag.weights,
        include_last_offset=True,
    )


@torch.inference_mode()
def probabilities(model: WideDeep, batches: Iterable[Batch]) -> np.ndarray:
    """P(y=1) of every row of the batches, in order, as float64 (the sigmoid taken in float64)."""
    if model.training:
        model.eval()
    logits = [model(b.sparse, b.multi, b.dense).float().cpu() for b in batches]
    x = torch.cat(logits).numpy().astype(np.float64) if logits else np.zeros(0)
    return 1.0 / (1.0 + np.exp(-x))
