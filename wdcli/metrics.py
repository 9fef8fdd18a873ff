"""Metrics, vectorized: binary classification (AUC, tie-aware; log loss, accuracy, calibration; gAUC, the AUC
per group averaged with the groups' sizes as weights, over groups with both classes) and ranking (NDCG@k, MAP,
MRR, HitRate@k) over groups of ranked candidates; and the records of a run's figures that metrics.json holds
(`RunMetrics`: each split's metrics, the epochs' `EpochRecord`s, what a warm start carried)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

DEFAULT_K = 10  # the k of NDCG@k and HitRate@k where none is named (`evaluate`; `wdcli rank` without --k)


def _pair_auc(y: np.ndarray, s: np.ndarray, w: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per key (group) AUC numerators and pos*neg denominators; ties in score count one half."""
    if len(y) == 0:  # (no row: no group)
        return np.zeros(0), np.zeros(0)
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


def _grouped(y: np.ndarray, s: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows that have a group: not None (text), not NaN (numbers; a data-parallel run's group ids of nulls)."""
    if groups.dtype == object:
        has = pl.Series(groups, strict=False).is_not_null().to_numpy()
    elif groups.dtype.kind == "f":
        has = ~np.isnan(groups)
    else:
        return y, s, groups
    return (y, s, groups) if has.all() else (y[has], s[has], groups[has])


def group_aucs(y: np.ndarray, s: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(the AUC of each group having both classes, the group's size, the number of groups in all). A row of no
    group (a null: None in text, NaN in numbers) counts in none."""
    y, s, groups = _grouped(y, s, groups)
    _, keys, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    num, den = _pair_auc(y.astype(np.float64), s.astype(np.float64), np.ones(len(y)), keys.astype(np.int64))
    ok = den > 0
    return num[ok] / den[ok], sizes[ok], len(sizes)


def gauc(y: np.ndarray, s: np.ndarray, groups: np.ndarray) -> float:
    """Group AUC: mean of per-group AUCs weighted by group size, over groups having both classes."""
    aucs, sizes, _ = group_aucs(y, s, groups)
    return float(np.sum(aucs * sizes) / np.sum(sizes)) if len(aucs) else float("nan")


def loglosses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Each row's log loss (probabilities clipped to [1e-7, 1 - 1e-7])."""
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def logloss(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    return float(np.average(loglosses(y, p), weights=w))


def worse_than_the_rate(splits: dict[str, dict]) -> list[tuple[str, float, float]]:
    """The held-out parts whose log loss is above that of scoring every row the training rows' positive rate:
    (part, its log loss, the rate's). A model stopped on its AUC may keep an epoch that ranks well and whose
    probabilities are overconfident (a walk's COVID draft: test log loss 0.2204 against the rate's 0.2098)."""
    train = splits.get("train") or {}
    q = min(max(float(train.get("base_rate", math.nan)), 1e-7), 1 - 1e-7)
    out = []
    for part in ("validation", "test"):
        m = splits.get(part) or {}
        p, loss = float(m.get("base_rate", math.nan)), float(m.get("logloss", math.nan))
        rate = -(p * math.log(q) + (1 - p) * math.log(1 - q))
        if loss > rate:  # (False where either is NaN)
            out.append((part, loss, rate))
    return out


def evaluate(
    y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None, groups: np.ndarray | None = None, ndcg: bool = True
) -> dict:
    """The metrics `wdcli eval` reports (`ndcg`: NDCG@10 too, with groups; an epoch's evaluation leaves it)."""
    out = {
        "rows": int(len(y)),
        "auc": auc(y, p, w),
        "logloss": logloss(y, p, w) if len(y) else float("nan"),
        "accuracy": float(np.average((p >= 0.5) == (y > 0.5), weights=w)) if len(y) else float("nan"),
        "mean_score": float(np.average(p.astype(np.float64), weights=w)) if len(y) else float("nan"),
        "base_rate": float(np.average(y.astype(np.float64), weights=w)) if len(y) else float("nan"),
    }
    out["calibration"] = out["mean_score"] / out["base_rate"] if out["base_rate"] > 0 else float("nan")
    if groups is not None:
        out["gauc"] = gauc(y, p, groups)
        if ndcg:
            out[f"ndcg@{DEFAULT_K}"] = grouped_ndcg(y, p, groups, DEFAULT_K)
        if missing := len(y) - len(_grouped(y, p, groups)[0]):  # (rows of no group: in AUC, not in the groups')
            out["ungrouped_rows"] = missing
    return out


def grouped_ndcg(y: np.ndarray, s: np.ndarray, groups: np.ndarray, k: int) -> float:
    """NDCG@k over the groups with a positive, each group's rows ranked by score as `wdcli rank` ranks them (rows
    of one score sharing their places, `ranking_sums`); a row of no group counts in none. NaN where no group has
    a positive."""
    y, s, groups = _grouped(y, s, groups)
    keys = np.unique(groups, return_inverse=True)[1].reshape(-1)
    ranked = ranked_by_score(pl.DataFrame({"group": keys, "score": s.astype(np.float64), "y": y}), "group")
    return ranking_metrics(ranked, "group", ranked["y"].to_numpy(), k).get(f"ndcg@{k}", float("nan"))


def ranked_by_score(scored: pl.DataFrame, group: str) -> pl.DataFrame:
    """Each group's rows best score first (a stable sort: ties keep the rows' order), with `rank` (1 = best)."""
    ranked = scored.sort([group, "score"], descending=[False, True], maintain_order=True)
    return ranked.with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over(group))


def ranking_sums(ranked: pl.DataFrame, group: str, label: np.ndarray, k: int) -> dict[str, float]:
    """Per-group ranking figures of a ranked frame (whole groups, rank 1 = best, 0/1 labels), summed over its
    groups, so that frames of different groups add up (`add_sums`) before `ranking_metrics_of`.

    Rows of one score in a group are tied: each figure is its mean over every order of the tied rows (what a
    ranker that breaks ties at random scores on average), so that none depends on the order of the rows (nor on
    how many processes gathered them). NDCG: tied rows share the discounts of the places they hold (McSherry &
    Najork 2008, scikit-learn's `ndcg_score`); AP, RR and hit@k: their expectations, in closed form below.
    Without ties each is its textbook value."""
    r = ranked.with_columns(__rel=pl.Series(label).cast(pl.Float64))
    r = r.filter(pl.col(group).is_not_null()).sort([group, "rank"])  # (a row of no group counts in none)
    tied = r.select(__first=pl.col("rank").min().over(group, "score"), __last=pl.col("rank").max().over(group, "score"))
    first, last = (tied[c].to_numpy().astype(np.int64) for c in ("__first", "__last"))
    rank = r["rank"].to_numpy().astype(np.int64)
    y, scores = r["__rel"].to_numpy(), r["score"].to_numpy()
    _, keys, sizes = np.unique(r[group].to_numpy(), return_inverse=True, return_counts=True)
    if len(y) == 0:  # (no row: no group)
        return dict.fromkeys(("groups_with_positives", "ndcg", "ap", "rr", "hit", "auc_size", "size"), 0.0)
    keys = keys.reshape(-1).astype(np.int64)
    sums = _expected_sums(keys, len(sizes), rank, first, last, y, k)
    num, den = _pair_auc(y, scores.astype(np.float64), np.ones(len(y)), keys)
    ok = den > 0
    return {**sums, "auc_size": float(np.sum(num[ok] / den[ok] * sizes[ok])), "size": float(np.sum(sizes[ok]))}


def _expected_sums(
    keys: np.ndarray, n_groups: int, rank: np.ndarray, first: np.ndarray, last: np.ndarray, y: np.ndarray, k: int
) -> dict[str, float]:
    """`ranking_sums`' NDCG, AP, RR and hit@k, each its mean over every order of the tied rows, summed over the
    groups with a positive. Per row, sorted by group and rank: its group (`keys`), its place (`rank`), the places
    its tie block holds (`first`..`last`) and its 0/1 label (`y`)."""
    rows = np.arange(len(y))
    # each row's tie block: m rows from places first..last, p positives among them, `before` positives above it
    new = np.r_[True, (keys[1:] != keys[:-1]) | (first[1:] != first[:-1])]
    block = np.cumsum(new) - 1
    block_start = np.maximum.accumulate(np.where(new, rows, 0))
    p = np.bincount(block, weights=y)[block]
    m, t = last - first + 1, rank - first + 1  # t: the row's place within its block (1..m)
    group_start = np.maximum.accumulate(np.where(np.r_[True, keys[1:] != keys[:-1]], rows, 0))
    if np.any(rank != rows - group_start + 1):
        raise ValueError("ranking_sums: each group's rows must be ranked 1..n (as ranked_by_score ranks them)")
    above = np.cumsum(y) - y
    before = above[block_start] - above[group_start]
    npos = np.bincount(keys, weights=y, minlength=n_groups)
    # NDCG: each tied row's discount is the mean of its block's places' discounts (upto[n]: places 1..n, n <= k)
    upto = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    share = (upto[np.minimum(last, k)] - upto[np.minimum(first - 1, k)]) / m
    dcg = np.bincount(keys, weights=y * share, minlength=n_groups)
    # AP: place i's E[rel_i * positives up to i] / i, with rel_i = 1 at chance p/m and then each of the block's
    # other t - 1 places above it positive at chance (p - 1)/(m - 1)
    within = np.where(m > 1, (t - 1) * (p - 1) / np.maximum(m - 1, 1), 0.0)
    ap = np.bincount(keys, weights=p / m * (before + 1 + within) / rank, minlength=n_groups)
    q = _none_above(m, p, t, block_start)
    # RR: in the first block holding a positive, the first positive is at place t with chance q * p / (m - t + 1)
    first_block = (before == 0) & (p > 0)
    rr = np.bincount(keys, weights=np.where(first_block, q * p / (m - t + 1) / rank, 0.0), minlength=n_groups)
    # hit@k: a positive in a block wholly within k; else, in the block across place k, one among its first
    # k - first + 1 places: 1 - q at its place k + 1
    sure = np.bincount(keys, weights=(y > 0) & (last <= k), minlength=n_groups) > 0
    across = np.bincount(
        keys, weights=np.where((rank == k + 1) & (first <= k) & (p > 0), 1 - q, 0.0), minlength=n_groups
    )
    hit = np.where(sure, 1.0, across)
    has = npos > 0
    idcg = upto[np.minimum(npos[has].astype(np.int64), k)]  # (the positives first)
    return {
        "groups_with_positives": float(has.sum()),
        "ndcg": float(np.sum(dcg[has] / idcg)),
        "ap": float(np.sum(ap[has] / npos[has])),
        "rr": float(np.sum(rr[has])),
        "hit": float(np.sum(hit[has])),
    }


def _none_above(m: np.ndarray, p: np.ndarray, t: np.ndarray, block_start: np.ndarray) -> np.ndarray:
    """q: the chance that the places of a row's tie block above its own (t: its place in the block, 1..m) are all
    negative, with p positives among the block's m rows: prod_{j < t-1} (m - p - j) / (m - j)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.log(np.maximum(m - p - (t - 1), 0) / (m - (t - 1)))
    factor = np.where(np.isfinite(factor), factor, 0.0)
    logs = np.cumsum(factor) - factor
    return np.where(t <= m - p + 1, np.exp(logs - logs[block_start]), 0.0)


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


# ------------------------------------------------------------------------------- a run's records (metrics.json)

EPOCH_FIGURES = ("auc", "logloss", "gauc")  # what an epoch's evaluation records
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of a run: its training loss and speed, and the figures of the split it was evaluated on (the
    validation rows, else the training rows). In JSON: `{"epoch", "train_loss", "seconds", "rows_per_s",
    "<split>_auc", "<split>_logloss", "<split>_gauc" (with groups), "best": true (the best epoch so far)}`."""

    epoch: int
    train_loss: float
    seconds: float
    rows_per_s: float
    split: str = ""  # the split evaluated ("" until it is)
    auc: float | None = None
    logloss: float | None = None
    gauc: float | None = None
    best: bool = False

    def figures(self) -> dict[str, float]:
        """The evaluated split's figures by name (auc, logloss, gauc), those it has."""
        return {k: v for k in EPOCH_FIGURES if (v := getattr(self, k)) is not None}

    def figure(self, split: str, name: str) -> float | None:
        return self.figures().get(name) if split == self.split else None

    def to_json(self) -> dict:
        out: dict = {"epoch": self.epoch, "train_loss": self.train_loss}
        out.update(seconds=self.seconds, rows_per_s=self.rows_per_s)
        out.update({f"{self.split}_{k}": v for k, v in self.figures().items()})
        return {**out, "best": True} if self.best else out

    @staticmethod
    def from_json(d: dict) -> EpochRecord:
        if not isinstance(d, dict):
            raise TypeError(f"an epoch's record is a mapping, not {type(d).__name__}")
        figures, split = {}, ""
        for key, value in d.items():
            s, _, name = key.partition("_")
            if s in SPLITS and name in EPOCH_FIGURES:
                split, figures[name] = s, float(value)
        return EpochRecord(
            int(d["epoch"]),
            float(d.get("train_loss", math.nan)),
            float(d.get("seconds", 0.0)),
            float(d.get("rows_per_s", 0.0)),
            split,
            **figures,
            best=bool(d.get("best", False)),
        )


@dataclass(frozen=True)
class Carried:
    """What a warm start carried of one feature: ids matched to the previous run's, new ids, ids dropped."""

    carried: int
    new: int
    dropped: int
    note: str = ""

    def to_json(self) -> dict:
        out = {"carried": self.carried, "new": self.new, "dropped": self.dropped}
        return {**out, "note": self.note} if self.note else out


@dataclass(frozen=True)
class WarmReport:
    """What a warm start carried from a previous run (`wdcli.train.warm`); in JSON `{"from", "features",
    "mlp", "optimizer_state"}`, `"split"` when the run splits its rows unlike the previous one and `"numbers"`
    when a number kept the form `numeric_embedding: auto` gave it before against the new rows' verdict."""

    source: str  # the previous run's folder
    features: dict[str, Carried]
    mlp: str  # the MLP's layers copied, in words
    optimizer_state: str  # carried, or why not
    split: str = ""  # how this run's split differs from the previous run's, in words ("" alike)
    numbers: dict[str, str] = field(default_factory=dict)  # number -> its form kept, in words (`kept_numbers`)

    def to_json(self) -> dict:
        features = {name: c.to_json() for name, c in self.features.items()}
        out = {"from": self.source, "features": features, "mlp": self.mlp, "optimizer_state": self.optimizer_state}
        return out | ({"split": self.split} if self.split else {}) | ({"numbers": self.numbers} if self.numbers else {})

    @staticmethod
    def from_json(d: dict) -> WarmReport:
        if not isinstance(d, dict) or not isinstance(d.get("features"), dict):
            raise TypeError("a warm start's report is a mapping with features")
        features = {name: Carried(**c) for name, c in d["features"].items()}
        numbers = {str(k): str(v) for k, v in (d.get("numbers") or {}).items()}
        return WarmReport(
            str(d["from"]), features, str(d["mlp"]), str(d["optimizer_state"]), str(d.get("split", "")), numbers
        )


@dataclass(frozen=True)
class RunMetrics:
    """What a run's metrics.json holds: each split's metrics of the kept weights (`evaluate`'s), the epochs,
    the training seconds, the parameter counts of each part and what a warm start carried."""

    splits: dict[str, dict[str, float]]
    history: list[EpochRecord] = field(default_factory=list)
    seconds: float = math.nan
    parameters: dict[str, int] = field(default_factory=dict)
    warm_start: WarmReport | None = None

    @property
    def split(self) -> str:
        """The split whose metrics represent the run: test, else validation, else train."""
        return next((s for s in ("test", "validation", "train") if s in self.splits), "test")

    def metric(self, key: str, split: str | None = None) -> float:
        """A metric of a split (the representative one by default); NaN where there is none."""
        v = self.splits.get(split or self.split, {}).get(key)
        return float(v) if isinstance(v, (int, float)) else math.nan

    @property
    def epochs(self) -> int:
        return len(self.history)

    @property
    def best_epoch(self) -> int:
        """The epoch whose weights were kept (the last one marked best; 0 when none was)."""
        return max((r.epoch for r in self.history if r.best), default=0)

    def to_json(self) -> dict:
        out = {
            "splits": self.splits,
            "history": [r.to_json() for r in self.history],
            "seconds": self.seconds,
            "parameters": self.parameters,
        }
        return {**out, "warm_start": self.warm_start.to_json()} if self.warm_start is not None else out

    @staticmethod
    def from_json(d: dict) -> RunMetrics:
        """Read metrics.json (any wdcli's); a value of the wrong shape raises TypeError, ValueError or KeyError."""
        if not isinstance(d, dict) or not isinstance(d.get("splits", {}), dict):
            raise TypeError("metrics.json is not a mapping of splits")
        warm = d.get("warm_start")
        return RunMetrics(
            {str(s): dict(m) for s, m in d.get("splits", {}).items()},
            [EpochRecord.from_json(r) for r in d.get("history", [])],
            float(d.get("seconds", math.nan)),
            {str(k): int(v) for k, v in d.get("parameters", {}).items()},
            WarmReport.from_json(warm) if warm else None,
        )
