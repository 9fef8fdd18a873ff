"""A split by time (`data.split.time`, `data.split.per`): the latest rows are test, the ones before them
validation; the same rows whether read whole or streamed, by one process or several; the cut points recorded
with the run; every mistake a clear message."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from wdcli.artifact import load_artifact, load_split
from wdcli.cli import app
from wdcli.data.files import Files
from wdcli.data.split import Rule, load_splits
from wdcli.data.time_cuts import Cut, TimeCuts
from wdcli.errors import DataError, SpecError
from wdcli.spec import load_spec

from .conftest import ROOT

SPEC = """
data: {{train: {train}, split: {split}{more}}}
label: {{column: y}}
columns: {{x: numeric, user: categorical}}
train: {{epochs: 1, batch_size: 64}}
"""


def ratings(n: int = 600, users: int = 12, seed: int = 0) -> pl.DataFrame:
    """Each user's rows with many ties in time (whole hours), in no order of time."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "user": rng.integers(0, users, n),
            "ts": 1_600_000_000 + 3600 * rng.integers(0, 40, n),
            "x": rng.normal(size=n),
            "y": rng.integers(0, 2, n),
        }
    )


def write_spec(folder, train, split: str, more: str = "", name: str = "s.yaml"):
    path = folder / name
    path.write_text(SPEC.format(train=train, split=split, more=more))
    return load_spec(path)


def latest(frame: pl.DataFrame, by: str | None, validation: float, test: float) -> dict[str, pl.DataFrame]:
    """The parts as the protocol states them, computed independently of wdcli (a loop over each group's rows):
    order each group's rows by time (ties: by position); the last floor(test * n) would be test and the
    floor(validation * n) before them validation, but rows of one time are never cut apart: each cut moves to
    the nearer edge of its time's run of rows (the later edge when both are as near, or when the earlier is the
    group's first row)."""
    rows = frame.with_row_index("pos").to_dicts()
    part: dict[int, str] = {}
    for g in dict.fromkeys(r[by] if by else 0 for r in rows):
        mine = sorted((r for r in rows if (r[by] if by else 0) == g), key=lambda r: (r["ts"], r["pos"]))
        times, n = [r["ts"] for r in mine], len(mine)

        def edge(at: int, upto: int, times: list = times) -> int:
            if at >= upto:
                return upto
            start = times.index(times[at])
            end = start + times.count(times[at])
            return start if at - start < end - at and start > 0 else end

        test_at = edge(n - int(n * test + 1e-9), n)
        validation_at = edge(max(test_at - int(n * validation + 1e-9), 0), test_at)
        for i, r in enumerate(mine):
            part[r["pos"]] = "test" if i >= test_at else "validation" if i >= validation_at else "train"
    parts = pl.Series([part[i] for i in range(len(frame))])
    return {p: frame.filter(parts == p) for p in ("train", "validation", "test")}


def test_each_users_latest_rows_are_test(tmp_path):
    """The recommender protocol: each user's latest 20% of ratings (rounded down) are test, the 10% before them
    validation, a cut moved to the nearer edge of its time's run of rows (`latest`): with ratings in whole hours,
    within a few rows of the count."""
    frame = ratings()
    frame.write_parquet(tmp_path / "r.parquet")
    spec = write_spec(tmp_path, "r.parquet", "{time: ts, per: user, validation: 0.1, test: 0.2}")
    got, want = load_splits(spec.data), latest(frame, "user", 0.1, 0.2)
    for part in ("train", "validation", "test"):
        assert got[part].equals(want[part]), part
    sizes = frame.group_by("user").len()["len"].to_numpy()
    assert abs(len(got["test"]) - int(np.floor(0.2 * sizes + 1e-9).sum())) <= len(sizes)
    rows = pl.concat([f.select("user", "ts").with_columns(part=pl.lit(p)) for p, f in got.items()])
    assert rows.group_by("user", "ts").agg(pl.col("part").n_unique())["part"].max() == 1
    assert set(got["train"]["user"]) == set(frame["user"])  # every user keeps rows to train on


