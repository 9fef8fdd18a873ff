"""Every metric against an independent reference: scikit-learn's (`roc_auc_score`, `log_loss`,
`average_precision_score`, `ndcg_score`, `accuracy_score`), a per-group loop for gAUC, and MAP, MRR and
HitRate@k computed by hand from their definitions. The data has what breaks metrics: tied scores, weights,
groups of one class, groups of one row, no positives at all, no rows at all."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, log_loss, ndcg_score, roc_auc_score

from wdcli.metrics import (
    add_sums,
    auc,
    evaluate,
    gauc,
    group_aucs,
    logloss,
    ranking_metrics,
    ranking_metrics_of,
    ranking_sums,
    worse_than_the_rate,
)
from wdcli.report.curves import curves


def scored(n: int = 600, seed: int = 0, levels: int | None = 12):
    """Labels, scores with many ties (`levels` distinct values; None: all distinct), weights and groups of
    varied sizes (some of one class, some of one row)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float64)
    s = np.clip(0.3 * y + rng.random(n) * 0.7, 0.01, 0.99)
    if levels is not None:
        s = np.round(s * levels) / levels  # ties, within and across the classes
        s = np.clip(s, 0.02, 0.98)
    w = rng.choice([0.5, 1.0, 2.0, 3.0], n)
    groups = rng.integers(0, n // 6, n)
    return y, s, w, groups


# ------------------------------------------------------------------------------------------ binary metrics


@pytest.mark.parametrize("levels", [3, 12, None])
def test_auc_equals_sklearn_with_ties_and_weights(levels):
    y, s, w, _ = scored(levels=levels)
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auc(y, s, w) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)


def test_auc_counts_a_tie_one_half_whatever_the_row_order():
    y = np.array([0, 1, 0, 1, 1, 0], dtype=float)
    s = np.full(6, 0.5)
    assert auc(y, s) == 0.5 and auc(y[::-1], s) == 0.5
    # of the four (positive, negative) pairs three are ordered and one is tied: (3 + 0.5) / 4
    assert auc(np.array([1.0, 0, 1, 0]), np.array([0.9, 0.1, 0.5, 0.5])) == 0.875
    rng = np.random.default_rng(3)
    y, s, w, _ = scored(levels=4)
    order = rng.permutation(len(y))
    assert auc(y[order], s[order], w[order]) == pytest.approx(auc(y, s, w), abs=1e-12)


def test_auc_of_one_class_or_no_rows_is_nan():
    assert math.isnan(auc(np.ones(5), np.linspace(0, 1, 5)))
    assert math.isnan(auc(np.zeros(5), np.linspace(0, 1, 5)))
    assert math.isnan(auc(np.array([]), np.array([])))
    assert math.isnan(auc(np.array([1.0, 0.0]), np.array([0.3, 0.7]), np.array([1.0, 0.0])))  # (no negative weight)


def test_logloss_equals_sklearn_with_weights_and_is_clipped():
    y, s, w, _ = scored(levels=None)
    assert logloss(y, s) == pytest.approx(log_loss(y, s), rel=1e-12)
    assert logloss(y, s, w) == pytest.approx(log_loss(y, s, sample_weight=w), rel=1e-12)
    # a confident mistake costs -log(1e-7), not infinity
    assert logloss(np.array([1.0]), np.array([0.0])) == pytest.approx(-math.log(1e-7), rel=1e-9)


def test_evaluate_equals_the_references():
    y, s, w, groups = scored()
    m = evaluate(y, s, w, groups)
    assert m["rows"] == len(y)
    assert m["auc"] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    assert m["logloss"] == pytest.approx(log_loss(y, s, sample_weight=w), rel=1e-12)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, s >= 0.5, sample_weight=w), abs=1e-12)
    mean, rate = np.sum(w * s) / np.sum(w), np.sum(w * y) / np.sum(w)
    assert (m["mean_score"], m["base_rate"]) == (pytest.approx(mean), pytest.approx(rate))
    assert m["calibration"] == pytest.approx(mean / rate)
    assert m["gauc"] == pytest.approx(gauc_reference(y, s, groups), abs=1e-12)
    empty = evaluate(np.array([]), np.array([]))
    assert empty["rows"] == 0 and all(math.isnan(empty[k]) for k in ("auc", "logloss", "accuracy", "calibration"))
    negatives = evaluate(np.zeros(4), np.full(4, 0.2))
    assert math.isnan(negatives["auc"]) and math.isnan(negatives["calibration"]) and negatives["accuracy"] == 1.0


