"""Training from files larger than memory: fit time, training rows/s and peak memory, in memory and streamed.

    python bench/bench_stream.py                                  # 1M (memory and stream), 10M and 50M (stream)
    python bench/bench_stream.py --rows 1000000,5000000 --modes memory,stream

Generates the rows as Parquet files of 1,000,000 rows (bench/synth.py's model, a part at a time) under
bench/data/stream/, then runs one epoch of bench/synth.yaml per size and mode, each in a fresh process so that
its peak memory (max RSS) is its own. Validation and test are 1% each of the rows (split by hash); the final
metrics of streamed training rows are taken on their first 1,000,000.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
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


def child(folder: str, mode: str, threads: int) -> None:
    """One training run; prints its figures as JSON."""
    from wdcli.spec import load_spec
    from wdcli.train import train

    spec = load_spec(
        HERE / "synth.yaml",
        [
            f"data.train={folder}/part-*.parquet",
            "data.split={validation: 0.01, test: 0.01, seed: 1}",
            "train.epochs=1",
            f"train.data.mode={mode}",
            f"train.threads={threads}",
            "train.checkpoint.enabled=false",
        ],
        check_paths=False,
    )
    timer = Timer()
    start = time.perf_counter()
    result = train(spec, reporter=timer)
    marks = dict(reversed(timer.marks))  # the first mark of each name
    after_fit = min(t for name, t in timer.marks if name != "fitting the pipeline")
    print(
        json.dumps(
            {
                "fit_s": after_fit - marks["fitting the pipeline"],
                "setup_s": marks["epoch"] - start,
                "rows_per_s": result.metrics.history[0].rows_per_s,
                "epoch_s": result.metrics.history[0].seconds,
                "total_s": time.perf_counter() - start,
                "train_rows": int(result.metrics.history[0].rows_per_s * result.metrics.history[0].seconds + 0.5),
                "test_auc": result.metrics.metric("auc", "test"),
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="1000000,10000000,50000000")
    ap.add_argument("--modes", default="memory,stream", help="memory runs only at sizes up to --memory-max")
    ap.add_argument("--memory-max", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=str(HERE / "data" / "stream"))
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "MODE"))
    a = ap.parse_args()
    if a.child:
        return child(a.child[0], a.child[1], a.threads)
    from synth import write_parts

    sizes = [int(x) for x in a.rows.split(",")]
    folder = Path(a.data)
    t = time.perf_counter()
    write_parts(folder, max(sizes))
    print(
        f"data: {max(sizes):,} rows in {folder} ({sum(p.stat().st_size for p in folder.glob('*.parquet')) / 2**30:.2f}"
        f" GiB, made or found in {time.perf_counter() - t:.0f} s)"
    )
    print(
        f"{'rows':>12} {'mode':>7} {'fit s':>7} {'set-up s':>9} {'train rows/s':>13} {'epoch s':>8} "
        f"{'peak MiB':>9} {'test AUC':>9}"
    )
    for n in sizes:
        sub = folder / f"first-{n}"  # the first n rows: links to the first parts
        sub.mkdir(exist_ok=True)
        for p in sorted(folder.glob("part-*.parquet"))[: (n + 999_999) // 1_000_000]:
            if not (sub / p.name).exists():
                (sub / p.name).symlink_to(p.resolve())
        for mode in a.modes.split(","):
            if mode == "memory" and n > a.memory_max:
                continue
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(sub), mode, "--threads", str(a.threads)],
                capture_output=True,
                text=True,
            )
            if out.returncode:
                print(out.stderr[-2000:])
                raise SystemExit(out.returncode)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{n:>12,} {mode:>7} {r['fit_s']:>7.1f} {r['setup_s']:>9.1f} {r['rows_per_s']:>13,.0f} "
                f"{r['epoch_s']:>8.1f} {r['peak_mb']:>9,.0f} {r['test_auc']:>9.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
