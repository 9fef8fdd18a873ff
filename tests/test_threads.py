"""Threads that hold up when cores are shared: the default count from the CPUs this process may use (affinity,
cgroup quota), and idle OpenMP threads that sleep rather than spin."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from wdcli.data.cpus import cpu_quota, usable_cpus
from wdcli.train.runtime import Processes, Runtime, default_threads

from .conftest import SPECS


def test_the_cgroup_quota_caps_the_cpus(tmp_path, monkeypatch):
    import wdcli.data.cpus as cpus

    monkeypatch.setattr(cpus, "_own_cgroup", lambda: "")
    assert cpu_quota(tmp_path) is None  # no cgroup files: no quota
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # v2: 1.5 CPUs
    assert cpu_quota(tmp_path) == 1.5 and usable_cpus(tmp_path) == 1
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")  # v1: none
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu_quota(tmp_path) is None and usable_cpus(tmp_path) == len(os.sched_getaffinity(0))
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000000\n")  # more than the affinity allows
    assert usable_cpus(tmp_path) == len(os.sched_getaffinity(0))


def test_default_threads_follow_the_affinity_and_are_shared_by_a_jobs_processes(monkeypatch):
    import wdcli.train.runtime as runtime

    monkeypatch.setattr(runtime, "usable_cpus", lambda: 8)
    assert default_threads(Processes()) == 8
    assert default_threads(Processes(rank=1, world=4, local_rank=1, local_world=4)) == 2
    assert default_threads(Processes(world=16, local_world=16)) == 1
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(runtime, "usable_cpus", lambda: 1)
        Runtime.start(device="cpu")
        assert torch.get_num_threads() == 1
        Runtime.start(threads=2, device="cpu")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_stream_reads_in_a_thread_unless_told_on_a_gpu_too(monkeypatch):
    # Reader processes lost to the thread on every machine measured, a 16-core H200 one included
    # (docs/scale.md), so none is started unless `data.readers` asks.
    import types

    import wdcli.train.sources as sources
    from wdcli.spec import load_spec

    made = []
    monkeypatch.setattr(sources, "Stream", lambda *a, **k: made.append(k["processes"]))
    fitted = types.SimpleNamespace(rows=10_000)
    for extra in ([], ["train.data.readers=3"]):
        spec = load_spec(SPECS / "census.yaml", extra)
        sources._source(
            spec, None, "train", 10_000, False, fitted, {"train": "t"}, Runtime(torch.device("cuda")), None, None
        )
    assert made == [0, 3]


def _policy(env: dict) -> str:
    code = "import wdcli, os; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()


def test_idle_threads_spin_briefly_then_sleep_unless_the_user_says_otherwise():
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    assert _policy(env) == "None 1000"
    assert _policy({**env, "OMP_WAIT_POLICY": "PASSIVE"}) == "PASSIVE None"
    assert _policy({**env, "GOMP_SPINCOUNT": "10000"}) == "None 10000"


def test_a_streams_reader_threads_follow_the_cpus_this_process_may_use(monkeypatch):
    """A container's 2 CPUs on a 64-core host: one reader thread, not the four os.cpu_count() would allow."""
    from wdcli.data import stream

    monkeypatch.setattr(stream, "usable_cpus", lambda: 2)
    assert stream.readers() == 1
    monkeypatch.setattr(stream, "usable_cpus", lambda: 64)
    assert stream.readers() == 4
