"""`wdcli init` and time: `--time COLUMN` drafts a split by time (per user when a user's rows span several
times) and leaves the column out of the features; without it, a column that looks like a time is offered."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.draft.times import follow_in_time, looks_like_time, spans_times
from wdcli.spec import load_spec

runner = CliRunner()


def events(n: int = 2000, users: int = 100, per_request: bool = False, seed: int = 0) -> pl.DataFrame:
    """Ratings of users over months, or (per_request) requests whose candidates share one time."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n // 10), 10) if per_request else rng.integers(0, users, n)
    ts = 1_700_000_000 + (group * 977 if per_request else rng.integers(0, 10_000_000, n))
    item = rng.integers(0, 30, n)
    return pl.DataFrame(
        {
            "user_id": group,
            "ts": ts,
            "item": [f"i{i}" for i in item],
            "price": rng.normal(10, 3, n),
            "liked": (rng.random(n) < 0.2 + 0.5 * (item < 10)).astype(int),
        }
    )


@pytest.mark.parametrize(
    ("name", "values", "how"),
    [
        ("when", pl.Series([datetime(2024, 5, 1, 12)]), "date-times"),
        ("day", pl.Series([date(2024, 5, 1)]), "dates"),
        ("when", pl.Series(["2024-05-01", "2024-05-02T10:00:00"]), "ISO 8601 text"),
        ("ts", pl.Series([1_700_000_000, 1_700_086_400]), "epoch seconds"),
        ("created_at", pl.Series([1.7e12, 1.71e12]), "epoch milliseconds"),
        ("eventTime", pl.Series(["1700000000", "1700086400"]), "epoch seconds"),  # a CSV's numbers, as text
        ("timestamp", pl.Series([3, 14, 15]), None),  # no epoch: a step counter
        ("amount", pl.Series([1_700_000_000, 1_700_086_400]), None),  # not named like a time
        ("status", pl.Series(["ok", "late"]), None),
    ],
)
def test_what_looks_like_a_time(name, values, how):
    assert looks_like_time(name, values) == how


def test_init_time_drafts_a_split_by_time_and_leaves_the_column_out(workdir):
    events().write_parquet(workdir / "ev.parquet")
    r = runner.invoke(app, ["init", "ev.parquet", "--label", "liked", "--time", "ts", "-o", "ev.yaml"])
    assert r.exit_code == 0, r.output
    text = (workdir / "ev.yaml").read_text()
    assert yaml.safe_load(text)["data"]["split"] == {"validation": 0.1, "test": 0.2, "time": "ts"}
    assert "# by time: the latest 20% of rows are test, the 10% before them validation" in text
    assert "  # ts: left out: the split's time (data.split.time)" in text
    assert "the 10% before them validation; ts is not a feature" in " ".join(r.stderr.split())
    spec = load_spec(workdir / "ev.yaml")
    assert "ts" not in spec.columns and spec.data.split.time == "ts"
    assert "looks like a time" not in r.stderr  # given, so not offered
    r = runner.invoke(app, ["train", "ev.yaml", "-q", "--set", "train.epochs=1", "--output", "run"])
    assert r.exit_code == 0, r.output


def test_init_time_with_a_group_splits_each_users_latest_rows(workdir):
    events().write_parquet(workdir / "users.parquet")
    events(per_request=True).write_parquet(workdir / "requests.parquet")
    for data, per in (("users", True), ("requests", False)):
        r = runner.invoke(
            app,
            ["init", f"{data}.parquet", "--label", "liked", "--group", "user_id", "--time", "ts", "-o", "s.yaml"]
            + ["--force"],
        )
        assert r.exit_code == 0, r.output
        split = load_spec(workdir / "s.yaml").data.split
        assert (split.per == "user_id") is per and split.key is None and split.time == "ts", data
        text = (workdir / "s.yaml").read_text()
        assert ("user_id" in load_spec(workdir / "s.yaml").columns) is per, data  # a known user: a feature
        if per:
            assert "each user_id's latest 20% of rows are test" in text
        else:
            assert "(one cut: a user_id's rows share their time)" in text
            # the other way a walk needed (a household's purchases): each user's latest rows, named by hand
            assert "to hold out each user's latest rows instead, add per: COLUMN to data.split in" in r.output


