"""A batch: the model's input for some rows as torch tensors, on one device.

Multivalent features are ragged (`Bag`: ids, offsets, weights), as `torch.nn.functional.embedding_bag` takes
them, so a row with many values costs its values only. `Batch.of(encoded)` shares the numpy arrays' memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..features import Encoded


@dataclass(frozen=True)
class Bag:
    """Ragged ids of one multivalent feature: row i's are ids[offsets[i]:offsets[i + 1]]."""

    ids: torch.Tensor  # int64 [nnz]
    offsets: torch.Tensor  # int64 [B + 1]
    weights: torch.Tensor  # float32 [nnz]

    def take(self, idx: torch.Tensor) -> Bag:
        """The bags of rows idx, in that order."""
        starts = self.offsets[idx]
        counts = self.offsets[idx + 1] - starts
        offsets = torch.zeros(len(idx) + 1, dtype=torch.long, device=idx.device)
        torch.cumsum(counts, 0, out=offsets[1:])
        total = int(offsets[-1]) if idx.device.type == "cpu" else None  # (on a GPU: no sync, the size is computed)
        pos = torch.repeat_interleave(starts - offsets[:-1], counts, output_size=total)
        pos += torch.arange(len(pos), device=idx.device)
        return Bag(self.ids[pos], offsets, self.weights[pos])

    def slice(self, a: int, b: int) -> Bag:
        lo, hi = int(self.offsets[a]), int(self.offsets[b])
        return Bag(self.ids[lo:hi], self.offsets[a : b + 1] - lo, self.weights[lo:hi])

    def to(self, device: torch.device, non_blocking: bool = False) -> Bag:
        return Bag(*(t.to(device, non_blocking=non_blocking) for t in (self.ids, self.offsets, self.weights)))

    def pin_memory(self) -> Bag:
        return Bag(self.ids.pin_memory(), self.offsets.pin_memory(), self.weights.pin_memory())


@dataclass(frozen=True)
class Batch:
    sparse: torch.Tensor  # int64 [B, S]: univalent sparse ids
    multi: dict[str, Bag]  # multivalent features
    dense: torch.Tensor  # float32 [B, D]
    label: torch.Tensor | None = None  # float32 [B]
    weight: torch.Tensor | None = None  # float32 [B]
    group: np.ndarray | None = None  # the group column's values (metrics only; stays on the CPU)

    @staticmethod
    def of(enc: Encoded, device: torch.device | str = "cpu") -> Batch:
        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).to(device)

        def o(a: np.ndarray | None) -> torch.Tensor | None:
            return None if a is None else t(a)

        multi = {k: Bag(t(r.ids), t(r.offsets), t(r.weights)) for k, r in enc.multi.items()}
        return Batch(t(enc.sparse), multi, t(enc.dense), o(enc.label), o(enc.weight), enc.group)

    def __len__(self) -> int:
        return self.sparse.shape[0]

    def _map(self, dense_fn, bag_fn, group: np.ndarray | None) -> Batch:
        f = lambda a: None if a is None else dense_fn(a)  # noqa: E731
        return Batch(
            dense_fn(self.sparse),
            {k: bag_fn(b) for k, b in self.multi.items()},
            dense_fn(self.dense),
            f(self.label),
            f(self.weight),
            group,
        )

    def chunks(self, rows: int = 1024) -> Iterator[Batch]:
        """Consecutive slices of at most `rows` rows (about 1,000 keeps the MLP's activations in cache)."""
        for a in range(0, len(self), rows):
            yield self.slice(a, a + rows)

    def rows(self, idx: torch.Tensor) -> Batch:
        group = None if self.group is None else self.group[idx.cpu().numpy()]
        return self._map(lambda a: a.index_select(0, idx), lambda b: b.take(idx), group)

    def slice(self, a: int, b: int) -> Batch:
        group = None if self.group is None else self.group[a:b]
        return self._map(lambda x: x[a:b], lambda bag: bag.slice(a, min(b, len(self))), group)

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        return self._map(
            lambda a: a.to(device, non_blocking=non_blocking), lambda b: b.to(device, non_blocking), self.group
        )

    def pin_memory(self) -> Batch:
        return self._map(lambda a: a.pin_memory(), lambda b: b.pin_memory(), self.group)
