"""What the trainer eats: a batch source (`BatchSource`), in memory (`memory.InMemory`) or streamed from files
(`stream.Stream`), and where one is (`Position`), which a checkpoint holds so that a resumed run sees the very
same batches. Both keep a restored position alike (`Resumable`).

    for batch in source.batches():      # one epoch (the rest of it, after restore)
        ...
    position = source.position()        # for a checkpoint
    source.restore(position)            # in a resumed run, before its first epoch
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from .batch import Batch


@dataclass(frozen=True)
class Position:
    """Where a batch source is: its generator (which draws each epoch's order) and, within an epoch, how far it
    got. In memory the epoch's order is a permutation of the rows; streamed, it follows from the epoch's seed,
    and the place is a window and the rows handed out of it."""

    generator: torch.Tensor  # the source's generator state
    at: int = 0  # rows of the epoch under way handed out (all processes' together)
    perm: torch.Tensor | None = None  # in memory: the epoch's permutation (None: between epochs)
    epoch_seed: int | None = None  # streamed: the epoch's seed (None: between epochs)
    window: int = 0  # streamed: the window under way
    taken: int = 0  # streamed: its rows handed out (this process's)

    @property
    def in_epoch(self) -> bool:
        return self.perm is not None or self.epoch_seed is not None

    def to_json(self) -> dict:
        return {"at": self.at, "epoch_seed": self.epoch_seed, "window": self.window, "taken": self.taken}

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"generator": self.generator}
        return {**out, "perm": self.perm} if self.perm is not None else out

    @staticmethod
    def from_json(d: dict, tensors: dict[str, torch.Tensor]) -> Position:
        seed = d.get("epoch_seed")
        return Position(
            tensors["generator"],
            int(d["at"]),
            tensors.get("perm"),
            int(seed) if seed is not None else None,
            int(d["window"]),
            int(d["taken"]),
        )


@runtime_checkable
class BatchSource(Protocol):
    """A part's rows as batches: for training (`batches`, an epoch at a time, resumable) and for evaluation
    (`ordered`)."""

    rows: int  # the part's rows
    global_rows: int  # rows of the last batch of all processes together (a data-parallel run's global batch)

    def batches(self) -> Iterator[Batch]:
        """One epoch of training batches in a seeded order; after `restore`, the rest of the saved epoch."""
        ...

    @property
    def at(self) -> int:
        """Rows of this epoch already handed out (0 between epochs)."""
        ...

    def position(self) -> Position: ...

    def restore(self, position: Position) -> None: ...

    def ordered(self, rows: int = 1024, rank: int = 0, world: int = 1) -> Iterator[Batch]:
        """Every row in order (this process's share of them), in batches of `rows`."""
        ...


class Resumable(ABC):
    """The part of a `BatchSource` both sources share: `restore` sets the generator and keeps the checkpoint's
    position for the next `batches`, which continues its epoch; until then, that is where the source is. A
    source says whether it is in an epoch (`_in_epoch`) and where (`_here`)."""

    generator: torch.Generator
    _resume: Position | None  # a checkpoint's, for the next epoch
    _at: int  # rows of the epoch under way handed out (all processes' together)

    @abstractmethod
    def _in_epoch(self) -> bool: ...

    @abstractmethod
    def _here(self) -> Position:
        """Where the source is, itself (not waiting to continue a restored position)."""

    @property
    def at(self) -> int:
        """Rows of this epoch already handed out (of a restored epoch, before it continues)."""
        if self._resume is not None:
            return self._resume.at
        return self._at if self._in_epoch() else 0

    def position(self) -> Position:
        return self._resume if self._resume is not None else self._here()  # (restored, not yet continued)

    def restore(self, position: Position) -> None:
        """Continue from a checkpoint's position: its generator, and the next `batches` the rest of its epoch
        (if it was in one)."""
        self.generator.set_state(position.generator)
        self._resume = position
