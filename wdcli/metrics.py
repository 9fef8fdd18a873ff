"""Metrics, vectorized: binary classification (AUC, tie-aware; log loss, accuracy, calibration; gAUC, the AUC
per group averaged with the groups' sizes as weights, over groups with both classes) and ranking (NDCG@k, MAP,
MRR, HitRate@k) over groups of ranked candidates."""

from __future__ import annotations

import numpy as np
import polars as pl


def _pair_auc(y: np.ndarray, s: np.ndarray, w: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per key (group) AUC numerators and pos*neg denominators; ties in score count one half."""
    order = np.lexsort((s, keys))
    k, s, y, w = keys[order], s[order], y[order], w[order]
    new = np.empty(len(s), dtype=bool)
    new[:1] = True
    new[1:] = (k[1:] != k[:-1]) | (s[1:] != s[:-1])
    tie = np.cumsum(new) - 1  # index of each (key, score) run
    pos = np.bincount(tie, weights=y * w)
    neg = np.bincount(tie, weights=(1 - y) * w)
    run_key = k[new]
    group_start = np.r_[True, run_key[1:] != run_key[:-1]]
    cum_neg = np.cumsum(neg)
    starts = np.maximum.accumulate(np.where(group_start, np.arange(len(neg)), 0))
    neg_before = cum_neg - neg - (cum_neg[starts] - neg[starts])
    g = np.cumsum(group_start) - 1
    num = np.bincount(g, weights=pos * (neg_before + 0.5 * neg))
    den = np.bincount(g, weights=pos) * np.bincount(g, weights=neg)
    return num, den


def auc(y: np.ndarray, s: np.ndarray, w: np.ndarray | None = None) -> float:
    w = np.ones_like(s, dtype=np.float64) if w is None else w.astype(np.float64)
    if len(y) == 0:
        return float("nan")
    num, den = _pair_auc(y.astype(np.float64), s.astype(np.float64), w, np.zeros(len(y), dtype=np.int64))
    return float(num[0] / den[0]) if den[0] > 0 else float("nan")


def gauc(y: np.ndarray, s: np.ndarray, groups: np.ndarray) -> float:
    """Group AUC: mean of per-group AUCs weighted by group size, over groups having both classes."""
    _, keys, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    num, den = _pair_auc(y.astype(np.float64), s.astype(np.float64), np.ones(len(y)), keys.astype(np.int64))
    ok = den > 0
    if not ok.any():
        return float("nan")
    return float(np.sum(num[ok] / den[ok] * sizes[ok]) / np.sum(sizes[ok]))


def logloss(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    losses = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    return float(np.average(losses, weights=w))


def evaluate(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None, groups: np.ndarray | None = None) -> dict:
    """The metrics `wdcli eval` reports."""
    out = {
        "rows": int(len(y)),
        "auc": auc(y, p, w),
        "logloss": logloss(y, p, w) if len(y) else float("nan"),
        "accuracy": float(np.average((p >= 0.5) == (y > 0.5), weights=w)) if len(y) else float("nan"),
        "mean_score": float(np.average(p, weights=w)) if len(y) else float("nan"),
        "base_rate": float(np.average(y, weights=w)) if len(y) else float("nan"),
    }
    out["calibration"] = out["mean_score"] / out["base_rate"] if out["base_rate"] > 0 else float("nan")
    if groups is not None:
        out["gauc"] = gauc(y, p, groups)
    return out


def ranking_metrics(ranked: pl.DataFrame, group: str, label: pl.Expr, k: int) -> dict:
    """NDCG@k, MAP, MRR, HitRate@k and gAUC over groups of a ranked frame (rank 1 = best) with 0/1 labels.

    NDCG, MAP and MRR average over groups with at least one positive; gAUC over groups with both classes.
    """
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