# ------------------------------------------------------------------------------------------------ gAUC


def gauc_reference(y, s, groups) -> float:
    """The AUC of each group with both classes, weighted by the group's size, by a loop over the groups."""
    total = weight = 0.0
    for g in np.unique(groups):
        rows = groups == g
        if len(np.unique(y[rows])) == 2:
            total += rows.sum() * roc_auc_score(y[rows], s[rows])
            weight += rows.sum()
    return total / weight if weight else float("nan")


@pytest.mark.parametrize("levels", [3, None])
def test_gauc_equals_a_loop_over_groups(levels):
    y, s, _, groups = scored(levels=levels)
    one_class = [g for g in np.unique(groups) if len(np.unique(y[groups == g])) == 1]
    assert len(one_class) > 10  # the data has groups that must be left out
    assert gauc(y, s, groups) == pytest.approx(gauc_reference(y, s, groups), abs=1e-12)
    assert gauc(y, s, groups) != pytest.approx(auc(y, s), abs=1e-3)  # the groups matter on this data
    aucs, sizes, n = group_aucs(y, s, groups)
    assert n == len(np.unique(groups)) and len(aucs) == n - len(one_class)
    assert sizes.sum() == sum((groups == g).sum() for g in np.unique(groups) if g not in one_class)


def test_gauc_ranks_within_groups_not_across_them():
    """Scores that order each group perfectly but groups against each other badly: gAUC 1, AUC far below."""
    y = np.array([1, 0, 1, 0, 1, 0], dtype=float)
    s = np.array([0.2, 0.1, 0.5, 0.4, 0.9, 0.8])
    groups = np.array(["a", "a", "b", "b", "c", "c"])
    assert gauc(y, s, groups) == 1.0 and auc(y, s) < 0.8
    assert math.isnan(gauc(y, s, np.array(["a", "b", "c", "d", "e", "f"])))  # no group has both classes


def test_a_row_of_no_group_counts_in_none():
    """A null in a text group column (a row with no user) is in no group: training on such rows ended in an
    internal TypeError (None against text in the sort)."""
    y = np.array([1, 0, 1, 0, 1, 0], dtype=float)
    s = np.array([0.2, 0.1, 0.5, 0.4, 0.1, 0.8])
    groups = np.array(["a", "a", "b", "b", None, None], dtype=object)
    assert gauc(y, s, groups) == 1.0 and group_aucs(y, s, groups)[2] == 2


# --------------------------------------------------------------------------------------------- ranking


def ranked_frame(y, s, groups) -> tuple[pl.DataFrame, np.ndarray]:
    """What `Scorer.rank` gives: each group's rows best first (ties: input order), rank 1 = best."""
    frame = pl.DataFrame({"g": groups, "score": s, "y": y})
    ranked = frame.sort(["g", "score"], descending=[False, True], maintain_order=True).with_columns(
        rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("g")
    )
    return ranked, ranked["y"].to_numpy()


def by_hand(y, s, groups, k: int) -> dict[str, float]:
    """NDCG@k (scikit-learn's, per group), AP, reciprocal rank and hit@k by their definitions, averaged over
    the groups with a positive; gAUC by the loop."""
    figures: dict[str, list[float]] = {"ndcg": [], "map": [], "mrr": [], "hit": []}
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        rel = y[rows][np.argsort(-s[rows], kind="stable")]  # best first
        if rel.sum() == 0:
            continue
        hits = np.flatnonzero(rel) + 1  # the ranks of the positives
        figures["map"].append(np.mean([np.sum(rel[:r]) / r for r in hits]))
        figures["mrr"].append(1.0 / hits[0])
        figures["hit"].append(float(hits[0] <= k))
        if len(rows) == 1:
            figures["ndcg"].append(1.0)  # (scikit-learn needs two documents)
        else:
            figures["ndcg"].append(ndcg_score([y[rows]], [s[rows]], k=k))
    out = {name: float(np.mean(v)) for name, v in figures.items()}
    return {**out, "gauc": gauc_reference(y, s, groups), "groups": len(figures["map"])}