def test_rows_of_one_time_are_never_cut_apart(tmp_path):
    """Without per: one cut over all training files. Rows of one time stay in one part (a purchase's candidates,
    which share its time, are never split between train and test): the cut moves to the nearer edge of their
    run, whatever file or place they hold."""
    a = pl.DataFrame({"ts": [5, 9, 9, 1], "x": [0.0, 1.0, 2.0, 3.0], "user": [1, 1, 1, 1], "y": [0, 1, 0, 1]})
    b = pl.DataFrame({"ts": [8, 2, 9, 3], "x": [4.0, 5.0, 6.0, 7.0], "user": [2, 2, 2, 2], "y": [1, 0, 1, 0]})
    a.write_csv(tmp_path / "a.csv")
    b.write_csv(tmp_path / "b.csv")
    spec = write_spec(tmp_path, "'*.csv'", "{time: ts, validation: 0.25, test: 0.25}")
    parts = load_splits(spec.data)
    # times 1 2 3 5 8 9 9 9: the two latest rows would cut the three of time 9 apart; the nearer edge keeps them
    # all in test, and the two before them (5 and 8) are validation
    assert parts["test"]["x"].to_list() == ["1.0", "2.0", "6.0"]  # (CSV is read as text)
    assert parts["validation"]["x"].to_list() == ["0.0", "4.0"]
    assert parts["train"]["x"].to_list() == ["3.0", "5.0", "7.0"]
    cuts = Rule.of(spec.data).time
    assert cuts is not None and cuts.rows == (3, 2, 3) and cuts.test[0] == Cut(9.0, 0, 1)
    # four rows of one time, two before them: a cut inside the run moves to its later edge (no test row) where
    # that is nearer, as where both edges are as near
    pl.DataFrame({"ts": [1, 2, 7, 7, 7, 7], "x": np.arange(6.0), "user": [1] * 6, "y": [0, 1] * 3}).write_csv(
        tmp_path / "a.csv"
    )
    (tmp_path / "b.csv").unlink()
    for fractions, rows in (("validation: 0.0, test: 0.34", (6, 0, 0)), ("validation: 0.0, test: 0.5", (2, 0, 4))):
        cuts = Rule.of(write_spec(tmp_path, "'*.csv'", f"{{time: ts, {fractions}}}").data).time
        assert cuts is not None and cuts.rows == rows


def test_a_purchase_of_candidates_sharing_its_time_stays_in_one_part(tmp_path):
    """The walk's trap: each household's purchases, five brands each at the purchase's occasion, split per
    household by occasion. The latest 20% of a household's rows cut a purchase apart (its brands in train and in
    test) wherever its rows were not a multiple of five; now every purchase lies whole in one part."""
    rng = np.random.default_rng(3)
    rows = []
    for hid in range(40):
        for occasion in range(int(rng.integers(2, 12))):
            for brand in range(5):
                rows.append({"hid": hid, "ts": occasion, "user": hid, "x": float(brand), "y": int(brand == 0)})
    frame = pl.DataFrame(rows).sample(fraction=1.0, shuffle=True, seed=1)
    frame.write_parquet(tmp_path / "t.parquet")
    spec = write_spec(tmp_path, "t.parquet", "{time: ts, per: hid, validation: 0.1, test: 0.2}")
    parts = load_splits(spec.data)
    where = pl.concat([f.select("hid", "ts").with_columns(part=pl.lit(p)) for p, f in parts.items()])
    assert where.group_by("hid", "ts").agg(pl.col("part").n_unique())["part"].max() == 1
    want = latest(frame, "hid", 0.1, 0.2)
    assert all(parts[p].sort("hid", "ts", "x").equals(want[p].sort("hid", "ts", "x")) for p in parts)
    assert len(parts["test"]) > 0.15 * len(frame)


