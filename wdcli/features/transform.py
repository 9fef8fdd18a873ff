"""`transform(fitted, frame)`: raw columns to the model's arrays, identically at training and scoring time.

Pure: it reads the fitted state and the frame, nothing else. Unseen values, nulls and declared missing markers
never raise: they get the out-of-vocabulary or missing id. Lists stay ragged (values + offsets), so one row with
2,000 values costs 2,000 entries, not 2,000 columns for every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np
import polars as pl

from . import clean, hashing
from .fitted import Buckets, Numeric, Vocabulary, _Categorical, _Cross
from .inputs import check_columns, label_array, weight_array
from .pipeline import FittedPipeline


@dataclass(frozen=True)
class Ragged:
    """One multivalent feature for n rows: row i's ids are ids[offsets[i]:offsets[i + 1]]."""

    ids: np.ndarray  # int64 [nnz]
    offsets: np.ndarray  # int64 [n + 1]
    weights: np.ndarray  # float32 [nnz]

    @staticmethod
    def of(ids: np.ndarray, counts: np.ndarray, weights: np.ndarray | None = None) -> Ragged:
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        w = np.ones(len(ids), dtype=np.float32) if weights is None else weights.astype(np.float32, copy=False)
        return Ragged(ids.astype(np.int64, copy=False), offsets, w)


@dataclass(frozen=True)
class Encoded:
    """The model's input for n rows, as numpy arrays (torch.from_numpy shares their memory)."""

    sparse: np.ndarray  # int64 [n, S]: ids of the univalent sparse features, in FittedPipeline.univalent order
    multi: dict[str, Ragged]  # the multivalent features, in FittedPipeline.multivalent order
    dense: np.ndarray  # float32 [n, D]: numeric features, in FittedPipeline.dense order
    label: np.ndarray | None  # float32 [n] of 0/1
    weight: np.ndarray | None  # float32 [n]
    group: np.ndarray | None  # the group column's values
    n: int

    @staticmethod
    def concat(parts: list[Encoded]) -> Encoded:
        """The rows of several encodings, one after the other (one copy of each array)."""
        if len(parts) == 1:
            return parts[0]

        def cat(key: str) -> Any:
            return None if getattr(parts[0], key) is None else np.concatenate([getattr(p, key) for p in parts])

        multi = {}
        for name in parts[0].multi:
            bags = [p.multi[name] for p in parts]
            starts = np.cumsum([0] + [len(b.ids) for b in bags[:-1]])
            offsets = np.concatenate([bags[0].offsets[:1]] + [b.offsets[1:] + s for b, s in zip(bags, starts)])
            multi[name] = Ragged(
                np.concatenate([b.ids for b in bags]), offsets, np.concatenate([b.weights for b in bags])
            )
        return Encoded(
            cat("sparse"), multi, cat("dense"), cat("label"), cat("weight"), cat("group"), sum(p.n for p in parts)
        )


# ---------------------------------------------------------------------------------------------- crosses


def component_hashes(fitted: FittedPipeline, name: str, df: pl.DataFrame, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows, hashes) of one cross component: the stable hash of each cleaned value (of the bucket id for
    buckets; NULL_HASH for missing, so that a missing value is a value of its own in a cross)."""
    f = fitted.part(name)
    n = len(df)
    if isinstance(f, Buckets):
        return np.arange(n), hashing.hash_ints(f.ids(clean.numbers(df, f.column, f.missing, where)))
    s = f.source
    if s.multivalent:
        flat, counts, _ = clean.list_values(df, s, where, weights=False)
        return np.repeat(np.arange(n), counts), hashing.hash_strings(flat)
    return np.arange(n), hashing.hash_strings(df.select(clean.text(s.column, s.missing))[s.column])


def cross_hashes(
    fitted: FittedPipeline, columns: list[str], df: pl.DataFrame, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, hashes) of every combination of the columns' values in each row, rows ascending."""
    parts = [component_hashes(fitted, c, df, where) for c in columns]
    if all(not fitted.features[c].multivalent for c in columns):
        return parts[0][0], reduce(hashing.combine, [h for _, h in parts])
    frame = pl.DataFrame({"r": parts[0][0], "h": parts[0][1]})
    for rows, h in parts[1:]:
        frame = frame.join(pl.DataFrame({"r": rows, "h2": h}), on="r", how="inner", maintain_order="left_right")
        frame = frame.select("r", h=pl.Series(hashing.combine(frame["h"].to_numpy(), frame["h2"].to_numpy())))
    return frame["r"].to_numpy(), frame["h"].to_numpy()