@pytest.mark.parametrize("k", [1, 3, 10])
def test_ranking_metrics_equal_references(k):
    y, s, _, groups = scored(levels=None)  # distinct scores: scikit-learn's NDCG orders them as the ranker
    ranked, label = ranked_frame(y, s, groups)
    m = ranking_metrics(ranked, "g", label, k)
    ref = by_hand(y, s, groups, k)
    assert m["groups_with_positives"] == ref["groups"]
    assert m[f"ndcg@{k}"] == pytest.approx(ref["ndcg"], abs=1e-12)
    assert m["map"] == pytest.approx(ref["map"], abs=1e-12)
    assert m["mrr"] == pytest.approx(ref["mrr"], abs=1e-12)
    assert m[f"hitrate@{k}"] == pytest.approx(ref["hit"], abs=1e-12)
    assert m["gauc"] == pytest.approx(ref["gauc"], abs=1e-12)


def test_evaluate_with_groups_gives_the_ndcg_at_10_of_the_ranked_rows():
    """`evaluate` (a run's splits, `eval`, `compare`) with groups: NDCG@10 as scikit-learn's per group, ties
    included (tied rows share their places' discounts), the same in any row order (as processes gather them)
    and as `rank`'s; rows of no group in none; NaN without positives or groups."""
    for levels in (None, 4):  # distinct scores, then many ties
        y, s, w, groups = scored(levels=levels)
        ndcg = evaluate(y, s, w, groups)["ndcg@10"]
        assert ndcg == pytest.approx(by_hand(y, s, groups, 10)["ndcg"], abs=1e-12), levels
        ranked, label = ranked_frame(y, s, groups)
        assert ndcg == pytest.approx(ranking_metrics(ranked, "g", label, 10)["ndcg@10"], abs=1e-12)
        order = np.random.default_rng(3).permutation(len(y))
        assert evaluate(y[order], s[order], None, groups[order])["ndcg@10"] == pytest.approx(ndcg, abs=1e-12)
    named = np.array([None if i % 5 == 0 else f"u{g}" for i, g in enumerate(groups)], dtype=object)
    has = named != None  # noqa: E711 (elementwise)
    assert evaluate(y, s, None, named)["ndcg@10"] == pytest.approx(by_hand(y[has], s[has], named[has], 10)["ndcg"])
    assert math.isnan(evaluate(np.zeros(len(y)), s, None, groups)["ndcg@10"])
    numbered = np.where(has, groups, np.nan)  # (a number column's nulls, or a data-parallel run's group ids)
    assert evaluate(y, s, None, numbered)["ndcg@10"] == evaluate(y, s, None, named)["ndcg@10"]
    assert evaluate(y, s, None, numbered)["gauc"] == evaluate(y, s, None, named)["gauc"]
    nobody = evaluate(y, s, None, np.full(len(y), None, dtype=object))
    assert math.isnan(nobody["ndcg@10"]) and math.isnan(nobody["gauc"])


def every_order(y, s, groups, k: int) -> dict[str, float]:
    """NDCG@k, AP, RR and hit@k of each group as the mean over every order of its tied rows (each distinct
    arrangement of a tie's labels, all of them equally likely), averaged over the groups with a positive."""
    figures: dict[str, list[float]] = {"ndcg": [], "map": [], "mrr": [], "hit": []}
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        if y[rows].sum() == 0:
            continue
        ties = [y[rows][s[rows] == v] for v in sorted(set(s[rows]), reverse=True)]
        orders = [sorted(set(itertools.permutations(t))) for t in ties]
        each: dict[str, list[float]] = {name: [] for name in figures}
        for arrangement in itertools.product(*orders):
            rel = np.concatenate(arrangement)
            hits = np.flatnonzero(rel) + 1
            each["map"].append(np.mean([np.sum(rel[:r]) / r for r in hits]))
            each["mrr"].append(1.0 / hits[0])
            each["hit"].append(float(hits[0] <= k))
            ideal = np.sum(1 / np.log2(np.arange(2, min(len(hits), k) + 2)))
            each["ndcg"].append(np.sum(rel[:k] / np.log2(np.arange(2, min(len(rel), k) + 2))) / ideal)
        for name in figures:
            figures[name].append(float(np.mean(each[name])))
    return {name: float(np.mean(v)) for name, v in figures.items()}


