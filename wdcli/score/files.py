"""Scoring files: predict and rank a labelled or unlabelled table on disk, by extension. `predict`
streams its input in batches, so files larger than memory score in bounded memory. `Rows` are the rows to score:
a file, or a run's own part (evaluating them: `wdcli.score.evaluation`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..artifact import load_split
from ..data import io
from ..data.files import Files
from ..errors import DataError, MissingColumns
from ..features.inputs import check_columns
from ..metrics import add_sums
from .scorer import Ranked, Scorer


def read_as_text(paths: str | Path | list[str]) -> bool:
    """Whether the files are read as text (CSV, TSV): an output that keeps types then gives each column the type
    Polars' inference would (`io.write_batches(typed=True)`)."""
    return all(io.file_format(p) in io.SEPARATORS for p in io.expand_paths(paths))


def predict_file(
    model: str | Path | None,
    input: str | Path | None,
    output: str | Path | None,
    keep: list[str] | None = None,
    batch_rows: int = 200_000,
    stdout=None,
    scorer: Scorer | None = None,
    separator: str | None = None,
    split: str | None = None,
) -> int:
    """Score a file (or the run's own rows of a part: `split`) in streamed batches with bounded memory; write by
    extension, or CSV to stdout. Returns the number of rows written. `separator`: the input's, if CSV (default:
    the run's data.csv.separator)."""
    scorer = scorer or Scorer.load(model)
    source = Rows.of(scorer, input, split, separator)
    batches = _predicted(scorer, source, keep, batch_rows)
    if output is None:
        stream, rows = stdout or sys.stdout, 0
        for i, frame in enumerate(batches):
            stream.write(io.text(frame, header=i == 0))
            rows += len(frame)
        return rows
    return io.write_batches(batches, output, typed=read_as_text(source.paths))


def _predicted(scorer: Scorer, source: Rows, keep: list[str] | None, batch_rows: int) -> Iterator[pl.DataFrame]:
    """The scored batches of a file; a file with no rows is an error (its missing columns named first), never an
    empty answer."""
    rows = 0
    for batch in source.batches(batch_rows):
        yield scorer.predict(batch, keep, source.where, first_row=rows)
        rows += len(batch)
    if rows == 0:
        empty = pl.DataFrame(schema=io.read_schema(source.paths[0], source.separator))
        try:
            check_columns(scorer.spec, empty, source.where, need_label=False)
        except MissingColumns as e:
            raise scorer.mismatch(e) from None
        raise DataError(f"{source.where}: no rows to score (a header and no data rows)")


def shown(paths: list[str]) -> str:
    """Files as a message names them: relative to the working folder when they are under it."""
    rel = [os.path.relpath(p) if not os.path.relpath(p).startswith("..") else p for p in paths]
    return ", ".join(rel)


def csv_separator(scorer: Scorer, separator: str | None) -> str:
    """The field separator of a CSV file to score: the one given, else the one the run's data had."""
    return separator if separator is not None else scorer.spec.data.csv.separator


@dataclass(frozen=True)
class Rows:
    """Rows to score: a file (or glob), or a part of the rows the run split when it trained (`split`)."""

    where: str  # how messages name them
    paths: list[str]
    separator: str
    files: Files | None = None  # a run's own part: which rows of the files

    @staticmethod
    def of(scorer: Scorer, input: str | Path | None, split: str | None, separator: str | None = None) -> Rows:
        if split is None:
            if input is None:
                raise DataError("give the rows to score: --input FILE, or --split test|validation|train")
            return Rows(str(input), io.expand_paths(input), csv_separator(scorer, separator))
        record = load_split(scorer.artifact)
        if record is None:
            raise DataError(
                f"{scorer.artifact.path}: the run kept no record of how it split its rows (it was trained before "
                "wdcli kept one, or on frames given in Python); score a labelled file with --input"
            )
        files = record.part(split)
        return Rows(f"{shown(files.paths)} (the run's {split} rows)", files.paths, record.separator, files)

    def batches(self, rows: int) -> Iterator[pl.DataFrame]:
        return self.files.frames(rows) if self.files is not None else io.iter_batches(self.paths, rows, self.separator)

    def whole(self) -> pl.DataFrame:
        if self.files is None:
            return io.read_table(self.paths, self.separator)
        return pl.concat(list(self.files.frames()), how="diagonal_relaxed")