def test_init_splits_groups_that_follow_one_another_in_time_by_one_cut(workdir):
    """A walk's tweets ranked within each day: a day's rows span hours (as a user's do), but the days follow one
    another, so each day's latest rows as test (per: day) trained on later days, the test rows' future (0.82
    test AUC so, 0.67 on the latest days). init now cuts once over all rows there, and says why; users, whose
    rows interleave, keep the split per user."""
    rng = np.random.default_rng(0)
    n = 3000
    day = np.sort(rng.integers(0, 150, n))
    ts = 1_700_000_000 + day * 86_400 + rng.integers(0, 80_000, n)
    pl.DataFrame({"day": day, "ts": ts, "words": rng.integers(0, 40, n), "liked": rng.integers(0, 2, n)}).write_parquet(
        workdir / "days.parquet"
    )
    for extra in ([], ["--time", "ts"]):
        r = runner.invoke(
            app, ["init", "days.parquet", "--label", "liked", "--group", "day", "-o", "s.yaml", "--force"] + extra
        )
        assert r.exit_code == 0, r.output
        split = load_spec(workdir / "s.yaml").data.split
        assert split.per is None, extra
        text = (workdir / "s.yaml").read_text()
        if extra:
            assert split.time == "ts" and "the day values follow one another in time" in text
            assert "add per: COLUMN" not in r.output  # (a split per day is what it must not do)
    sample = events()
    assert not follow_in_time(sample, "ts", "user_id") and spans_times(sample, "ts", "user_id")


def test_init_offers_a_split_by_time(workdir):
    events().write_csv(workdir / "ev.csv")
    r = runner.invoke(app, ["init", "ev.csv", "--label", "liked", "-o", "a.yaml"])
    assert r.exit_code == 0, r.output
    note = " ".join(r.stderr.split())
    assert (
        "note: ts looks like a time (epoch seconds): init --time ts splits by it: the latest 20% of rows are test, "
        "the 10% before them validation"
    ) in note
    events(per_request=True).write_csv(workdir / "requests.csv")  # (a user's rows spanning times: drafted, below)
    r = runner.invoke(app, ["init", "requests.csv", "--label", "liked", "--group", "user_id", "-o", "b.yaml"])
    choice = "to hold out the latest rows, split by time: init --time ts (epoch seconds): the latest 20% of rows"
    assert choice in " ".join(r.stderr.split())
    spec = load_spec(workdir / "b.yaml")
    assert spec.data.split.time is None and spec.data.split.key == "user_id"  # offered, not drafted
    assert "user_id" not in spec.columns  # each request new when served: its id no feature
    events().drop("ts").write_csv(workdir / "plain.csv")
    r = runner.invoke(app, ["init", "plain.csv", "--label", "liked", "-o", "c.yaml"])
    assert r.exit_code == 0 and "looks like a time" not in r.stderr


