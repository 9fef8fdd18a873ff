"""The train/validation/test split: explicit files, or a seeded split of the training files' rows.

A row's part is decided by a stable hash, never by a permutation of all rows: of its `split.key` column when
the spec names one (a user or request id: a group never straddles two parts), else of its file's name and its
position in the file. So the same seed and files give the same rows on any machine, whatever reads them (one
process or several, all at once or streamed in batches). The fractions are kept in expectation (each row
falls in test with probability `split.test`), not to the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ..errors import DataError
from ..features import hashing
from .io import expand_paths, read_one

PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class Rule:
    """How the rows of the training files are split: fractions to validation and test (0 where that part has
    files of its own), the seed, and the key column (None: by file and row position)."""

    validation: float
    test: float
    seed: int
    key: str | None = None

    @staticmethod
    def of(data) -> Rule:
        s = data.split
        return Rule(
            s.validation if data.validation is None else 0.0, s.test if data.test is None else 0.0, s.seed, s.key
        )

    @property
    def splits(self) -> bool:
        return self.validation > 0 or self.test > 0

    def parts(self, frame: pl.DataFrame, file: str, first_row: int) -> np.ndarray:
        """Each row's part (0 train, 1 validation, 2 test); `first_row` is the frame's first row in `file`."""
        if not self.splits:
            return np.zeros(len(frame), dtype=np.int8)
        if self.key is not None:
            if self.key not in frame.columns:
                raise DataError(f"{file}: missing column '{self.key}' (needed by data.split.key)")
            h = hashing.hash_strings(frame[self.key].cast(pl.String))
        else:
            rows = np.arange(first_row, first_row + len(frame), dtype=np.uint64)
            h = hashing.combine(np.full(len(frame), _file_hash(file), dtype=np.uint64), hashing.hash_ints(rows))
        u = (hashing.combine(h, np.full(len(h), hashing.hash_ints(np.array([self.seed]))[0])) >> np.uint64(11)).astype(
            np.float64
        ) / float(1 << 53)
        return np.where(u < self.test, 2, np.where(u < self.test + self.validation, 1, 0)).astype(np.int8)


def _file_hash(file: str) -> np.uint64:
    """The hash of a file's name (not its folder: the same files split alike wherever they lie)."""
    return hashing.fnv1a64(pl.Series([Path(file).name]))[0]


def split_names(data) -> dict[str, str]:
    """How messages name each split's rows: its file(s), and for a split taken from the training file(s), which
    part (e.g. 'data/adult.parquet (validation split)')."""

    def files(patterns) -> str:
        try:
            return ", ".join(expand_paths(patterns))
        except DataError:
            return ", ".join([patterns] if isinstance(patterns, str) else patterns)

    train = files(data.train)
    names = {"train": f"{train} (training rows)" if data.validation is None or data.test is None else train}
    for split in ("validation", "test"):
        given = getattr(data, split)
        names[split] = files(given) if given is not None else f"{train} ({split} split)"
    return names


def load_splits(data) -> dict[str, pl.DataFrame]:
    """The train/validation/test frames of a spec's `data` section, read whole (absent parts are empty)."""
    rule = Rule.of(data)
    pieces: dict[str, list[pl.DataFrame]] = {p: [] for p in PARTS}
    sep = data.csv.separator
    for path in expand_paths(data.train):
        frame = read_one(path, sep)
        parts = rule.parts(frame, path, 0)
        for i, part in enumerate(PARTS):
            pieces[part].append(frame.filter(pl.Series(parts == i)))
    for part in ("validation", "test"):
        if getattr(data, part) is not None:
            pieces[part] = [read_one(p, sep) for p in expand_paths(getattr(data, part))]
    return {
        part: _concat(frames)
        for part, frames in pieces.items()
        if frames and (part == "train" or any(len(f) for f in frames))
    }


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