def test_a_fraction_of_the_rows_is_rounded_down_not_below_its_product(tmp_path):
    """0.29 * 100 is 28.999999999999996 in floating point: the part still holds 29 rows, as floor(29.0)."""
    from wdcli.data.time_split import learn_cuts

    pl.DataFrame({"ts": np.arange(100), "y": np.zeros(100, dtype=int)}).write_parquet(tmp_path / "t.parquet")
    assert 0.29 * 100 < 29 and 0.57 * 100 < 57
    cuts = learn_cuts([str(tmp_path / "t.parquet")], "ts", None, 0.29, 0.57)
    assert cuts.rows == (14, 29, 57) and (cuts.validation[0].row, cuts.test[0].row) == (14, 43)


def test_in_memory_streamed_csv_and_parquet_give_the_same_rows(tmp_path):
    """Read whole or in small chunks (as streaming reads), from CSV or Parquet, from one file or three."""
    frame = ratings(900, seed=1)
    frame.write_parquet(tmp_path / "all.parquet")
    for i in range(3):
        frame[i * 300 : (i + 1) * 300].write_csv(tmp_path / f"part{i}.csv")
    split = "{time: ts, per: user, validation: 0.1, test: 0.2}"
    one = write_spec(tmp_path, "all.parquet", split, name="one.yaml")
    three = write_spec(tmp_path, "'part*.csv'", split, name="three.yaml")
    whole = load_splits(one.data)
    for spec in (one, three):
        files = Files.of(spec.data)
        for part in ("train", "validation", "test"):
            streamed = pl.concat(list(files[part].frames(77)))
            as_numbers = [pl.col("x").cast(pl.Float64), pl.col("y").cast(pl.Int64)]  # (CSV is read as text)
            assert streamed.select(as_numbers).equals(whole[part].select("x", "y")), part
    # a row's place decides only ties: the three files hold the rows in the same order, so the same rows


def test_dates_times_and_iso_text_split_alike(tmp_path):
    start = datetime(2024, 5, 1)
    stamps = [start + timedelta(minutes=37 * ((i * 7919) % 500)) for i in range(500)]
    frame = pl.DataFrame({"when": stamps, "x": np.arange(500.0), "user": [i % 7 for i in range(500)]})
    frame = frame.with_columns(y=pl.col("user") % 2)
    frame.write_parquet(tmp_path / "t.parquet")
    frame.with_columns(pl.col("when").dt.strftime("%Y-%m-%dT%H:%M:%S")).write_csv(tmp_path / "t.csv")
    frame.with_columns(pl.col("when").dt.date()).write_parquet(tmp_path / "d.parquet")
    split = "{time: when, validation: 0.1, test: 0.3}"
    a = load_splits(write_spec(tmp_path, "t.parquet", split, name="a.yaml").data)
    b = load_splits(write_spec(tmp_path, "t.csv", split, name="b.yaml").data)
    assert a["test"]["x"].to_list() == b["test"]["x"].cast(pl.Float64).to_list()
    assert len(a["test"]) == 150 and a["test"]["when"].min() >= a["validation"]["when"].max()
    days = load_splits(write_spec(tmp_path, "d.parquet", split, name="c.yaml").data)
    assert days["test"]["when"].min() >= days["train"]["when"].max()
    assert Rule.of(write_spec(tmp_path, "d.parquet", split, name="c.yaml").data).time.kind == "datetime"


def test_given_files_keep_their_meaning(tmp_path):
    """A test file given: the time split takes only validation (the latest 10% of the training files)."""
    frame = ratings(500, seed=2)
    frame.write_parquet(tmp_path / "r.parquet")
    frame.head(50).write_parquet(tmp_path / "test.parquet")
    spec = write_spec(tmp_path, "r.parquet", "{time: ts, validation: 0.1, test: 0.2}", ", test: test.parquet")
    parts = load_splits(spec.data)
    want = latest(frame, None, 0.1, 0.0)
    assert parts["validation"].equals(want["validation"]) and parts["train"].equals(want["train"])
    assert parts["test"].equals(frame.head(50))
    both = write_spec(tmp_path, "r.parquet", "{time: nope}", ", validation: test.parquet, test: test.parquet")
    assert Rule.of(both.data).time is None  # nothing to split: the column is not even read


