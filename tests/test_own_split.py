"""A run records how it split its rows (split.json: the rule, the seed, the files' fingerprints), so that
`eval`, `rank` and `report` score its own test, validation or train rows (--split), and refuse once the files
changed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from wdcli.artifact import load_artifact, load_split
from wdcli.cli import app
from wdcli.data.split_record import SplitRecord, fingerprint
from wdcli.run import run_training
from wdcli.spec import load_spec

from .conftest import apps_frame

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def trained(apps_spec, workdir):
    r = invoke("train", apps_spec, "-q", "--set", "train.max_rows=300")
    assert r.exit_code == 0, r.output
    return load_artifact("runs/apps")


def test_the_run_records_its_split_in_the_manifest(trained, apps_spec):
    manifest = json.loads((trained.path / "manifest.json").read_text())
    assert "split.json" in manifest["files"]
    record = load_split(trained)
    assert (record.rule.validation, record.rule.test, record.rule.seed, record.rule.key) == (0.2, 0.2, 3, None)
    assert record.max_rows == 300 and record.separator == ","
    data = str(apps_spec.parent / "apps.csv")
    assert record.files == {"train": [fingerprint(data)]} and SplitRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize("part", ["test", "validation", "train"])
def test_eval_on_the_runs_own_rows_gives_the_metrics_it_saved(trained, part):
    r = invoke("eval", "--split", part, "--json", "-q")
    assert r.exit_code == 0, r.output
    now, saved = json.loads(r.stdout), trained.metrics.splits[part]
    assert now["rows"] == saved["rows"] and now["auc"] == pytest.approx(saved["auc"], abs=1e-9)
    assert now["gauc"] == pytest.approx(saved["gauc"], abs=1e-9)


def test_rank_and_report_take_the_runs_own_rows(trained, workdir):
    r = invoke("rank", "--split", "test", "--output", workdir / "ranked.csv", "-q")
    assert r.exit_code == 0, r.output
    assert len((workdir / "ranked.csv").read_text().splitlines()) == trained.metrics.splits["test"]["rows"] + 1
    assert "ndcg@10" in r.stdout
    pytest.importorskip("matplotlib")
    r = invoke("report", "--model", "runs/apps", "--split", "validation", "-o", workdir / "v.html")  # (--model too)
    assert r.exit_code == 0, r.output
    assert "plots of the run's validation split" in r.stdout
    assert f"{trained.metrics.splits['validation']['rows']:,} rows" in r.stdout


def test_changed_files_are_refused_and_the_rows_given_once(trained, apps_spec, workdir):
    for args in ([], ["--split", "test", "--input", apps_spec.parent / "apps.csv"]):
        r = invoke("eval", *args, "-q")
        assert r.exit_code == 2 and "--input FILE (a labelled file), or --split test|validation|train" in r.stderr
    apps_frame(500, seed=1).write_csv(apps_spec.parent / "apps.csv")
    for command in (["eval"], ["rank"]):
        r = invoke(*command, "--split", "test", "-q")
        assert r.exit_code == 2 and "apps.csv: changed since the run was trained" in r.stderr
        assert "score a labelled file with --input instead" in r.stderr and "Traceback" not in r.output


def test_test_files_of_their_own_and_a_run_without_a_record(apps_spec, workdir):
    apps_frame(200, seed=5).write_csv(workdir / "held.csv")
    r = invoke("train", apps_spec, "-q", "--set", "data.test=held.csv", "--output", workdir / "own")
    assert r.exit_code == 0, r.output
    assert set(load_split(load_artifact(workdir / "own")).files) == {"train", "test"}
    r = invoke("eval", "--model", workdir / "own", "--split", "test", "--json", "-q")
    assert r.exit_code == 0 and json.loads(r.stdout)["rows"] == 200
    spec = load_spec(apps_spec)
    frames = {"train": apps_frame(300), "validation": apps_frame(100, seed=2)}
    _, path = run_training(spec, output=workdir / "frames", frames=frames)
    r = invoke("eval", "--model", path, "--split", "test", "-q")
    assert r.exit_code == 2 and "the run kept no record of how it split its rows" in r.stderr
