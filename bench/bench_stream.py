"""Training from files larger than memory, and what the encoded cache changes: rows/s of each epoch, in memory
and streamed, without and with the cache; peak memory; rows/s of the data path alone with 0, 1, 2 and 4
reader processes, from the cache, and of cache windows alone.

    python bench/bench_stream.py                       # 10M rows (Parquet parts of 1M), in memory on them all
    python bench/bench_stream.py --device cuda --threads 16   # the GPU path (reader processes: half the cores)
    python bench/bench_stream.py --rows 400000 --part-rows 100000 --memory-rows 200000 --read-rows 25000 \\
        --shuffle 100000                               # a quick check

Generates bench/synth.py's rows as Parquet parts under bench/data/stream/ (kept between runs), then trains
bench/synth.yaml for two epochs, each run in a fresh process so that its peak memory (max RSS) is its own:
in memory on the first --memory-rows rows (default all: the model's own speed, encoding done once, in set-up;
fewer rows fit smaller vocabularies, so a smaller and faster model: the targets compare with the same one), streamed
without the cache (as before issue 22: every epoch reads and encodes the files), and streamed with a new cache
(the first epoch encodes and writes it, the second reads it). Validation and test are 1% each (split by hash).
Then the data path alone, no training: one epoch of batches from the files with 0 (a thread), 1, 2 and 4 reader
processes, from the cache, and the cache's windows alone. It ends with the issue's targets against the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


class Timer:
    """A reporter that notes when each stage starts."""

    def __init__(self):
        self.marks: list[tuple[str, float]] = []

    def task(self, description, total):
        self.marks.append((description, time.perf_counter()))
        return lambda rows: None

    def start_epoch(self, epoch, epochs, rows):
        self.marks.append(("epoch", time.perf_counter()))

    def advance(self, rows, loss):
        pass

    def end_epoch(self, record):
        self.marks.append(("end of epoch", time.perf_counter()))


def _spec(folder: str, a: argparse.Namespace, *more: str):
    from wdcli.spec import load_spec

    sets = [
        f"data.train={folder}/part-*.parquet",
        "data.split={validation: 0.01, test: 0.01, seed: 1}",
        "train.checkpoint.enabled=false",
        f"train.device={a.device}",
        f"train.threads={a.threads}",
        f"train.data.read_batch_rows={a.read_rows}",
        f"train.data.shuffle_buffer={a.shuffle}",
        *more,
    ]
    return load_spec(HERE / "synth.yaml", sets, check_paths=False)


def child(folder: str, mode: str, cache: str, a: argparse.Namespace) -> None:
    """One training run of two epochs; prints its figures as JSON."""
    from wdcli.train import train

    spec = _spec(folder, a, "train.epochs=2", f"train.data.mode={mode}", f"train.data.cache={cache}")
    timer = Timer()
    result = train(spec, reporter=timer)
    fit = [t for name, t in timer.marks if name == "fitting the pipeline"]
    after = [t for name, t in timer.marks if fit and t > fit[0] and name != "fitting the pipeline"]
    print(
        json.dumps(
            {
                "fit_s": after[0] - fit[0] if fit else 0.0,
                "epochs": [r.rows_per_s for r in result.metrics.history],
                "test_auc": result.metrics.metric("auc", "test"),
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def _run(a: argparse.Namespace, folder: Path, mode: str, cache: str) -> dict:
    args = [sys.executable, __file__, "--child", str(folder), mode, cache]
    for key in ("threads", "read_rows", "shuffle", "device"):
        args += [f"--{key.replace('_', '-')}", str(getattr(a, key))]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode:
        print(out.stderr[-3000:])
        raise SystemExit(out.returncode)
    return json.loads(out.stdout.strip().splitlines()[-1])


def trainings(a: argparse.Namespace, data: Path, cache: Path) -> dict[str, dict]:
    print(
        f"{'run':>22} {'rows':>11} {'fit s':>6} {'epoch 1 rows/s':>15} {'epoch 2 rows/s':>15} {'peak MiB':>9} {'AUC':>7}"
    )
    runs = {}
    shutil.rmtree(cache, ignore_errors=True)
    for name, folder, mode, where in (
        ("memory", _first(data, a.memory_rows, a.part_rows) if a.memory_rows < a.rows else data, "memory", "off"),
        ("stream (files)", data, "stream", "off"),
        ("stream (new cache)", data, "stream", str(cache)),
    ):
        r = runs[name] = _run(a, folder, mode, where)
        rows = a.rows if folder == data else a.memory_rows
        e1, e2 = r["epochs"][0], r["epochs"][-1]
        print(
            f"{name:>22} {rows:>11,} {r['fit_s']:>6.1f} {e1:>15,.0f} {e2:>15,.0f} {r['peak_mb']:>9,.0f}"
            f" {r['test_auc']:>7.4f}",
            flush=True,
        )
    return runs


def _first(data: Path, rows: int, part_rows: int) -> Path:
    """A folder of links to the parts that hold the first `rows` rows."""
    sub = data / f"first-{rows}"
    sub.mkdir(exist_ok=True)
    for p in sorted(data.glob("part-*.parquet"))[: -(-rows // part_rows)]:
        if not (sub / p.name).exists():
            (sub / p.name).symlink_to(p.resolve())
    return sub


def data_path(a: argparse.Namespace, data: Path, cache_root: Path) -> dict[str, float]:
    """Rows/s of one epoch of batches with no training (on --device: a GPU's batches are copied there): from the
    files with reader processes, from the cache, and of the cache's windows alone."""
    import torch

    from wdcli.data.cache import Cache
    from wdcli.data.files import Files
    from wdcli.data.stream import Stream

    spec = _spec(str(data), a, "train.data.mode=stream")
    parts = Files.of(spec.data)
    cache = Cache.open(cache_root, spec, parts)
    kept = cache.pipeline(spec)
    assert kept is not None, "the cached run above keeps the pipeline"
    fitted, parts["train"].limit = kept
    out = {}

    def stream(readers: int, with_cache: bool) -> Stream:
        c, device = cache if with_cache else None, torch.device(a.device)  # batches where the model would train
        rows, read = fitted.rows, a.read_rows
        return Stream(parts["train"], fitted, 1024, 0, rows, a.shuffle, read, device=device, processes=readers, cache=c)

    warnings.filterwarnings("ignore", message="This DataLoader will create")  # (more processes than cores: meant)
    print(f"{'data path, no training':>40} {'rows/s':>12}")
    for name, s in [
        *((f"files, {n} reader processes", stream(n, False)) for n in (0, 1, 2, 4)),
        ("cache", stream(0, True)),
    ]:
        t, rows = time.perf_counter(), sum(len(b) for b in s.batches())
        out[name] = rows / (time.perf_counter() - t)
        print(f"{name:>40} {out[name]:>12,.0f}", flush=True)
    s = stream(0, True)
    windows = s._order(12345)
    t = time.perf_counter()
    rows = sum(len(s.encoder(tuple(w))) for w in windows)
    out["windows"] = rows / (time.perf_counter() - t)
    print(f"{'cache windows alone':>40} {out['windows']:>12,.0f}", flush=True)
    return out


def targets(runs: dict[str, dict], path: dict[str, float]) -> None:
    memory, files, cached = runs["memory"], runs["stream (files)"], runs["stream (new cache)"]
    second = cached["epochs"][-1] / memory["epochs"][-1]
    first = cached["epochs"][0] / files["epochs"][0]
    peak = max(files["peak_mb"], cached["peak_mb"]) / 1024
    print("targets:")
    print(f"  second epoch from the cache / in memory: {second:.0%} (target >= 95%)")
    print(f"  first epoch (writing the cache) / streamed from the files: {first:.0%} (target >= 100%)")
    print(f"  peak memory streamed: {peak:.2f} GiB (target <= 2.79 GiB, 3 GB)")
    print(f"  cache windows alone: {path['windows']:,.0f} rows/s (target >= 3,000,000)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--part-rows", type=int, default=1_000_000)
    ap.add_argument("--memory-rows", type=int, help="default: --rows (6 GiB of memory at 10M rows)")
    ap.add_argument("--read-rows", type=int, default=250_000)
    ap.add_argument("--shuffle", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="where the model trains (cuda: streamed windows go to the GPU)")
    ap.add_argument("--data", default=str(HERE / "data" / "stream"))
    ap.add_argument("--child", nargs=3, metavar=("FOLDER", "MODE", "CACHE"))
    a = ap.parse_args()
    a.memory_rows = a.memory_rows or a.rows
    if a.child:
        return child(*a.child, a)
    from synth import write_parts

    data = Path(a.data) / f"{a.rows}-{a.part_rows}"
    t = time.perf_counter()
    write_parts(data, a.rows, part_rows=a.part_rows)
    size = sum(p.stat().st_size for p in data.glob("*.parquet")) / 2**30
    print(f"data: {a.rows:,} rows in {data} ({size:.2f} GiB, made or found in {time.perf_counter() - t:.0f} s)")
    print(f"{os.cpu_count()} cores, {a.threads} torch threads; load average {os.getloadavg()[0]:.1f}", flush=True)
    cache = data / "cache"
    runs = trainings(a, data, cache)
    path = data_path(a, data, cache)
    targets(runs, path)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