RULE = """
import json, sys
from wdcli.data.split import Rule
from wdcli.data.files import Files
from wdcli.spec import load_spec
spec = load_spec(sys.argv[1])
files = Files.of(spec.data)
print(json.dumps({"rule": Rule.of(spec.data).to_json(),
                  "test": [f["x"].to_list() for f in files["test"].frames(50)]}))
"""


def test_two_processes_assign_alike(tmp_path):
    """Each process learns the cut points itself, from the same files: the same record and the same rows."""
    ratings(700, seed=3).write_parquet(tmp_path / "r.parquet")
    write_spec(tmp_path, "r.parquet", "{time: ts, per: user, validation: 0.1, test: 0.2}")
    runs = [
        subprocess.run([sys.executable, "-c", RULE, str(tmp_path / "s.yaml")], capture_output=True, text=True)
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    record = json.loads(runs[0].stdout)["rule"]
    assert Rule.from_json(record) == Rule.of(load_spec(tmp_path / "s.yaml").data)


def test_two_processes_train_on_the_time_split(tmp_path):
    """--nproc 2, streamed: the run trains on the rows of one process and records the same cut points."""
    ratings(2000, seed=4).write_parquet(tmp_path / "r.parquet")
    spec = write_spec(tmp_path, "r.parquet", "{time: ts, per: user, validation: 0.1, test: 0.2}")
    cmd = [sys.executable, "-m", "wdcli", "train", "s.yaml", "-q", "--set", "train.data.mode=stream"]
    for out, more in (("one", []), ("two", ["--nproc", "2"])):
        r = subprocess.run([*cmd, "--output", out, *more], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
    one, two = (json.loads((tmp_path / d / "metrics.json").read_text())["splits"] for d in ("one", "two"))
    assert {s: one[s]["rows"] for s in one} == {s: two[s]["rows"] for s in two}
    cuts = [load_split(load_artifact(tmp_path / d)).rule.time for d in ("one", "two")]
    assert cuts[0] == cuts[1] == Rule.of(spec.data).time
    assert two["test"]["rows"] == cuts[0].rows[2]


def test_the_cut_points_are_recorded_with_the_run(tmp_path, monkeypatch):
    """split.json holds the rule with its cut points, from which `eval --split` finds the run's own rows."""
    monkeypatch.chdir(tmp_path)
    frame = ratings(400, seed=5)
    frame.write_csv(tmp_path / "r.csv", separator=";")
    spec = write_spec(tmp_path, "r.csv", "{time: ts, per: user, validation: 0.1, test: 0.2}", ", csv: {separator: ';'}")
    r = CliRunner().invoke(app, ["train", "s.yaml", "-q", "--output", "run"])
    assert r.exit_code == 0, r.output
    raw = json.loads((tmp_path / "run" / "split.json").read_text())["rule"]["time"]
    assert raw["column"] == "ts" and raw["per"] == "user" and raw["kind"] == "number"
    record = load_split(load_artifact(tmp_path / "run"))
    cuts = record.rule.time
    assert cuts == Rule.of(spec.data).time and cuts == TimeCuts.from_json(json.loads(json.dumps(cuts.to_json())))
    want = latest(frame, "user", 0.1, 0.2)
    assert cuts.rows == tuple(len(want[p]) for p in ("train", "validation", "test"))
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())["splits"]
    for part in ("test", "validation", "train"):
        r = CliRunner().invoke(app, ["eval", "--model", "run", "--split", part, "--json", "-q"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["rows"] == saved[part]["rows"] == len(want[part])
        assert json.loads(r.stdout)["auc"] == pytest.approx(saved[part]["auc"], abs=1e-9)
    # a run without a split by time records its rule as before
    write_spec(tmp_path, "r.csv", "{validation: 0.1, test: 0.2}", ", csv: {separator: ';'}", name="plain.yaml")
    assert CliRunner().invoke(app, ["train", "plain.yaml", "-q", "--output", "plain"]).exit_code == 0
    rule = json.loads((tmp_path / "plain" / "split.json").read_text())["rule"]
    assert rule == {"validation": 0.1, "test": 0.2, "seed": 42, "key": None}


# ---------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("split", "message"),
    [
        (
            "{time: ts, key: user}",
            "s.yaml:2 data.split: give key or time, not both: key keeps each user in one part, time splits by "
            "when rows happened (for each user's latest rows: per: user)",
        ),
        ("{per: user}", "s.yaml:2 data.split: per splits each user's rows by time: give time: COLUMN too"),
        (
            "{time: ts, validation: 0.5, test: 0.5}",
            "s.yaml:2 data.split: validation + test must leave some rows to train on (sum < 1)",
        ),
    ],
)
def test_spec_mistakes_name_the_line(tmp_path, split, message):
    ratings(50).write_parquet(tmp_path / "r.parquet")
    with pytest.raises(SpecError) as e:
        write_spec(tmp_path, "r.parquet", split)
    assert message in " ".join(str(e.value).split())
    r = CliRunner().invoke(app, ["validate", str(tmp_path / "s.yaml")])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_data_mistakes_name_the_file_and_column(tmp_path):
    frame = ratings(60)
    frame.write_parquet(tmp_path / "ok.parquet")
    frame.drop("ts").write_parquet(tmp_path / "no_ts.parquet")
    frame.with_columns(ts=pl.when(pl.col("x") > 1).then(None).otherwise(pl.col("ts"))).write_parquet(
        tmp_path / "nulls.parquet"
    )
    text = frame.with_columns(ts=pl.col("ts").cast(pl.String))
    text.with_columns(ts=pl.when(pl.int_range(pl.len()) == 7).then(pl.lit("soon")).otherwise("ts")).write_csv(
        tmp_path / "bad.csv"
    )
    dates = frame.with_columns(ts=pl.from_epoch("ts").dt.strftime("%Y-%m-%d %H:%M"))
    dates.with_columns(ts=pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("1600000000")).otherwise("ts")).write_csv(
        tmp_path / "mixed.csv"
    )
    nulls = int((frame["x"] > 1).sum())
    first = int((frame["x"] > 1).arg_true()[0]) + 1
    cases = {
        "no_ts.parquet": "no_ts.parquet: missing column 'ts' (needed by data.split.time)",
        "nulls.parquet": f"nulls.parquet: column 'ts' (data.split.time) has no time in {nulls} rows (the first: "
        f"row {first}); a split by time needs one on every row: fill or drop them",
        "bad.csv": "bad.csv: column 'ts' (data.split.time) holds 'soon' (row 8), which is no time; give times as "
        "numbers (e.g. epoch seconds) or ISO 8601 dates and times",
    }
    for file, message in cases.items():
        spec = write_spec(tmp_path, file, "{time: ts, per: user}")
        with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
            Rule.of(spec.data)
        r = CliRunner().invoke(app, ["validate", str(tmp_path / "s.yaml")])
        assert r.exit_code == 2 and message in " ".join(r.stderr.split()), r.stderr
    spec = write_spec(tmp_path, "ok.parquet", "{time: ts, per: usr}")
    with pytest.raises(DataError, match=r"missing column 'usr' \(needed by data.split.per\) \(did you mean 'user'\?\)"):
        Rule.of(spec.data)


def test_files_that_write_times_differently_are_refused(tmp_path):
    frame = ratings(40)
    frame.write_parquet(tmp_path / "a.parquet")
    frame.with_columns(ts=pl.from_epoch("ts")).write_parquet(tmp_path / "b.parquet")
    spec = write_spec(tmp_path, "'*.parquet'", "{time: ts}")
    with pytest.raises(DataError, match="b.parquet: column 'ts' .* holds datetimes, but .*a.parquet holds numbers"):
        Rule.of(spec.data)


def test_the_spec_reference_documents_the_keys():
    text = (ROOT / "docs" / "spec.md").read_text()
    for key in ("`split.time`", "`split.per`"):
        assert key in text


def test_validate_says_what_the_split_holds_out():
    """`validate` prints the split in words, so that a split on the wrong column shows (per: gender holds out each
    gender's latest rows: valid, but rarely meant)."""
    from wdcli.data.split import describe
    from wdcli.spec.types import Data

    def said(**data) -> str:
        return describe(Data.model_validate({"train": "t.csv", **data}))

    per = {"validation": 0.1, "test": 0.2, "time": "ts", "per": "gender"}
    assert said(split=per) == "by time (ts): each gender's latest 20% of rows are test, the 10% before them validation"
    assert said(split={"time": "ts"}) == "by time (ts): the latest 20% of rows are test, the 10% before them validation"
    assert said(split={"time": "ts"}, test="x.csv") == (
        "by time (ts): the latest 10% of rows are validation; test from its own files"
    )
    key = {"key": "user_id", "seed": 7}
    assert said(split=key, test="x.csv") == (
        "by user_id (seed 7): 10% validation, each user_id's rows in one part; test from its own files"
    )
    assert said() == "seeded rows (seed 42): 10% validation and 20% test"
    assert said(validation="v.csv", test="x.csv") == "validation from its own files; test from its own files"


def test_validate_and_the_draft_put_a_split_by_time_in_the_same_words():
    """One owner of the words (`split.latest`): the draft's comment and note say what `validate` says."""
    from wdcli.data.split import describe
    from wdcli.draft.times import time_split
    from wdcli.spec.types import Data

    for group, per in (("user_id", True), (None, False)):
        split, what = time_split("ts", group, per)
        assert describe(Data.model_validate({"train": "t.csv", "split": split})) == f"by time (ts): {what}"
    assert time_split("ts", "request_id", False)[1] == (
        "the latest 20% of rows are test, the 10% before them validation (one cut: a request_id's rows share their time)"
    )


def test_rows_of_no_per_value_are_split_by_time_as_one_group(tmp_path):
    """Rows whose `per` value is missing are cut by time together, as one more user (their latest 20% are
    test), in memory as in the recorded cuts, which read back the same."""
    from wdcli.data.time_split import learn_cuts

    frame = ratings().with_columns(user=pl.when(pl.col("user") == 0).then(None).otherwise(pl.col("user")))
    nulls = frame["user"].null_count()
    assert nulls > 20
    frame.write_parquet(tmp_path / "r.parquet")
    spec = write_spec(tmp_path, "r.parquet", "{time: ts, per: user, validation: 0.1, test: 0.2}")
    parts, expected = load_splits(spec.data), latest(frame, "user", 0.1, 0.2)
    for p in ("train", "validation", "test"):
        assert parts[p].equals(expected[p]), p
    assert parts["test"]["user"].null_count() == int(0.2 * nulls)
    for per in ("user", None):
        cuts = learn_cuts([str(tmp_path / "r.parquet")], "ts", per, 0.1, 0.2)
        assert TimeCuts.from_json(json.loads(json.dumps(cuts.to_json()))) == cuts, per


def test_a_file_is_matched_to_the_cuts_by_path_else_by_a_name_no_other_file_has():
    from wdcli.data.time_split import _file_index

    cuts = TimeCuts("ts", "number", ("d1/a.csv", "d2/a.csv", "d1/b.csv"), (None,), (None,))
    assert _file_index(cuts, "d2/a.csv") == 1 and _file_index(cuts, "elsewhere/b.csv") == 2
    with pytest.raises(DataError, match="not one of the training files"):
        _file_index(cuts, "elsewhere/a.csv")  # (two files of that name)
    with pytest.raises(DataError, match="not one of the training files"):
        _file_index(cuts, "elsewhere/c.csv")