def test_init_names_a_time_column_with_missing_values_which_a_split_by_time_refuses(workdir):
    """A column that looks like a time but has no time in some rows is not offered (train refuses a split by
    time over rows without one), and the notes say so, with how many are missing and what to do: not skipped
    silently. `--time` on it is the error train would give."""
    frame = events().with_columns(ts=pl.when(pl.int_range(pl.len()) % 33 == 0).then(None).otherwise(pl.col("ts")))
    frame.write_csv(workdir / "ev.csv")
    said = (
        "note: ts looks like a time (epoch seconds), but 3% of its sample values are missing (61 of 2,000 rows): "
        "a split by time needs a time on every row (train refuses a row without one), so init does not offer it; "
        "fill or drop those rows, then init --time ts"
    )
    for group in ([], ["--group", "user_id"]):
        r = runner.invoke(app, ["init", "ev.csv", "--label", "liked", *group, "-o", "a.yaml", "--force"])
        assert r.exit_code == 0, r.output
        assert said in " ".join(r.stderr.split()), group
        split = load_spec(workdir / "a.yaml").data.split
        assert split.time is None and split.key == (group[1] if group else None)
    r = runner.invoke(app, ["init", "ev.csv", "--label", "liked", "--time", "ts", "-o", "b.yaml"])
    assert r.exit_code == 2 and "has no time in 61 rows (the first: row 1)" in " ".join(r.stderr.split())
    r = runner.invoke(app, ["train", "a.yaml", "--set", "data.split={time: ts}", "--set", "data.split.key=null"])
    assert r.exit_code == 2 and "has no time in 61 rows (the first: row 1)" in " ".join(r.stderr.split())
    dates = events().with_columns(when=pl.from_epoch("ts").dt.date().cast(pl.String)).drop("ts")
    dates.with_columns(when=pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("soon")).otherwise("when")).write_csv(
        workdir / "iso.csv"
    )
    r = runner.invoke(app, ["init", "iso.csv", "--label", "liked", "-o", "c.yaml"])
    assert r.exit_code == 0, r.output
    assert (
        "note: when looks like a time (ISO 8601 text), but some of its sample values are no time: a split by time "
        "needs a time on every row (train refuses a row without one), so init does not offer it; correct them, "
        "then init --time when"
    ) in " ".join(r.stderr.split())


def test_init_group_of_users_over_time_splits_by_time_and_keeps_the_user(workdir):
    """`--group user_id` on rows where a user's rows span times (ratings, not a request's candidates): the
    model scores known users' next rows, so init holds out each user's latest rows and the user is a feature;
    the cold-start split is one edit away, and said."""
    events().write_csv(workdir / "ev.csv")
    r = runner.invoke(app, ["init", "ev.csv", "--label", "liked", "--group", "user_id", "-o", "b.yaml"])
    assert r.exit_code == 0, r.output
    spec = load_spec(workdir / "b.yaml")
    split = spec.data.split
    assert (split.time, split.per, split.key) == ("ts", "user_id", None)
    assert "user_id" in spec.columns and "ts" not in spec.columns and spec.label.group == "user_id"
    note = " ".join(r.stderr.split())
    assert "data.split.time is ts (chosen: user_id's rows span several times (users, not requests))" in note
    assert "user_id is a feature (every user_id is in every part)" in note
    assert "write split: {validation: 0.1, test: 0.2, seed: 42, key: user_id} in b.yaml" in note
    assert "also a feature: every one is in every part" in (workdir / "b.yaml").read_text()
    r = runner.invoke(app, ["train", "b.yaml", "-q", "--set", "train.epochs=1", "--output", "run"])
    assert r.exit_code == 0, r.output


def test_init_chooses_the_events_time_not_a_things_date(workdir):
    """A movie's release date spans a user's rows too (each row another movie), but it is no time of the
    user's: the finest time (the rating's second) is the one init splits by."""
    frame = events()
    frame = frame.with_columns(
        release_date=pl.date(1990, 1, 1) + pl.duration(days=pl.col("item").str.slice(1).cast(int))
    )
    frame.select("release_date", *frame.columns[:-1]).write_parquet(workdir / "ev.parquet")
    r = runner.invoke(app, ["init", "ev.parquet", "--label", "liked", "--group", "user_id", "-o", "s.yaml"])
    assert r.exit_code == 0, r.output
    assert load_spec(workdir / "s.yaml").data.split.time == "ts"


