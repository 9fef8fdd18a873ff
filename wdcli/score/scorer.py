"""Scoring with a trained artifact: a score per row, metrics on labelled rows, candidates ranked within groups.

Load once, score many times:

    scorer = Scorer.load("runs/apps")          # or Scorer.load() for the latest run
    scores = scorer.score(frame)               # numpy float64 in [0, 1]
    metrics = scorer.evaluate(labelled)        # AUC, log loss, ... (gAUC with a group column)
    ranked = scorer.rank(frame, group_by="request_id", top_k=10)   # ranked.frame, ranked.metrics

Scoring never imports the trainer: a served model carries no optimizers, checkpoints or signal handlers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from ..artifact import Artifact, load_artifact, spec_names
from ..data.batch import Batch
from ..errors import DataError, MissingColumns, counted, suggest
from ..features import Encoded, Encoder, FittedPipeline, label_array, weight_array
from ..features.joined import check_joined
from ..metrics import DEFAULT_K, evaluate, ranked_by_score, ranking_metrics_of, ranking_sums
from ..model.device import resolve_device
from ..model.widedeep import probabilities


@dataclass(frozen=True)
class Ranked:
    frame: pl.DataFrame  # the candidates (the top k of each group, with top_k), best first, with `score`, `rank`
    group: str  # the column ranked within
    groups: int
    metrics: dict | None  # NDCG@k, MAP, MRR, HitRate@k, gAUC over all candidates, when they are labelled
    sums: dict | None = None  # what the metrics are made of (frames of other groups add up: metrics.add_sums)
    k: int = 10
    note: str | None = None  # why there are no metrics although the label column is there
    seen: frozenset = frozenset()  # the label's distinct values (as text)


class Scorer:
    """Scores on the CPU by default: for a request of a few hundred candidates a GPU's launch and copy costs
    more than it saves. `device="auto"` (a GPU when there is one) pays for bulk scoring of files."""

    def __init__(self, artifact: Artifact, device: str = "cpu"):
        self.artifact = artifact
        self.spec = artifact.spec
        self.fitted = artifact.fitted
        self.device = resolve_device(device)
        self.model = artifact.model.to(self.device)
        self.encoder = Encoder(artifact.fitted)  # lookup tables built once: a request costs ~1 ms of features
        self.rows = 1024 if self.device.type == "cpu" else 65536  # rows per forward pass

    @staticmethod
    def load(model: str | Path | None = None, device: str = "cpu") -> Scorer:
        return Scorer(load_artifact(model), device)

    def score(self, frame: pl.DataFrame, where: str = "input", first_row: int = 0) -> np.ndarray:
        """P(y=1) for each row of raw columns. Unseen values and nulls are scored (OOV and missing ids).
        `first_row`: the frame's first row's place among the rows `where` names (messages count from it)."""
        return self.score_encoded(self.encode(frame, where), where, frame, first_row)

    def encode(self, frame: pl.DataFrame, where: str = "input") -> Encoded:
        """The model's input arrays of rows of raw columns (a missing column names this model)."""
        try:
            encoded = self.encoder(frame, where)
        except MissingColumns as e:
            raise self.mismatch(e) from None
        check_joined(self.fitted, frame, where)  # (after the columns are checked: a list joined the wrong way)
        return encoded

    @cached_property
    def encoding(self) -> str:
        """What `encode` depends on (`encoding_of`): scorers with the same encoding encode a frame alike."""
        return encoding_of(self.fitted)

    def score_encoded(
        self, encoded: Encoded, where: str = "input", frame: pl.DataFrame | None = None, first_row: int = 0
    ) -> np.ndarray:
        """P(y=1) for each encoded row (of `frame`'s raw rows, when given: an error then names their values)."""
        scores = probabilities(self.model, Batch.of(encoded, self.device).chunks(self.rows))
        if not np.isfinite(scores).all():  # never a NaN for a score: the rows are refused instead
            raise no_score(self, np.flatnonzero(~np.isfinite(scores)), where, frame, first_row)
        return scores

    def mismatch(self, e: MissingColumns) -> MissingColumns:
        """A missing-column error that names this model and how to choose another: the file may be meant
        for a different model (runs/LATEST is the latest run of any spec)."""
        names = [n for n in spec_names(self.artifact.path) if n != self.spec.name]
        others = f", e.g. {', '.join(f'runs/{n}' for n in names[:5])}" if names else ""
        return MissingColumns(
            f"{e}\n  the model is {self.artifact.path} (spec '{self.spec.name}'); if this file is "
            f"meant for another model, pass --model runs/NAME{others}"
        )

    def predict(
        self, frame: pl.DataFrame, keep: list[str] | None = None, where: str = "input", first_row: int = 0
    ) -> pl.DataFrame:
        if keep is not None:
            absent = [c for c in dict.fromkeys(keep) if c not in frame.columns]
            if absent:
                raise DataError(
                    f"{where}: no column {', '.join(repr(c) for c in absent)} to keep"
                    f"{suggest(absent[0], frame.columns)}; it has: {', '.join(frame.columns[:20])}"
                )
            keep = list(dict.fromkeys(keep))  # a column named twice is kept once
        out = frame if keep is None else frame.select(keep)
        return out.with_columns(score=pl.Series(self.score(frame, where, first_row), dtype=pl.Float64))

    def labels(self, frame: pl.DataFrame, where: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The label, weight and group of labelled rows."""
        spec = self.spec
        try:
            y = label_array(spec, frame, where, trained=True)
        except MissingColumns as e:
            raise self.mismatch(e) from None
        w = weight_array(spec, frame, where) if spec.label.weight else None
        group = frame[spec.label.group].to_numpy() if spec.label.group and spec.label.group in frame.columns else None
        return y, w, group

    def check_positive(self, seen: Iterable[str], where: str) -> None:
        """A label that never equals the model's positive value is an error: AUC would be undefined and accuracy
        meaningless. `seen`: the label's distinct values (as text)."""
        label = self.spec.label.column
        label_array(
            self.spec, pl.DataFrame({label: sorted(set(seen))}, schema={label: pl.String}), where, evaluating=True
        )

    def evaluate(self, frame: pl.DataFrame | Iterable[pl.DataFrame], where: str = "input") -> dict:
        """AUC, log loss, accuracy, calibration and row count (and gAUC with the spec's group column), of a frame
        or of batches of rows (exact, holding 12 to 20 bytes a row)."""
        return evaluate_together([self], [frame] if isinstance(frame, pl.DataFrame) else frame, where)[0]

    def rank(
        self,
        frame: pl.DataFrame,
        group_by: str | None = None,
        top_k: int | None = None,
        k: int | None = None,
        where: str = "input",
        first_row: int = 0,
    ) -> Ranked:
        """Score, order each group best first, add `rank` (1 = best), keep the top k of each group. With the
        label column present, ranking metrics at k (default: top_k, else 10) over all candidates."""
        group = group_by or self.spec.label.group
        if group is None:
            raise DataError(f"{where}: no group to rank within; pass --group-by COLUMN (the spec names no label.group)")
        if group not in frame.columns:
            named = "--group-by" if group_by and group_by != self.spec.label.group else "the spec's label.group"
            raise DataError(
                f"{where}: no group column '{group}' ({named}), so rank cannot tell whose candidates these are"
                f"{suggest(group, frame.columns)}; add it (one value for one {group}'s candidates), or pass "
                f"--group-by with one of: {', '.join(frame.columns[:15])}"
            )
        if (nulls := frame[group].is_null()).any():
            at = int(nulls.arg_true()[0])
            raise DataError(
                f"{where}: row {first_row + at + 1:,} has no value in the group column '{group}'"
                + (f" ({int(nulls.sum()) - 1:,} more like it)" if nulls.sum() > 1 else "")
                + ", so rank cannot tell whose candidates they are; fill it in, or leave those rows out"
            )
        ranked = ranked_by_score(self.predict(frame, where=where, first_row=first_row), group)
        metrics = sums = note = None
        seen: frozenset = frozenset()
        k = k or top_k or DEFAULT_K
        label = self.spec.label.column
        if label in frame.columns:  # labelled candidates: metrics, or why there are none
            try:
                y, _, _ = self.labels(ranked, where)
                sums = ranking_sums(ranked, group, y, k)
                seen = frozenset(frame[label].cast(pl.String).str.strip_chars().unique().to_list())
            except DataError as e:
                note = f"no ranking metrics: {e}"
            metrics, note = self.ranking_metrics(sums, k, where, note, seen)
        shown = ranked.filter(pl.col("rank") <= top_k) if top_k is not None else ranked
        return Ranked(shown, group, ranked[group].n_unique(), metrics, sums, k, note, seen)

    def ranking_metrics(
        self, sums: dict | None, k: int, where: str, note: str | None = None, seen: frozenset = frozenset()
    ) -> tuple[dict | None, str | None]:
        """The metrics of summed ranking figures, or why there are none (no row has the positive label)."""
        if sums is None:
            return None, note
        if sums["groups_with_positives"] == 0:
            try:
                self.check_positive(seen, where)
            except DataError as e:
                return None, f"no ranking metrics: {e}"
        return ranking_metrics_of(sums, k), note


def no_score(scorer: Scorer, rows: np.ndarray, where: str, frame: pl.DataFrame | None, first_row: int) -> DataError:
    """Why the model gives no score for these rows (of `frame`, at `first_row`), in the words of the first one's
    values: the numeric columns that, set missing, give it a score (the largest model inputs first). A value so
    large that the model's float32 arithmetic overflows (1e308, clipped to ±1e12 and multiplied through DCN's
    cross layers) is the usual cause."""
    r = int(rows[0])
    at, many = f"{where}: row {first_row + r + 1:,}", f" ({counted(len(rows), 'row')} like it: the first named)"
    many = many if len(rows) > 1 else ""
    if frame is None:  # (rows of the encoded cache: their raw values are not at hand)
        return DataError(f"{at}: the model gives no score (NaN){many}; check its numeric values")
    culprits = _culprits(scorer, frame[r : r + 1], where)
    if not culprits:
        return DataError(
            f"{at}: the model gives no score (NaN){many}, whatever its numeric values; the run may be damaged: "
            "retrain, or restore it"
        )
    values = ", ".join(f"'{c}' = {_shown(frame[c][r])} (trained on {_trained(scorer, c)})" for c in culprits)
    clips = ", ".join(f"columns.{c}.clip" for c in culprits)
    return DataError(
        f"{at}: the model gives no score (NaN){many} for {'column' if len(culprits) == 1 else 'columns'} {values}: a value so far past the training data "
        f"overflows the model's arithmetic; fix the value, or clip the column ({clips}: [low, high]) and retrain"
    )


def _culprits(scorer: Scorer, row: pl.DataFrame, where: str) -> list[str]:
    """The numeric columns that, set missing one after the other (the largest model input first), give the row
    a score; [] when none does."""
    dense = scorer.fitted.dense
    inputs = np.abs(scorer.encode(row, where).dense[0])
    named: list[str] = []
    for j in np.argsort(-inputs, kind="stable"):
        named.append(dense[j])
        row = row.with_columns(pl.lit(None, dtype=row.schema[dense[j]]).alias(dense[j]))
        encoded = scorer.encode(row, where)
        if np.isfinite(probabilities(scorer.model, Batch.of(encoded, scorer.device).chunks(1))).all():
            return named
    return []


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _trained(scorer: Scorer, column: str) -> str:
    """The range of a numeric column's training values (clipped), in its own units."""
    f = scorer.fitted.numeric(column)
    lo, hi = (np.sign(v) * np.expm1(abs(v)) if f.transform == "log1p" else v for v in (f.min, f.max))
    return f"{lo:g} to {hi:g}"


def encoding_of(fitted: FittedPipeline) -> str:
    """A digest of what encoding rows depends on: the fitted features, and the raw columns the spec reads (its
    `columns`). Runs that differ only in their model or optimizers share it (`evaluate_together` encodes a
    batch once for them)."""
    what = {"features": fitted.feature_dicts(), "columns": fitted.spec.model_dump(mode="json")["columns"]}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


@dataclass
class Figures:
    """What one model's evaluation has seen so far: each batch's labels, scores, weights and groups, and the
    label's distinct values (as text)."""

    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def metrics(self, scorer: Scorer, where: str, check: bool = True) -> dict:
        """The metrics of every batch together. `check`: refuse rows where the positive label never occurs."""
        if not self.parts:  # (a file with a header and no rows gives no batch)
            raise DataError(f"{where}: no rows to evaluate (a header and no data rows)")
        if check:
            scorer.check_positive(self.seen, where)
        y, s, w, g = zip(*self.parts)
        return evaluate(np.concatenate(y), np.concatenate(s), _concat(w), _concat(g))


def _concat(arrays: tuple[np.ndarray | None, ...]) -> np.ndarray | None:
    """The batches' arrays one after the other, or None where the batches have none (no weight, no group)."""
    return None if arrays[0] is None else np.concatenate([a for a in arrays if a is not None])


def evaluate_together(scorers: list[Scorer], frames: Iterable[pl.DataFrame], where: str = "input") -> list[dict]:
    """Each model's metrics (as `Scorer.evaluate`'s) on the same batches of labelled rows, read once: each batch is
    encoded once for the models of one encoding (runs whose features are the same), then scored by each."""
    figures = [Figures() for _ in scorers]
    groups = by_encoding(scorers)
    first_row = 0
    for batch in frames:
        for members in groups:
            labelled = [scorers[i].labels(batch, where) for i in members]  # (a missing label is named first)
            encoded = scorers[members[0]].encode(batch, where)
            for i, (y, w, group) in zip(members, labelled):
                label = batch[scorers[i].spec.label.column].cast(pl.String).str.strip_chars()
                figures[i].seen.update(label.unique().to_list())
                figures[i].parts.append((y, scorers[i].score_encoded(encoded, where, batch, first_row), w, group))
        first_row += len(batch)
    return [f.metrics(scorer, where) for f, scorer in zip(figures, scorers)]


def by_encoding(scorers: list[Scorer]) -> list[list[int]]:
    """The scorers' indices, grouped by their encoding (in the order each encoding first comes)."""
    if len(scorers) == 1:  # (one group: no need to digest its features)
        return [[0]]
    groups: dict[str, list[int]] = {}
    for i, scorer in enumerate(scorers):
        groups.setdefault(scorer.encoding, []).append(i)
    return list(groups.values())
