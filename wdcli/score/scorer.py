"""Scoring with a trained artifact: a score per row, metrics on labelled rows, candidates ranked within groups.

Load once, score many times:

    scorer = Scorer.load("runs/apps")          # or Scorer.load() for the latest run
    scores = scorer.score(frame)               # numpy float64 in [0, 1]
    metrics = scorer.evaluate(labelled)        # AUC, log loss, ... (gAUC with a group column)
    ranked = scorer.rank(frame, group_by="request_id", top_k=10)   # ranked.frame, ranked.metrics

Scoring never imports the trainer: a served model carries no optimizers, checkpoints or signal handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ..artifact import Artifact, load_artifact, spec_names
from ..data.batch import Batch
from ..errors import DataError, MissingColumns
from ..features import Encoder, label_array, weight_array
from ..metrics import evaluate, ranking_metrics
from ..model.widedeep import probabilities

DEFAULT_K = 10  # the k of NDCG@k and HitRate@k when neither --top-k nor --k names one


@dataclass(frozen=True)
class Ranked:
    frame: pl.DataFrame  # the candidates (the top k of each group, with top_k), best first, with `score`, `rank`
    group: str  # the column ranked within
    groups: int
    metrics: dict | None  # NDCG@k, MAP, MRR, HitRate@k, gAUC over all candidates, when they are labelled
    note: str | None = None  # why there are no metrics although the label column is there


class Scorer:
    def __init__(self, artifact: Artifact):
        self.artifact = artifact
        self.spec = artifact.spec
        self.fitted = artifact.fitted
        self.model = artifact.model
        self.encoder = Encoder(artifact.fitted)  # lookup tables built once: a request costs ~1 ms of features

    @staticmethod
    def load(model: str | Path | None = None) -> Scorer:
        return Scorer(load_artifact(model))

    def score(self, frame: pl.DataFrame, where: str = "input") -> np.ndarray:
        """P(y=1) for each row of raw columns. Unseen values and nulls are scored (OOV and missing ids)."""
        try:
            encoded = self.encoder(frame, where)
        except MissingColumns as e:
            raise self.mismatch(e) from None
        return probabilities(self.model, Batch.of(encoded).chunks())

    def mismatch(self, e: MissingColumns) -> MissingColumns:
        """A missing-column error that names this model and how to choose another: the file may be meant
        for a different model (runs/LATEST is the latest run of any spec)."""
        names = [n for n in spec_names(self.artifact.path) if n != self.spec.name]
        others = f", e.g. {', '.join(f'runs/{n}' for n in names[:5])}" if names else ""
        return MissingColumns(f"{e}\n  the model is {self.artifact.path} (spec '{self.spec.name}'); if this file is "
                              f"meant for another model, pass --model runs/NAME{others}")

    def predict(self, frame: pl.DataFrame, keep: list[str] | None = None, where: str = "input") -> pl.DataFrame:
        if keep is not None:
            absent = [c for c in dict.fromkeys(keep) if c not in frame.columns]
            if absent:
                raise DataError(f"{where}: no column {', '.join(repr(c) for c in absent)} to keep; it has: "
                                f"{', '.join(frame.columns[:20])}")
            keep = list(dict.fromkeys(keep))  # a column named twice is kept once
        out = frame if keep is None else frame.select(keep)
        return out.with_columns(score=pl.Series(self.score(frame, where), dtype=pl.Float64))

    def labels(self, frame: pl.DataFrame, where: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The label, weight and group of labelled rows. A label that never equals the model's positive value
        is an error: AUC would be undefined and accuracy meaningless."""
        spec = self.spec
        try:
            y = label_array(spec, frame, where, evaluating=True)
        except MissingColumns as e:
            raise self.mismatch(e) from None
        w = weight_array(spec, frame, where) if spec.label.weight else None
        group = frame[spec.label.group].to_numpy() if spec.label.group and spec.label.group in frame.columns else None
        return y, w, group

    def evaluate(self, frame: pl.DataFrame, where: str = "input") -> dict:
        """AUC, log loss, accuracy, calibration and row count (and gAUC with the spec's group column)."""
        y, w, group = self.labels(frame, where)
        return evaluate(y, self.score(frame, where), w, group)

    def rank(self, frame: pl.DataFrame, group_by: str | None = None, top_k: int | None = None,
             k: int | None = None, where: str = "input") -> Ranked:
        """Score, order each group best first, add `rank` (1 = best), keep the top k of each group. With the
        label column present, ranking metrics at k (default: top_k, else 10) over all candidates."""
        group = group_by or self.spec.label.group
        if group is None:
            raise DataError(f"{where}: no group to rank within; pass --group-by COLUMN (the spec names no label.group)")
        if group not in frame.columns:
            raise DataError(f"{where}: missing group column '{group}' that rank needs; add it or pass --group-by "
                            f"with one of: {', '.join(frame.columns[:15])}")
        scored = self.predict(frame, where=where)  # a stable sort: ties keep the input's order
        ranked = (scored.sort([group, "score"], descending=[False, True], maintain_order=True)
                  .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over(group)))
        metrics = note = None
        if self.spec.label.column in frame.columns:  # labelled candidates: metrics, or why there are none
            try:
                y, _, _ = self.labels(ranked, where)
                metrics = ranking_metrics(ranked, group, pl.lit(pl.Series(y)), k or top_k or DEFAULT_K)
            except DataError as e:
                note = f"no ranking metrics: {e}"
        shown = ranked.filter(pl.col("rank") <= top_k) if top_k is not None else ranked
        return Ranked(shown, group, ranked[group].n_unique(), metrics, note)
