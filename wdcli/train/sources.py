"""Set-up of a run's data: fit the pipeline on the training rows, then make each part's batch source, in memory
or streamed from the files (`train.data.mode`; `auto` keeps a part in memory when its encoded rows fit the
memory budget).

With frames given (Python callers, `compare`), everything is in memory. With files, the pipeline is fitted in a
streamed pass over the training rows, and even the in-memory parts are encoded chunk by chunk: the raw table is
never held whole. With an encoded cache (`train.data.cache`, `wdcli.data.cache`), the pipeline and each chunk's
encoded rows are kept there the first time and read from there afterwards: a later run of the same features on
the same files neither fits nor encodes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import nullcontext

import polars as pl

from ..data.batch import Batch
from ..data.cache import Cache, Encodings, cache_root, concat
from ..data.files import Chunk, Files
from ..data.io import LIKELY, scan_one
from ..data.memory import InMemory
from ..data.split import PARTS, split_names
from ..data.stream import Stream
from ..draft.profile import share
from ..errors import DataError, counted
from ..features import Encoded, FittedPipeline, fit_pipeline, transform
from ..spec import Spec
from ..spec.settings import batch_rows
from ..spec.types import Multivalent
from .fitting import Progress, fit_training_rows, quiet
from .runtime import Runtime

SAMPLED = 1_000  # first rows of the first training file whose lists `check_separators` looks at
SEPARATED = 0.2  # share of sampled values that must hold another separator for it to be named as the likely one


def check_separators(spec: Spec) -> list[str]:
    """A multivalent column's separator that occurs in none of the first values of the first training file: an
    error when another separator is in many of them (`separator: ","` on 'Comedy|Drama'), else a warning (each
    row holds one value: a categorical column?), returned. Fitting cannot tell (a whole string is one token to
    it), so `wdcli validate` and every training (train, compare, tune) call this before they fit."""
    if not any(isinstance(c, Multivalent) and c.separator is not None for c in spec.columns.values()):
        return []
    where = Files.of(spec.data)["train"].paths[0]
    try:
        head = scan_one(where, spec.data.csv.separator).head(SAMPLED).collect()
    except (pl.exceptions.PolarsError, OSError):  # (a file that cannot be read: reading it to fit says why)
        return []
    errors, warnings = [], []
    for name, col in spec.columns.items():
        if not isinstance(col, Multivalent) or col.separator is None or head.schema.get(name) != pl.String:
            continue  # (not text to split: fitting says what is wrong with it)
        text = head[name].cast(pl.String).str.strip_chars().drop_nulls()
        values = text.filter((text != "") & ~text.is_in(col.missing))
        if len(values) < 20 or values.str.contains(col.separator, literal=True).any():
            continue
        shares = {c: share(values.str.contains(c, literal=True)) for c in LIKELY if c != col.separator}
        likely = max(shares, key=lambda c: shares[c])
        what = (
            f"columns.{name}.separator {col.separator!r} occurs in none of the first {len(values):,} values of "
            f"'{name}' in {where}"
        )
        if shares[likely] >= SEPARATED:
            example = values.filter(values.str.contains(likely, literal=True))[0]
            errors.append(f"{what} (such as {example!r}); they look separated by {likely!r}: set separator: {likely!r}")
        else:
            warnings.append(f"{what}: each row holds one value; if that is so, declare it kind: categorical")
    if errors:
        raise DataError("; ".join(errors))
    return warnings


def memory_budget(mb: int | None) -> int:
    """Bytes for encoded rows: as configured, else a quarter of the machine's physical memory."""
    if mb is not None:
        return mb * 2**20
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def row_bytes(enc: Encoded) -> float:
    """Bytes an encoded row takes in memory, measured on a sample."""
    n = max(enc.n, 1)
    total = enc.sparse.nbytes + enc.dense.nbytes + sum(a.nbytes for a in (enc.label, enc.weight) if a is not None)
    total += sum(b.ids.nbytes + b.offsets.nbytes + b.weights.nbytes for b in enc.multi.values())
    return total / n


