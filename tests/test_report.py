"""`wdcli report` (one self-contained HTML page, checked in a real headless browser when there is one) and
`wdcli runs` / `wdcli runs diff`."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wdcli.cli import app

from .conftest import apps_frame

runner = CliRunner()
SECTIONS = ["metrics", "curves", "calibration", "scores", "learning", "wide", "groups"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def trained(apps_spec, workdir):
    r = invoke("train", apps_spec, "--set", "train.epochs=2", "-q")
    assert r.exit_code == 0, r.output
    return next(p for p in (workdir / "runs" / "apps").iterdir() if p.is_dir())


def test_report_is_one_self_contained_page_with_every_section(trained, workdir):
    pytest.importorskip("matplotlib")
    r = invoke("report", "-o", workdir / "out" / "report.html", "--png", workdir / "png")
    assert r.exit_code == 0, r.output
    assert "test split" in r.stdout
    page = (workdir / "out" / "report.html").read_text()
    for s in SECTIONS:
        assert f'<section id="{s}">' in page
    assert page.count("<svg") == 7  # ROC+PR, calibration, scores, learning, crosses, single values, groups
    assert "<script" not in page and not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "the run&#x27;s test split" in page and "gAUC" in page and "installed=" in page
    ranked = invoke("rank", "--split", "test", "--json", "-q", "--output", workdir / "ranked.csv")
    ndcg = json.loads([line for line in ranked.stdout.splitlines() if line.startswith("{")][-1])["ndcg@10"]
    assert f"NDCG@10 {ndcg:.4f}" in page  # the figure `wdcli rank` prints for the same rows
    from wdcli.artifact import load_artifact

    wide = load_artifact(trained).spec.train.wide_optimizer  # (the note credits FTRL's L1 only when it has one)
    assert ("L1 keeps the rest at zero" in page) is (wide.name == "ftrl" and wide.l1 > 0)
    pngs = sorted(p.name for p in (workdir / "png").iterdir())
    assert pngs == sorted(
        [
            "curves.png",
            "calibration.png",
            "scores.png",
            "learning.png",
            "wide_cross.png",
            "wide_single.png",
            "groups.png",
        ]
    )
    assert all((workdir / "png" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_report_of_a_file_and_of_a_run_named_by_id(trained, workdir):
    pytest.importorskip("matplotlib")
    labelled = workdir / "labelled.csv"
    apps_frame(300, seed=5).write_csv(labelled)
    r = invoke("report", trained.name, "--input", labelled)
    assert r.exit_code == 0, r.output
    page = (trained / "report.html").read_text()
    assert "labelled.csv (--input, 300 rows)" in page
    r = invoke("report", "nope")
    assert r.exit_code == 2 and "no run 'nope'" in r.stderr


def console_and_dom(page: Path) -> tuple[list[str], str]:
    """The console messages a page logs in headless Chromium, and its DOM after loading."""
    p = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return [line for line in p.stderr.splitlines() if "CONSOLE" in line], p.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")
def test_report_renders_in_a_browser_without_console_errors(trained, workdir):
    pytest.importorskip("matplotlib")
    assert invoke("report", "-o", workdir / "report.html").exit_code == 0
    broken = workdir / "broken.html"  # the check itself sees a console error when there is one
    broken.write_text("<html><body><script>console.error('boom'); undefinedName();</script></body></html>")
    console, _ = console_and_dom(broken)
    assert any("boom" in c for c in console) and any("undefinedName" in c for c in console)
    console, dom = console_and_dom(workdir / "report.html")
    assert console == []
    for s in SECTIONS:
        assert f'<section id="{s}">' in dom
    assert dom.count("<svg") == 7


def test_runs_table_and_diff(apps_spec, workdir):
    for epochs, hidden in ((1, "[8]"), (2, "[16]")):
        r = invoke("train", apps_spec, "--set", f"train.epochs={epochs}", "--set", f"deep.hidden={hidden}", "-q")
        assert r.exit_code == 0, r.output
    a, b = sorted(p.name for p in (workdir / "runs" / "apps").iterdir() if p.is_dir())
    r = invoke("runs")
    assert r.exit_code == 0, r.output
    assert a in r.stdout and b in r.stdout and "train.epochs" in r.stdout and "deep.hidden" in r.stdout
    assert "data.train" not in r.stdout  # the same in both
    r = invoke("runs", "--sort", "auc", "--spec", "apps")
    assert r.exit_code == 0 and "by auc" in r.stdout
    r = invoke("runs", "--spec", "other")
    assert r.exit_code == 0 and "no runs" in r.stderr
    r = invoke("runs", "--sort", "color")
    assert r.exit_code == 2 and "cannot sort runs by 'color'" in r.stderr
    r = invoke("runs", "diff", a, f"apps/{b}")
    assert r.exit_code == 0, r.output
    assert re.search(r"train\.epochs\s*│\s*1\s*│\s*2", r.stdout) and "deep.hidden" in r.stdout
    metrics = json.loads((workdir / "runs" / "apps" / b / "metrics.json").read_text())["splits"]["test"]
    before = json.loads((workdir / "runs" / "apps" / a / "metrics.json").read_text())["splits"]["test"]
    assert f"{metrics['auc'] - before['auc']:+.4f}" in r.stdout
    r = invoke("runs", "diff", a, "missing")
    assert r.exit_code == 2 and "no run 'missing'" in r.stderr


def test_curves_agree_with_the_metrics():
    import numpy as np

    from wdcli.metrics import auc
    from wdcli.report.curves import curves, reliability

    rng = np.random.default_rng(0)
    p = rng.random(50_000)
    y = (rng.random(50_000) < p).astype(float)  # calibrated by construction
    c = curves(y, p)
    assert len(c.fpr) <= 2_000 and (c.fpr[0], c.tpr[0], c.fpr[-1], c.tpr[-1]) == (0, 0, 1, 1)
    assert abs(np.trapezoid(c.tpr, c.fpr) - auc(y, p)) < 1e-3
    assert 0.5 < c.average_precision < 1 and c.recall[-1] == 1
    r = reliability(y, p)
    assert len(r.count) == 10 and r.count.sum() == 50_000 and r.ece < 0.02
    assert np.all(np.diff(r.predicted) > 0)
    r = reliability(y, p**3)  # scores far below the rates they stand for
    assert r.ece > 0.1 and np.all(r.observed >= r.predicted)
