"""Data-parallel training in several processes (gloo on the CPU): the gradient exchange gives each process the
gradient of one; the same model as one process, an artifact that loads and scores alike, and a killed run that
resumes with the same number of processes."""

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

# the tiny spec (the exchange itself is tested on a toy model below): long enough (160 steps of 16 rows) to be
# killed part-way, a checkpoint every 5 steps
ARGS = [
    str(SPECS / "tiny.yaml"),
    "--set=train.epochs=10",
    "--set=train.batch_size=16",
    "--set=train.early_stopping.patience=99",
    "--set=train.checkpoint.every_steps=5",
    "--set=train.data.read_batch_rows=50",  # the fit in shares: 8 chunks of tiny's 400 rows
    "--set=train.data.cache=off",
]


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
def runs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("ddp")
    train(cwd, *ARGS, "--output", "one")
    train(cwd, *ARGS, "--output", "two", nproc=2)
    return cwd


def test_two_processes_fit_the_pipeline_of_one_byte_for_byte(runs):
    """Each process fits its share of the chunks; the merged states are those of one process."""
    assert (runs / "one" / "pipeline.json").read_bytes() == (runs / "two" / "pipeline.json").read_bytes()


def test_two_processes_train_the_model_of_one(runs):
    """Each process takes its share of every global batch and the gradients are summed across them, so two
    processes make the updates of one (up to the order of float additions)."""
    one, two = metrics(runs / "one"), metrics(runs / "two")
    for split in ("train", "validation", "test"):
        assert one[split]["rows"] == two[split]["rows"]
        assert abs(one[split]["auc"] - two[split]["auc"]) < 1e-3
    wa, wb = load_file(str(runs / "one" / "weights.safetensors")), load_file(str(runs / "two" / "weights.safetensors"))
    assert all(torch.allclose(wa[k], wb[k], atol=1e-4) for k in wa)


def test_the_artifact_of_two_processes_scores_like_one(runs):
    spec = load_spec(SPECS / "tiny.yaml")
    test = load_splits(spec.data)["test"]
    a, b = Scorer.load(runs / "one").score(test), Scorer.load(runs / "two").score(test)
    assert np.abs(a - b).max() < 1e-4


