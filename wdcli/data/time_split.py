"""A split by time (`data.split.time`): the latest rows of the training files are the test rows, the rows just
before them the validation rows; with `data.split.per`, each group's (each user's) latest rows.

The cut points (`time_cuts.TimeCuts`) are learned once, before the fit, by reading the time
column (and the group column) of every training file: a lazy scan that reads only those columns of a Parquet
file. The fit's own pass cannot learn them: it reads the training rows, which the cuts decide. A row's part then
depends only on its time, its group, its file and its place in the file, so every process and every way of
reading (whole, in chunks, streamed) puts it in the same part.

Rows are ordered by time, ties by file and row (`time_cuts`' doc): of n rows (of the files, or of a group), the
latest floor(test * n) are test and the floor(validation * n) before them validation, except that rows of one
time are never cut apart (a purchase's candidates share its time): a cut inside their run moves to its nearer
edge (`_edge`). Times are numbers (epoch seconds or milliseconds: any numbers, compared as 64-bit
floats) or dates and times (a Date or Datetime column, or ISO 8601 text: microseconds since 1970, UTC); a row
with no time is an error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..errors import DataError, counted, suggest
from .io import _read_error, scan_one
from .time_cuts import Cut, TimeCuts, TimeKind

EPS = 1e-9  # floor(0.29 * 100) is 29, not 28: the fractions' products are rounded down with this slack
ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
FORMATS = "give times as numbers (e.g. epoch seconds) or ISO 8601 dates and times (2024-05-01, 2024-05-01T12:30:00)"


def times(frame: pl.DataFrame, column: str, where: str, first_row: int = 0) -> tuple[np.ndarray, TimeKind]:
    """Each row's time as a float (dates and times: microseconds since 1970, UTC) and how it was read; an error
    naming the file and the row for a missing column, a value that is no time, or a row without one."""
    if column not in frame.columns:
        raise DataError(f"{where}: missing column '{column}' (needed by data.split.time)")
    s = frame[column]
    kind: TimeKind
    if s.dtype == pl.Date or isinstance(s.dtype, pl.Datetime):
        t, kind = s.dt.epoch("us").cast(pl.Float64), "datetime"
    elif s.dtype.is_numeric():
        t, kind = s.cast(pl.Float64).fill_nan(None), "number"
    elif s.dtype in (pl.String, pl.Categorical, pl.Null):
        t, kind = _parsed(s.cast(pl.String).str.strip_chars(), column, where, first_row)
    else:
        raise DataError(f"{where}: column '{column}' (data.split.time) is {s.dtype}, not a time; {FORMATS}")
    if t.null_count():
        first = int(t.is_null().arg_true()[0])
        raise DataError(
            f"{where}: column '{column}' (data.split.time) has no time in {counted(t.null_count(), 'row')} (the first: row {first_row + first + 1:,}); a split by time "
            "needs one on every row: fill or drop them"
        )
    return t.to_numpy(), kind


def _parsed(text: pl.Series, column: str, where: str, first_row: int) -> tuple[pl.Series, TimeKind]:
    """Text as numbers when every value is one, else as ISO 8601 dates and times ("" is no time)."""
    text = pl.select(pl.when(text == "").then(None).otherwise(text)).to_series()
    numbers = text.cast(pl.Float64, strict=False).fill_nan(None)
    if numbers.null_count() == text.null_count():
        return numbers, "number"
    iso = pl.select(pl.when(text.str.contains(ISO)).then(text)).to_series()
    try:
        dates = iso.str.to_datetime(time_unit="us", strict=False).dt.epoch("us").cast(pl.Float64)
    except pl.exceptions.ComputeError:  # no one format for them all
        dates = pl.Series([None] * len(text), dtype=pl.Float64)
    if dates.null_count() == text.null_count():
        return dates, "datetime"
    neither = text.is_not_null() & numbers.is_null() & dates.is_null()
    i = int((neither if neither.any() else text.is_not_null() & dates.is_null()).arg_true()[0])
    raise DataError(
        f"{where}: column '{column}' (data.split.time) holds {text[i]!r} (row {first_row + i + 1:,})"
        + (", which is no time" if neither.any() else " among dates")
        + f"; {FORMATS}"
    )


def groups(frame: pl.DataFrame, per: str, where: str) -> pl.Series:
    """The group column's values as text (as `split.key` reads them: a CSV and a Parquet copy agree)."""
    if per not in frame.columns:
        raise DataError(f"{where}: missing column '{per}' (needed by data.split.per)")
    return frame[per].cast(pl.String).alias("group")


