"""Training: determinism, the artifact round trip, and a smoke run of every shipped spec."""

import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from wdcli.artifact import load_artifact
from wdcli.errors import ArtifactError
from wdcli.run import run_training
from wdcli.score import Scorer
from wdcli.spec import load_spec
from wdcli.train import train

from .conftest import SPECS

SHIPPED = sorted(SPECS.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_spec_smoke_trains(path, workdir):
    spec = load_spec(path, ["train.epochs=1", "train.max_rows=2000"])
    result, folder = run_training(spec)
    art = load_artifact(folder)
    for split, m in art.metrics.splits.items():
        assert np.isfinite(m["logloss"]), split
        assert 0.0 <= m["auc"] <= 1.0 or np.isnan(m["auc"])
    assert (workdir / "runs" / "LATEST").read_text().strip() == f"{spec.name}/{folder.name}"


def test_same_spec_data_seed_same_weights_and_scores():
    from wdcli.data.batch import Batch
    from wdcli.data.split import load_splits
    from wdcli.features import transform
    from wdcli.model.widedeep import probabilities

    spec = load_spec(SPECS / "tiny.yaml")
    a, b = train(spec), train(spec)
    for (k, v), (_, w) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(v, w), k
    test = load_splits(spec.data)["test"]
    sa = probabilities(a.model, Batch.of(transform(a.fitted, test)).chunks())
    sb = probabilities(b.model, Batch.of(transform(b.fitted, test)).chunks())
    assert np.array_equal(sa, sb)
    assert a.metrics.splits == b.metrics.splits


def test_model_parts_train_alone():
    for model in ("wide", "deep"):
        spec = load_spec(SPECS / "tiny.yaml", [f"model={model}"])
        r = train(spec)
        counts = r.config.param_counts()
        assert (counts["wide"] == 0) == (model == "deep") and (counts["mlp"] == 0) == (model == "wide")
        assert sum(p.numel() for p in r.model.parameters()) == counts["total"]


def test_reloaded_artifact_scores_exactly_as_in_memory(workdir):
    spec = load_spec(SPECS / "tiny.yaml")
    result, folder = run_training(spec)
    from wdcli.data.batch import Batch
    from wdcli.data.split import load_splits
    from wdcli.features import transform
    from wdcli.model.widedeep import probabilities

    test = load_splits(spec.data)["test"]
    in_memory = probabilities(result.model, Batch.of(transform(result.fitted, test)).chunks())
    reloaded = Scorer.load(folder).score(test)
    assert np.array_equal(in_memory, reloaded)


def test_wide_weights_start_at_zero():
    from wdcli.data.split import load_splits
    from wdcli.features import fit_pipeline
    from wdcli.model.plan import build_config
    from wdcli.model.widedeep import WideDeep

    spec = load_spec(SPECS / "tiny.yaml")
    fitted = fit_pipeline(spec, load_splits(spec.data)["train"])
    assert torch.count_nonzero(WideDeep(build_config(fitted)).wide.weight) == 0


def test_artifact_faults_are_reported(workdir):
    spec = load_spec(SPECS / "tiny.yaml", ["train.epochs=1"])
    _, folder = run_training(spec)
    (folder / "metrics.json").write_text((folder / "metrics.json").read_text() + " ")
    with pytest.raises(ArtifactError, match="metrics.json: checksum mismatch"):
        load_artifact(folder)
    _, folder = run_training(spec)
    (folder / "model.json").unlink()
    with pytest.raises(ArtifactError, match="missing file model.json"):
        load_artifact(folder)
    _, folder = run_training(spec)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="format version 99 is newer"):
        load_artifact(folder)
    with pytest.raises(ArtifactError, match="no such model folder; pass the folder `wdcli train` printed"):
        load_artifact(workdir / "nope")
    with pytest.raises(ArtifactError, match=f"no such model folder; did you mean {folder.parent / folder.name}"):
        load_artifact(folder.parent / (folder.name[:-1] + "x"))  # (a typo of the run's folder)


