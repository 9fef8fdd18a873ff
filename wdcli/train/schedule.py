"""Learning-rate schedules (`train.schedule`): each optimizer's step size (FTRL's alpha, the others' lr) is its
spec's value times a factor that changes over the run.

    constant   1
    warmup     min(1, t / W)                                        t: steps so far, W: warm-up steps
    cosine     the warm-up, then m + (1 - m) (1 + cos(pi s)) / 2     s: share of the steps after the warm-up
                                                                    (up to the last epoch's), m: min_factor
    plateau    1, multiplied by `factor` whenever `patience` + 1 epochs in a row bring no better early-stopping
               metric (as torch's ReduceLROnPlateau), never below min_factor

The factor is set before each step; its state (steps, the plateau's factor and count) is part of a checkpoint,
so a resumed run steps with the very same sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..spec.settings import Schedule as ScheduleSpec


@dataclass(frozen=True)
class ScheduleState:
    """Where a schedule is: steps taken, the plateau's factor and its epochs without improvement."""

    steps: int = 0
    plateau: float = 1.0
    waited: int = 0

    def to_json(self) -> dict:
        return {"steps": self.steps, "plateau": self.plateau, "waited": self.waited}

    @staticmethod
    def from_json(d: dict | None) -> ScheduleState:
        d = d or {}
        return ScheduleState(int(d.get("steps", 0)), float(d.get("plateau", 1.0)), int(d.get("waited", 0)))


class Schedule:
    """Sets every optimizer's step size before each step (`before_step`) and after each epoch (`after_epoch`)."""

    def __init__(
        self, spec: ScheduleSpec, optimizers: Sequence[torch.optim.Optimizer], steps_per_epoch: int, epochs: int
    ):
        self.spec = spec
        self.groups = [(g, "alpha" if "alpha" in g else "lr") for opt in optimizers for g in opt.param_groups]
        self.base = [g[key] for g, key in self.groups]
        self.warmup_steps = spec.warmup * steps_per_epoch
        self.total_steps = max(epochs * steps_per_epoch, 1)
        self.state = ScheduleState()

    @property
    def constant(self) -> bool:
        return self.spec.kind == "constant"

    def factor(self) -> float:
        s, t = self.spec, self.state.steps
        if s.kind == "plateau":
            return self.state.plateau
        warm = min(1.0, (t + 1) / self.warmup_steps) if t < self.warmup_steps else 1.0
        if s.kind != "cosine" or t < self.warmup_steps:
            return warm
        share = min(1.0, (t - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1))
        return s.min_factor + (1 - s.min_factor) * (1 + math.cos(math.pi * share)) / 2

    def before_step(self) -> None:
        if self.constant:
            return
        self._apply(self.factor())
        self.state = ScheduleState(self.state.steps + 1, self.state.plateau, self.state.waited)

    def after_epoch(self, improved: bool) -> None:
        """Count an epoch without improvement (plateau); set the factor the next step takes."""
        if self.spec.kind != "plateau":
            return
        st = self.state
        waited = 0 if improved else st.waited + 1
        plateau = st.plateau
        if waited > self.spec.patience:
            plateau, waited = max(self.spec.min_factor, plateau * self.spec.factor), 0
        self.state = ScheduleState(st.steps, plateau, waited)

    def restore(self, state: ScheduleState) -> None:
        self.state = state

    def _apply(self, factor: float) -> None:
        for (group, key), base in zip(self.groups, self.base):
            group[key] = base * factor
