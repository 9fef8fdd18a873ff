"""Checkpoints: a run killed (SIGKILL), interrupted (Ctrl-C) or stopped part-way continues with --resume to
the very weights of a run that was never stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from wdcli.errors import WdcliError
from wdcli.run import run_training
from wdcli.spec import load_spec
from wdcli.train.checkpoint import checkpoint_path

from .conftest import SPECS

# the tiny spec, small and slow enough to be stopped part-way: 25 epochs of ~30 batches of 8 rows (about a second,
# or under load a few), a checkpoint every 5 batches
TINY = [
    f"--set={s}"
    for s in (
        "train.batch_size=8",
        "train.epochs=25",
        "train.threads=1",
        "train.early_stopping.patience=99",
        "train.checkpoint.every_steps=5",
    )
]


def wdcli(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "wdcli", "train", str(SPECS / "tiny.yaml"), "-q", *TINY, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(p: subprocess.Popen) -> tuple[int, str]:
    out, err = p.communicate(timeout=300)
    return p.returncode, out + err


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "weights.safetensors"))


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    ha = [
        {k: v for k, v in r.items() if k not in ("seconds", "rows_per_s")}
        for r in json.loads((a / "metrics.json").read_text())["history"]
    ]
    hb = [
        {k: v for k, v in r.items() if k not in ("seconds", "rows_per_s")}
        for r in json.loads((b / "metrics.json").read_text())["history"]
    ]
    assert ha == hb


def stop_part_way(p: subprocess.Popen, ckpt: Path, sig: int) -> None:
    """Wait for a checkpoint and a little training beyond it, then send the signal."""
    deadline = time.time() + 120
    while not ckpt.exists():
        assert p.poll() is None, "the run ended before its first checkpoint: " + finish(p)[1]
        assert time.time() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    time.sleep(0.1)
    assert p.poll() is None, "the run finished before it could be stopped part-way"
    p.send_signal(sig)


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The uninterrupted run everything is compared with."""
    cwd = tmp_path_factory.mktemp("straight")
    code, log = finish(wdcli("--output", "model", cwd=cwd))
    assert code == 0, log
    assert not (cwd / "model.checkpoint.safetensors").exists(), "a completed run deletes its checkpoint"
    return cwd / "model"


@pytest.fixture(scope="module")
def killed(tmp_path_factory) -> Path:
    """The checkpoint of a run killed (SIGKILL) part-way."""
    cwd = tmp_path_factory.mktemp("killed")
    p = wdcli("--output", "model", cwd=cwd)
    ckpt = cwd / "model.checkpoint.safetensors"
    stop_part_way(p, ckpt, signal.SIGKILL)
    code, _ = finish(p)
    assert code == -signal.SIGKILL
    assert not (cwd / "model").exists(), "a killed run leaves no folder that looks like a model"
    assert ckpt.exists()
    return ckpt


def test_sigkill_then_resume_gives_identical_weights(straight, killed, tmp_path):
    ckpt = tmp_path / killed.name
    shutil.copy(killed, ckpt)
    code, log = finish(wdcli("--output", "model", "--resume", cwd=tmp_path))
    assert code == 0, log
    assert "resuming from" in log
    assert_same_weights(straight, tmp_path / "model")
    assert not ckpt.exists()


def test_ctrl_c_writes_a_checkpoint_and_says_how_to_resume(straight, tmp_path):
    p = wdcli("--output", "model", cwd=tmp_path)
    ckpt = tmp_path / "model.checkpoint.safetensors"
    stop_part_way(p, ckpt, signal.SIGINT)
    code, log = finish(p)
    assert code == 130, log
    assert "interrupted (Ctrl-C); checkpoint written to model.checkpoint.safetensors" in log
    assert "continue with: wdcli train" in log and "--resume" in log
    assert "Traceback" not in log
    code, log = finish(wdcli("--output", "model", "--resume", cwd=tmp_path))
    assert code == 0, log
    assert_same_weights(straight, tmp_path / "model")


def test_resume_refuses_a_changed_spec(killed, tmp_path):
    shutil.copy(killed, tmp_path / killed.name)
    code, log = finish(wdcli("--output", "model", "--resume", "--set=train.seed=99", cwd=tmp_path))
    assert code == 2
    assert "the spec or its training data changed since this checkpoint was written" in log
    assert "Traceback" not in log


class StopAfter:
    """A progress reporter that stops the run (as a crash would) after a number of batches."""

    def __init__(self, batches: int):
        self.left = batches

    def start_epoch(self, *a):
        pass

    def advance(self, rows, loss):
        self.left -= 1
        if self.left < 0:
            raise RuntimeError("simulated crash")

    def end_epoch(self, record):
        pass


