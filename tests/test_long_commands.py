"""Every long command says what it does as it goes, on a pipe as on a terminal: compare (each model's epochs),
tune (each trial as it starts, and its epochs), init and export (their steps)."""

from __future__ import annotations

import io

from rich.console import Console
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.cli.steps import Steps

runner = CliRunner()
FAST = ["--set", "train.epochs=2", "--set", "train.checkpoint.enabled=false"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_compare_shows_each_model_and_epoch_when_piped(apps_spec, workdir):
    r = invoke("compare", apps_spec, *FAST)
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("training ")]
    assert [lines[i] for i in starts] == [
        "training wide (1 of 5)",
        "training deep (2 of 5)",
        "training wide_deep (3 of 5)",
        "training wide_deep, interaction none (4 of 5)",  # the deep part's blocks the other way (issue 20)
        "training wide_deep, numeric_embedding periodic (5 of 5)",
    ]
    assert lines[starts[0] + 1].startswith("epoch 1/2") and lines[starts[0] - 1].startswith("reading ")
    assert "wide vs deep vs wide & deep" in r.stdout
    assert invoke("compare", apps_spec, *FAST, "-q").stderr.count("epoch") == 0


def test_tune_shows_each_trial_as_it_starts_and_its_epochs_when_piped(apps_spec, workdir):
    space = ["--space", "deep.dropout={uniform: [0, 0.5]}"]
    r = invoke("tune", apps_spec, "--trials", 2, *space, *FAST)
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"tune {apps_spec}: reading its training and validation rows")
    assert lines[1].startswith("trial   0  started (0 of 2 done)  dropout=")
    assert lines[2].startswith("trial   0  epoch 1/2  validation auc ") and lines[3].startswith("trial   0  epoch 2/2")
    assert any(line.startswith("trial   1  started (1 of 2 done)") for line in lines)


def test_steps_are_lines_when_piped_a_spinner_on_a_terminal_and_nothing_when_quiet():
    piped = Console(file=io.StringIO(), force_terminal=False, width=200)
    with Steps(piped) as step:
        step("sampling data.csv")
        step("ranking crosses")
        step("ranking crosses")  # (init ranks again for each draft it tries: a walk saw the line five times)
        step("sampling data.csv")
    assert piped.file.getvalue().splitlines() == ["sampling data.csv", "ranking crosses", "sampling data.csv"]
    terminal = Console(file=io.StringIO(), force_terminal=True, width=200)
    with Steps(terminal) as step:
        step("sampling data.csv")
        assert step.status is not None
    assert step.status is None
    quiet = Console(file=io.StringIO(), force_terminal=False)
    with Steps(quiet, quiet=True) as step:
        step("sampling data.csv")
    assert quiet.file.getvalue() == ""


def test_export_shows_its_steps_when_piped(apps_spec, workdir):
    assert invoke("train", apps_spec, "-q", *FAST).exit_code == 0
    r = invoke("export", "runs/apps", "--output", workdir / "onnx")
    assert r.exit_code == 0, r.output
    (run,) = [p.name for p in (workdir / "runs" / "apps").iterdir() if p.is_dir()]
    named = f"model: runs/apps/{run} (spec 'apps', the latest run in runs/apps)"  # (in place of "loading runs/apps")
    assert r.stderr.splitlines() == [named, "tracing the model into an ONNX graph"]
