"""Seeded generators of the benchmark data.

`click` (the default): 13 numeric and 26 categorical columns (cardinalities from 10 up to 100,000, Zipf-like
frequencies), a few missing values, and a label from a planted logistic model (bench/synth.yaml).
`sparse`: few rows and wide vocabularies: 8 categorical columns of 20,000 to 2,000,000 values (most seen once or
never), 2 numeric ones, and a planted interaction of two columns (bench/sparse.yaml).

    python bench/synth.py --rows 1000000 --out bench/data/synth_1m.parquet
    python bench/synth.py --shape sparse --rows 50000 --out bench/data/sparse_50k.parquet
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=["click", "sparse"], default="click")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/data/synth_1m.parquet")
    a = ap.parse_args()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    df = make(a.rows, a.seed) if a.shape == "click" else make_sparse(a.rows, a.seed)[0]
    (df.write_parquet if a.out.endswith(".parquet") else df.write_csv)(a.out)
    print(f"wrote {a.out}: {df.height:,} rows, {df.width} columns, positive rate {df['label'].mean():.3f}")


if __name__ == "__main__":
    main()
