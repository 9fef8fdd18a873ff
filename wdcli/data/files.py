"""A part's rows (train, validation or test) in files, read chunk by chunk: what streaming fit, streaming
training and streaming evaluation read from.

A chunk is a range of a file's rows. Parquet chunks are read by slicing (only the row groups they touch);
text formats (CSV, TSV, NDJSON) are read in order by one reader per file, so a file is never re-parsed from its
start for each chunk. Each chunk is filtered to the part's rows by the split rule (`wdcli.data.split`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..errors import DataError
from .io import _read_error, expand_paths, file_format, scan_one
from .split import PARTS, Rule


@dataclass(frozen=True)
class Chunk:
    file: int  # index into Files.paths
    start: int  # first row in the file
    rows: int


def count_rows(path: str, separator: str | None = None) -> int:
    try:
        return int(scan_one(path, separator).select(pl.len()).collect().item())
    except (pl.exceptions.PolarsError, OSError) as e:
        raise _read_error(path, e) from None


@dataclass
class Files:
    """The files of one part and how to keep its rows: all of them, or those the split rule gives the part."""

    paths: list[str]
    part: str  # train, validation or test
    rule: Rule | None  # None: every row of the files belongs to the part
    counts: list[int] = field(default_factory=list)  # rows per file (all parts)
    limit: tuple[int, int] | None = None  # (file, row): stop there (train.max_rows)
    separator: str | None = None  # of CSV files (data.csv.separator)

    @staticmethod
    def of(data) -> dict[str, Files]:
        """Every part of a spec's `data` section that has rows."""
        given = {part: expand_paths(p) for part in PARTS if (p := getattr(data, part)) is not None}
        return Files.parts(given, Rule.of(data), data.csv.separator)

    @staticmethod
    def parts(given: dict[str, list[str]], rule: Rule, separator: str | None = None) -> dict[str, Files]:
        """Every part that has rows: `given` holds the files of the training rows and of each part that has
        files of its own; the rule splits the training files' rows into the others."""
        train = given["train"]
        out = {"train": Files(train, "train", rule if rule.splits else None, separator=separator)}
        for part in ("validation", "test"):
            if part in given:
                out[part] = Files(given[part], part, None, separator=separator)
            elif getattr(rule, part) > 0:
                out[part] = Files(train, part, rule, separator=separator)
        for f in out.values():
            f.counts = [count_rows(p, separator) for p in f.paths]
        return out

    @property
    def seekable(self) -> bool:
        """Whether any chunk can be read without reading the ones before it (Parquet)."""
        return all(file_format(p) == "parquet" for p in self.paths)

    def chunks(self, rows: int) -> list[Chunk]:
        """The files' rows in chunks of at most `rows`, in file order (up to the limit)."""
        out = []
        for i, (_path, n) in enumerate(zip(self.paths, self.counts)):
            if self.limit is not None and i > self.limit[0]:
                break
            end = self.limit[1] if self.limit is not None and i == self.limit[0] else n
            out += [Chunk(i, a, min(rows, end - a)) for a in range(0, end, rows)]
        return out

    def keep(self, frame: pl.DataFrame, chunk: Chunk) -> pl.DataFrame:
        """The rows of a chunk that belong to this part."""
        if self.rule is None:
            return frame
        return frame.filter(
            pl.Series(self.rule.parts(frame, self.paths[chunk.file], chunk.start) == PARTS.index(self.part))
        )

    def reader(self) -> ChunkReader:
        return ChunkReader(self.paths, self.separator)

    def frames(
        self, rows: int = 250_000, chunks: list[Chunk] | None = None, reader: ChunkReader | None = None
    ) -> Iterator[pl.DataFrame]:
        """The part's rows, chunk by chunk (all chunks in file order by default)."""
        reader = reader or self.reader()
        for c in chunks if chunks is not None else self.chunks(rows):
            yield self.keep(reader.read(c), c)

    def cap(self, max_rows: int) -> None:
        """Keep only the part's first `max_rows` rows (in file order): `limit` is where they end."""
        reader, seen = self.reader(), 0
        for c in self.chunks(250_000):
            frame = reader.read(c)
            mine = (
                np.ones(len(frame), dtype=bool)
                if self.rule is None
                else self.rule.parts(frame, self.paths[c.file], c.start) == PARTS.index(self.part)
            )
            positions = mine.nonzero()[0]
            if seen + len(positions) >= max_rows:
                self.limit = (c.file, c.start + int(positions[max_rows - seen - 1]) + 1)
                return
            seen += len(positions)


class ChunkReader:
    """Reads chunks: Parquet by slicing; text formats in order with one open batch reader per file (a chunk
    ahead of the reader is read up to; one behind it reopens the file and skips to it)."""

    def __init__(self, paths: list[str], separator: str | None = None):
        self.paths, self.separator = paths, separator
        self.open: dict[int, tuple[int, Iterator[pl.DataFrame], list[pl.DataFrame]]] = {}  # file -> (row, it, buf)

    def read(self, c: Chunk) -> pl.DataFrame:
        path = self.paths[c.file]
        try:
            if file_format(path) == "parquet":
                return scan_one(path, self.separator).slice(c.start, c.rows).collect()
            return self._sequential(c)
        except (pl.exceptions.PolarsError, OSError) as e:
            raise _read_error(path, e) from None

    def _sequential(self, c: Chunk) -> pl.DataFrame:
        at, batches, buffer = self.open.get(c.file, (-1, iter(()), []))
        if not 0 <= at <= c.start:  # none open, or the chunk lies behind it: (re)open at the chunk
            lf = scan_one(self.paths[c.file], self.separator)
            batches, buffer, at = (lf.slice(c.start) if c.start else lf).collect_batches(chunk_size=c.rows), [], c.start
        while at < c.start:  # chunks between (another process's share): read past them rather than reopen
            b = buffer.pop(0) if buffer else next(batches, None)
            if b is None:
                raise DataError(
                    f"{self.paths[c.file]}: ended at row {at:,}, before row {c.start:,}; was it "
                    "changed while being read?"
                )
            if at + len(b) > c.start:
                buffer.insert(0, b.slice(c.start - at))
            at = min(at + len(b), c.start)
        have = sum(len(b) for b in buffer)
        while have < c.rows:
            nxt = next(batches, None)
            if nxt is None:
                raise DataError(
                    f"{self.paths[c.file]}: ended at row {at + have:,}, before row {c.start + c.rows:,}; "
                    "was it changed while being read?"
                )
            buffer.append(nxt)
            have += len(nxt)
        whole = pl.concat(buffer) if len(buffer) > 1 else buffer[0]
        out, rest = whole.head(c.rows), whole.slice(c.rows)
        self.open[c.file] = (c.start + c.rows, batches, [rest] if len(rest) else [])
        return out
