"""Data-parallel training in several processes (gloo on the CPU): the same model as one process, an artifact
that loads and scores alike, and a killed run that resumes with the same number of processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from wdcli.data.split import load_splits
from wdcli.score import Scorer
from wdcli.spec import load_spec

from .conftest import SPECS

CENSUS = ["--set=train.max_rows=6000", "--set=train.epochs=4", "--set=train.early_stopping.patience=9"]


def train(cwd: Path, *args: str, nproc: int = 1, wait: bool = True):
    cmd = [sys.executable, "-m", "wdcli", "train", *args, "-q"] + (["--nproc", str(nproc)] if nproc > 1 else [])
    p = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    if not wait:
        return p
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, out + err
    return out + err


def metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())["splits"]


@pytest.fixture(scope="module")
def census_runs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("ddp")
    fit = ["--set=train.data.read_batch_rows=1000", "--set=train.data.cache=off"]  # the fit in shares of chunks
    train(cwd, str(SPECS / "census.yaml"), *CENSUS, *fit, "--output", "one")
    train(cwd, str(SPECS / "census.yaml"), *CENSUS, *fit, "--output", "two", nproc=2)
    return cwd


def test_two_processes_fit_the_pipeline_of_one_byte_for_byte(census_runs):
    """Each process fits its share of the chunks; the merged states are those of one process."""
    assert (census_runs / "one" / "pipeline.json").read_bytes() == (census_runs / "two" / "pipeline.json").read_bytes()


def test_two_processes_train_the_model_of_one(census_runs):
    """Each process takes its share of every global batch and the gradients are summed across them, so two
    processes make the updates of one (up to the order of float additions)."""
    one, two = metrics(census_runs / "one"), metrics(census_runs / "two")
    for split in ("train", "validation", "test"):
        assert one[split]["rows"] == two[split]["rows"]
    assert abs(one["test"]["auc"] - two["test"]["auc"]) < 0.005
    wa, wb = (
        load_file(str(census_runs / "one" / "weights.safetensors")),
        load_file(str(census_runs / "two" / "weights.safetensors")),
    )
    assert all(torch.allclose(wa[k], wb[k], atol=1e-3) for k in wa)


def test_the_artifact_of_two_processes_scores_like_one(census_runs):
    spec = load_spec(SPECS / "census.yaml")
    test = load_splits(spec.data)["test"].head(2000)
    a, b = Scorer.load(census_runs / "one").score(test), Scorer.load(census_runs / "two").score(test)
    assert np.abs(a - b).max() < 0.01


def test_a_killed_run_of_two_processes_resumes_with_two(census_runs, tmp_path):
    args = [
        str(SPECS / "census.yaml"),
        *CENSUS,
        "--set=train.batch_size=64",
        "--set=train.checkpoint.every_steps=5",
        "--output",
        "model",
    ]
    p = train(tmp_path, *args, nproc=2, wait=False)
    ckpt = tmp_path / "model.checkpoint.safetensors"
    deadline = time.time() + 300
    while not ckpt.exists():
        assert p.poll() is None, p.communicate()
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(1.0)
    os.killpg(p.pid, signal.SIGKILL)  # the launcher and both processes
    p.wait()
    assert not (tmp_path / "model").exists()
    out = subprocess.run(
        [sys.executable, "-m", "wdcli", "train", *args, "-q", "--resume"], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 2 and "written by a run of 2 process(es)" in out.stderr
    log = train(tmp_path, *args, "--resume", nproc=2)
    assert (tmp_path / "model" / "manifest.json").exists(), log
    straight = tmp_path / "straight"
    train(tmp_path, *args[:-1], str(straight), nproc=2)
    wa, wb = (
        load_file(str(straight / "weights.safetensors")),
        load_file(str(tmp_path / "model" / "weights.safetensors")),
    )
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


LEAVE = """
import os, socket, sys, torch
from wdcli.train.runtime import Processes, Runtime
processes = Processes.from_env()
with Runtime.start(processes) as runtime:
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)  # (torch imports its compiler lazily, here)
    runtime.barrier()
try:  # the job's store, which the first process serves, is gone with the group
    socket.create_connection(("127.0.0.1", int(os.environ["MASTER_PORT"])), timeout=2).close()
    print("the store still serves", file=sys.stderr)
    sys.exit(3)
except OSError:
    pass
"""


def test_a_closed_runtime_leaves_nothing_of_the_process_group_behind(tmp_path):
    """Closing the runtime releases the process group and its store at once, not at the interpreter's exit (where
    gloo's threads, torn down late, made a process abort now and then: "terminate called without an active
    exception", exit 250 under --nproc)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1"}
    env["MASTER_PORT"] = str(port)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LEAVE],
            env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in (0, 1)
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert outcomes[0][0] == 0, outcomes
    assert all(code in (0, 3) for code, _ in outcomes), outcomes  # (the other may see the first's store, still up)
