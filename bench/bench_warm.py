"""Warm start, the paper's daily retraining: split a data set into two "days" (its first and second halves),
train on day 1, then train on day 2 from scratch (cold) and from day 1's model (warm), with the shipped spec's
settings (epochs, early stopping) and a seeded validation/test split of each day.

    python bench/bench_warm.py [--specs census apps] [--epochs N]

Prints each run's validation AUC per epoch, the cold run's best, and the first epoch at which the warm run
reaches it (the issue's target: a third of the cold run's epochs, or fewer).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import polars as pl

from wdcli.data.io import read_table
from wdcli.data.split import Rule
from wdcli.model.optim import optimizer_state
from wdcli.spec import load_spec
from wdcli.train import train
from wdcli.train.warm import Previous

SPECS = Path(__file__).resolve().parents[1] / "specs"


def day_frames(frame: pl.DataFrame, split, day: str) -> dict[str, pl.DataFrame]:
    """A day's rows split as the spec's data.split says."""
    parts = Rule(split.validation, split.test, split.seed, split.key).parts(frame, day, 0)
    return {name: frame.filter(pl.Series(parts == i)) for i, name in enumerate(("train", "validation", "test"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--specs", nargs="+", default=["census", "apps"])
    ap.add_argument("--epochs", type=int, help="override the spec's epochs")
    args = ap.parse_args()
    for name in args.specs:
        overrides = [f"train.epochs={args.epochs}"] if args.epochs else []
        spec = load_spec(SPECS / f"{name}.yaml", overrides)
        data = spec.data.train if isinstance(spec.data.train, str) else spec.data.train[0]
        frame = read_table(data)
        half = len(frame) // 2
        day1 = day_frames(frame.head(half), spec.data.split, "day1")
        day2 = day_frames(frame.tail(len(frame) - half), spec.data.split, "day2")
        t0 = time.perf_counter()
        first = train(spec, day1)
        print(
            f"{name}: day 1 ({len(day1['train']):,} training rows): {first.metrics.epochs} epochs, validation AUC "
            f"{first.metrics.metric('auc', 'validation'):.4f} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        cold = train(spec, day2)
        previous = Previous(
            "day 1",
            first.fitted,
            first.config,
            first.model,
            optimizer_state(first.trainer.model, first.trainer.optimizers),
        )
        warm = train(spec, day2, warm=previous)
        report = warm.metrics.warm_start
        c = [r.auc for r in cold.metrics.history]
        w = [r.auc for r in warm.metrics.history]
        best, best_epoch = max(c), c.index(max(c)) + 1
        reached = next((i + 1 for i, a in enumerate(w) if a >= best), None)
        print(f"{name}: day 2 cold: {' '.join(f'{a:.4f}' for a in c)}")
        print(f"{name}: day 2 warm: {' '.join(f'{a:.4f}' for a in w)}")
        print(
            f"{name}: cold best validation AUC {best:.4f} at epoch {best_epoch} of {len(c)}; warm reaches it at "
            f"epoch {reached} (target <= {math.ceil(best_epoch / 3)}); warm best {max(w):.4f}; test AUC "
            f"cold {cold.metrics.metric('auc', 'test'):.4f}, warm {warm.metrics.metric('auc', 'test'):.4f}",
            flush=True,
        )
        carried = report.features
        print(
            f"{name}: carried: "
            + ", ".join(f"{k} {v.carried}/{v.carried + v.new}" for k, v in list(carried.items())[:8])
            + f", ...; mlp {report.mlp}"
        )


if __name__ == "__main__":
    main()