def test_a_crash_while_saving_keeps_the_previous_artifact(workdir, monkeypatch):
    """Killed part-way through writing, a run leaves the previous artifact whole and nothing that loads (an
    error or Ctrl-C also removes the half-written folder; what a kill leaves, `remove_stale` removes later)."""
    import wdcli.artifact as artifact

    spec = load_spec(SPECS / "tiny.yaml", ["train.epochs=1"])
    _, first = run_training(spec, output=workdir / "m")
    before = load_artifact(first).model.state_dict()
    real = artifact.write_run_files

    def crash_half_way(folder, *a, **k):
        real(folder, *a, **k)
        (folder / "manifest.json").unlink()  # as if killed before the manifest, the last file, was written
        with pytest.raises(ArtifactError, match="not a model folder"):
            load_artifact(folder)
        raise KeyboardInterrupt

    monkeypatch.setattr(artifact, "write_run_files", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        run_training(load_spec(SPECS / "tiny.yaml", ["train.epochs=2", "train.seed=5"]), output=workdir / "m")
    after = load_artifact(workdir / "m").model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not [p for p in workdir.iterdir() if p.name.startswith(".tmp-")]


def test_stale_temporary_files_of_dead_processes_are_removed(workdir):
    import subprocess

    from wdcli.data.atomic import remove_stale

    p = subprocess.Popen(["true"])  # a process id that has exited
    p.wait()
    (workdir / f".tmp-20260101-000000-{p.pid}").mkdir()
    (workdir / f".checkpoint.safetensors.tmp{p.pid}").write_text("x")
    (workdir / f".tmp-20260101-000001-{os.getpid()}").mkdir()  # this process: alive, kept
    remove_stale(workdir)
    assert sorted(x.name for x in workdir.iterdir()) == [f".tmp-20260101-000001-{os.getpid()}"]


@pytest.mark.parametrize(
    "metric, values",
    [("auc", [0.6, 0.7, 0.65, 0.69]), ("gauc", [0.6, 0.7, 0.65, 0.69]), ("logloss", [0.6, 0.5, 0.55, 0.51])],
)
def test_early_stopping_keeps_the_best_epochs_weights_and_stops_after_patience(metric, values):
    """AUC and gAUC are better higher, log loss lower; the weights kept are those of the best epoch, not the last."""
    from wdcli.train.trainer import EarlyStopping

    model = torch.nn.Linear(1, 1)
    stopper = EarlyStopping(metric, patience=1)
    marks = []
    for epoch, value in enumerate(values):
        with torch.no_grad():
            model.weight.fill_(epoch)
        marks.append(stopper.update(value, model))
        assert stopper.stop == (epoch == 3)  # two epochs in a row past the best: more than the patience of 1
    assert marks == [True, True, False, False] and stopper.best == values[1]
    assert stopper.best_state is not None and stopper.best_state["weight"].item() == 1.0


def test_early_stopping_on_gauc_keeps_the_epoch_of_the_best_validation_gauc(tmp_path):
    """`early_stopping.metric: gauc` (rows in groups): the epoch kept is the one whose validation gAUC is the
    highest of the run's, and the run's validation gAUC is that epoch's."""
    from wdcli.metrics import RunMetrics

    from .conftest import SIGNAL_SPEC, signal_frame

    signal_frame(2000, seed=5).write_csv(tmp_path / "rows.csv")
    (tmp_path / "s.yaml").write_text(SIGNAL_SPEC.format(path="rows.csv", validation=0.3, test=0.0))
    sets = ["train.epochs=4", "train.early_stopping.patience=9", "train.early_stopping.metric=gauc"]
    _, path = run_training(load_spec(tmp_path / "s.yaml", sets), output=tmp_path / "run")
    m = RunMetrics.from_json(json.loads((path / "metrics.json").read_text()))
    gaucs = [e.gauc for e in m.history]
    assert len(gaucs) == 4 and None not in gaucs and len(set(gaucs)) > 1
    assert m.best_epoch == 1 + gaucs.index(max(gaucs)) and m.metric("gauc", "validation") == max(gaucs)


@pytest.mark.parametrize(
    "data, message",
    [
        ("validation", "the validation rows have no column 'user' (label.group), so there is no gAUC to watch"),
        ("one_row_each", "no group of the validation rows holds both a positive and a negative row"),
    ],
)
def test_early_stopping_on_a_gauc_the_rows_cannot_give_is_an_error(tmp_path, data, message):
    """Validation rows without the group column ended in an internal KeyError; a validation split of one row per
    user (each user's latest) gave gAUC NaN every epoch and stopped silently after the patience, keeping the last
    weights. Both now say why, and nothing is written."""
    from typer.testing import CliRunner

    from wdcli.cli import app

    from .conftest import signal_frame

    frame = signal_frame(2000, seed=5).with_columns(t=pl.int_range(pl.len()) % 20)
    if data == "validation":
        frame.head(1600).write_csv(tmp_path / "rows.csv")
        frame.tail(400).drop("user").write_csv(tmp_path / "val.csv")
        section = "{train: rows.csv, validation: val.csv, split: {test: 0.0}}"
    else:
        frame.write_csv(tmp_path / "rows.csv")
        section = "{train: rows.csv, split: {validation: 0.05, test: 0.0, time: t, per: user}}"
    spec = tmp_path / "s.yaml"
    spec.write_text(
        f"data: {section}\nlabel: {{column: y, group: user}}\n"
        "columns: {item: categorical, user_kind: categorical, x: numeric}\n"
        "train: {epochs: 3, early_stopping: {metric: gauc}}\n"
    )
    r = CliRunner().invoke(app, ["train", str(spec), "-q", "--output", str(tmp_path / "run")])
    assert r.exit_code == 2 and message in " ".join(r.output.split()), r.output
    assert not (tmp_path / "run").exists()


def test_the_weights_kept_are_the_best_epochs_not_the_last(tmp_path, monkeypatch):
    """With only the first epoch counted as an improvement, the run ends with the first epoch's weights: its
    validation figures are that epoch's, to the last bit, not the last epoch's."""
    from wdcli.metrics import RunMetrics
    from wdcli.train.trainer import EarlyStopping

    from .conftest import SIGNAL_SPEC, signal_frame

    signal_frame(1000, seed=4).write_csv(tmp_path / "rows.csv")
    (tmp_path / "s.yaml").write_text(SIGNAL_SPEC.format(path="rows.csv", validation=0.3, test=0.0))
    monkeypatch.setattr(EarlyStopping, "_better", lambda self, value: self.best is None)
    spec = load_spec(tmp_path / "s.yaml", ["train.epochs=3", "train.early_stopping.patience=9"])
    _, path = run_training(spec, output=tmp_path / "run")
    m = RunMetrics.from_json(json.loads((path / "metrics.json").read_text()))
    first, last = m.history[0], m.history[-1]
    assert m.best_epoch == 1 and m.epochs == 3 and first.auc != last.auc
    assert m.metric("auc", "validation") == first.auc and m.metric("logloss", "validation") == first.logloss


def test_the_loop_steps_the_schedule_by_each_epochs_batches_and_tells_it_each_epochs_improvement(tmp_path, monkeypatch):
    """250 training rows in batches of 100 are 3 steps an epoch (the last batch part-full), so a cosine over 2
    epochs takes its last step at 5/6 of the way, not at its floor; and the plateau schedule (patience 0) halves
    the step size after each epoch that is not the best: with only the first counted as the best, twice in 3."""
    import math

    from wdcli.train.schedule import ScheduleState
    from wdcli.train.trainer import EarlyStopping

    from .conftest import SIGNAL_SPEC, signal_frame

    frame = signal_frame(500, seed=4)
    frame.write_csv(tmp_path / "rows.csv")
    (tmp_path / "s.yaml").write_text(SIGNAL_SPEC.format(path="rows.csv", validation=0.0, test=0.0))
    frames = {"train": frame.head(250), "validation": frame.tail(250)}
    cosine = ["train.epochs=2", "train.schedule={kind: cosine, min_factor: 0.1}"]
    s = train(load_spec(tmp_path / "s.yaml", cosine), frames).trainer.schedule
    assert s is not None and s.state.steps == 6
    last = 0.1 + 0.9 * (1 + math.cos(math.pi * 5 / 6)) / 2
    assert [g[key] / base for (g, key), base in zip(s.groups, s.base)] == pytest.approx([last] * len(s.groups))
    monkeypatch.setattr(EarlyStopping, "_better", lambda self, value: self.best is None)
    plateau = ["train.epochs=3", "train.early_stopping.patience=9", "train.schedule={kind: plateau, patience: 0}"]
    s = train(load_spec(tmp_path / "s.yaml", plateau), frames).trainer.schedule
    assert s is not None and s.state == ScheduleState(steps=9, plateau=0.25, waited=0)


def test_batch_size_auto_is_256_a_step_where_512_would_make_under_64_steps_an_epoch():
    """A walk's 11,000 COVID tests at 512 a step: 21 steps an epoch, and the validation AUC's noise stopped the run
    before it had learnt (test AUC 0.711; at 256, 20 epochs and patience 3: 0.821, LightGBM 0.812)."""
    from wdcli.spec.settings import SMALL_DATA, Train, batch_rows

    t = Train()
    assert t.batch_size == "auto" and t.epochs == 20 and t.early_stopping.patience == 3
    assert SMALL_DATA == 64 * 512
    assert batch_rows(t, SMALL_DATA - 1) == 256 and batch_rows(t, SMALL_DATA) == 512
    assert batch_rows(Train(batch_size=1024), 10) == 1024


@pytest.mark.parametrize("held", [True, False])
def test_train_says_when_a_held_out_log_loss_is_above_the_training_rate_s(capsys, held):
    """A walk's COVID draft, kept by its validation AUC: test log loss 0.2204 against 0.2098 for the training
    rows' rate, and nothing said. Without validation rows (early stopping read the training rows) the advice is
    to hold some out, not to stop on a log loss of rows it trained on."""
    from types import SimpleNamespace

    from wdcli.cli.train_commands import show_trained
    from wdcli.spec import load_spec

    from .conftest import SPECS

    row = {"rows": 100, "auc": 0.8, "accuracy": 0.9, "mean_score": 0.06}
    splits = {
        "train": {**row, "base_rate": 0.0572, "logloss": 0.058},
        "test": {**row, "base_rate": 0.054, "logloss": 0.2204},
    }
    if held:
        splits["validation"] = {**row, "base_rate": 0.0604, "logloss": 0.1989}
    m = SimpleNamespace(splits=splits, warm_start=None, epochs=3, seconds=1.0, history=[])
    show_trained(load_spec(SPECS / "tiny.yaml"), m, Path("runs/x"), json_=True)
    said = " ".join(capsys.readouterr().err.split())
    assert "warning: the test rows' log loss 0.2204 is above 0.2102" in said and "validation rows'" not in said
    advice = "stop on log loss" if held else "hold out validation rows (data.split.validation)"
    assert advice in said


def test_batch_size_auto_reaches_the_batches_and_the_schedule_s_steps(monkeypatch):
    """Not only batch_rows: the training rows' batches are of 256 rows and an epoch's steps, which the schedule
    counts, are the training rows over 256 (a review found every call could resolve 512 and no test fail)."""
    import wdcli.train.loop as loop
    import wdcli.train.sources as sources
    from wdcli.run import train
    from wdcli.spec import load_spec

    from .conftest import SPECS

    sizes, steps = [], []
    real_memory, real_schedule = sources.InMemory, loop.Schedule
    monkeypatch.setattr(
        sources, "InMemory", lambda data, size, *a, **k: sizes.append(size) or real_memory(data, size, *a, **k)
    )
    monkeypatch.setattr(
        loop, "Schedule", lambda cfg, opts, n, epochs: steps.append(n) or real_schedule(cfg, opts, n, epochs)
    )
    frame = pl.read_csv(SPECS / "data" / "tiny.csv", infer_schema=False)
    frame = pl.concat([frame] * (3_000 // len(frame) + 1)).head(3_000)
    spec = load_spec(SPECS / "tiny.yaml", ["train.batch_size=auto", "train.epochs=1"])
    r = train(spec, {"train": frame.head(2_000), "validation": frame.tail(1_000)})
    assert set(sizes) == {256} and steps == [-(-r.fitted.rows // 256)] and r.fitted.rows == 2_000
