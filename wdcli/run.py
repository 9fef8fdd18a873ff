"""What the training commands do, as library functions: check a spec against its data (`check`), train and
save a run (`run_training`), compare the wide, deep and joint models (`compare_models`). The CLI only parses
options and prints."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from .artifact import load_artifact, load_split, read_optimizer_state, save_artifact
from .data.cache import Encodings
from .data.files import Files
from .data.split import load_splits, split_names
from .data.split_change import split_change
from .data.split_record import SplitRecord, record_split
from .data.time_split import times
from .draft import Draft
from .draft.blocks import ALL_OFF, CANDIDATES, Tried, overrides
from .errors import ArtifactError, SpecError
from .features import FittedPipeline, fit_pipeline, hashing, transform
from .metrics import DEFAULT_K
from .model.optim import optimizer_state
from .model.plan import ModelConfig, build_config, numeric_forms
from .spec import Spec, load_spec
from .spec.blocks import Interaction
from .track import Tracking
from .train import TrainResult, train
from .train.checkpoint import checkpoint_path
from .train.checks import data_warnings
from .train.runtime import Processes, Runtime
from .train.warm import Previous


@dataclass(frozen=True)
class Checked:
    """A spec that fitted on its training rows and encoded a sample of every other split."""

    spec: Spec
    rows: dict[str, int]  # split -> rows
    fitted: FittedPipeline
    config: ModelConfig
    warnings: tuple[str, ...] = ()  # what may be a mistake, though it trains


DEFAULTS_NOTE = "optimizer settings from defaults: "  # (a note `-q` leaves out: `wdcli.cli`)


def check(spec: Spec) -> Checked:
    """Fit the pipeline on the training rows (which checks the label, weight and group columns too) and encode
    the first 1,000 rows of every other split: every data problem `train` would meet in its first seconds,
    without training; and what trains but is likely a mistake (a list separator found in no value). The files
    are streamed: memory stays that of the fitted state and one chunk, whatever their size."""
    parts, names = Files.of(spec.data), split_names(spec.data)
    warnings = data_warnings(spec)
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
    config = build_config(fitted)
    if note := config.dot_cost():
        warnings.append(note)
    return Checked(spec, rows, fitted, config, tuple(warnings))


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
    from defaults, a list separator found in no value: `check_separators`, whose errors stop it first), the previous run to warm-start from (`warm_from`: a run folder, or a folder with a LATEST
    pointer; `wdcli.train.warm`), the trackers of `spec.train.log` (where each logs: a line to the reporter's
    `stage`, if it has one), then in one runtime (started for
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
        say(DEFAULTS_NOTE + "; ".join(lines))
    for warning in data_warnings(spec) if frames is None else []:  # (before the fit, as `check`)
        say(f"warning: {warning}")
    cfg = spec.train
    split = record_split(spec.data, cfg.max_rows) if frames is None and processes.main else None  # (files as read)
    previous = load_previous(warm_from, spec, split) if warm_from is not None else None
    untracked = spec.model_copy(update={"train": spec.train.model_copy(update={"log": []})})
    tracking = Tracking.open(spec if processes.main else untracked)  # spec.train.log: MLflow, TensorBoard
    for line in tracking.where:  # (a line of the display: --quiet drops it)
        (getattr(reporter, "stage", None) or _silent)(line)
    try:
        with Runtime.start(processes, cfg.threads, cfg.device, cfg.precision) as runtime:
            result = train(spec, frames, tracking.wrap(reporter), checkpoint, resume, previous, runtime)
            path = _save(result, output, checkpoint, split) if runtime.main else place.parent  # (others: the folder)
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


def _save(result: TrainResult, output: str | Path | None, checkpoint: Path | None, split: SplitRecord | None) -> Path:
    """Save the run's artifact (with its optimizers' state, for a later warm start, and how it split its files'
    rows); delete its checkpoint."""
    opt = optimizer_state(result.model, result.trainer.optimizers)
    path = save_artifact(result.spec, result.fitted, result.config, result.model, result.metrics, output, opt, split)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    return path


def load_previous(model: str | Path, spec: Spec, split: SplitRecord | None = None) -> Previous:
    """A previous run to warm-start from: it must predict the same label. `split`: how the new run splits its
    files (None: unknown), to say how it splits them unlike the previous run (`data.split_change`)."""
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
    moved = split_change(art.spec.data, load_split(art), spec.data, split)
    return Previous(str(art.path), art.fitted, art.config, art.model, read_optimizer_state(art), moved)


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


def compared(spec: Spec, fitted: FittedPipeline | None = None) -> list[tuple[str, Spec]]:
    """What `compare` trains: `wide`, `deep` and `wide_deep` as the spec has them (the paper's Table 1), then
    `wide_deep` with the deep part's blocks switched the other way: its interaction (none <-> dot; not where
    the deep part has one field, whose dot products are none) and, with numeric columns in the deep part, their
    embedding (none -> periodic, others -> none; `auto` -> periodic where the fit found no auto column to embed
    (no spike, no uneven effect), as auto is none there; the spec's dim, sigma and the like are kept). The fit (`fitted`, once known)
    says how many numbers auto embeds: fields for the dot products too."""
    out = [(m, spec.model_copy(update={"model": m})) for m in ("wide", "deep", "wide_deep")]
    joint = out[-1][1]
    embeds = _auto_embeds(fitted, spec)
    numbers = None if fitted is None else sum(e.embedded for e in numeric_forms(spec, fitted).values())
    other = "dot" if spec.deep.interaction.kind == "none" else "none"
    flipped = joint.model_copy(update={"deep": spec.deep.model_copy(update={"interaction": Interaction(kind=other)})})
    if flipped.interaction_kind(numbers) != spec.interaction_kind(numbers):  # (not where both are built alike)
        out.append((f"wide_deep, interaction {other}", flipped))
    if spec.deep_dense():
        kind = spec.deep.numeric_embedding.kind
        other = "periodic" if kind == "none" or (kind == "auto" and not embeds) else "none"
        deep = spec.deep.model_copy(
            update={
                "numeric_embedding": spec.deep.numeric_embedding.model_copy(update={"kind": other}),
                "numeric_embeddings": {},
            }
        )
        out.append((f"wide_deep, numeric_embedding {other}", joint.model_copy(update={"deep": deep})))
    return out


# a split's figures `compare` shows (with groups: the last two)
COMPARED = ("auc", "logloss", "gauc", f"ndcg@{DEFAULT_K}")


def compare_models(spec: Spec, reporter=None, say: Callable[[str], None] | None = None) -> list[dict]:
    """Train the models `compared` names on the same split; one row of figures each. `say` is told the
    optimizer settings that came from defaults and `check_separators`' warnings (its errors stop it first); a reporter with `stage` (a line of its own) hears the data
    read and each model start."""
    if say is not None and (lines := default_settings(spec.model_copy(update={"model": "wide_deep"}))):
        say(DEFAULTS_NOTE + "; ".join(lines))
    for warning in data_warnings(spec):  # (before the fit, as `check`)
        if say is not None:
            say(f"warning: {warning}")
    stage = getattr(reporter, "stage", None) or _silent
    stage(f"reading {', '.join(dict.fromkeys(n.split(' (')[0] for n in split_names(spec.data).values()))}")
    frames = load_splits(spec.data)
    # the models read the same features: fitted and encoded once (unless train.data.cache: off; a variant with
    # piecewise bins fits its own)
    reuse = Encodings() if spec.train.data.cache != "off" else None
    rows = []
    variants = compared(spec)
    i = 0
    while i < len(variants):  # (the list may grow once the first fit is known)
        model, variant = variants[i]
        stage(f"training {model} ({i + 1} of {len(variants)})")
        r = train(variant, frames, reporter, reuse=reuse)
        if i == 0:  # (the fit says whether auto embeds a number: auto's other way)
            variants = compared(spec, r.fitted)
        m = r.metrics
        row = {"model": model, "parameters": m.parameters["total"], "seconds": m.seconds, "epochs": m.epochs}
        for split, figures in m.splits.items():
            row.update({f"{split}_{k}": v for k, v in figures.items() if k in COMPARED})
        rows.append(row)
        i += 1
    return rows


TRIAL_EPOCHS = 6  # the short trainings `try_blocks` compares (early stopping on held-out log loss, patience 1)
TRIAL_ROWS = 40_000  # at most this many sample rows train them, a quarter as many are held out


def try_blocks(draft: Draft, output: Path, step: Callable[[str], None] = _silent) -> dict[str, Tried]:
    """`wdcli init`'s trials: the draft trained on its sample as it is, and with each of the deep part's blocks
    (`wdcli.draft.blocks.CANDIDATES`) switched on, scored on held-out sample rows (`_held_out_rows`)."""
    frames = _trial_frames(draft)
    numeric = any(c.kind == "numeric" for c in draft.columns)
    reuse = Encodings()  # the trials that leave the features alone (dot) fit and encode the sample once
    with _trial_spec(draft, output) as spec:
        try:
            load_spec(spec)
        except SpecError:  # a draft that does not validate: write_draft reports it (a bug in init), with no trials
            return {}

        fits: list[FittedPipeline] = []

        def held_out(sets: list[str]) -> tuple[float, ...]:
            r = train(load_spec(spec, [*TRIAL_BASE, *sets]), frames, reuse=reuse)
            fits.append(r.fitted)
            return _held_out_figures(r)

        step(f"training the draft on {len(frames['train']):,} sample rows ({TRIAL_EPOCHS} epochs at most)")
        first, tried = held_out([]), {}
        embeds = _auto_embeds(fits[0], load_spec(spec, [*TRIAL_BASE, *overrides("numeric_embedding", "auto")]))
        for block, forms in CANDIDATES.items():
            if block == "numeric_embedding" and not numeric:
                continue
            found = []
            for form in forms:  # (auto that embeds no number: the numbers read standardized, as the defaults do)
                step(f"trying {block}: {form} on the sample")
                scale, plain = draft.trained / len(frames["train"]), form == "auto" and not embeds
                found.append(Tried(block, form, first, held_out(overrides(block, form)), scale, plain=plain))
            best = min(found, key=lambda t: (not t.kept, t.with_it[0]))  # (a form kept, of the lowest loss)
            tried[block] = replace(best, others=tuple((t.value, t.with_it[0]) for t in found if t is not best))
        return tried


def try_draft(draft: Draft, output: Path) -> tuple[float, ...] | None:
    """A draft trained as `try_blocks` trains it on its sample, its numbers read as `numeric_embedding: auto`
    reads them (a number with a spike embedded: its best as a number), no dot products: its held-out (log loss,
    AUC[, gAUC]), or None where it does not validate (`wdcli init` compares drafts so: draft.codes)."""
    with _trial_spec(draft, output) as spec:
        try:
            trial = load_spec(spec, [*TRIAL_BASE, *overrides("numeric_embedding", "auto")])
        except SpecError:
            return None
        return _held_out_figures(train(trial, _trial_frames(draft)))


TRIAL_BASE = [f"train.epochs={TRIAL_EPOCHS}", "train.early_stopping={metric: logloss, patience: 1}", *ALL_OFF]


def _held_out_figures(r: TrainResult) -> tuple[float, ...]:
    m = r.metrics.splits["validation"]
    return (float(m["logloss"]), float(m["auc"])) + ((float(m["gauc"]),) if "gauc" in m else ())


def _trial_frames(draft: Draft) -> dict[str, pl.DataFrame]:
    frames = _held_out_rows(draft)
    return {k: _at_most(f, TRIAL_ROWS if k == "train" else TRIAL_ROWS // 4) for k, f in frames.items()}


@contextmanager
def _trial_spec(draft: Draft, output: Path) -> Iterator[Path]:
    """The draft's text as a temporary spec beside `output` (its data paths are relative to it)."""
    spec = output.resolve().parent / f".{output.name}.trial{os.getpid()}.yaml"
    main = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGTERM, _exit_on_signal) if main else None  # (so that `finally` runs)
    try:
        spec.parent.mkdir(parents=True, exist_ok=True)  # (-o into a folder not made yet, as the tutorial's drafted/)
        spec.write_text(draft.text, encoding="utf-8")
        yield spec
    finally:
        spec.unlink(missing_ok=True)
        if main:
            signal.signal(signal.SIGTERM, before)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _auto_embeds(fitted: FittedPipeline | None, spec: Spec) -> bool:
    """Whether `numeric_embedding: auto` embeds a number of the deep part (the fit found a spike or an uneven
    effect in it; `fitted` None: not known, so taken as yes)."""
    if fitted is None:
        return True
    forms = numeric_forms(spec, fitted)
    return any(e.embedded and spec.deep.numeric_embedding_of(n).kind == "auto" for n, e in forms.items())


