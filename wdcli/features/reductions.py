"""What a fit keeps of the rows it has seen, as reductions that merge: value counts (`Counts`), moments
(`Moments`) and the row sample for quantiles (`keep_smallest`: the rows of the smallest keys). Processes that
each fit a share of the rows merge their states into the very state of one process that saw them all: counts
are sums of integers; moments are kept batch by batch and folded in the order of the rows, the arithmetic of
one process; the sample is the rows of the smallest keys of all, whichever process saw them.
"""

from __future__ import annotations

import numpy as np
import polars as pl

MERGE_EVERY = 8  # batches of value counts merged at once


class Counts:
    """Value counts summed over batches, merged a few batches at a time."""

    def __init__(self, key: str = "value"):
        self.key = key
        self.parts: list[pl.DataFrame] = []
        self.total: pl.DataFrame | None = None

    def add(self, counts: pl.DataFrame) -> None:
        self.parts.append(counts)
        if len(self.parts) >= MERGE_EVERY:
            self._merge()

    def _merge(self) -> None:
        frames = ([self.total] if self.total is not None else []) + self.parts
        self.total = pl.concat(frames).group_by(self.key).agg(pl.col("count").sum()) if frames else None
        self.parts = []

    def result(self) -> pl.DataFrame:
        self._merge()
        return self.total if self.total is not None else pl.DataFrame({self.key: [], "count": []})

    def merge(self, other: Counts) -> None:
        """Add another share's counts (none from a share of no rows: its empty frame has no types)."""
        if other.parts or other.total is not None:
            self.add(other.result())


Batch = tuple[int, float, float, float, float]  # one batch's count, mean, squared deviations, min, max


class Moments:
    """Count, mean, sum of squared deviations, min and max, merged batch by batch (Chan et al.'s parallel
    update), in float64. Each batch's moments are kept, so that shares merge in the order of their rows."""

    def __init__(self, n: int = 0, mean: float = 0.0, m2: float = 0.0, lo: float = np.inf, hi: float = -np.inf):
        self.n, self.mean, self.m2, self.min, self.max = n, mean, m2, lo, hi
        self.batches: list[Batch] = []

    def add(self, x: np.ndarray) -> None:
        """Add the values x (no NaN)."""
        if len(x):
            with np.errstate(over="ignore"):  # values near 1e308: an infinite spread, as it is
                mean = float(np.mean(x))
                if not np.isfinite(mean):  # the sum overflowed, not the mean: that of the values scaled down
                    scale = float(np.abs(x).max())
                    mean = scale * float(np.mean(x / scale))
                batch = (len(x), mean, float(np.sum((x - mean) ** 2)), float(x.min()), float(x.max()))
            self.batches.append(batch)
            self.merge(Moments(*batch))

    def merge(self, other: Moments) -> None:
        if other.n == 0:
            return
        total, delta = self.n + other.n, other.mean - self.mean
        with np.errstate(over="ignore"):
            mean = self.mean + delta * other.n / total
            if not np.isfinite(mean):  # means near 1e308 (that finite values always have): weighted, not to overflow
                mean = self.mean * (self.n / total) + other.mean * (other.n / total)
            self.mean = mean
            self.m2 += other.m2 + delta * delta * self.n * other.n / total
        self.n, self.min, self.max = total, min(self.min, other.min), max(self.max, other.max)

    @staticmethod
    def of(shares: list[Moments]) -> Moments:
        """The moments of the shares' batches, one share after the other: those one process would have."""
        out = Moments()
        for share in shares:
            for batch in share.batches:
                out.batches.append(batch)
                out.merge(Moments(*batch))
        return out

    def with_copies(self, copies: int, value: float) -> Moments:
        """These moments and `copies` more values equal to `value` (the missing ones, filled)."""
        out = Moments(self.n, self.mean, self.m2, self.min, self.max)
        out.merge(Moments(copies, value, 0.0, value, value) if copies else Moments())
        return out

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / (self.n - 1))) if self.n > 1 else 0.0


def keep_smallest(
    kept: np.ndarray, sample: np.ndarray, keys: np.ndarray, x: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The sample of the rows of the `size` smallest keys, updated with new rows (`keys`, and their values as
    the columns of `x`): while it is not full, rows enter as they come; once full, a newcomer takes the place
    of a row whose key leaves it."""
    room = size - len(kept)
    if room > 0:  # not full: the first rows enter as they are
        kept = np.concatenate([kept, keys[:room]])
        sample = np.concatenate([sample, x[:, :room]], axis=1) if sample.shape[1] else x[:, :room]
        keys, x = keys[room:], x[:, room:]
    if not len(keys):
        return kept, sample
    enter = keys < kept.max()  # full: only rows below the largest key kept can enter
    if enter.any():  # the `size` smallest keys of both stay; newcomers take the places of those that go
        keys, x = keys[enter], x[:, enter]
        both = np.concatenate([kept, keys])
        gone = np.argpartition(both, size)[size:]
        places = np.sort(gone[gone < size])
        stay = np.setdiff1d(np.arange(len(keys)), gone[gone >= size] - size, assume_unique=True)
        kept[places] = keys[stay]
        sample[:, places] = x[:, stay]
    return kept, sample
