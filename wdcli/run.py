"""What the training commands do, as library functions: check a spec against its data (`check`), train and
save a run (`run_training`), compare the wide, deep and joint models (`compare_models`). The CLI only parses
options and prints."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .artifact import load_artifact, read_optimizer_state, save_artifact
from .data.files import Files
from .data.split import load_splits, split_names
from .errors import ArtifactError
from .features import FittedPipeline, fit_pipeline, transform
from .model.optim import optimizer_state
from .model.plan import ModelConfig, build_config
from .spec import Spec
from .track import Tracking
from .train import TrainResult, train
from .train.checkpoint import checkpoint_path
from .train.warm import Previous, warm_start


@dataclass(frozen=True)
class Checked:
    """A spec that fitted on its training rows and encoded a sample of every other split."""

    spec: Spec
    rows: dict[str, int]  # split -> rows
    fitted: FittedPipeline
    config: ModelConfig


def check(spec: Spec) -> Checked:
    """Fit the pipeline on the training rows and encode the first 1,000 rows of every other split: every data
    problem `train` would meet in its first seconds, without training. The files are streamed: memory stays
    that of the fitted state and one chunk, whatever their size."""
    parts, names = Files.of(spec.data), split_names(spec.data)
    read = spec.train.data.read_batch_rows
    fitted = fit_pipeline(spec, lambda: parts["train"].frames(read), names["train"])
    rows = {"train": fitted.rows}
    for split in ("validation", "test"):
        if split in parts:
            rows[split] = 0
            for frame in parts[split].frames(read):
                if rows[split] < 1000 and len(frame):
                    transform(fitted, frame.head(1000 - rows[split]), names[split])
                rows[split] += len(frame)
    return Checked(spec, {k: n for k, n in rows.items() if k == "train" or n}, fitted, build_config(fitted))


def run_training(
    spec: Spec,
    output: str | Path | None = None,
    reporter=None,
    frames: dict | None = None,
    resume: bool = False,
    warm_from: str | Path | None = None,
) -> tuple[TrainResult, Path]:
    """Train a spec and save its artifact; returns the result and the artifact's folder.

    Reading the data files itself (no `frames`), it writes checkpoints beside the runs, continues from one
    with `resume=True`, and deletes it once the artifact is saved. `warm_from` (a run folder, or a folder with
    a LATEST pointer) starts from that run's weights and optimizer state (`wdcli.train.warm`). The trackers of
    `spec.train.log` get the parameters, each epoch's record, the final metrics and the artifact's folder (from
    the first process of a torchrun job only)."""
    checkpoint = checkpoint_path(spec, output) if frames is None else None
    warm, report = None, {}
    if warm_from is not None:
        previous = load_previous(warm_from, spec)
        warm = lambda trainer, fitted: report.update(  # noqa: E731
            warm_start(previous, trainer.model, trainer.optimizers, fitted)
        )
    first = int(os.environ.get("RANK", 0)) == 0
    tracking = Tracking.open(
        spec if first else spec.model_copy(update={"train": spec.train.model_copy(update={"log": []})})
    )  # spec.train.log: MLflow, TensorBoard (nothing is imported otherwise)
    try:
        result = train(spec, frames, tracking.wrap(reporter), checkpoint=checkpoint, resume=resume, warm=warm)
        metrics = {
            "splits": result.metrics,
            "history": result.history,
            "seconds": result.seconds,
            "parameters": result.config.param_counts(),
        }
        if report:
            result.warm_start = metrics["warm_start"] = report
        runtime = result.runtime
        path = checkpoint_path(spec, output).parent  # (the other processes of a torchrun job only learn the folder)
        if runtime is None or runtime.main:
            opt = (
                optimizer_state(result.trainer.model, result.trainer.optimizers) if result.trainer is not None else None
            )
            path = save_artifact(spec, result.fitted, result.config, result.model, metrics, output, opt)
            if checkpoint is not None:
                checkpoint.unlink(missing_ok=True)
    except BaseException as e:
        tracking.fail(e)
        raise
    if runtime is not None:
        runtime.barrier()
        runtime.close()
    tracking.finish(result.metrics, result.history, path)
    return result, path


def load_previous(model: str | Path, spec: Spec) -> Previous:
    """A previous run to warm-start from: it must predict the same label."""
    art = load_artifact(model)
    old, new = art.spec.label, spec.label
    if (old.column, old.positive) != (new.column, new.positive):
        raise ArtifactError(
            f"{art.path}: predicts '{old.column}'"
            + (f" = {old.positive!r}" if old.positive else "")
            + f", the spec predicts '{new.column}'"
            + (f" = {new.positive!r}" if new.positive else "")
            + "; a warm start needs the same label (train without --warm-start)"
        )
    return Previous(str(art.path), art.fitted, art.config, art.model, read_optimizer_state(art))


def default_settings(spec: Spec) -> list[str]:
    """The optimizer settings that came from defaults, for the parts the spec trains: one line per part
    (`wide: ftrl alpha=0.02 beta=1.0 l1=0.0 l2=0.0`) naming the optimizer and its defaulted settings."""
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
        row = {
            "model": model,
            "parameters": result.config.param_counts()["total"],
            "seconds": result.seconds,
            "epochs": len(result.history),
        }
        for split, m in result.metrics.items():
            row.update({f"{split}_{k}": v for k, v in m.items() if k in ("auc", "logloss")})
        rows.append(row)
    return rows
