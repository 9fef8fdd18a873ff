"""What the training commands do, as library functions: check a spec against its data (`check`), train and
save a run (`run_training`), compare the wide, deep and joint models (`compare_models`). The CLI only parses
options and prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .artifact import save_artifact
from .data.split import load_splits, split_names
from .features import FittedPipeline, fit_pipeline, transform
from .model.plan import ModelConfig, build_config
from .spec import Spec
from .train import TrainResult, train
from .train.checkpoint import checkpoint_path


@dataclass(frozen=True)
class Checked:
    """A spec that fitted on its training rows and encoded a sample of every other split."""

    spec: Spec
    rows: dict[str, int]  # split -> rows
    fitted: FittedPipeline
    config: ModelConfig


def check(spec: Spec) -> Checked:
    """Fit the pipeline on the training rows and encode the first 1,000 rows of every other split: every data
    problem `train` would meet in its first seconds, without training."""
    frames, names = load_splits(spec.data), split_names(spec.data)
    fitted = fit_pipeline(spec, frames["train"], names["train"])
    for split, frame in frames.items():
        if split != "train" and len(frame):
            transform(fitted, frame.head(1000), names[split])
    return Checked(spec, {k: len(v) for k, v in frames.items()}, fitted, build_config(fitted))


def run_training(spec: Spec, output: str | Path | None = None, reporter=None,
                 frames: dict | None = None, resume: bool = False) -> tuple[TrainResult, Path]:
    """Train a spec and save its artifact; returns the result and the artifact's folder.

    Reading the data files itself (no `frames`), it writes checkpoints beside the runs, continues from one
    with `resume=True`, and deletes it once the artifact is saved."""
    checkpoint = checkpoint_path(spec, output) if frames is None else None
    result = train(spec, frames, reporter, checkpoint=checkpoint, resume=resume)
    metrics = {"splits": result.metrics, "history": result.history, "seconds": result.seconds,
               "parameters": result.config.param_counts()}
    runtime = result.runtime
    path = checkpoint_path(spec, output).parent  # (the other processes of a torchrun job only learn the folder)
    if runtime is None or runtime.main:
        path = save_artifact(spec, result.fitted, result.config, result.model, metrics, output)
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
    if runtime is not None:
        runtime.barrier()
        runtime.close()
    return result, path


def default_settings(spec: Spec) -> list[str]:
    """The optimizer settings that came from defaults, for the parts the spec trains: one line per part
    (`wide: ftrl alpha=0.05 beta=1.0 l1=0.0 l2=0.0`) naming the optimizer and its defaulted settings."""
    lines = []
    for part, used in (("wide", spec.uses_wide()), ("deep", spec.uses_deep())):
        opt = getattr(spec.train, f"{part}_optimizer")
        given = opt.model_fields_set if f"{part}_optimizer" in spec.train.model_fields_set else set()
        defaulted = [f"{k}={getattr(opt, k)}" for k in type(opt).model_fields if k not in given and k != "name"]
        if used and defaulted:
            lines.append(f"{part}: {opt.name} {' '.join(defaulted)}")
    return lines


def compare_models(spec: Spec, reporter=None) -> list[dict]:
    """Train `wide`, `deep` and `wide_deep` on the same split; one row of figures each."""
    frames = load_splits(spec.data)
    rows = []
    for model in ("wide", "deep", "wide_deep"):
        result = train(spec.model_copy(update={"model": model}), frames, reporter)
        row = {"model": model, "parameters": result.config.param_counts()["total"], "seconds": result.seconds,
               "epochs": len(result.history)}
        for split, m in result.metrics.items():
            row.update({f"{split}_{k}": v for k, v in m.items() if k in ("auc", "logloss")})
        rows.append(row)
    return rows
