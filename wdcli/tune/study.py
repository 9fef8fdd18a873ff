"""A study: trials of a spec's settings on the training and validation rows, pruned by Optuna's median rule,
kept in SQLite so that the same command continues it, and the best trial written as a spec."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from ..data.atomic import atomic_file
from ..data.cache import Encodings
from ..data.split import load_splits
from ..errors import DataError, Interrupted, WdcliError, counted
from ..spec import Spec, load_spec
from ..spec.overrides import apply_overrides
from ..spec.types import Range
from ..spec.yaml_lines import compose
from ..train import train
from ..train.checkpoint import fingerprint
from ..train.checks import data_warnings
from .space import check_space, default_space, distributions, overrides_of, parse_space, spec_value


class TuneReporter(Protocol):
    """What `tune` tells a display: trials as they start and end, and each trial's epochs
    (`wdcli.train.loop.Reporter`)."""

    def start_trial(self, number: int, params: dict[str, Any], done: int, total: int) -> None: ...
    def end_trial(self, row: dict[str, Any], best: dict[str, Any] | None) -> None: ...
    def start_epoch(self, epoch: int, epochs: int, rows: int) -> None: ...
    def advance(self, rows: int, loss: float) -> None: ...
    def end_epoch(self, record: dict) -> None: ...


ALIKE = 3  # trials in a row failing with one error, none complete: the study stops (no values will help)


@dataclass
class TuneResult:
    metric: str
    maximize: bool
    study: Path  # the SQLite file
    best_spec: Path | None  # None when no trial completed
    rows: list[dict[str, Any]] = field(default_factory=list)  # every trial, best first
    ran: int = 0  # trials run by this call
    stopped: str | None = None  # why the study stopped before its total (trials that all failed alike)


def study_folder(spec: Spec, output: str | Path | None = None) -> Path:
    if output is not None:
        return Path(output)
    assert spec.name is not None  # load_spec names every spec (its file's stem)
    return Path(spec.train.output) / spec.name / "tune"


def tune(
    path: str | Path,
    overrides: list[str] | None = None,
    space: list[str] | None = None,
    trials: int | None = None,
    folder: str | Path | None = None,
    fresh: bool = False,
    reporter: TuneReporter | None = None,
    say: Callable[[str], None] | None = None,
) -> TuneResult:
    """Run the study of a spec up to `trials` finished trials (the spec's `tune.trials` by default), resuming
    the one in `folder` (default runs/<name>/tune) unless `fresh`; write the best trial's spec there. `say`
    hears what trains but is likely a mistake (a list separator found in no value), before any trial."""
    try:
        import optuna  # noqa: F401 (is the extra installed?)
    except ImportError:
        raise WdcliError("wdcli tune needs Optuna: pip install 'wdcli[tune]' (or pip install optuna)") from None

    path, overrides = Path(path), list(overrides or [])
    spec = load_spec(path, overrides)
    raw, lines, _ = compose(path.read_text(encoding="utf-8"), str(path))
    flags, problems = parse_space(list(space or []))
    searched = {**spec.tune.space, **flags} or default_space(spec)
    check_space(path, overrides, searched, lines, problems, set(flags))
    metric = spec.tune.metric or spec.train.early_stopping.metric
    maximize = metric != "logloss"
    total = trials or spec.tune.trials
    for warning in data_warnings(spec):  # (an error ends the study before its first trial: `wdcli validate`'s)
        if say is not None:
            say(f"warning: {warning}")
    frames = load_splits(spec.data)
    frames.pop("test", None)  # trials never see the test rows
    if len(frames.get("validation", ())) == 0:
        raise DataError(
            f"{path}: tuning needs validation rows; set data.split.validation (e.g. 0.1) or data.validation"
        )

    folder = study_folder(spec, folder)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "study.db"
    if fresh:
        db.unlink(missing_ok=True)
    study = _study(spec, db, maximize)
    _claim(study, db, _fingerprint(spec, searched, metric))
    dists = distributions(searched)
    # trials that change no feature neither fit nor encode again (train.data.cache: off, every trial does)
    reuse = Encodings() if spec.train.data.cache != "off" else None
    ran, stopped = 0, None
    failed: list[str | None] = []  # the last ALIKE errors of trials failing in a row, none complete
    while (done := _finished(study)) < total:
        trial = study.ask(dists)
        values = {k: spec_value(searched[k], trial.params[k]) for k in searched}
        if reporter:
            reporter.start_trial(trial.number, values, done, total)
        row = _run_trial(study, trial, path, overrides, values, (frames, reuse), metric, spec.tune.prune, reporter, db)
        ran += 1
        best_row = _best_row(study, searched)
        if reporter:
            reporter.end_trial(row, best_row)
        failed = [*failed, row.get("error")][-ALIKE:] if row["state"] == "failed" and not best_row else []
        if len(failed) == ALIKE and len(set(failed)) == 1:  # (a data or spec error no values change)
            stopped = f"{ALIKE} trials in a row failed alike and none has completed, so the study stopped: {failed[-1]}"
            break
    rows = _rows(study, searched)
    best = _write_best(study, searched, path, raw, lines, overrides, spec, folder, metric)
    return TuneResult(metric, maximize, db, best, rows, ran, stopped)


def _study(spec: Spec, db: Path, maximize: bool):
    """The study kept in `db` (made, or loaded to continue): TPE sampling, median pruning."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna.create_study(
        storage=f"sqlite:///{db}",
        study_name=spec.name,
        load_if_exists=True,
        direction="maximize" if maximize else "minimize",
        sampler=optuna.samplers.TPESampler(seed=spec.tune.seed, multivariate=True),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
        if spec.tune.prune
        else optuna.pruners.NopPruner(),
    )


