"""`wdcli eval` of several runs (--model A --model B): one row per run, each the metrics of the run evaluated
alone, the rows read once and encoded once per distinct pipeline; a run's own part scored from the encoded
cache; runs whose metrics would not compare refused with a message."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.features import Encoder
from wdcli.run import run_training
from wdcli.score import Scorer
from wdcli.score.evaluation import evaluate_runs
from wdcli.spec import load_spec

from .conftest import APPS_SPEC, apps_frame

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs of the apps spec: a and b share the features (b has another MLP), c buckets age otherwise (another
    pipeline); the others differ in what `eval` must refuse together with a."""
    root = tmp_path_factory.mktemp("eval_runs")
    apps_frame(600).write_csv(root / "apps.csv")
    apps_frame(300, seed=7).write_csv(root / "holdout.csv")
    (root / "apps.yaml").write_text(APPS_SPEC.format(path="apps.csv"))
    base = [f"train.output={root / 'runs'}", "train.epochs=1", "train.data.read_batch_rows=100"]
    sets = {
        "a": [],
        "b": ["deep.hidden=[4]"],
        "c": ["columns.age_b.quantiles=3"],
        "positive": ["label.positive=0"],
        "group": ["label.group=country"],
        "seed": ["data.split.seed=4"],
        "max_rows": ["train.max_rows=200"],
    }
    out = {}
    for name, more in sets.items():
        _, out[name] = run_training(load_spec(root / "apps.yaml", base + more))
    out["root"], out["holdout"] = root, root / "holdout.csv"
    return out


@pytest.fixture
def encodes(monkeypatch):
    """How many times a frame is encoded for scoring."""
    calls = []
    real = Encoder.__call__

    def counted(self, frame, where="input"):
        calls.append(len(frame))
        return real(self, frame, where)

    monkeypatch.setattr(Encoder, "__call__", counted)
    return calls


def _eval(*args) -> list | dict:
    r = invoke("eval", *args, "--json", "-q")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_runs_of_one_pipeline_encode_the_rows_once_and_each_gets_its_metrics_alone(runs, encodes):
    alone = [_eval("--model", runs[k], "--input", runs["holdout"]) for k in "abc"]
    assert encodes == [300, 300, 300]
    encodes.clear()
    together = _eval("--model", runs["a"], "--model", runs["b"], "--input", runs["holdout"])
    assert encodes == [300]  # a and b: one pipeline, one encoding
    assert [m.pop("model") for m in together] == [str(runs["a"]), str(runs["b"])]
    assert together == alone[:2]  # exactly, every figure
    assert Scorer.load(runs["a"]).encoding == Scorer.load(runs["b"]).encoding != Scorer.load(runs["c"]).encoding
    encodes.clear()
    three = _eval("--model", runs["a"], "--model", runs["c"], "--model", runs["b"], "--input", runs["holdout"])
    assert encodes == [300, 300]  # c has a pipeline of its own
    assert [{k: v for k, v in m.items() if k != "model"} for m in three] == [alone[0], alone[2], alone[1]]


def test_in_batches_each_batch_is_encoded_once_per_pipeline(runs, encodes):
    scorers = [Scorer.load(runs[k]) for k in "abc"]
    batched = evaluate_runs(scorers, runs["holdout"], batch_rows=128)
    assert encodes == [128, 128, 128, 128, 44, 44]  # 3 batches, 2 pipelines
    assert batched == [s.evaluate(pl.read_csv(runs["holdout"])) for s in scorers]


def test_the_runs_own_part_is_scored_from_the_cache_as_from_the_files(runs, encodes):
    """a and b trained through the cache, which keeps their test rows' shards: eval --split test encodes
    nothing, and its figures are those of reading and encoding the files (after the cache is gone)."""
    args = ["--model", runs["a"], "--model", runs["b"], "--split", "test"]
    cached = _eval(*args)
    assert encodes == []
    saved = [json.loads((runs[k] / "metrics.json").read_text())["splits"]["test"] for k in "ab"]
    assert [m["rows"] for m in cached] == [s["rows"] for s in saved]
    assert [m["auc"] for m in cached] == pytest.approx([s["auc"] for s in saved], abs=1e-9)
    moved = runs["root"] / "moved-cache"
    shutil.move(runs["root"] / "runs" / ".cache", moved)
    try:
        files = _eval(*args)
        assert len(encodes) == 6 and sum(encodes) == cached[0]["rows"]  # no cache: its 6 chunks, once for both
        assert files == cached
        assert _eval("--model", runs["a"], "--split", "test") == {k: v for k, v in cached[0].items() if k != "model"}
    finally:
        shutil.move(moved, runs["root"] / "runs" / ".cache")


def test_a_cache_whose_pipeline_is_not_the_runs_is_not_read(runs, encodes):
    """Shards encoded by another pipeline would score other ids: the cache's pipeline must be the run's."""
    alone = _eval("--model", runs["a"], "--split", "test")
    assert encodes == []
    mine = (runs["a"] / "pipeline.json").read_bytes()
    kept = [p for p in (runs["root"] / "runs" / ".cache").glob("*/pipeline/pipeline.json") if p.read_bytes() == mine]
    for p in kept:  # (a's folder, and those of runs with the same features and another label)
        p.write_bytes((runs["c"] / "pipeline.json").read_bytes())
    try:
        assert _eval("--model", runs["a"], "--split", "test") == alone
        assert sum(encodes) == alone["rows"]  # read from the files
    finally:
        for p in kept:
            p.write_bytes(mine)


def test_a_single_run_prints_as_before(runs):
    r = invoke("eval", "--model", runs["a"], "--input", runs["holdout"])
    assert r.exit_code == 0, r.output
    assert "split" in r.stdout.splitlines()[2] and "holdout.csv" in r.stdout and str(runs["a"]) in r.stdout
    assert isinstance(_eval("--model", runs["a"], "--split", "test"), dict)
    r = invoke("eval", "--model", runs["a"], "--model", runs["c"], "--input", runs["holdout"])
    assert r.exit_code == 0, r.output
    assert "2 runs on holdout.csv" in r.stdout and "run " in r.stdout.splitlines()[2]
    assert r.stderr.count("model: ") == 2


@pytest.mark.parametrize(
    "other, args, message",
    [
        ("positive", ["--input"], "predicts 'clicked' = 0: runs evaluated together must predict the same label"),
        ("group", ["--input"], "has label.group 'user' but"),
        (
            "seed",
            ["--split", "test"],
            "did not split their rows alike (another rule: fractions, seed, key or time cuts)",
        ),
        ("max_rows", ["--split", "train"], "did not split their rows alike (train.max_rows none and 200)"),
        ("a", ["--input"], "the run is named twice; name each run once"),
        ("nope", ["--input"], "no such model folder"),
    ],
)
def test_runs_that_do_not_compare_are_refused(runs, other, args, message):
    second = runs.get(other, runs["root"] / "runs" / other)
    rows = [runs["holdout"]] if args == ["--input"] else []
    r = invoke("eval", "--model", runs["a"], "--model", second, *args, *rows, "-q")
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.stderr.split()) and "Traceback" not in r.output
