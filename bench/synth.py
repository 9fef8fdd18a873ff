"""Seeded generators of the benchmark data.

`click` (the default): 13 numeric and 26 categorical columns (cardinalities from 10 up to 100,000, Zipf-like
frequencies), a few missing values, and a label from a planted logistic model (bench/synth.yaml).
`sparse`: few rows and wide vocabularies: 8 categorical columns of 20,000 to 2,000,000 values (most seen once or
never), 2 numeric ones, and a planted interaction of two columns (bench/sparse.yaml).
`pairs`: clicks whose label holds pair effects: 16 categorical columns (10 to 100,000 values) and 5 numeric ones,
main effects, 5 planted pair crosses (an effect per combination: what the wide part memorizes) and 3 planted
low-rank pair interactions (u_a . v_b: what dot products of embeddings learn directly).
`taste`: grouped ranking: requests of users with a latent taste, 20 candidate items each (drawn by popularity),
items with latent factors, a category, a price and a popularity of their own, users with an age and a country;
a `time` column and each user's earlier clicks (`clicked_before`). Rank a request's candidates.
`spend`: shoppers who buy or not: 3 categorical columns and 5 numbers, three of them mostly 0 (visits, spend, a
coupon), with smooth effects (of visits, spend, tenure and age) and a step (a coupon of 20 or more). Made after
`numeric_embedding: auto` was chosen on census, to check it where a spiked number's effect is smooth.

    python bench/synth.py --rows 1000000 --out bench/data/synth_1m.parquet
    python bench/synth.py --shape sparse --rows 50000 --out bench/data/sparse_50k.parquet
    python bench/synth.py --shape pairs --rows 1000000 --out bench/data/pairs_1m.parquet
    python bench/synth.py --shape taste --rows 360000 --out bench/data/taste.parquet
    python bench/synth.py --shape spend --rows 60000 --out bench/data/spend.parquet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl

N_NUM, N_CAT = 13, 26
CARDINALITIES = np.unique(np.geomspace(10, 100_000, N_CAT).astype(int)).tolist()


def make(rows: int, seed: int = 0, model_seed: int = 0) -> pl.DataFrame:
    """`rows` rows drawn with `seed` from the planted model of `model_seed` (the same model for every seed, so
    that files made with different seeds are parts of one data set)."""
    model = np.random.default_rng(model_seed)
    effects = [model.normal(scale=0.4, size=card) for card in CARDINALITIES]
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray | pl.Series] = {}
    logit = np.full(rows, -1.2)
    for j in range(N_NUM):
        x = rng.lognormal(mean=1.0, sigma=1.0, size=rows) if j % 2 else rng.normal(size=rows)
        logit += 0.15 * (np.log1p(np.abs(x)) if j % 2 else x) * (1 if j % 3 else -1)
        x = np.where(rng.random(rows) < 0.02, np.nan, x)
        cols[f"I{j + 1}"] = x
    for j, card in enumerate(CARDINALITIES):
        ranks = np.minimum(rng.zipf(1.3, size=rows), card) - 1  # heavy head, long tail ...
        ranks = np.where(rng.random(rows) < 0.3, rng.integers(0, card, size=rows), ranks)  # ... and a flat part
        ids = (ranks * 2654435761 + j) % card
        logit += effects[j][ids] * (0.6 if j < 8 else 0.2)
        cols[f"C{j + 1}"] = pl.Series(ids).cast(pl.String).str.pad_start(6, "0")
    # a planted interaction that only a cross can memorize
    inter = (np.asarray(cols["C1"].cast(pl.Int64)) * 31 + np.asarray(cols["C2"].cast(pl.Int64))) % 97 == 0
    logit += 1.5 * inter
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return pl.DataFrame({**cols, "label": y})


def write_parts(folder: Path, rows: int, part_rows: int = 1_000_000, seed: int = 0) -> list[Path]:
    """`rows` rows as Parquet files of `part_rows` (part-00000.parquet, ...), made one at a time: memory stays
    that of one part. Parts already there are kept."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, a in enumerate(range(0, rows, part_rows)):
        path = folder / f"part-{i:05d}.parquet"
        if not path.exists():
            make(min(part_rows, rows - a), seed=seed * 1_000_003 + i).write_parquet(path)
        paths.append(path)
    return paths


SPARSE_CARDINALITIES = [20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000, 2_000_000]


