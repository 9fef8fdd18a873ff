"""Serving latency, the paper's Table 2 on this machine: one request of N candidates scored through a loaded
artifact, raw columns in, scores out (features included), for N = 50, 200, 1,000 and 1 and 2 threads.

    python bench/synth.py && python bench/bench_latency.py

Trains (briefly) and saves two artifacts first: the apps sample model and a model of the training
benchmark's size (26 categorical + 13 numeric columns, embeddings of 16, hidden [256, 128, 64]). Then times
`wdcli rank` as a whole process on a 1,000-row candidates file, and `wdcli --help`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
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


def measure(scorer: Scorer, pool: pl.DataFrame, n: int, requests: int, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    frames = [pool.slice(int(rng.integers(0, len(pool) - n)), n) for _ in range(requests)]
    for f in frames[:10]:
        scorer.score(f)  # warm up
    times = []
    for f in frames:
        t = time.perf_counter()
        scorer.score(f)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.99 * (len(times) - 1))]


def process_seconds(args: list[str], runs: int = 5) -> float:
    """Median wall time of a whole `wdcli` process (interpreter start and imports included)."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "wdcli", *args], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--data", default=str(HERE / "data" / "synth_1m.parquet"))
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wdcli-latency-"))
    apps_spec = load_spec(SPECS / "apps.yaml", ["train.epochs=2"])
    _, apps_dir = run_training(apps_spec, output=work / "apps")
    synth_spec = load_spec(HERE / "synth.yaml", ["train.max_rows=100000"], check_paths=False)
    synth = pl.read_parquet(a.data).head(200_000)
    _, synth_dir = run_training(synth_spec, output=work / "synth", frames={"train": synth})
    pools = {
        "apps": (Scorer.load(apps_dir), pl.read_csv(SPECS / "data" / "apps_candidates.csv")),
        "synth (26 cat + 13 num)": (Scorer.load(synth_dir), synth.drop("label")),
    }
    print(f"{'model':<26}{'threads':>8}{'N':>7}{'median ms':>11}{'p99 ms':>9}{'rows/s':>12}")
    for name, (scorer, pool) in pools.items():
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for n in (50, 200, 1000):
                med, p99 = measure(scorer, pool, n, a.requests)
                print(f"{name:<26}{threads:>8}{n:>7}{med:>11.2f}{p99:>9.2f}{n / med * 1000:>12,.0f}")
    candidates = work / "candidates_1000.csv"
    pl.read_csv(SPECS / "data" / "apps_candidates.csv").head(1000).write_csv(candidates)
    rank = process_seconds(
        ["rank", "--model", str(apps_dir), "--input", str(candidates), "--output", str(work / "ranked.csv")]
    )
    print(f"\nwdcli rank, whole process, 1,000 candidates (apps model): {rank:.2f} s (median of 5)")
    print(f"wdcli --help, whole process: {process_seconds(['--help']):.2f} s (median of 5)")


if __name__ == "__main__":
    main()
