"""How a run's split differs from a previous run's, in words, for a warm start's report (`WarmReport.split`).

A warm start trains a new run on newer data, and a split by time learned again on it moves its cuts: the
previous run's test rows may be training rows now (the two runs' test figures are then of other rows), or rows
the previous run trained on may be test rows now (the new run starts from weights that saw them, so its test
figures are optimistic). A split of another kind (seeded against by time, another column, other fractions)
deals the rows anew. Both are read from what the runs recorded: their specs' `data` sections (`split.describe`)
and their records of how they split (`split.json`, with the cut points); the previous run's data is not read.

    words = split_change(previous_spec.data, load_split(previous), spec.data, record_split(spec.data))
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from .split import describe
from .split_record import SplitRecord
from .time_cuts import Cut, TimeCuts, TimeKind

SEEN = "the weights this run starts from saw them, so its test figures are optimistic"


def split_change(old_data, old: SplitRecord | None, new_data, new: SplitRecord | None) -> str:
    """How the new run (`new_data`, the spec's data section, and `new`, its record) splits its rows unlike the
    previous one (`old_data`, `old`), in words; "" when alike, or when a record needed to tell is missing on the
    new side (a run on frames given in Python)."""
    was, now = describe(old_data), describe(new_data)
    if was != now:
        return (
            f"the split differs: the previous run's was {was}; this run's is {now}: rows it held out may be "
            f"training rows now and rows it trained on test rows, so {_unlike('test')}"
        )
    if new_data.split.time is None or new is None or new.rule.time is None:
        return ""
    if old is None or old.rule.time is None:
        return (
            "the previous run kept no record of its time cuts (split.json: it trained on frames, or under an "
            "older wdcli), so where they moved is unknown: the two runs' test figures may not be of the same rows"
        )
    a, b = old.rule.time, new.rule.time
    if a.kind != b.kind:
        return f"the previous run read {a.column} as {a.kind}s, this run as {b.kind}s: {_unlike('test')}"
    return _per_group(a, b) if a.per is not None else _one_cut(a, b)


def _one_cut(a: TimeCuts, b: TimeCuts) -> str:
    """The words for one cut over all rows (`a` the previous run's cuts, `b` this run's): of the test cut, or
    of the validation cut where the test rows have files of their own."""
    part = _part(a, b)
    old, new = getattr(a, part)[0], getattr(b, part)[0]
    old_first, new_first = _first(a), _first(b)
    if old is None or new is None or old_first is None or new_first is None:  # (a part with no rows)
        return ""
    if (old.time, old_first.time) == (new.time, new_first.time):
        return ""
    said = [f"the time cut moved from {when(a.kind, old.time)} to {when(b.kind, new.time)}"]
    if old.time < new_first.time:
        said.append(f"the previous run's {part} rows before {when(b.kind, new_first.time)} are training rows now")
    elif old.time < new.time:
        said.append("the previous run's earliest test rows are validation rows now")
    if new.time < old_first.time:
        said.append(f"rows the previous run trained on are {part} rows now" + (f": {SEEN}" if part == "test" else ""))
    elif new.time < old.time:
        said.append("rows the previous run validated on are test rows now")
    return _sentence(said, part)


def _per_group(a: TimeCuts, b: TimeCuts) -> str:
    """The words for a split per group: how many groups (of those in both runs) moved, and which way."""
    part = _part(a, b)
    cut, cut_new = f"{part}_time", f"{part}_time_new"
    columns = ["group", "validation_time", "test_time"]
    both = a.table.select(columns).join(b.table.select(columns), on="group", suffix="_new")
    both = both.with_columns(
        first=pl.coalesce("validation_time", "test_time"), first_new=pl.coalesce("validation_time_new", "test_time_new")
    ).filter(pl.col(cut).is_not_null() & pl.col(cut_new).is_not_null())
    moved = both.filter((pl.col("first") != pl.col("first_new")) | (pl.col(cut) != pl.col(cut_new)))
    if not len(moved):
        return ""
    said = [f"the time cuts of {len(moved):,} of the {len(both):,} {a.per} values in both runs moved"]
    if trained := int((moved[cut] < moved["first_new"]).sum()):
        said.append(f"for {trained:,} the previous run's {part} rows are training rows now")
    if part == "test" and (later := int(((moved[cut] >= moved["first_new"]) & (moved[cut] < moved[cut_new])).sum())):
        said.append(f"for {later:,} its earliest test rows are validation rows now")
    if seen := int((moved[cut_new] < moved["first"]).sum()):
        said.append(f"for {seen:,}, rows the previous run trained on are {part} rows now")
        said[-1] += f": {SEEN}" if part == "test" else ""
    return _sentence(said, part)


def _part(a: TimeCuts, b: TimeCuts) -> str:
    """The part whose cuts tell: test, or validation where the test rows have files of their own."""
    return "test" if any(a.test) and any(b.test) else "validation"


def _first(cuts: TimeCuts) -> Cut | None:
    """One cut's first held-out row: its validation cut, else its test cut."""
    return cuts.validation[0] if cuts.validation[0] is not None else cuts.test[0]


def _unlike(part: str) -> str:
    return f"the two runs' {part} figures are not of the same rows"


def _sentence(said: list[str], part: str) -> str:
    """What moved: what that means, one thing after another; and that the two runs' figures are of other rows."""
    return "; ".join([said[0] + (": " + said[1] if len(said) > 1 else ""), *said[2:], _unlike(part)])


def when(kind: TimeKind, t: float) -> str:
    """A cut's time as the data gives it: a number, or a date (a date and time, when it has one)."""
    if kind == "number":
        return f"{t:.0f}" if t.is_integer() else repr(t)
    at = datetime(1970, 1, 1) + timedelta(microseconds=t)  # (microseconds since 1970, UTC)
    return at.date().isoformat() if at == datetime.combine(at.date(), datetime.min.time()) else at.isoformat(" ")
