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


def group_aucs(y: np.ndarray, s: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(the AUC of each group having both classes, the group's size, the number of groups in all)."""
    _, keys, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    num, den = _pair_auc(y.astype(np.float64), s.astype(np.float64), np.ones(len(y)), keys.astype(np.int64))
    ok = den > 0
    return num[ok] / den[ok], sizes[ok], len(sizes)


def gauc(y: np.ndarray, s: np.ndarray, groups: np.ndarray) -> float:
    """Group AUC: mean of per-group AUCs weighted by group size, over groups having both classes."""
    aucs, sizes, _ = group_aucs(y, s, groups)
    return float(np.sum(aucs * sizes) / np.sum(sizes)) if len(aucs) else float("nan")


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


def ranking_sums(ranked: pl.DataFrame, group: str, label: np.ndarray, k: int) -> dict[str, float]:
    """Per-group ranking figures of a ranked frame (whole groups, rank 1 = best, 0/1 labels), summed over its
    groups, so that frames of different groups add up (`add_sums`) before `ranking_metrics_of`."""
    r = ranked.with_columns(rel=pl.Series(label).cast(pl.Float64)).sort([group, "rank"])
    per = (
        r.group_by(group)
        .agg(
            npos=pl.col("rel").sum(),
            dcg=(pl.col("rel") / (pl.col("rank").cast(pl.Float64) + 1).log(2)).filter(pl.col("rank") <= k).sum(),
            ap=((pl.col("rel").cum_sum() / pl.col("rank")) * pl.col("rel")).sum(),
            first=pl.col("rank").filter(pl.col("rel") > 0).min(),
            hit=(pl.col("rel").filter(pl.col("rank") <= k).sum() > 0),
        )
        .filter(pl.col("npos") > 0)
    )
    ideal = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    idcg = ideal[np.minimum(per["npos"].to_numpy().astype(np.int64), k) - 1]
    y, scores = r["rel"].to_numpy(), r["score"].to_numpy()
    _, keys, sizes = np.unique(r[group].to_numpy(), return_inverse=True, return_counts=True)
    num, den = _pair_auc(y, scores.astype(np.float64), np.ones(len(y)), keys.astype(np.int64))
    ok = den > 0
    return {
        "groups_with_positives": float(len(per)),
        "ndcg": float(np.sum(per["dcg"].to_numpy() / idcg)),
        "ap": float((per["ap"] / per["npos"]).sum()),
        "rr": float((1.0 / per["first"].cast(pl.Float64)).sum()),
        "hit": float(per["hit"].cast(pl.Float64).sum()),
        "auc_size": float(np.sum(num[ok] / den[ok] * sizes[ok])),
        "size": float(np.sum(sizes[ok])),
    }


def add_sums(a: dict[str, float] | None, b: dict[str, float]) -> dict[str, float]:
    return dict(b) if a is None else {key: a[key] + b[key] for key in a}


def ranking_metrics_of(sums: dict[str, float], k: int) -> dict:
    """NDCG@k, MAP, MRR and HitRate@k averaged over groups with at least one positive; gAUC over groups with
    both classes, weighted by their size."""
    n = int(sums["groups_with_positives"])
    if n == 0:
        return {"groups_with_positives": 0}
    return {
        "groups_with_positives": n,
        f"ndcg@{k}": sums["ndcg"] / n,
        "map": sums["ap"] / n,
        "mrr": sums["rr"] / n,
        f"hitrate@{k}": sums["hit"] / n,
        "gauc": sums["auc_size"] / sums["size"] if sums["size"] else float("nan"),
    }


def ranking_metrics(ranked: pl.DataFrame, group: str, label: np.ndarray, k: int) -> dict:
    """NDCG@k, MAP, MRR, HitRate@k and gAUC over the groups of a ranked frame with 0/1 labels."""
    return ranking_metrics_of(ranking_sums(ranked, group, label, k), k)
