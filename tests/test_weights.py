"""Weights, for what they do, not only that they are accepted: a multivalent column's per-value weights reach
its bag as written (dropped with their missing values, capped with max_values) and pool as each combiner says;
label.weight weighs each row's loss (a row of weight 0 moves nothing) and the metrics a run reports."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import torch
from safetensors.torch import load_file
from sklearn.metrics import roc_auc_score

from wdcli.data.batch import Bag
from wdcli.data.split import load_splits
from wdcli.features import fit_pipeline, transform
from wdcli.model.widedeep import RaggedBags, pool
from wdcli.run import run_training
from wdcli.score import Scorer
from wdcli.spec import load_spec

from .conftest import apps_frame


def test_a_multivalent_columns_weights_reach_its_bag_as_written(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "data: {train: x.csv}\nlabel: {column: y}\n"
        'columns: {tags: {kind: multivalent, separator: ";", weights: w, missing: ["?"], max_values: 2}}\n'
    )
    frame = pl.DataFrame(
        {
            "tags": ["a;?;b", "a;b;c", "", "c"],  # '?' is missing: its weight 9 goes with it; 'c' past max_values
            "w": ["2;9;0.5", "1;2;3", "", "4"],
            "y": [1, 0, 1, 0],
        }
    )
    fitted = fit_pipeline(load_spec(tmp_path / "s.yaml", check_paths=False), frame)
    bag = transform(fitted, frame).multi["tags"]
    names = [fitted.features["tags"].value_name(int(i)) for i in bag.ids]
    assert names == ["tags=a", "tags=b", "tags=a", "tags=b", "tags=c"] and bag.offsets.tolist() == [0, 2, 4, 4, 5]
    assert bag.weights.tolist() == [2.0, 0.5, 1.0, 2.0, 4.0]


@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
def test_weighted_values_pool_as_the_combiner_says(combiner):
    table = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]])
    bag = Bag(torch.tensor([0, 1, 2]), torch.tensor([0, 2, 2, 3]), torch.tensor([2.0, 0.5, 4.0]))
    got = pool(RaggedBags({"t": bag}), "t", table, 0, combiner)
    weighted = torch.tensor([[2.0, 0.5], [0.0, 0.0], [12.0, 12.0]])  # row 1 has no values: 0
    norm = {"sum": [1.0, 1.0, 1.0], "mean": [2.5, 1.0, 4.0], "sqrtn": [math.sqrt(4.25), 1.0, 4.0]}[combiner]
    assert torch.allclose(got, weighted / torch.tensor(norm).unsqueeze(1))


SPEC = """
data: {{train: {path}, split: {{validation: 0.2, test: 0.2, seed: 3}}}}
label: {{column: clicked, weight: w}}
columns:
  installed: {{kind: multivalent, separator: "|"}}
  impression: categorical
  age: numeric
crosses:
  - {{columns: [installed, impression], hash_buckets: 500}}
deep: {{embedding_dim: 4, hidden: [8]}}
train: {{epochs: 2, batch_size: 32, seed: 1, checkpoint: {{enabled: false}}}}
"""


def weighted(tmp_path, name: str, frame: pl.DataFrame) -> tuple[Scorer, dict]:
    """A run on the frame (in a folder of its own: a file of the same name splits its rows alike)."""
    (tmp_path / name).mkdir()
    frame.write_csv(tmp_path / name / "data.csv")
    (tmp_path / name / "spec.yaml").write_text(SPEC.format(path="data.csv"))
    _, path = run_training(load_spec(tmp_path / name / "spec.yaml"), output=tmp_path / name / "run")
    return Scorer.load(path), load_file(str(path / "weights.safetensors"))


def test_rows_of_weight_zero_move_nothing_and_the_metrics_are_weighted(tmp_path):
    """Two runs that differ only in the labels of rows of weight 0 train the very same weights (a row's loss is
    weighed by its weight); with weight 1 the same change moves them. The reported AUC is the weighted one."""
    frame = apps_frame(400, seed=4)
    rng = np.random.default_rng(0)
    w = np.where(rng.random(len(frame)) < 0.3, 0.0, rng.choice([0.5, 1.0, 3.0], len(frame)))
    frame = frame.with_columns(w=pl.Series(w))
    flipped = frame.with_columns(clicked=pl.when(pl.col("w") == 0).then(1 - pl.col("clicked")).otherwise("clicked"))
    scorer, a = weighted(tmp_path, "a", frame)
    _, b = weighted(tmp_path, "b", flipped)
    assert all(torch.equal(a[k], b[k]) for k in a)
    _, c = weighted(tmp_path, "c", flipped.with_columns(w=pl.lit(1.0)))
    _, d = weighted(tmp_path, "d", frame.with_columns(w=pl.lit(1.0)))
    assert not all(torch.equal(c[k], d[k]) for k in c)  # (the labels changed do matter when they weigh)
    rows = load_splits(scorer.spec.data)["test"]
    reported = scorer.artifact.metrics.splits["test"]
    y, s = rows["clicked"].to_numpy(), scorer.score(rows)
    assert reported["auc"] == pytest.approx(roc_auc_score(y, s, sample_weight=rows["w"].to_numpy()), abs=1e-6)
    assert reported["auc"] != pytest.approx(roc_auc_score(y, s), abs=1e-4)
