"""`wdcli verify`: two runs on the same labelled rows; exit 0 when every check passes, 3 when one fails (with a
table naming it), 2 when they cannot be compared."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.score.verify import psi

from .conftest import SIGNAL_SPEC, SPECS, signal_frame

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


# ------------------------------------------------------------------------- each check made to fail, for real


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Scorers of runs on the same rows: a good model, one trained on shuffled labels (worse by every ranking
    measure), one trained with each positive row four times (its scores far above the base rate); and a holdout."""
    from wdcli.run import run_training
    from wdcli.score import Scorer
    from wdcli.spec import load_spec

    folder = tmp_path_factory.mktemp("gate")
    rows = signal_frame(1500, seed=1)
    rng = np.random.default_rng(2)
    variants = {
        "good": rows,
        "shuffled": rows.with_columns(y=pl.Series(rng.permutation(rows["y"].to_numpy()))),
        "oversampled": pl.concat([rows, *[rows.filter(pl.col("y") == 1)] * 3]),
    }
    out = {}
    for name, frame in variants.items():
        frame.write_csv(folder / f"{name}.csv")
        (folder / f"{name}.yaml").write_text(SIGNAL_SPEC.format(path=f"{name}.csv", validation=0.0, test=0.0))
        _, path = run_training(load_spec(folder / f"{name}.yaml"), output=folder / name)
        out[name] = Scorer.load(path)
    return out, signal_frame(1000, seed=3)


def test_a_model_worse_at_ranking_fails_auc_logloss_and_gauc(models):
    from wdcli.score.verify import verify

    scorers, holdout = models
    worse = verify(scorers["shuffled"], scorers["good"], holdout)
    assert {"auc", "logloss", "gauc"} <= set(worse.failed), worse.checks
    assert worse.new["auc"] < worse.baseline["auc"] - 0.1  # (the fixture is what the test says it is)
    better = verify(scorers["good"], scorers["shuffled"], holdout)
    assert not {"auc", "logloss", "gauc"} & set(better.failed), better.checks  # the checks tell the two apart
    assert verify(scorers["good"], scorers["good"], holdout).passed


def test_a_miscalibrated_model_fails_calibration(models):
    from wdcli.score.verify import verify

    scorers, holdout = models
    v = verify(scorers["oversampled"], scorers["good"], holdout)
    assert "calibration" in v.failed and v.new["calibration"] > 1.3, v.checks
    assert "calibration" not in verify(scorers["good"], scorers["good"], holdout).failed


def test_a_holdout_of_one_class_cannot_vouch_for_a_model(models):
    """As verify.py says: a metric that is NaN on the rows (AUC and gAUC with one class only) fails its check,
    even for the very model being served."""
    from wdcli.score.verify import verify

    scorers, holdout = models
    negatives = holdout.filter(pl.col("y") == 0)
    v = verify(scorers["good"], scorers["good"], negatives)
    assert not v.passed and {"auc", "gauc", "calibration"} <= set(v.failed), v.checks
    assert math.isnan(v.new["auc"]) and v.rows == len(negatives)


def test_calibration_passes_within_its_margin_or_no_further_than_the_baseline(models):
    from wdcli.score.verify import verify
    from wdcli.spec.types import Verify

    scorers, holdout = models
    off, good = scorers["oversampled"], scorers["good"]
    loose = verify(off, good, holdout, thresholds=Verify(max_calibration_error=1.0))
    assert "calibration" not in loose.failed, loose.checks  # within 1 +- 1, however close the baseline was
    tight = verify(good, off, holdout, thresholds=Verify(max_calibration_error=0.001))
    assert "calibration" not in tight.failed, tight.checks  # closer to 1 than the baseline, past the margin


def test_the_psi_check_bins_at_the_baselines_deciles(models):
    """The index is the new scores' against the baseline's, at the baseline's deciles (a reference below)."""
    from wdcli.score.verify import verify

    def reference(expected: np.ndarray, actual: np.ndarray) -> float:
        edges = [-np.inf, *np.quantile(expected, np.arange(1, 10) / 10), np.inf]
        e = np.histogram(expected, edges)[0] / len(expected) + 1e-4
        a = np.histogram(actual, edges)[0] / len(actual) + 1e-4
        return float(np.sum((a - e) * np.log(a / e)))

    scorers, holdout = models
    new, old = scorers["oversampled"].score(holdout), scorers["good"].score(holdout)
    check = next(c for c in verify(scorers["oversampled"], scorers["good"], holdout).checks if c.name == "psi")
    assert check.new == pytest.approx(reference(old, new), rel=1e-9)
    assert abs(reference(new, old) - reference(old, new)) > 1e-3  # (the other way round is another figure)


def test_a_row_moved_by_exactly_moved_by_has_not_moved():
    from wdcli.score.verify import _shift_checks
    from wdcli.spec.types import Verify

    old, new = np.array([0.25, 0.25, 0.5, 0.5]), np.array([0.5, 0.25, 0.5, 1.0])  # moved 0.25, 0, 0, 0.5
    moved = _shift_checks(Verify(moved_by=0.25, max_moved_share=0.25), new, old)[0]
    assert moved.new == 0.25 and moved.passed


def test_a_holdout_of_another_separator_is_read_with_separator(runs, tmp_path):
    """The holdout is read with the new run's data.csv.separator unless --separator names another (as eval,
    predict and rank do)."""
    folder, holdout = runs
    semicolons = tmp_path / "holdout.csv"
    pl.read_csv(holdout).write_csv(semicolons, separator=";")
    r = invoke("verify", folder / "three", "--baseline", folder / "three", "--input", semicolons)
    assert r.exit_code == 2 and "semicolons" in r.output and "--separator" in r.output
    r = invoke("verify", folder / "three", "--baseline", folder / "three", "--input", semicolons, "--separator", ";")
    assert r.exit_code == 0, r.output
