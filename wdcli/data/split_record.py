"""How a run split its rows, recorded when it trained (`split.json` in the run's folder), so that its own
train, validation and test rows can be scored again (`wdcli eval --split test`): the rule (fractions, seed,
key; a split by time's cut points), the files each part was read from with their fingerprints, the CSV
separator and `train.max_rows`.

    record = record_split(spec.data, spec.train.max_rows)      # when the run trains
    files = record.part("test")                                # later: the test rows, after checking the files

A file's fingerprint is its size and the sha256 of its bytes (of 256 evenly spaced blocks of 64 KiB for a file
over 256 MiB, which keeps a check of a large file to a moment): a file changed since, or gone, is refused with
the message to score a file with --input instead.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from ..errors import DataError
from .files import Files
from .io import expand_paths
from .split import PARTS, Rule

WHOLE = 256 << 20  # files up to this size are hashed whole
BLOCKS, BLOCK = 256, 64 << 10  # a larger file: this many blocks of this size, evenly spaced


@dataclass(frozen=True)
class Fingerprint:
    path: str
    size: int
    sha256: str
    sampled: bool  # of blocks (a file over WHOLE bytes), not of every byte

    def to_json(self) -> dict:
        return {"path": self.path, "bytes": self.size, "sha256": self.sha256, "sampled": self.sampled}

    @staticmethod
    def from_json(d: dict) -> Fingerprint:
        return Fingerprint(str(d["path"]), int(d["bytes"]), str(d["sha256"]), bool(d.get("sampled", False)))


def fingerprint(path: str) -> Fingerprint:
    """A file's size and the sha256 of its bytes (or of evenly spaced blocks of a large file)."""
    size = os.path.getsize(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if size <= WHOLE:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        else:
            for i in range(BLOCKS):
                f.seek((size - BLOCK) * i // (BLOCKS - 1))
                h.update(f.read(BLOCK))
    return Fingerprint(os.path.abspath(path), size, h.hexdigest(), size > WHOLE)


@dataclass(frozen=True)
class SplitRecord:
    """How a run split its rows (see the module's doc)."""

    rule: Rule  # fractions to validation and test of the training files' rows (0 where a part has files), and
    # the cut points of a split by time
    files: dict[str, list[Fingerprint]]  # "train", and each part with files of its own: the files read
    separator: str  # of CSV files
    max_rows: int | None = None  # the training rows were the first max_rows of the train part

    def has(self, part: str) -> bool:
        """Whether the run had rows of a part (files of its own, or a share of the training files')."""
        return part == "train" or part in self.files or getattr(self.rule, part) > 0

    def part(self, part: str) -> Files:
        """The files of a part's rows, once every file they come from is checked unchanged."""
        self._check(part)
        parts = Files.parts({p: [f.path for f in fps] for p, fps in self.files.items()}, self.rule, self.separator)
        if part not in parts:
            raise DataError(
                f"the run has no {part} rows (its split: validation {self.rule.validation:g}, test "
                f"{self.rule.test:g}, and no {part} files); choose another --split, or score a file with --input"
            )
        if part == "train" and self.max_rows is not None:
            parts[part].cap(self.max_rows)
        return parts[part]

    def _check(self, part: str) -> None:
        """Refuse files changed since the run read them: the rows would not be the run's."""
        for f in self.files[part if part in self.files else "train"]:
            if not os.path.isfile(f.path):
                why = "is no longer there"
            elif (now := fingerprint(f.path)) != f:
                why = f"changed since the run was trained ({'size' if now.size != f.size else 'sha256'} differs)"
            else:
                continue
            raise DataError(
                f"{f.path}: {why}, so the run's {part} rows cannot be read again; score a labelled file with "
                "--input instead (or train again on the data as it is)"
            )

    def to_json(self) -> dict:
        files = {part: [f.to_json() for f in fps] for part, fps in self.files.items()}
        return {
            "rule": self.rule.to_json(),
            "files": files,
            "separator": self.separator,
            "max_rows": self.max_rows,
        }

    @staticmethod
    def from_json(d: dict) -> SplitRecord:
        rule = Rule.from_json(d["rule"])
        files = {str(p): [Fingerprint.from_json(f) for f in fps] for p, fps in d["files"].items()}
        return SplitRecord(rule, files, str(d.get("separator", ",")), d.get("max_rows"))


def record_split(data, max_rows: int | None = None) -> SplitRecord:
    """The record of how a spec's `data` section splits its files, as they are now."""
    given = {part: expand_paths(p) for part in PARTS if (p := getattr(data, part)) is not None}
    files = {part: [fingerprint(p) for p in paths] for part, paths in given.items()}
    return SplitRecord(Rule.of(data), files, data.csv.separator, max_rows)
