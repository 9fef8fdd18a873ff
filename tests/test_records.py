"""The records that cross modules: a run's metrics (metrics.json, as every wdcli has written it), an epoch's
record, a warm start's report, a batch source's position, and a checkpoint, each read back as it was written."""

from __future__ import annotations

import json
import math

import pytest
import torch

from wdcli.data.batch import Batch
from wdcli.data.memory import InMemory
from wdcli.data.source import BatchSource, Position
from wdcli.metrics import Carried, EpochRecord, RunMetrics, WarmReport

from .conftest import ROOT

OLD = ROOT / "tests" / "data" / "metrics_as_written_before_records.json"


def test_metrics_json_as_written_before_the_records_reads_and_writes_back_the_same():
    d = json.loads(OLD.read_text())
    m = RunMetrics.from_json(d)
    assert m.split == "test" and m.metric("auc") == d["splits"]["test"]["auc"] and math.isnan(m.metric("gauc"))
    assert m.epochs == 2 and m.best_epoch == 1 and m.history[0].split == "validation" and m.history[0].best
    assert m.warm_start.features["education"].carried == d["warm_start"]["features"]["education"]["carried"]
    assert json.loads(json.dumps(m.to_json())) == d


def test_records_round_trip_and_refuse_what_is_not_one():
    record = EpochRecord(3, 0.4, 1.5, 1000.0, "train", auc=0.7, logloss=0.5, gauc=0.6)
    assert record.to_json() == {
        "epoch": 3,
        "train_loss": 0.4,
        "seconds": 1.5,
        "rows_per_s": 1000.0,
        "train_auc": 0.7,
        "train_logloss": 0.5,
        "train_gauc": 0.6,
    }
    assert EpochRecord.from_json(record.to_json()) == record
    report = WarmReport("runs/a", {"x": Carried(3, 1, 0), "y": Carried(0, 0, 4, "no longer a feature")}, "fresh", "c")
    assert WarmReport.from_json(report.to_json()) == report and report.to_json()["from"] == "runs/a"
    assert RunMetrics.from_json({"splits": {}}).epochs == 0  # (a metrics.json of few keys)
    for bad in ([1, 2], {"splits": [1]}, {"splits": {}, "history": ["x"]}):
        with pytest.raises((TypeError, ValueError, KeyError)):
            RunMetrics.from_json(bad)


def test_the_best_epoch_is_the_last_one_marked_best():
    """Every epoch that improved is marked best when it ran; the weights kept are the last one's."""
    marks = {1: True, 2: False, 3: True, 4: False}
    m = RunMetrics({}, [EpochRecord(e, 0.5, 1.0, 1.0, "validation", auc=0.7, best=b) for e, b in marks.items()])
    assert m.best_epoch == 3 and RunMetrics({}).best_epoch == 0


def test_a_restored_position_continues_the_epoch_with_the_same_batches():
    data = Batch(torch.arange(20).reshape(20, 1), {}, torch.zeros(20, 0), torch.zeros(20))
    a = InMemory(data, batch_size=3, seed=4)
    assert isinstance(a, BatchSource)
    batches = a.batches()
    seen = [next(batches).sparse for _ in range(2)]
    saved = a.position()
    assert saved.at == 6 and saved.in_epoch
    saved = Position.from_json(json.loads(json.dumps(saved.to_json())), saved.tensors())
    rest = [b.sparse for b in batches]
    b = InMemory(data, batch_size=3, seed=99)
    b.restore(saved)
    assert b.at == 6
    again = [x.sparse for x in b.batches()]
    assert len(again) == len(rest) and all(torch.equal(x, y) for x, y in zip(again, rest))
    assert torch.equal(torch.cat(seen + rest).flatten().sort().values, torch.arange(20))
    assert all(torch.equal(x.sparse, y.sparse) for x, y in zip(a.batches(), b.batches()))  # the next epoch too
