"""Tracking (`train.log`, `--log`): MLflow and TensorBoard for real when their extras are installed, a clear
error when one is missing, and nothing imported when none is asked for."""

import subprocess
import sys

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
    assert [m.step for m in history] == [1, 2]
    assert 0 <= run.data.metrics["final_test_auc"] <= 1 and "final_train_logloss" in run.data.metrics
    folder = run.data.tags["wdcli.run_folder"]
    assert folder.startswith(str(workdir / "runs" / "apps"))
    names = {f.path for f in client.list_artifacts(run.info.run_id, "run")}
    assert {"run/manifest.json", "run/weights.safetensors", "run/metrics.json"} <= names


def test_tensorboard_event_files(apps_spec, workdir):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    r = invoke("train", apps_spec, "--set", "train.epochs=2", "--set", "train.log=[tensorboard]", "-q")
    assert r.exit_code == 0, r.output
    (logdir,) = list((workdir / "runs" / "tensorboard" / "apps").iterdir())
    events = EventAccumulator(str(logdir)).Reload()
    assert [e.step for e in events.Scalars("epoch/validation_auc")] == [1, 2]
    assert [e.step for e in events.Scalars("epoch/train_loss")] == [1, 2]
    assert {"spec/text_summary", "run_folder/text_summary"} <= set(events.Tags()["tensors"])
    assert 0 <= events.Scalars("final/test_auc")[0].value <= 1
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
