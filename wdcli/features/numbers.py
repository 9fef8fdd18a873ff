"""The numeric columns' statistics that fitting learns from its sample: quantile boundaries, the median, the
edges of piecewise-linear bins as the model sees them, and whether one value holds most rows (running moments:
reductions.Moments)."""

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
    return Numeric.model_validate({**numeric.model_dump(), "edges": sorted({float(x) for x in seen})})  # checked


def spiked(present: np.ndarray, missing: int, fill: float) -> bool:
    """Whether more than half of the values (`present`, and `missing` more filled with `fill`) are one value and the
    others hold two values or more: a spike and a tail, as an amount that is mostly zero. (A value that holds most
    rows is the median of the values present, unless the filled ones make it: one partition, no sort.)"""
    n = len(present) + missing
    candidates = [fill] if missing else []
    if len(present):
        candidates.append(float(np.partition(present, len(present) // 2)[len(present) // 2]))
    for value in candidates:
        if 2 * (np.count_nonzero(present == value) + (missing if value == fill else 0)) > n:
            rest = present[present != value]
            if missing and fill != value:
                rest = np.append(rest, fill)
            return len(rest) > 1 and bool(rest.min() < rest.max())
    return False
