"""Where training runs, said once at the top and passed down: the device, the precision, the threads, this
process's rank among the processes of a `torchrun` job, and the random states a checkpoint must carry to
continue a run exactly.

    runtime = Runtime.start(threads=None, device="auto", precision="fp32")

`device: auto` is the GPU when one is there (under torchrun, the one of this process's local rank), else the
CPU. Started by torchrun (RANK, WORLD_SIZE, LOCAL_RANK in the environment), it joins the job's process group:
gloo on CPUs, NCCL on GPUs.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..model.device import resolve_device


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
    def start(threads: int | None = None, device: str = "auto", precision: str = "fp32") -> Runtime:
        rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        local = int(os.environ.get("LOCAL_RANK", 0))
        dev = resolve_device(device, local)
        if threads:
            torch.set_num_threads(threads)
        elif world > 1 and dev.type == "cpu":  # processes share the cores
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        if world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        return Runtime(dev, precision, rank, world)

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

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()
