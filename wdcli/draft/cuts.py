"""The cuts of a number `wdcli init` drafts as bucketized copies: about ten at its quantiles, rounded to the
fewest digits that keep them apart."""

from __future__ import annotations

import numpy as np


def bucket_boundaries(v: np.ndarray, n: int = 10) -> list[float]:
    """About n bucket boundaries at quantiles of the values, rounded to two significant digits (more where two
    would merge them: `_rounded`). When much of the mass sits at the minimum (zero, for most rows of a capital
    gain), that value gets a bucket of its own and the rest is cut at its own quantiles."""
    v = np.sort(v)
    low, edges = v[0], []
    if np.mean(v == low) > 0.3:
        v = v[v > low]
        if len(v) == 0:
            return []
        edges.append(float(v[0]))
    q = np.unique(np.quantile(v, np.linspace(0, 1, n + 1)[1:-1], method="higher"))
    edges += [float(x) for x in q if x > v[0]]
    return [b for b in _rounded(edges) if b > low]


def _rounded(edges: list[float]) -> list[float]:
    """The distinct edges rounded to two significant digits, or to the fewest more that keep them apart (two made
    every year 2000, every longitude -120 and every air pressure 1000: one boundary where there were nine)."""
    apart = len(set(edges))
    for digits in range(2, 7):
        rounded = sorted({_round(e, digits) for e in edges})
        if len(rounded) == apart:
            return rounded
    return rounded


def _round(x: float, digits: int = 2) -> float:
    if x == 0:
        return 0.0
    r = round(x, digits - 1 - int(np.floor(np.log10(abs(x)))))
    return float(int(r)) if r == int(r) else float(r)
