"""`wdcli tune`: a study on the training and validation rows, resumable, its best trial written as a spec that
`wdcli train` takes; a bad space is an error before any trial; the optimizer settings that came from defaults
are printed by `train` and `compare`."""

from __future__ import annotations

import json
import math
import re
import types

import pytest
import yaml
from typer.testing import CliRunner

import wdcli.tune.study as tuning
from wdcli.cli import app
from wdcli.errors import Interrupted, SpecError, WdcliError
from wdcli.metrics import EpochRecord, RunMetrics
from wdcli.spec import load_spec
from wdcli.tune import check_space, default_space, tune
from wdcli.tune.space import distributions, parse_space, spec_value

from .conftest import SPECS

runner = CliRunner()
FAST = ["--set", "train.epochs=2", "--set", "train.checkpoint.enabled=false"]
SPACE = [
    "--space",
    "train.deep_optimizer.lr={log_uniform: [0.01, 0.3]}",
    "--space",
    "deep.hidden={choice: [[8], [16, 8]]}",
]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_tune_end_to_end_resume_and_train_the_best(apps_spec, workdir):
    r = invoke("tune", apps_spec, "--trials", 3, *SPACE, *FAST)
    assert r.exit_code == 0, r.output
    assert "best trials by validation auc" in r.output and "hidden" in r.output and "lr" in r.output
    assert "3 trials (" in r.output and "3 run now" in r.output
    best = workdir / "runs" / "apps" / "tune" / "best.yaml"
    assert best.exists() and (workdir / "runs" / "apps" / "tune" / "study.db").exists()
    data = yaml.safe_load(best.read_text())
    assert "tune" not in data and data["deep"]["hidden"] in ([8], [16, 8])
    assert 0.01 <= data["train"]["deep_optimizer"]["lr"] <= 0.3
    study = _study(types.SimpleNamespace(study=best.parent / "study.db"))
    chosen = max(study.trials, key=lambda t: t.value)  # real trials: the best validation AUC
    assert _best_of(types.SimpleNamespace(best_spec=best)) == (
        chosen.number,
        {k: spec_value(parse_space(SPACE)[0][k], v) for k, v in chosen.params.items()},
    )

    r = invoke("tune", apps_spec, "--trials", 4, *SPACE, *FAST)  # the same study, one trial more
    assert r.exit_code == 0, r.output
    assert "4 trials (" in r.output and "1 run now" in r.output

    r = invoke("train", best, "-q")  # the best spec trains as it is, and reports the test rows
    assert r.exit_code == 0, r.output
    assert "test" in r.output and "saved: runs/apps/" in r.output

    r = invoke("tune", apps_spec, "--trials", 4, "--space", "deep.dropout={uniform: [0, 0.5]}", *FAST)
    assert r.exit_code == 2 and "holds a study of another spec, space or data" in r.stderr
    assert "--fresh" in r.stderr
    r = invoke(
        "tune", apps_spec, "--trials", 1, "--space", "deep.dropout={uniform: [0, 0.5]}", "--fresh", "--json", *FAST
    )
    assert r.exit_code == 0, r.output
    assert [t["trial"] for t in json.loads(r.stdout)["trials"]] == [0]


def test_a_bad_space_is_an_error_before_any_trial(apps_spec, workdir):
    line = len(apps_spec.read_text().splitlines()) + 3  # of the first key under tune.space
    apps_spec.write_text(
        apps_spec.read_text() + "tune:\n  space:\n    deep.hiden: {choice: [[8]]}\n"
        "    train.batch_size: {uniform: [16, 65]}\n"
    )
    r = invoke(
        "tune",
        apps_spec,
        "--space",
        "deep.dropout={uniform: [0.5, 0.1]}",
        "--space",
        "data.split.seed={int: [1, 3]}",
        "--space",
        "deep.hidden={normal: 3}",
        "--space",
        "train.deep_optimizer.lr={log_uniform: [0, 1]}",
    )
    assert r.exit_code == 2, r.output
    err = r.stderr
    assert "Traceback" not in r.output
    assert f"{apps_spec}:{line} tune.space.deep.hiden: [8]: unknown key 'hiden' (did you mean 'hidden'?)" in err
    assert (
        f"{apps_spec}:{line + 1} tune.space.train.batch_size: 40.5: should be a whole number above 0, or auto "
        "(got 40.5)"
    ) in err
    assert "--space deep.dropout: the range must be [low, high] with low <= high" in err
    assert "--space data.split.seed: a trial may not change this key" in err
    assert "--space deep.hidden: unknown rule 'normal'; give one of uniform, log_uniform, int, log_int, choice" in err
    assert "--space train.deep_optimizer.lr: log_uniform.0: should be greater than 0" in err
    assert not (workdir / "runs").exists(), "no study, no trial"