def prepare(
    spec: Spec,
    frames: dict[str, pl.DataFrame] | None,
    runtime: Runtime,
    progress: Progress = quiet,
    reuse: Encodings | None = None,
    adjust: Callable[[FittedPipeline], FittedPipeline] | None = None,
) -> tuple[FittedPipeline, dict, dict[str, str]]:
    """The fitted pipeline, a batch source for every part with rows, and how messages name each part. `reuse`
    keeps the encodings of given frames for later runs on them. `adjust` changes the fit before any row is
    encoded (a warm start's kept numbers); a fit it changes is neither reused nor cached."""
    cfg = spec.train
    if frames is not None:
        return _from_frames(spec, frames, runtime, reuse, adjust)
    names = split_names(spec.data)
    parts = Files.of(spec.data)
    train = parts["train"]
    read = cfg.data.read_batch_rows
    root = cache_root(cfg.data.cache, cfg.output)
    cache = Cache.open(root, spec, parts) if root is not None else None
    try:
        fitted = _fitted(spec, train, cache, names["train"], runtime, progress)
    except BaseException:
        if cache is not None:
            cache.abandon()  # a bad column or a stop while fitting leaves no cache behind
        raise
    if fitted.rows < 2:
        raise DataError(f"{names['train']}: {counted(fitted.rows, 'row')} to train on; training needs at least 2")
    if adjust is not None and (adjusted := adjust(fitted)) is not fitted:
        fitted = adjusted  # (encoded otherwise than the cache's rows: read from the files)
        if cache is not None:
            cache.close()
        cache = None
    first = train.chunks(read)[:1]
    kept = cache.load("train", first[0]) if cache is not None and first else None
    if kept is None:
        kept = transform(fitted, next(train.frames(min(read, 10_000))).head(10_000), names["train"], with_label=True)
    per_row = row_bytes(kept)
    budget: float = memory_budget(cfg.data.memory_budget_mb)  # bytes left for parts held in memory
    sources = {}
    for part in ("validation", "test", "train"):  # held-out parts first: they are read every epoch
        if part not in parts:
            continue
        rows = fitted.rows if part == "train" else _expected_rows(parts[part])
        mode = cfg.data.mode
        if mode == "auto":
            mode = "memory" if rows * per_row <= budget else "stream"
            budget -= rows * per_row if mode == "memory" else 0
        source = _source(spec, parts[part], part, rows, mode == "memory", fitted, names, runtime, progress, cache)
        if source is not None:
            sources[part] = source
    return fitted, {p: sources[p] for p in ("train", "validation", "test") if p in sources}, names


def _fitted(spec: Spec, train: Files, cache: Cache | None, where: str, runtime: Runtime, progress: Progress):
    """The fitted pipeline: the cache's (where train.max_rows ended the rows with it), or fitted on the training
    rows (in shares, in a job of processes: `wdcli.train.fitting`) and kept in the cache. A run waits while
    another fits the one it would fit; the processes of a job take the first process's answer."""
    cfg = spec.train
    with cache.fitting() if cache is not None and runtime.world == 1 else nullcontext():
        kept = cache.pipeline(spec) if cache is not None else None
        if cache is not None and _agree(runtime, kept is not None):
            kept = kept or cache.pipeline(spec)  # (kept since this process looked)
            assert kept is not None, "the first process found a fitted pipeline in the cache"
            fitted, train.limit = kept
            return fitted
        expected = _expected_rows(train) if cfg.max_rows is None else min(_expected_rows(train), cfg.max_rows)
        fitted = fit_training_rows(spec, runtime, train, progress, expected, where)
        if cache is not None and runtime.main:
            cache.keep(fitted, train.limit)
        return fitted


def _agree(runtime: Runtime, value: bool) -> bool:
    """The first process's value, in every process of a job."""
    if not runtime.distributed:
        return value
    import torch.distributed as dist

    said = [value]
    dist.broadcast_object_list(said, src=0)
    return bool(said[0])


def _encoder(files: Files, fitted: FittedPipeline, where: str) -> Callable[[Chunk], Encoded]:
    """Encodes one chunk of a part's rows (text files read in order by one reader)."""
    reader = files.reader()
    return lambda c: transform(fitted, next(files.frames(chunks=[c], reader=reader)), where, with_label=True)


