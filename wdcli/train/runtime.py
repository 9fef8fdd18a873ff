"""Where training runs, said once at the top and passed down: which process of a job this is (`Processes`, from
data/cpus.py: read from the environment once, at the edge), and the device, precision, threads and random states
of a run (`Runtime`), which starts and closes the job's process group.

    processes = Processes.from_env()             # the CLI (or a Python caller under torchrun)
    with Runtime.start(processes, threads=None, device="auto", precision="fp32") as runtime:
        ...                                      # the process group is left on the way out

`device: auto` is the GPU when one is there (under torchrun, the one of this process's local rank), else the
CPU. In a job of several processes (torchrun, or `train --nproc`: RANK, WORLD_SIZE, LOCAL_RANK in the
environment), the runtime joins the job's process group (gloo on CPUs, NCCL on GPUs) and leaves it when it
closes, on every way out.

Threads: `train.threads`, else the CPUs this process may use (`usable_cpus`: its affinity mask, no more than its
cgroup's CPU quota), shared among the job's processes on this machine. Idle OpenMP threads spin only briefly
before they sleep (`GOMP_SPINCOUNT=1000`, set by `wdcli/__init__.py` before torch loads its OpenMP runtime), so
that trainings sharing cores do not starve each other and one alone keeps its speed (docs/scale.md).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..data.cpus import Processes, usable_cpus
from ..model.device import resolve_device


def default_threads(processes: Processes) -> int:
    """Torch threads when train.threads is not set: the usable CPUs, shared by the job's processes on this
    machine."""
    return max(1, usable_cpus() // processes.local_world)


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    precision: str = "fp32"  # fp32 | bf16 (autocast for the MLP)
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """The process that writes checkpoints, the artifact and the progress display."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @staticmethod
    def start(
        processes: Processes = Processes(),  # noqa: B008 (frozen: a default shared by every call is safe)
        threads: int | None = None,
        device: str = "auto",
        precision: str = "fp32",
    ) -> Runtime:
        """Set the device and threads, and join the job's process group (for a job of several processes). Use
        it as a context manager, or `close()` it."""
        dev = resolve_device(device, processes.local_rank, processes.local_world)
        torch.set_num_threads(threads or default_threads(processes))
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        if processes.world > 1 and not dist.is_initialized():
            # torch imports its compiler lazily, when the first optimizer is made; imported once the group
            # exists, it keeps references to it that destroy_process_group cannot release, so the group's
            # threads and store outlive `close` and are torn down at the interpreter's exit, where gloo aborts
            # now and then ("terminate called without an active exception"). Imported first, it holds none.
            from torch import _dynamo  # noqa: F401

            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        return Runtime(dev, precision, processes.rank, processes.world)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.close(together=kind is None)

    def autocast(self):
        """The context the model's forward runs in: bf16 autocast for its matrix products, or nothing."""
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def rng_state(self) -> dict[str, torch.Tensor]:
        """Torch's global random states (dropout draws from them), the GPU's too."""
        state = {"rng.cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def set_rng_state(self, state: dict[str, torch.Tensor]) -> None:
        if "rng.cpu" in state:
            torch.set_rng_state(state["rng.cpu"])
        if "rng.cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng.cuda"], self.device)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self, together: bool = True) -> None:
        """Leave the process group: after every process got here (`together`, a run that ended well), or at once
        (a failed one, whose other processes may never get here)."""
        if self.distributed and dist.is_initialized():
            if together:
                dist.barrier()
            dist.destroy_process_group()
