"""What a new user's walk through README.md and docs/tutorial.md found the command line saying wrong: parts of a
model that do not add up, columns whose types change, values cut in a pipe, differences that are none, two
columns of one name, `1 epochs`, and commands that do not say which model they read."""

from __future__ import annotations

import os
import re

import pytest
from typer.testing import CliRunner

from wdcli.cli import app

from .conftest import APPS_SPEC, apps_frame

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def blocks_run(tmp_path_factory):
    """A run of the apps spec with both optional blocks of the deep part: periodic numeric embeddings and a
    cross interaction (as census has)."""
    folder = tmp_path_factory.mktemp("blocks")
    apps_frame().write_csv(folder / "apps.csv")
    spec = folder / "apps.yaml"
    spec.write_text(APPS_SPEC.format(path=folder / "apps.csv"))
    blocks = ["--set", "deep.numeric_embedding=periodic", "--set", "deep.interaction=cross"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)  # (the encoded cache, MLflow's mlruns/ land here)
        r = invoke("train", spec, *blocks, "--set", "train.epochs=1", "--output", folder / "run", "-q")
        assert r.exit_code == 0, r.output
        yield folder / "run"


def parts(line: str) -> tuple[int, dict[str, int]]:
    """The total and the parts of a `parameters` line, as numbers."""
    number = r"(\d{1,3}(?:,\d{3})*)"
    total = re.search(rf"parameters:? {number}|total {number}", line)
    assert total is not None, line
    found = {k: int(v.replace(",", "")) for k, v in re.findall(rf"(\w+) {number}(?=, \w|\)|$)", line)}
    found.pop("total", None)
    return int((total.group(1) or total.group(2)).replace(",", "")), found


def test_inspect_names_every_part_of_the_parameters_and_they_add_up(blocks_run):
    r = invoke("inspect", "--model", blocks_run, "-q")
    assert r.exit_code == 0, r.output
    first, deep = r.stdout.splitlines()[:2]
    total, found = parts(first)
    assert sum(found.values()) == total and found["interaction"] > 0 and found["bias"] == 1, first
    assert "periodic embeddings of 1 number (dim 8)" in deep and "cross interaction (2 layers)" in deep, deep


def test_validate_parts_add_up_too(blocks_run):
    r = invoke("validate", blocks_run / "spec.yaml")
    assert r.exit_code == 0, r.output
    line = next(x for x in r.stdout.splitlines() if x.startswith("parameters:"))
    total, found = parts(line)
    assert sum(found.values()) == total and "interaction" in found, line


def test_one_of_a_thing_is_not_plural(blocks_run, tmp_path):
    r = invoke("train", blocks_run / "spec.yaml", "--set", "train.epochs=1", "--output", tmp_path / "run", "-q")
    assert r.exit_code == 0, r.output
    assert "1 epoch in" in r.stdout and "1 epochs" not in r.stdout, r.stdout
    one = tmp_path / "one.csv"
    apps_frame(1).write_csv(one)
    r = invoke("predict", "--model", tmp_path / "run", "--input", one, "--output", tmp_path / "scores.csv")
    assert r.exit_code == 0, r.output
    assert f"wrote 1 row to {tmp_path / 'scores.csv'}" in r.stderr, r.stderr


def test_tune_table_names_a_searched_key_apart_from_the_trials_epochs():
    from types import SimpleNamespace

    from wdcli.cli.tune_commands import best_table

    row = {"state": "complete", "trial": 0, "value": 0.9, "epochs": 18, "best_epoch": 12, "seconds": 3.0}
    params = {"train.epochs": 30, "train.deep_optimizer.lr": 0.05, "train.wide_optimizer.lr": 0.1}
    result = SimpleNamespace(metric="auc", maximize=True, rows=[{**row, "params": params}])
    headers = [str(c.header) for c in best_table(result, 5).columns]
    assert headers == ["trial", "auc", "epochs", "seconds", "train.epochs", "deep_optimizer.lr", "wide_optimizer.lr"]


