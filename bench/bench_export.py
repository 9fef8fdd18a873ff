"""onnxruntime next to torch on an exported model: the model alone (encoded inputs in, scores out), in bulk and
for requests of 1,000 candidates, for the census and apps models.

    python bench/bench_export.py [--census RUN] [--apps RUN]     # trains brief models when none are given

Both get the same encoded tensors (the pipeline's encoding is timed apart: it is the same for both). Torch runs
wdcli's own forward (ragged bags through embedding_bag) with one thread, onnxruntime the exported graph (padded
bags) with one intra-op thread; the padding, which an ONNX client does, is timed with onnxruntime.
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
import onnxruntime as ort
import polars as pl
import torch

from wdcli.data.batch import Batch
from wdcli.export import export_run
from wdcli.export.onnx import feeds
from wdcli.model.widedeep import probabilities
from wdcli.score import Scorer

SPECS = Path(__file__).resolve().parents[1] / "specs"


def best_ms(fn, repeat: int) -> tuple[float, float]:
    """Median and best of `repeat` timings, in ms."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times)


def run(name: str, folder: str, frame: pl.DataFrame) -> None:
    scorer = Scorer.load(folder)
    out = export_run(folder, Path(tempfile.mkdtemp(prefix="wdcli-export-")) / name)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(out / "model.onnx"), options, providers=["CPUExecutionProvider"])
    for label, rows, repeat in (("bulk", frame, 5), ("1,000 candidates", frame.head(1000), 200)):
        enc = scorer.encoder(rows)
        batch = Batch.of(enc)
        encode = best_ms(lambda: scorer.encoder(rows), max(repeat // 5, 3))  # noqa: B023 - called here
        t = best_ms(lambda: probabilities(scorer.model, batch.chunks()), repeat)  # noqa: B023
        o = best_ms(lambda: session.run(["score"], feeds(enc, scorer.fitted)), repeat)  # noqa: B023
        diff = np.abs(session.run(["score"], feeds(enc, scorer.fitted))[0] - probabilities(scorer.model, [batch])).max()
        print(
            f"{name:>7} {label:>17} ({len(rows):>7,} rows): encode {encode[0]:8.2f} ms | torch {t[0]:8.2f} ms "
            f"(best {t[1]:.2f}) | onnxruntime {o[0]:8.2f} ms (best {o[1]:.2f}) | "
            f"{len(rows) / t[0] * 1e3:>10,.0f} vs {len(rows) / o[0] * 1e3:>10,.0f} rows/s | max diff {diff:.1e}",
            flush=True,
        )


def trained(spec: str, extra: list[str]) -> str:
    folder = tempfile.mkdtemp(prefix="wdcli-bench-export-") + "/run"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "wdcli",
            "train",
            str(SPECS / spec),
            "-q",
            "--output",
            folder,
            "--set",
            "train.epochs=2",
            *extra,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--census")
    ap.add_argument("--apps")
    args = ap.parse_args()
    torch.set_num_threads(1)
    census = args.census or trained("census.yaml", [])
    apps = args.apps or trained("apps.yaml", [])
    adult = pl.read_parquet(SPECS / "data" / "adult.parquet")
    run("census", census, adult)
    candidates = pl.read_csv(SPECS / "data" / "apps_candidates.csv")
    run("apps", apps, pl.concat([candidates] * 10))


if __name__ == "__main__":
    main()
