"""Lookups: the one way wdcli finds 64-bit hashes among known ones (`HashIndex`), and what serving looks up
(`Lookup`, `Request`).

`HashIndex` finds a cross's combinations in its fitted vocabulary (`fitted.VocabularyCross`, at training and
at serving time alike) and a request's text values in the serving encoder's tables (`encoder`). It is an
open-addressing hash table with linear probing, probed for many keys at once in numpy, kept at most a quarter
full, so that a lookup costs a little more than one random read: about ten times less than a binary search of
sorted keys (`np.searchsorted`) once there are more than a few thousand of either.

`Request` is what a fitted feature reads of one serving request, and `Lookup` what a serving table holds of
its text: each kind's fast path is a method of its fitted type (`fitted._Feature`) in those terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from .fitted import Text, _Categorical


class HashIndex:
    """uint64 keys -> their position in the list they were given in (the first, should a key repeat)."""

    def __init__(self, keys: np.ndarray):
        self.keys = np.asarray(keys, dtype=np.uint64)
        size = 1 << max(int(4 * len(self.keys) - 1).bit_length(), 4)
        self.mask = np.uint64(size - 1)
        self.slots = np.full(size, -1, dtype=np.int64)
        slot = (self.keys & self.mask).astype(np.int64)
        pending = np.arange(len(self.keys))
        while pending.size:  # place, per free slot, the first key that wants it; the others move one on
            s = slot[pending]
            free = self.slots[s] == -1
            _, first = np.unique(s[free], return_index=True)
            winners = pending[free][first]
            self.slots[slot[winners]] = winners
            placed = np.zeros(len(self.keys), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & (size - 1)

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, h: np.ndarray) -> np.ndarray:
        """The position of each key, -1 where the index does not hold it."""
        if not len(self.keys):
            return np.full(len(h), -1, dtype=np.int64)
        slot = (h & self.mask).astype(np.int64)
        entry = self.slots[slot]
        found = (entry >= 0) & (self.keys[entry] == h)
        todo = np.flatnonzero(~found & (entry >= 0))
        while todo.size:
            slot[todo] = (slot[todo] + 1) & int(self.mask)
            e = self.slots[slot[todo]]
            ok = (e >= 0) & (self.keys[e] == h[todo])
            entry[todo] = e
            found[todo] = ok
            todo = todo[~ok & (e >= 0)]
        return np.where(found, entry, -1)


Bag = tuple[np.ndarray, np.ndarray, np.ndarray | None]  # a multivalent feature's (ids, per-row counts, weights)


class Request(Protocol):
    """What a feature reads of one request: the values `transform` reads, looked up in tables built once."""

    n: int  # rows

    def text_ids(self, f: _Categorical) -> np.ndarray:
        """A text column's ids: from the tables (`lookup`, then `unknown_ids`), or as `f.ids` parses them."""
        ...

    def list_ids(self, f: _Categorical) -> Bag:
        """A list column's ids, as text_ids, with each row's count and the values' weights (None: ones)."""
        ...

    def text_hashes(self, f: _Categorical) -> np.ndarray:
        """The stable hash of each cleaned value (NULL_HASH for missing), per row or per value of a list."""
        ...

    def number(self, column: str) -> np.ndarray:
        """A numeric column as float64, NaN for missing."""
        ...

    def cross_hashes(self, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, hashes) of every combination of the columns' values, as `transform.cross_hashes`."""
        ...

    def transformed_ids(self, name: str) -> np.ndarray:
        """A feature's ids as `transform`'s functions make them (for a kind with no fast path of its own)."""
        ...

    def transformed_bag(self, name: str) -> Bag:
        """A multivalent feature's ids, as transformed_ids."""
        ...


@dataclass(frozen=True)
class Lookup:
    """What a serving table holds of a feature's text column: the values found as they are and their ids, and
    the id of every other value that is not missing, where that is one id (else `unknown_ids` says)."""

    source: Text
    values: list[str]
    ids: np.ndarray
    unknown_id: int | None