def test_runs_diff_cuts_nothing_in_a_pipe_and_leaves_out_tune(apps_spec, workdir):
    hidden = "[" + ", ".join(["16"] * 20) + "]"  # 80 characters
    marked = ["--set", 'columns.country.missing=["[bold]"]']  # (a value with rich markup in it, shown as it is)
    for settings in ([], ["--set", f"deep.hidden={hidden}", "--set", "tune.trials=7", *marked]):
        r = invoke("train", apps_spec, "--set", "train.epochs=1", *settings, "-q")
        assert r.exit_code == 0, r.output
    a, b = sorted(p.name for p in (workdir / "runs" / "apps").iterdir() if p.is_dir())
    r = invoke("runs", "diff", a, b)
    assert r.exit_code == 0, r.output
    assert hidden in r.stdout and "['[bold]']" in r.stdout, r.stdout
    assert "tune.trials" not in r.stdout and "not listed: 1 key of the tune section, which training" in r.stdout, (
        r.stdout
    )
    r = invoke("runs")
    assert r.exit_code == 0, r.output
    assert hidden in r.stdout and "tune.trials" not in r.stdout, r.stdout


def test_report_verify_and_export_name_their_model_as_eval_does(blocks_run, tmp_path):
    rows = tmp_path / "rows.csv"
    apps_frame(200, seed=5).write_csv(rows)
    line = f"model: {os.path.relpath(blocks_run)} (spec 'apps')"  # (the fixture's folder is the working one)
    r = invoke("eval", "--model", blocks_run, "--input", rows)
    assert r.exit_code == 0 and line in r.stderr.splitlines(), r.stderr
    r = invoke("verify", blocks_run, "--baseline", blocks_run, "--input", rows)
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines()[:2] == [line, line.replace("model", "baseline")], r.stderr
    assert invoke("verify", blocks_run, "--baseline", blocks_run, "--input", rows, "-q").stderr == ""
    pytest.importorskip("matplotlib")
    r = invoke("report", blocks_run, "-o", tmp_path / "report.html")
    assert r.exit_code == 0 and r.stderr.splitlines() == [line], r.output
    assert invoke("report", blocks_run, "-o", tmp_path / "report.html", "-q").stderr == ""
    pytest.importorskip("onnxscript")
    r = invoke("export", blocks_run, "--output", tmp_path / "export")
    assert r.exit_code == 0 and r.stderr.splitlines()[0] == line, r.output


def test_train_says_where_mlflow_logs(blocks_run, workdir, monkeypatch):
    pytest.importorskip("mlflow")
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    train = ("train", blocks_run / "spec.yaml", "--set", "train.epochs=1", "--log", "mlflow", "--output")
    r = invoke(*train, workdir / "run")
    assert r.exit_code == 0, r.output
    assert f"mlflow: logging to {uri}, experiment 'apps'" in r.stderr.splitlines(), r.stderr
    r = invoke(*train, workdir / "quiet", "-q")
    assert r.exit_code == 0 and "mlflow:" not in r.stderr, r.stderr


def test_typed_outputs_keep_the_types_polars_reads_the_csv_with(blocks_run, tmp_path):
    import polars as pl

    n = 200
    frame = apps_frame(n, seed=3).with_columns(
        age=pl.col("age").cast(pl.Int64),  # a feature read as a number: Int64, not Float64
        count=pl.Series(range(n)),  # a column the spec does not read: Int64, not the text "1"
        ratio=pl.Series([i / 7 for i in range(n)]),
        late_text=pl.Series([str(i) for i in range(n - 1)] + ["n/a"]),  # an int until the last batch
        late_float=pl.Series([str(i) for i in range(n - 1)] + ["0.5"]),
        code=pl.Series(["007"] * n),
        nothing=pl.Series([None] * n, dtype=pl.String),
    )
    rows = tmp_path / "rows.csv"
    frame.write_csv(rows)
    polars = pl.read_csv(rows, infer_schema_length=None, schema_overrides={"code": pl.String}).schema
    assert polars["late_text"] == pl.String and polars["late_float"] == pl.Float64  # (and "007" stays text: a code)
    for ext, read in (("parquet", pl.read_parquet), ("ndjson", pl.read_ndjson)):
        out = tmp_path / f"scores.{ext}"
        r = invoke("predict", "--model", blocks_run, "--input", rows, "--output", out, "--batch-rows", "50", "-q")
        assert r.exit_code == 0, r.output
        got = read(out).with_columns(pl.col("nothing").cast(pl.String))  # (JSON reads a column of nulls as Null)
        assert dict(got.schema) == {**polars, "score": pl.Float64}, ext
        assert got.drop("score").equals(
            pl.read_csv(rows, infer_schema_length=None, schema_overrides={"code": pl.String})
        ), ext
    r = invoke("predict", "--model", blocks_run, "--input", rows, "--output", tmp_path / "scores.csv", "-q")
    assert r.exit_code == 0 and (tmp_path / "scores.csv").read_text().splitlines()[1].split(",")[-3] == "007"
