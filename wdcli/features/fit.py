"""`fit_pipeline(spec, train)`: learn every feature's state from the training rows only (vocabularies,
quantile boundaries, statistics, cross vocabularies), as the typed features of `wdcli.features.fitted`."""

from __future__ import annotations

import numpy as np
import polars as pl

from ..errors import DataError
from ..spec import Spec
from ..spec.types import Bucketized, Categorical, Multivalent
from ..spec.types import Numeric as NumericSpec
from . import clean, hashing
from .fitted import (Buckets, Feature, FittedPipeline, Hashed, HashedCross, Identity, Numeric, Text, Vocabulary,
                     VocabularyCross)
from .inputs import check_columns, label_array
from .transform import cross_hashes

NAMED_ROWS = 50_000  # readable names of cross combinations are taken from the first rows


def quantile_boundaries(values: np.ndarray, q: int) -> list[float]:
    """Interior boundaries of q quantile buckets of the sorted values (duplicates merged)."""
    if len(values) == 0:
        return []
    idx = np.clip(np.ceil(np.arange(1, q) / q * len(values)).astype(np.int64) - 1, 0, len(values) - 1)
    return [float(x) for x in np.unique(values[idx])]


def vocabulary(counts: pl.DataFrame, min_count: int, max_size: int | None) -> list[str]:
    """Values seen at least min_count times, most frequent first (ties by value): a deterministic order."""
    v = counts.filter(pl.col("count") >= min_count).sort(["count", "value"], descending=[True, False])
    if max_size is not None:
        v = v.head(max_size)
    return v["value"].to_list()


def text_source(name: str, col: Categorical | Multivalent) -> Text:
    if isinstance(col, Multivalent):
        return Text(column=name, missing=col.missing, multivalent=True, separator=col.separator, weights=col.weights)
    return Text(column=name, missing=col.missing)


def _categorical(name: str, col: Categorical | Multivalent, values: list[str] | None) -> Feature:
    source = text_source(name, col)
    if col.encoding == "hash":
        return Hashed(name=name, source=source, buckets=col.hash_buckets)
    if col.encoding == "identity":
        return Identity(name=name, source=source, num_ids=col.num_ids)
    return Vocabulary(name=name, source=source, values=values, oov=col.oov_buckets)


def _value_counts(spec: Spec, train: pl.DataFrame, where: str) -> dict[str, pl.DataFrame]:
    """Counts of the cleaned values of every categorical and multivalent column (value, count)."""
    text = {n: c for n, c in spec.columns.items() if isinstance(c, (Categorical, Multivalent))}
    univalent = [n for n, c in text.items() if isinstance(c, Categorical)]
    raw = dict(zip(univalent, pl.collect_all([  # counted raw, in parallel; only the distinct values are cleaned
        train.lazy().select(pl.col(n).cast(pl.String).value_counts(name="count")).unnest(n).rename({n: "value"})
        for n in univalent])))
    counts = {}
    for name, col in text.items():
        if isinstance(col, Categorical):
            c = raw[name].with_columns(clean.text("value", col.missing).alias("value")).drop_nulls("value")
            c = c.group_by("value").agg(pl.col("count").sum())
        else:
            values = clean.list_values(train, name, col.separator, col.missing, None, where)[0]
            c = values.value_counts(name="count").rename({values.name: "value"})
        if len(c) == 0:
            raise DataError(f"{where}: column '{name}' has no values (all missing); fix the data or remove the column")
        counts[name] = c
    return counts


def fit_numeric(values: pl.Series, col: NumericSpec, name: str, where: str) -> Numeric:
    if col.clip is not None:
        values = values.clip(col.clip[0], col.clip[1])
    present = values.drop_nulls()
    if len(present) == 0:
        raise DataError(f"{where}: column '{name}' has no values (all missing, NaN or inf); fix the data or "
                        "remove the column")
    if isinstance(col.fill, float | int) and not isinstance(col.fill, bool):
        fill = float(col.fill)
    else:
        fill = {"mean": present.mean, "median": present.median, "zero": lambda: 0.0}[col.fill]()
    filled = values.fill_null(fill)
    if col.transform == "log1p":
        filled = filled.sign() * filled.abs().log1p()
    bounds = quantile_boundaries(filled.sort().to_numpy(), col.quantiles) if col.transform == "quantile" else []
    return Numeric(name=name, missing=col.missing, transform=col.transform, fill=float(fill), clip=col.clip,
                   mean=float(filled.mean()), std=float(filled.std() or 0.0), min=float(filled.min()),
                   max=float(filled.max()), boundaries=bounds)


