"""The command line, end to end in a temporary folder: train -> eval -> predict -> rank -> inspect."""

import json

import polars as pl
from typer.testing import CliRunner

from wdcli.cli import app

from .conftest import SPECS, apps_frame

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_end_to_end(apps_spec, workdir):
    r = invoke("validate", apps_spec)
    assert r.exit_code == 0, r.output
    assert "installed_x_impression" in r.output and "table apps" in r.output and "parameters:" in r.output

    r = invoke("train", apps_spec, "--set", "train.epochs=2", "-q")
    assert r.exit_code == 0, r.output
    assert "saved: runs" in r.output

    candidates = workdir / "candidates.csv"
    apps_frame(120, seed=9).write_csv(candidates)
    r = invoke("eval", "--input", candidates, "--json")
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert m["rows"] == 120 and 0 <= m["auc"] <= 1 and "gauc" in m

    for ext in ("csv", "parquet", "ndjson"):
        out = workdir / f"scores.{ext}"
        r = invoke("predict", "--input", candidates, "--output", out)
        assert r.exit_code == 0, r.output
        frame = {"csv": pl.read_csv, "parquet": pl.read_parquet, "ndjson": pl.read_ndjson}[ext](out)
        assert frame.height == 120 and frame["score"].is_between(0, 1).all()
        assert set(apps_frame(1).columns) <= set(frame.columns)
    r = invoke("predict", "--input", candidates, "--columns", "user,impression", "--batch-rows", "50")
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "user,impression,score"
    assert len(r.stdout.splitlines()) == 121

    r = invoke("rank", "--input", candidates, "--top-k", "3")
    assert r.exit_code == 0, r.output
    ranked = pl.read_csv(r.stdout.encode())
    assert ranked.group_by("user").agg(pl.col("rank").max())["rank"].max() <= 3
    assert all(ranked.filter(pl.col("user") == u)["score"].is_sorted(descending=True) for u in ranked["user"].unique())
    assert "ndcg@3" in r.stderr and "mrr" in r.stderr

    r = invoke("inspect")
    assert r.exit_code == 0, r.output
    assert "heaviest crosses" in r.output and "installed=" in r.output


def test_bad_spec_exits_2_with_every_problem_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "data: {train: x.csv}\nlabel: {column: y}\ncolumns:\n  a: {kind: categorical, min_cont: 1}\n"
        "crosses:\n  - columns: [a, b]\n"
    )
    r = invoke("validate", bad)
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    assert f"{bad}:1 data.train: no file matches" in r.stderr
    assert f"{bad}:4 columns.a.min_cont: unknown key 'min_cont' (did you mean 'min_count'?)" in r.stderr
    assert f"{bad}:6 crosses[0].columns[1]: unknown column 'b'" in r.stderr


def test_validate_census_prints_plan():
    r = invoke("validate", SPECS / "census.yaml")
    assert r.exit_code == 0, r.output
    for text in ("education_x_occupation", "wide dimension", "deep input width", "parameters: wide"):
        assert text in r.output


def test_schema_is_json():
    r = invoke("schema")
    assert r.exit_code == 0 and "properties" in json.loads(r.stdout)


def test_no_model_yet(workdir):
    (workdir / "x.csv").write_text("a,b\n1,2\n")
    r = invoke("rank", "--input", "x.csv")
    assert r.exit_code == 2 and "run `wdcli train SPEC` first" in r.stderr


def test_tsv_in_and_out_and_typed_parquet(apps_spec, workdir):
    assert invoke("train", apps_spec, "--set", "train.epochs=1", "-q").exit_code == 0
    tsv = workdir / "candidates.tsv"
    tsv.write_text(apps_frame(30, seed=4).write_csv(separator="\t"))
    r = invoke("predict", "--input", tsv, "--output", workdir / "scores.tsv")
    assert r.exit_code == 0, r.output
    scored = pl.read_csv(workdir / "scores.tsv", separator="\t")
    assert scored.height == 30 and "score" in scored.columns and "age" in scored.columns
    csv = workdir / "candidates.csv"
    apps_frame(30, seed=4).write_csv(csv)
    assert invoke("predict", "--input", csv, "--output", workdir / "scores.parquet").exit_code == 0
    schema = pl.read_parquet_schema(workdir / "scores.parquet")
    assert schema["age"] == pl.Float64 and schema["score"] == pl.Float64  # numbers stay numbers
    assert schema["impression"] == pl.String


def test_model_may_be_a_run_a_spec_runs_folder_or_its_latest_file(apps_spec, workdir):
    assert invoke("train", apps_spec, "--set", "train.epochs=1", "-q").exit_code == 0
    csv = workdir / "c.csv"
    apps_frame(20, seed=2).write_csv(csv)
    run = next(p for p in (workdir / "runs" / "apps").iterdir() if p.is_dir())
    outputs = set()
    for model in (run, workdir / "runs" / "apps", workdir / "runs" / "apps" / "LATEST", workdir / "runs" / "LATEST"):
        r = invoke("predict", "--model", model, "--input", csv)
        assert r.exit_code == 0, (model, r.output)
        outputs.add(r.stdout)
    assert len(outputs) == 1


def test_group_column_may_also_be_a_feature(apps_spec, workdir):
    spec = apps_spec.read_text().replace("columns:\n", "columns:\n  user: categorical\n", 1)
    apps_spec.write_text(spec)
    r = invoke("train", apps_spec, "--set", "train.epochs=1", "-q")
    assert r.exit_code == 0, r.output
    bad = apps_spec.read_text().replace("  user: categorical\n", "  clicked: categorical\n")
    apps_spec.write_text(bad)
    r = invoke("validate", apps_spec)
    assert r.exit_code == 2 and "label.column: 'clicked' is also declared as a feature column" in r.stderr


def test_shell_completion_is_offered():
    r = invoke("--help")
    assert r.exit_code == 0 and "--install-completion" in r.output


def test_the_commands_that_write_a_run_scores_or_an_export_take_o_for_output(workdir):
    """`-o` as `init` and `report` take it: `train` (a run's folder), `predict` and `rank` (a file) and
    `export` (a folder); a user who typed `wdcli train spec.yaml -o day1` got 'No such option: -o'."""
    tiny = SPECS / "tiny.yaml"
    assert invoke("train", tiny, "-q", "--set", "train.epochs=1", "-o", "day1").exit_code == 0
    assert (workdir / "day1" / "model.json").exists()
    r = invoke("predict", "--model", "day1", "--input", SPECS / "data" / "tiny.csv", "-q", "-o", "scores.csv")
    assert r.exit_code == 0, r.output
    assert pl.read_csv(workdir / "scores.csv")["score"].is_between(0, 1).all()
    r = invoke("export", "day1", "-o", "exported")
    assert r.exit_code == 0, r.output
    assert (workdir / "exported" / "model.onnx").exists()
