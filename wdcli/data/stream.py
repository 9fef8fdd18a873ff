"""The streamed batch source: a part's rows read from files, encoded and shuffled window by window, so that
training and evaluation hold a few windows of rows, never the data set.

An epoch visits the files' chunks in a seeded order (every chunk of Parquet files; for text files, the files
in a seeded order and each file's chunks in order, since text is read sequentially). Consecutive chunks make a
window of about `shuffle_buffer` rows, which is encoded and permuted by its own seeded generator before it is
cut into batches. A background thread reads and encodes the next window while the current one trains.

Its position is (epoch seed, window, rows handed out of that window): a checkpoint holds three numbers and the
generator, and a resumed run re-reads the window and continues with the very same batches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import polars as pl
import torch

from ..features import Encoded, FittedPipeline, transform
from .batch import Batch
from .files import Chunk, Files


def prefetch(items: Iterator, depth: int = 1) -> Iterator:
    """The items of an iterator, made by a background thread up to `depth` ahead. Errors are raised here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which raises it
            q.put((None, e))

    thread = threading.Thread(target=work, daemon=True, name="wdcli-prefetch")
    thread.start()
    try:
        while True:
            item, error = q.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting to put, then let it end
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.05)


def _seed(*parts: int) -> int:
    """A 63-bit seed from integers, the same on every machine (splitmix-style mixing)."""
    mask, h = (1 << 64) - 1, 0x9E3779B97F4A7C15
    for p in parts:
        h = ((h ^ (p & mask)) * 0xBF58476D1CE4E5B9) & mask
        h ^= h >> 31
    return h >> 1


class Stream:
    """Batches of a part's rows streamed from files (the training part: `batches`; any part: `ordered`)."""

    def __init__(self, files: Files, fitted: FittedPipeline, batch_size: int, seed: int, rows: int,
                 shuffle_buffer: int = 1_000_000, read_rows: int = 250_000, where: str = "data",
                 device: torch.device | None = None, on_read: Callable[[int], None] | None = None):
        self.files, self.fitted, self.batch_size, self.where = files, fitted, batch_size, where
        self.rows = rows  # the part's rows (counted when the pipeline was fitted)
        self.read_rows, self.window_chunks = read_rows, max(1, shuffle_buffer // read_rows)
        self.device = device or torch.device("cpu")
        self.generator = torch.Generator().manual_seed(seed)
        self.on_read = on_read
        self._epoch_seed: int | None = None
        self._window, self._taken, self._at = 0, 0, 0

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
        return [chunks[i:i + k] for i in range(0, len(chunks), k)]

    def _encode(self, chunks: list[Chunk]) -> Batch:
        frames = list(self.files.frames(chunks=chunks))
        frame = pl.concat(frames) if len(frames) > 1 else frames[0]
        if self.on_read:
            self.on_read(len(frame))
        return Batch.of(transform(self.fitted, frame, self.where, with_label=True))

    def batches(self, state: dict | None = None) -> Iterator[Batch]:
        """One epoch of training batches; from `state` (a checkpoint's) if given."""
        if state is not None and state.get("epoch_seed") is not None:
            self._epoch_seed, self._window, self._taken = int(state["epoch_seed"]), int(state["window"]), \
                int(state["taken"])
            self._at = int(state["at"])
        else:
            self._epoch_seed = int(torch.randint(0, 2 ** 62, (1,), generator=self.generator))
            self._window, self._taken, self._at = 0, 0, 0
        windows = self._order(self._epoch_seed)
        first, skip = self._window, self._taken
        for w, data in enumerate(prefetch(self._encode(c) for c in windows[first:]), start=first):
            perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(_seed(self._epoch_seed, w)))
            data = data.to(self.device)
            perm = perm.to(self.device)
            self._window, self._taken = w, skip
            for a in range(skip, len(data), self.batch_size):
                idx = perm[a:a + self.batch_size]
                self._taken += len(idx)
                self._at += len(idx)
                yield data.rows(idx)
            skip = 0
            self._window, self._taken = w + 1, 0
        self._epoch_seed = None

    @property
    def position(self) -> int:
        """Rows of this epoch already handed out."""
        return self._at if self._epoch_seed is not None else 0

    def state(self) -> dict:
        return {"epoch_seed": self._epoch_seed, "window": self._window, "taken": self._taken, "at": self.position,
                "generator": self.generator.get_state()}

    def restore(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    # ---------------------------------------------------------------------------------------- evaluation
    def ordered(self, rows: int = 1024) -> Iterator[Batch]:
        """Every row of the part in file order, in batches of `rows`."""
        def encoded() -> Iterator[Encoded]:
            for frame in self.files.frames(self.read_rows):
                if len(frame):
                    if self.on_read:
                        self.on_read(len(frame))
                    yield transform(self.fitted, frame, self.where, with_label=True)

        for enc in prefetch(encoded()):
            yield from Batch.of(enc, self.device).chunks(rows)
