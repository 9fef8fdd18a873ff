"""The numeric columns' statistics that fitting learns: running moments (mean, variance, range), quantile
boundaries of a sorted sample, and the edges of piecewise-linear bins as the model sees them."""

from __future__ import annotations

import numpy as np
import polars as pl

from .fitted import Numeric
from .transform import DenseTransform


def quantile_boundaries(values: np.ndarray, q: int, presorted: bool = False) -> list[float]:
    """Interior boundaries of q quantile buckets of the values (duplicates merged): the values at ranks
    ceil(i/q * n) for i = 1..q-1."""
    if len(values) == 0:
        return []
    idx = np.unique(np.clip(np.ceil(np.arange(1, q) / q * len(values)).astype(np.int64) - 1, 0, len(values) - 1))
    return [float(x) for x in np.unique((values if presorted else sort(values))[idx])]


def sort(values: np.ndarray) -> np.ndarray:
    """The values in ascending order (Polars' parallel sort: faster than numpy's sort or a partition at the
    ranks of 20 quantiles)."""
    return pl.Series(values).sort().to_numpy()


class Moments:
    """Count, mean, sum of squared deviations, min and max, merged batch by batch (Chan et al.'s parallel
    update), in float64."""

    def __init__(self, n: int = 0, mean: float = 0.0, m2: float = 0.0, lo: float = np.inf, hi: float = -np.inf):
        self.n, self.mean, self.m2, self.min, self.max = n, mean, m2, lo, hi

    def add(self, x: np.ndarray) -> None:
        """Add the values x (no NaN)."""
        if len(x):
            with np.errstate(over="ignore"):  # values near 1e308: an infinite spread, as it is
                mean = float(np.mean(x))
                self.merge(Moments(len(x), mean, float(np.sum((x - mean) ** 2)), float(x.min()), float(x.max())))

    def merge(self, other: Moments) -> None:
        if other.n == 0:
            return
        total, delta = self.n + other.n, other.mean - self.mean
        self.mean += delta * other.n / total
        self.m2 += other.m2 + delta * delta * self.n * other.n / total
        self.n, self.min, self.max = total, min(self.min, other.min), max(self.max, other.max)

    def with_copies(self, copies: int, value: float) -> Moments:
        """These moments and `copies` more values equal to `value` (the missing ones, filled)."""
        out = Moments(self.n, self.mean, self.m2, self.min, self.max)
        out.merge(Moments(copies, value, 0.0, value, value) if copies else Moments())
        return out

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / (self.n - 1))) if self.n > 1 else 0.0


def median(ordered: np.ndarray) -> float:
    n = len(ordered)
    return float((ordered[(n - 1) // 2] + ordered[n // 2]) / 2)


def log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def with_edges(numeric: Numeric, filled: np.ndarray, bins: int) -> Numeric:
    """The column with the edges of `bins` quantile bins of its (sorted, filled) values, as the model sees them:
    through its transform."""
    raw = [float(filled[0]), *quantile_boundaries(filled, bins, presorted=True), float(filled[-1])]
    seen = DenseTransform([numeric])(np.array(raw, dtype=np.float64).reshape(-1, 1))[:, 0]
    return numeric.model_copy(update={"edges": sorted({float(x) for x in seen})})
