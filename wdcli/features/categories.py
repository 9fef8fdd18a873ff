"""A categorical column's fit from its counted values: the values cleaned (`wdcli.features.clean`) and counted
again, then a vocabulary, a hash or identity ids."""

from __future__ import annotations

import polars as pl

from ..spec import Spec
from ..spec.types import Categorical, Multivalent
from ..spec.vocabulary import auto_min_count
from . import clean
from .fitted import Feature, Hashed, Identity, Text, Vocabulary


def cleaned_counts(counts: pl.DataFrame, missing: list[str] | None) -> tuple[pl.DataFrame, bool]:
    """The counts of a column's raw values as counts of its cleaned values (the missing ones left out; None: they
    are cleaned already, a list's), and whether its text holds whole numbers written as floats ("300.0", read as
    "300": `clean.whole_floats`)."""
    c = counts if missing is None else counts.with_columns(clean.text("value", missing)).drop_nulls("value")
    whole = bool(c["value"].str.contains(clean.WHOLE_TEXT).any())
    if whole:
        c = c.with_columns(clean.whole_text(pl.col("value")))
    return c.group_by("value").agg(pl.col("count").sum()), whole


def vocabulary(counts: pl.DataFrame, min_count: int, max_size: int | None) -> list[str]:
    """Values seen at least min_count times, most frequent first (ties by value): a deterministic order."""
    v = counts.filter(pl.col("count") >= min_count).sort(["count", "value"], descending=[True, False])
    if max_size is not None:
        v = v.head(max_size)
    return v["value"].to_list()


def text_source(name: str, col: Categorical | Multivalent, whole_text: bool = False) -> Text:
    text = Text(column=name, missing=col.missing, whole_floats=True, whole_text=whole_text)
    if isinstance(col, Multivalent):
        lists = {"separator": col.separator, "weights": col.weights, "max_values": col.max_values}
        return text.model_copy(update={"multivalent": True, **lists})
    return text


def categorical(
    spec: Spec, name: str, col: Categorical | Multivalent, counts: dict[str, pl.DataFrame], rows: int, whole_text: bool
) -> Feature:
    source = text_source(name, col, whole_text)
    if col.encoding == "hash":
        return Hashed(name=name, source=source, buckets=col.hash_buckets)
    if col.encoding == "identity":
        return Identity(name=name, source=source, num_ids=col.num_ids)
    table = spec.shared_table_of(name)  # columns sharing a table share one vocabulary
    group = [c for c in spec.deep.shared.get(table, [name]) if c in counts] if table else [name]
    merged = pl.concat([counts[c] for c in group]).group_by("value").agg(pl.col("count").sum())
    min_count = auto_min_count(rows, merged["count"]) if col.min_count == "auto" else col.min_count
    return Vocabulary(name=name, source=source, values=vocabulary(merged, min_count, col.max_size), oov=col.oov_buckets)
