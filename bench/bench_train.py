"""One epoch of training on 1,000,000 synthetic rows (13 numeric, 26 categorical, embeddings of 16, hidden
[256, 128, 64], batch 1,024, wide part over the 26 columns plus five crosses), then bulk scoring.

    python bench/synth.py && python bench/bench_train.py

Prints rows/s for training (FTRL + AdaGrad, and other optimizer pairs for comparison), rows/s for bulk
scoring, the time of each optimizer step against forward+backward, and the process's peak memory.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import polars as pl

from wdcli.data.batch import Batch
from wdcli.data.memory import InMemory
from wdcli.features import fit_pipeline, transform
from wdcli.model.plan import build_config
from wdcli.model.widedeep import probabilities
from wdcli.spec import load_spec
from wdcli.train.runtime import Runtime
from wdcli.train.trainer import Trainer

HERE = Path(__file__).parent


def epoch(trainer: Trainer, data: InMemory) -> dict:
    """One epoch of the trainer's own step; the optimizers' share is timed by wrapping their `step`."""
    t_opt = [0.0]
    for opt in trainer.optimizers:

        def timed(*a, _step=opt.step, **k):
            t = time.perf_counter()
            out = _step(*a, **k)
            t_opt[0] += time.perf_counter() - t
            return out

        opt.step = timed
    start = time.perf_counter()
    for batch in data.batches():
        trainer.step(batch)
    total = time.perf_counter() - start
    return {
        "rows_per_s": data.rows / total,
        "seconds": total,
        "forward_backward_s": total - t_opt[0],
        "optimizer_s": t_opt[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(HERE / "data" / "synth_1m.parquet"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pairs", default="ftrl+adagrad,sgd+sgd,adam+adam")
    a = ap.parse_args()
    runtime = Runtime.start(threads=2)
    spec = load_spec(HERE / "synth.yaml", check_paths=False)
    df = pl.read_parquet(a.data).head(a.rows)
    t = time.perf_counter()
    fitted = fit_pipeline(spec, df)
    encoded = Batch.of(transform(fitted, df))
    prep = time.perf_counter() - t
    cfg = build_config(fitted)
    p = cfg.param_counts()
    print(f"rows {len(encoded):,}; parameters: wide {p['wide']:,}, embeddings {p['embeddings']:,}, mlp {p['mlp']:,}")
    print(f"preprocessing (fit + transform to tensors): {prep:.2f} s")
    print(f"{'wide + deep optimizers':<24}{'rows/s':>10}{'epoch s':>9}{'fwd+bwd s':>11}{'optim s':>9}")
    trainer = None
    for pair in a.pairs.split(","):
        wide, deep = pair.split("+")
        opt = {
            "ftrl": "{name: ftrl}",
            "adagrad": "{name: adagrad}",
            "sgd": "{name: sgd, lr: 0.05}",
            "adam": "{name: adam}",
        }
        s = load_spec(
            HERE / "synth.yaml",
            [f"train.wide_optimizer={opt[wide]}", f"train.deep_optimizer={opt[deep]}"],
            check_paths=False,
        )
        trainer = Trainer(cfg, s.train.model_copy(update={"seed": 0}), runtime)
        r = epoch(trainer, InMemory(encoded, s.train.batch_size, seed=0))
        print(
            f"{pair:<24}{r['rows_per_s']:>10,.0f}{r['seconds']:>9.1f}{r['forward_backward_s']:>11.1f}"
            f"{r['optimizer_s']:>9.1f}"
        )
    t = time.perf_counter()
    probabilities(trainer.model, encoded.chunks())
    score_s = time.perf_counter() - t
    print(f"bulk scoring (encoded tensors, batches of 1,024): {len(encoded) / score_s:,.0f} rows/s")
    t = time.perf_counter()
    probabilities(trainer.model, Batch.of(transform(fitted, df)).chunks())
    full_s = time.perf_counter() - t
    print(f"bulk scoring from raw columns (transform included): {len(encoded) / full_s:,.0f} rows/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
