"""Processes on one machine: data-parallel training, the fit in shares, and trainings that share the cores.

    python bench/bench_procs.py                                  # data parallel: 1 and 2 processes, batches 1,024, 8,192
    python bench/bench_procs.py --procs 1,2,4,8 --rows 400000
    python bench/bench_procs.py --fit 2 --rows 2000000           # the fit in 1 and in 2 processes, pipeline.json compared
    python bench/bench_procs.py --contention 4 --rows 300000     # 4 trainings started at once vs one alone

Data parallel: each configuration is a whole `wdcli train --nproc N` (its processes share the machine's cores:
N processes of cores/N threads); the rows/s are those of the epoch itself, from the run's history.

The fit (`--fit N`): `fit_pipeline` over the training files in one process, then in N processes that each fit
their share of the files and merge their states (as under torchrun), timed from the start of the fit to the
pipeline in hand; the two pipeline.json files must be the same bytes.

Contention (`--contention K`): bench/synth.yaml's model in memory, one epoch, the default threads; first one
training alone, then K started at once; each one's rows/s and its share of the one alone. "old" runs them as
before issue 22 (OpenMP's threads spin while idle: GOMP_SPINCOUNT at libgomp's default), "new" with wdcli's
defaults (idle threads sleep).
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

OLD_SPIN = {"GOMP_SPINCOUNT": "300000"}  # libgomp's own default: what torch's threads did before wdcli set a policy


def _synth_spec(folder: Path, *more: str):
    from wdcli.spec import load_spec

    sets = [f"data.train={folder}/part-*.parquet", "data.split={validation: 0.05, test: 0.05}", *more]
    return load_spec(HERE / "synth.yaml", sets, check_paths=False)


# ------------------------------------------------------------------------------------------ data parallel
def data_parallel(folder: Path, procs: list[int], batches: list[int]) -> None:
    print(f"{'batch':>7}{'processes':>11}{'threads each':>14}{'rows/s':>12}{'test AUC':>10}{'wall s':>8}", flush=True)
    for bs in batches:
        for n in procs:
            t = time.perf_counter()
            r = _train_cli(folder, bs, n)
            threads = max(1, (os.cpu_count() or 1) // n)
            print(
                f"{bs:>7,}{n:>11}{threads:>14}{r['history'][0]['rows_per_s']:>12,.0f}"
                f"{r['metrics']['test']['auc']:>10.4f}{time.perf_counter() - t:>8.1f}",
                flush=True,
            )


def _train_cli(folder: Path, bs: int, n: int) -> dict:
    sets = [
        f"data.train={folder}/part-*.parquet",
        "data.split={validation: 0.05, test: 0.05}",
        "train.epochs=1",
        f"train.batch_size={bs}",
        "train.device=cpu",
        "train.checkpoint.enabled=false",
        "train.data.cache=off",
    ]
    out = subprocess.run(
        [sys.executable, "-m", "wdcli", "train", str(HERE / "synth.yaml"), "-q", "--json"]
        + [f"--set={s}" for s in sets]
        + ["--output", str(folder / f"run-{bs}-{n}")]
        + (["--nproc", str(n)] if n > 1 else []),
        capture_output=True,
        text=True,
    )
    if out.returncode:
        print(out.stderr[-3000:])
        raise SystemExit(out.returncode)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -------------------------------------------------------------------------------------------------- fit
def fit_child(folder: str, out: str) -> None:
    """One process of a fit (RANK and WORLD_SIZE in the environment): prints the seconds the fit took."""
    from wdcli.train.runtime import Processes, Runtime
    from wdcli.train.sources import fit_training_rows

    spec = _synth_spec(Path(folder), "train.data.cache=off")
    with Runtime.start(Processes.from_env(), device="cpu") as runtime:
        runtime.barrier()
        t = time.perf_counter()
        fitted = fit_training_rows(spec, runtime)
        seconds = time.perf_counter() - t
        if runtime.main:
            fitted.save(Path(out))
            print(json.dumps({"fit_s": seconds, "rows": fitted.rows}))


def fit(folder: Path, n: int) -> None:
    results = {}
    for procs in (1, n):
        out = folder / f"fit-{procs}"
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(29500 + os.getpid() % 1000 + procs)}
        runs = [
            subprocess.Popen(
                [sys.executable, __file__, "--fit-child", str(folder), str(out)],
                env={**env, "RANK": str(r), "WORLD_SIZE": str(procs), "LOCAL_RANK": str(r)},
                stdout=subprocess.PIPE,
                text=True,
            )
            for r in range(procs)
        ]
        outs = [p.communicate()[0] for p in runs]
        if any(p.returncode for p in runs):
            raise SystemExit("a fit process failed")
        results[procs] = json.loads(outs[0].strip().splitlines()[-1])
        results[procs]["bytes"] = (out / "pipeline.json").read_bytes()
    one, many = results[1], results[n]
    print(f"{'processes':>10}{'fit s':>9}{'rows':>12}")
    for procs, r in results.items():
        print(f"{procs:>10}{r['fit_s']:>9.2f}{r['rows']:>12,}")
    same = one["bytes"] == many["bytes"]
    print(f"{n} processes: {many['fit_s'] / one['fit_s']:.2f}x the time of one; pipeline.json the same bytes: {same}")


# ------------------------------------------------------------------------------------------- contention
def train_child(folder: str) -> None:
    """One training in memory: prints its epoch's rows/s."""
    from wdcli.train import train

    sets = ["train.epochs=1", "train.checkpoint.enabled=false", "train.data.cache=off", "train.device=cpu"]
    result = train(_synth_spec(Path(folder), *sets, "train.data.mode=memory"))
    print(json.dumps({"rows_per_s": result.metrics.history[0].rows_per_s}))


