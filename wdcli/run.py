"""What the training commands do, as library functions: check a spec against its data (`check`), train and
save a run (`run_training`), compare the wide, deep and joint models (`compare_models`). The CLI only parses
options and prints."""

from __future__ import annotations

from collections.abc import Callable
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
from .train.runtime import Processes, Runtime
from .train.warm import Previous


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
    processes: Processes | None = None,
    say: Callable[[str], None] | None = None,
) -> tuple[TrainResult, Path]:
    """Train a spec and save its artifact; returns the result and the artifact's folder.

    The recipe: the notes (`say`: the checkpoint it continues or replaces, the optimizer settings that came
    from defaults), the previous run to warm-start from (`warm_from`: a run folder, or a folder with a LATEST
    pointer; `wdcli.train.warm`), the trackers of `spec.train.log`, then in one runtime (started for
    `processes`, this process's place in a torchrun job; one process by default): train, save, close.
    Reading the data files itself (no `frames`), it writes checkpoints beside the runs, continues from one with
    `resume=True`, and deletes it once the artifact is saved. Only the first process of a job speaks, tracks
    and saves; the others return the folder the runs go to."""
    processes = processes or Processes()
    say = say if say is not None and processes.main else _silent
    place = checkpoint_path(spec, output)
    checkpoint = place if frames is None else None
    if checkpoint is not None:
        _say_checkpoint(say, checkpoint, resume)
    if lines := default_settings(spec):
        say("optimizer settings from defaults: " + "; ".join(lines))
    previous = load_previous(warm_from, spec) if warm_from is not None else None
    untracked = spec.model_copy(update={"train": spec.train.model_copy(update={"log": []})})
    tracking = Tracking.open(spec if processes.main else untracked)  # spec.train.log: MLflow, TensorBoard
    cfg = spec.train
    try:
        with Runtime.start(processes, cfg.threads, cfg.device, cfg.precision) as runtime:
            result = train(spec, frames, tracking.wrap(reporter), checkpoint, resume, previous, runtime)
            path = _save(result, output, checkpoint) if runtime.main else place.parent  # (the others: the folder)
    except BaseException as e:
        tracking.fail(e)
        raise
    tracking.finish(result.metrics, path)
    return result, path


def _silent(message: str) -> None:
    pass


def _say_checkpoint(say: Callable[[str], None], checkpoint: Path, resume: bool) -> None:
    if resume and not checkpoint.exists():
        say(f"no checkpoint at {checkpoint}: training from the start")
    elif resume:
        say(f"resuming from {checkpoint}")
    elif checkpoint.exists():
        say(f"note: {checkpoint} holds an interrupted run; it will be replaced (--resume continues it instead)")


def _save(result: TrainResult, output: str | Path | None, checkpoint: Path | None) -> Path:
    """Save the run's artifact (with its optimizers' state, for a later warm start); delete its checkpoint."""
    opt = optimizer_state(result.model, result.trainer.optimizers)
    path = save_artifact(result.spec, result.fitted, result.config, result.model, result.metrics, output, opt)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    return path


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


def compare_models(spec: Spec, reporter=None, say: Callable[[str], None] | None = None) -> list[dict]:
    """Train `wide`, `deep` and `wide_deep` on the same split; one row of figures each. `say` is told the
    optimizer settings that came from defaults."""
    if say is not None and (lines := default_settings(spec.model_copy(update={"model": "wide_deep"}))):
        say("optimizer settings from defaults: " + "; ".join(lines))
    frames = load_splits(spec.data)
    rows = []
    for model in ("wide", "deep", "wide_deep"):
        m = train(spec.model_copy(update={"model": model}), frames, reporter).metrics
        row = {"model": model, "parameters": m.parameters["total"], "seconds": m.seconds, "epochs": m.epochs}
        for split, figures in m.splits.items():
            row.update({f"{split}_{k}": v for k, v in figures.items() if k in ("auc", "logloss")})
        rows.append(row)
    return rows
