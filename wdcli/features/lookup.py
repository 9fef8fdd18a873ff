"""The one way wdcli finds 64-bit hashes among known ones: a cross's combinations in its fitted vocabulary
(`fitted.VocabularyCross`, at training and at serving time alike) and a request's text values in the serving
encoder's tables (`encoder`).

An open-addressing hash table with linear probing, probed for many keys at once in numpy. Kept at most a
quarter full, so that a lookup costs a little more than one random read: about ten times less than a binary
search of sorted keys (`np.searchsorted`) once there are more than a few thousand of either.
"""

from __future__ import annotations

import numpy as np


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
