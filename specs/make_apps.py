"""Seeded generator of a small app store shaped like the Wide & Deep paper's Google Play setting.

    python specs/make_apps.py            # writes specs/data/apps_train.parquet and specs/data/apps_candidates.csv

Each row is one impression: a request (user + context) and one candidate app, labelled 1 if the user installed
it. The label comes from a planted model with two kinds of signal:
- generalization: users have a taste vector; apps have a vector near their category's; a user installs what
  matches their taste. Users who like similar apps like similar new ones: learnable from shared app embeddings.
- memorization: a fixed set of (installed app, impression app) pairs adds a large bonus on its own, with no
  relation to taste. Only a cross of installed_apps x impression_app can learn it.
Plus small effects of country and connection. Data is synthetic; no real users.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl

N_APPS, N_CATEGORIES, DIM = 400, 16, 6
COUNTRIES = ["us", "in", "br", "de", "jp", "id", "mx", "fr", "gb", "ng"]


def world(seed: int):
    rng = np.random.default_rng(seed)
    category = rng.integers(0, N_CATEGORIES, N_APPS)
    centers = rng.normal(size=(N_CATEGORIES, DIM))
    app_vec = centers[category] + 0.35 * rng.normal(size=(N_APPS, DIM))
    popularity = rng.zipf(1.6, N_APPS).clip(max=50).astype(float)
    popularity /= popularity.sum()
    # planted pairs: installed app a and impression app b that go together, whatever the taste
    pairs = {(int(a), int(b)) for a, b in zip(rng.choice(N_APPS, 600, p=popularity), rng.integers(0, N_APPS, 600))}
    country_effect = dict(zip(COUNTRIES, rng.normal(scale=0.3, size=len(COUNTRIES))))
    return category, app_vec, popularity, pairs, country_effect


def requests(n_users: int, per_user: int, n_candidates: int, seed: int, w, request_offset: int = 0) -> pl.DataFrame:
    category, app_vec, popularity, pairs, country_effect = w
    rng = np.random.default_rng(seed)
    rows = []
    taste = rng.normal(size=(n_users, DIM))
    ages = rng.integers(16, 70, n_users)
    countries = rng.choice(COUNTRIES, n_users)
    pair_set = pairs
    req = request_offset
    for u in range(n_users):
        affinity = app_vec @ taste[u]
        p = np.exp(affinity - affinity.max()) * popularity
        p /= p.sum()
        installed = rng.choice(N_APPS, size=rng.integers(2, 12), replace=False, p=p)
        for _ in range(per_user):
            conn = rng.choice(["wifi", "cellular"], p=[0.7, 0.3])
            hour = int(rng.integers(0, 24))
            cands = rng.choice(N_APPS, size=n_candidates, replace=False, p=0.5 * popularity + 0.5 / N_APPS)
            for b in cands:
                memo = sum((int(a), int(b)) in pair_set for a in installed)
                logit = (
                    -3.2
                    + 0.9 * (app_vec[b] @ taste[u]) / np.sqrt(DIM) * 2
                    + 2.8 * memo
                    + country_effect[countries[u]]
                    + (0.25 if conn == "wifi" else -0.25)
                )
                y = int(rng.random() < 1 / (1 + np.exp(-logit)))
                rows.append(
                    (
                        f"r{req}",
                        f"u{seed}_{u}",
                        "|".join(f"app{a}" for a in installed),
                        f"app{b}",
                        f"cat{category[b]}",
                        int(ages[u]),
                        countries[u],
                        conn,
                        hour,
                        y,
                    )
                )
            req += 1
    return pl.DataFrame(
        rows,
        schema=[
            "request_id",
            "user_id",
            "installed_apps",
            "impression_app",
            "app_category",
            "age",
            "country",
            "connection",
            "hour",
            "installed",
        ],
        orient="row",
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=2016)
    ap.add_argument("--users", type=int, default=3000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "data"))
    a = ap.parse_args()
    w = world(a.seed)
    train = requests(a.users, per_user=2, n_candidates=10, seed=a.seed + 1, w=w)
    candidates = requests(100, per_user=1, n_candidates=50, seed=a.seed + 2, w=w, request_offset=10**6)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    train.write_parquet(out / "apps_train.parquet")
    candidates.write_csv(out / "apps_candidates.csv")
    print(f"apps_train.parquet: {train.height:,} impressions, install rate {train['installed'].mean():.3f}")
    print(f"apps_candidates.csv: {candidates['request_id'].n_unique()} requests x 50 candidates")


if __name__ == "__main__":
    main()
