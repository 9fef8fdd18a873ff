"""Where training runs, said once at the top and passed down: the device, the threads, and the random
states a checkpoint must carry to continue a run exactly."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Runtime:
    device: torch.device

    @staticmethod
    def start(threads: int | None = None, device: str = "cpu") -> Runtime:
        if threads:
            torch.set_num_threads(threads)
        return Runtime(torch.device(device))

    def rng_state(self) -> dict[str, torch.Tensor]:
        """Torch's global random states (dropout draws from them)."""
        return {"rng.cpu": torch.get_rng_state()}

    def set_rng_state(self, state: dict[str, torch.Tensor]) -> None:
        if "rng.cpu" in state:
            torch.set_rng_state(state["rng.cpu"])
