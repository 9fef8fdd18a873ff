"""Data-parallel training on CPUs: rows/s of one epoch with 1, 2, 4, ... processes on this machine (gloo), the
global batch fixed, for the benchmark shape (bench/synth.yaml: 26 categorical + 13 numeric columns, five hashed
crosses, embeddings of 16, MLP [256, 128, 64], FTRL + AdaGrad).

    python bench/bench_procs.py                          # 1 and 2 processes, batches 1,024 and 8,192
    python bench/bench_procs.py --procs 1,2,4,8 --rows 400000

Each configuration is a whole `wdcli train --nproc N` (its processes share the machine's cores: N processes of
cores/N threads); the rows/s are those of the epoch itself, from the run's history.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--procs", default="1,2")
    ap.add_argument("--batches", default="1024,8192")
    a = ap.parse_args()
    from synth import write_parts

    folder = Path(tempfile.mkdtemp(prefix="wdcli-procs-"))
    write_parts(folder, a.rows, part_rows=(a.rows + 3) // 4)
    print(f"{a.rows:,} rows; {os.cpu_count()} cores", flush=True)
    print(f"{'batch':>7}{'processes':>11}{'threads each':>14}{'rows/s':>12}{'test AUC':>10}{'wall s':>8}", flush=True)
    for bs in [int(x) for x in a.batches.split(",")]:
        for n in [int(x) for x in a.procs.split(",")]:
            t = time.perf_counter()
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "wdcli",
                    "train",
                    str(HERE / "synth.yaml"),
                    "-q",
                    "--json",
                    f"--set=data.train={folder}/part-*.parquet",
                    "--set=data.split={validation: 0.05, test: 0.05}",
                    "--set=train.epochs=1",
                    f"--set=train.batch_size={bs}",
                    "--set=train.device=cpu",
                    "--set=train.checkpoint.enabled=false",
                    "--output",
                    str(folder / f"run-{bs}-{n}"),
                ]
                + (["--nproc", str(n)] if n > 1 else []),
                capture_output=True,
                text=True,
            )
            if out.returncode:
                print(out.stderr[-3000:])
                raise SystemExit(out.returncode)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            threads = max(1, (os.cpu_count() or 1) // n)
            print(
                f"{bs:>7,}{n:>11}{threads:>14}{r['history'][0]['rows_per_s']:>12,.0f}"
                f"{r['metrics']['test']['auc']:>10.4f}{time.perf_counter() - t:>8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