@pytest.mark.parametrize("k", [1, 2, 4])
def test_ranking_metrics_of_tied_scores_are_their_means_over_every_order_of_the_ties(k):
    """A tie is ranked as a coin would break it, on average: MAP, MRR and HitRate (and NDCG) equal their means
    over every order of the tied rows, and so do not depend on the rows' order (a planted 'ties in input order'
    fails here)."""
    rng = np.random.default_rng(7)
    n = 160
    groups = rng.integers(0, 30, n)  # groups of about 5 rows
    y = (rng.random(n) < 0.35).astype(np.float64)
    s = rng.integers(0, 3, n) / 2.0  # three scores: most rows tied
    ranked, label = ranked_frame(y, s, groups)
    m = ranking_metrics(ranked, "g", label, k)
    ref = every_order(y, s, groups, k)
    for name, key in (("ndcg", f"ndcg@{k}"), ("map", "map"), ("mrr", "mrr"), ("hit", f"hitrate@{k}")):
        assert m[key] == pytest.approx(ref[name], abs=1e-12), name
    order = np.random.default_rng(1).permutation(n)
    again, label2 = ranked_frame(y[order], s[order], groups[order])
    assert ranking_metrics(again, "g", label2, k) == pytest.approx(m, abs=1e-12)
    # one group, by hand: scores (0.9, 0.5, 0.5, 0.5) with labels (0, 1, 0, 0): the positive is at place 2, 3 or 4
    hand = pl.DataFrame({"g": [0] * 4, "score": [0.9, 0.5, 0.5, 0.5], "rank": [1, 2, 3, 4]})
    h = ranking_metrics(hand, "g", np.array([0, 1, 0, 0]), 2)
    assert h["mrr"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3) and h["map"] == pytest.approx(h["mrr"])
    assert h["hitrate@2"] == pytest.approx(1 / 3)


