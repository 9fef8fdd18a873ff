"""The numbers behind the report's plots, vectorized: ROC and precision-recall curves, the reliability
(calibration) table, and per-group AUCs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Curves:
    fpr: np.ndarray
    tpr: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    average_precision: float


def curves(y: np.ndarray, p: np.ndarray) -> Curves:
    """ROC (false/true positive rates) and precision-recall at every distinct score, best scores first."""
    order = np.argsort(-p, kind="stable")
    ys, ps = y[order], p[order]
    last = np.r_[np.flatnonzero(np.diff(ps) != 0), len(ps) - 1]  # the last row of each run of tied scores
    tp = np.cumsum(ys)[last]
    fp = (last + 1) - tp
    pos, neg = max(ys.sum(), 1e-12), max(len(ys) - ys.sum(), 1e-12)
    tpr, fpr = np.r_[0.0, tp / pos], np.r_[0.0, fp / neg]
    precision, recall = tp / (tp + fp), tp / pos
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    recall, precision = np.r_[0.0, recall], np.r_[precision[0] if len(precision) else 1.0, precision]
    keep = _thin(len(tpr))  # a plot needs no more points than it has pixels (a page stays small)
    return Curves(fpr[keep], tpr[keep], recall[keep], precision[keep], ap)


def _thin(n: int, most: int = 2_000) -> np.ndarray:
    """At most `most` evenly spread indices of n, the first and last included."""
    return np.arange(n) if n <= most else np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))


@dataclass(frozen=True)
class Reliability:
    predicted: np.ndarray  # mean score per bin
    observed: np.ndarray  # positive rate per bin
    count: np.ndarray  # rows per bin
    ece: float  # expected calibration error: the row-weighted mean |observed - predicted|


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> Reliability:
    """Rows in `bins` bins of equal size by score (quantiles), so that every point stands on as many rows."""
    order = np.argsort(p, kind="stable")
    which = np.empty(len(p), dtype=np.int64)
    which[order] = np.arange(len(p)) * bins // max(len(p), 1)
    count = np.bincount(which, minlength=bins).astype(np.float64)
    keep = count > 0
    predicted = np.bincount(which, weights=p, minlength=bins)[keep] / count[keep]
    observed = np.bincount(which, weights=y, minlength=bins)[keep] / count[keep]
    ece = float(np.sum(count[keep] * np.abs(observed - predicted)) / max(count.sum(), 1))
    return Reliability(predicted, observed, count[keep], ece)
