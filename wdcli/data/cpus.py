"""This process's place in a job of processes (`Processes`: RANK and the rest, read from the environment once, at
the edge), and the CPUs this process may use, counted once for every part that sizes threads or processes by
them (the training's threads, a stream's reader threads and processes, `--nproc`'s share of each): the affinity mask
(taskset, a container's cpuset), capped by the cgroup's CPU quota (a container's --cpus). `os.cpu_count()`
counts the host's cores, which a container may not have."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may use: those of its affinity mask (taskset, a container's cpuset), no more than its
    cgroup's CPU quota allows (a container's --cpus), at least one."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # (not Linux)
        cpus = os.cpu_count() or 1
    quota = cpu_quota(cgroup)
    return max(1, min(cpus, int(quota)) if quota is not None else cpus)


def cpu_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs' worth of time this process's cgroup may take (cgroup v2's cpu.max, v1's cpu.cfs_quota_us over
    cpu.cfs_period_us), or None when it has no quota."""
    own = _own_cgroup()
    for folder in ([cgroup / own] if own else []) + [cgroup]:
        try:
            quota, period = (folder / "cpu.max").read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        except (OSError, ValueError):
            pass
    try:
        quota_us = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def _own_cgroup() -> str:
    """This process's cgroup v2 path ('0::/path' in /proc/self/cgroup), without its leading slash."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return ""
    return next((line[3:].lstrip("/") for line in lines if line.startswith("0::")), "")


@dataclass(frozen=True)
class Processes:
    """This process's place in a job of processes, as torchrun says it in the environment."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    launched: bool = False  # started as a process of a job (RANK was set), not by a user

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> Processes:
        """The one place that reads RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE."""
        env = os.environ if env is None else env
        world = int(env.get("WORLD_SIZE", 1))
        return Processes(
            int(env.get("RANK", 0)),
            world,
            int(env.get("LOCAL_RANK", 0)),
            int(env.get("LOCAL_WORLD_SIZE", world)),
            "RANK" in env,
        )

    @property
    def main(self) -> bool:
        """The process that speaks and writes (checkpoints, the artifact, the progress display)."""
        return self.rank == 0
