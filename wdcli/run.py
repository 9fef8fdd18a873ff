"""What the training commands do, as library functions: check a spec against its data (`check`), train and
save a run (`run_training`), compare the wide, deep and joint models (`compare_models`). The CLI only parses
options and prints."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .artifact import load_artifact, load_optimizer_state, save_artifact
from .data.files import Files
from .data.io import LIKELY, scan_one
from .data.split import load_splits, split_names
from .data.split_record import record_split
from .errors import ArtifactError, DataError
from .features import FittedPipeline, fit_pipeline, transform
from .model.plan import ModelConfig, build_config
from .spec import Spec
from .spec.types import Multivalent
from .track import Tracking
from .train import TrainResult, train
from .train.checkpoint import checkpoint_path
from .train.warm import Previous, optimizer_state, warm_start


@dataclass(frozen=True)
class Checked:
    """A spec that fitted on its training rows and encoded a sample of every other split."""

    spec: Spec
    rows: dict[str, int]  # split -> rows
    fitted: FittedPipeline
    config: ModelConfig
    warnings: tuple[str, ...] = ()  # what may be a mistake, though it trains


SAMPLED = 1_000  # first rows of the training files whose values `check` looks at beyond what fitting checks
SEPARATED = 0.2  # share of sampled values that must hold another separator for it to be named as the likely one


def check(spec: Spec) -> Checked:
    """Fit the pipeline on the training rows (which checks the label, weight and group columns too) and encode
    the first 1,000 rows of every other split: every data problem `train` would meet in its first seconds,
    without training; and what trains but is likely a mistake (a list separator found in no value). The files
    are streamed: memory stays that of the fitted state and one chunk, whatever their size."""
    parts, names = Files.of(spec.data), split_names(spec.data)
    head = scan_one(parts["train"].paths[0], spec.data.csv.separator).head(SAMPLED).collect()
    warnings = _separator_problems(spec, head, parts["train"].paths[0])
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
    rows = {k: n for k, n in rows.items() if k == "train" or n}
    return Checked(spec, rows, fitted, build_config(fitted), tuple(warnings))


def _separator_problems(spec: Spec, head: pl.DataFrame, where: str) -> list[str]:
    """A multivalent column's separator that occurs in none of the sampled values: an error when another
    separator is in many of them (`separator: ","` on 'Comedy|Drama'), else a warning (each row holds one
    value: a categorical column?), returned."""
    errors, warnings = [], []
    for name, col in spec.columns.items():
        if not isinstance(col, Multivalent) or col.separator is None or head.schema.get(name) != pl.String:
            continue  # (not text to split: fitting says what is wrong with it)
        text = head[name].cast(pl.String).str.strip_chars().drop_nulls()
        values = text.filter((text != "") & ~text.is_in(col.missing))
        if len(values) < 20 or values.str.contains(col.separator, literal=True).any():
            continue
        shares = {c: values.str.contains(c, literal=True).mean() or 0.0 for c in LIKELY if c != col.separator}
        likely = max(shares, key=lambda c: shares[c])
        what = (
            f"columns.{name}.separator {col.separator!r} occurs in none of the first {len(values):,} values of "
            f"'{name}' in {where}"
        )
        if shares[likely] >= SEPARATED:
            example = values.filter(values.str.contains(likely, literal=True))[0]
            errors.append(f"{what} (such as {example!r}); they look separated by {likely!r}: set separator: {likely!r}")
        else:
            warnings.append(f"{what}: each row holds one value; if that is so, declare it kind: categorical")
    if errors:
        raise DataError("; ".join(errors))
    return warnings


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
    split = record_split(spec.data, spec.train.max_rows) if frames is None and first else None  # (the files as read)
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
            path = save_artifact(spec, result.fitted, result.config, result.model, metrics, output, opt, split)
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
    return Previous(str(art.path), art.fitted, art.config, art.model, load_optimizer_state(art))


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
    """Train `wide`, `deep` and `wide_deep` on the same split; one row of figures each. A reporter with `stage`
    (a line of its own) hears each model start."""
    stage = getattr(reporter, "stage", None) or (lambda message: None)
    stage(f"reading {', '.join(dict.fromkeys(n.split(' (')[0] for n in split_names(spec.data).values()))}")
    frames = load_splits(spec.data)
    rows = []
    for i, model in enumerate(("wide", "deep", "wide_deep")):
        stage(f"training {model} ({i + 1} of 3)")
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
