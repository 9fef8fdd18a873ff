"""The cleaning rules, in one place: how raw cells become values. `transform` and the serving encoder both
use them; they differ only in how they look the cleaned values up.

- text: surrounding spaces stripped; "" and the declared missing markers are missing (null);
- numbers: text is stripped and parsed; "", markers, NaN and +-inf are missing; other text is an error;
- lists: a list column, or text split on the declared separator; each value cleaned as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

import numpy as np
import polars as pl

from ..errors import DataError, counted

if TYPE_CHECKING:
    from .fitted import Text

LISTS = (pl.List, pl.Array)
REQUEST = "request"  # how the server names the rows of a request: their errors advise the client, not the spec


def text(column: str | pl.Expr, missing: list[str] | tuple[str, ...]) -> pl.Expr:
    """A column as stripped text, with "" and the missing markers as null (named as the column)."""
    e = (pl.col(column) if isinstance(column, str) else column).cast(pl.String).str.strip_chars()
    absent = (e == "") | e.is_in(list(missing)) if missing else (e == "")
    out = pl.when(absent).then(None).otherwise(e)
    return out.alias(column) if isinstance(column, str) else out


# a whole number written as a float ("300.0"), as pandas writes an integer column that has a missing value
WHOLE_TEXT = r"^\s*(-?\d+)\.0+\s*$"


def whole_floats(df: pl.DataFrame, columns: list[str], texts: Mapping[str, str | None] | None = None) -> pl.DataFrame:
    """The float columns (and lists of floats) among `columns` as text in which a whole number reads as an integer
    column writes it ("300", not "300.0"), so that a category is the same value whichever type carries it: a JSON
    client's 300.0, pandas' integer column with a missing value (float) and a CSV's 300; NaN is missing, as a JSON
    client can only send it (null). The text columns among `texts` (those whose training text held "300.0": a
    float column written out, `whole_text`; column -> the separator of the lists it holds as text, or None) read
    such text as "300" too, and so do the values of their lists. Other columns as they are (nothing is done, nor
    costs, where no column is a float or such text)."""
    exprs, schema, texts = [], df.schema, texts or {}
    for column in dict.fromkeys([*columns, *texts]):
        dtype = schema.get(column)
        if dtype is None:
            continue
        if dtype.is_float() and column in columns:
            exprs.append(_whole(pl.col(column)).alias(column))
        elif isinstance(dtype, LISTS) and dtype.inner.is_float() and column in columns:
            exprs.append(pl.col(column).cast(pl.List(dtype.inner)).list.eval(_whole(pl.element())).alias(column))
        elif dtype == pl.String and column in texts and texts[column] is None:
            exprs.append(whole_text(pl.col(column)).alias(column))
        elif dtype == pl.String and column in texts:  # (a list as text: its values)
            sep = cast(str, texts[column])
            exprs.append(pl.col(column).str.split(sep).list.eval(whole_text(pl.element())).list.join(sep).alias(column))
        elif isinstance(dtype, LISTS) and dtype.inner == pl.String and column in texts:
            exprs.append(pl.col(column).cast(pl.List(pl.String)).list.eval(whole_text(pl.element())).alias(column))
    return df.with_columns(exprs) if exprs else df


def whole_text(x: pl.Expr) -> pl.Expr:
    """Text as `whole_floats` reads it: "300.0" as "300"."""
    return x.str.replace(WHOLE_TEXT, "${1}")


def _whole(x: pl.Expr) -> pl.Expr:
    whole = x.is_finite() & (x == x.floor()) & (x.abs() < 2.0**63)
    text = pl.when(whole).then(x.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(x.cast(pl.String))
    return pl.when(x.is_nan()).then(None).otherwise(text)


def number(column: str, missing: list[str] | tuple[str, ...], dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr] | None:
    """(Float64 value, is-unparsable-text) expressions of a numeric column of this type, or None when the type
    cannot hold numbers. Non-finite values are left for `finite` (numpy does them faster)."""
    if dtype == pl.String:
        t = text(column, missing)
        value = t.cast(pl.Float64, strict=False)
        return value, value.is_null() & t.is_not_null()
    if dtype == pl.Null or dtype == pl.Boolean or dtype.is_numeric():
        return pl.col(column).cast(pl.Float64), pl.lit(False)
    return None


# cells that commonly mean "missing" in exported tables ("" is missing already): what `init` looks for, and what
# an error on a numeric column suggests listing under defaults.numeric.missing
MARKERS = ("?", "NA", "N/A", "n/a", "na", "-", "--", "null", "NULL", "None", "nan", "NaN", "#N/A")


def numbers(df: pl.DataFrame, column: str, missing: list[str] | tuple[str, ...], where: str) -> np.ndarray:
    """A numeric column as float64 with NaN for missing (markers, "", null, NaN, +-inf). Text is an error, whose
    fix is the spec's for data, and the client's for a served request (`where` is REQUEST)."""
    exprs = number(column, missing, df.schema[column])
    fix = "send numbers there (null for a missing value)" if where == REQUEST else "declare it categorical"
    if exprs is None:
        raise DataError(f"{where}: column '{column}' has type {df.schema[column]}, which is not numeric; {fix}")
    value, bad = exprs
    out = df.select(value.alias("v"), bad.alias("bad"))
    if out["bad"].any():
        raw = df.filter(out["bad"])[column].cast(pl.String).str.strip_chars()
        examples = raw.unique(maintain_order=True).head(3).to_list()
        n = int(out["bad"].sum())
        if where != REQUEST:
            fix += f", or list such values under columns.{column}.missing"
            if marker := next((x for x in examples if x in MARKERS), None):  # (as R's NA: likely in every number)
                fix = (
                    f"{marker!r} marks missing values: list it under defaults.numeric.missing (every numeric "
                    f"column), e.g. defaults: {{numeric: {{missing: [{marker!r}]}}}}, or under columns.{column}.missing"
                )
        raise DataError(
            f"{where}: column '{column}' is declared numeric but holds text such as "
            f"{', '.join(repr(x) for x in examples)} ({counted(n, 'row')}); {fix}"
        )
    return finite(out["v"].to_numpy())


def finite(x: np.ndarray) -> np.ndarray:
    """float64 values with NaN for null, NaN and +-inf."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(np.isfinite(x), x, np.nan)


