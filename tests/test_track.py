"""Tracking (`train.log`, `--log`): MLflow and TensorBoard for real when their extras are installed, a clear
error when one is missing, and nothing imported when none is asked for."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wdcli.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_mlflow_gets_params_epochs_final_metrics_and_the_run_folder(apps_spec, workdir, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'mlflow.db'}")
    r = invoke("train", apps_spec, "--set", "train.epochs=2", "--log", "mlflow", "-q")
    assert r.exit_code == 0, r.output
    client = MlflowClient()
    exp = client.get_experiment_by_name("apps")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["train.epochs"] == "2" and run.data.params["label.column"] == "clicked"
    assert run.data.params["train.log"] == "['mlflow']"
    history = client.get_metric_history(run.info.run_id, "validation_auc")
    folder = run.data.tags["wdcli.run_folder"]
    assert folder.startswith(str(workdir / "runs" / "apps"))
    recorded = json.loads((Path(folder) / "metrics.json").read_text())  # what the run itself says
    assert [(m.step, m.value) for m in history] == [(r["epoch"], r["validation_auc"]) for r in recorded["history"]]
    for split, figures in recorded["splits"].items():  # the same numbers, each under its own split
        for name in ("auc", "logloss", "calibration"):
            assert run.data.metrics[f"final_{split}_{name}"] == figures[name], (split, name)
    names = {f.path for f in client.list_artifacts(run.info.run_id, "run")}
    assert {"run/manifest.json", "run/weights.safetensors", "run/metrics.json"} <= names


def test_tensorboard_event_files(apps_spec, workdir):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    r = invoke("train", apps_spec, "--set", "train.epochs=2", "--set", "train.log=[tensorboard]", "-q")
    assert r.exit_code == 0, r.output
    (logdir,) = list((workdir / "runs" / "tensorboard" / "apps").iterdir())
    events = EventAccumulator(str(logdir)).Reload()
    (run,) = [p for p in (workdir / "runs" / "apps").iterdir() if p.is_dir()]
    recorded = json.loads((run / "metrics.json").read_text())
    for name in ("validation_auc", "train_loss"):  # (TensorBoard keeps float32)
        got = [(e.step, e.value) for e in events.Scalars(f"epoch/{name}")]
        assert got == [(r["epoch"], pytest.approx(r[name], rel=1e-6)) for r in recorded["history"]], name
    assert {"spec/text_summary", "run_folder/text_summary"} <= set(events.Tags()["tensors"])
    for split, figures in recorded["splits"].items():
        for name in ("auc", "logloss"):
            assert events.Scalars(f"final/{split}_{name}")[0].value == pytest.approx(figures[name], rel=1e-6)
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")  # the spec as hyperparameters


def test_a_missing_extra_is_an_error_before_training(apps_spec, workdir, monkeypatch):
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")] or ["mlflow"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    monkeypatch.delitem(sys.modules, "wdcli.track.mlflow_sink", raising=False)
    r = invoke("train", apps_spec, "--log", "mlflow", "-q")
    assert r.exit_code == 2
    assert "train.log: mlflow needs the mlflow package" in r.stderr and "pip install 'wdcli[mlflow]'" in r.stderr
    assert not (workdir / "runs" / "apps").exists()
    r = invoke("train", apps_spec, "--log", "wandb", "-q")
    assert r.exit_code == 2 and "train.log[0]" in r.stderr


def test_nothing_is_imported_unless_asked(apps_spec, workdir):
    code = (
        "import sys; from typer.testing import CliRunner; from wdcli.cli import app; "
        f"r = CliRunner().invoke(app, ['train', '{apps_spec}', '--set', 'train.epochs=1', '-q']); "
        "assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in ('mlflow', 'torch.utils.tensorboard', 'tensorboard', 'matplotlib') "
        "if m in sys.modules))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=workdir, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from wdcli.cli import app; "
            "print(sorted(m for m in ('torch', 'polars', 'matplotlib', 'mlflow') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.stdout.strip() == "[]"  # what `wdcli --help` loads