def test_trials_never_see_the_test_rows_and_report_each_epoch(apps_spec, workdir, monkeypatch):
    seen = []
    real = tuning.train

    def spy(spec, frames, reporter, **kwargs):
        seen.append(sorted(frames))
        return real(spec, frames, reporter, **kwargs)

    monkeypatch.setattr(tuning, "train", spy)
    result = tune(apps_spec, ["train.epochs=2"], ["deep.dropout={choice: [0.0, 0.2]}"], trials=2)
    assert seen == [["train", "validation"]] * 2
    assert [r["state"] for r in result.rows] == ["complete", "complete"]
    assert result.rows[0]["value"] >= result.rows[1]["value"] and result.rows[0]["epochs"] == 2
    import optuna

    study = optuna.load_study(study_name="apps", storage=f"sqlite:///{result.study}")
    assert all(sorted(t.intermediate_values) == [1, 2] for t in study.trials)  # one value per epoch


class Curves:
    """`train` as a trial calls it, its epochs' validation values given (one list of values per call, in turn;
    a value that is an exception is raised): the study's decisions made on known figures, with Optuna's own
    sampler, pruner and storage, and no training."""

    def __init__(self, curves: list):
        self.curves, self.calls = curves, 0

    def __call__(self, spec, frames, reporter, **kwargs):
        values = self.curves[self.calls]
        self.calls += 1
        if isinstance(values, Exception):
            raise values
        history = []
        for epoch, v in enumerate(values, 1):
            record = EpochRecord(epoch, 0.5, 0.1, 100.0, "validation", auc=v, logloss=v)
            reporter.end_epoch(record)  # Optuna's pruner may stop the trial here
            history.append(record)
        metrics = RunMetrics({"validation": {"auc": values[-1], "logloss": values[-1]}}, history, 1.0)
        return types.SimpleNamespace(metrics=metrics)


def _study(result):
    import optuna

    return optuna.load_study(study_name="apps", storage=f"sqlite:///{result.study}")


def _best_of(result) -> tuple[int, dict]:
    """The trial best.yaml says it is, and the values it sets."""
    text = result.best_spec.read_text()
    trial = int(re.search(r"trial (\d+), validation", text).group(1))
    data = yaml.safe_load(text)
    return trial, {
        "train.deep_optimizer.lr": data["train"]["deep_optimizer"]["lr"],
        "deep.hidden": data["deep"]["hidden"],
    }


@pytest.mark.parametrize("metric,best", [("auc", max), ("logloss", min)])
def test_best_yaml_is_the_trial_with_the_best_value(apps_spec, workdir, monkeypatch, metric, best):
    """The best by the metric's own direction (AUC up, log loss down), read from the trials' raw values."""
    monkeypatch.setattr(tuning, "train", Curves([[0.61], [0.83], [0.42], [0.77]]))
    result = tune(apps_spec, [f"tune.metric={metric}"], SPACE[1::2], trials=4)
    study = _study(result)
    assert study.direction.name == ("MAXIMIZE" if metric == "auc" else "MINIMIZE")
    chosen = best(study.trials, key=lambda t: t.value)
    trial, values = _best_of(result)
    assert trial == chosen.number == result.rows[0]["trial"] == (1 if metric == "auc" else 2)
    assert values == {k: spec_value(parse_space(SPACE[1::2])[0][k], v) for k, v in chosen.params.items()}
    assert [r["value"] for r in result.rows] == sorted([0.61, 0.83, 0.42, 0.77], reverse=metric == "auc")


