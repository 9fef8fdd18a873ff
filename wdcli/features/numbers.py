"""The numeric columns' statistics that fitting learns from its sample: quantile boundaries, the median, the
edges of piecewise-linear bins as the model sees them, whether one value holds most rows and whether the label's
rate turns often along the values, the bounds of `clip: auto` (running moments: reductions.Moments)."""

from __future__ import annotations

import numpy as np
import polars as pl

from ..spec import Spec
from ..spec.types import Numeric as NumericSpec
from .fitted import Numeric
from .reductions import Moments
from .transform import DenseTransform, positions


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


CLIP_SPREAD = 5.0  # clip: auto's bound, in standard deviations (docs/benchmarks.md: the loans' counts lay 100 away)


def clip_of(
    col: NumericSpec, m: Moments | Numeric, read_as: str | None, seen: Moments | Numeric | None = None
) -> tuple[float, float] | None:
    """The clip a number is fitted with (`m`: its mean, std, min and max, its fill's copies counted). `read_as`:
    how the deep part reads it where `clip: auto` may bound it (one of `Spec.auto_clipped`), else None. `none`
    (the MLP reads it as one input): `spread_clip`; `periodic`: the training rows' range, so that a value past it
    reads as the nearest seen, not as an arbitrary phase of the sines and cosines; piecewise's bins saturate
    already. Else the spec's [low, high], or none."""
    if read_as == "none":
        return spread_clip(m.mean, m.std)
    if read_as == "periodic":  # (`seen`: of the values present, without the fill's copies; else `m`'s)
        low, high = (seen.min, seen.max) if seen is not None else (m.min, m.max)
        return (low, high) if np.isfinite(low) and np.isfinite(high) and low < high else None
    return col.bounds


def spread_clip(mean: float, std: float) -> tuple[float, float] | None:
    """`clip: auto` of a standardized number the MLP reads as one input: its mean +- CLIP_SPREAD standard
    deviations, so that a few far values do not swamp the first layer (None: a constant column, or bounds past
    float64)."""
    low, high = mean - CLIP_SPREAD * std, mean + CLIP_SPREAD * std
    return (low, high) if std > 0 and np.isfinite(low) and np.isfinite(high) else None


FAR_SHARE = 0.001  # clip: auto's test for far values: the values winsorized at their 0.1% and 99.9% quantiles ...
FAR_SPREAD = 0.5  # ... keep under half the standard deviation: a few rows hold over three quarters of the variance


def far_bounds(present: np.ndarray) -> tuple[float, float] | None:
    """`clip: auto`'s bounds where a few far values hold most of a column's spread: mean +- CLIP_SPREAD standard
    deviations of the values winsorized at their 0.1% and 99.9% quantiles (`present`: the sample's values, no
    NaN), where that deviation is under FAR_SPREAD of their own and not 0; else None (the moments' bounds). A
    sentinel of 1e9 in 3 of census's 30,000 hours made the deviation 1e7, so every other hour standardized to ~0 and
    clipped at +-5e7 nothing: test AUC 0.929 -> 0.921 (docs/benchmarks.md). Heavy tails keep theirs: census's
    capital gains of 99,999 are 0.5% of the rows, inside the quantiles."""
    if len(present) < 1 / FAR_SHARE:
        return None
    low, high = np.quantile(present, [FAR_SHARE, 1 - FAR_SHARE], method="inverted_cdf")
    inner = np.clip(present, low, high)
    spread = float(inner.std(ddof=1))
    if not 0 < spread < FAR_SPREAD * float(present.std(ddof=1)):
        return None
    return spread_clip(float(inner.mean()), spread)


SCALED = ("log1p",)  # the transforms whose values the model reads centered and scaled


def scaled(numeric: Numeric, sample: np.ndarray) -> Numeric:
    """A log1p column with the mean and spread of its transformed values on the sample of training rows (missing
    ones filled), by which the model reads them: centered and on one scale, as `standardize` brings them (values of
    ~11 +- 1, all of one sign, trained slower and worse: loans 0.71 test AUC, scaled 0.83, census 0.922 and 0.927).
    The others are read as they are: a quantile's and a minmax's [0, 1] are what the spec asks for, and scaled they
    did worse where the numbers matter little beside ids (taste: 0.650 NDCG@10, quantile scaled 0.628; apps: a
    minmax hour scaled trained slower)."""
    if numeric.transform not in SCALED or len(sample) == 0:
        return numeric
    z = DenseTransform([numeric])(sample.astype(np.float64).reshape(-1, 1))[:, 0].astype(np.float64)
    spread = float(z.std())
    return Numeric.model_validate({**numeric.model_dump(), "center": float(z.mean()), "spread": spread or 1.0})