def cross_ids(fitted: FittedPipeline, name: str, df: pl.DataFrame, where: str) -> np.ndarray | Ragged:
    f = fitted.features[name]
    assert isinstance(f, _Cross), name
    rows, h = cross_hashes(fitted, f.columns, df, where)
    ids = f.ids(h)
    return Ragged.of(ids, np.bincount(rows, minlength=len(df))) if f.multivalent else ids


# --------------------------------------------------------------------------------------------- columns


def categorical_ids(f: _Categorical, df: pl.DataFrame, where: str) -> np.ndarray | Ragged:
    s = f.source
    if s.multivalent:
        flat, counts, w = clean.list_values(df, s, where)
        return Ragged.of(f.ids(flat), counts, w)
    return f.ids(df.select(clean.text(s.column, s.missing))[s.column])


def feature_ids(fitted: FittedPipeline, name: str, df: pl.DataFrame, where: str) -> np.ndarray | Ragged:
    """The ids of one sparse feature: the one place that dispatches on its kind."""
    f = fitted.features[name]
    if isinstance(f, _Categorical):
        return categorical_ids(f, df, where)
    if isinstance(f, Buckets):
        return f.ids(clean.numbers(df, f.column, f.missing, where))
    return cross_ids(fitted, name, df, where)


def univalent_ids(fitted: FittedPipeline, name: str, df: pl.DataFrame, where: str) -> np.ndarray:
    """The ids of a univalent sparse feature (`feature_ids`, typed)."""
    ids = feature_ids(fitted, name, df, where)
    assert isinstance(ids, np.ndarray), f"'{name}' is multivalent"
    return ids


def multivalent_ids(fitted: FittedPipeline, name: str, df: pl.DataFrame, where: str) -> Ragged:
    """The ids of a multivalent sparse feature (`feature_ids`, typed)."""
    bag = feature_ids(fitted, name, df, where)
    assert isinstance(bag, Ragged), f"'{name}' is univalent"
    return bag


def vocabulary_ids(f: Vocabulary, raw: pl.Series, codes: pl.Series) -> np.ndarray:
    """Ids of a raw column whose values were cast to the vocabulary's Enum (`codes`). Only the values not
    found as they are (out of the vocabulary, missing markers, stray whitespace) go through cleaning."""
    ids = codes.fill_null(-1).to_numpy().astype(np.int64) + 1 + f.oov
    unresolved = codes.is_null()
    if unresolved.any():
        rest = pl.DataFrame({"v": raw.filter(unresolved)}).select(clean.text("v", f.source.missing))["v"]
        ids[unresolved.to_numpy()] = f.ids(rest)
    return ids


DENSE_LIMIT = 1e12  # a transformed value's bound: far past any real one, finite through the model (docs/errors.md)


