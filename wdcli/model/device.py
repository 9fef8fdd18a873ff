"""Which torch device a setting names: auto (a GPU when there is one, and one for each process of a torchrun
job; the environment variable WDCLI_AUTO_DEVICE=cpu makes auto the CPU), cpu, cuda, cuda:N or mps."""

from __future__ import annotations

import os
import re

import torch

from ..errors import WdcliError


def resolve_device(device: str, local_rank: int = 0, local_world: int = 1) -> torch.device:
    """auto | cpu | cuda | cuda:N | mps as a torch device, or a clear error for one that is not there. In a job
    of `local_world` processes on this machine, auto is the GPU of this process's `local_rank`."""
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device):
        raise WdcliError(f"device {device!r} is not one of auto, cpu, cuda, cuda:N (a GPU's number) or mps")
    if device == "auto":
        if os.environ.get("WDCLI_AUTO_DEVICE", "").strip():  # what auto means here, e.g. cpu on a GPU machine
            return resolve_device(os.environ["WDCLI_AUTO_DEVICE"].strip(), local_rank, local_world)
        if torch.cuda.is_available() and local_world <= torch.cuda.device_count():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")  # (more processes on this machine than GPUs: the CPU)
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise WdcliError(
                f"device {device!r}: this machine has no CUDA GPU that torch can use "
                "(torch.cuda.is_available() is False); use auto or cpu"
            )
        dev = torch.device(device if ":" in device else f"cuda:{local_rank % torch.cuda.device_count()}")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise WdcliError(f"device {device!r}: this machine has {torch.cuda.device_count()} GPU(s)")
        return dev
    if device == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise WdcliError("device 'mps': Apple's Metal GPU is not available here; use auto or cpu")
        return torch.device("mps")
    return torch.device("cpu")