def learn_cuts(
    paths: list[str], column: str, per: str | None, validation: float, test: float, separator: str | None = None
) -> TimeCuts:
    """The cut points of the training files' rows: one pass over their time (and group) column (`separator`:
    of CSV files)."""
    pieces, kinds = [], []
    for i, path in enumerate(paths):
        frame = _read(path, {column: "time", **({per: "per"} if per else {})}, separator)
        t, kind = times(frame, column, path)
        kinds.append(kind)
        if kind != kinds[0]:
            raise DataError(
                f"{path}: column '{column}' (data.split.time) holds {kind}s, but {paths[0]} holds {kinds[0]}s; "
                "give every training file its times the same way"
            )
        group = groups(frame, per, path) if per else pl.lit("", pl.String).alias("group")
        pieces.append(
            pl.DataFrame({"time": t}).with_columns(
                group, file=pl.lit(i, pl.Int64), row=pl.int_range(pl.len(), dtype=pl.Int64)
            )
        )
    rows = pl.concat(pieces).sort(["group", "time", "file", "row"])
    ranked = rows.with_columns(i=pl.int_range(pl.len(), dtype=pl.Int64).over("group"))
    ranked = ranked.with_columns(  # the run of rows of one time (in one group) each row is in: [start, end)
        start=pl.col("i").min().over("group", "time"), end=pl.col("i").max().over("group", "time") + 1
    )
    sizes = ranked.group_by("group", maintain_order=True).agg(n=pl.len())
    sizes = sizes.with_columns(
        test=(pl.col("n") * test + EPS).floor().cast(pl.Int64),
        validation=(pl.col("n") * validation + EPS).floor().cast(pl.Int64),
    )
    sizes = _edge(sizes, ranked, "test_at", pl.col("n") - pl.col("test"), pl.col("n"))
    sizes = _edge(sizes, ranked, "validation_at", pl.col("test_at") - pl.col("validation"), pl.col("test_at"))
    cuts = {  # each part's first row in each group: a row per group, looked up by its place, not a pass of all
        part: _cuts(
            sizes.select("group"),
            sizes.select("group", at).join(ranked, left_on=["group", at], right_on=["group", "i"], nulls_equal=True),
        )
        for part, at in (("test", "test_at"), ("validation", "validation_at"))
    }
    names = tuple(sizes["group"].to_list()) if per else (None,)
    held = (int((sizes["test_at"] - sizes["validation_at"]).sum()), int((sizes["n"] - sizes["test_at"]).sum()))
    return TimeCuts(
        column, kinds[0], tuple(paths), cuts["validation"], cuts["test"], per, names, (len(rows) - sum(held), *held)
    )


def _edge(sizes: pl.DataFrame, ranked: pl.DataFrame, name: str, at: pl.Expr, upto: pl.Expr) -> pl.DataFrame:
    """Each group's cut (column `name`: the position of the part's first row; `upto`, the part's end, where it
    has none): the position `at` would give the part its count exactly, but rows of one time are never cut apart,
    so the cut moves to the nearer edge of the run of rows of `at`'s time (the later edge when both are as near,
    and where the earlier is the group's first row, so that the group keeps a training row)."""
    sizes = sizes.with_columns(_at=pl.max_horizontal(at, 0), _upto=upto)
    run = ranked.select("group", "i", "start", "end")
    sizes = sizes.join(run, left_on=["group", "_at"], right_on=["group", "i"], how="left", nulls_equal=True)
    earlier = (pl.col("_at") - pl.col("start") < pl.col("end") - pl.col("_at")) & (pl.col("start") > 0)
    edge = (
        pl.when(pl.col("_at") >= pl.col("_upto"))
        .then(pl.col("_upto"))
        .when(earlier)
        .then(pl.col("start"))
        .otherwise(pl.col("end"))
    )
    return sizes.with_columns(edge.alias(name)).drop("_at", "_upto", "start", "end")