def _at_most(frame: pl.DataFrame, rows: int) -> pl.DataFrame:
    return frame if len(frame) <= rows else frame.sample(rows, seed=0)


def _held_out_rows(draft: Draft, share: float = 0.2) -> dict[str, pl.DataFrame]:
    """The sample as training and held-out rows, held out as the draft splits: its latest rows (each group's,
    with a split per group) by time, a share of its groups, or a seeded share of its rows."""
    sample = draft.sample
    assert sample is not None, "a draft keeps its sample"
    n = len(sample)
    if draft.time is not None:
        order = sample.with_columns(_t=times(sample, draft.time, "the sample")[0], _i=pl.int_range(n))
        by = [draft.group, "_t", "_i"] if draft.per and draft.group else ["_t", "_i"]
        order = order.sort(by)
        at = pl.int_range(pl.len()).over(draft.group) if draft.per and draft.group else pl.int_range(pl.len())
        size = pl.len().over(draft.group) if draft.per and draft.group else pl.len()
        held = order.select(at >= (size * (1 - share)).ceil()).to_series()
        order = order.drop("_t", "_i")
        return {"train": order.filter(~held), "validation": order.filter(held)}
    if draft.group is not None:
        u = hashing.hash_strings(sample[draft.group].cast(pl.String)) % 1000
        held = pl.Series(u < int(1000 * share))
    else:
        held = pl.Series(np.random.default_rng(0).random(n) < share)
    return {"train": sample.filter(~held), "validation": sample.filter(held)}