def test_init_time_errors(workdir):
    frame = events()
    frame.write_parquet(workdir / "ev.parquet")
    r = runner.invoke(app, ["init", "ev.parquet", "--label", "liked", "--time", "tss"])
    assert r.exit_code == 2 and "no column 'tss' (--time) (did you mean 'ts'?)" in r.stderr
    frame.with_columns(ts=pl.when(pl.col("price") > 12).then(None).otherwise("ts")).write_parquet(
        workdir / "gaps.parquet"
    )
    r = runner.invoke(app, ["init", "gaps.parquet", "--label", "liked", "--time", "ts"])
    assert r.exit_code == 2 and "(--time ts): column 'ts' (data.split.time) has no time in" in r.stderr
    assert not (workdir / "gaps.yaml").exists()


def test_a_group_spans_times_only_when_enough_groups_of_several_rows_say_so():
    """Users (each over several times) from requests (one time each): MIN_GROUPS groups of two or more rows are
    needed to tell; fewer, and one cut over all rows (False) is right for both."""
    from wdcli.draft.times import MIN_GROUPS, spans_times

    def sample(groups: int) -> pl.DataFrame:
        return pl.DataFrame({"g": [i for i in range(groups) for _ in range(3)], "ts": list(range(3 * groups))})

    assert spans_times(sample(MIN_GROUPS), "ts", "g")
    assert not spans_times(sample(MIN_GROUPS - 1), "ts", "g")
    requests = sample(MIN_GROUPS).with_columns(ts=pl.col("g"))  # each group's rows share one time
    assert not spans_times(requests, "ts", "g")


@pytest.mark.parametrize("group, suffix", [("user", "parquet"), ("user_id", "parquet"), ("user", "csv")])
def test_a_group_kept_as_a_feature_is_categorical_whatever_its_type(workdir, group, suffix):
    """The group kept as a feature (a known user) is an identity: numbers named `user`, or float ids, are no
    quantity to standardize and bucketize; nor digits in a CSV (read as text: they were drafted numeric)."""
    frame = events().rename({"user_id": group}).with_columns(pl.col(group).cast(pl.Float64))
    frame.write_parquet(workdir / "ev.parquet") if suffix == "parquet" else frame.write_csv(workdir / "ev.csv")
    r = runner.invoke(
        app, ["init", f"ev.{suffix}", "--label", "liked", "--group", group, "-o", "s.yaml", "--no-trials"]
    )
    assert r.exit_code == 0, r.output
    spec = load_spec(workdir / "s.yaml")
    assert spec.data.split.per == group and spec.columns[group].kind == "categorical"
    assert f"{group}_buckets" not in spec.columns


def test_the_cold_start_note_names_every_place_to_edit(workdir):
    """The note's edit, done as it says, gives a spec that validates: a user of 300 values also has an entry of
    its own in deep.embedding_dims (and may be in a cross), which the note must name beside its column."""
    events(n=6000, users=300).write_parquet(workdir / "ev.parquet")
    r = runner.invoke(
        app, ["init", "ev.parquet", "--label", "liked", "--group", "user_id", "-o", "s.yaml", "--no-trials"]
    )
    assert r.exit_code == 0, r.output
    note = " ".join(r.stderr.split())
    doc = yaml.safe_load((workdir / "s.yaml").read_text())
    assert "user_id" in doc["deep"]["embedding_dims"]
    places = note.split("in s.yaml and delete user_id from ")[1]
    assert "columns" in places and "deep.embedding_dims" in places
    doc["data"]["split"] = {"validation": 0.1, "test": 0.2, "seed": 42, "key": "user_id"}
    del doc["columns"]["user_id"], doc["deep"]["embedding_dims"]["user_id"]
    doc["crosses"] = [x for x in doc["crosses"] if "user_id" not in x["columns"]]
    (workdir / "cold.yaml").write_text(yaml.safe_dump(doc))
    assert load_spec(workdir / "cold.yaml").data.split.key == "user_id"


