"""The drafted split, and the rows it tests on, left out of what `init` learns from its sample.

`init` chooses kinds, buckets, crosses, codes and the deep part's blocks from its sample and its labels. Were
the split's test rows among them, the drafted spec's test figures would be of rows its choices were fitted to,
a little better than the same spec earns on rows it never saw. So once the split is drafted, the sample keeps
only the rows it trains and validates on, each row's part decided as training decides it (`Rule.parts_at`:
by the same hash of its file and place, its key, or the same cut in time).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ..data import io
from ..data.split import PARTS, Rule, latest
from ..data.time_split import learn_cuts
from .times import time_split

SPLIT = {"validation": 0.1, "test": 0.2, "seed": 42}  # the seeded split init drafts


def drafted_split(d, group: str | None) -> tuple[dict, str]:
    """`data.split` as init drafts it, and what it does (the comment beside it): by `d.time` when given (per
    group where `d.per`), else seeded, by `group` where given; of validation rows alone where the user gives the
    test rows (`d.test`: --test)."""
    if d.time is not None:
        split, what = time_split(d.time, group, d.per, d.few, d.follows)
        what = f"by time: {what}"
    elif d.known:  # (only with --test: the test rows are data.test's, below)
        split, what = dict(SPLIT), f"seeded: the same rows every run; most of data.test's {group}s are known"
    else:
        split = {**SPLIT, **({"key": group} if group else {})}
        by = f"; by {group}: every validation and test {group} is new (delete key to split rows)" if group else ""
        what = "seeded: the same rows every run" + by
    if d.test is None:
        return split, what
    if d.time is not None:  # (what the split holds out with test 0: its validation rows alone)
        what = f"by time: {latest(split['validation'], 0.0, group if d.per else None)}"
    return {**split, "test": 0.0}, what.split("; by ")[0] + "; the test rows are data.test's, so none held out"


def known_groups(group: str | None, time: str | None, test_file: str | None, patterns: list[str], separator) -> bool:
    """Whether most rows of the --test file are of --group values the training files hold: users (the test is
    of their later rows), not requests (each new when served). Not asked with --time (the split by time says)."""
    if group is None or time is not None or test_file is None:
        return False
    tests = [io.scan_one(p, separator) for p in io.expand_paths([test_file])]
    if any(group not in t.collect_schema().names() for t in tests):  # (no group: no ranking to score there)
        return False
    every = [io.scan_one(p, separator).select(pl.col(group).cast(pl.String)) for p in io.expand_paths(patterns)]
    seen = pl.concat(every).unique().collect().to_series().implode()
    share = pl.concat([t.select(pl.col(group).cast(pl.String)) for t in tests]).select(pl.col(group).is_in(seen).mean())
    share = share.collect().item()
    return share is not None and share >= 0.5


def tested(split: dict, sample: pl.DataFrame, places: pl.DataFrame, paths: list[str], separator) -> np.ndarray:
    """Whether each sample row is one `split` tests on; `places`: each row's file (its index in `paths`) and
    row in it (`io.sample_table`); `separator`: of CSV files (a split by time reads their times). The columns the
    split reads (its key, time, group) are read again from each file for its sampled rows: the sample, one frame
    of every file, has them cast to one type (an Int64 key of one Parquet file and a Float64 one of another: 5.0,
    which hashes otherwise than training's 5)."""
    time = split.get("time")
    cuts = (
        None
        if time is None
        else learn_cuts(paths, time, split.get("per"), split["validation"], split["test"], separator)
    )
    rule = Rule(split["validation"], split["test"], split.get("seed", 0), split.get("key"), cuts)
    reads = [c for c in dict.fromkeys((split.get("key"), time, split.get("per"))) if c is not None]
    parts = np.zeros(len(sample), dtype=np.int8)
    files, rows = places["file"].to_numpy(), places["row"].to_numpy()
    for i, path in enumerate(paths):
        at = np.flatnonzero(files == i)
        if len(at):
            frame = _rows(path, reads, rows[at], separator) if reads else sample[at]
            parts[at] = rule.parts_at(frame, path, rows[at])
    return parts == PARTS.index("test")


def _rows(path: str, columns: list[str], rows: np.ndarray, separator) -> pl.DataFrame:
    """Rows `rows` (ascending) of a file's `columns` (those it has: the split names one it lacks), as training
    reads them."""
    lazy = io.scan_one(path, separator)
    have = set(lazy.collect_schema().names())
    lazy = lazy.select([c for c in columns if c in have]).with_row_index("\0at")
    at = pl.col("\0at").cast(pl.Int64).is_in(pl.Series(rows, dtype=pl.Int64).implode())
    return lazy.filter(at).drop("\0at").collect()