def test_a_trial_that_trails_the_median_is_pruned_by_optunas_pruner(apps_spec, workdir, monkeypatch):
    """Five trials set the median (Optuna's MedianPruner: 5 startup trials, no pruning before epoch 2); a sixth
    that trails it is stopped at epoch 2, a seventh that does not trail runs to the end."""
    good, poor = [0.70, 0.72, 0.74, 0.75], [0.60, 0.60, 0.60, 0.60]
    monkeypatch.setattr(tuning, "train", Curves([good] * 5 + [poor, good]))
    result = tune(apps_spec, [], SPACE[1::2], trials=7)
    states = {r["trial"]: (r["state"], r["epochs"]) for r in result.rows}
    assert states == {**{i: ("complete", 4) for i in (0, 1, 2, 3, 4, 6)}, 5: ("pruned", 2)}
    assert sorted(_study(result).trials[5].intermediate_values) == [1, 2]
    monkeypatch.setattr(tuning, "train", Curves([good] * 5 + [poor]))
    result = tune(apps_spec, ["tune.prune=false"], SPACE[1::2], trials=6, fresh=True)
    assert [r["state"] for r in result.rows] == ["complete"] * 6


def test_failed_and_nan_trials_count_and_are_never_the_best(apps_spec, workdir, monkeypatch):
    monkeypatch.setattr(tuning, "train", Curves([[0.7], WdcliError("a value the data rejects"), [math.nan], [0.6]]))
    result = tune(apps_spec, [], SPACE[1::2], trials=4)
    assert result.ran == 4 and [r["trial"] for r in result.rows] == [0, 3, 1, 2]
    failed = {r["trial"]: r["error"] for r in result.rows if r["state"] == "failed"}
    assert failed == {1: "a value the data rejects", 2: "validation auc is nan"}
    assert _best_of(result)[0] == 0


def test_trials_left_running_by_a_killed_session_are_failed_and_not_counted(apps_spec, workdir, monkeypatch):
    monkeypatch.setattr(tuning, "train", Curves([[0.7], [0.8]]))
    result = tune(apps_spec, [], SPACE[1::2], trials=1)
    study = _study(result)
    study.ask()  # a trial a killed session was running: RUNNING in the study for ever
    result = tune(apps_spec, [], SPACE[1::2], trials=2)
    assert result.ran == 1 and [(r["trial"], r["state"]) for r in result.rows] == [
        (2, "complete"),
        (0, "complete"),
        (1, "failed"),
    ]
    assert _best_of(result)[0] == 2


def test_an_interrupted_study_continues_without_counting_the_lost_trial(apps_spec, workdir):
    class StopInTrial1:
        def start_trial(self, number, params, done, total):
            self.number = number

        def start_epoch(self, *a):
            pass

        def advance(self, *a):
            pass

        def end_epoch(self, record):
            if self.number == 1:
                raise KeyboardInterrupt

        def end_trial(self, row, best):
            pass

    args = (apps_spec, ["train.epochs=1"], ["deep.dropout={uniform: [0, 0.3]}"])
    with pytest.raises(Interrupted, match="run the same command again to continue"):
        tune(*args, trials=3, reporter=StopInTrial1())
    result = tune(*args, trials=3)
    assert result.ran == 2 and [r["state"] for r in result.rows].count("complete") == 3


@pytest.mark.parametrize("json_", [False, True])
def test_a_study_where_no_trial_completes_exits_2_with_or_without_json(apps_spec, workdir, json_):
    """With --json it exited 0 (a generated line of right values over a spec whose label never occurs): a script
    took a study without a best spec for a success. One JSON object: the error and the failed trials."""
    r = invoke("tune", apps_spec, "--trials", 1, "--set", "label.positive=never", *FAST, *(["--json"] if json_ else []))
    assert r.exit_code == 2, r.output
    assert "no trial completed" in r.output
    if json_:
        out = json.loads(r.stdout.strip().splitlines()[-1])
        assert out["exit_code"] == 2 and out["best_spec"] is None and out["trials"][0]["state"] == "failed"
        assert "never occurs" in out["trials"][0]["error"]