@dataclass(frozen=True)
class RankedFile:
    rows: int  # rows written
    groups: int
    metrics: dict | None
    streamed: bool  # False: the input was not grouped by its group column, so it was ranked whole
    note: str | None = None  # why there are no metrics although the label column is there


def grouped(input: str | Path | list[str], group: str, separator: str | None = None) -> bool:
    """Whether each value of the group column stands in one run of consecutive rows (sorted, or at least grouped),
    which lets rank stream the file one group range at a time. Reads that column only."""
    try:
        lf = pl.concat([io.scan_one(p, separator) for p in io.expand_paths(input)])
        if group not in lf.collect_schema().names():
            return True  # the scorer names the missing column
        g = pl.col(group)
        starts = ((g != g.shift()) | g.shift().is_null()).sum().alias("runs")
        runs, distinct = lf.select(starts, g.n_unique().alias("distinct")).collect().row(0)
    except (pl.exceptions.PolarsError, OSError):
        return True  # an unreadable file: reading it in batches names the problem
    return runs == distinct


def rank_file(
    model: str | Path | None,
    input: str | Path | None,
    output: str | Path | None = None,
    group_by: str | None = None,
    top_k: int | None = None,
    k: int | None = None,
    stdout=None,
    batch_rows: int = 200_000,
    scorer: Scorer | None = None,
    separator: str | None = None,
    split: str | None = None,
) -> RankedFile:
    """Rank a file's candidates (or the run's own rows of a part: `split`) within their groups; write by
    extension, or CSV to stdout.

    A file grouped by its group column (each group's rows together) streams, holding one batch and one group
    range at a time. Otherwise it is read whole and ranked in memory (`streamed` is then False)."""
    scorer = scorer or Scorer.load(model)
    group = group_by or scorer.spec.label.group
    source = Rows.of(scorer, input, split, separator)
    where = source.where
    totals = _Totals()

    def ranked_frames(frames: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        first_row = 0  # (the group ranges of a streamed file follow each other)
        for frame in frames:
            r = scorer.rank(frame, group, top_k, k, where, first_row)
            first_row += len(frame)
            totals.add(r)
            yield r.frame

    streamed = group is None or grouped(source.paths, group, source.separator)
    frames = _group_ranges(source.batches(batch_rows), group) if streamed else [source.whole()]
    if output is None:
        stream, rows = stdout or sys.stdout, 0
        for i, frame in enumerate(ranked_frames(frames)):
            stream.write(io.text(frame, header=i == 0))
            rows += len(frame)
    else:
        rows = io.write_batches(ranked_frames(frames), output, typed=read_as_text(source.paths))
    metrics, note = scorer.ranking_metrics(totals.sums, totals.k, where, totals.note, totals.seen)
    return RankedFile(rows, totals.groups, metrics, streamed, note)


@dataclass
class _Totals:
    """What the ranked frames of a file add up to."""

    groups: int = 0
    sums: dict[str, float] | None = None
    k: int = 0  # the last frame's k (read only with `sums`, which a ranked frame sets with it)
    note: str | None = None
    seen: frozenset = frozenset()

    def add(self, r: Ranked) -> None:
        self.groups += r.groups
        self.k = r.k
        self.seen |= r.seen
        if r.sums is not None:
            self.sums = add_sums(self.sums, r.sums)
        elif r.note is not None:
            self.note = r.note


def _group_ranges(batches: Iterator[pl.DataFrame], group: str | None) -> Iterator[pl.DataFrame]:
    """Frames of whole groups from batches of a grouped file: a batch's last group waits for the next batch."""
    carry = None
    for batch in batches:
        frame = batch if carry is None else pl.concat([carry, batch], how="diagonal_relaxed")
        if group is None or group not in frame.columns or len(frame) == 0:
            yield frame
            carry = None
            continue
        last = frame[group][-1]
        ends = frame[group] == last if last is not None else frame[group].is_null()
        other = ends.reverse().arg_min()  # (None only of an empty series)
        tail = int(other) if other is not None and not ends.all() else len(frame)  # rows of the last group at the end
        if tail < len(frame):
            yield frame.head(len(frame) - tail)
        carry = frame.tail(tail)
    if carry is not None and len(carry):
        yield carry