def test_a_killed_run_of_two_processes_resumes_with_two(runs, tmp_path):
    p = train(tmp_path, *ARGS, "--output", "model", nproc=2, wait=False)
    ckpt = tmp_path / "model.checkpoint.safetensors"
    deadline = time.time() + 300
    while not ckpt.exists():
        assert p.poll() is None, p.communicate()
        assert time.time() < deadline
        time.sleep(0.02)
    os.killpg(p.pid, signal.SIGKILL)  # the launcher and both processes, a few steps past the first checkpoint
    p.wait()
    assert not (tmp_path / "model").exists()
    out = subprocess.run(
        [sys.executable, "-m", "wdcli", "train", *ARGS, "--output", "model", "-q", "--resume"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "written by a run of 2 process(es)" in out.stderr
    log = train(tmp_path, *ARGS, "--output", "model", "--resume", nproc=2)
    assert (tmp_path / "model" / "manifest.json").exists() and "resuming from" in log, log
    wa, wb = (
        load_file(str(runs / "two" / "weights.safetensors")),
        load_file(str(tmp_path / "model" / "weights.safetensors")),
    )
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # the run that was never stopped


PAIR = """
import json, os, socket, sys, torch
import numpy as np
from wdcli.train.exchange import Exchange
from wdcli.train.runtime import Processes, Runtime


class Toy(torch.nn.Module):
    \"\"\"Two sparse tables (bags of ids per row) and a dense layer, as the model's parts are.\"\"\"

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.EmbeddingBag(10, 3, mode="sum", sparse=True)
        self.b = torch.nn.EmbeddingBag(8, 3, mode="sum", sparse=True)
        self.dense = torch.nn.Linear(3, 1)

    def sparse_parameters(self):
        return [self.a.weight, self.b.weight]

    def loss(self, rows, global_rows):
        # each process: its rows' summed loss over the global batch's rows, as the trainer makes it
        h = 0
        if any(rows["a"]):  # (a process whose rows hold no id of table a never touches it)
            h = h + self.a(*bags(rows["a"]))
        h = h + self.b(*bags(rows["b"]))
        z = self.dense(torch.tanh(h)).squeeze(1)
        y = torch.tensor(rows["y"], dtype=torch.float32)
        return torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="sum") / global_rows


def bags(ids):
    flat = torch.tensor([i for row in ids for i in row], dtype=torch.long)
    offsets = torch.tensor([0] + [len(row) for row in ids[:-1]], dtype=torch.long).cumsum(0)
    return flat, offsets


BATCH = {  # seven rows: five for process 0, two (touching no row of table a) for process 1
    "a": [[1, 2], [2], [7, 7, 3], [9], [0, 2], [], []],
    "b": [[0], [1, 5], [5], [2, 3], [7], [5, 6], [1]],
    "y": [1, 0, 1, 1, 0, 0, 1],
}
SHARES = [slice(0, 5), slice(5, 7)]


def grads(model):
    return [(p.grad.to_dense() if p.grad.is_sparse else p.grad).clone() for p in model.parameters()]


def exchange(runtime):
    one = Toy()  # the one-process gradient of the whole batch
    one.loss({"a": BATCH["a"], "b": BATCH["b"], "y": BATCH["y"]}, 7).backward()
    mine = {k: v[SHARES[runtime.rank]] for k, v in BATCH.items()}
    model = Toy()
    loss = model.loss(mine, 7)
    loss.backward()
    extras = torch.tensor([float(loss), float(len(mine["y"]))], dtype=torch.float64)
    summed = Exchange(model, runtime.device)(extras)
    worst = max(float((g - r).abs().max()) for g, r in zip(grads(model), grads(one)))
    sparse = [p.grad.is_sparse for p in model.sparse_parameters()]
    rows_b = model.b.weight.grad.coalesce().indices().tolist()[0]
    print(json.dumps({"worst": worst, "extras": summed.tolist(), "sparse": sparse, "rows_b": rows_b}))


with Runtime.start(Processes.from_env()) as runtime:
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)  # (torch imports its compiler lazily, here)
    exchange(runtime)
    from wdcli.train.fitting import _gather  # the fit's exchange: arrays of numbers as tensors, the rest pickled

    mine = np.arange(12.0).reshape(3, 4) + runtime.rank if runtime.rank == 0 else np.zeros((3, 0))
    arrays = _gather(mine) + _gather(np.zeros((2, 0))) + _gather(np.array([runtime.rank], dtype=np.uint64))
    print(json.dumps({"shapes": [a.shape for a in arrays], "values": [a.tolist() for a in arrays]}))
    runtime.barrier()
try:  # the job's store, which the first process serves, is gone with the group
    socket.create_connection(("127.0.0.1", int(os.environ["MASTER_PORT"])), timeout=2).close()
    print("the store still serves", file=sys.stderr)
    sys.exit(3)
except OSError:
    pass
"""


@pytest.fixture(scope="module")
def pair() -> list[tuple[int, str, str]]:
    """Two gloo processes of a job (each: exit code, stdout, stderr) that exchange a toy model's gradients in a
    runtime, close it, and then look for the job's store."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1"}
    env["MASTER_PORT"] = str(port)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PAIR],
            env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in (0, 1)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    return [(p.returncode, *out) for p, out in zip(procs, outputs)]


def test_the_exchange_gives_every_process_the_gradient_of_one(pair):
    """Unequal shares of a batch, one of them touching no row of a table: after the exchange each process holds
    the one-process gradient of the whole batch (to 1e-6), sparse tables as sparse gradients of the rows
    touched by either, and the summed extras (the loss, the row counts)."""
    results = [json.loads(out.strip().splitlines()[0]) for _, out, _ in pair]
    one_loss = results[0]["extras"][0]
    for r in results:
        assert r["worst"] < 1e-6, results
        assert r["sparse"] == [True, True]
        assert r["rows_b"] == [0, 1, 2, 3, 5, 6, 7]  # process 0's rows of table b and process 1's, once each
        assert r["extras"] == [one_loss, 7.0]


def test_the_fits_exchange_sends_arrays_of_any_shape_to_every_process(pair):
    """The fit in shares gathers its quantile samples as tensors: shares of different sizes, empty ones, all
    empty; other arrays (the sample's keys) pickled; every process gets every process's, as they were."""
    for _, out, _ in pair:
        got = json.loads(out.strip().splitlines()[1])
        assert got["shapes"] == [[3, 4], [3, 0], [2, 0], [2, 0], [1], [1]]
        assert got["values"][0] == np.arange(12.0).reshape(3, 4).tolist() and got["values"][4:] == [[0], [1]]


def test_a_closed_runtime_leaves_nothing_of_the_process_group_behind(pair):
    """Closing the runtime releases the process group and its store at once, not at the interpreter's exit (where
    gloo's threads, torn down late, made a process abort now and then: "terminate called without an active
    exception", exit 250 under --nproc)."""
    assert pair[0][0] == 0, pair
    assert all(code in (0, 3) for code, *_ in pair), pair  # (the other may see the first's store, still up)
