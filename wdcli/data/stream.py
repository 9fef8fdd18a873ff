"""The streamed batch source: a part's rows read from files, encoded and shuffled window by window, so that
training and evaluation hold a few windows of rows, never the data set.

An epoch visits the files' chunks in a seeded order (every chunk of Parquet files; for text files, the files
in a seeded order and each file's chunks in order, since text is read sequentially). Consecutive chunks make a
window of about `shuffle_buffer` rows, which is encoded and permuted by its own seeded generator before it is
cut into batches. A background thread reads and encodes the next window while the current one trains.

With an encoded cache (`wdcli.data.cache`), a window is its chunks' shards, one after the other: the rows
encoding the window gives, so the batches are the same, and a chunk missing from the cache is encoded and kept
(the first epoch of a new cache; later epochs and runs encode nothing).

Its `Position` is (epoch seed, window, rows handed out of that window) and the generator: a resumed run re-reads
the window and continues with the very same batches. It is a `BatchSource` (`wdcli.data.source`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import torch

from ..features import Encoded, FittedPipeline, transform
from .batch import Batch
from .cache import Cache, empty
from .cpus import usable_cpus
from .files import Chunk, ChunkReader, Files
from .source import Position, Resumable


def prefetch(fn: Callable, items: Iterable, workers: int = 1, ahead: int = 1) -> Iterator:
    """fn(item) for each item, in order, made by `workers` background threads while the caller uses the results:
    at most `workers + ahead - 1` are made beyond the one in use. A worker's error is raised here."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix="wdcli-read")
    pending: deque = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > workers + ahead - 1:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def readers() -> int:
    """Threads that read and encode windows: one on small machines, up to four where there are cores to spare
    (of those this process may use: `usable_cpus`)."""
    return max(1, min(4, usable_cpus() // 4))


def _seed(*parts: int) -> int:
    """A 63-bit seed from integers, the same on every machine (splitmix-style mixing)."""
    mask, h = (1 << 64) - 1, 0x9E3779B97F4A7C15
    for p in parts:
        h = ((h ^ (p & mask)) * 0xBF58476D1CE4E5B9) & mask
        h ^= h >> 31
    return h >> 1


class WindowEncoder:
    """Reads a window's chunks (this process's share of them) and encodes its rows: what a reader thread or a
    reader process runs. Plain data, so that it travels to reader processes."""

    def __init__(
        self, files: Files, fitted: FittedPipeline, where: str, rank: int, world: int, cache: Cache | None = None
    ):
        self.files, self.fitted, self.where, self.rank, self.world = files, fitted, where, rank, world
        self.cache = cache
        # text files are read in order by one reader (and so one thread); Parquet chunks by any reader
        self.reader = None if files.seekable else ChunkReader(files.paths, files.separator)

    def __call__(self, chunks: tuple[Chunk, ...]) -> Batch:
        mine = list(chunks[self.rank :: self.world])
        if self.cache is not None:
            enc = self.cache.read(self.files.part, mine or list(chunks[:1]), self.encode)
            return Batch.of(enc if mine else empty(enc))
        frames = list(self.files.frames(chunks=mine or list(chunks[:1]), reader=self.reader))
        frame = pl.concat(frames) if len(frames) > 1 else frames[0]
        if not mine:  # no chunk of the epoch's last window for this process: none of its rows
            frame = frame.head(0)
        return Batch.of(transform(self.fitted, frame, self.where, with_label=True))

    def encode(self, chunk: Chunk) -> Encoded:
        """One chunk's rows, encoded."""
        frame = next(self.files.frames(chunks=[chunk], reader=self.reader))
        return transform(self.fitted, frame, self.where, with_label=True)


class _Windows(torch.utils.data.Dataset):
    """The windows a DataLoader's reader processes encode, by their chunks."""

    def __init__(self, encoder: WindowEncoder):
        self.encoder = encoder

    def __getitem__(self, chunks: tuple[Chunk, ...]) -> Batch:
        return self.encoder(chunks)


class _Order(torch.utils.data.Sampler):
    """The windows of the epoch under way, in order (set before each epoch)."""

    def __init__(self):
        self.items: list = []

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class Stream(Resumable):
    """Batches of a part's rows streamed from files (the training part: `batches`; any part: `ordered`)."""

    def __init__(
        self,
        files: Files,
        fitted: FittedPipeline,
        batch_size: int,
        seed: int,
        rows: int,
        shuffle_buffer: int = 1_000_000,
        read_rows: int = 250_000,
        where: str = "data",
        device: torch.device | None = None,
        on_read: Callable[[int], None] | None = None,
        rank: int = 0,
        world: int = 1,
        processes: int = 0,
        cache: Cache | None = None,
    ):
        self.files, self.fitted, self.where = files, fitted, where
        # in a data-parallel run each process reads its share of each window's chunks and trains on batches of
        # batch_size / world rows; the processes agree on each window's number of steps
        self.rank, self.world = rank, world
        self.batch_size = batch_size if world == 1 else max(1, batch_size // world)
        self.global_rows = 0  # rows of the last batch of all processes together
        self.rows = rows  # the part's rows (counted when the pipeline was fitted)
        self.read_rows, self.window_chunks = read_rows, max(world, shuffle_buffer // read_rows)
        self.device = device or torch.device("cpu")
        self.generator = torch.Generator().manual_seed(seed)
        self.on_read = on_read
        self.encoder = WindowEncoder(files, fitted, where, rank, world, cache)
        self.cache = cache
        self.reader = self.encoder.reader
        self.workers = readers() if files.seekable else 1
        # reader processes (torch's DataLoader, spawned, kept across epochs) where threads would contend for the
        # interpreter: many cores feeding a GPU
        self.processes = processes if files.seekable else 0
        self._loader: torch.utils.data.DataLoader | None = None
        self._epoch_seed: int | None = None
        self._window, self._taken, self._at = 0, 0, 0
        self._resume: Position | None = None  # a checkpoint's, for the next epoch

    # ------------------------------------------------------------------------------------------ training
    def _order(self, epoch_seed: int) -> list[list[Chunk]]:
        """This epoch's windows: lists of chunks."""
        chunks = self.files.chunks(self.read_rows)
        g = torch.Generator().manual_seed(epoch_seed)
        if self.files.seekable:
            chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=g).tolist()]
        else:  # text is read in order: shuffle the files, keep each file's chunks in order
            order = torch.randperm(len(self.files.paths), generator=g).tolist()
            chunks = [c for f in order for c in chunks if c.file == f]
        k = self.window_chunks
        return [chunks[i : i + k] for i in range(0, len(chunks), k)]

    def _windows(self, windows: list[list[Chunk]]) -> Iterator[Batch]:
        """The encoded windows, in order, made ahead by reader threads or processes."""
        if self.processes:
            if self._loader is None:
                self._order_sampler = _Order()
                self._loader = torch.utils.data.DataLoader(
                    _Windows(self.encoder),
                    batch_size=None,
                    sampler=self._order_sampler,
                    num_workers=self.processes,
                    multiprocessing_context="spawn",
                    persistent_workers=True,
                    prefetch_factor=2,
                    pin_memory=self.device.type == "cuda",
                )
            self._order_sampler.items = [tuple(w) for w in windows]
            windows_out: Iterator = iter(self._loader)
        else:
            pin = self.device.type == "cuda"  # pinned, so that the copy to the GPU overlaps
            windows_out = prefetch(
                lambda w: (lambda b: b.pin_memory() if pin else b)(self.encoder(tuple(w))), windows, self.workers
            )
        for data in windows_out:
            if self.on_read:
                self.on_read(len(data))
            yield data

    def _steps(self, rows: int) -> int:
        """A window's batches: all of them in one process; in several, the full batches all processes have."""
        if self.world == 1:
            return -(-rows // self.batch_size)
        import torch.distributed as dist

        steps = torch.tensor([rows // self.batch_size], device=self.device)
        dist.all_reduce(steps, op=dist.ReduceOp.MIN)
        return int(steps.item())

    def batches(self) -> Iterator[Batch]:
        """One epoch of training batches: a new epoch's, or the rest of a restored one."""
        resume, self._resume = self._resume, None
        if resume is not None and resume.epoch_seed is not None:
            self._epoch_seed, self._window, self._taken = resume.epoch_seed, resume.window, resume.taken
            self._at = resume.at
        else:
            self._epoch_seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
            self._window, self._taken, self._at = 0, 0, 0
        windows = self._order(self._epoch_seed)
        first, skip = self._window, self._taken
        for w, data in enumerate(self._windows(windows[first:]), start=first):
            seed = _seed(self._epoch_seed, w, self.rank)
            perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)).to(self.device)
            data = data.to(self.device, non_blocking=True)
            end = min(len(data), self._steps(len(data)) * self.batch_size)
            self._window, self._taken = w, skip
            for a in range(skip, end, self.batch_size):
                idx = perm[a : min(a + self.batch_size, end)]
                self._taken += len(idx)
                self._at += len(idx) * self.world
                self.global_rows = len(idx) * self.world
                yield data.rows(idx)
            skip = 0
            self._window, self._taken = w + 1, 0
        self._epoch_seed = None

    def _in_epoch(self) -> bool:
        return self._epoch_seed is not None

    def _here(self) -> Position:
        return Position(self.generator.get_state(), self.at, None, self._epoch_seed, self._window, self._taken)

    # ---------------------------------------------------------------------------------------- evaluation
    def ordered(self, rows: int = 1024, rank: int = 0, world: int = 1) -> Iterator[Batch]:
        """Every row of the part in file order (this process's share: every world-th chunk), in batches of
        `rows`."""

        def encoded(chunk: Chunk) -> Encoded | None:
            enc: Encoded | None
            if self.cache is not None:
                enc = self.cache.read(self.files.part, [chunk], self.encoder.encode)
            else:
                frame = next(self.files.frames(chunks=[chunk], reader=self.reader))
                enc = transform(self.fitted, frame, self.where, with_label=True) if len(frame) else None
            if self.on_read:
                self.on_read(enc.n if enc is not None else 0)
            return enc if enc is not None and enc.n else None

        for enc in prefetch(encoded, self.files.chunks(self.read_rows)[rank::world], self.workers):
            if enc is not None:
                yield from Batch.of(enc, self.device).chunks(rows)
