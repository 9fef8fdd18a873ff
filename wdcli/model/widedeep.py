"""The Wide & Deep model: logit = wide(x) + deep(x) + bias (Cheng et al., 2016).

Only `forward` lives here; the loss, the optimizers and the loop are in `wdcli.train`. The model is rebuilt
from its `ModelConfig` (plain data saved beside the weights), never unpickled.

Where every weight sits is the config's layout (`wdcli.model.layout`): the wide part is one weight per id of
every wide feature, in a single table (`wide.weight`, [wide_size, 1]), started at zero as FTRL does; the deep
part's logical tables sit in one physical table per embedding dimension (`embed.<dim>.weight`); the MLP's input
is the layout's fields in order. Both tables are sparse: a batch's gradient touches only the rows it used.
Multivalent features arrive ragged (`wdcli.data.batch.Bag`) and go through `embedding_bag`; `logits` reads them
through `Bags`, so that the ONNX export runs this very code on padded ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.batch import Bag, Batch
from .blocks import CrossLayers, DotInteraction, PeriodicEmbedding, PiecewiseEmbedding, ValuesEmbedding
from .layout import DOT_KINDS, EMBEDDED_NUMBERS
from .plan import ModelConfig

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


def _lecun(layer: nn.Linear) -> nn.Linear:
    """LeCun's initialization of the weights: N(0, 1 / fan_in); torch's default (uniform, variance
    1 / (3 fan_in)) shrinks the signal about six-fold per ReLU layer, so that at the start the deep part's output
    and the gradients its embeddings get are nearly nil: on the apps sample the joint model then sat eight
    epochs on a plateau before it learnt the apps' interaction, and 2 of 9 seeds never left it. The biases keep
    torch's spread (zero biases cost census's draft 0.0026 AUC: docs/benchmarks.md)."""
    nn.init.kaiming_normal_(layer.weight, nonlinearity="linear")
    return layer


class Bags(Protocol):
    """The multivalent features of a batch, as the model reads them: ragged (`RaggedBags`, training and scoring)
    or padded (the ONNX export's inputs)."""

    def sum(self, name: str, table: torch.Tensor, offset: int) -> torch.Tensor:
        """[B, dim]: each row's sum of w_i * table[offset + id_i] over its values."""
        ...

    def weight_sum(self, name: str, squared: bool) -> torch.Tensor:
        """[B]: each row's sum of its values' weights (or of their squares)."""
        ...


class RaggedBags:
    """Bags as a batch holds them (`Batch.multi`: ids, offsets, weights), summed with `embedding_bag`."""

    def __init__(self, multi: dict[str, Bag]):
        self.multi = multi

    def sum(self, name: str, table: torch.Tensor, offset: int) -> torch.Tensor:
        bag = self.multi[name]
        return F.embedding_bag(
            bag.ids + offset,
            table,
            bag.offsets,
            mode="sum",
            sparse=True,  # (a sparse gradient for the table)
            per_sample_weights=bag.weights,
            include_last_offset=True,
        )

    def weight_sum(self, name: str, squared: bool) -> torch.Tensor:
        bag = self.multi[name]
        w = bag.weights * bag.weights if squared else bag.weights
        rows = torch.repeat_interleave(
            torch.arange(len(bag.offsets) - 1, device=w.device), bag.offsets.diff(), output_size=len(w)
        )
        return torch.zeros(len(bag.offsets) - 1, dtype=w.dtype, device=w.device).index_add_(0, rows, w)


def pool(bags: Bags, name: str, table: torch.Tensor, offset: int, combiner: str) -> torch.Tensor:
    """A multivalent feature's embedding [B, dim] by its combiner: sum (of w_i e_i), mean (that over sum w_i) or
    sqrtn (that over sqrt(sum w_i^2)); a row without values is 0."""
    e = bags.sum(name, table, offset)  # [B, dim]
    if combiner == "sum":
        return e
    norm = bags.weight_sum(name, squared=combiner == "sqrtn")  # [B]
    return e / (norm if combiner == "mean" else norm.sqrt()).clamp(min=1e-12).unsqueeze(1)


def _tower(cfg: ModelConfig, width: int) -> tuple[nn.Sequential, nn.Linear]:
    """An MLP of the config's hidden layers over `width` inputs, and its output layer (no bias: the model has
    one shared bias)."""
    layers: list[nn.Module] = []
    for h in cfg.hidden:
        layers += [_lecun(nn.Linear(width, h)), *_after(cfg, h)]
        width = h
    return nn.Sequential(*layers), nn.Linear(width, 1, bias=False)


def _after(cfg: ModelConfig, width: int) -> list[nn.Module]:
    """What follows each hidden linear layer of `width` outputs: batch norm (if any), the activation, dropout (if
    any)."""
    norm = [nn.BatchNorm1d(width)] if cfg.batch_norm else []
    return [*norm, ACTIVATIONS[cfg.activation](), *([nn.Dropout(cfg.dropout)] if cfg.dropout > 0 else [])]


class Members(nn.Module):
    """K members' MLPs (deep.members) packed: each the config's hidden layers over the same input and an output
    of its own, computed together (the first layer one matrix of K blocks of rows, the others batched products),
    so that K members cost about one MLP K times as wide, not K passes. Each member's weights start as one MLP's
    (`_tower`'s: LeCun's weights, torch's biases, the output torch's), each drawn apart."""

    def __init__(self, cfg: ModelConfig, width: int):
        super().__init__()
        k, hidden = cfg.members, list(cfg.hidden)
        self.k, self.hidden = k, hidden
        self.first = _lecun(nn.Linear(width, k * hidden[0])) if hidden else None
        self.weight = nn.ParameterList()  # [K, in, out] for each hidden layer after the first
        self.bias = nn.ParameterList()
        for a, b in zip(hidden, hidden[1:]):
            self.weight.append(nn.Parameter(torch.randn(k, a, b) / math.sqrt(a)))
            self.bias.append(nn.Parameter(torch.empty(k, b).uniform_(-1 / math.sqrt(a), 1 / math.sqrt(a))))
        # norm, activation, dropout of each layer (a member's units: its own columns of batch norm)
        self.after = nn.ModuleList([nn.Sequential(*_after(cfg, k * h)) for h in hidden])
        last = hidden[-1] if hidden else width
        self.out = nn.Parameter(torch.empty(k, last).uniform_(-1 / math.sqrt(last), 1 / math.sqrt(last)))
        # the loss is the mean of the members' losses, which gives each member's own weights 1/K of the gradient
        # of its loss: K times it is that gradient whole, each member's steps (and weight decay, and AdaGrad's
        # start) those of an MLP trained alone; the shared parts keep the mean
        for p in self.parameters():
            p.register_hook(lambda g, k=k: g * k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The deep input [B, width] -> each member's deep output [B, K]."""
        b = x.shape[0]
        if self.first is None:
            return x @ self.out.T  # [B, K]
        h = self.after[0](self.first(x)).view(b, self.k, self.hidden[0])  # [B, K, h0]
        for i, (w, bias) in enumerate(zip(self.weight, self.bias)):
            h = torch.einsum("bki,kio->bko", h, w) + bias  # [B, K, h]
            h = self.after[i + 1](h.reshape(b, self.k * w.shape[2])).view(b, self.k, w.shape[2])
        return (h * self.out).sum(dim=-1)  # [B, K]


class WideDeep(nn.Module):
    wide_cols: torch.Tensor  # buffers [W]: the wide part's univalent columns of `sparse`, and their offsets
    wide_offsets: torch.Tensor

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg, self.layout = cfg, cfg.layout
        self.bias = nn.Parameter(torch.zeros(1))
        if cfg.wide:
            self.wide = nn.Embedding(self.layout.wide_size, 1, sparse=True)
            nn.init.zeros_(self.wide.weight)
            uni = [s for s in self.layout.wide if s.column >= 0]
            self._index("wide_cols", [s.column for s in uni])
            self._index("wide_offsets", [s.offset for s in uni])
            self.wide_multi = [(s.name, s.offset) for s in self.layout.wide if s.column < 0]
        if cfg.has_deep:
            self._build_deep(cfg)

    def _index(self, name: str, values: list[int]) -> None:
        self.register_buffer(name, torch.tensor(values, dtype=torch.long), persistent=False)

    def _build_deep(self, cfg: ModelConfig) -> None:
        layout = self.layout
        tables = {str(d): nn.Embedding(n, d, sparse=True) for d, n in layout.rows.items()}
        for e in tables.values():
            nn.init.normal_(e.weight, std=0.05)
        self.embed = nn.ModuleDict(tables)
        self.groups = layout.groups()
        for i, g in enumerate(self.groups):  # each group's columns of its input (and rows of its table)
            if g.kind not in ("bag", "dot"):
                self._index(f"cols_{i}", [f.column for f in g.fields])
            if g.kind == "embedding":
                self._index(f"offsets_{i}", [layout.tables[f.table].offset for f in g.fields])
        self._build_blocks(cfg)
        if cfg.members == 1:
            self.mlp, self.out = _tower(cfg, layout.width)
        else:  # (deep.members: K MLPs over the same input, packed)
            self.members = Members(cfg, layout.width)

    def _build_blocks(self, cfg: ModelConfig) -> None:
        """The optional blocks (`wdcli.model.blocks`): an embedding per group of embedded numeric columns, the
        dot or cross interaction, dropout on the embeddings."""
        numeric = {n.name: n for n in cfg.numeric}
        self.numeric = nn.ModuleDict()
        for i, g in enumerate(self.groups):
            first = numeric.get(g.fields[0].name) if g.kind in EMBEDDED_NUMBERS else None
            if first is not None and g.kind == "periodic":
                self.numeric[str(i)] = PeriodicEmbedding(len(g.fields), first.frequencies, first.sigma, g.dim)
            elif first is not None and g.kind == "values":
                self.numeric[str(i)] = ValuesEmbedding([numeric[f.name].known for f in g.fields], g.dim)
            elif first is not None:
                self.numeric[str(i)] = PiecewiseEmbedding([numeric[f.name].edges for f in g.fields], g.dim)
        inter = cfg.interaction
        inputs = [(len(g.fields), g.dim) for g in self.groups if g.kind in DOT_KINDS]
        self.dot = DotInteraction(inputs, inter.dim) if inter.kind == "dot" else None
        self.cross = CrossLayers(self.layout.width, inter.layers, inter.rank) if inter.kind == "cross" else None
        self.drop = nn.Dropout(cfg.embedding_dropout) if cfg.embedding_dropout > 0 else None

    def forward(self, sparse: torch.Tensor, multi: dict[str, Bag], dense: torch.Tensor) -> torch.Tensor:
        """sparse [B, S] int64, multi name -> Bag (ragged ids, offsets [B + 1], weights), dense [B, D] float
        -> logits [B]."""
        return self.logits(sparse, RaggedBags(multi), dense)

    def logits(self, sparse: torch.Tensor, bags: Bags, dense: torch.Tensor) -> torch.Tensor:
        """forward, with the multivalent features read through `bags` (ragged or padded) -> logits [B]: of a
        model of several members, the mean of theirs."""
        each = self.member_logits(sparse, bags, dense)  # [B, K]
        return each[:, 0] if each.shape[1] == 1 else each.mean(dim=1)  # [B]

    def member_logits(self, sparse: torch.Tensor, bags: Bags, dense: torch.Tensor) -> torch.Tensor:
        """Each member's logit [B, K]: the bias, the wide part and the member's own MLP over the deep input."""
        logit = self.bias.expand(sparse.shape[0])
        if self.cfg.wide:
            ids = sparse[:, self.wide_cols] + self.wide_offsets  # [B, W]
            logit = logit + self.wide(ids).sum(dim=(1, 2))  # [B]
            for name, offset in self.wide_multi:
                logit = logit + bags.sum(name, self.wide.weight, offset).squeeze(-1)  # [B]
        if not self.cfg.has_deep:
            return logit.unsqueeze(1)  # [B, 1]
        x = self.deep_input(sparse, bags, dense)  # [B, layout.width]
        deep = self.out(self.mlp(x)) if self.cfg.members == 1 else self.members(x)  # [B, K]
        return logit.unsqueeze(1) + deep  # [B, K]

    def deep_input(self, sparse: torch.Tensor, bags: Bags, dense: torch.Tensor) -> torch.Tensor:
        """The MLP's input [B, layout.width]: every field's columns, in the layout's order (through the cross
        layers, when the model has them)."""
        parts: list[torch.Tensor] = []
        vectors: list[torch.Tensor] = []  # each dot input group's fields [B, k, dim]
        for i, g in enumerate(self.groups):
            if g.kind == "dot":
                assert self.dot is not None, "the layout has dot fields only for a dot interaction"
                parts.append(self.dot(vectors))  # [B, pairs]
                continue
            if g.kind == "numeric":
                parts.append(dense[:, getattr(self, f"cols_{i}")])  # [B, k]
                continue
            if g.kind == "embedding":
                ids = sparse[:, getattr(self, f"cols_{i}")] + getattr(self, f"offsets_{i}")  # [B, k]
                e = self.embed[str(g.dim)](ids)  # [B, k, dim]
            elif g.kind == "bag":
                f = g.fields[0]
                offset = self.layout.tables[f.table].offset
                e = pool(bags, f.name, self.table(g.dim).weight, offset, f.combiner).unsqueeze(1)  # [B, 1, dim]
            else:  # periodic, piecewise, values
                e = self.numeric[str(i)](dense[:, getattr(self, f"cols_{i}")])  # [B, k, dim]
            if self.drop is not None and g.kind in ("embedding", "bag"):
                e = self.drop(e)
            vectors.append(e)
            parts.append(e.flatten(1))  # [B, k * dim]
        x = torch.cat(parts, dim=1)
        return self.cross(x) if self.cross is not None else x

    def table(self, dim: int) -> nn.Embedding:
        """The deep part's embedding table of vectors of `dim` (torch's ModuleDict types its items as Module)."""
        e = self.embed[str(dim)]
        assert isinstance(e, nn.Embedding), "the deep part's tables are nn.Embedding"
        return e

    def sparse_parameters(self) -> list[torch.Tensor]:
        """The tables whose gradients are sparse (only the rows a batch used)."""
        tables = [self.table(d).weight for d in self.layout.rows] if self.cfg.has_deep else []
        return self.wide_parameters() + tables

    def wide_parameters(self) -> list[torch.Tensor]:
        return [self.wide.weight] if self.cfg.wide else []

    def deep_parameters(self) -> list[torch.Tensor]:
        if not self.cfg.has_deep:
            return []
        return [p for n, p in self.named_parameters() if not n.startswith("wide.") and n != "bias"]


@torch.inference_mode()
def probabilities(model: WideDeep, batches: Iterable[Batch]) -> np.ndarray:
    """P(y=1) of every row of the batches, in order, as float64 (the sigmoid taken in float64)."""
    if model.training:
        model.eval()
    logits = [model(b.sparse, b.multi, b.dense).float().cpu() for b in batches]
    x = torch.cat(logits).numpy().astype(np.float64) if logits else np.zeros(0)
    with np.errstate(over="ignore"):  # exp(-x) of a logit under -709 is inf, and its probability 0, as it should be
        return 1.0 / (1.0 + np.exp(-x))
