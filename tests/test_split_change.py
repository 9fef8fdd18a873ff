"""A warm start on newer data says how its split differs from the previous run's (`data.split_change`): a split
by time learned again moves its cut, so the previous run's test rows are training rows now (or rows it trained on
are test rows); a split of another kind deals the rows anew. Read from the two runs' records, not their data."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from wdcli.data.split_change import split_change, when
from wdcli.data.split_record import record_split
from wdcli.spec.types import Data

TIME = {"time": "day", "validation": 0.1, "test": 0.2}
START = date(2026, 1, 1)


def days(first: int, n: int) -> pl.DataFrame:
    """One row a day, from START + first days on, the day as ISO text (as a CSV gives it)."""
    return pl.DataFrame({"day": [(START + timedelta(days=first + i)).isoformat() for i in range(n)], "y": [0] * n})


def data(folder, frame: pl.DataFrame, split: dict, name: str = "ev.csv"):
    """A `data` section over `frame` (written as `name` in `folder`), and its record as a run keeps it."""
    frame.write_csv(folder / name)
    d = Data.model_validate({"train": str(folder / name), "split": split})
    return d, record_split(d)


def test_a_time_cut_moved_on_by_new_days_says_the_old_test_rows_are_training_rows_now(tmp_path):
    """100 days, then 130: the test cut moves from day 80 (2026-03-22) to day 104, and the previous run's test
    rows fall before the new validation cut (day 91): they are training rows now."""
    old = data(tmp_path, days(0, 100), TIME)
    new = data(tmp_path, days(0, 130), TIME)
    assert split_change(*old, *new) == (
        "the time cut moved from 2026-03-22 to 2026-04-15: the previous run's test rows before 2026-04-02 are "
        "training rows now; the two runs' test figures are not of the same rows"
    )
    assert split_change(*old, *old) == ""  # the same files: the same cut


def test_a_time_cut_moved_back_says_the_new_test_rows_were_trained_on(tmp_path):
    """Earlier days added (a backfill): the new test cut falls among rows the previous run trained on, whose
    weights the new run starts from: its test figures are optimistic, and said so."""
    old = data(tmp_path, days(0, 100), TIME)
    new = data(tmp_path, days(-200, 300), TIME)
    assert split_change(*old, *new) == (
        "the time cut moved from 2026-03-22 to 2026-02-10: rows the previous run trained on are test rows now: the "
        "weights this run starts from saw them, so its test figures are optimistic; the two runs' test figures are "
        "not of the same rows"
    )
    new = data(tmp_path, days(-40, 140), TIME)  # the new test cut among the previous run's validation rows
    assert split_change(*old, *new) == (
        "the time cut moved from 2026-03-22 to 2026-03-14: rows the previous run validated on are test rows now; "
        "the two runs' test figures are not of the same rows"
    )


def test_a_split_of_another_kind_says_both(tmp_path):
    old = data(tmp_path, days(0, 100), {"validation": 0.1, "test": 0.2})
    new = data(tmp_path, days(0, 130), TIME)
    assert split_change(*old, *new) == (
        "the split differs: the previous run's was seeded rows (seed 42): 10% validation and 20% test; this run's "
        "is by time (day): the latest 20% of rows are test, the 10% before them validation: rows it held out may "
        "be training rows now and rows it trained on test rows, so the two runs' test figures are not of the same "
        "rows"
    )
    seeded = data(tmp_path, days(0, 130), {"validation": 0.1, "test": 0.2})
    assert split_change(*old, *seeded) == ""  # (a row's part by its file and place: rows appended keep theirs)


def test_a_previous_run_without_a_record_of_its_cuts_says_so(tmp_path):
    old, _ = data(tmp_path, days(0, 100), TIME)
    new = data(tmp_path, days(0, 130), TIME)
    assert "the previous run kept no record of its time cuts" in split_change(old, None, *new)
    assert split_change(old, None, new[0], None) == ""  # (a run on frames: nothing to tell by)


def test_each_users_cuts_are_counted(tmp_path):
    """Per user: the users in both runs whose cuts moved, and which way."""
    split = {**TIME, "per": "user"}
    users = [days(0, 100).with_columns(user=pl.lit(u)) for u in ("a", "b", "c")]
    old = data(tmp_path, pl.concat([*users, days(0, 100).with_columns(user=pl.lit("e"))]), split)
    moved = [days(0, n).with_columns(user=pl.lit(u)) for u, n in (("b", 130), ("e", 110))]
    moved += [users[0], days(-200, 300).with_columns(user=pl.lit("c")), days(0, 50).with_columns(user=pl.lit("d"))]
    new = data(tmp_path, pl.concat(moved), split)
    assert split_change(*old, *new) == (
        "the time cuts of 3 of the 4 user values in both runs moved: for 1 the previous run's test rows are "
        "training rows now; for 1 its earliest test rows are validation rows now; for 1, rows the previous run "
        "trained on are test rows now: the weights this run starts from saw them, so its test figures are "
        "optimistic; the two runs' test figures are not of the same rows"
    )


def test_a_cut_is_told_as_the_data_gives_its_times():
    assert when("number", 1_700_000_000.0) == "1700000000" and when("number", 2.5) == "2.5"
    assert when("datetime", 86_400e6) == "1970-01-02" and when("datetime", 86_400e6 + 3600e6) == "1970-01-02 01:00:00"
