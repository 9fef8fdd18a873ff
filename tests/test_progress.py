"""Training progress as the console shows it: a live bar on a terminal; one whole line per epoch, marked when
it is the best so far, on a pipe or file; nothing when quiet; and stages as lines of their own."""

from __future__ import annotations

import io

from rich.console import Console

from wdcli.cli.progress import TrainingDisplay
from wdcli.metrics import EpochRecord

RECORDS = [
    EpochRecord(1, 0.69, 0.5, 1200.0, "validation", auc=0.71, logloss=0.6, best=True),
    EpochRecord(2, 0.61, 0.4, 1500.0, "validation", auc=0.69, logloss=0.62),
]


def run(console: Console, quiet: bool = False) -> None:
    with TrainingDisplay(console, quiet) as p:
        p.stage("reading data.csv")
        advance = p.task("fitting the pipeline", 1000)  # as wdcli.train.sources reports the steps around epochs
        advance(600)
        advance(500)  # a total is an estimate: the line says what was done
        for record in RECORDS:
            p.start_epoch(record.epoch, 2, 1000)
            p.advance(600, 0.7)
            p.advance(400, 0.6)
            p.end_epoch(record)
        p.stage("final evaluation")


def test_piped_progress_is_one_whole_line_per_epoch():
    text = io.StringIO()
    run(Console(file=text, width=40))  # not a terminal; narrow, yet nothing is cut
    lines = text.getvalue().splitlines()
    assert lines[1].startswith("fitting the pipeline: 1,100 rows in ") and lines[1].endswith("s")
    assert lines[:1] + lines[2:] == [
        "reading data.csv",
        "epoch 1/2  loss 0.6900  validation auc 0.7100 logloss 0.6000  0.5s  1,200 rows/s  (best so far)",
        "epoch 2/2  loss 0.6100  validation auc 0.6900 logloss 0.6200  0.4s  1,500 rows/s",
        "final evaluation",
    ]


def test_quiet_progress_prints_nothing():
    text = io.StringIO()
    run(Console(file=text), quiet=True)
    assert text.getvalue() == ""


def test_a_terminal_gets_the_live_bar():
    text = io.StringIO()
    run(Console(file=text, force_terminal=True, width=160))
    out = text.getvalue()
    assert "epoch 2/2" in out and "rows/s" in out and "validation auc 0.7100" in out and "final evaluation" in out
