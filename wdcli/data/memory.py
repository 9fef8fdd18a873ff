"""The in-memory batch source: every encoded row as tensors (on the training device when it fits there); each
epoch walks a seeded permutation in slices of the batch size.

A source is what the trainer eats: `batches(state)` yields the training batches of one epoch, from a saved
position if given; `state()` says where it is (saved in checkpoints, so that a resumed run sees the very same
batches); `ordered()` yields every row in order, for evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .batch import Batch


class InMemory:
    def __init__(self, data: Batch, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.data, self.batch_size = data, batch_size
        self.rank, self.world = rank, world  # in a data-parallel run: this process's share of each batch
        self.rows = len(data)
        self.global_rows = 0  # rows of the last batch of all processes together
        self.generator = torch.Generator().manual_seed(seed)
        self._perm: torch.Tensor | None = None
        self._at = 0

    def batches(self, state: dict | None = None) -> Iterator[Batch]:
        """One epoch of training batches; from `state` (a checkpoint's) if given, else a new permutation."""
        if state is not None and state.get("perm") is not None:
            self._perm, self._at = state["perm"], int(state["at"])
        else:
            self._perm, self._at = torch.randperm(self.rows, generator=self.generator), 0
        device = self.data.sparse.device
        perm = self._perm.to(device)
        while self._at < self.rows:
            idx = perm[self._at : self._at + self.batch_size]
            self._at += len(idx)
            self.global_rows = len(idx)
            yield self.data.rows(idx[self.rank :: self.world] if self.world > 1 else idx)
        self._perm = None

    @property
    def position(self) -> int:
        """Rows of this epoch already handed out."""
        return self._at if self._perm is not None else 0

    def state(self) -> dict:
        """Where this source is: tensors and numbers for a checkpoint."""
        return {"perm": self._perm, "at": self.position, "generator": self.generator.get_state()}

    def restore(self, state: dict) -> None:
        """Continue the generator of a checkpoint (the epoch's own position is given to `batches`)."""
        self.generator.set_state(state["generator"])

    def ordered(self, rows: int = 1024, rank: int = 0, world: int = 1) -> Iterator[Batch]:
        """Every row in order (this process's share of them: a contiguous range), in slices of `rows` (about
        1,000 keeps the MLP's activations in cache)."""
        lo, hi = self.rows * rank // world, self.rows * (rank + 1) // world
        return (self.data if world == 1 else self.data.slice(lo, hi)).chunks(rows)
