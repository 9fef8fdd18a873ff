"""What trains but is likely a mistake, found in the first rows of the first training file before the fit:
`data_warnings` (`wdcli validate`, `train`, `compare` and `tune` say them; an error among them stops the run).

- a list separator found in no value (`sources.check_separators`);
- groups split apart: `label.group` names small groups (a request's candidates, a purchase's brands) and the
  split takes rows, not groups, so that most of the held-out part's groups keep one row: nothing to rank, and
  the gAUC and NDCG it reports are those of fragments (a walk's choice data: test gAUC 0.948 on its fragments,
  0.914 on whole held-out purchases);
- groups cut through by time: a split by time (one cut, no `per`) whose `label.group` groups are small and hold
  several times each (a walk: `--time travel_time` on choice situations of three modes, each its own travel time:
  3,113 of 3,256 test situations cut apart, 2,604 without their chosen row, and nothing said);
- the split's key read as a feature: every validation and test row holds a value of it training never saw, so
  what the model learns of each value is of no use there (a walk: `person` declared beside `split.key: person`,
  3,308 values in its vocabulary and none of them in validation or test).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..data import io
from ..data.files import Files
from ..data.io import scan_one
from ..data.split import PARTS
from ..data.time_split import times
from ..errors import DataError
from ..spec import Spec
from ..spec.types import Categorical
from .sources import SAMPLED, check_separators

GROUP_ROWS = 100_000  # first rows of the first training file whose groups `check_groups` counts
LONE = 0.5  # warn when more than this share of a held-out part's groups would keep a single row
SMALL = 10  # groups of a median of at most this many rows are a request's (users' hold more, and span times)


def data_warnings(spec: Spec) -> list[str]:
    return (
        check_separators(spec)
        + check_groups(spec)
        + check_time_groups(spec)
        + check_key_feature(spec)
        + check_held_out_files(spec)
        + check_joined_lists(spec)
    )


JOINED = 0.5  # share of a categorical column's first values that must hold '|' (or ';') for it to look like lists


def check_joined_lists(spec: Spec) -> list[str]:
    """A warning when a categorical column's values look like lists (a walk's previous basket, 'a|b|c' in every
    row, declared categorical: each whole list one category, 5,339 of them, and nothing said): most of its first
    values hold '|' or ';', and a piece recurs twice as often as a whole value or more. Lists read whole can be right (a
    tweet's mentions, where `@a|@b` also says that the row names several), so it is a warning."""
    names = [n for n, c in spec.columns.items() if isinstance(c, Categorical)]
    if not names:
        return []
    where = Files.of(spec.data)["train"].paths[0]
    try:
        head = scan_one(where, spec.data.csv.separator).head(SAMPLED).collect()
    except (pl.exceptions.PolarsError, OSError):
        return []
    out = []
    for name in [n for n in names if head.schema.get(n) == pl.String]:
        values = head[name].drop_nulls()
        for sep in ("|", ";"):
            joined = values.str.contains(sep, literal=True)
            held = int(joined.sum()) / max(len(values), 1)
            if len(values) < 20 or held < JOINED:
                continue
            split = values.str.split(sep).explode().str.strip_chars()
            pieces = split.n_unique()  # (a list's pieces recur across rows more than whole lists do: twice as often)
            if len(split) / pieces < 2 * len(values) / values.n_unique():
                continue
            example = values.filter(joined)[0]
            out.append(
                f"columns.{name} is categorical, but {held:.0%} of its first values in {where} "
                f"hold {sep!r} (such as {example!r}), so each whole list is one category ({values.n_unique():,} of "
                f"them, of {pieces:,} distinct pieces); if a row holds several values, declare it kind: multivalent, "
                f"separator: {sep!r}"
            )
            break
    return out


def check_held_out_files(spec: Spec) -> list[str]:
    """A warning when a file of data.validation or data.test is also a training file (a walk: data.test set to
    the training file reported test AUC 0.901 against 0.876 on rows the model never saw, and nothing said so)."""
    try:
        given = {p: [Path(f).resolve() for f in io.expand_paths(v)] for p in PARTS if (v := getattr(spec.data, p))}
    except (OSError, ValueError, DataError):  # (files that cannot be found: the paths' own error says so)
        return []
    train = set(given.get("train", []))
    both = {part: [f for f in given.get(part, []) if f in train] for part in ("validation", "test")}
    return [
        f"data.{part}: {files[0]} is also a training file, so its figures are of rows the model trained on; give "
        f"{part} rows it does not train on (or delete data.{part}: the split then holds {part} rows out)"
        for part, files in both.items()
        if files
    ]


def check_time_groups(spec: Spec) -> list[str]:
    """A warning when a split by time (one cut for every row) cuts through most of label.group's groups, and
    they are small: a request's rows share its time, so its time column is not what the split reads."""
    group, split = spec.label.group, spec.data.split
    if group is None or split.time is None or split.per is not None:
        return []
    where = Files.of(spec.data)["train"].paths[0]
    try:
        head = scan_one(where, spec.data.csv.separator).select(group, split.time).head(GROUP_ROWS).collect()
        t = times(head, split.time, where)[0]
    except (pl.exceptions.PolarsError, OSError, DataError):  # (what cannot be read: the fit says why)
        return []
    test = split.test if spec.data.test is None else 0.0  # (a part given its own files is cut from no rows)
    validation = split.validation if spec.data.validation is None else 0.0
    fractions = [f for f in (test, validation) if f > 0]
    cuts = np.quantile(t, 1 - np.cumsum(fractions)) if fractions and len(t) else np.array([])
    rows = pl.DataFrame({"g": head[group], "t": t}).drop_nulls("g")  # (names of its own: a group may be 'n')
    spans = rows.group_by("g").agg(n=pl.len(), lo=pl.col("t").min(), hi=pl.col("t").max()).filter(pl.col("n") > 1)
    median = float(np.median(spans["n"].to_numpy())) if len(spans) else 0.0
    if not len(spans) or not len(cuts) or median > SMALL:
        return []
    lo, hi = spans["lo"].to_numpy()[:, None], spans["hi"].to_numpy()[:, None]
    held = hi[:, 0] >= cuts.min()  # (the groups with a row in a held-out part: of those, the share cut through)
    cut = np.asarray(((lo < cuts) & (cuts <= hi)).any(axis=1))  # (each group: rows on both sides of a cut)
    torn = float(cut[held].mean()) if held.any() else 0.0
    if torn <= LONE:
        return []
    return [
        f"data.split.time '{split.time}' cuts through the groups of label.group '{group}': {torn:.0%} of the "
        f"held-out ones in the first {len(head):,} rows of {where} (a median of {median:g} rows) hold times on both "
        f"sides of a cut, so a held-out group keeps only part of its rows, and its gAUC and NDCG are those of parts "
        f"of groups; a request's rows share its time: split by the column that says when it happened, or delete "
        f"data.split.time and set data.split.key: {group}"
    ]


def check_key_feature(spec: Spec) -> list[str]:
    """A warning when data.split.key is a feature (a declared column, or a bucketized column's source)."""
    key = spec.data.split.key
    names = [n for n, c in spec.columns.items() if n == key or getattr(c, "source", None) == key]
    if key is None or not names:
        return []
    return [
        f"columns.{names[0]}: reads data.split.key '{key}', so every validation and test row holds a '{key}' value "
        f"training never saw and what the model learns of each is of no use there; leave it out of columns, "
        f"or split rows (delete data.split.key) where the same '{key}' values come again when the model scores"
    ]


def lone_share(sizes: pl.Series, fraction: float) -> float:
    """Of the groups of these sizes, the share expected to keep exactly one row in a part that takes each row
    with probability `fraction` (among those that keep any): n p (1 - p)^(n - 1) / (1 - (1 - p)^n), averaged
    over the groups weighted by their chance to be in the part at all."""
    n = sizes.cast(pl.Float64).to_numpy()
    if not len(n) or not 0 < fraction < 1:
        return 0.0
    kept = 1 - (1 - fraction) ** n
    return float((n * fraction * (1 - fraction) ** (n - 1)).sum() / kept.sum())


def check_groups(spec: Spec) -> list[str]:
    """A warning when the seeded split takes the rows of small groups apart (see the module's docstring): the
    test part (and the validation part where early stopping reads the gAUC) of a split without `key` or `time`,
    taken from the training files."""
    group, split = spec.label.group, spec.data.split
    if group is None or split.key is not None or split.time is not None:
        return []
    parts = {"test": split.test} if spec.data.test is None else {}
    if spec.data.validation is None and "gauc" in (spec.train.early_stopping.metric, spec.tune.metric):
        parts["validation"] = split.validation
    if not any(parts.values()):
        return []
    where = Files.of(spec.data)["train"].paths[0]
    try:
        head = scan_one(where, spec.data.csv.separator).select(group).head(GROUP_ROWS).collect()
    except (pl.exceptions.PolarsError, OSError):  # (a file or column that cannot be read: the fit says why)
        return []
    sizes = head[group].drop_nulls().value_counts()["count"]
    median = float(np.median(sizes.to_numpy())) if len(sizes) else 0.0
    lone = {part: share for part, fraction in parts.items() if (share := lone_share(sizes, fraction)) > LONE}
    if not lone:
        return []
    parts_said = " and ".join(f"about {share:.0%} of the {part} part's" for part, share in lone.items())
    return [
        f"label.group '{group}': the split takes rows, not groups, and its groups are small (a median of "
        f"{median:g} rows in the first {len(head):,} of {where}): {parts_said} groups would keep a single row, "
        f"nothing to rank, and their gAUC and NDCG would be those of parts of groups; to keep each group whole set "
        f"data.split.key: {group} (or split by time: data.split.time)"
    ]
