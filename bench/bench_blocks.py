"""What each of the deep part's blocks costs and gains (issue 20): for every block on and off, on bench/synth.py's
data and on the apps sample, the test AUC after a short training, training rows/s, and the serving latency of
one request of 1,000 candidates (raw columns in, scores out), all in one process, one variant after another.

    python bench/synth.py && python bench/bench_blocks.py            # 200,000 synthetic rows, 3 epochs
    python bench/bench_blocks.py --rows 50000 --epochs 1 --requests 20   # a quick check

The target: no block costs more than 1.5x in training rows/s or serving latency unless it gains >= 0.005 AUC.
Run it on a quiet machine: rows/s and latency are medians over the epochs and requests of one run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch

from wdcli.run import run_training
from wdcli.score import Scorer
from wdcli.spec import load_spec

HERE = Path(__file__).parent
SPECS = HERE.parent / "specs"
VARIANTS = {  # name -> --set overrides (on a spec with no block: the apps spec says nothing, so each says it)
    "none": ["deep.interaction=none"],
    "dot": ["deep.interaction=dot"],
    "cross": ["deep.interaction=cross"],
    "cross rank 8": ["deep.interaction={kind: cross, rank: 8}"],
    "periodic": ["deep.interaction=none", "deep.numeric_embedding=periodic", "defaults.numeric.transform=standardize"],
    "piecewise": ["deep.interaction=none", "deep.numeric_embedding=piecewise"],
    "values": ["deep.interaction=none", "deep.numeric_embedding=values"],
    "schedule cosine": ["deep.interaction=none", "train.schedule=cosine"],
}


def latency(scorer: Scorer, pool: pl.DataFrame, requests: int) -> float:
    """Median milliseconds of one request of 1,000 candidates."""
    rng = np.random.default_rng(0)
    frames = [pool.slice(int(rng.integers(0, len(pool) - 1000)), 1000) for _ in range(requests)]
    for f in frames[:10]:
        scorer.score(f)
    times = []
    for f in frames:
        t = time.perf_counter()
        scorer.score(f)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def one(spec_path: Path, sets: list[str], frames, pool, work: Path, a, check: bool) -> dict:
    spec = load_spec(spec_path, [*sets, f"train.epochs={a.epochs}", "train.threads=2"], check_paths=check)
    result, folder = run_training(spec, output=work, frames=frames)
    m = result.metrics
    rates = [e.rows_per_s for e in m.history if e.rows_per_s]
    torch.set_num_threads(2)
    return {
        "auc": m.splits["test"]["auc"],
        "rows_per_s": statistics.median(rates) if rates else float("nan"),
        "ms": latency(Scorer.load(folder), pool, a.requests),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(HERE / "data" / "synth_1m.parquet"))
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wdcli-blocks-"))
    synth = pl.read_parquet(a.data).head(a.rows)
    cut1, cut2 = int(0.8 * len(synth)), int(0.9 * len(synth))
    sets = {
        "synth": (
            HERE / "synth.yaml",
            {"train": synth[:cut1], "validation": synth[cut1:cut2], "test": synth[cut2:]},
            synth.drop("label"),
            False,
        ),
        "apps": (SPECS / "apps.yaml", None, pl.read_csv(SPECS / "data" / "apps_candidates.csv"), True),
    }
    print(f"{'data':<7}{'block':<17}{'test AUC':>9}{'rows/s':>10}{'x':>6}{'1,000 cand. ms':>16}{'x':>6}")
    for name, (path, frames, pool, check) in sets.items():
        base = None
        for i, v in enumerate(a.variants.split(",")):
            r = one(path, VARIANTS[v], frames, pool, work / f"{name}-{i}", a, check)
            base = base or r
            slower, later = base["rows_per_s"] / r["rows_per_s"], r["ms"] / base["ms"]
            print(
                f"{name:<7}{v:<17}{r['auc']:>9.4f}{r['rows_per_s']:>10,.0f}{slower:>6.2f}{r['ms']:>16.2f}{later:>6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