def with_edges(numeric: Numeric, filled: np.ndarray, bins: int) -> Numeric:
    """The column with the edges of `bins` quantile bins of its (sorted, filled) values, as the model sees them:
    through its transform."""
    raw = [float(filled[0]), *quantile_boundaries(filled, bins, presorted=True), float(filled[-1])]
    seen = DenseTransform([numeric])(np.array(raw, dtype=np.float64).reshape(-1, 1))[:, 0]
    return Numeric.model_validate({**numeric.model_dump(), "edges": sorted({float(x) for x in seen})})  # checked


def flag(present: np.ndarray, missing: int) -> bool:
    """Whether a column is a flag with missing values: two values (or one) and some rows without one. Filled, it
    holds a third value that is no quantity (a mean between no and yes), so `numeric_embedding: auto` gives each
    of its three states a vector (`values`): on a survey's six such flags, 0.6603 test AUC as numbers (the spike's
    periodic embedding), 0.6645 by their values, over three splits (LightGBM 0.6641), docs/benchmarks.md."""
    if missing == 0 or len(present) == 0:
        return False
    low, high = present.min(), present.max()  # (two passes over the values, not a sort)
    return bool(np.all((present == low) | (present == high)))


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


UNEVEN_GAIN = 0.002  # nats per held-out row the column's binned rates must save over a smooth curve of it ...
UNEVEN_SHARE = 0.5  # ... and at least this share of all they save over the base rate, and 2 standard errors
UNEVEN_ROWS = 2_000  # fewer present values than this cannot tell (their held-out half is too noisy)
UNEVEN_AT_MOST = 100_000  # rows of the fit's sample the test reads (`spread_rows`)


def spread_rows(keys: np.ndarray) -> np.ndarray:
    """The sample rows `uneven` reads: all of them, or the `UNEVEN_AT_MOST` of the smallest keys, in the keys'
    order (a sample of more rows is stored in an order that depends on how the fit was split into batches and
    processes; the keys do not, so every way of fitting reads the same rows, in the same order)."""
    if len(keys) <= UNEVEN_AT_MOST:
        return np.arange(len(keys))
    rows = np.argpartition(keys, UNEVEN_AT_MOST)[:UNEVEN_AT_MOST]
    return rows[np.argsort(keys[rows], kind="stable")]