def lists(column: str, separator: str | None, dtype: pl.DataType) -> pl.Expr | None:
    """A multivalent column as List(String), or None when its type holds no lists (and no separator splits it)."""
    if separator is not None and dtype == pl.String:
        return pl.col(column).str.split(separator)
    if isinstance(dtype, LISTS) or dtype == pl.Null:  # (a column of nulls alone: every row's list missing)
        return pl.col(column).cast(pl.List(pl.String))
    return None


def list_values(
    df: pl.DataFrame, source: Text, where: str, weights: bool = True
) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """(the valid values, flat; per-row counts of them; their weights) of a multivalent column, as its `source`
    (`wdcli.features.fitted.Text`) says: values that are missing are dropped with their weights, and a row keeps
    its first `max_values`."""
    column, separator = source.column, source.separator
    expr = lists(column, separator, df.schema[column])
    if expr is None:
        raise DataError(f"{where}: column '{column}' is not a list column; set columns.{column}.separator")
    s = df.select(expr)[column]
    raw_counts = s.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = s.explode(empty_as_null=False, keep_nulls=False).str.strip_chars()
    valid = (flat.is_not_null() & (flat != "") & ~flat.is_in(list(source.missing) or [""])).to_numpy()
    rows = np.repeat(np.arange(len(s)), raw_counts)
    if source.max_values is not None:
        valid[np.flatnonzero(valid)[~first_values(rows[valid], source.max_values)]] = False
    rows = rows[valid]
    if weights and source.weights:
        w = df[source.weights]
        if separator is not None and w.dtype == pl.String:
            w = w.str.split(separator)
        w = w.cast(pl.List(pl.Float64), strict=False)
        if not np.array_equal(w.list.len().fill_null(0).to_numpy(), raw_counts):
            raise DataError(
                f"{where}: column '{source.weights}' must hold one weight per value of '{column}' in every row"
            )
        flat_w = w.explode(empty_as_null=False, keep_nulls=False).fill_null(0.0).to_numpy().astype(np.float32)[valid]
    else:
        flat_w = np.ones(int(valid.sum()), dtype=np.float32)
    return flat.filter(pl.Series(valid)), np.bincount(rows, minlength=len(s)).astype(np.int64), flat_w


def first_values(rows: np.ndarray, max_values: int) -> np.ndarray:
    """Which values to keep so that each row keeps its first `max_values` (rows: each value's row, ascending)."""
    if len(rows) == 0:
        return np.ones(0, dtype=bool)
    starts = np.r_[0, np.flatnonzero(np.diff(rows)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    return (np.arange(len(rows)) - first) < max_values
