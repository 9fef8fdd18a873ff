"""`wdcli verify`: two runs on the same labelled rows; exit 0 when every check passes, 3 when one fails (with a
table naming it), 2 when they cannot be compared."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.score.verify import psi

from .conftest import SPECS

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny runs (one epoch and three) and a holdout of labelled rows."""
    folder = tmp_path_factory.mktemp("verify")
    for name, epochs in (("one", 1), ("three", 3)):
        r = invoke("train", SPECS / "tiny.yaml", "-q", "--set", f"train.epochs={epochs}", "--output", folder / name)
        assert r.exit_code == 0, r.output
    holdout = folder / "holdout.csv"
    pl.read_csv(SPECS / "data" / "tiny.csv").tail(150).write_csv(holdout)
    return folder, holdout


def test_same_model_passes(runs):
    folder, holdout = runs
    r = invoke("verify", folder / "three", "--baseline", folder / "three", "--input", holdout)
    assert r.exit_code == 0, r.output
    for check in ("auc", "logloss", "calibration", "moved > 0.1", "psi"):
        assert check in r.output
    assert "may replace" in r.output


def test_failed_check_exits_3_and_names_it(runs):
    folder, holdout = runs
    r = invoke(
        "verify",
        folder / "one",
        "--baseline",
        folder / "three",
        "--input",
        holdout,
        "--max-psi",
        "0",
        "--max-moved-share",
        "0",
        "--moved-by",
        "0.0001",
    )
    assert r.exit_code == 3, r.output
    assert "FAIL" in r.output and "psi" in r.stderr and "should not be served" in r.stderr
    r = invoke("verify", folder / "one", "--baseline", folder / "three", "--input", holdout, "--json", "--max-psi", "0")
    v = json.loads(r.stdout)
    assert r.exit_code == 3 and v["passed"] is False and "psi" in v["failed"]
    assert {c["name"] for c in v["checks"]} >= {"auc", "logloss", "calibration", "psi"}


def test_spec_thresholds_apply(runs, tmp_path):
    folder, holdout = runs
    r = invoke(
        "train",
        SPECS / "tiny.yaml",
        "-q",
        "--set",
        "train.epochs=1",
        "--set",
        "verify.max_psi=0",
        "--set",
        "verify.max_moved_share=0",
        "--set",
        "verify.moved_by=0.0001",
        "--output",
        tmp_path / "strict",
    )
    assert r.exit_code == 0, r.output
    r = invoke("verify", tmp_path / "strict", "--baseline", folder / "three", "--input", holdout)
    assert r.exit_code == 3 and "<= 0 " in r.output


def test_runs_that_cannot_be_compared_are_errors(runs, tmp_path):
    folder, holdout = runs
    unlabelled = tmp_path / "unlabelled.csv"
    pl.read_csv(holdout).drop("income").write_csv(unlabelled)
    r = invoke("verify", folder / "one", "--baseline", folder / "three", "--input", unlabelled)
    assert r.exit_code == 2 and "income" in r.output and "Traceback" not in r.output
    narrow = tmp_path / "narrow.csv"
    pl.read_csv(holdout).drop("occupation").write_csv(narrow)
    r = invoke("verify", folder / "one", "--baseline", folder / "three", "--input", narrow)
    assert r.exit_code == 2 and "missing column 'occupation'" in r.output
    r = invoke(
        "train",
        SPECS / "tiny.yaml",
        "-q",
        "--set",
        "train.epochs=1",
        "--set",
        "label.positive=<=50K",
        "--output",
        tmp_path / "other",
    )
    assert r.exit_code == 0, r.output
    r = invoke("verify", tmp_path / "other", "--baseline", folder / "three", "--input", holdout)
    assert r.exit_code == 2 and "cannot be compared" in r.output
    r = invoke("verify", folder / "one", "--baseline", folder / "three", "--input", holdout, "--max-psi", "-1")
    assert r.exit_code == 2 and "--max-psi" in r.output


def test_psi():
    rng = np.random.default_rng(0)
    a = rng.random(20000)
    assert psi(a, rng.random(20000)) < 0.01
    assert psi(a, rng.random(20000) ** 3) > 0.25
