"""Checkpoints, so that a killed or interrupted training run continues where it stopped (`train --resume`).

One file, `<runs>/<name>/checkpoint.safetensors` (beside the folder given with `--output`, if any), holds a
`Checkpoint`: the trainer's state (the model's weights and every optimizer's state by parameter name: FTRL's z
and n, AdaGrad's sums, Adam's moments), the loop's (the epoch under way, its running loss, the epochs before),
early stopping's (with the best epoch's weights so far), the training source's `Position` (its generator, and
the current epoch's order and place) and torch's global random states (dropout draws from them). Tensors are
the file's tensors; the rest is JSON in its header, with a fingerprint of the spec and the training data, so
that a checkpoint is never resumed against a different spec or data.

Resuming replays nothing: the pipeline is refitted (it is a pure function of the spec and the training rows),
the state is loaded, and the loop continues from the saved position. On CPU the final weights are bit for
bit those of a run that was never interrupted (tests/test_checkpoint.py kills a run with SIGKILL to check).

The file is written to a temporary name, flushed to disk and renamed over the previous checkpoint, so a kill at
any moment leaves the previous checkpoint or the new one. Loading reads tensors and JSON only: nothing in a
checkpoint can run code. A run that completes saves its artifact, then deletes the checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.atomic import atomic_file
from ..data.source import Position
from ..errors import WdcliError
from ..metrics import EpochRecord
from ..spec import Spec
from .schedule import ScheduleState

FORMAT = 3  # 2: the batch source's state under source.*, random states under rng.*; 3: records, optimizer state by
# parameter name (model.optim's encoding)
# train settings that may change between a run and its resumption (more epochs, other threads, output, device,
# trackers)
MAY_CHANGE = ("epochs", "threads", "output", "checkpoint", "device", "log")


@dataclass(frozen=True)
class TrainerState:
    """The trainer's part: the model's weights and every optimizer's state by parameter name, and which
    optimizers made it."""

    weights: dict[str, torch.Tensor]
    optimizer: dict[str, torch.Tensor]  # '<parameter>.<key>' (wdcli.model.optim.optimizer_state)
    optimizers: tuple[str, ...]  # their classes, in order

    def to_json(self) -> dict:
        return {"optimizers": list(self.optimizers)}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {**_prefixed("model.", self.weights), **_prefixed("optimizer.", self.optimizer)}

    @staticmethod
    def from_json(d: dict, tensors: dict[str, torch.Tensor]) -> TrainerState:
        return TrainerState(_part("model.", tensors), _part("optimizer.", tensors), tuple(d["optimizers"]))


@dataclass(frozen=True)
class LoopState:
    """Where the loop is: the epoch under way (1-based), its summed loss and rows so far, the epochs before, and
    the training seconds before this process."""

    epoch: int = 1
    total: float = 0.0
    seen: int = 0
    history: tuple[EpochRecord, ...] = ()
    elapsed: float = 0.0

    def to_json(self) -> dict:
        history = [r.to_json() for r in self.history]
        return {
            "epoch": self.epoch,
            "total": self.total,
            "seen": self.seen,
            "history": history,
            "elapsed": self.elapsed,
        }

    @staticmethod
    def from_json(d: dict) -> LoopState:
        history = tuple(EpochRecord.from_json(r) for r in d["history"])
        return LoopState(int(d["epoch"]), float(d["total"]), int(d["seen"]), history, float(d["elapsed"]))


@dataclass(frozen=True)
class StoppingState:
    """Early stopping's part: the best value so far, the epochs since, the best epoch's weights."""

    best: float | None = None
    since_best: int = 0
    weights: dict[str, torch.Tensor] | None = None

    def to_json(self) -> dict:
        return {"best": self.best, "since_best": self.since_best, "has_best": self.weights is not None}

    def tensors(self) -> dict[str, torch.Tensor]:
        return _prefixed("best.", self.weights or {})

    @staticmethod
    def from_json(d: dict, tensors: dict[str, torch.Tensor]) -> StoppingState:
        return StoppingState(d["best"], int(d["since_best"]), _part("best.", tensors) if d["has_best"] else None)


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint holds."""

    trainer: TrainerState
    loop: LoopState
    stopping: StoppingState
    source: Position  # the training source's
    rng: dict[str, torch.Tensor]  # torch's global random states (`Runtime.rng_state`)
    schedule: ScheduleState = ScheduleState()  # where the step sizes' schedule is

    def save(self, path: Path, fp: str, world: int = 1) -> None:
        """Write it atomically (temporary file, fsync, rename)."""
        from safetensors.torch import save_file

        tensors = {**self.trainer.tensors(), **self.stopping.tensors(), **_prefixed("source.", self.source.tensors())}
        tensors.update(self.rng)
        meta = {
            "format": FORMAT,
            "fingerprint": fp,
            "trainer": self.trainer.to_json(),
            "loop": self.loop.to_json(),
            "stopping": self.stopping.to_json(),
            "source": self.source.to_json(),
            "schedule": self.schedule.to_json(),
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "processes": world,
        }
        with atomic_file(path) as tmp:
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                str(tmp),
                metadata={"wdcli_checkpoint": json.dumps(meta, default=float)},
            )

    @staticmethod
    def load(path: Path, fp: str, world: int = 1, optimizers: tuple[str, ...] | None = None) -> Checkpoint:
        """Read one back, refusing a checkpoint of another format, spec, data, number of processes or set of
        optimizers (each with the message of what to do)."""
        meta, tensors = _read(path)
        _check(path, meta, fp, world)
        trainer = TrainerState.from_json(meta["trainer"], tensors)
        if optimizers is not None and trainer.optimizers != tuple(optimizers):
            raise WdcliError(
                f"{path}: written for the optimizers {', '.join(trainer.optimizers)}; the spec makes "
                f"{', '.join(optimizers)}"
            )
        return Checkpoint(
            trainer,
            LoopState.from_json(meta["loop"]),
            StoppingState.from_json(meta["stopping"], tensors),
            Position.from_json(meta["source"], _part("source.", tensors)),
            {k: v for k, v in tensors.items() if k.startswith("rng.")},
            ScheduleState.from_json(meta.get("schedule")),
        )