def _fingerprint(spec: Spec, space: dict[str, Range], metric: str) -> str:
    what = [fingerprint(spec), {k: r.model_dump(mode="json") for k, r in sorted(space.items())}, metric]
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def _claim(study, db: Path, fp: str) -> None:
    """A new study takes the spec's fingerprint; a resumed one must match it. Trials left running by a killed
    session are marked failed."""
    from optuna.trial import TrialState

    have = study.user_attrs.get("fingerprint")
    if have is None:
        study.set_user_attr("fingerprint", fp)
        study.set_user_attr("created", time.strftime("%Y-%m-%d %H:%M:%S"))
    elif have != fp:
        n = len(study.trials)
        raise WdcliError(
            f"{db} holds a study of another spec, space or data ({counted(n, 'trial')}, "
            f"started {study.user_attrs.get('created', '?')}); run with --fresh to start a new one, "
            "or --study DIR to keep both"
        )
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.set_user_attr(f"stale.{t.number}", True)
        study.tell(t.number, state=TrialState.FAIL)


def _finished(study) -> int:
    """Trials that count towards the total: complete, pruned, or failed for a reason of their own."""
    from optuna.trial import TrialState

    stale = {k for k in study.user_attrs if k.startswith("stale.")}
    return sum(
        1
        for t in study.get_trials(deepcopy=False)
        if t.state != TrialState.RUNNING and f"stale.{t.number}" not in stale and not t.user_attrs.get("interrupted")
    )


class _Pruning:
    """Passes a trial's epochs on to the display and each epoch's validation metric to Optuna."""

    def __init__(self, trial, key: str, prune: bool, inner):
        self.trial, self.key, self.prune, self.inner = trial, key, prune, inner
        self.epochs = 0

    def start_epoch(self, epoch, epochs, rows):
        if self.inner:
            self.inner.start_epoch(epoch, epochs, rows)

    def advance(self, rows, loss):
        if self.inner:
            self.inner.advance(rows, loss)

    def end_epoch(self, record):
        import optuna

        if self.inner:
            self.inner.end_epoch(record)
        self.epochs = record.epoch
        value = record.figure("validation", self.key)
        if value is None or math.isnan(value):
            return
        self.trial.report(value, record.epoch)
        if self.prune and self.trial.should_prune():
            raise optuna.TrialPruned()


