"""A recommender's walk with its own ratings (users over months, a time column, `init --group user_id`): the
advice init gives is runnable as written, and the commands after train say what a careful user needs."""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from wdcli.artifact import load_artifact
from wdcli.cli import app
from wdcli.features import fit_pipeline
from wdcli.spec import load_spec

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def ratings(n: int = 6000, users: int = 600, seed: int = 0) -> pl.DataFrame:
    """Users rating items over months: enough users that the user's embedding gets a dimension of its own."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, users, n)
    item = rng.integers(0, 40, n)
    return pl.DataFrame(
        {
            "user_id": user,
            "timestamp": 1_700_000_000 + rng.integers(0, 10_000_000, n),
            "movie_id": item,
            "age": 20 + user % 40,
            "liked": (rng.random(n) < 0.2 + 0.5 * (item < 15)).astype(int),
        }
    )


def test_the_cold_start_edit_init_suggests_validates_and_trains(workdir):
    """The note's edit, done as written (the split replaced, the user deleted where it names it), gives a spec
    that validates and trains on a cold-start split; it named only `columns` before, and the user's
    `deep.embedding_dims` entry then failed validation."""
    ratings().write_csv(workdir / "ml.csv")
    r = invoke("init", "ml.csv", "--label", "liked", "--group", "user_id", "-o", "ml.yaml", "--no-trials")
    assert r.exit_code == 0, r.output
    note = " ".join(r.stderr.split())
    drafted = yaml.safe_load((workdir / "ml.yaml").read_text())
    assert "user_id" in drafted["deep"]["embedding_dims"]  # (what the edit missed)
    found = re.search(r"write split: (\{.*?\}) in ml\.yaml and delete user_id from (.*?)$", note, re.M)
    assert found, note
    drafted["data"]["split"] = yaml.safe_load(found.group(1))
    keys = found.group(2).replace(" and ", ", ").split(", ")
    assert keys[0] == "columns" and "deep.embedding_dims" in keys, keys
    for key in keys:
        *parents, last = key.split(".")
        node = drafted
        for p in parents:
            node = node[p]
        if last == "crosses":  # (the crosses that name it)
            node["crosses"] = [x for x in node["crosses"] if "user_id" not in x["columns"]]
        else:
            del node[last]["user_id"]
    (workdir / "cold.yaml").write_text(yaml.safe_dump(drafted))
    spec = load_spec(workdir / "cold.yaml")
    assert spec.data.split.key == "user_id" and "user_id" not in spec.columns
    fit_pipeline(spec, pl.read_csv(workdir / "ml.csv"))
    r = invoke("train", "cold.yaml", "-q", "--set", "train.epochs=1", "--output", "cold")
    assert r.exit_code == 0, r.output


def test_compare_shows_gauc_when_the_spec_groups_its_rows(apps_spec, workdir):
    """A recommender compares its models by how each user's (request's) rows are ordered: compare's table and
    JSON carry gAUC beside AUC when label.group is set (they had AUC and log loss only)."""
    fast = ["--set", "train.epochs=1", "--set", "train.max_rows=300", "-q"]
    r = invoke("compare", apps_spec, *fast, "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert all(0 <= row["test_gauc"] <= 1 and "validation_gauc" in row for row in rows)
    r = invoke("compare", apps_spec, *fast)
    assert r.exit_code == 0 and "gAUC" in r.stdout
    r = invoke("compare", apps_spec, *fast, "--set", "label.group=null")
    assert r.exit_code == 0 and "gAUC" not in r.stdout


def test_predict_scores_the_runs_own_rows_and_rank_of_them_says_nothing_of_sorting(apps_spec, workdir):
    """`predict --split test` writes the run's own test rows with their scores (eval, rank and report took
    --split; predict did not, and there was no other way to get them as a file); `rank --split` no longer
    advises sorting a file the user does not have."""
    r = invoke("train", apps_spec, "-q", "--set", "train.max_rows=300")
    assert r.exit_code == 0, r.output
    r = invoke("predict", "--split", "test", "--output", workdir / "test.parquet", "-q")
    assert r.exit_code == 0, r.output
    scored = pl.read_parquet(workdir / "test.parquet")
    test = load_artifact("runs/apps").metrics.splits["test"]
    assert len(scored) == test["rows"] and "score" in scored.columns
    r = invoke("eval", "--input", workdir / "test.parquet", "--json", "-q")  # the same rows: the same figures
    assert r.exit_code == 0 and json.loads(r.stdout)["auc"] == pytest.approx(test["auc"], abs=1e-9)
    r = invoke("predict", "-q")  # (predict needs no label)
    assert r.exit_code == 2 and "--input FILE (rows with the model's columns), or --split test|validation" in r.stderr
    r = invoke("rank", "--split", "test", "--output", workdir / "ranked.csv")
    assert r.exit_code == 0 and "sort it by that column" not in r.stderr


def test_a_day_of_new_ratings_moves_the_time_cut_and_eval_says_how_to_compare(workdir):
    """Ratings of a new day appended: each user's latest rows move, so the new run's test rows are not the old
    run's; `eval --split test` of both refuses, says why (other files) and gives the commands that evaluate both
    on the new run's test rows, which then work. The old run trained on none of them: each user's new test rows
    are later than every row the old run trained on."""
    frame = ratings(3000, 60).with_columns(pl.col("user_id").cast(pl.String)).sort("timestamp")
    spec = "data: {train: ml.csv, split: {validation: 0.1, test: 0.2, time: timestamp, per: user_id}}\n"
    spec += "label: {column: liked, group: user_id}\ncolumns: {user_id: categorical, movie_id: categorical}\n"
    spec += "deep: {embedding_dim: 4, hidden: [8]}\ntrain: {epochs: 1}\n"
    (workdir / "ml.yaml").write_text(spec)
    frame.head(2700).write_csv(workdir / "ml.csv")
    assert invoke("train", "ml.yaml", "-q", "--output", "day1").exit_code == 0
    assert invoke("predict", "--model", "day1", "--split", "train", "--output", "train1.parquet", "-q").exit_code == 0
    frame.write_csv(workdir / "ml.csv")  # (the day's 300 ratings appended)
    r = invoke("train", "ml.yaml", "-q", "--output", "day2", "--warm-start", "day1")
    assert r.exit_code == 0, r.output
    said = " ".join(r.stdout.split())  # the warm start says its test rows are not the previous run's
    assert re.search(r"warm start: the time cuts of [\d,]+ of the [\d,]+ user_id values in both runs moved", said)
    assert "the previous run's test rows are training rows now" in said and "not of the same rows" in said
    assert "not of the same rows" in load_artifact("day2").metrics.warm_start.split  # (kept in metrics.json)
    r = invoke("eval", "--model", "day2", "--model", "day1", "--split", "test", "-q")
    message = " ".join(r.stderr.split())
    assert r.exit_code == 2 and "did not split their rows alike (other files)" in message
    command = re.search(r"wdcli predict (--model day2 --split test --output test\.parquet)", message)
    assert command, message
    assert invoke("predict", *command.group(1).split(), "-q").exit_code == 0
    r = invoke("eval", "--model", "day2", "--model", "day1", "--input", "test.parquet", "--json", "-q")
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 2
    trained = pl.read_parquet(workdir / "train1.parquet").group_by("user_id").agg(pl.col("timestamp").max())
    test = pl.read_parquet(workdir / "test.parquet").group_by("user_id").agg(pl.col("timestamp").min())
    both = trained.join(test, on="user_id", suffix="_test")
    assert len(both) and (both["timestamp"] <= both["timestamp_test"]).all()


def test_a_run_given_the_other_commands_way_says_how_this_one_takes_it():
    """`eval runs/x` (the run as an argument, as report and export take it) and `export --model runs/x` (as
    eval, rank and serve take it): the usage error says how this command names a run."""
    r = invoke("eval", "runs/base", "--split", "test")
    assert r.exit_code == 2 and "a run is named with --model: --model runs/base" in " ".join(r.output.split())
    r = invoke("export", "--model", "runs/base")
    assert r.exit_code == 2
    assert "the run is this command's argument: wdcli export runs/base" in " ".join(r.output.split())
