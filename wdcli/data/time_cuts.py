"""The cut points of a split by time (`data.split.time`): plain data, learned from the training files' rows
(`wdcli.data.time_split`) and kept in the split's rule (`split.Rule.time`), which a run records in split.json
(`split_record`), so that its own parts can be found again.

The rows of the training files are put in one order with no ties: by time, then by where the row lies (its
file's place among the training files, sorted by path; then its place in the file). A part's cut is its first
row in that order: a row is test from the test cut on, validation from the validation cut up to the test cut,
train before. With `per`, each value of that column (a user) has its own two cuts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import polars as pl

TimeKind = Literal["number", "datetime"]  # numbers as they are; dates and times as microseconds since 1970 (UTC)


@dataclass(frozen=True)
class Cut:
    """A part's first row: its time, its file (an index into `TimeCuts.files`) and its row in the file."""

    time: float
    file: int
    row: int

    def to_json(self) -> list:
        return [self.time, self.file, self.row]

    @staticmethod
    def from_json(x: list | None) -> Cut | None:
        return None if x is None else Cut(float(x[0]), int(x[1]), int(x[2]))


@dataclass(frozen=True)
class TimeCuts:
    """Where a split by time cuts the training files' rows (see the module's doc). `validation` and `test` hold
    one cut per group (one in all without `per`); None: the group has no rows in that part."""

    column: str  # data.split.time
    kind: TimeKind  # how the column's values were read as times
    files: tuple[str, ...]  # the training files, in the order of their rows
    validation: tuple[Cut | None, ...]
    test: tuple[Cut | None, ...]
    per: str | None = None  # data.split.per: each value's rows are cut on their own
    groups: tuple[str | None, ...] = (None,)  # the per column's values (as text), in the order of the cuts
    rows: tuple[int, int, int] = (0, 0, 0)  # train, validation and test rows

    @cached_property
    def table(self) -> pl.DataFrame:
        """One row per group: its value and each cut's time, file and row (null where it has no cut)."""

        def columns(part: str, cuts: tuple[Cut | None, ...]) -> dict[str, pl.Series]:
            return {
                f"{part}_time": pl.Series([c.time if c else None for c in cuts], dtype=pl.Float64),
                f"{part}_file": pl.Series([c.file if c else None for c in cuts], dtype=pl.Int64),
                f"{part}_row": pl.Series([c.row if c else None for c in cuts], dtype=pl.Int64),
            }

        group = pl.Series("group", list(self.groups), dtype=pl.String)
        return pl.DataFrame({"group": group, **columns("validation", self.validation), **columns("test", self.test)})

    def to_json(self) -> dict:
        out: dict = {"column": self.column, "kind": self.kind, "files": list(self.files)}
        if self.per is not None:
            out |= {"per": self.per, "groups": list(self.groups)}
        return out | {
            "validation": [c.to_json() if c else None for c in self.validation],
            "test": [c.to_json() if c else None for c in self.test],
            "rows": dict(zip(("train", "validation", "test"), self.rows)),
        }

    @staticmethod
    def from_json(d: dict) -> TimeCuts:
        kind = d["kind"]
        if kind not in ("number", "datetime"):
            raise ValueError(f"unknown kind {kind!r}")
        rows = d.get("rows", {})
        return TimeCuts(
            column=str(d["column"]),
            kind=kind,
            files=tuple(str(f) for f in d["files"]),
            validation=tuple(Cut.from_json(c) for c in d["validation"]),
            test=tuple(Cut.from_json(c) for c in d["test"]),
            per=d.get("per"),
            groups=tuple(None if g is None else str(g) for g in d.get("groups", [None])),
            rows=(int(rows.get("train", 0)), int(rows.get("validation", 0)), int(rows.get("test", 0))),
        )
