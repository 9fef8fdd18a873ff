"""Scoring files: predict, evaluate and rank a labelled or unlabelled table on disk, by extension. `predict`
streams its input in batches, so files larger than memory score in bounded memory."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from ..data import io
from ..spec import Spec
from .scorer import Ranked, Scorer


def typed(frame: pl.DataFrame, spec: Spec) -> pl.DataFrame:
    """The spec's numeric columns read as text (from CSV) back as numbers, for outputs that keep types."""
    numeric = {c for c, col in spec.columns.items() if col.kind == "numeric"}
    numeric |= {col.source for col in spec.columns.values() if col.kind == "bucketized"}
    cast = [c for c in frame.columns if c in numeric and frame.schema[c] == pl.String]
    return frame.with_columns(pl.col(c).str.strip_chars().cast(pl.Float64, strict=False) for c in cast)


def predict_file(model: str | Path | None, input: str | Path, output: str | Path | None,
                 keep: list[str] | None = None, batch_rows: int = 200_000, stdout=None, scorer: Scorer | None = None
                 ) -> int:
    """Score a file in streamed batches with bounded memory; write by extension, or CSV to stdout. Returns the
    number of rows written."""
    scorer = scorer or Scorer.load(model)
    batches = (scorer.predict(b, keep, str(input)) for b in io.iter_batches(input, batch_rows))
    if output is None:
        stream, rows = stdout or sys.stdout, 0
        for i, frame in enumerate(batches):
            stream.write(io.text(frame, header=i == 0))
            rows += len(frame)
        return rows
    if io.file_format(output) in ("parquet", "ndjson"):
        batches = (typed(frame, scorer.spec) for frame in batches)
    return io.write_batches(batches, output)


def evaluate_file(model: str | Path | None, input: str | Path, scorer: Scorer | None = None) -> dict:
    """The metrics of a model on a labelled file."""
    scorer = scorer or Scorer.load(model)
    return scorer.evaluate(io.read_table(input), str(input))


def rank_file(model: str | Path | None, input: str | Path, group_by: str | None = None, top_k: int | None = None,
              k: int | None = None, scorer: Scorer | None = None) -> Ranked:
    """Candidates of a file ranked within their groups (and ranking metrics when they are labelled)."""
    scorer = scorer or Scorer.load(model)
    return scorer.rank(io.read_table(input), group_by, top_k, k, str(input))
