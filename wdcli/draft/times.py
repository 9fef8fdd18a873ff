"""Times in a sample, for `wdcli init`: which columns look like a time (so that init offers `--time COLUMN`),
whether a group's rows span several times (a user) or share one (a request), and the split init drafts.

A column looks like a time when it holds dates or date-times (a Date or Datetime column, or ISO 8601 text), or
when it is named like one (time, timestamp, date, ts, *_at) and holds numbers in the range of epoch seconds or
milliseconds of the years 1973 to 2100.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, cast

import polars as pl

from ..data import io
from ..data.split import latest
from ..data.time_split import EPS, ISO, times
from ..errors import DataError
from .profile import Column, share

if TYPE_CHECKING:
    from collections.abc import Callable

    from .state import Draft

NAME = re.compile(r"(^|[_\-\s.])(time|timestamp|datetime|date|ts|epoch)([_\-\s.]|$)|_at$|[a-z](Time|Date|At)$", re.I)
EPOCHS = {"epoch seconds": (1e8, 4.2e9), "epoch milliseconds": (1e11, 4.2e12)}  # 1973 to 2100
MINUTE = {"epoch seconds": 60, "epoch milliseconds": 60_000}  # in the numbers' unit (dates: microseconds)
MIN_GROUPS = 20  # groups of two or more sample rows needed to tell users (many times) from requests (one)
FOLLOW_SHARE = 0.8  # groups that start after every earlier one ended: at this share, they follow one another


def looks_like_time(name: str, s: pl.Series) -> str | None:
    """How a column looks like a time ('dates', 'ISO 8601 text', 'epoch seconds', ...), or None."""
    if s.dtype == pl.Date:
        return "dates"
    if isinstance(s.dtype, pl.Datetime):
        return "date-times"
    values = s.drop_nulls()
    if s.dtype == pl.String:
        values = values.str.strip_chars()
        if len(values) and share(values.str.contains(ISO)) >= 0.99:
            return "ISO 8601 text"
        values = values.cast(pl.Float64, strict=False)
        if values.null_count():
            return None
    if not values.dtype.is_numeric() or not len(values) or not NAME.search(name):
        return None
    low, high = values.min(), values.max()
    for how, (a, b) in EPOCHS.items():
        # polars types Series.min()/max() as any Python value, whatever the dtype (here numeric)
        if a <= low and high <= b:  # type: ignore[operator]
            return how
    return None


def time_columns(sample: pl.DataFrame, skip: tuple[str | None, ...]) -> tuple[list[tuple[str, str]], list[str]]:
    """The columns that look like times, and how (none of `skip`: the label, the group), that have a time in
    every sample row (as a split by time needs); and a note on each other one that looks like a time, saying
    why init does not offer it (rows without a time, which a split by time refuses; text that is no time)."""
    offers, unusable = [], []
    for c in sample.columns:
        how = None if c in skip else looks_like_time(c, sample[c])
        if how is None:
            continue
        try:
            times(sample, c, "the sample")
            offers.append((c, how))
        except DataError:
            unusable.append(_unusable(c, how, sample[c]))
    return offers, unusable


def _unusable(name: str, how: str, s: pl.Series) -> str:
    """Why a column that looks like a time cannot split the rows as it is (`times` refused it), in words."""
    missing = s.null_count()  # (and as `times` reads them: empty text, NaN)
    if s.dtype == pl.String:
        missing += int((s.str.strip_chars() == "").sum())
    elif s.dtype.is_float():
        missing += int(s.is_nan().sum())
    share = f"{missing / len(s):.0%}" if missing >= 0.01 * len(s) else "under 1%"
    why, fix = (
        (f"{share} of its sample values are missing ({missing:,} of {len(s):,} rows)", "fill or drop those rows")
        if missing
        else ("some of its sample values are no time", "correct them")
    )
    return (
        f"{name} looks like a time ({how}), but {why}: a split by time needs a time on every row (train refuses "
        f"a row without one), so init does not offer it; {fix}, then init --time {name}"
    )


def spans_times(sample: pl.DataFrame, time: str, group: str) -> bool:
    """Whether most groups' rows span several times, a minute apart or more (a user's ratings), rather than
    share one (a request's candidates, logged at one moment): then each group's latest rows are test (`data.split.per`). Without enough groups of two or
    more sample rows to tell, False: one cut over all rows is right for both."""
    t, kind = times(sample, time, "the sample")
    # a minute apart at least (a request's candidates may be logged milliseconds apart: one moment)
    minute = 60e6 if kind == "datetime" else MINUTE.get(looks_like_time(time, sample[time]) or "", 0)
    frame = pl.DataFrame({"group": sample[group].cast(pl.String), "time": t})
    stats = frame.group_by("group").agg(n=pl.len(), span=pl.col("time").max() - pl.col("time").min())
    several = stats.filter(pl.col("n") >= 2)
    return len(several) >= MIN_GROUPS and share((several["span"] > 0) & (several["span"] >= minute)) >= 0.5


def follow_in_time(sample: pl.DataFrame, time: str, group: str) -> bool:
    """Whether the groups follow one another in time rather than run side by side: most start after every
    earlier one has ended (a day's tweets, one actor's sessions), where users' rows interleave. A split of each
    group's latest rows would then train on later groups' rows, the test rows' future (a walk's tweets of each
    day: 0.82 test AUC so, 0.67 on the latest days): one cut over all rows is right."""
    t, _ = times(sample, time, "the sample")
    spans = (
        pl.DataFrame({"group": sample[group].cast(pl.String), "time": t})
        .group_by("group")
        .agg(lo=pl.col("time").min(), hi=pl.col("time").max())
    )
    if len(spans) < MIN_GROUPS:
        return False
    spans = spans.sort("lo", "hi")
    after = spans["lo"] >= spans["hi"].cum_max().shift(1).fill_null(float("-inf"))
    return share(after) >= FOLLOW_SHARE


def things_time(sample: pl.DataFrame, time: str, group: str, skip: tuple[str, ...]) -> str | None:
    """The column whose values each have one time, over several groups (an article and its publication time,
    met by many users), when one does: the time is then a thing's, not the event's (none of `skip`)."""
    for c in sample.columns:
        if c in (time, group, *skip) or isinstance(sample[c].dtype, (pl.List, pl.Array, pl.Struct)):
            continue
        stats = (
            sample.filter(pl.col(c).is_not_null())
            .group_by(c)
            .agg(n=pl.len(), times=pl.col(time).n_unique(), groups=pl.col(group).n_unique())
            .filter(pl.col("n") >= 2)
        )
        if len(stats) >= MIN_GROUPS and share(stats["times"] == 1) >= 0.99 and share(stats["groups"] > 1) >= 0.5:
            return c
    return None


def holds_out(sizes: pl.Series, validation: float = 0.1) -> bool:
    """Whether a split per group of these sizes (each group's rows in all the data) holds out at least half its
    validation share: each group gives the floor of its share (none of a user of under 10 rows)."""
    return float((sizes * validation + EPS).floor().sum()) >= 0.5 * validation * float(sizes.sum())


def time_split(time: str, group: str | None, per: bool, few: bool = False, follows: bool = False) -> tuple[dict, str]:
    """The split init drafts for `--time` (validation 10%, test 20%), and what it holds out (in `split.latest`'s
    words, which `validate` prints too); `few`: the groups have too few rows each to hold out each one's latest
    rows; `follows`: the groups follow one another in time (`follow_in_time`)."""
    validation, test = 0.1, 0.2
    split = {"validation": validation, "test": test, "time": time, **({"per": group} if per else {})}
    what = latest(validation, test, group if per else None)
    if per or group is None:
        return split, what
    few_rows = f"most {group} values have under 10 rows: too few to hold out each one's latest 10%"
    one_time = f"a {group}'s rows share their time"
    one_after = f"the {group} values follow one another in time, so the later ones are the earlier ones' future"
    return split, f"{what} (one cut: {few_rows if few else one_after if follows else one_time})"


def offer_notes(offers: list[tuple[str, str]], group: str | None, per: bool) -> list[str]:
    """The note that offers a split by time, when a column looks like one and `--time` was not given; `per`:
    whether the first one's split would be per group."""
    if not offers:
        return []
    name, how = offers[0]
    others = f"; {', '.join(c for c, _ in offers[1:])} too" if len(offers) > 1 else ""
    return [
        f"{name} looks like a time ({how}{others}): init --time {name} splits by it: {time_split(name, group, per)[1]}"
    ]


def group_sizes(sample: pl.DataFrame, group: str | None, total: int, patterns: list[str], separator) -> pl.Series:
    """Each group's rows in all the data (a sample thins a user's rows): counted in a pass over the group column
    when the sample is not all the rows."""
    frame = sample.lazy() if len(sample) == total else io.scan_table(patterns, separator)
    return frame.group_by(group).len().collect(engine="streaming")["len"]


def choose_time(
    d: Draft, sample: pl.DataFrame, time: str | None, label: str, where: str, sizes: Callable[[], pl.Series]
) -> list[Column]:
    """With --time: the split's time, checked on the sample and left out of the features; else the columns
    that look like times, to offer --time. `sizes`: each group's rows, read when a split per group is in view."""
    offers, unusable = time_columns(sample, (d.group,)) if time is None else ([], [])
    if d.group is not None and (offers or time is not None):
        d.few = not holds_out(sizes())
    if time is None:
        d.time_offers, d.time_unusable = offers, unusable
        skip = (label, *(c for c, _ in offers))
        users = [
            c
            for c, _ in offers
            if d.group is not None
            and not d.few
            and spans_times(sample, c, d.group)
            and not follow_in_time(sample, c, d.group)  # (a day's rows: its time is the split's, one cut)
            and things_time(sample, c, d.group, skip) is None  # (a movie's release date: no time of the user's)
        ]
        if not users:
            return []
        # a user's next rows are what a model of known users scores; by the finest time of the user's
        time, d.time_chosen, d.per = max(users, key=lambda c: sample[c].n_unique()), True, True
    else:
        times(sample, time, f"{where} (--time {time})")  # a clear error for text that is no time, or no time
        spans = d.group is not None and spans_times(sample, time, d.group)
        d.follows = spans and follow_in_time(sample, time, cast(str, d.group))
        d.per = spans and not d.few and not d.follows
    d.time = time
    why = "the split's time (data.split.time); a model scores rows later than any it trained on, so it is no feature"
    return [Column(time, "skip", why)]
