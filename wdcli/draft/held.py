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

from ..data.split import PARTS, Rule
from ..data.time_split import learn_cuts
from .times import time_split

SPLIT = {"validation": 0.1, "test": 0.2, "seed": 42}  # the seeded split init drafts


def drafted_split(time: str | None, group: str | None, per: bool, few: bool, follows: bool) -> tuple[dict, str]:
    """`data.split` as init drafts it, and what it does (the comment beside it): by `time` when given (per
    group where `per`), else seeded, by `group` where given."""
    if time is not None:
        split, what = time_split(time, group, per, few, follows)
        return split, f"by time: {what}"
    by_group = f"; by {group}: every validation and test {group} is new (delete key to split rows)" if group else ""
    return {**SPLIT, **({"key": group} if group else {})}, "seeded: the same rows every run" + by_group


def tested(split: dict, sample: pl.DataFrame, places: pl.DataFrame, paths: list[str], separator) -> np.ndarray:
    """Whether each sample row is one `split` tests on; `places`: each row's file (its index in `paths`) and
    row in it (`io.sample_table`); `separator`: of CSV files (a split by time reads their times)."""
    time = split.get("time")
    cuts = (
        None
        if time is None
        else learn_cuts(paths, time, split.get("per"), split["validation"], split["test"], separator)
    )
    rule = Rule(split["validation"], split["test"], split.get("seed", 0), split.get("key"), cuts)
    parts = np.zeros(len(sample), dtype=np.int8)
    files, rows = places["file"].to_numpy(), places["row"].to_numpy()
    for i, path in enumerate(paths):
        at = np.flatnonzero(files == i)
        if len(at):
            parts[at] = rule.parts_at(sample[at], path, rows[at])
    return parts == PARTS.index("test")
