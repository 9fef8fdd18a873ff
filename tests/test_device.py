"""On a GPU (skipped without one): training there learns what it learns on the CPU, bf16 trains, a resumed
run continues, and scoring there equals scoring on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wdcli.data.split import load_splits
from wdcli.run import run_training
from wdcli.score import Scorer
from wdcli.spec import load_spec

from .conftest import SPECS

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


def test_an_unavailable_device_is_a_clear_error(workdir):
    from wdcli.errors import WdcliError

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(WdcliError, match="no CUDA GPU that torch can use"):
        run_training(load_spec(SPECS / "tiny.yaml", ["train.device=cuda"]))
    from wdcli.model.device import resolve_device

    with pytest.raises(WdcliError, match="not one of auto, cpu"):
        resolve_device("gpu")


@gpu
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_gpu_learns_what_the_cpu_learns(workdir, precision):
    spec = ["train.epochs=3", "train.max_rows=8000", f"train.precision={precision}"]
    cpu, _ = run_training(load_spec(SPECS / "census.yaml", [*spec, "train.device=cpu"]), output=workdir / "cpu")
    gpu_run, folder = run_training(
        load_spec(SPECS / "census.yaml", [*spec, "train.device=cuda"]), output=workdir / "gpu"
    )
    assert next(gpu_run.model.parameters()).device.type == "cuda"
    assert abs(gpu_run.metrics.splits["test"]["auc"] - cpu.metrics.splits["test"]["auc"]) < 0.01
    test = load_splits(load_spec(SPECS / "census.yaml").data)["test"].head(3000)
    on_cpu, on_gpu = Scorer.load(folder).score(test), Scorer.load(folder, device="cuda").score(test)
    assert np.abs(on_cpu - on_gpu).max() < 1e-5


class CrashInEpoch2:
    """A reporter that crashes the run as its second epoch starts (after the first epoch's checkpoint)."""

    def start_epoch(self, epoch, epochs, rows):
        if epoch == 2:
            raise RuntimeError("simulated crash")

    def advance(self, rows, loss):
        pass

    def end_epoch(self, record):
        pass


@gpu
def test_a_gpu_run_resumes(workdir):
    spec = load_spec(SPECS / "census.yaml", ["train.epochs=2", "train.max_rows=4000", "train.device=cuda"])
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_training(spec, output=workdir / "m", reporter=CrashInEpoch2())
    result, folder = run_training(spec, output=workdir / "m", resume=True)
    assert (folder / "manifest.json").exists() and 0.5 < result.metrics.splits["test"]["auc"] <= 1
