"""`wdcli tune` end to end, as before issue 22 and now: a study of optimizer settings only (the features never
change, so every trial after the first could reuse the first one's fit and encoding).

    python bench/bench_tune.py                                  # specs/census.yaml, 20 trials
    python bench/bench_tune.py --trials 3 --set train.epochs=2  # a quick check

"old" runs the command as before: every trial fits and encodes (train.data.cache=off) and idle OpenMP threads
spin (GOMP_SPINCOUNT at libgomp's default); "new" with wdcli's defaults. Each is a fresh study in a temporary
folder with the same sampler seed; the script prints each one's wall seconds and whether their trials found
the same values.
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

ROOT = Path(__file__).resolve().parents[1]
SPACE = [
    "train.wide_optimizer.alpha={log_uniform: [0.005, 0.2]}",
    "train.wide_optimizer.l2={choice: [0, 0.1, 1, 10]}",
    "train.deep_optimizer.lr={log_uniform: [0.01, 0.2]}",
]
OLD = ({"GOMP_SPINCOUNT": "300000"}, ["train.data.cache=off"])


def run(spec: str, trials: int, sets: list[str], env: dict, folder: Path) -> tuple[float, list]:
    args = [sys.executable, "-m", "wdcli", "tune", spec, "--trials", str(trials), "--study", str(folder), "--fresh"]
    args += [f"--space={s}" for s in SPACE] + [f"--set={s}" for s in sets] + ["--json"]
    t = time.perf_counter()
    out = subprocess.run(args, env=env, capture_output=True, text=True, cwd=folder)
    seconds = time.perf_counter() - t
    if out.returncode:
        print(out.stderr[-3000:])
        raise SystemExit(out.returncode)
    rows = json.loads(out.stdout)["trials"]
    return seconds, sorted((r["trial"], r["state"], r["value"], json.dumps(r["params"])) for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default=str(ROOT / "specs" / "census.yaml"))
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--set", action="append", default=[], dest="sets")
    a = ap.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    print(f"{a.spec}, {a.trials} trials, optimizer settings only; load average {os.getloadavg()[0]:.1f}", flush=True)
    seconds, rows = {}, {}
    for name, (env, sets) in (("old", OLD), ("new", ({}, []))):
        with tempfile.TemporaryDirectory(prefix="wdcli-tune-") as folder:
            seconds[name], rows[name] = run(a.spec, a.trials, [*a.sets, *sets], {**base, **env}, Path(folder))
        print(f"{name:>4}: {seconds[name]:7.1f} s", flush=True)
    same = rows["old"] == rows["new"]
    print(f"new: {seconds['old'] / seconds['new']:.2f}x as fast as old; the same trial results: {same}")


if __name__ == "__main__":
    main()
