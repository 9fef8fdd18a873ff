"""`wdcli export RUN --format onnx`: onnxruntime's scores equal torch's to 1e-5 (census and apps models), and
the pipeline's JSON reads back as the same fitted features."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import polars as pl
import pytest
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.export import export_run
from wdcli.export.onnx import feeds
from wdcli.features.fitted import _FEATURES
from wdcli.score import Scorer

from .conftest import SPECS

runner = CliRunner()

CASES = {  # spec, rows to score, training overrides (small: the check is the graph, not the model's quality)
    "census": (
        "census.yaml",
        lambda: pl.read_parquet(SPECS / "data" / "adult.parquet").tail(3000),
        ["train.max_rows=4000"],
    ),
    "apps": ("apps.yaml", lambda: pl.read_csv(SPECS / "data" / "apps_candidates.csv"), ["train.max_rows=6000"]),
    # every block of the deep part (issue 20): numeric embeddings of both kinds, dot products, cross layers
    "census-blocks": (
        "census.yaml",
        lambda: pl.read_parquet(SPECS / "data" / "adult.parquet").tail(3000),
        [
            "train.max_rows=4000",
            "deep.numeric_embedding=periodic",
            "deep.numeric_embeddings={age: piecewise, hours-per-week: {kind: piecewise, bins: 8, dim: 4}}",
            "deep.interaction=dot",
        ],
    ),
    # numbers embedded by their values: age's every value known, most of fnlwgt's not (the unknown row)
    "census-values": (
        "census.yaml",
        lambda: pl.read_parquet(SPECS / "data" / "adult.parquet").tail(3000),
        ["train.max_rows=4000", "deep.numeric_embeddings={age: values, fnlwgt: {kind: values, dim: 4}}"],
    ),
    # several members (deep.members): the graph averages their logits
    "census-members": (
        "census.yaml",
        lambda: pl.read_parquet(SPECS / "data" / "adult.parquet").tail(3000),
        ["train.max_rows=4000", "deep.members=3", "train.epochs=2"],
    ),
    "apps-cross": (
        "apps.yaml",
        lambda: pl.read_csv(SPECS / "data" / "apps_candidates.csv"),
        [
            "train.max_rows=6000",
            "deep.interaction={kind: cross, layers: 2, rank: 8}",
            "deep.numeric_embedding=periodic",
        ],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_onnxruntime_scores_equal_torch(name, tmp_path):
    spec, rows, overrides = CASES[name]
    sets = [x for o in ["train.epochs=1", "train.threads=1", *overrides] for x in ("--set", o)]
    r = runner.invoke(app, ["train", str(SPECS / spec), "-q", "--output", str(tmp_path / "run"), *sets])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["export", str(tmp_path / "run"), "--format", "onnx", "--output", str(tmp_path / "onnx")])
    assert r.exit_code == 0, r.output
    assert {p.name for p in (tmp_path / "onnx").iterdir()} == {"model.onnx", "pipeline.json", "signature.json"}

    scorer = Scorer.load(tmp_path / "run")
    frame = rows()
    session = ort.InferenceSession(str(tmp_path / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    x = feeds(scorer.encoder(frame), scorer.fitted)
    signature = json.loads((tmp_path / "onnx" / "signature.json").read_text())
    assert [i.name for i in session.get_inputs()] == [i["name"] for i in signature["inputs"]] == list(x)
    score, logit = session.run(["score", "logit"], x)
    expected = scorer.score(frame)
    assert score.shape == (len(frame),) and np.abs(score - expected).max() < 1e-5
    assert np.allclose(1 / (1 + np.exp(-logit.astype(np.float64))), expected, atol=1e-5)
    one = session.run(["score"], feeds(scorer.encoder(frame.head(1)), scorer.fitted))[0]  # any batch size
    assert abs(one[0] - expected[0]) < 1e-5

    pipeline = json.loads((tmp_path / "onnx" / "pipeline.json").read_text())
    assert pipeline["order"] == {
        "sparse": scorer.fitted.univalent,
        "multivalent": scorer.fitted.multivalent,
        "dense": scorer.fitted.dense,
    }
    assert _FEATURES.validate_python(pipeline["features"]) == list(scorer.fitted.features.values())


def test_unknown_format_is_an_error(tmp_path):
    r = runner.invoke(app, ["export", str(tmp_path), "--format", "tflite"])
    assert r.exit_code == 2 and "tflite" in r.output


def test_export_run_default_folder(workdir):
    r = runner.invoke(app, ["train", str(SPECS / "tiny.yaml"), "-q", "--set", "train.epochs=1"])
    assert r.exit_code == 0, r.output
    folder = export_run(None)
    assert folder.parts[0] == "exports" and folder.parts[1] == "tiny" and (folder / "model.onnx").exists()


def test_the_docs_onnx_example_runs(workdir):
    """docs/serving.md's ONNX example, as written, on a trained apps run: every name in it is defined there."""
    text = (SPECS.parent / "docs" / "serving.md").read_text()
    example = text.split("<!-- tests/test_export.py runs this example -->\n```python\n", 1)[1].split("```", 1)[0]
    sets = ["--set", "train.epochs=1", "--set", "train.max_rows=3000"]
    r = runner.invoke(app, ["train", str(SPECS / "apps.yaml"), "-q", *sets])
    assert r.exit_code == 0, r.output
    (workdir / "specs" / "data").mkdir(parents=True)
    (workdir / "specs" / "data" / "apps_candidates.csv").write_bytes(
        (SPECS / "data" / "apps_candidates.csv").read_bytes()
    )
    names: dict = {}
    exec(compile(example, "docs/serving.md", "exec"), names)
    expected = Scorer.load("runs/apps").score(names["rows"])
    assert np.abs(names["score"] - expected).max() < 1e-5


