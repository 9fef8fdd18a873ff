"""The in-memory batch source: every encoded row as tensors (on the training device when it fits there); each
epoch walks a seeded permutation in slices of the batch size.

It is a `BatchSource` (`wdcli.data.source`): its `Position` is the generator, the epoch's permutation and the
rows handed out of it.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .batch import Batch
from .source import Position, Resumable


class InMemory(Resumable):
    def __init__(self, data: Batch, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.data, self.batch_size = data, batch_size
        self.rank, self.world = rank, world  # in a data-parallel run: this process's share of each batch
        self.rows = len(data)
        self.global_rows = 0  # rows of the last batch of all processes together
        self.generator = torch.Generator().manual_seed(seed)
        self._perm: torch.Tensor | None = None
        self._at = 0
        self._resume: Position | None = None  # a checkpoint's, for the next epoch

    def batches(self) -> Iterator[Batch]:
        """One epoch of training batches: a new permutation, or the rest of a restored epoch."""
        resume, self._resume = self._resume, None
        if resume is not None and resume.perm is not None:
            self._perm, self._at = resume.perm, resume.at
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

    def _in_epoch(self) -> bool:
        return self._perm is not None

    def _here(self) -> Position:
        return Position(self.generator.get_state(), self.at, self._perm)

    def ordered(self, rows: int = 1024, rank: int = 0, world: int = 1) -> Iterator[Batch]:
        """Every row in order (this process's share of them: a contiguous range), in slices of `rows` (about
        1,000 keeps the MLP's activations in cache)."""
        lo, hi = self.rows * rank // world, self.rows * (rank + 1) // world
        return (self.data if world == 1 else self.data.slice(lo, hi)).chunks(rows)