def _source(spec: Spec, files: Files, part: str, rows: int, memory: bool, fitted, names, runtime, progress, cache):
    """A part's batch source: its rows encoded in memory (None when it has none), or streamed from its files;
    through the cache, if any."""
    cfg = spec.train
    read = cfg.data.read_batch_rows
    if memory:
        advance = progress(f"encoding {part} rows", rows)
        if cache is None:
            frames = _counted(files.frames(read), advance)
            encoded = [transform(fitted, f, names[part], with_label=True) for f in frames if len(f)]
        else:
            each = cache.each(part, files.chunks(read), _encoder(files, fitted, names[part]))
            encoded = [e for e in _counted(each, advance) if e.n]
        if not encoded:
            return None
        batch = Batch.of(concat(encoded) if cache is not None else Encoded.concat(encoded), runtime.device)
        return InMemory(batch, batch_rows(cfg, fitted.rows), cfg.seed, runtime.rank, runtime.world)
    return Stream(
        files,
        fitted,
        batch_rows(cfg, fitted.rows),
        cfg.seed,
        rows,
        cfg.data.shuffle_buffer,
        read,
        names[part],
        runtime.device,
        rank=runtime.rank,
        world=runtime.world,
        processes=(cfg.data.readers or 0) if part == "train" else 0,
        cache=cache,
    )


def _counted(items, advance: Callable[[int], None]):
    """The frames (or encodings) as they come, each one's rows told to `advance`."""
    for item in items:
        advance(item.n if isinstance(item, Encoded) else len(item))
        yield item


def _expected_rows(files: Files) -> int:
    """A part's rows: all its files' rows, or its expected share of them (a split by time knows its rows)."""
    total, rule = sum(files.counts), files.rule
    if rule is None:
        return total
    if rule.time is not None:
        return rule.time.rows[PARTS.index(files.part)]
    share = {"train": 1 - rule.validation - rule.test, "validation": rule.validation, "test": rule.test}
    return int(round(total * share[files.part]))


def _from_frames(
    spec: Spec,
    frames: dict[str, pl.DataFrame],
    runtime: Runtime,
    reuse: Encodings | None = None,
    adjust: Callable[[FittedPipeline], FittedPipeline] | None = None,
):
    """Every part in memory from given frames: fitted and encoded here, or kept from an earlier run on the same
    frames with the same features (`reuse`; not with `adjust`, which changes the fit before encoding)."""
    names = {"train": "training data", "validation": "validation data", "test": "test data"}
    cfg = spec.train
    reuse = reuse if adjust is None else None
    kept = reuse.get(spec) if reuse is not None else None
    fitted, encoded = kept if kept is not None else _encode_frames(spec, frames, names, adjust)
    if reuse is not None and kept is None:
        reuse.put(spec, fitted, encoded)
    sources = {
        part: InMemory(
            Batch.of(enc, runtime.device), batch_rows(cfg, fitted.rows), cfg.seed, runtime.rank, runtime.world
        )
        for part, enc in encoded.items()
    }
    return fitted, sources, names


def _encode_frames(
    spec: Spec,
    frames: dict[str, pl.DataFrame],
    names: dict[str, str],
    adjust: Callable[[FittedPipeline], FittedPipeline] | None = None,
) -> tuple[FittedPipeline, dict[str, Encoded]]:
    cfg = spec.train
    train_df = frames["train"]
    if cfg.max_rows is not None and len(train_df) > cfg.max_rows:
        train_df = train_df.head(cfg.max_rows)
    if len(train_df) < 2:
        n = len(train_df)
        if n == 0:
            fit_pipeline(spec, train_df, names["train"])  # its clear error for no rows (or missing columns)
        raise DataError(f"{names['train']}: {counted(n, 'row')} to train on; training needs at least 2")
    fitted = fit_pipeline(spec, train_df, names["train"])
    fitted = adjust(fitted) if adjust is not None else fitted
    encoded = {}
    for part, df in (("train", train_df), ("validation", frames.get("validation")), ("test", frames.get("test"))):
        if df is not None and len(df):
            encoded[part] = transform(fitted, df, names[part], with_label=True)
    return fitted, encoded
