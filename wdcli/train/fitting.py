"""The fit of a run's training rows from its files: in one process, or in a job of several, each process fitting
its share of the files' chunks and the fitted states merged (`wdcli.features.fit`), which gives every process
the pipeline one process gives, byte for byte, in about 1/N of the time.

    fitted = fit_training_rows(spec, runtime)    # the spec's training files (train.max_rows applied)

A share is a run of consecutive chunks, so the shares one after the other are the rows in file order. Where a
share starts among the training rows (which the row sample's keys hash) is counted first: from the files' row
counts, or, when the training files also hold the held-out rows, from the columns the split rule reads (the key
column, the time and group columns of a split by time, or none: a row's part follows from its position).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import polars as pl

from ..data.files import Chunk, Files
from ..data.io import _read_error, scan_one
from ..data.split import Rule
from ..features import FittedPipeline, fit_pipeline
from ..spec import Spec
from .runtime import Runtime

Progress = Callable[[str, int | None], Callable[[int], None]]  # (description, total) -> advance(rows)


def quiet(description: str, total: int | None) -> Callable[[int], None]:
    return lambda rows: None


def fit_training_rows(
    spec: Spec,
    runtime: Runtime,
    train: Files | None = None,
    progress: Progress = quiet,
    expected: int | None = None,
    where: str = "training data",
) -> FittedPipeline:
    """Fit the pipeline on the training rows (`train`: the spec's by default; capped at train.max_rows here),
    in shares when the runtime is a job of several processes. `expected`: the rows `progress` is told to
    expect."""
    cfg = spec.train
    train = train if train is not None else Files.of(spec.data)["train"]
    if cfg.max_rows is not None:
        train.cap(cfg.max_rows)
    passes = iter(["fitting the pipeline", "fitting the crosses (a second pass)"])
    read = cfg.data.read_batch_rows
    if not runtime.distributed:
        return fit_pipeline(spec, lambda: _counted(train.frames(read), progress(next(passes), expected)), where)
    chunks = train.chunks(read)
    mine = chunks[len(chunks) * runtime.rank // runtime.world : len(chunks) * (runtime.rank + 1) // runtime.world]
    before = _gather(sum(_kept(train, c) for c in mine))[: runtime.rank]
    share = expected // runtime.world if expected is not None else None

    def frames() -> Iterable[pl.DataFrame]:
        return _counted(train.frames(chunks=mine), progress(next(passes), share))

    return fit_pipeline(spec, frames, where, _gather, sum(before), (runtime.rank, runtime.world))


def _counted(frames: Iterable[pl.DataFrame], advance: Callable[[int], None]) -> Iterator[pl.DataFrame]:
    for f in frames:
        advance(len(f))
        yield f


def _gather(value: Any) -> list[Any]:
    """Every process's value, in the order of the processes. An array of numbers goes as one tensor: the fit's
    quantile sample is about 100 MB a process, which pickling (all_gather_object) copies twice and sends slower."""
    import torch
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size()
    if not (isinstance(value, np.ndarray) and value.dtype == np.float64):
        dist.all_gather_object(out, value)
        return out
    dist.all_gather_object(out, value.shape)
    shapes, size = list(out), max(int(np.prod(s)) for s in out)
    if size == 0:  # (every share empty: nothing to send)
        return [np.zeros(s) for s in shapes]
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    mine = torch.nn.functional.pad(torch.from_numpy(value.reshape(-1)).to(device), (0, size - value.size))
    parts = [torch.empty_like(mine) for _ in shapes]
    dist.all_gather(parts, mine)
    return [p[: int(np.prod(s))].cpu().numpy().reshape(s) for p, s in zip(parts, shapes)]


def _kept(files: Files, chunk: Chunk) -> int:
    """The rows of a chunk that belong to the part, read from the columns the split rule reads (none: a row's
    part follows from its position)."""
    if files.rule is None:
        return chunk.rows
    path, reads = files.paths[chunk.file], _reads(files.rule)
    frame = pl.DataFrame({"row": np.zeros(chunk.rows, dtype=np.int8)})
    if reads:
        try:
            lf = scan_one(path, files.separator)
            present = [c for c in reads if c in lf.collect_schema().names()]  # (the rule names a missing one)
            frame = lf.select(present).slice(chunk.start, chunk.rows).collect() if present else frame
        except (pl.exceptions.PolarsError, OSError) as e:
            raise _read_error(path, e) from None
    return len(files.keep(frame, chunk))


def _reads(rule: Rule) -> list[str]:
    """The columns a split rule reads: a split by time its time (and group) column, a seeded one its key."""
    if rule.time is not None:
        return [c for c in (rule.time.column, rule.time.per) if c is not None]
    return [rule.key] if rule.key is not None else []