def make_sparse(rows: int, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    """Few rows, wide vocabularies: the frame and the planted logit (its AUC is the best any model can do)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray | pl.Series] = {}
    logit = np.full(rows, -1.0)
    for j in range(2):
        x = rng.normal(size=rows)
        logit += 0.3 * x * (1 if j else -1)
        cols[f"N{j + 1}"] = x
    ids_of = []
    for j, card in enumerate(SPARSE_CARDINALITIES):
        ranks = np.minimum(rng.zipf(1.1, size=rows), card) - 1  # a few frequent values, a very long tail
        ids = (ranks * 2654435761 + j) % card
        logit += rng.normal(scale=0.8 if j < 4 else 0.3, size=card)[ids]
        ids_of.append(ids)
        cols[f"S{j + 1}"] = pl.Series(ids).cast(pl.String)
    logit += 1.0 * ((ids_of[0] + ids_of[1]) % 7 == 0)  # an interaction only a cross (or the MLP) can learn
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return pl.DataFrame({**cols, "label": y}), logit


def make_spend(rows: int, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    """Shoppers: the frame and the planted logit. visits (0 in 55% of rows), spend (0 in 75%) and coupon (0 in 85%)
    have spikes; visits, spend, tenure and age act smoothly, a coupon of 20 or more as a step."""
    rng = np.random.default_rng(seed)
    region = np.minimum(rng.zipf(1.3, size=rows), 30) - 1
    device = rng.integers(0, 4, rows)
    plan = rng.integers(0, 8, rows)
    visits = np.where(rng.random(rows) < 0.55, 0, rng.geometric(0.15, rows))
    spend = np.where(rng.random(rows) < 0.75, 0.0, np.round(rng.lognormal(4, 1, rows), 2))
    coupon = np.where(rng.random(rows) < 0.85, 0, rng.choice([5, 10, 15, 20, 25, 50], rows))
    tenure = np.round(rng.gamma(2, 12, rows), 1)
    age = np.clip(np.round(rng.normal(40, 12, rows)), 18, 90)
    logit = (
        -2.0
        + rng.normal(scale=0.5, size=30)[region]
        + np.array([0.0, 0.3, -0.2, 0.5])[device]
        + rng.normal(scale=0.3, size=8)[plan]
        + 0.6 * np.log1p(visits)
        + 0.15 * np.log1p(spend)
        + np.where(coupon >= 20, 1.0, np.where(coupon > 0, 0.2, 0.0))
        - 0.02 * tenure
        - 0.0008 * (age - 40) ** 2
    )
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    frame = pl.DataFrame(
        {
            "region": [f"r{i}" for i in region],
            "device": [("phone", "tablet", "desktop", "tv")[i] for i in device],
            "plan": [f"p{i}" for i in plan],
            "visits": visits,
            "spend": spend,
            "coupon": coupon,
            "tenure": tenure,
            "age": age,
            "label": y,
        }
    )
    return frame, logit


PAIR_CARDINALITIES = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 30, 300, 3000]
PAIR_CROSSES = [(0, 3), (1, 4), (2, 5), (13, 6), (0, 14)]  # columns whose combinations have effects of their own
PAIR_LOW_RANK = [(6, 7), (8, 15), (9, 14)]  # columns a and b with effect u_a . v_b (rank 4)


def make_pairs(rows: int, seed: int = 0, model_seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    """The frame and its planted logit (whose AUC is the best any model can do; about 0.90)."""
    m = np.random.default_rng(model_seed)
    cards = PAIR_CARDINALITIES
    effects = [m.normal(scale=0.5, size=c) for c in cards]
    cross_effects = [m.normal(scale=0.8, size=cards[a] * cards[b]) for a, b in PAIR_CROSSES]
    factors = [(m.normal(size=(cards[a], 4)), m.normal(size=(cards[b], 4))) for a, b in PAIR_LOW_RANK]
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray | pl.Series] = {}
    logit = np.full(rows, -1.5)
    for j in range(5):
        x = rng.normal(size=rows) if j % 2 == 0 else rng.lognormal(1, 1, rows)
        logit += 0.3 * (np.tanh(x) if j % 2 == 0 else np.log1p(x) - 1) * (1 if j % 3 else -1)
        cols[f"n{j + 1}"] = np.where(rng.random(rows) < 0.02, np.nan, x)
    ids = []
    for j, card in enumerate(cards):
        ranks = np.minimum(rng.zipf(1.2, size=rows), card) - 1
        ranks = np.where(rng.random(rows) < 0.4, rng.integers(0, card, size=rows), ranks)
        ids.append((ranks * 2654435761 + j) % card)
        logit += effects[j][ids[-1]] * (0.5 if card > 1000 else 1.0)
    for (a, b), e in zip(PAIR_CROSSES, cross_effects):
        logit += e[ids[a] * cards[b] + ids[b]]
    for (a, b), (u, v) in zip(PAIR_LOW_RANK, factors):
        logit += 0.35 * np.sum(u[ids[a]] * v[ids[b]], axis=1)
    for j, v in enumerate(ids):
        cols[f"c{j + 1}"] = pl.Series(v).cast(pl.String).str.pad_start(6, "0")
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return pl.DataFrame({**cols, "label": y}), logit


def make_taste(rows: int, seed: int = 0, candidates: int = 20, dim: int = 8) -> tuple[pl.DataFrame, np.ndarray]:
    """About `rows` rows (whole requests of `candidates` items) and the planted logit of each."""
    rng = np.random.default_rng(seed)
    n_requests = max(rows // candidates, 1)
    n_users, n_items, n_categories = max(n_requests // 6, 10), max(n_requests // 9, 50), 30
    category = rng.integers(0, n_categories, n_items)
    item_vec = 0.7 * rng.normal(size=(n_categories, dim))[category] + 0.7 * rng.normal(size=(n_items, dim))
    popularity = rng.zipf(1.5, n_items).clip(max=200).astype(float)
    popularity /= popularity.sum()
    item_bias = rng.normal(scale=0.6, size=n_items) + 0.3 * np.log(popularity * n_items)
    price = np.exp(rng.normal(2, 1, n_items))
    taste = rng.normal(size=(n_users, dim)) / np.sqrt(dim)
    age, country = rng.integers(16, 70, n_users), rng.integers(0, 12, n_users)
    country_taste = rng.normal(scale=0.4, size=(12, n_categories))
    user = rng.permutation(np.repeat(np.arange(n_users), -(-n_requests // n_users)))[:n_requests]
    draw = 0.7 * popularity + 0.3 / n_items
    items = np.stack([rng.choice(n_items, size=candidates, replace=False, p=draw) for _ in range(n_requests)])
    u = np.repeat(user, candidates)
    i = items.reshape(-1)
    logit = (
        -1.6
        + item_bias[i]
        + 1.6 * np.sum(item_vec[i] * taste[u], axis=1)
        + country_taste[country[u], category[i]]
        - 0.25 * np.log(price[i]) * (age[u] < 25)
    )
    y = (rng.random(len(i)) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    request = np.repeat(np.arange(n_requests), candidates)
    frame = pl.DataFrame(
        {
            "request_id": pl.Series(request).cast(pl.String).str.pad_start(6, "0").str.replace("^", "r"),
            "user_id": pl.Series(u).cast(pl.String).str.replace("^", "u"),
            "item_id": pl.Series(i).cast(pl.String).str.replace("^", "i"),
            "category": pl.Series(category[i]).cast(pl.String).str.replace("^", "cat"),
            "price": np.round(price[i], 2),
            "age": age[u],
            "country": pl.Series(country[u]).cast(pl.String).str.replace("^", "k"),
            "time": 1_700_000_000 + 60 * request,
            "clicked": y,
        }
    )
    return frame.with_columns(clicked_before=_clicked_before(frame)), logit


def _clicked_before(frame: pl.DataFrame, keep: int = 20) -> pl.Series:
    """Each row's user's clicked items in earlier requests (the last `keep`), as text joined by '|'."""
    clicks = (
        frame.filter(pl.col("clicked") == 1)
        .group_by("request_id", maintain_order=True)
        .agg(pl.col("user_id").first(), pl.col("item_id"))
    )
    requests = frame.select("request_id", "user_id").unique(maintain_order=True)
    seen: dict[str, list[str]] = {}
    before = {}
    clicked = dict(zip(clicks["request_id"].to_list(), clicks["item_id"].to_list()))
    for req, user in zip(requests["request_id"].to_list(), requests["user_id"].to_list()):
        history = seen.setdefault(user, [])
        before[req] = "|".join(history[-keep:])
        history.extend(clicked.get(req, []))
    return frame["request_id"].replace_strict(before, return_dtype=pl.String)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=["click", "sparse", "pairs", "taste", "spend"], default="click")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/data/synth_1m.parquet")
    a = ap.parse_args()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    shapes = {
        "click": lambda: make(a.rows, a.seed),
        "sparse": lambda: make_sparse(a.rows, a.seed)[0],
        "pairs": lambda: make_pairs(a.rows, a.seed)[0],
        "taste": lambda: make_taste(a.rows, a.seed)[0],
        "spend": lambda: make_spend(a.rows, a.seed)[0],
    }
    df = shapes[a.shape]()
    (df.write_parquet if a.out.endswith(".parquet") else df.write_csv)(a.out)
    label = "clicked" if a.shape == "taste" else "label"
    print(f"wrote {a.out}: {df.height:,} rows, {df.width} columns, positive rate {df[label].mean():.3f}")


if __name__ == "__main__":
    main()
