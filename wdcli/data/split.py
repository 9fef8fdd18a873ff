"""The train/validation/test split: explicit files, or a split of the training files' rows, seeded or by time.

A seeded split decides a row's part by a stable hash, never by a permutation of all rows: of its `split.key`
column when the spec names one (a user or request id: a group never straddles two parts), else of its file's
name and its position in the file. So the same seed and files give the same rows on any machine, whatever reads
them (one process or several, all at once or streamed in batches). The fractions are kept in expectation (each
row falls in test with probability `split.test`), not to the row.

A split by time (`split.time`, and `split.per` for each group's latest rows) puts the latest rows in test and
the ones just before them in validation, at cut points learned from the training files when the rule is made
(`wdcli.data.time_split`); a row's part then depends on its time and place only, as a seeded split's does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ..errors import DataError
from ..features import hashing
from .io import expand_paths, read_one
from .time_cuts import TimeCuts
from .time_split import learn_cuts, time_parts

PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class Rule:
    """How the rows of the training files are split: fractions to validation and test (0 where that part has
    files of its own), the seed, and the key column (None: by file and row position); or, with `time`, by the
    cut points of a split by time."""

    validation: float
    test: float
    seed: int
    key: str | None = None
    time: TimeCuts | None = None

    @staticmethod
    def of(data) -> Rule:
        """The rule of a spec's `data` section; a split by time learns its cut points from the training files."""
        s = data.split
        validation, test = s.validation if data.validation is None else 0.0, s.test if data.test is None else 0.0
        time = None
        if s.time is not None and (validation > 0 or test > 0):
            time = learn_cuts(expand_paths(data.train), s.time, s.per, validation, test, data.csv.separator)
        return Rule(validation, test, s.seed, s.key, time)

    def to_json(self) -> dict:
        out = {"validation": self.validation, "test": self.test, "seed": self.seed, "key": self.key}
        return out | ({"time": self.time.to_json()} if self.time is not None else {})

    @staticmethod
    def from_json(d: dict) -> Rule:
        time = TimeCuts.from_json(d["time"]) if d.get("time") is not None else None
        return Rule(float(d["validation"]), float(d["test"]), int(d["seed"]), d.get("key"), time)

    @property
    def splits(self) -> bool:
        return self.validation > 0 or self.test > 0

    def parts(self, frame: pl.DataFrame, file: str, first_row: int) -> np.ndarray:
        """Each row's part (0 train, 1 validation, 2 test); `first_row` is the frame's first row in `file`."""
        return self.parts_at(frame, file, np.arange(first_row, first_row + len(frame), dtype=np.int64))

    def parts_at(self, frame: pl.DataFrame, file: str, rows: np.ndarray) -> np.ndarray:
        """Each row's part, the frame's rows being rows `rows` of `file` (a sample's, say)."""
        if not self.splits:
            return np.zeros(len(frame), dtype=np.int8)
        if self.time is not None:
            return time_parts(self.time, frame, file, rows)
        if self.key is not None:
            if self.key not in frame.columns:
                raise DataError(f"{file}: missing column '{self.key}' (needed by data.split.key)")
            h = hashing.hash_strings(frame[self.key].cast(pl.String))
        else:
            at = rows.astype(np.uint64)
            h = hashing.combine(np.full(len(frame), _file_hash(file), dtype=np.uint64), hashing.hash_ints(at))
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


def describe(data) -> str:
    """What a spec's split holds out, in words (`wdcli validate` prints it, so that a split on the wrong column
    shows: `per: gender` holds out each gender's latest rows)."""
    s = data.split
    held = {p: getattr(s, p) for p in ("validation", "test") if getattr(data, p) is None and getattr(s, p) > 0}
    shares = " and ".join(f"{f:.0%} {p}" for p, f in held.items())
    if not held:
        how = ""
    elif s.time is not None:
        how = f"by time ({s.time}): " + latest(held.get("validation", 0.0), held.get("test", 0.0), s.per)
    elif s.key is not None:
        how = f"by {s.key} (seed {s.seed}): {shares}, each {s.key}'s rows in one part"
    else:
        how = f"seeded rows (seed {s.seed}): {shares}"
    given = [f"{p} from its own files" for p in ("validation", "test") if getattr(data, p) is not None]
    return "; ".join([how, *given] if how else given) or "none: every row trains"


def latest(validation: float, test: float, per: str | None = None) -> str:
    """What a split by time holds out, in words: "each user_id's latest 20% of rows are test, the 10% before
    them validation" (`describe`'s, and the comment of the split `wdcli init` drafts)."""
    whose = f"each {per}'s latest" if per else "the latest"
    if validation > 0 and test > 0:
        return f"{whose} {test:.0%} of rows are test, the {validation:.0%} before them validation"
    part, share = ("test", test) if test > 0 else ("validation", validation)
    return f"{whose} {share:.0%} of rows are {part}"


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