def fit_pipeline(spec: Spec, train: pl.DataFrame, where: str = "training data") -> FittedPipeline:
    """Learn every feature's state from the training rows."""
    check_columns(spec, train, where, need_label=True)
    if len(train) == 0:
        raise DataError(f"{where}: no rows to fit on")
    label_array(spec, train, where, fitting=True)
    features: dict[str, Feature] = {}
    numbers: dict[str, pl.Series] = {}  # each numeric source column parsed once

    def values(column: str) -> pl.Series:
        if column not in numbers:
            source = spec.columns.get(column)
            missing = source.missing if isinstance(source, NumericSpec) else []
            numbers[column] = pl.Series(column, clean.numbers(train, column, missing, where)).fill_nan(None)
        return numbers[column]

    counts = _value_counts(spec, train, where)
    for name, col in spec.columns.items():
        if isinstance(col, (Categorical, Multivalent)):
            vocab = None
            if col.encoding == "vocab":  # columns sharing a table share one vocabulary
                table = spec.shared_table_of(name)
                group = [c for c in spec.deep.shared.get(table, [name]) if c in counts] if table else [name]
                merged = pl.concat([counts[c] for c in group]).group_by("value").agg(pl.col("count").sum())
                vocab = vocabulary(merged, col.min_count, col.max_size)
            features[name] = _categorical(name, col, vocab)
        elif isinstance(col, NumericSpec):
            features[name] = fit_numeric(values(name), col, name, where)
        elif isinstance(col, Bucketized):
            source = spec.columns.get(col.source)
            bounds = list(col.boundaries) if col.boundaries is not None else quantile_boundaries(
                values(col.source).drop_nulls().sort().to_numpy(), col.quantiles)
            features[name] = Buckets(name=name, column=col.source, boundaries=bounds,
                                     missing=source.missing if isinstance(source, NumericSpec) else [])
    fitted = FittedPipeline(spec, features)
    crosses = {x.key: fit_cross(fitted, x, train, where) for x in spec.crosses}
    # model order: sparse columns, crosses, then numeric columns (the dense block)
    sparse = {n: f for n, f in features.items() if not isinstance(f, Numeric)}
    dense = {n: f for n, f in features.items() if isinstance(f, Numeric)}
    return FittedPipeline(spec, {**sparse, **crosses, **dense})


def fit_cross(fitted: FittedPipeline, cross, train: pl.DataFrame, where: str) -> HashedCross | VocabularyCross:
    multivalent = any(fitted.features[c].multivalent for c in cross.columns)
    rows, h = cross_hashes(fitted, cross.columns, train, where)
    named = min(len(train), NAMED_ROWS)
    names = cross_names(fitted, cross.columns, train.head(named), where)
    combos = pl.DataFrame({"h": h[rows < named], "name": names})
    base = {"name": cross.key, "columns": list(cross.columns), "multivalent": multivalent}
    if cross.encoding == "vocab":
        counts = pl.DataFrame({"h": h}).group_by("h").len("count")
        vocab = counts.filter(pl.col("count") >= cross.min_count).sort(["count", "h"], descending=[True, False])
        if cross.max_size:
            vocab = vocab.head(cross.max_size)
        first = combos.unique("h", keep="first", maintain_order=True)
        vocab = vocab.join(first, on="h", how="left", maintain_order="left")
        return VocabularyCross(**base, hashes=vocab["h"].to_list(), names=vocab["name"].fill_null("?").to_list())
    # hashed: remember a readable example for the most frequent buckets, for `wdcli inspect`
    top = (combos.with_columns(b=pl.Series(hashing.bucket(combos["h"].to_numpy(), cross.buckets) + 1))
           .group_by("b", "name").len().sort(["len", "b", "name"], descending=[True, False, False])
           .unique("b", keep="first", maintain_order=True).head(2000))
    return HashedCross(**base, buckets=cross.buckets, examples=dict(zip(top["b"].to_list(), top["name"].to_list())))


def cross_names(fitted: FittedPipeline, columns: list[str], df: pl.DataFrame, where: str) -> list[str]:
    """Readable 'a=x AND b=y' names of each combination (in the order of `cross_hashes`)."""
    parts = []
    for c in columns:
        f = fitted.features[c]
        if isinstance(f, Buckets):
            labels = ["<missing>"] + [f.label(i) for i in range(1, f.cardinality)]
            parts.append((np.arange(len(df)), pl.Series(labels)[f.ids(clean.numbers(df, f.column, f.missing, where))]))
        elif f.multivalent:
            s = f.source
            flat, counts, _ = clean.list_values(df, s.column, s.separator, s.missing, None, where)
            parts.append((np.repeat(np.arange(len(df)), counts), flat))
        else:
            text = df.select(clean.text(f.source.column, f.source.missing))[f.source.column]
            parts.append((np.arange(len(df)), text.fill_null("<missing>")))
    frame = pl.DataFrame({"r": parts[0][0], "n": (columns[0] + "=" + parts[0][1].cast(pl.String))})
    for c, (rows, values) in zip(columns[1:], parts[1:]):
        other = pl.DataFrame({"r": rows, "v": values.cast(pl.String)})
        frame = frame.join(other, on="r", how="inner", maintain_order="left_right")
        frame = frame.select("r", n=pl.col("n") + f" AND {c}=" + pl.col("v"))
    return frame["n"].to_list()