@pytest.mark.parametrize(
    "overrides",
    [
        [],  # FTRL + AdaGrad
        ["train.wide_optimizer.name=adam", "train.deep_optimizer.name=adam", "deep.dropout=0.3"],
        ["train.wide_optimizer.name=sgd", "train.deep_optimizer={name: sgd, momentum: 0.9}", "deep.batch_norm=true"],
        # the schedules' state and the blocks of the deep part (issue 20) resume too
        ["train.schedule={kind: cosine, warmup: 0.5}", "deep.numeric_embedding=periodic", "deep.interaction=dot"],
        ["train.schedule={kind: plateau, patience: 0}", "deep.interaction=cross", "deep.embedding_dropout=0.2"],
    ],
    ids=["ftrl-adagrad", "adam-dropout", "sgd-momentum-batchnorm", "cosine-periodic-dot", "plateau-cross-dropout"],
)
@pytest.mark.parametrize("crash_after", [7, 23])
def test_every_optimizer_resumes_exactly(apps_spec, workdir, overrides, crash_after):
    base = ["train.epochs=3", "train.batch_size=32", "train.checkpoint.every_steps=3", "train.threads=1", *overrides]
    spec = load_spec(apps_spec, base)
    _, straight = run_training(spec, output=workdir / "straight")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_training(spec, output=workdir / "resumed", reporter=StopAfter(crash_after))
    assert checkpoint_path(spec, workdir / "resumed").exists()
    _, resumed = run_training(spec, output=workdir / "resumed", resume=True)
    assert_same_weights(straight, resumed)


def test_an_unreadable_checkpoint_is_reported(apps_spec, workdir):
    spec = load_spec(apps_spec, ["train.epochs=1"])
    ckpt = checkpoint_path(spec, None)
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"\x00" * 100)
    with pytest.raises(WdcliError, match="not a readable checkpoint.*delete it and train without --resume"):
        run_training(spec, resume=True)


def test_checkpoints_can_be_turned_off(apps_spec, workdir):
    spec = load_spec(apps_spec, ["train.epochs=2", "train.batch_size=16", "train.checkpoint.enabled=false"])
    with pytest.raises(RuntimeError):
        run_training(spec, reporter=StopAfter(20))
    assert not checkpoint_path(spec, None).exists()
    assert not os.path.exists(workdir / "runs" / "apps" / "LATEST")


def test_the_fingerprint_holds_what_a_resumed_run_depends_on(apps_spec):
    """A checkpoint resumes only against the spec and the training files it was written for: a setting of the
    run (its batches, its seed, a column) or a file rewritten (as many bytes at a new time, or another size at
    the old time) changes the fingerprint; what may change between a run and its resumption does not."""
    from wdcli.train.checkpoint import fingerprint

    from .conftest import apps_frame

    first = fingerprint(load_spec(apps_spec))
    for change in ("train.batch_size=7", "train.seed=3", "columns.age.quantiles=5"):
        assert fingerprint(load_spec(apps_spec, [change])) != first, change
    may = ["train.epochs=9", "train.threads=1", "train.device=cpu", "train.data.cache=off", "train.output=elsewhere"]
    assert fingerprint(load_spec(apps_spec, may)) == first
    data = apps_spec.parent / "apps.csv"
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert fingerprint(load_spec(apps_spec)) != first
    first, stat = fingerprint(load_spec(apps_spec)), data.stat()
    apps_frame(300, seed=9).write_csv(data)
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert data.stat().st_size != stat.st_size and fingerprint(load_spec(apps_spec)) != first


def test_a_resumed_run_keeps_the_best_epoch_of_before_its_stop(apps_spec, workdir, monkeypatch):
    """With only the first epoch counted as the best, a run stopped in its third epoch and resumed ends with the
    first epoch's weights, as the run that never stopped does: early stopping's best value and weights are in
    the checkpoint, not found again after the resumption."""
    from wdcli.train.trainer import EarlyStopping

    monkeypatch.setattr(EarlyStopping, "_better", lambda self, value: self.best is None)
    sets = ["train.epochs=3", "train.batch_size=32", "train.checkpoint.every_steps=3", "train.threads=1"]
    spec = load_spec(apps_spec, [*sets, "train.early_stopping.patience=9"])
    straight, _ = run_training(spec, output=workdir / "straight")
    assert [e.best for e in straight.metrics.history] == [True, False, False]
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_training(spec, output=workdir / "resumed", reporter=StopAfter(20))
    resumed, _ = run_training(spec, output=workdir / "resumed", resume=True)
    assert [e.best for e in resumed.metrics.history] == [True, False, False]
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