def _run_trial(study, trial, path, overrides, values, data, metric, prune, reporter, db) -> dict[str, Any]:
    """One trial: its spec trained on the frames (`data`: the frames and the encodings kept of them)."""
    import optuna
    from optuna.trial import TrialState

    t0 = time.perf_counter()
    row: dict[str, Any] = {"trial": trial.number, "params": values}
    pruning = _Pruning(trial, metric, prune, reporter)
    try:
        spec = load_spec(path, overrides + overrides_of(values))
        result = train(spec, data[0], pruning, reuse=data[1])
    except optuna.TrialPruned:
        study.tell(trial, state=TrialState.PRUNED)
        row.update(state="pruned", epochs=pruning.epochs)
    except (Interrupted, KeyboardInterrupt):
        trial.set_user_attr("interrupted", True)
        study.tell(trial, state=TrialState.FAIL)
        raise Interrupted(
            f"tuning interrupted in trial {trial.number}; the study is kept in {db}: run the "
            "same command again to continue",
            130,
        ) from None
    except WdcliError as e:  # a combination of values the spec or the data rejects
        trial.set_user_attr("error", str(e))
        study.tell(trial, state=TrialState.FAIL)
        row.update(state="failed", error=str(e))
    except Exception:
        study.tell(trial, state=TrialState.FAIL)
        raise
    else:
        m = result.metrics
        value = m.metric(metric, "validation")
        trial.set_user_attr("epochs", m.epochs)
        trial.set_user_attr("seconds", m.seconds)
        trial.set_user_attr("best_epoch", m.best_epoch)
        if math.isnan(value):
            trial.set_user_attr("error", f"validation {metric} is nan")
            study.tell(trial, state=TrialState.FAIL)
            row.update(state="failed", error=f"validation {metric} is nan")
        else:
            study.tell(trial, value)
            row.update(state="complete", value=value, epochs=m.epochs)
    row["seconds"] = time.perf_counter() - t0
    return row


def _rows(study, space: dict[str, Range]) -> list[dict[str, Any]]:
    """Every trial as a row, completed ones first (best first), then pruned and failed."""
    from optuna.trial import TrialState

    out = []
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.RUNNING:
            continue
        state = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}.get(t.state, "failed")
        epochs = t.user_attrs.get("epochs") or (max(t.intermediate_values) if t.intermediate_values else 0)
        out.append(
            {
                "trial": t.number,
                "state": state,
                "value": t.value,
                "epochs": epochs,
                "best_epoch": t.user_attrs.get("best_epoch"),
                "seconds": (t.datetime_complete - t.datetime_start).total_seconds()
                if t.datetime_complete and t.datetime_start
                else None,
                "params": {k: spec_value(space[k], v) for k, v in t.params.items() if k in space},
                "error": t.user_attrs.get("error"),
            }
        )
    sign = -1 if study.direction.name == "MAXIMIZE" else 1
    order = {"complete": 0, "pruned": 1, "failed": 2}
    out.sort(key=lambda r: (order[r["state"]], sign * r["value"] if r["value"] is not None else 0, r["trial"]))
    return out


def _best_row(study, space: dict[str, Range]) -> dict[str, Any] | None:
    rows = _rows(study, space)
    return rows[0] if rows and rows[0]["state"] == "complete" else None


def _write_best(
    study, space, path: Path, raw: Any, lines: dict, overrides: list[str], spec: Spec, folder: Path, metric: str
) -> Path | None:
    """The best trial's spec as YAML that `wdcli train` takes: the spec file's data with the command's
    overrides and the trial's values applied, data paths relative to the new file, no `tune` section."""
    best = _best_row(study, space)
    if best is None:
        return None
    data, problems = apply_overrides(raw, overrides + overrides_of(best["params"]), dict(lines))
    assert not problems, problems  # the same overrides validated when the trial ran
    data.pop("tune", None)
    data["name"] = spec.name
    here = Path.cwd().resolve()
    for split in ("train", "validation", "test"):
        value = getattr(spec.data, split)
        if value is not None:  # relative to the new file when under the working folder, else absolute
            rel = [os.path.relpath(p, folder.resolve()) if Path(p).is_relative_to(here) else p for p in value]
            data["data"][split] = rel[0] if len(rel) == 1 else rel
    value = best["value"]
    head = (
        f"# The best trial of `wdcli tune {path}` ({len(study.trials)} trials so far): trial {best['trial']}, "
        f"validation {metric} {value:.4f}.\n"
        f"# Train it, and see its test metrics, with: wdcli train {folder / 'best.yaml'}\n"
    )
    out = folder / "best.yaml"
    with atomic_file(out) as tmp:
        tmp.write_text(
            head + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120), encoding="utf-8"
        )
        load_spec(tmp)  # what we write, `wdcli train` must take
    return out
