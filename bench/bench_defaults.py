"""Do the default optimizers learn well everywhere? Each data set x {old defaults, new defaults, the shipped spec,
Adam, tuned}: test AUC, epochs run (and the best epoch, whose weights are kept), seconds.

    python bench/synth.py                                                    # bench/data/synth_1m.parquet
    python bench/synth.py --shape sparse --rows 50000 --out bench/data/sparse_50k.parquet
    python bench/bench_defaults.py                      # all (about an hour on 2 quiet cores)
    python bench/bench_defaults.py --only census --trials 40

The studies are kept in bench/data/tune/<data set>[-<batch>]/study.db and continued when run again (--fresh starts
them over); a study of `wdcli tune SPEC` (runs/<name>/tune/study.db) of the same spec may be copied there.

The data sets: census (specs/census.yaml), the apps sample (specs/apps.yaml), bench/synth.py's click data at
1,000,000 rows one epoch at batch 256, 1,024 and 8,192 (bench/synth.yaml; 750,000 training rows), and few rows
with wide vocabularies (bench/sparse.yaml). The settings:

- old defaults: FTRL alpha 0.05, beta 1 and AdaGrad lr 0.05, initial_accumulator 0.1 applied to the batch *mean*
  gradient, batch 512, 10 epochs, patience 2, as before per-example sums: written in today's per-example units
  as beta = B and initial_accumulator = 0.1 B^2 (`old_defaults`), with the bias starting at 0 as it did
  (`bias_at_zero`); this gives the old code's very AUC (0.6568 on synth at batch 1,024, checked against it).
- new defaults: the spec with no optimizer settings and the default batch size (its epochs and early stopping
  kept; synth: one epoch at the given batch).
- shipped: the spec as shipped (census, apps).
- adam: Adam lr 0.001 on both parts.
- tuned: `wdcli tune` (the default space; synth: the optimizers' step sizes at the given batch) on the training
  and validation rows, then the best spec trained and scored on the test rows.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from wdcli.data.split import load_splits
from wdcli.spec import load_spec
from wdcli.spec.types import Train
from wdcli.train import train
from wdcli.train.trainer import Trainer
from wdcli.tune import tune

HERE = Path(__file__).parent
ROOT = HERE.parent
OUT = HERE / "data" / "tune"


@dataclass
class Dataset:
    spec: Path
    sets: list[str] = field(default_factory=list)  # always applied
    batches: list[int | None] = field(default_factory=lambda: [None])  # None: the spec's (or default) batch
    trials: int = 20
    space: list[str] = field(default_factory=list)  # --space flags for tune; empty: the default space


SYNTH_SPLIT = ["data.split.validation=0.05", "data.split.test=0.2", "train.epochs=1"]
DATASETS = {
    "census": Dataset(ROOT / "specs" / "census.yaml", trials=40),
    "apps": Dataset(ROOT / "specs" / "apps.yaml"),
    "sparse": Dataset(HERE / "sparse.yaml"),
    "synth": Dataset(
        HERE / "synth.yaml",
        SYNTH_SPLIT,
        [256, 1024, 8192],
        trials=6,
        space=[
            "train.wide_optimizer.alpha={log_uniform: [0.005, 0.2]}",
            "train.deep_optimizer.lr={log_uniform: [0.003, 0.2]}",
        ],
    ),
}


def defaults_only() -> list[str]:
    """The overrides that put the optimizers and the batch size back to their defaults."""
    t = Train()
    return [
        f"train.wide_optimizer={{name: {t.wide_optimizer.name}}}",
        f"train.deep_optimizer={{name: {t.deep_optimizer.name}}}",
        f"train.batch_size={t.batch_size}",
    ]


def old_defaults(batch: int) -> list[str]:
    """The defaults before per-example sums, on the batch mean: FTRL on g with beta 1 is FTRL on B*g with
    beta B; AdaGrad on g with initial accumulator 0.1 is AdaGrad on B*g with 0.1 B^2."""
    return [
        f"train.wide_optimizer={{name: ftrl, alpha: 0.05, beta: {batch}}}",
        f"train.deep_optimizer={{name: adagrad, lr: 0.05, initial_accumulator: {0.1 * batch * batch}}}",
        f"train.batch_size={batch}",
        "train.epochs=10",
        "train.early_stopping={metric: auc, patience: 2}",
    ]


@contextlib.contextmanager
def bias_at_zero():
    """Training as before the bias started at the base rate's log-odds (for the old defaults' row)."""
    start = Trainer.start_bias
    Trainer.start_bias = lambda self, batch: setattr(self, "bias_pending", False)
    try:
        yield
    finally:
        Trainer.start_bias = start


def settings(name: str, d: Dataset, batch: int | None) -> dict[str, list[str]]:
    fixed = [f"train.batch_size={batch}"] if batch else []
    out = {
        "old defaults": old_defaults(batch or 512) + (["train.epochs=1"] if name == "synth" else []),
        "new defaults": defaults_only() + fixed,
    }
    if name in ("census", "apps"):
        out["shipped"] = []
    out["adam"] = (
        defaults_only()
        + fixed
        + ["train.wide_optimizer={name: adam, lr: 0.001}", "train.deep_optimizer={name: adam, lr: 0.001}"]
    )
    return out


def run(path: Path, sets: list[str], frames) -> dict:
    spec = load_spec(path, sets)
    t = time.perf_counter()
    r = train(spec, frames)
    best = r.metrics.best_epoch or r.metrics.epochs
    return {
        "auc": r.metrics.metric("auc", "test"),
        "epochs": f"{r.metrics.epochs} ({best})",
        "seconds": time.perf_counter() - t,
        "batch": spec.train.batch_size,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(DATASETS), help="comma-separated data sets")
    ap.add_argument("--trials", type=int, default=None, help="trials of every study (default: per data set)")
    ap.add_argument("--no-tune", action="store_true")
    ap.add_argument("--fresh", action="store_true", help="start the studies over (default: continue them)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (1 on a busy machine)")
    a = ap.parse_args()
    rows = []
    print(
        f"{'data set':<8} {'batch':>6}  {'setting':<13} {'test AUC':>8}  {'epochs (best)':>13}  {'seconds':>7}",
        flush=True,
    )
    for name in a.only.split(","):
        d = DATASETS[name]
        if a.threads:
            d.sets = d.sets + [f"train.threads={a.threads}"]
        frames = load_splits(load_spec(d.spec, d.sets).data)
        for batch in d.batches:
            for setting, sets in settings(name, d, batch).items():
                with bias_at_zero() if setting == "old defaults" else contextlib.nullcontext():
                    r = run(d.spec, d.sets + sets, frames)
                rows.append((name, batch, setting, r))
                print(
                    f"{name:<8} {r['batch']:>6}  {setting:<13} {r['auc']:>8.4f}  {r['epochs']:>13}  "
                    f"{r['seconds']:>7.0f}",
                    flush=True,
                )
            if a.no_tune:
                continue
            base = d.sets + defaults_only() + ([f"train.batch_size={batch}"] if batch else [])
            t = time.perf_counter()
            folder = OUT / (f"{name}-{batch}" if batch else name)  # `wdcli tune`'s study may be copied here
            study = tune(d.spec, base, d.space, a.trials or d.trials, folder, fresh=a.fresh)
            r = run(study.best_spec, [], frames)
            r["seconds"] += time.perf_counter() - t
            rows.append((name, batch, "tuned", r))
            print(
                f"{name:<8} {r['batch']:>6}  {'tuned':<13} {r['auc']:>8.4f}  {r['epochs']:>13}  {r['seconds']:>7.0f}"
                f"   ({a.trials or d.trials} trials; validation {study.metric} {study.rows[0]['value']:.4f}; "
                f"{study.best_spec})",
                flush=True,
            )


if __name__ == "__main__":
    main()