def test_ranking_metrics_of_one_hand_made_group():
    """Positives at ranks 2 and 4 of five: AP (1/2 + 2/4) / 2, RR 1/2, NDCG@3 (1/log2 3) / (1 + 1/log2 3)."""
    ranked = pl.DataFrame({"g": ["q"] * 5, "score": [0.9, 0.8, 0.7, 0.6, 0.5], "rank": [1, 2, 3, 4, 5]})
    m = ranking_metrics(ranked, "g", np.array([0, 1, 0, 1, 0]), 3)
    assert m["map"] == pytest.approx(0.5) and m["mrr"] == pytest.approx(0.5) and m["hitrate@3"] == 1.0
    assert m["ndcg@3"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert m["gauc"] == pytest.approx(roc_auc_score([0, 1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6, 0.5]))
    assert ranking_metrics(ranked, "g", np.array([0, 0, 0, 0, 1]), 3)["hitrate@3"] == 0.0


def test_groups_without_positives_are_left_out_and_none_at_all_is_said():
    y, s, _, groups = scored(levels=None)
    ranked, label = ranked_frame(y, s, groups)
    # the same rows plus groups of negatives only: the averages do not move
    extra = pl.DataFrame({"g": [10_000 + i // 3 for i in range(30)], "score": np.linspace(0.1, 0.9, 30)})
    extra = extra.with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("g"))
    more = pl.concat([ranked.select("g", "score", "rank"), extra.select("g", "score", "rank")])
    m, m2 = ranking_metrics(ranked, "g", label, 5), ranking_metrics(more, "g", np.r_[label, np.zeros(30)], 5)
    assert m == pytest.approx(m2, abs=1e-12)
    assert ranking_metrics(ranked, "g", np.zeros(len(label)), 5) == {"groups_with_positives": 0}


def test_sums_of_frames_add_up_to_the_whole():
    """Predict and rank stream a file in parts, whole groups each: their sums add to the whole frame's."""
    y, s, _, groups = scored(levels=None)
    ranked, label = ranked_frame(y, s, groups)
    first = (ranked["g"] < groups.max() // 2).to_numpy()
    parts = [ranking_sums(ranked.filter(pl.Series(m)), "g", label[m], 5) for m in (first, ~first)]
    whole = ranking_metrics_of(ranking_sums(ranked, "g", label, 5), 5)
    assert ranking_metrics_of(add_sums(add_sums(None, parts[0]), parts[1]), 5) == pytest.approx(whole, abs=1e-12)


# ------------------------------------------------------------------------------------ the report's curves


@pytest.mark.parametrize("levels", [4, None])
def test_the_reports_average_precision_and_roc_equal_sklearn(levels):
    y, s, _, _ = scored(n=1500, levels=levels)  # (fewer points than the plot keeps: the whole curve)
    c = curves(y, s)
    assert c.average_precision == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert np.trapezoid(c.tpr, c.fpr) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_a_data_parallel_runs_group_ids_give_the_figures_of_the_values():
    """Under N processes a run's group values travel as ids (a stable hash; NaN for a null, even a null first,
    which polars reads as an object column): gAUC and NDCG@10 as of the values themselves, in one process."""
    from wdcli.train.trainer import _group_ids

    y, s, _, groups = scored(levels=4)
    named = np.array([None if i % 7 == 0 else f"u{g}" for i, g in enumerate(groups)], dtype=object)
    ids = _group_ids(named)
    assert np.isnan(ids[0]) and np.isnan(ids).sum() == (named == None).sum()  # noqa: E711 (elementwise)
    for key in ("gauc", "ndcg@10"):
        assert evaluate(y, s, None, ids)[key] == pytest.approx(evaluate(y, s, None, named)[key], abs=1e-12), key
    users = pl.Series("u", [None if i % 7 == 0 else int(g) for i, g in enumerate(groups)], dtype=pl.Int64)
    whole = users.to_numpy()  # (one process: floats, NaN for the nulls)
    batches = np.concatenate([_group_ids(users[:5].to_numpy()), _group_ids(users[5:].to_numpy())])
    assert users[5:].null_count() < len(users) - 5 and users[:5].null_count() > 0  # (int64 there, float here)
    for key in ("gauc", "ndcg@10"):
        assert evaluate(y, s, None, batches)[key] == pytest.approx(evaluate(y, s, None, whole)[key], abs=1e-12)


def test_a_group_column_may_have_any_name():
    """The figures' own working columns do not take the place of a group column of the same name."""
    y, s, _, groups = scored(levels=4)
    ranked, label = ranked_frame(y, s, groups)
    expected = ranking_metrics(ranked, "g", label, 10)
    for name in ("rel", "discount", "rank_", "first"):
        assert ranking_metrics(ranked.rename({"g": name}), name, label, 10) == expected, name


def test_rows_of_tied_scores_keep_their_order_in_a_ranking():
    """`ranked_by_score` (rank's output, the NDCG of a run's splits) orders each group best first, tied scores
    in the order of the rows (a sort that does not keep it reorders ties in frames of about 1,000 rows)."""
    from wdcli.metrics import ranked_by_score

    n = 1_000
    rng = np.random.default_rng(0)
    score = np.round(rng.random(n) * 4) / 4
    frame = pl.DataFrame({"g": np.arange(n) % 20, "score": score, "i": np.arange(n)})
    ranked = ranked_by_score(frame, "g")
    assert ranked["i"].to_list() == np.lexsort((np.arange(n), -score, np.arange(n) % 20)).tolist()
    assert ranked["rank"].to_list() == list(range(1, 51)) * 20


def test_ranking_sums_are_the_same_whatever_the_order_of_the_ranked_rows():
    y, s, _, groups = scored(levels=None)
    ranked, label = ranked_frame(y, s, groups)
    order = np.random.default_rng(5).permutation(len(label))
    assert ranking_sums(ranked[order], "g", label[order], 5) == pytest.approx(ranking_sums(ranked, "g", label, 5))


def test_group_ids_tell_every_value_apart_and_read_whole_numbers_alike():
    """Group ids are float64 hashes: 200,000 distinct users give 200,000 ids (float32 would merge 836), and a
    batch whose nulls make its numbers floats gives the ids of an integer batch, large numbers and 0 included."""
    from wdcli.train.trainer import _group_ids

    users = np.array([f"u{i}" for i in range(200_000)], dtype=object)
    assert len(np.unique(_group_ids(users))) == 200_000
    floats = _group_ids(np.array([0.0, np.nan, 3_000_000_001.0]))
    ints = _group_ids(np.array([0, 7, 3_000_000_001]))
    assert floats[0] == ints[0] and floats[2] == ints[2] and np.isnan(floats[1]) and not np.isnan(ints).any()


def test_a_metrics_table_says_why_a_figure_is_nan():
    """eval of rows whose groups each hold one label printed 'gauc nan' and nothing more: the table says why."""
    from rich.console import Console

    from wdcli.cli.output import metrics_table

    rows = {"test": {"auc": 0.8, "logloss": 0.4, "gauc": float("nan"), "ndcg@10": 1.0}}
    console = Console(width=200, record=True)
    console.print(metrics_table("run", rows, ["auc", "logloss"]))
    text = console.export_text()
    assert "gauc nan: no group holds both labels" in text and "auc nan" not in text.replace("gauc nan", "")
    console.print(metrics_table("run", {"test": {"auc": 0.8, "gauc": 0.7}}, ["auc"]))
    assert console.export_text().count("nan") == 0


def test_the_averages_of_float32_labels_and_scores_carry_no_float32_noise():
    """Labels and scores arrive as float32; their averages are taken in float64 (a base rate of 0.514, not
    0.5139999985694885, in `--json` output)."""
    y = np.zeros(500, dtype=np.float32)
    y[:257] = 1
    p = np.full(500, 0.3, dtype=np.float32)
    out = evaluate(y, p)
    assert out["base_rate"] == 257 / 500
    assert out["mean_score"] == float(np.float32(0.3))


def test_ranking_sums_refuse_rows_not_ranked_one_to_n():
    """Ranks with a gap or a repeat (not what `ranked_by_score` gives) would give silently wrong figures."""
    frame = pl.DataFrame({"g": [0] * 4, "score": [0.9, 0.5, 0.5, 0.1], "rank": [1, 2, 2, 4]})
    with pytest.raises(ValueError, match="ranked 1..n"):
        ranking_sums(frame, "g", np.array([0, 1, 0, 0]), 3)


def test_rows_of_no_group_are_counted_in_auc_and_said_to_be_left_out_of_the_groups_figures():
    """A test file whose group column is empty in some rows (a walk: 378 rows blanked, eval's gAUC silently of the
    rest): `evaluate` counts them in AUC, leaves them out of gAUC and NDCG@10, and says how many it left out, and
    eval's table says so under it."""
    from wdcli.cli.output import metrics_table

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 60)
    s = rng.random(60)
    groups = np.array([None if i < 12 else f"g{i % 6}" for i in range(60)], dtype=object)
    m = evaluate(y, s, None, groups)
    kept = np.arange(60) >= 12
    assert m["rows"] == 60 and m["auc"] == pytest.approx(roc_auc_score(y, s))
    assert m["ungrouped_rows"] == 12 and m["gauc"] == pytest.approx(
        evaluate(y[kept], s[kept], None, groups[kept])["gauc"]
    )
    assert "ungrouped_rows" not in evaluate(y[kept], s[kept], None, groups[kept])
    caption = metrics_table("t", {"test.csv": m}, ["rows", "auc"]).caption
    assert caption == "test.csv: gauc and ndcg@10 leave out its 12 rows of no group value"


def test_a_held_out_log_loss_above_the_training_rate_s_is_named_with_both_figures():
    """The rate's log loss is sklearn's of a constant score at the training rows' rate; a part above it is named
    (a walk's COVID draft, kept by its AUC: test 0.2204 against 0.2098), one under it, or a part absent, is not."""
    y = np.array([0] * 946 + [1] * 54)
    rate = log_loss(y, np.full(len(y), 0.0572))
    splits = {
        "train": {"base_rate": 0.0572, "logloss": 0.058},
        "validation": {"base_rate": 0.0604, "logloss": 0.1989},
        "test": {"base_rate": 0.054, "logloss": 0.2204},
    }
    ((part, loss, said),) = worse_than_the_rate(splits)
    assert part == "test" and loss == 0.2204 and said == pytest.approx(rate, abs=1e-12)
    assert worse_than_the_rate({"train": splits["train"], "validation": splits["validation"]}) == []
    assert worse_than_the_rate({"validation": splits["test"]}) == []  # (no training rate: nothing to say)
