"""Scoring with a trained artifact: predict (a score per row) and rank (candidates ordered within each group).

Load once, score many times:

    scorer = Scorer.load("runs/apps")          # or Scorer.load() for the latest run
    scores = scorer.score(frame)               # numpy float64 in [0, 1]
    ranked = scorer.rank(frame, group_by="request_id", top_k=10)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import torch

from .artifact import Artifact, load_artifact
from .data import file_format
from .errors import DataError
from .encoder import Encoder
from .train import Tensors, score as score_tensors


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

    @torch.no_grad()
    def score(self, frame: pl.DataFrame, where: str = "input") -> np.ndarray:
        """P(y=1) for each row of raw columns. Unseen values and nulls are scored (OOV and missing ids)."""
        enc = self.encoder(frame, where)
        return score_tensors(self.model, Tensors.of(enc))

    def predict(self, frame: pl.DataFrame, keep: list[str] | None = None, where: str = "input") -> pl.DataFrame:
        out = frame if keep is None else frame.select(keep)
        return out.with_columns(score=pl.Series(self.score(frame, where), dtype=pl.Float64))

    def rank(self, frame: pl.DataFrame, group_by: str | None = None, top_k: int | None = None,
             where: str = "input") -> pl.DataFrame:
        """Score, order each group best first, add `rank` (1 = best), keep the top k of each group."""
        group = group_by or self.spec.label.group
        if group is None:
            raise DataError(f"{where}: no group to rank within; pass --group-by COLUMN (the spec names no label.group)")
        if group not in frame.columns:
            raise DataError(f"{where}: missing group column '{group}' that rank needs; add it or pass --group-by "
                            f"with one of: {', '.join(frame.columns[:15])}")
        scored = self.predict(frame, where=where).with_row_index("_row")
        ranked = (scored.sort([group, "score", "_row"], descending=[False, True, False], maintain_order=True)
                  .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over(group)))
        if top_k is not None:
            ranked = ranked.filter(pl.col("rank") <= top_k)
        return ranked.drop("_row")


def ranking_metrics(ranked: pl.DataFrame, group: str, label: pl.Expr, k: int) -> dict:
    """NDCG@k, MAP, MRR, HitRate@k and gAUC over groups of a ranked frame (rank 1 = best) with 0/1 labels.

    NDCG, MAP and MRR average over groups with at least one positive; gAUC over groups with both classes.
    """
    from .metrics import gauc

    r = ranked.with_columns(rel=label.cast(pl.Float64)).sort([group, "rank"])
    per = r.group_by(group).agg(
        npos=pl.col("rel").sum(),
        dcg=(pl.col("rel") / (pl.col("rank").cast(pl.Float64) + 1).log(2)).filter(pl.col("rank") <= k).sum(),
        ap=((pl.col("rel").cum_sum() / pl.col("rank")) * pl.col("rel")).sum(),
        first=pl.col("rank").filter(pl.col("rel") > 0).min(),
        hit=(pl.col("rel").filter(pl.col("rank") <= k).sum() > 0),
    ).filter(pl.col("npos") > 0)
    if len(per) == 0:
        return {"groups_with_positives": 0}
    ideal = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    idcg = ideal[np.minimum(per["npos"].to_numpy().astype(np.int64), k) - 1]
    return {
        "groups_with_positives": len(per),
        f"ndcg@{k}": float(np.mean(per["dcg"].to_numpy() / idcg)),
        "map": float((per["ap"] / per["npos"]).mean()),
        "mrr": float((1.0 / per["first"].cast(pl.Float64)).mean()),
        f"hitrate@{k}": float(per["hit"].cast(pl.Float64).mean()),
        "gauc": gauc(r["rel"].to_numpy(), r["score"].to_numpy(), r[group].to_numpy()),
    }


def write_frame(frame: pl.DataFrame, output: str | Path | None) -> str | None:
    """Write by extension (CSV, Parquet, NDJSON); return CSV text when no output is named."""
    if output is None:
        return frame.write_csv()
    fmt = file_format(output)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(output).with_name(f".{Path(output).name}.tmp")
    if fmt == "csv":
        frame.write_csv(tmp)
    elif fmt == "parquet":
        frame.write_parquet(tmp)
    else:
        frame.write_ndjson(tmp)
    tmp.replace(output)
    return None
