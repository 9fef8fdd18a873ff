"""Scoring with a trained artifact: a score per row, metrics on labelled rows, candidates ranked within groups.

Load once, score many times:

    scorer = Scorer.load("runs/apps")          # or Scorer.load() for the latest run
    scores = scorer.score(frame)               # numpy float64 in [0, 1]
    metrics = scorer.evaluate(labelled)        # AUC, log loss, ... (gAUC with a group column)
    ranked = scorer.rank(frame, group_by="request_id", top_k=10)   # ranked.frame, ranked.metrics

Scoring never imports the trainer: a served model carries no optimizers, checkpoints or signal handlers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ..artifact import Artifact, load_artifact
from ..data.batch import Batch
from ..errors import DataError
from ..features import Encoder, label_array, weight_array
from ..metrics import evaluate, ranking_metrics_of, ranking_sums
from ..model.widedeep import probabilities

DEFAULT_K = 10  # the k of NDCG@k and HitRate@k when neither --top-k nor --k names one


@dataclass(frozen=True)
class Ranked:
    frame: pl.DataFrame  # the candidates (the top k of each group, with top_k), best first, with `score`, `rank`
    group: str  # the column ranked within
    groups: int
    metrics: dict | None  # NDCG@k, MAP, MRR, HitRate@k, gAUC over all candidates, when they are labelled
    sums: dict | None = None  # what the metrics are made of (frames of other groups add up: metrics.add_sums)
    k: int = 10


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
        return probabilities(self.model, Batch.of(self.encoder(frame, where)).chunks())

    def predict(self, frame: pl.DataFrame, keep: list[str] | None = None, where: str = "input") -> pl.DataFrame:
        if keep is not None:
            absent = [c for c in keep if c not in frame.columns]
            if absent:
                raise DataError(f"{where}: no column {', '.join(repr(c) for c in absent)} to keep; it has: "
                                f"{', '.join(frame.columns[:20])}")
        out = frame if keep is None else frame.select(keep)
        return out.with_columns(score=pl.Series(self.score(frame, where), dtype=pl.Float64))

    def labels(self, frame: pl.DataFrame, where: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The label, weight and group of labelled rows."""
        spec = self.spec
        y = label_array(spec, frame, where)
        w = weight_array(spec, frame, where) if spec.label.weight else None
        group = frame[spec.label.group].to_numpy() if spec.label.group and spec.label.group in frame.columns else None
        return y, w, group

    def check_positive(self, seen: Iterable[str], where: str) -> None:
        """A label that never equals the model's positive value is an error: AUC would be undefined and accuracy
        meaningless. `seen`: the label's distinct values (as text)."""
        label = self.spec.label.column
        label_array(self.spec, pl.DataFrame({label: sorted(set(seen))}, schema={label: pl.String}), where,
                    fitting=True)

    def evaluate(self, frame: pl.DataFrame | Iterable[pl.DataFrame], where: str = "input") -> dict:
        """AUC, log loss, accuracy, calibration and row count (and gAUC with the spec's group column), of a frame
        or of batches of rows (exact, holding 12 to 20 bytes a row)."""
        parts, seen = [], set()
        for batch in [frame] if isinstance(frame, pl.DataFrame) else frame:
            y, w, group = self.labels(batch, where)
            seen.update(batch[self.spec.label.column].cast(pl.String).str.strip_chars().unique().to_list())
            parts.append((y, self.score(batch, where), w, group))
        self.check_positive(seen, where)
        cat = lambda i: None if not parts or parts[0][i] is None else np.concatenate([p[i] for p in parts])  # noqa: E731
        return evaluate(cat(0), cat(1), cat(2), cat(3))

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
        scored = self.predict(frame, where=where).with_row_index("_row")
        ranked = (scored.sort([group, "score", "_row"], descending=[False, True, False], maintain_order=True)
                  .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over(group))).drop("_row")
        metrics = sums = None
        k = k or top_k or DEFAULT_K
        if self.spec.label.column in frame.columns:
            y, _, _ = self.labels(ranked, where)
            sums = ranking_sums(ranked, group, y, k)
            metrics = ranking_metrics_of(sums, k)
        shown = ranked.filter(pl.col("rank") <= top_k) if top_k is not None else ranked
        return Ranked(shown, group, ranked[group].n_unique(), metrics, sums, k)
