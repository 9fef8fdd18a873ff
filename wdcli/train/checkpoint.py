"""Checkpoints, so that a killed or interrupted training run continues where it stopped (`train --resume`).

One file, `<runs>/<name>/checkpoint.safetensors` (beside the folder given with `--output`, if any), holds the
model's weights, every optimizer's state (FTRL's z and n, AdaGrad's sums, Adam's moments), the best epoch's
weights so far, the current epoch's permutation of the training rows, and both random generators (the
permutation's and torch's global one, which dropout draws from). Its header's metadata holds the rest as JSON:
the epoch and the position in it, the running loss, the history, the early-stopping state, and a fingerprint
of the spec and the training data, so that a checkpoint is never resumed against a different spec or data.

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
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import WdcliError
from ..spec import Spec

FORMAT = 3  # 2: the batch source's state under source.*, random states under rng.*; 3: optimizer state by parameter
# train settings that may change between a run and its resumption (more epochs, other threads, output, device,
# trackers)
MAY_CHANGE = ("epochs", "threads", "output", "checkpoint", "device", "log")


@dataclass
class Progress:
    """Where a training run is, besides the model, the optimizers and the batch source's own position."""

    epoch: int = 1  # the epoch under way (1-based)
    total: float = 0.0  # this epoch's summed loss so far
    seen: int = 0  # this epoch's rows so far
    history: list[dict] = field(default_factory=list)
    elapsed: float = 0.0  # training seconds before this process


@dataclass
class Saved:
    """What a checkpoint holds, read back."""

    progress: Progress
    source: dict  # the training source's state (its permutation, position and generator)
    rng: dict[str, torch.Tensor]


def checkpoint_path(spec: Spec, output: str | Path | None) -> Path:
    if output is not None:
        out = Path(output)
        return out.parent / f"{out.name}.checkpoint.safetensors"
    return Path(spec.train.output) / spec.name / "checkpoint.safetensors"


def fingerprint(spec: Spec) -> str:
    """A hash of the spec (less the settings that may change) and of the training data files' sizes and
    modification times."""
    from ..data.io import expand_paths

    d = spec.model_dump(mode="json")
    d.pop("tune", None)  # what `wdcli tune` searches does not change a run
    for key in MAY_CHANGE:
        d["train"].pop(key, None)
    d.pop("verify", None)  # the serving gate's thresholds do not change training
    files = []
    for split in ("train", "validation", "test"):
        paths = getattr(spec.data, split)
        for p in expand_paths(paths) if paths else []:
            st = os.stat(p)
            files.append([str(p), st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps([d, files], sort_keys=True).encode()).hexdigest()


def save(
    path: Path,
    fp: str,
    trainer,
    stopper,
    source_state: dict,
    rng: dict[str, torch.Tensor],
    progress: Progress,
    world: int = 1,
) -> None:
    """Write a checkpoint atomically (temporary file, fsync, rename)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, object] = {}
    for k, v in trainer.state().items():
        (tensors if isinstance(v, torch.Tensor) else scalars)[k] = v
    for k, v in (stopper.best_state or {}).items():
        tensors[f"best.{k}"] = v
    for k, v in source_state.items():
        if isinstance(v, torch.Tensor):
            tensors[f"source.{k}"] = v
        elif v is not None:
            scalars[f"source.{k}"] = v
    tensors.update(rng)
    meta = {
        "format": FORMAT,
        "fingerprint": fp,
        "epoch": progress.epoch,
        "total": progress.total,
        "seen": progress.seen,
        "best": stopper.best,
        "since_best": stopper.since_best,
        "has_best": stopper.best_state is not None,
        "history": progress.history,
        "elapsed": progress.elapsed,
        "scalars": scalars,
        "optimizers": len(trainer.optimizers),
        "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "processes": world,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
        str(tmp),
        metadata={"wdcli_checkpoint": json.dumps(meta, default=float)},
    )
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: Path, fp: str, trainer, stopper, world: int = 1) -> Saved:
    """Restore the trainer (model, optimizers) and early stopping from a checkpoint; returns the rest."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["wdcli_checkpoint"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise WdcliError(
            f"{path}: not a readable checkpoint ({type(e).__name__}: {e}); delete it and train without --resume"
        ) from None
    if meta.get("format") != FORMAT:
        raise WdcliError(
            f"{path}: checkpoint format {meta.get('format')} is not {FORMAT}, the one this wdcli "
            "writes; delete it and train without --resume"
        )
    if meta["fingerprint"] != fp:
        raise WdcliError(
            f"{path}: the spec or its training data changed since this checkpoint was written, so it "
            "cannot be resumed; undo the change, or delete the checkpoint and train without --resume"
        )
    if meta.get("processes", 1) != world:
        raise WdcliError(
            f"{path}: written by a run of {meta.get('processes', 1)} process(es); resume it with as many "
            f"(this run has {world}), or delete it and train without --resume"
        )
    if meta["optimizers"] != len(trainer.optimizers):
        raise WdcliError(
            f"{path}: written for {meta['optimizers']} optimizers, the spec makes {len(trainer.optimizers)}"
        )
    flat = {**tensors, **meta["scalars"]}
    trainer.load_state({k: v for k, v in flat.items() if k.startswith(("model.", "optimizer."))})
    stopper.best, stopper.since_best = meta["best"], meta["since_best"]
    device = trainer.runtime.device
    stopper.best_state = (
        {k[5:]: v.to(device) for k, v in tensors.items() if k.startswith("best.")} if meta["has_best"] else None
    )
    source = {k[7:]: v for k, v in flat.items() if k.startswith("source.")}
    rng = {k: v for k, v in tensors.items() if k.startswith("rng.")}
    progress = Progress(
        epoch=meta["epoch"], total=meta["total"], seen=meta["seen"], history=meta["history"], elapsed=meta["elapsed"]
    )
    return Saved(progress, source, rng)


class StopRequests:
    """While training: the first Ctrl-C (or SIGTERM) asks the loop to stop after the current step, write a
    checkpoint and exit; a second Ctrl-C stops at once. Only in the main thread (where signals arrive)."""

    def __init__(self):
        self.signal: int | None = None
        self._old: dict[int, object] = {}

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
