"""Training and scoring speed on whatever device is there (a GPU when there is one, else the CPU), for the
benchmark shape: 26 categorical columns (up to 100,000 values), 5 crosses hashed into 1,000,000 buckets,
13 numeric columns, embeddings of 16, MLP [256, 128, 64], FTRL + AdaGrad.

    python bench/bench_device.py                       # 1,000,000 rows; batches 1,024 / 8,192 / 65,536; fp32, bf16
    python bench/bench_device.py --device cpu --rows 200000 --batches 1024

One table: rows/s of one epoch of wdcli's own training step (`Trainer.step`) from the encoded rows held on the
device (in memory) and streamed from Parquet files (read, encoded and copied in background threads), and of
bulk scoring. The rows are made by bench/synth.py and written as four Parquet files in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from synth import write_parts  # noqa: E402

from wdcli.data.batch import Batch  # noqa: E402
from wdcli.data.files import Files  # noqa: E402
from wdcli.data.memory import InMemory  # noqa: E402
from wdcli.data.stream import Stream  # noqa: E402
from wdcli.features import fit_pipeline, transform  # noqa: E402
from wdcli.model.plan import build_config  # noqa: E402
from wdcli.model.widedeep import probabilities  # noqa: E402
from wdcli.spec import load_spec  # noqa: E402
from wdcli.train.runtime import Runtime  # noqa: E402
from wdcli.train.trainer import Trainer  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def epoch(trainer: Trainer, source, device: torch.device, max_rows: int | None = None) -> float:
    """Rows per second of one epoch (or its first max_rows rows) of the trainer's own step."""
    sync(device)
    start, rows = time.perf_counter(), 0
    for batch in source.batches():
        trainer.step(batch)
        rows += len(batch)
        if max_rows is not None and rows >= max_rows:
            break
    sync(device)
    return rows / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batches", default="1024,8192,65536")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--stream-batches", default="8192,65536")
    ap.add_argument(
        "--readers", type=int, default=0, help="stream reader processes; default 0 (a thread), as training's"
    )
    ap.add_argument("--json", default=None, help="also write the figures here")
    a = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="wdcli-device-"))
    t = time.perf_counter()
    write_parts(folder, a.rows, part_rows=(a.rows + 3) // 4)
    print(f"data: {a.rows:,} rows in 4 Parquet files ({time.perf_counter() - t:.1f} s to make)", flush=True)
    crosses = ", ".join(f"{{columns: [C{2 * i + 1}, C{2 * i + 2}], hash_buckets: 1000000}}" for i in range(5))
    spec = load_spec(
        HERE / "synth.yaml",
        [f"data.train={folder}/part-*.parquet", f"crosses=[{crosses}]", "data.split={validation: 0.0, test: 0.0}"],
        check_paths=False,
    )
    runtime = Runtime.start(device=a.device)
    device = runtime.device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    frame = pl.read_parquet(folder / "*.parquet")
    t = time.perf_counter()
    fitted = fit_pipeline(spec, frame)
    encoded = transform(fitted, frame)
    prep = time.perf_counter() - t
    data = Batch.of(encoded, device)
    config = build_config(fitted)
    p = config.param_counts()
    print(
        f"device: {name}; torch {torch.__version__}; rows {len(data):,}; parameters: wide {p['wide']:,}, "
        f"embeddings {p['embeddings']:,}, mlp {p['mlp']:,}; fit + transform {prep:.1f} s",
        flush=True,
    )
    results, trainer = [], None
    print(f"{'what':<34}{'batch':>8}{'precision':>10}{'rows/s':>14}", flush=True)

    def row(what: str, batch: int | str, precision: str, rate: float) -> None:
        results.append({"what": what, "batch": batch, "precision": precision, "rows_per_s": rate})
        print(f"{what:<34}{batch:>8}{precision:>10}{rate:>14,.0f}", flush=True)

    for precision in a.precisions.split(","):
        rt = Runtime(device, precision)
        for bs in [int(x) for x in a.batches.split(",")]:
            train = spec.train.model_copy(update={"batch_size": bs, "precision": precision})
            trainer = Trainer(config, train, rt)
            epoch(trainer, InMemory(data, bs, seed=1), device, max_rows=min(len(data), 20 * bs))  # warm-up
            row("train, rows held on the device", bs, precision, epoch(trainer, InMemory(data, bs, seed=0), device))
    files = Files.of(spec.data)["train"]
    for bs in [int(x) for x in a.stream_batches.split(",") if x]:
        trainer = Trainer(config, spec.train.model_copy(update={"batch_size": bs}), Runtime(device))
        stream = Stream(files, fitted, bs, seed=0, rows=len(data), device=device, processes=a.readers)
        epoch(trainer, stream, device, max_rows=1)  # the reader processes start (once, kept across epochs)
        row(f"train, streamed ({a.readers} readers)", bs, "fp32", epoch(trainer, stream, device))
    model = trainer.model
    for precision in a.precisions.split(","):
        rt = Runtime(device, precision)
        probabilities(model, data.chunks(65536))  # warm-up
        sync(device)
        t = time.perf_counter()
        with rt.autocast():
            probabilities(model, data.chunks(65536))
        sync(device)
        row("score, encoded rows", 65536, precision, len(data) / (time.perf_counter() - t))
    t = time.perf_counter()
    probabilities(model, Batch.of(transform(fitted, frame), device).chunks(65536))
    sync(device)
    row("score from raw columns (transform)", 65536, "fp32", len(data) / (time.perf_counter() - t))
    if a.json:
        Path(a.json).write_text(json.dumps({"device": name, "rows": len(data), "results": results}, indent=1))


if __name__ == "__main__":
    main()