def _trainings(folder: Path, k: int, env: dict) -> list[float]:
    runs = [
        subprocess.Popen(
            [sys.executable, __file__, "--train-child", str(folder)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(k)
    ]
    outs = [p.communicate()[0] for p in runs]
    if any(p.returncode for p in runs):
        raise SystemExit("a training failed")
    return [json.loads(o.strip().splitlines()[-1])["rows_per_s"] for o in outs]


def contention(folder: Path, k: int) -> None:
    base = {key: v for key, v in os.environ.items() if key not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    print(f"{'threads':>8}{'alone rows/s':>14}{f'{k} at once: rows/s each':>32}{'least share':>13}", flush=True)
    for name, env in (("old", {**base, **OLD_SPIN}), ("new", base)):
        (alone,) = _trainings(folder, 1, env)
        together = _trainings(folder, k, env)
        each = ", ".join(f"{r:,.0f}" for r in together)
        print(f"{name:>8}{alone:>14,.0f}{each:>32}{min(together) / alone:>12.0%}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--procs", default="1,2")
    ap.add_argument("--batches", default="1024,8192")
    ap.add_argument("--fit", type=int, help="time the fit in 1 and in this many processes")
    ap.add_argument("--contention", type=int, help="this many trainings at once vs one alone")
    ap.add_argument("--fit-child", nargs=2, metavar=("FOLDER", "OUT"))
    ap.add_argument("--train-child", metavar="FOLDER")
    a = ap.parse_args()
    if a.fit_child:
        return fit_child(*a.fit_child)
    if a.train_child:
        return train_child(a.train_child)
    from synth import write_parts

    folder = Path(tempfile.mkdtemp(prefix="wdcli-procs-"))
    write_parts(folder, a.rows, part_rows=(a.rows + 3) // 4)
    print(f"{a.rows:,} rows; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}", flush=True)
    if a.fit:
        fit(folder, a.fit)
    elif a.contention:
        contention(folder, a.contention)
    else:
        data_parallel(folder, [int(x) for x in a.procs.split(",")], [int(x) for x in a.batches.split(",")])


if __name__ == "__main__":
    main()
