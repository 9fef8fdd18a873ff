"""Scoring files: predict, evaluate and rank a labelled or unlabelled table on disk, by extension. `predict`
streams its input in batches, so files larger than memory score in bounded memory."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..data import io
from ..errors import DataError, MissingColumns
from ..features.inputs import check_columns, spec_inputs
from ..metrics import add_sums
from ..spec import Spec
from .scorer import Scorer


def typed(frame: pl.DataFrame, spec: Spec) -> pl.DataFrame:
    """The columns the spec reads as numbers, read as text (from CSV), back as numbers: for outputs that keep
    types."""
    numeric = {column for column, needs in spec_inputs(spec).items() if needs.reads == "numeric"}
    cast = [c for c in frame.columns if c in numeric and frame.schema[c] == pl.String]
    return frame.with_columns(pl.col(c).str.strip_chars().cast(pl.Float64, strict=False) for c in cast)


def predict_file(
    model: str | Path | None,
    input: str | Path,
    output: str | Path | None,
    keep: list[str] | None = None,
    batch_rows: int = 200_000,
    stdout=None,
    scorer: Scorer | None = None,
) -> int:
    """Score a file in streamed batches with bounded memory; write by extension, or CSV to stdout. Returns the
    number of rows written."""
    scorer = scorer or Scorer.load(model)
    batches = _predicted(scorer, input, keep, batch_rows)
    if output is None:
        stream, rows = stdout or sys.stdout, 0
        for i, frame in enumerate(batches):
            stream.write(io.text(frame, header=i == 0))
            rows += len(frame)
        return rows
    if io.file_format(output) in ("parquet", "ndjson"):
        batches = (typed(frame, scorer.spec) for frame in batches)
    return io.write_batches(batches, output)


def _predicted(scorer: Scorer, input: str | Path, keep: list[str] | None, batch_rows: int) -> Iterator[pl.DataFrame]:
    """The scored batches of a file; a file with no rows is an error (its missing columns named first), never an
    empty answer."""
    rows = 0
    for batch in io.iter_batches(input, batch_rows):
        rows += len(batch)
        yield scorer.predict(batch, keep, str(input))
    if rows == 0:
        empty = pl.DataFrame(schema=io.read_schema(io.expand_paths(input)[0]))
        try:
            check_columns(scorer.spec, empty, str(input), need_label=False)
        except MissingColumns as e:
            raise scorer.mismatch(e) from None
        raise DataError(f"{input}: no rows to score (a header and no data rows)")


def evaluate_file(
    model: str | Path | None, input: str | Path, scorer: Scorer | None = None, batch_rows: int = 200_000
) -> dict:
    """The metrics of a model on a labelled file, read in batches (exact: 12 to 20 bytes a row are kept)."""
    scorer = scorer or Scorer.load(model)
    return scorer.evaluate(io.iter_batches(input, batch_rows), str(input))


@dataclass(frozen=True)
class RankedFile:
    rows: int  # rows written
    groups: int
    metrics: dict | None
    streamed: bool  # False: the input was not grouped by its group column, so it was ranked whole
    note: str | None = None  # why there are no metrics although the label column is there


def grouped(input: str | Path, group: str) -> bool:
    """Whether each value of the group column stands in one run of consecutive rows (sorted, or at least grouped),
    which lets rank stream the file one group range at a time. Reads that column only."""
    try:
        lf = pl.concat([io.scan_one(p) for p in io.expand_paths(input)])
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
    input: str | Path,
    output: str | Path | None = None,
    group_by: str | None = None,
    top_k: int | None = None,
    k: int | None = None,
    stdout=None,
    batch_rows: int = 200_000,
    scorer: Scorer | None = None,
) -> RankedFile:
    """Rank a file's candidates within their groups; write by extension, or CSV to stdout.

    A file grouped by its group column (each group's rows together) streams, holding one batch and one group
    range at a time. Otherwise it is read whole and ranked in memory (`streamed` is then False)."""
    scorer = scorer or Scorer.load(model)
    group = group_by or scorer.spec.label.group
    where = str(input)
    totals = {"groups": 0, "sums": None, "k": None, "note": None, "seen": frozenset()}

    def ranked_frames(frames) -> Iterator[pl.DataFrame]:
        for frame in frames:
            r = scorer.rank(frame, group, top_k, k, where)
            totals["groups"] += r.groups
            totals["k"] = r.k
            totals["seen"] |= r.seen
            if r.sums is not None:
                totals["sums"] = add_sums(totals["sums"], r.sums)
            elif r.note is not None:
                totals["note"] = r.note
            yield r.frame

    streamed = group is None or grouped(input, group)
    frames = _group_ranges(io.iter_batches(input, batch_rows), group) if streamed else [io.read_table(input)]
    if output is None:
        stream, rows = stdout or sys.stdout, 0
        for i, frame in enumerate(ranked_frames(frames)):
            stream.write(io.text(frame, header=i == 0))
            rows += len(frame)
    else:
        rows = io.write_batches(ranked_frames(frames), output)
    metrics, note = scorer.ranking_metrics(totals["sums"], totals["k"], where, totals["note"], totals["seen"])
    return RankedFile(rows, totals["groups"], metrics, streamed, note)


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
        tail = int(ends.reverse().arg_min()) if not ends.all() else len(frame)  # rows of the last group at the end
        if tail < len(frame):
            yield frame.head(len(frame) - tail)
        carry = frame.tail(tail)
    if carry is not None and len(carry):
        yield carry
