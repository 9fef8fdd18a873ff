"""Held-out statistics that rank columns and crosses: how much a feature lowers the log loss of a small logistic
model on sample rows it was not fitted on.

The sample is split in two halves (of rows, or of groups when the spec splits by a key); additive logistic models of integer-coded features (one effect per value,
an L2 prior, fitted by a few sweeps of per-value Newton steps, vectorized with bincount) are fitted on one half
and scored on the other.

- a column's gain: log loss of the base rate minus that of the column's model (nats per row);
- a cross's gain over its parts: log loss of `a + b` minus that of `a + b + a x b`. Rows where a combination
  was never seen in the fitting half take no cross effect, so a cross of ids that would only memorize noise
  gains nothing;
- a column's held-out AUC: near 1 means the column alone gives the label away (a likely leak).

A multivalent column takes part with one row per value (the row's label repeated).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import polars as pl

from ..metrics import auc, logloss, loglosses

PRIOR = 2.0  # L2 strength of every effect, in units of the Hessian (about 10 rows at a 20% base rate)
SWEEPS = 8
MAX_STEP = 6.0  # of a Newton step, in log-odds: at a rare label (1%) a full step from the base rate overshoots a
# value's rate many times over, and the sweeps diverged (the bias at -1e13: every column of KDD Cup 2004's protein
# data scored a gain of -0.09 and AUC 0.5); no step of the 27 benchmark sets' drafts reaches 6 (census's largest 4-6)


class CrossGain(NamedTuple):
    gain: float  # held-out log loss of a + b minus that of a + b + a x b (nats per row)
    se: float  # its standard error over the held-out rows: a gain within two of them may be chance
    combinations: int  # seen in the sample


@dataclass(frozen=True)
class Coded:
    """A feature as integer codes: `codes[i]` of row `rows[i]` (one entry per row, or per value of a list)."""

    name: str
    codes: np.ndarray  # int64, 0..size-1
    rows: np.ndarray  # int64 row of each code
    size: int
    multi: bool  # some rows have several codes (a list column)


def dense_codes(keys) -> np.ndarray:
    """0..k-1 for the k distinct keys (numbers or text; missing is a key of its own)."""
    s = pl.Series(keys)
    return (s.rank("dense").fill_null(0) if s.null_count() else s.rank("dense") - 1).to_numpy().astype(np.int64)


def code(name: str, keys, rows: np.ndarray | None = None) -> Coded:
    """A feature's values as integer codes; `rows` gives each value's row when rows hold several (or none)."""
    codes = dense_codes(keys)
    multi = rows is not None
    rows = np.arange(len(codes)) if rows is None else rows
    return Coded(name, codes, rows.astype(np.int64), int(codes.max(initial=-1)) + 1, multi)


def _fit(terms: list[np.ndarray], sizes: list[int], y: np.ndarray) -> tuple[float, list[np.ndarray]]:
    base = float(np.clip(y.mean(), 1e-4, 1 - 1e-4))
    bias, effects = float(np.log(base / (1 - base))), [np.zeros(s) for s in sizes]
    for _ in range(SWEEPS):
        for t, e in zip(terms, effects):
            p = _sigmoid(bias + sum(e2[t2] for t2, e2 in zip(terms, effects)))
            grad = np.bincount(t, weights=y - p, minlength=len(e))
            hess = np.bincount(t, weights=p * (1 - p), minlength=len(e))
            e += np.clip((grad - PRIOR * e) / (hess + PRIOR), -MAX_STEP, MAX_STEP)
        p = _sigmoid(bias + sum(e[t] for t, e in zip(terms, effects)))
        bias += float(np.clip((y - p).sum() / max((p * (1 - p)).sum(), 1e-9), -MAX_STEP, MAX_STEP))
    return bias, effects


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


class Scorer:
    """Fits on the rows of one half of the sample, scores on the other. With `groups` (the split's key: users),
    the halves are of groups, as the split keeps them apart: a feature scores what it says of new groups; with
    `fit_half`, those rows (each user's earlier rows, for a split by time)."""

    def __init__(
        self,
        y: np.ndarray,
        seed: int,
        groups: pl.Series | None = None,
        within: pl.Series | None = None,
        fit_half: np.ndarray | None = None,
    ):
        self.y = y.astype(np.float64)
        rng = np.random.default_rng(seed)
        if fit_half is not None:  # (given: each user's earlier rows, as a split by time holds out the later)
            self.fit_half = fit_half
        elif groups is None:
            self.fit_half = rng.random(len(y)) < 0.5
        else:
            codes = dense_codes(groups)
            self.fit_half = (rng.random(int(codes.max(initial=0)) + 1) < 0.5)[codes]
        self.dense: dict[str, np.ndarray] = {}
        # `within`: the groups (users) rows are ranked within, each in both halves: a cross is then scored over
        # its parts and the group, so that it gains only by ranking a group's rows, not by telling groups apart
        self.within = None if within is None else code("within", within)

    def _aligned(self, feats: list[Coded]) -> tuple[list[np.ndarray], np.ndarray]:
        """Codes of several features on common rows: one row per combination of their values in a sample row."""
        multi = [f for f in feats if f.multi]
        if not multi:
            return [self._dense(f) for f in feats], np.arange(len(self.y))
        m = multi[0]  # (one multivalent feature at most: crosses of two lists are not ranked)
        return [m.codes if f is m else self._dense(f)[m.rows] for f in feats], m.rows

    def _dense(self, f: Coded) -> np.ndarray:
        if f.name not in self.dense:
            out = np.full(len(self.y), f.size, dtype=np.int64)  # rows without a value: a code of their own
            out[f.rows] = f.codes
            self.dense[f.name] = out
        return self.dense[f.name]

    def _loss(self, terms: list[np.ndarray], sizes: list[int], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each held-out row's log loss, and its probability, under the model of `terms` fitted on the other half."""
        fit, y = self.fit_half[rows], self.y[rows]
        bias, effects = _fit([t[fit] for t in terms], sizes, y[fit])
        p = _sigmoid(bias + sum(e[t[~fit]] for t, e in zip(terms, effects)))
        return loglosses(y[~fit], p), p

    def single(self, f: Coded) -> tuple[float, float]:
        """(held-out log-loss gain over the base rate, held-out AUC) of one feature."""
        (t,), rows = self._aligned([f])
        y_fit, y_test = self.y[rows][self.fit_half[rows]], self.y[rows][~self.fit_half[rows]]
        base = np.full(len(y_test), np.clip(y_fit.mean(), 1e-4, 1 - 1e-4))
        losses, p = self._loss([t], [f.size + 1], rows)
        return logloss(y_test, base) - float(np.average(losses)), auc(y_test, p)

    def cross_gain(self, a: Coded, b: Coded) -> CrossGain:
        """The held-out log-loss gain of a x b over a + b, its standard error, and the combinations seen."""
        (ta, tb), rows = self._aligned([a, b])
        cell = dense_codes(ta * (b.size + 1) + tb)
        terms, sizes = self._parts(ta, tb, a, b, rows)
        parts, _ = self._loss(terms, sizes, rows)
        whole, _ = self._loss([*terms, cell], [*sizes, int(cell.max()) + 1], rows)
        return _saved(parts, whole, int(cell.max()) + 1)

    def finer_gain(self, a: Coded, b: Coded, fine_a: Coded, fine_b: Coded) -> CrossGain:
        """The held-out log-loss gain of finer cuts of two numbers and their cross (fine_a + fine_b + fine_a x
        fine_b) in place of the cross of their coarser cuts (a x b), both over a + b; its standard error, and the
        finer cross's combinations seen."""
        (ta, tb, fa, fb), rows = self._aligned([a, b, fine_a, fine_b])
        coarse, fine = dense_codes(ta * (b.size + 1) + tb), dense_codes(fa * (fine_b.size + 1) + fb)
        terms, sizes = self._parts(ta, tb, a, b, rows)
        before, _ = self._loss([*terms, coarse], [*sizes, int(coarse.max()) + 1], rows)
        after, _ = self._loss(
            [*terms, fa, fb, fine], [*sizes, fine_a.size + 1, fine_b.size + 1, int(fine.max()) + 1], rows
        )
        return _saved(before, after, int(fine.max()) + 1)

    def _parts(
        self, ta: np.ndarray, tb: np.ndarray, a: Coded, b: Coded, rows: np.ndarray
    ) -> tuple[list[np.ndarray], list[int]]:
        """The terms (and their sizes) a cross is scored over: its two columns, and the groups ranked within."""
        terms, sizes = [ta, tb], [a.size + 1, b.size + 1]
        if self.within is not None:
            terms, sizes = [*terms, self.within.codes[rows]], [*sizes, self.within.size]
        return terms, sizes


def _saved(before: np.ndarray, after: np.ndarray, combinations: int) -> CrossGain:
    """The gain of the `after` model over `before` from their held-out rows' log losses, and its standard error."""
    saved = before - after
    se = float(saved.std() / np.sqrt(max(len(saved), 1)))
    return CrossGain(float(np.average(before)) - float(np.average(after)), se, combinations)
