"""The crosses' fitted states: a vocabulary cross's kept combinations from their counts (`fit_pipeline`'s second
pass), and readable names of combinations from the first training rows (for `wdcli inspect`)."""

from __future__ import annotations

import numpy as np
import polars as pl

from ..spec import Spec
from ..spec.types import Bucketized, Cross, Multivalent
from . import clean, hashing
from .fitted import Buckets, HashedCross, VocabularyCross
from .inputs import spec_inputs
from .pipeline import FittedPipeline
from .transform import cross_hashes


def cross_inputs(spec: Spec) -> list[str]:
    """The raw columns the crosses' columns read (what their readable names are made of)."""
    reads: set[str] = set()
    for name in {c for x in spec.crosses for c in x.columns}:
        col = spec.columns[name]
        reads |= {col.source} if isinstance(col, Bucketized) else {name}
        reads |= {col.weights} if isinstance(col, Multivalent) and col.weights else set()
    return [c for c in spec_inputs(spec) if c in reads]


def fit_cross(
    fitted: FittedPipeline, cross: Cross, head: pl.DataFrame, counts: pl.DataFrame | None, where: str
) -> HashedCross | VocabularyCross:
    """A cross from the combination counts (vocabulary) and the first rows (readable names)."""
    multivalent = any(fitted.features[c].multivalent for c in cross.columns)
    rows, h = cross_hashes(fitted, cross.columns, head, where)
    combos = pl.DataFrame({"h": h, "name": cross_names(fitted, cross.columns, head, where)})
    base = {"name": cross.key, "columns": list(cross.columns), "multivalent": multivalent}
    if cross.encoding == "vocab":
        assert counts is not None  # (counted for each vocabulary cross)
        vocab = counts.filter(pl.col("count") >= cross.min_count).sort(["count", "h"], descending=[True, False])
        if cross.max_size:
            vocab = vocab.head(cross.max_size)
        first = combos.unique("h", keep="first", maintain_order=True)
        vocab = vocab.join(first, on="h", how="left", maintain_order="left")
        return VocabularyCross(**base, hashes=vocab["h"].to_list(), names=vocab["name"].fill_null("?").to_list())
    # hashed: remember a readable example for the most frequent buckets, for `wdcli inspect`
    top = (
        combos.with_columns(b=pl.Series(hashing.bucket(combos["h"].to_numpy(), cross.buckets) + 1))
        .group_by("b", "name")
        .len()
        .sort(["len", "b", "name"], descending=[True, False, False])
        .unique("b", keep="first", maintain_order=True)
        .head(2000)
    )
    return HashedCross(**base, buckets=cross.buckets, examples=dict(zip(top["b"].to_list(), top["name"].to_list())))


def cross_names(fitted: FittedPipeline, columns: list[str], df: pl.DataFrame, where: str) -> list[str]:
    """Readable 'a=x AND b=y' names of each combination (in the order of `cross_hashes`)."""
    parts = []
    for c in columns:
        f = fitted.part(c)
        if isinstance(f, Buckets):
            labels = ["<missing>"] + [f.label(i) for i in range(1, f.cardinality)]
            parts.append((np.arange(len(df)), pl.Series(labels)[f.ids(clean.numbers(df, f.column, f.missing, where))]))
        elif f.multivalent:
            flat, counts, _ = clean.list_values(df, f.source, where, weights=False)
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
