"""Set-up of a run's data: fit the pipeline on the training rows, then make each part's batch source, in memory
or streamed from the files (`train.data.mode`; `auto` keeps a part in memory when its encoded rows fit the
memory budget).

With frames given (Python callers, `compare`), everything is in memory. With files, the pipeline is fitted in a
streamed pass over the training rows, and even the in-memory parts are encoded chunk by chunk: the raw table is
never held whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import polars as pl

from ..data.batch import Batch
from ..data.files import Files
from ..data.memory import InMemory
from ..data.split import PARTS, split_names
from ..data.stream import Stream
from ..errors import DataError
from ..features import Encoded, FittedPipeline, fit_pipeline, transform
from ..spec import Spec
from .runtime import Runtime

Progress = Callable[[str, int | None], Callable[[int], None]]  # (description, total) -> advance(rows)


def _quiet(description: str, total: int | None) -> Callable[[int], None]:
    return lambda rows: None


def memory_budget(mb: int | None) -> int:
    """Bytes for encoded rows: as configured, else a quarter of the machine's physical memory."""
    if mb is not None:
        return mb * 2**20
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def default_readers(runtime: Runtime) -> int:
    """Reader processes of a stream: half the cores, up to 8, to feed a GPU; none (a reader thread) on a CPU,
    whose cores the training itself uses."""
    return min(8, (os.cpu_count() or 1) // 2) if runtime.device.type == "cuda" else 0


def row_bytes(enc: Encoded) -> float:
    """Bytes an encoded row takes in memory, measured on a sample."""
    n = max(enc.n, 1)
    total = enc.sparse.nbytes + enc.dense.nbytes + sum(a.nbytes for a in (enc.label, enc.weight) if a is not None)
    total += sum(b.ids.nbytes + b.offsets.nbytes + b.weights.nbytes for b in enc.multi.values())
    return total / n


def prepare(
    spec: Spec, frames: dict[str, pl.DataFrame] | None, runtime: Runtime, progress: Progress = _quiet
) -> tuple[FittedPipeline, dict, dict[str, str]]:
    """The fitted pipeline, a batch source for every part with rows, and how messages name each part."""
    cfg = spec.train
    if frames is not None:
        return _from_frames(spec, frames, runtime)
    names = split_names(spec.data)
    parts = Files.of(spec.data)
    train = parts["train"]
    if cfg.max_rows is not None:
        train.cap(cfg.max_rows)
    read = cfg.data.read_batch_rows
    expected = _expected_rows(train) if cfg.max_rows is None else min(_expected_rows(train), cfg.max_rows)
    passes = iter(["fitting the pipeline", "fitting the crosses (a second pass)"])
    fitted = fit_pipeline(spec, lambda: _counted(train.frames(read), progress(next(passes), expected)), names["train"])
    if fitted.rows < 2:
        raise DataError(
            f"{names['train']}: {fitted.rows} row{'s' if fitted.rows != 1 else ''} to train on; "
            "training needs at least 2"
        )
    sample = next(train.frames(min(read, 10_000)))
    per_row = row_bytes(transform(fitted, sample.head(10_000), names["train"], with_label=True))
    budget = memory_budget(cfg.data.memory_budget_mb)
    sources = {}
    for part in ("validation", "test", "train"):  # held-out parts first: they are read every epoch
        if part not in parts:
            continue
        rows = fitted.rows if part == "train" else _expected_rows(parts[part])
        mode = cfg.data.mode
        if mode == "auto":
            mode = "memory" if rows * per_row <= budget else "stream"
            budget -= rows * per_row if mode == "memory" else 0
        source = _source(spec, parts[part], part, rows, mode == "memory", fitted, names, runtime, progress)
        if source is not None:
            sources[part] = source
    return fitted, {p: sources[p] for p in ("train", "validation", "test") if p in sources}, names


def _source(spec: Spec, files: Files, part: str, rows: int, memory: bool, fitted, names, runtime, progress):
    """A part's batch source: its rows encoded in memory (None when it has none), or streamed from its files."""
    cfg = spec.train
    read = cfg.data.read_batch_rows
    if memory:
        advance = progress(f"encoding {part} rows", rows)
        encoded = [
            transform(fitted, f, names[part], with_label=True) for f in _counted(files.frames(read), advance) if len(f)
        ]
        if not encoded:
            return None
        batch = Batch.of(Encoded.concat(encoded), runtime.device)
        return InMemory(batch, cfg.batch_size, cfg.seed, runtime.rank, runtime.world)
    readers = cfg.data.readers if cfg.data.readers is not None else default_readers(runtime)
    return Stream(
        files,
        fitted,
        cfg.batch_size,
        cfg.seed,
        rows,
        cfg.data.shuffle_buffer,
        read,
        names[part],
        runtime.device,
        rank=runtime.rank,
        world=runtime.world,
        processes=readers if part == "train" else 0,
    )


def _counted(frames, advance: Callable[[int], None]):
    for f in frames:
        advance(len(f))
        yield f


def _expected_rows(files: Files) -> int:
    """A part's rows: all its files' rows, or its expected share of them (a split by time knows its rows)."""
    total, rule = sum(files.counts), files.rule
    if rule is None:
        return total
    if rule.time is not None:
        return rule.time.rows[PARTS.index(files.part)]
    share = {"train": 1 - rule.validation - rule.test, "validation": rule.validation, "test": rule.test}
    return int(round(total * share[files.part]))


def _from_frames(spec: Spec, frames: dict[str, pl.DataFrame], runtime: Runtime):
    names = {"train": "training data", "validation": "validation data", "test": "test data"}
    cfg = spec.train
    train_df = frames["train"]
    if cfg.max_rows is not None and len(train_df) > cfg.max_rows:
        train_df = train_df.head(cfg.max_rows)
    if len(train_df) < 2:
        n = len(train_df)
        if n == 0:
            fit_pipeline(spec, train_df, names["train"])  # its clear error for no rows (or missing columns)
        raise DataError(f"{names['train']}: {n} row{'s' if n != 1 else ''} to train on; training needs at least 2")
    fitted = fit_pipeline(spec, train_df, names["train"])
    sources = {}
    for part, df in (("train", train_df), ("validation", frames.get("validation")), ("test", frames.get("test"))):
        if df is not None and len(df):
            enc = transform(fitted, df, names[part], with_label=True)
            sources[part] = InMemory(
                Batch.of(enc, runtime.device), cfg.batch_size, cfg.seed, runtime.rank, runtime.world
            )
    return fitted, sources, names