def test_export_force_replaces_an_export_whole(tmp_path):
    """Without --force a folder that holds files is refused; with it, the new run's export replaces the old one
    entirely (no file of the old one is left)."""
    folder = tmp_path / "onnx"
    runs = {}
    for seed in (1, 2):
        runs[seed] = tmp_path / f"run{seed}"
        sets = ["--set", "train.epochs=1", "--set", f"train.seed={seed}"]
        r = runner.invoke(app, ["train", str(SPECS / "tiny.yaml"), "-q", "--output", str(runs[seed]), *sets])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["export", str(runs[1]), "--output", str(folder), "-q"])
    assert r.exit_code == 0, r.output
    (folder / "notes.txt").write_text("left by hand")
    r = runner.invoke(app, ["export", str(runs[2]), "--output", str(folder), "-q"])
    assert r.exit_code == 2 and "pass --force" in r.stderr
    assert json.loads((folder / "pipeline.json").read_text())["run"] == "run1"
    r = runner.invoke(app, ["export", str(runs[2]), "--output", str(folder), "-q", "--force"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "pipeline.json", "signature.json"]
    assert json.loads((folder / "pipeline.json").read_text())["run"] == "run2"
    rows = pl.read_csv(SPECS / "data" / "tiny.csv").head(50)
    scorer = Scorer.load(runs[2])
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(["score"], feeds(scorer.encoder(rows), scorer.fitted))
    assert np.abs(got - scorer.score(rows)).max() < 1e-5  # the new run's model, not the old one's


@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
def test_padded_bags_give_the_models_own_logits(combiner):
    """The graph reads a list padded to its longest row, padding of weight 0: its logits equal the model's on the
    ragged bags, for each combiner, weights other than 1, a row of no values, and a list whose rows sit at an
    offset of the wide table and of its embedding table."""
    import torch

    from wdcli.data.batch import Bag
    from wdcli.export.onnx import Exported, padded
    from wdcli.features.transform import Ragged
    from wdcli.model.plan import ModelConfig, SparseInput, Table
    from wdcli.model.widedeep import WideDeep

    cfg = ModelConfig(
        "wide_deep",
        wide=[SparseInput("a", 4, 0), SparseInput("tags", 6, -1)],
        deep=[SparseInput("a", 4, 0), SparseInput("tags", 6, -1, combiner)],
        tables=[Table("a", 4, 4, ["a"]), Table("tags", 6, 4, ["tags"])],
        hidden=[3],
    )
    torch.manual_seed(0)
    model = WideDeep(cfg).eval()
    r = Ragged.of(np.array([1, 5, 2, 3, 4]), np.array([3, 0, 2]), np.array([1.0, 2.0, 0.5, 1.0, 3.0]))
    ids, weights = padded(r, 3)
    assert ids.tolist() == [[1, 5, 2], [0, 0, 0], [3, 4, 0]] and weights.tolist() == [[1, 2, 0.5], [0, 0, 0], [1, 3, 0]]
    sparse, dense = torch.tensor([[1], [2], [3]]), torch.zeros(3, 0)
    bag = Bag(*(torch.from_numpy(a) for a in (r.ids, r.offsets, r.weights)))
    with torch.no_grad():
        _, logit = Exported(model, ["tags"])(sparse, dense, torch.from_numpy(ids), torch.from_numpy(weights))
        torch.testing.assert_close(logit, model(sparse, {"tags": bag}, dense), rtol=0, atol=1e-6)
