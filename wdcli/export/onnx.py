"""A trained model as ONNX, for runtimes other than wdcli's (docs/serving.md, "Export").

The graph takes the encoded tensors, not raw columns: encoding (vocabularies, hashing, crosses, numeric
transforms) is the fitted pipeline's job, written beside the graph as plain JSON. Its inputs:

    sparse              int64   [batch, S]  ids of the univalent sparse features (signature.json names them)
    dense               float32 [batch, D]  the numeric features, transformed
    <name>.ids          int64   [batch, L]  one pair per multivalent feature: its ids, padded to the longest
    <name>.weights      float32 [batch, L]  row of the batch; padding has weight 0 (and any id, e.g. 0)

Ragged bags (ids + offsets, as wdcli's own model takes them) need a loop or a scatter in ONNX; a padded pair is
two Gathers and a ReduceSum that every runtime runs fast, and a row's padding adds nothing (weight 0). Outputs:
`score` (P(y=1), float32 [batch]) and `logit`. The graph is the model's own `WideDeep.logits`, traced with the
bags read through `PaddedBags` (tests/test_export.py checks onnxruntime's scores against torch's to 1e-5).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..features import Encoded, FittedPipeline
from ..features.transform import Ragged
from ..model.widedeep import WideDeep

OPSET = 18


class PaddedBags:
    """Bags as the graph takes them: (ids [B, L], weights [B, L]) a feature, padding of weight 0 (`Bags`)."""

    def __init__(self, padded: dict[str, tuple[torch.Tensor, torch.Tensor]]):
        self.padded = padded

    def sum(self, name: str, table: torch.Tensor, offset: int) -> torch.Tensor:
        ids, w = self.padded[name]  # [B, L]
        return (F.embedding(ids + offset, table) * w.unsqueeze(-1)).sum(dim=1)  # [B, dim]

    def weight_sum(self, name: str, squared: bool) -> torch.Tensor:
        _, w = self.padded[name]
        return (w * w if squared else w).sum(dim=1)  # [B]


class Exported(nn.Module):
    """The model's own `logits` on padded bags (ops every ONNX runtime has), and the score."""

    def __init__(self, model: WideDeep, multivalent: list[str]):
        super().__init__()
        self.m, self.multivalent = model, multivalent

    def forward(self, sparse: torch.Tensor, dense: torch.Tensor, *bags: torch.Tensor) -> tuple[torch.Tensor, ...]:
        padded = {name: (bags[2 * i], bags[2 * i + 1]) for i, name in enumerate(self.multivalent)}
        logit = self.m.logits(sparse, PaddedBags(padded), dense)  # [B]
        return torch.sigmoid(logit), logit


def padded(r: Ragged, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """A ragged feature as (ids [rows, L], weights [rows, L]), L the longest row (at least 1), padding 0."""
    counts = np.diff(r.offsets)
    width = max(int(counts.max()) if len(counts) else 0, 1)
    ids = np.zeros((rows, width), dtype=np.int64)
    weights = np.zeros((rows, width), dtype=np.float32)
    row = np.repeat(np.arange(rows), counts)
    col = np.arange(len(r.ids)) - np.repeat(r.offsets[:-1], counts)
    ids[row, col], weights[row, col] = r.ids, r.weights
    return ids, weights


def feeds(enc: Encoded, fitted: FittedPipeline) -> dict[str, np.ndarray]:
    """The ONNX graph's inputs for encoded rows (`Encoder(fitted)(frame)` or `transform`)."""
    out: dict[str, np.ndarray] = {
        "sparse": np.ascontiguousarray(enc.sparse, dtype=np.int64),
        "dense": np.ascontiguousarray(enc.dense, dtype=np.float32),
    }
    for name in fitted.multivalent:
        out[f"{name}.ids"], out[f"{name}.weights"] = padded(enc.multi[name], enc.n)
    return out


def signature(fitted: FittedPipeline) -> dict:
    """What each input and output of the graph holds (signature.json)."""
    inputs = [
        {"name": "sparse", "dtype": "int64", "shape": ["batch", len(fitted.univalent)], "columns": fitted.univalent},
        {"name": "dense", "dtype": "float32", "shape": ["batch", len(fitted.dense)], "columns": fitted.dense},
    ]
    for name in fitted.multivalent:
        inputs += [
            {"name": f"{name}.ids", "dtype": "int64", "shape": ["batch", f"{name}.length"], "feature": name},
            {
                "name": f"{name}.weights",
                "dtype": "float32",
                "shape": ["batch", f"{name}.length"],
                "feature": name,
                "padding": "weight 0",
            },
        ]
    return {
        "inputs": inputs,
        "outputs": [
            {"name": "score", "dtype": "float32", "shape": ["batch"]},
            {"name": "logit", "dtype": "float32", "shape": ["batch"]},
        ],
        "opset": OPSET,
    }


def export_onnx(model: WideDeep, fitted: FittedPipeline, path) -> None:
    """Write the graph to `path`, with the batch size and each bag's length dynamic."""
    graph = Exported(model, fitted.multivalent).eval()
    # any valid input traces the graph; two rows and two values a bag, so that no size is taken as fixed
    x = {
        "sparse": torch.zeros(2, len(fitted.univalent), dtype=torch.long),
        "dense": torch.zeros(2, len(fitted.dense), dtype=torch.float32),
    }
    batch = torch.export.Dim("batch", min=1)
    bags = []
    for i, name in enumerate(fitted.multivalent):
        x[f"{name}.ids"], x[f"{name}.weights"] = torch.zeros(2, 2, dtype=torch.long), torch.ones(2, 2)
        length = torch.export.Dim(f"length_{i}", min=1)
        bags += [{0: batch, 1: length}, {0: batch, 1: length}]
    shapes = ({0: batch}, {0: batch}, tuple(bags)) if bags else ({0: batch}, {0: batch})  # (*bags: one tuple)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # (it would list the torchvision ops it skips, and its own progress)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                tuple(x.values()),
                str(path),
                input_names=list(x),
                output_names=["score", "logit"],
                dynamic_shapes=shapes,
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    finally:
        quiet.setLevel(level)