class DenseTransform:
    """The numeric features' model input, all at once: float64 values [n, D] with NaN for missing in,
    float32 [n, D] out."""

    def __init__(self, features: list[Numeric]):
        self.lo = np.array([f.clip[0] if f.clip else -np.inf for f in features], dtype=np.float64)
        self.hi = np.array([f.clip[1] if f.clip else np.inf for f in features], dtype=np.float64)
        self.fill = np.array([f.fill for f in features], dtype=np.float64)
        pick = lambda t: np.array([j for j, f in enumerate(features) if f.transform == t], dtype=np.int64)  # noqa: E731
        self.log, self.std, self.minmax = pick("log1p"), pick("standardize"), pick("minmax")
        self.mean = np.array([features[j].mean for j in self.std], dtype=np.float64)
        self.scale = np.array([features[j].std or 1.0 for j in self.std], dtype=np.float64)
        self.min = np.array([features[j].min for j in self.minmax], dtype=np.float64)
        self.range = np.array([(features[j].max - features[j].min) or 1.0 for j in self.minmax], dtype=np.float64)
        self.quantile = [
            (j, *positions(f), max(len(f.boundaries), 1)) for j, f in enumerate(features) if f.transform == "quantile"
        ]
        self.scaled = np.array([j for j, f in enumerate(features) if (f.center, f.spread) != (0, 1)], dtype=np.int64)
        self.center = np.array([features[j].center for j in self.scaled], dtype=np.float64)
        self.spread = np.array([features[j].spread for j in self.scaled], dtype=np.float64)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.clip(x, self.lo, self.hi)  # a copy; NaN stays NaN
        np.copyto(x, np.broadcast_to(self.fill, x.shape), where=np.isnan(x))
        if len(self.log):
            v = x[:, self.log]
            x[:, self.log] = np.sign(v) * np.log1p(np.abs(v))
        if len(self.std):
            x[:, self.std] = (x[:, self.std] - self.mean) / self.scale
        if len(self.minmax):
            x[:, self.minmax] = (x[:, self.minmax] - self.min) / self.range
        for j, knots, at, k in self.quantile:
            x[:, j] = np.interp(x[:, j], knots, at) if len(at) else np.searchsorted(knots, x[:, j], "right") / k
        if len(self.scaled):
            x[:, self.scaled] = (x[:, self.scaled] - self.center) / self.spread
        np.clip(x, -DENSE_LIMIT, DENSE_LIMIT, out=x)  # 1e308 through minmax would be inf in float32, NaN in the MLP
        return np.ascontiguousarray(x, dtype=np.float32)


def positions(f: Numeric) -> tuple[np.ndarray, np.ndarray]:
    """Where the model reads a quantile column: fitted before `smooth`, its boundaries b_1 < ... < b_k and no
    positions: the number of boundaries <= x, over k; `smooth`, a line through (min, 0), (b_i, i/(k+1)) and (max, 1),
    a knot equal to the one before it left out (a spike at the minimum): the share of training values below x,
    read between the quantiles rather than rounded down to one of them."""
    b = np.asarray(f.boundaries, dtype=np.float64)
    if not f.smooth:
        return b, np.zeros(0)
    lo, hi = (min(f.min, b[0]), max(f.max, b[-1])) if len(b) else (f.min, max(f.min, f.max))
    knots = np.concatenate([[lo], b, [hi]])
    keep = np.concatenate([[True], np.diff(knots) > 0])
    return knots[keep], (np.arange(len(knots)) / (len(knots) - 1))[keep]


def numeric_block(fitted: FittedPipeline, df: pl.DataFrame, where: str) -> np.ndarray:
    """float64 [n, D] of the numeric features, NaN for missing markers, nulls, NaN and inf."""
    x = np.empty((len(df), len(fitted.dense)), dtype=np.float64, order="F")  # column by column: contiguous columns
    for j, name in enumerate(fitted.dense):
        x[:, j] = clean.numbers(df, name, fitted.numeric(name).missing, where)
    return x


# -------------------------------------------------------------------------------------------- transform


def transform(fitted: FittedPipeline, df: pl.DataFrame, where: str = "data", with_label: bool | None = None) -> Encoded:
    """Encode raw rows. with_label=None reads the label (and weight) when the frame has them."""
    spec = fitted.spec
    if with_label is None:
        with_label = spec.label.column in df.columns
    check_columns(spec, df, where, need_label=with_label)
    df = fitted.clean(df)
    n = len(df)
    sparse = np.empty((n, len(fitted.univalent)), dtype=np.int64)
    vocab = {c: f for c in fitted.univalent if isinstance(f := fitted.features[c], Vocabulary)}
    codes = df.select([f.codes(c) for c, f in vocab.items()])  # one parallel select
    for j, name in enumerate(fitted.univalent):
        if name in vocab:
            sparse[:, j] = vocabulary_ids(vocab[name], df[name], codes[name])
        else:
            sparse[:, j] = univalent_ids(fitted, name, df, where)
    multi = {name: multivalent_ids(fitted, name, df, where) for name in fitted.multivalent}
    dense = DenseTransform([fitted.numeric(c) for c in fitted.dense])(numeric_block(fitted, df, where))
    label = label_array(spec, df, where) if with_label else None
    weight = weight_array(spec, df, where) if with_label and spec.label.weight else None
    group = df[spec.label.group].to_numpy() if spec.label.group and spec.label.group in df.columns else None
    return Encoded(sparse, multi, dense, label, weight, group, n)