def _prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {prefix + k: v for k, v in tensors.items()}


def _part(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _read(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["wdcli_checkpoint"])
            return meta, {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise WdcliError(
            f"{path}: not a readable checkpoint ({type(e).__name__}: {e}); delete it and train without --resume"
        ) from None


def _check(path: Path, meta: dict, fp: str, world: int) -> None:
    if meta.get("format") != FORMAT:
        raise WdcliError(
            f"{path}: checkpoint format {meta.get('format')} is not {FORMAT}, the one this wdcli "
            "writes; delete it and train without --resume"
        )
    if meta["fingerprint"] != fp:
        raise WdcliError(
            f"{path}: the spec or its training data changed since this checkpoint was written (or the run it "
            "warm-started from, which shaped the model), so it cannot be resumed; undo the change (resume with the "
            "same --warm-start), or delete the checkpoint and train without --resume"
        )
    if meta.get("processes", 1) != world:
        raise WdcliError(
            f"{path}: written by a run of {meta.get('processes', 1)} process(es); resume it with as many "
            f"(this run has {world}), or delete it and train without --resume"
        )


def checkpoint_path(spec: Spec, output: str | Path | None) -> Path:
    if output is not None:
        out = Path(output)
        return out.parent / f"{out.name}.checkpoint.safetensors"
    assert spec.name is not None, "load_spec names every spec (its file's stem)"
    return Path(spec.train.output) / spec.name / "checkpoint.safetensors"


def fingerprint(spec: Spec) -> str:
    """A hash of the spec (less the settings that may change) and of the training data files' sizes and
    modification times."""
    from ..data.io import expand_paths

    d = spec.model_dump(mode="json")
    d.pop("tune", None)  # what `wdcli tune` searches does not change a run
    for key in MAY_CHANGE:
        d["train"].pop(key, None)
    d["train"]["data"].pop("cache", None)  # the cache gives the batches the files give
    d.pop("verify", None)  # the serving gate's thresholds do not change training
    files = []
    for split in ("train", "validation", "test"):
        paths = getattr(spec.data, split)
        for p in expand_paths(paths) if paths else []:
            st = os.stat(p)
            files.append([str(p), st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps([d, files], sort_keys=True).encode()).hexdigest()
