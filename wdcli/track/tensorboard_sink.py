"""Logging a run to TensorBoard event files (`train.log: [tensorboard]`), with torch's SummaryWriter.

Events go to <train.output>/tensorboard/<spec name>/<start time>/, so `tensorboard --logdir runs/tensorboard`
shows every run: per-epoch scalars under `epoch/`, the final metrics with the parameters in the HPARAMS tab, and
the spec and the run folder as text.
"""

from __future__ import annotations

import time
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter


class TensorBoardSink:
    def __init__(self, spec, params: dict[str, object]):
        self.folder = Path(spec.train.output) / "tensorboard" / spec.name / time.strftime("%Y%m%d-%H%M%S")
        k = 1
        while self.folder.exists():
            self.folder = self.folder.with_name(f"{self.folder.name.split('.')[0]}.{k}")
            k += 1
        self.writer = SummaryWriter(log_dir=str(self.folder))
        self.where = f"tensorboard: logging to {self.folder}"
        self.params = params
        self.writer.add_text("spec", "\n".join(f"    {k}: {v}" for k, v in params.items()))

    def epoch(self, epoch: int, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.writer.add_scalar(f"epoch/{k}", v, epoch)
        self.writer.flush()

    def finish(self, final: dict[str, float], folder: Path) -> None:
        self.writer.add_text("run_folder", str(folder.resolve()))
        self.writer.add_hparams(self.params, {f"final/{k}": v for k, v in final.items()}, run_name=".")
        self.writer.close()

    def fail(self, error: BaseException) -> None:
        self.writer.add_text("status", f"stopped: {type(error).__name__}: {error}")
        self.writer.close()