def test_users_of_a_few_rows_each_get_no_split_per_user(workdir):
    """Each user's latest 10% of rows is floor(0.1 n): users of under 10 rows have none, so a split per user of
    such data had no validation rows (and under 5, no test rows). init then splits by time in one cut, or by the
    group when it chose the time itself; counted over all the rows, not the sample's (which thins users)."""
    rng = np.random.default_rng(0)
    n = 3000
    frame = events(n=n).with_columns(user_id=pl.Series(np.repeat(np.arange(n // 3), 3)))  # 3 rows a user
    frame = frame.with_columns(ts=pl.Series(1_700_000_000 + rng.integers(0, 10_000_000, n)))
    frame.write_parquet(workdir / "few.parquet")
    r = runner.invoke(app, ["init", "few.parquet", "--label", "liked", "--group", "user_id", "-o", "a.yaml"])
    assert r.exit_code == 0, r.output
    split = load_spec(workdir / "a.yaml").data.split
    assert (split.time, split.key) == (None, "user_id")
    assert "too few to hold out" in " ".join(r.stderr.split())
    r = runner.invoke(
        app, ["init", "few.parquet", "--label", "liked", "--group", "user_id", "--time", "ts"] + ["-o", "b.yaml"]
    )
    assert r.exit_code == 0, r.output
    split = load_spec(workdir / "b.yaml").data.split
    assert (split.time, split.per) == ("ts", None)
    assert "too few to hold out" in (workdir / "b.yaml").read_text()
    r = runner.invoke(
        app, ["init", "few.parquet", "--label", "liked", "--group", "user_id", "--sample", "500", "-o", "c.yaml"]
    )
    assert load_spec(workdir / "c.yaml").data.split.key == "user_id", r.output  # (the sample's users: 1.5 rows)
    r = runner.invoke(app, ["train", "b.yaml", "-q", "--set", "train.epochs=1", "--output", "run", "--json"])
    assert r.exit_code == 0, r.output


def test_init_does_not_split_by_a_things_time_finer_than_the_events(workdir):
    """An article's publication second is finer than the click's day, but it is the article's time (one per
    article, over many users): a split by it held out each user's clicks on the newest articles."""
    rng = np.random.default_rng(1)  # (not events()' seed: its users would be the items)
    frame = events(n=4000).with_columns(item=pl.Series(rng.integers(0, 400, 4000)).cast(pl.String))
    published = pl.col("item").cast(int) * 86_413 + 1_600_000_000
    frame = frame.with_columns(published_at=published, day=pl.from_epoch("ts").dt.date()).drop("ts")
    frame.write_parquet(workdir / "news.parquet")
    r = runner.invoke(app, ["init", "news.parquet", "--label", "liked", "--group", "user_id", "-o", "s.yaml"])
    assert r.exit_code == 0, r.output
    assert load_spec(workdir / "s.yaml").data.split.time == "day"


def test_a_group_of_lists_is_an_error_not_a_crash(workdir):
    frame = events().with_columns(user_id=pl.concat_list("user_id", pl.col("user_id") + 1))
    frame.write_parquet(workdir / "lists.parquet")
    r = runner.invoke(app, ["init", "lists.parquet", "--label", "liked", "--group", "user_id", "-o", "s.yaml"])
    assert r.exit_code == 2, r.output
    assert "column 'user_id' (--group) holds lists" in " ".join(r.stderr.split())


def test_a_requests_candidates_logged_milliseconds_apart_share_its_time(workdir):
    """Candidates of one request logged a few milliseconds apart are one moment, not a user's history: the
    request is new when served, so init splits by it (data.split.key), not by each request's latest rows."""
    frame = events(per_request=True).with_columns(
        ts=pl.col("ts") * 1000 + pl.int_range(pl.len()).over("user_id") * 3  # epoch milliseconds, 3 ms apart
    )
    frame.write_parquet(workdir / "requests.parquet")
    r = runner.invoke(app, ["init", "requests.parquet", "--label", "liked", "--group", "user_id", "-o", "s.yaml"])
    assert r.exit_code == 0, r.output
    split = load_spec(workdir / "s.yaml").data.split
    assert (split.time, split.key) == (None, "user_id")
