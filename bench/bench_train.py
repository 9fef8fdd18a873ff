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
import torch
import torch.nn.functional as F

from wdcli.loading import load_spec
from wdcli.model import WideDeep
from wdcli.optim import make_optimizers
from wdcli.pipeline import fit_pipeline, transform
from wdcli.plan import build_config
from wdcli.train import Tensors, predict_logits

HERE = Path(__file__).parent


def epoch(model, optimizers, data: Tensors, batch: int, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(data), generator=gen)
    t_fb = t_opt = 0.0
    start = time.perf_counter()
    model.train()
    for a in range(0, len(data), batch):
        b = data.rows(perm[a:a + batch])
        t0 = time.perf_counter()
        loss = F.binary_cross_entropy_with_logits(model(b.sparse, b.multi, b.dense), b.label)
        for o in optimizers:
            o.zero_grad(set_to_none=True)
        loss.backward()
        t1 = time.perf_counter()
        for o in optimizers:
            o.step()
        t_fb += t1 - t0
        t_opt += time.perf_counter() - t1
    total = time.perf_counter() - start
    return {"rows_per_s": len(data) / total, "seconds": total, "forward_backward_s": t_fb, "optimizer_s": t_opt}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(HERE / "data" / "synth_1m.parquet"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pairs", default="ftrl+adagrad,sgd+sgd,adam+adam")
    a = ap.parse_args()
    torch.set_num_threads(2)
    spec = load_spec(HERE / "synth.yaml", check_paths=False)
    df = pl.read_parquet(a.data).head(a.rows)
    t = time.perf_counter()
    fitted = fit_pipeline(spec, df)
    data = Tensors.of(transform(fitted, df))
    prep = time.perf_counter() - t
    cfg = build_config(fitted)
    p = cfg.param_counts()
    print(f"rows {len(data):,}; parameters: wide {p['wide']:,}, embeddings {p['embeddings']:,}, mlp {p['mlp']:,}")
    print(f"preprocessing (fit + transform to tensors): {prep:.2f} s")
    print(f"{'wide + deep optimizers':<24}{'rows/s':>10}{'epoch s':>9}{'fwd+bwd s':>11}{'optim s':>9}")
    model = None
    for pair in a.pairs.split(","):
        wide, deep = pair.split("+")
        opt = {"ftrl": "{name: ftrl}", "adagrad": "{name: adagrad}", "sgd": "{name: sgd, lr: 0.05}",
               "adam": "{name: adam}"}
        s = load_spec(HERE / "synth.yaml", [f"train.wide_optimizer={opt[wide]}", f"train.deep_optimizer={opt[deep]}"],
                      check_paths=False)
        torch.manual_seed(0)
        model = WideDeep(cfg)
        r = epoch(model, make_optimizers(model, s.train), data, s.train.batch_size)
        print(f"{pair:<24}{r['rows_per_s']:>10,.0f}{r['seconds']:>9.1f}{r['forward_backward_s']:>11.1f}"
              f"{r['optimizer_s']:>9.1f}")
    t = time.perf_counter()
    predict_logits(model, data)
    score_s = time.perf_counter() - t
    print(f"bulk scoring (encoded tensors, batches of 1,024): {len(data) / score_s:,.0f} rows/s")
    t = time.perf_counter()
    predict_logits(model, Tensors.of(transform(fitted, df)))
    full_s = time.perf_counter() - t
    print(f"bulk scoring from raw columns (transform included): {len(data) / full_s:,.0f} rows/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
