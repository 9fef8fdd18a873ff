"""Fit + transform of the feature pipeline on 1,000,000 rows (13 numeric, 26 categorical, two crosses).

    python bench/synth.py && python bench/bench_pipeline.py

Prints the median of --repeat runs of each step, and Polars' own read of the file as the floor.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import polars as pl

from wdcli.features import fit_pipeline, transform
from wdcli.spec import load_spec

HERE = Path(__file__).parent


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(HERE / "data" / "synth_1m.parquet"))
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    # the setting: two crosses
    spec = load_spec(
        HERE / "synth.yaml",
        ["crosses=[{columns: [C1, C2], hash_buckets: 100000}, {columns: [C3, C4], min_count: 2}]"],
        check_paths=False,
    )
    read_s, df = timed(lambda: pl.read_parquet(a.data), a.repeat)
    fit_s, fitted = timed(lambda: fit_pipeline(spec, df), a.repeat)
    tr_s, enc = timed(lambda: transform(fitted, df), a.repeat)
    print(f"rows: {df.height:,}  columns: {df.width}  (13 numeric, 26 categorical, 2 crosses)")
    print(f"largest vocabulary: {max(fitted.cardinality(n) for n in fitted.univalent):,} ids")
    print(f"polars read_parquet (floor): {read_s:.3f} s")
    print(f"fit:                         {fit_s:.3f} s")
    print(f"transform:                   {tr_s:.3f} s")
    print(f"fit + transform:             {fit_s + tr_s:.3f} s  (target < 5 s)   median of {a.repeat}")
    print(f"read + fit + transform:      {read_s + fit_s + tr_s:.3f} s")


if __name__ == "__main__":
    main()