def _read(path: str, columns: dict[str, str], separator: str | None) -> pl.DataFrame:
    """A file's columns (name -> the key of data.split that names it), and only those."""
    lazy = scan_one(path, separator)
    try:
        have = lazy.collect_schema().names()
        for name, key in columns.items():
            if name not in have:
                raise DataError(f"{path}: missing column '{name}' (needed by data.split.{key}){suggest(name, have)}")
        return lazy.select(list(columns)).collect()
    except (pl.exceptions.PolarsError, OSError) as e:
        raise _read_error(path, e) from None


def _cuts(names: pl.DataFrame, first: pl.DataFrame) -> tuple[Cut | None, ...]:
    """Each group's cut (in the order of `names`), None where the group has no row in the part."""
    at = names.join(first, on="group", how="left", nulls_equal=True, maintain_order="left")
    return tuple(
        None if t is None else Cut(float(t), int(f), int(r))
        for t, f, r in zip(at["time"].to_list(), at["file"].to_list(), at["row"].to_list())
    )


def time_parts(cuts: TimeCuts, frame: pl.DataFrame, file: str, rows: np.ndarray) -> np.ndarray:
    """Each row's part (0 train, 1 validation, 2 test) by the cut points; `rows`: the frame's rows in `file`."""
    t, kind = times(frame, cuts.column, file, int(rows[0]) if len(rows) else 0)
    if kind != cuts.kind:
        raise DataError(
            f"{file}: column '{cuts.column}' (data.split.time) holds {kind}s, but the split was learned on "
            f"{cuts.kind}s; give the times as the training files did"
        )
    f, r = _file_index(cuts, file), rows
    if cuts.per is None:
        validation, test = (_columns(c) for c in (cuts.validation[0], cuts.test[0]))
    else:
        at = groups(frame, cuts.per, file).to_frame()
        at = at.join(cuts.table, on="group", how="left", nulls_equal=True, maintain_order="left")
        validation, test = (
            tuple(at[f"{p}_{x}"].to_numpy() for x in ("time", "file", "row")) for p in ("validation", "test")
        )
    later = [_from(t, f, r, *c) for c in (validation, test)]
    return np.where(later[1], 2, np.where(later[0], 1, 0)).astype(np.int8)


def _columns(cut: Cut | None) -> tuple:
    return (np.nan, np.nan, np.nan) if cut is None else (cut.time, cut.file, cut.row)


def _from(t: np.ndarray, f: int, r: np.ndarray, ct, cf, cr) -> np.ndarray:
    """Whether each row (time t, file f, row r) comes at or after its cut (NaN: no cut, never)."""
    with np.errstate(invalid="ignore"):
        return (t > ct) | ((t == ct) & ((f > cf) | ((f == cf) & (r >= cr))))


def _file_index(cuts: TimeCuts, file: str) -> int:
    """A file's place among the training files the cuts were learned from (by path, else by a unique name)."""
    if file in cuts.files:
        return cuts.files.index(file)
    names = [Path(p).name for p in cuts.files]
    if names.count(Path(file).name) == 1:
        return names.index(Path(file).name)
    raise DataError(
        f"{file}: not one of the training files the split by time was learned from "
        f"({', '.join(cuts.files[:3])}{', ...' if len(cuts.files) > 3 else ''}); split the files it was learned on"
    )