def distinct_rows(sample: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`rows` less those that repeat an earlier one in every number of the sample and in the label: the rows the
    `named` test reads. It predicts a row from the other rows of its value, which a copy of the row answers (each
    positive row four times, as oversampling writes it, made every number look like it named things)."""
    block = np.ascontiguousarray(sample[:, rows].T)
    whole = block.view(np.dtype((np.void, block.dtype.itemsize * block.shape[1])))[:, 0]
    return rows[np.sort(np.unique(whole, return_index=True)[1])]


def uneven_column(
    values: np.ndarray, y: np.ndarray, keys: np.ndarray, rows: np.ndarray, clip: tuple[float, float] | None = None
) -> bool:
    """`uneven` of one column of a sample (`values`, NaN where missing, with the rows' labels and keys) on the
    rows `spread_rows` picked: its present values there, clipped as the column is."""
    return uneven(*_present(values, y, keys, rows, clip))


def _present(
    values: np.ndarray, y: np.ndarray, keys: np.ndarray, rows: np.ndarray, clip: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A column's present values on the sample rows `rows` (clipped as the column is), their labels and keys."""
    x = values[rows]
    has = ~np.isnan(x)
    x = np.clip(x[has], *clip) if clip is not None else x[has]
    return x, y[rows][has], keys[rows][has]


def _halves(x: np.ndarray, y: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """The rows split by key into the half a test fits on and the half it scores on (xa, ya, xb, yb), or None
    where there are too few rows (or one label) to tell."""
    if len(x) < UNEVEN_ROWS or y.min() == y.max():
        return None
    a = (keys & np.uint64(1)) == 0
    if np.count_nonzero(a) < UNEVEN_ROWS // 4 or np.count_nonzero(~a) < UNEVEN_ROWS // 4:
        return None
    return x[a], y[a], x[~a], y[~a]


def _binned(
    xa: np.ndarray, ya: np.ndarray, xb: np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]:
    """The label's rate in `bins` quantile bins of the fitting half (shrunk toward its base rate by 20 rows'
    worth): its values sorted, the bins' edges, the base rate, each bin's rate, and the bin of each scored row."""
    ordered = np.sort(xa)
    rate = float(np.clip(ya.mean(), 1e-4, 1 - 1e-4))
    edges = np.unique(ordered[(np.arange(1, bins) * len(ordered)) // bins])
    ia, ib = np.searchsorted(edges, xa, side="right"), np.searchsorted(edges, xb, side="right")
    positives, counts = np.bincount(ia, ya, len(edges) + 1), np.bincount(ia, None, len(edges) + 1)
    return ordered, edges, rate, (positives + 20 * rate) / (counts + 20), ib


def _loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Each row's log loss, the probabilities clipped to [1e-6, 1 - 1e-6] (the tests' own, not the metrics')."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))  # (no overflow at any z)


def uneven(x: np.ndarray, y: np.ndarray, keys: np.ndarray, bins: int = 32) -> bool:
    """Whether the label's rate moves unevenly along a number (`x`, with the 0/1 labels `y` of the same sample
    rows; `keys` split them in halves): rates in `bins` quantile bins fitted on one half beat, on the other,
    a logistic curve cubic in the value's rank, by `UNEVEN_GAIN` nats per row, half of all the bins gain and two
    standard errors. A curve of the rank fits any smooth effect, monotone or not, heavy tail or not (census's
    ages, a log of amounts); what it misses are effects with many turns, such as the month and day of flights'
    delays or the latitude of police stops, which a tree cuts at once and an MLP fed one value learns slowly:
    `numeric_embedding: auto` embeds those."""
    if (halves := _halves(x, y, keys)) is None:
        return False
    xa, ya, xb, yb = halves
    ordered, _, rate, binned, ib = _binned(xa, ya, xb, bins)
    if ordered[0] == ordered[-1]:
        return False

    def cubic(v: np.ndarray) -> np.ndarray:
        u = np.searchsorted(ordered, v) / len(ordered) - 0.5
        return np.stack([u, u * u, u * u * u, np.ones_like(u)], axis=1)

    def fit_loss(w: np.ndarray) -> float:
        z = fa @ w
        return float(np.mean(np.logaddexp(0.0, z) - ya * z))

    fa, w = cubic(xa), np.array([0.0, 0.0, 0.0, np.log(rate / (1 - rate))])
    now = fit_loss(w)
    for _ in range(12):  # Newton's steps of the logistic fit (four weights), halved until the loss falls
        p = _sigmoid(fa @ w)
        step = np.linalg.solve((fa * (p * (1 - p))[:, None]).T @ fa + 1e-6 * np.eye(4), fa.T @ (p - ya))
        for _ in range(20):
            if (after := fit_loss(w - step)) <= now:
                w, now, gained = w - step, after, now - after
                break
            step = step / 2
        else:
            break
        if gained < 1e-9:  # (converged)
            break

    by_bins = _loss(yb, binned[ib])
    saved = _loss(yb, _sigmoid(cubic(xb) @ w)) - by_bins
    gain, spread = float(saved.mean()), float(saved.std()) / np.sqrt(len(saved))
    total = float(_loss(yb, np.full(len(yb), rate)).mean() - by_bins.mean())
    return bool(gain >= UNEVEN_GAIN and gain >= UNEVEN_SHARE * total and gain >= 2 * spread)


NAMED_GAIN = 0.015  # nats per row (left out) a number's own values' rates must save over its 32 bins' ...
NAMED_SPREAD = 4.0  # ... in standard errors of that gain
NAMED_SHARE = 0.5  # and the values seen NAMED_COUNT times or more must hold this share of the rows
NAMED_COUNT = 3  # (values seen this often in the sample: those `values` keeps)
VALUES_AT_MOST = 10_000  # the most frequent values a `values` embedding keeps


def named_column(
    values: np.ndarray, y: np.ndarray, keys: np.ndarray, rows: np.ndarray, clip: tuple[float, float] | None = None
) -> bool:
    """`named` of one column of a sample, on the rows `spread_rows` picked (as `uneven_column`)."""
    return named(*_present(values, y, keys, rows, clip))


def named(x: np.ndarray, y: np.ndarray, keys: np.ndarray, bins: int = 32) -> bool:
    """Whether a number's exact values tell the label apart beyond what its value's neighbourhood does: a
    household's income repeated in each of its members' rows, a code, a person's id in a panel, a place's exact
    coordinates seen many times. Each row of a value seen NAMED_COUNT times or more (as `values` keeps them) is
    predicted from the other rows of its value (their rate, shrunk toward the row's bin's rate) and from the rate
    of its `bins` quantile bin: the values' rates must save NAMED_GAIN nats per row over the bins' and NAMED_SPREAD
    standard errors, and those values hold NAMED_SHARE of the rows. (Leaving one row out reads every other row of
    its value: a panel of two or three rows per person, split in halves, left too few rows of each to tell.) A
    tree cuts such a column into its values (LightGBM's 255 bins) and an MLP fed the one number cannot:
    `numeric_embedding: auto` gives it an embedding of its values (`values`). `keys`: unused (as `uneven`'s)."""
    if len(x) < UNEVEN_ROWS or y.min() == y.max():
        return False
    _, _, _, binned, at = _binned(x, y, x, bins)
    seen, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    n = counts[inverse]  # rows of each row's value
    frequent = n >= NAMED_COUNT
    if np.count_nonzero(frequent) < NAMED_SHARE * len(x):
        return False
    base = binned[at]
    others = (np.bincount(inverse, y, len(seen))[inverse] - y + 5 * base) / (n - 1 + 5)
    saved = _loss(y, base) - _loss(y, np.where(frequent, others, base))
    gain, spread = float(saved.mean()), float(saved.std()) / np.sqrt(len(saved))
    return bool(gain >= NAMED_GAIN and gain >= NAMED_SPREAD * spread)


def by_its_values(numeric: Numeric, col: object) -> bool:
    """Whether `auto` embeds a fitted number by its values: they name things (`named`) and its transform keeps
    them apart (every one but a `quantile` fitted before `smooth`, whose step made them the positions of its bins)."""
    return numeric.named and (numeric.smooth or getattr(col, "transform", None) != "quantile")


def valued(spec: Spec) -> set[str]:
    """The deep part's numbers that may be embedded by their values: `values`, or `auto` (the fit's test decides)."""
    numbers = spec.deep_dense() if spec.uses_deep() else []
    return {n for n in numbers if spec.deep.numeric_embedding_of(n).kind in ("auto", "values")}


def with_values(numeric: Numeric, filled: np.ndarray, missing: int = 0) -> Numeric:
    """The column with the values a `values` embedding keeps (those of the sample's values, missing ones filled,
    seen NAMED_COUNT times or more, at most the VALUES_AT_MOST most frequent), as the model sees them: through
    its transform, in float32, ascending. Where values are `missing`, the fill is not one of them (a median is
    some household's income: that household's vector would learn the missing rows' labels too); those rows
    read as a value the column does not know."""
    seen, counts = np.unique(filled, return_counts=True)
    if missing:
        seen, counts = seen[seen != numeric.fill], counts[seen != numeric.fill]
    keep = seen[counts >= NAMED_COUNT]
    if len(keep) > VALUES_AT_MOST:
        keep = seen[np.sort(np.argsort(-counts, kind="stable")[:VALUES_AT_MOST])]
    model = DenseTransform([numeric])(keep.astype(np.float64).reshape(-1, 1))[:, 0]
    return Numeric.model_validate({**numeric.model_dump(), "known": sorted({float(v) for v in model})})


def known_in(old: Numeric, new: Numeric) -> list[float]:
    """`old`'s known values (in its model units) in `new`'s: read back to raw values through `old`'s transform,
    then through `new`'s, so that a warm start that keeps the values a previous run trained keeps them where
    this run's rows land (its mean and spread are this run's; a quantile's position is read back along its
    line). As many values as `old` knows (its vectors are kept by their position), ascending."""
    z = np.asarray(old.known, dtype=np.float64)
    if len(z) == 0 or (old.transform == "quantile" and not old.smooth):  # (the step's values were never kept)
        return list(old.known)
    z = z * old.spread + old.center
    if old.transform == "quantile":
        knots, at = positions(old)
        z = np.interp(z, at, knots)
    if old.transform == "standardize":
        z = z * (old.std or 1.0) + old.mean
    elif old.transform == "minmax":
        z = z * ((old.max - old.min) or 1.0) + old.min
    elif old.transform == "log1p":
        z = np.sign(z) * np.expm1(np.abs(z))
    return sorted(float(v) for v in DenseTransform([new])(z.reshape(-1, 1))[:, 0])
