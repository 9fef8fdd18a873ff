"""What a frame must hold for a spec: its declared columns (named in one error with "did you mean"), and the
label and sample weight as arrays, with errors that name the column and the values found."""

from __future__ import annotations

import difflib

import numpy as np
import polars as pl

from ..errors import DataError
from ..spec import Spec
from ..spec.types import Bucketized, Multivalent
from .clean import LISTS, numbers


def check_columns(spec: Spec, df: pl.DataFrame, where: str, need_label: bool) -> None:
    """Raise one DataError naming every declared column the frame lacks or cannot use."""
    have = set(df.columns)
    want = {}
    for name, col in spec.columns.items():
        if isinstance(col, Bucketized):
            want[col.source] = f"columns.{name}.source"
        else:
            want[name] = f"columns.{name}"
        if isinstance(col, Multivalent) and col.weights:
            want[col.weights] = f"columns.{name}.weights"
    if need_label:
        want[spec.label.column] = "label.column"
    if spec.label.weight and need_label:
        want[spec.label.weight] = "label.weight"
    problems, schema = [], df.schema
    for column, path in want.items():
        if column not in have:
            close = difflib.get_close_matches(column, list(have), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"missing column '{column}' (needed by {path}){hint}")
    for name, col in spec.columns.items():
        if name in have and not isinstance(col, Multivalent) and isinstance(schema[name], LISTS):
            problems.append(f"column '{name}' holds lists; declare it kind: multivalent")
        if name in have and isinstance(col, Multivalent) and col.separator is None and not isinstance(
                schema[name], LISTS):
            problems.append(f"column '{name}' is not a list column; give columns.{name}.separator to split its text")
    if problems:
        cols = ", ".join(df.columns[:20]) + (" ..." if len(df.columns) > 20 else "")
        raise DataError(f"{where}: " + "; ".join(problems) + f". The file has: {cols}")


def label_array(spec: Spec, df: pl.DataFrame, where: str, fitting: bool = False) -> np.ndarray:
    """The label as 0/1 float32. Errors name the column and the values found."""
    name, positive = spec.label.column, spec.label.positive
    if name not in df.columns:
        raise DataError(f"{where}: missing label column '{name}' (label.column)")
    s = df[name]
    if s.null_count():
        raise DataError(f"{where}: label column '{name}' is missing in {s.null_count()} rows; drop or fill them")
    text = s.cast(pl.String).str.strip_chars()
    seen = text.unique().sort().to_list()
    if positive is None:
        ones, zeros = {"1", "1.0", "true", "True"}, {"0", "0.0", "false", "False"}
        other = [v for v in seen if v not in ones | zeros]
        if other:
            raise DataError(f"{where}: label column '{name}' has values {show(other)} that are not 0/1 or "
                            f"true/false; name the positive value with label.positive")
        return text.is_in(list(ones)).to_numpy().astype(np.float32)
    pos = str(positive).lower() if isinstance(positive, bool) else str(positive)
    if isinstance(positive, bool):
        text = text.str.to_lowercase()
        seen = [v.lower() for v in seen]
    if len(seen) > 2:
        raise DataError(f"{where}: label column '{name}' has {len(seen)} distinct values {show(seen)}; "
                        f"a binary label has two (positive: {pos!r} and one other)")
    if fitting and pos not in seen:
        raise DataError(f"{where}: label.positive {pos!r} never occurs in column '{name}' (values: {show(seen)}); "
                        "fix label.positive")
    return (text == pos).to_numpy().astype(np.float32)


def weight_array(spec: Spec, df: pl.DataFrame, where: str) -> np.ndarray:
    name = spec.label.weight
    w = numbers(df, name, [], where)
    if np.isnan(w).any() or (w < 0).any():
        raise DataError(f"{where}: weight column '{name}' needs a finite, non-negative number in every row")
    return w.astype(np.float32)


def show(values: list) -> str:
    shown = ", ".join(repr(v) for v in values[:5])
    return f"[{shown}{', ...' if len(values) > 5 else ''}]"