def test_a_study_whose_trials_all_fail_alike_stops_after_three(apps_spec, workdir):
    """A data error no trial's values change (a label value that never occurs) failed all 20 trials, one by one,
    each reading and fitting again: the study stops after 3 failed alike, none complete, and says so."""
    r = invoke("tune", apps_spec, "--trials", 20, "--set", "label.positive=never", *FAST)
    assert r.exit_code == 2, r.output
    assert "3 trials (0 complete, 0 pruned, 3 failed; 3 run now)" in r.output
    assert "3 trials in a row failed alike and none has completed, so the study stopped: " in r.output
    assert "never occurs" in r.output and "run the same command again" in r.output


def test_no_validation_rows_is_a_clear_error(apps_spec, workdir):
    with pytest.raises(WdcliError, match="tuning needs validation rows"):
        tune(apps_spec, ["data.split.validation=0"], ["deep.dropout={uniform: [0, 0.3]}"], trials=1)


@pytest.mark.parametrize("name", ["census", "apps", "tiny"])
def test_the_default_space_fits_every_shipped_spec(name):
    path = SPECS / f"{name}.yaml"
    spec = load_spec(path)
    space = spec.tune.space or default_space(spec)
    check_space(path, [], space, {})  # raises SpecError on a problem
    assert "train.batch_size" in default_space(spec)


def test_optimizer_settings_from_defaults_are_printed(apps_spec, workdir):
    r = invoke("train", apps_spec, "--set", "train.epochs=1", "--set", "train.deep_optimizer.lr=0.1")
    assert r.exit_code == 0, r.output
    assert (
        "optimizer settings from defaults: wide: ftrl alpha=0.02 beta=1.0 l1=0.0 l2=0.0; "
        "deep: adagrad initial_accumulator=0.1 weight_decay=0.0"
    ) in r.stderr
    r = invoke(
        "compare",
        apps_spec,
        "--set",
        "train.epochs=1",
        "--set",
        "train.wide_optimizer={name: adam, lr: 0.01}",
        "--set",
        "train.deep_optimizer={name: adagrad, lr: 0.1, initial_accumulator: 0.1, weight_decay: 0}",
    )
    assert r.exit_code == 0, r.output
    assert "optimizer settings from defaults: wide: adam weight_decay=0.0" in r.stderr
    assert "deep:" not in r.stderr


def test_overrides_reach_default_optimizers_and_short_columns():
    spec = load_spec(SPECS / "tiny.yaml", ["train.deep_optimizer.lr=0.1", "columns.education.min_count=3"])
    assert spec.train.deep_optimizer.name == "adagrad" and spec.train.deep_optimizer.lr == 0.1
    census = load_spec(SPECS / "census.yaml", ["columns.age.quantiles=20"])
    assert census.columns["age"].quantiles == 20 and census.columns["age"].transform == "standardize"  # (defaults)
    with pytest.raises(SpecError, match="unknown key 'lrr'"):
        load_spec(SPECS / "tiny.yaml", ["train.deep_optimizer.lrr=0.1"])


def test_a_log_range_is_searched_on_a_log_scale_and_a_rounded_value_stays_in_range():
    """log_uniform and log_int reach Optuna as log distributions (a learning rate in [1e-4, 1e-2] drawn uniformly
    lands above 1e-3 nine trials in ten), uniform and int as linear ones; a sampled float, rounded to 4 digits,
    stays inside its range (0.999996 of [0, 0.99999] is 0.99999, not a dropout of 1.0 the spec refuses)."""
    space, problems = parse_space(
        ["a={log_uniform: [0.0001, 0.01]}", "b={log_int: [1, 1024]}", "c={uniform: [0, 0.5]}", "d={int: [1, 4]}"]
    )
    assert not problems
    d = distributions(space)
    assert [(d[k].low, d[k].high, d[k].log) for k in "abcd"] == [
        (0.0001, 0.01, True),
        (1, 1024, True),
        (0.0, 0.5, False),
        (1, 4, False),
    ]
    dropout = parse_space(["deep.dropout={uniform: [0, 0.99999]}"])[0]["deep.dropout"]
    assert spec_value(dropout, 0.999996) == 0.99999 and spec_value(dropout, 0.123456) == 0.1235
