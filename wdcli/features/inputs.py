"""What a frame must hold for a spec: the raw columns the spec reads (`spec_inputs`, the one answer to that
question), checked in one error with "did you mean", and the label and sample weight as arrays, with errors
that name the column and the values found."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import polars as pl

from ..errors import DataError, MissingColumns, suggest
from ..spec import Spec
from ..spec.types import Bucketized, Multivalent
from .clean import LISTS, REQUEST, numbers

MAX_VALUE_BYTES = 1 << 20  # a value of a column the spec reads (no category is a MiB long; the server takes 64 Ki)


class Input(NamedTuple):
    """How a spec reads one raw column, and the spec keys that need it (the column's own declaration first)."""

    reads: str  # numeric, categorical, multivalent, weights (a multivalent column's value weights), label, weight
    needed_by: tuple[str, ...]


def spec_inputs(spec: Spec, label: bool = False, group: bool = False) -> dict[str, Input]:
    """Every raw column the spec's features read, in the order the spec first names them: declared columns, the
    sources of bucketized ones and the value weights of multivalent ones; with `label`, the label and the sample
    weight too; with `group`, the group column (training rows need it for gAUC). Checks, fitting, scoring and
    serving all ask this."""
    reads: dict[str, str] = {}
    needed: dict[str, list[str]] = {}
    for name, col in spec.columns.items():
        if isinstance(col, Bucketized):
            reads.setdefault(col.source, "numeric")
            needed.setdefault(col.source, []).append(f"columns.{name}.source")
        else:  # the column's own declaration says how it is read, and is named first
            reads[name] = col.kind
            needed.setdefault(name, []).insert(0, f"columns.{name}")
        if isinstance(col, Multivalent) and col.weights:
            reads.setdefault(col.weights, "weights")
            needed.setdefault(col.weights, []).append(f"columns.{name}.weights")
    if label or group:
        for column, how, key in (
            (spec.label.column if label else None, "label", "label.column"),
            (spec.label.weight if label else None, "weight", "label.weight"),
            (spec.label.group if group else None, "group", "label.group"),
        ):
            if column:
                reads.setdefault(column, how)
                needed.setdefault(column, []).append(key)
    return {column: Input(reads[column], tuple(keys)) for column, keys in needed.items()}


def check_columns(
    spec: Spec, df: pl.DataFrame, where: str, need_label: bool, what: str = "file", need_group: bool = False
) -> None:
    """Raise one DataError naming every column the spec reads that the frame lacks or cannot use
    (`MissingColumns` when some are absent). A missing column is blamed on the keys that need it, the declared
    column first. `what`: what the frame came from, as the message names it ("The file has: ..."). Then a text
    value past MAX_VALUE_BYTES in any of them is an error of its own (not in a request: the server's limit is its
    own)."""
    have, inputs = set(df.columns), spec_inputs(spec, label=need_label, group=need_group)
    problems, schema, missing = [], df.schema, False
    unread = [c for c in df.columns if c not in inputs]
    for column, needs in inputs.items():
        if column not in have:
            # a column declared as a feature is not another feature's column misnamed (a bucket's source, a
            # weight, label.weight may name one)
            hint = suggest(column, unread if needs.needed_by == (f"columns.{column}",) else df.columns)
            problems.append(f"missing column '{column}' (needed by {', '.join(needs.needed_by)}){hint}")
            missing = True
        elif why := _unreadable(schema[column], needs.reads):
            problems.append(f"column '{column}' holds {why}, which {needs.needed_by[0]} cannot read")
    for name, col in spec.columns.items():
        if name in have and not isinstance(col, Multivalent) and isinstance(schema[name], LISTS):
            problems.append(
                f"column '{name}' holds lists; send one value for it in each row (the model reads it as one value)"
                if where == REQUEST
                else f"column '{name}' holds lists; declare it kind: multivalent"
            )
        if (
            name in have
            and isinstance(col, Multivalent)
            and col.separator is None
            and not (isinstance(schema[name], LISTS) or schema[name] == pl.Null)  # (nulls alone: lists missing)
        ):
            problems.append(
                f"column '{name}' holds no lists; send each row's values as a JSON list (or null)"
                if where == REQUEST
                else f"column '{name}' is not a list column; give columns.{name}.separator to split its text"
            )
    if problems:
        cols = ", ".join(df.columns[:20]) + (" ..." if len(df.columns) > 20 else "")
        error = MissingColumns if missing else DataError
        raise error(f"{where}: " + "; ".join(problems) + f". The {what} has: {cols}")
    if where != REQUEST:  # (the server has a limit of its own: serve --max-string)
        _check_lengths(df, [c for c in spec_inputs(spec, label=need_label) if schema[c] == pl.String], where)


def _check_lengths(df: pl.DataFrame, columns: list[str], where: str) -> None:
    """A text value longer than MAX_VALUE_BYTES is an error: no category is that long, and every copy the
    cleaning, hashing and writing of it makes costs its length again (a 100 MB value took 1.4 GB)."""
    if not columns or len(df) == 0:
        return
    longest = df.select(pl.col(columns).str.len_bytes().max()).row(0)
    for column, n in zip(columns, longest):
        if n is not None and n > MAX_VALUE_BYTES:
            raise DataError(
                f"{where}: column '{column}' holds a value of {n:,} bytes; a column the model reads takes values of "
                f"at most {MAX_VALUE_BYTES:,} bytes (no category is that long): fix or drop that row"
            )


def _unreadable(dtype: pl.DataType, reads: str) -> str | None:
    """What a column of this type holds that no reader of the spec takes: objects (structs) anywhere, lists of
    lists or of objects in a list column; None when it can be read."""
    if isinstance(dtype, pl.Struct):
        return "objects (a struct)"
    if isinstance(dtype, LISTS) and reads in ("multivalent", "weights") and dtype.inner.is_nested():
        return f"lists of {'objects' if isinstance(dtype.inner, pl.Struct) else 'lists'}"
    return None


YAML_TRUE, YAML_FALSE = ("yes", "on", "true", "y"), ("no", "off", "false", "n")


def label_array(
    spec: Spec, df: pl.DataFrame, where: str, fitting: bool = False, evaluating: bool = False, trained: bool = False
) -> np.ndarray:
    """The label as 0/1 float32. Errors name the column and the values found. Fitting and evaluating need at
    least one positive row (AUC is undefined without one); their messages say what to check. `trained`: the rows
    are scored by a trained run, whose label.positive is fixed (a mismatch is the file's to fix)."""
    name, positive = spec.label.column, spec.label.positive
    if name not in df.columns:
        raise MissingColumns(f"{where}: missing label column '{name}' (label.column)")
    s = df[name]
    if s.null_count():
        raise DataError(f"{where}: label column '{name}' is missing in {s.null_count()} rows; drop or fill them")
    text = s.cast(pl.String).str.strip_chars()
    seen = text.unique().sort().to_list()
    y, pos = _positives(text, seen, positive, where, name, trained)
    labels = y.to_numpy().astype(np.float32)
    if (fitting or evaluating) and len(labels) and not labels.any():
        if evaluating:
            raise DataError(
                f"{where}: no row has the model's positive label {pos!r} in column '{name}' (values: "
                f"{show(seen)}), so AUC is undefined and accuracy meaningless; evaluate on rows with "
                "both outcomes, and check that this file writes the label as the training data did"
            )
        if positive is None:
            raise DataError(
                f"{where}: label column '{name}' has no positive rows (1 or true; values: {show(seen)}); "
                "training needs both outcomes, or name the positive value with label.positive"
            )
        raise DataError(
            f"{where}: label.positive {pos!r} never occurs in column '{name}' (values: {show(seen)}); "
            "fix label.positive"
        )
    return labels


def _positives(
    text: pl.Series, seen: list[str], positive: str | int | bool | None, where: str, name: str, trained: bool = False
) -> tuple[pl.Series, str]:
    """Which rows of label column `name` (`text`: as stripped text, `seen`: its values) are positive by
    label.positive, and the positive value as text; a DataError where the values do not fit label.positive."""
    if positive is None or isinstance(positive, bool):
        ones, zeros = {"1", "1.0", "true"}, {"0", "0.0", "false"}
        other = [v for v in seen if v.lower() not in ones | zeros]
        if other and positive is not None:
            guess = next(
                (v for v in seen if v.lower() in (YAML_TRUE if positive else YAML_FALSE)), "yes" if positive else "no"
            )
            raise DataError(
                f"{where}: label.positive is the boolean {str(positive).lower()}, but column '{name}' "
                f"holds {show(seen)}: YAML reads unquoted yes, no, on, off, true and false as booleans; "
                f'quote the value to keep it text: positive: "{guess}" '
                f"(or --set 'label.positive=\"{guess}\"')"
            )
        if other:
            fix = (
                "the model was trained on a 0/1 label: write this file's label as its training data did"
                if trained
                else "name the positive value with label.positive"
            )
            raise DataError(
                f"{where}: label column '{name}' has values {show(other)} that are not 0/1 or true/false; {fix}"
            )
        pos = "1" if positive is None else str(positive).lower()
        return text.str.to_lowercase().is_in(list(ones if positive in (None, True) else zeros)), pos
    pos = str(positive)
    if len(seen) > 2:
        raise DataError(
            f"{where}: label column '{name}' has {len(seen)} distinct values {show(seen)}; "
            f"a binary label has two (positive: {pos!r} and one other)"
        )
    return text == pos, pos


def weight_array(spec: Spec, df: pl.DataFrame, where: str) -> np.ndarray:
    name = spec.label.weight
    assert name is not None  # (called for a spec with a weight column)
    w = numbers(df, name, [], where)
    if np.isnan(w).any() or (w < 0).any():
        raise DataError(f"{where}: weight column '{name}' needs a finite, non-negative number in every row")
    return w.astype(np.float32)


def show(values: list) -> str:
    shown = ", ".join(repr(v) for v in values[:5])
    return f"[{shown}{', ...' if len(values) > 5 else ''}]"
