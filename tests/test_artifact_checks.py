"""An artifact is loaded only if it is what it claims: its own regular files (no symbolic links out, no FIFO or
device that would hang a read), a config consistent with its pipeline and weights (checked before anything is
allocated on its word), finite weights, a known format. Each case is an error (exit 2) within a second."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wdcli.artifact import load_artifact
from wdcli.errors import ArtifactError
from wdcli.run import run_training
from wdcli.serve.app import ServeConfig, Server
from wdcli.spec import load_spec

from .conftest import SPECS


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("artifact")
    spec = load_spec(SPECS / "tiny.yaml", ["train.epochs=1", f"train.output={folder / 'runs'}"])
    return run_training(spec)[1]


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A copy of the trained run, runs/tiny/<run> with its LATEST, to spoil."""
    copy = tmp_path / "runs" / "tiny" / trained.name
    shutil.copytree(trained, copy)
    (copy.parent / "LATEST").write_text(trained.name + "\n")
    return copy


def rehash(run: Path, name: str) -> None:
    """The manifest vouches for the file as it is now: only the consistency checks can catch it."""
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256((run / name).read_bytes()).hexdigest()
    (run / "manifest.json").write_text(json.dumps(manifest))


def edit_json(run: Path, name: str, change) -> None:
    doc = json.loads((run / name).read_text())
    change(doc)
    (run / name).write_text(json.dumps(doc))
    rehash(run, name)


def refused(model: Path, message: str) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ArtifactError, match=message):
        load_artifact(model)
    assert time.perf_counter() - t0 < 1.0


def test_a_file_that_is_a_symbolic_link_out_of_the_run_is_refused(run, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    shutil.move(run / "weights.safetensors", outside)
    (run / "weights.safetensors").symlink_to(outside)
    refused(run, "weights.safetensors: a symbolic link")


def test_a_latest_naming_a_linked_run_folder_is_refused(run, tmp_path):
    other = tmp_path / "other-model"
    shutil.copytree(run, other)
    (run.parent / "linked").symlink_to(other)
    (run.parent / "LATEST").write_text("linked\n")
    refused(run.parent, "a symbolic link")


@pytest.mark.parametrize("special", ["dev zero", "fifo"])
def test_a_manifest_entry_that_is_a_device_or_fifo_does_not_hang(run, special):
    """Today's reader waits forever on both: run in a process with a deadline."""
    if special == "dev zero":
        (run / "extra.bin").symlink_to("/dev/zero")
    else:
        os.mkfifo(run / "extra.bin")
    edit_json(run, "manifest.json", lambda m: m["files"].update({"extra.bin": "0" * 64}))
    r = subprocess.run(
        [sys.executable, "-m", "wdcli", "inspect", "--model", str(run)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2 and "extra.bin" in r.stderr, r.stderr


def wdcli(*args, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """A wdcli command in its own process with a deadline: a read that waits forever fails the test, not the run."""
    command = [sys.executable, "-m", "wdcli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.mark.parametrize(
    "name,command",
    [
        ("split.json", ["eval", "--split", "test", "-q", "--model"]),
        ("optimizer.safetensors", ["train", SPECS / "tiny.yaml", "-q", "--output", "again", "--warm-start"]),
    ],
    ids=["split record", "optimizer state"],
)
def test_a_run_file_the_manifest_does_not_list_that_is_a_fifo_does_not_hang(run, tmp_path, name, command):
    """The manifest's files are checked by the load; the split record and the optimizers' state, read after it
    wherever they were, hung `eval --split` and a warm start on a FIFO in their place."""
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["files"][name]
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / name).unlink()
    os.mkfifo(run / name)
    r = wdcli(*command, run, cwd=tmp_path)
    assert r.returncode == 2 and f"{name}: not a regular file" in r.stderr, r.stderr


@pytest.mark.parametrize("name", ["manifest.json", "metrics.json", "spec.yaml"])
def test_runs_leaves_out_a_run_whose_file_is_a_fifo(run, name):
    """`wdcli runs` reads three files of each run, none of them loaded by load_artifact: a FIFO in place of one
    hung the listing. Such a run is left out, as a run with a damaged file is."""
    shutil.copytree(run, run.parent / "good")
    (run / name).unlink()
    os.mkfifo(run / name)
    r = wdcli("runs", "--runs", run.parents[1])
    assert r.returncode == 0 and "1 run under" in r.stdout, r.stdout + r.stderr


def test_a_run_spec_whose_aliases_expand_without_bound_is_refused_at_once(run):
    """A "billion laughs" in a run's spec.yaml, its checksum updated, hung inspect, eval and runs (expanded by the
    spec's validation, or by the listing's comparison of settings): it is read with the bounds of a user's spec."""
    from .test_security import LAUGHS

    (run / "spec.yaml").write_text(LAUGHS)
    rehash(run, "spec.yaml")
    message = "spec.yaml: not valid YAML for a spec: its aliases (*name) expand to"
    for command in (["inspect"], ["eval", "--split", "test", "-q"]):
        r = wdcli(*command, "--model", run, timeout=30)  # (a few seconds; expanding took gigabytes a minute)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = wdcli("runs", "--runs", run.parents[1], timeout=30)
    assert r.returncode == 0 and "no runs under" in r.stderr, r.stdout + r.stderr


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda c: c["tables"][0].update(cardinality=10**12), "does not match model.json"),  # terabytes
        (lambda c: c["tables"][0].update(dim=-4), "should be positive integers"),
        (lambda c: c["wide"][0].update(cardinality=-1), "is not a positive integer"),
        (lambda c: c.update(activation="swish"), "activation: unknown 'swish'"),
        (lambda c: c.update(model="transformer"), "model: unknown kind 'transformer'"),
        (lambda c: c.update(hidden=[16, 0]), r"hidden\[1\]: 0 is not a positive integer"),
        (lambda c: c["deep"][0].update(cardinality=c["deep"][0]["cardinality"] + 5), "does not match pipeline.json"),
    ],
    ids=["huge table", "negative dim", "negative size", "activation", "model kind", "zero width", "vocabulary"],
)
def test_a_model_config_out_of_range_is_refused_before_allocating(run, change, message):
    edit_json(run, "model.json", change)
    refused(run, message)


def test_a_vocabulary_larger_than_its_table_is_refused(run):
    def shrink(config):
        table = next(t for t in config["tables"] if t["cardinality"] > 2)
        table["cardinality"] -= 1

    edit_json(run, "model.json", shrink)
    refused(run, "rows, its features have up to")


def test_nan_weights_are_refused(run):
    import torch
    from safetensors.torch import load_file, save_file

    state = load_file(str(run / "weights.safetensors"))
    state["bias"] = torch.tensor([float("nan")])
    save_file(state, str(run / "weights.safetensors"))
    rehash(run, "weights.safetensors")
    refused(run, "bias hold NaN or infinite values")


@pytest.mark.parametrize("version", [-7, 0, "1", True])
def test_a_format_version_that_is_not_one_is_refused(run, version):
    edit_json(run, "manifest.json", lambda m: m.update(format_version=version))
    refused(run, "format version")


def _feature(doc: dict, kind: str, field: str) -> dict:
    return next(f for f in doc["features"] if f["kind"] == kind and len(f.get(field) or []) > 1)


@pytest.mark.parametrize(
    "kind,field,spoil,message",
    [
        ("vocabulary", "values", lambda v: [v[0]] * len(v), "holds .* twice; a vocabulary lists each value once"),
        ("buckets", "boundaries", lambda b: b[::-1], "not in increasing order"),
        ("numeric", "boundaries", lambda b: b[::-1], "not in increasing order"),
        ("buckets", "boundaries", lambda b: [float("nan")] * len(b), "holds nan; boundaries are finite numbers"),
    ],
    ids=["vocabulary twice", "bucket boundaries reversed", "quantile boundaries reversed", "NaN boundaries"],
)
def test_a_pipeline_edited_out_of_shape_is_refused(run, kind, field, spoil, message):
    """A vocabulary listing a value twice was an internal error (exit 1) in every predict; boundaries out of
    order or NaN put every value in a wrong bucket, silently (exit 0)."""
    edit_json(
        run,
        "pipeline.json",
        lambda doc: _feature(doc, kind, field).update({field: spoil(_feature(doc, kind, field)[field])}),
    )
    refused(run, message)


NAN, INF = float("nan"), float("inf")
NUMERIC_STATE = {  # a numeric column's edit: (column, fields set, the field the message names)
    "fill NaN": ("age", {"fill": NAN}, "fill is nan"),
    "fill inf": ("capital-gain", {"fill": INF}, "fill is inf"),
    "fill -inf": ("hours-per-week", {"fill": -INF}, "fill is -inf"),
    "clip NaN": ("hours-per-week", {"clip": [NAN, 80]}, r"clip\[0\] is nan"),
    "clip reversed": ("hours-per-week", {"clip": [80, 1]}, r"clip \[80.0, 1.0\] is not \[low, high\]"),
    "mean NaN": ("capital-gain", {"transform": "standardize", "mean": NAN}, "mean is nan"),
    "std inf": ("capital-gain", {"transform": "standardize", "std": INF}, "std is inf"),
    "std negative": ("capital-gain", {"transform": "standardize", "std": -2.0}, "std is -2.0; .* not negative"),
    "min inf": ("hours-per-week", {"min": INF}, "min is inf"),
    "max NaN": ("hours-per-week", {"max": NAN}, "max is nan"),
    "min above max": ("hours-per-week", {"min": 80.0, "max": 1.0}, "min 80.0 and max 1.0 make no range"),
    "range overflows": ("hours-per-week", {"min": -1e308, "max": 1e308}, r"min -1e\+308 and max 1e\+308 make no range"),
    "quantile boundary inf": ("age", {"boundaries": [20.0, INF]}, "holds inf; boundaries are finite numbers"),
    "edges NaN": ("age", {"edges": [0.0, NAN, 1.0]}, r"edges\[1\] is nan"),
    "edges reversed": ("age", {"edges": [1.0, 0.5, 0.0]}, "edges are not in increasing order"),
    "center NaN": ("age", {"center": NAN}, "Input should be a finite number"),
    "spread 0": ("capital-gain", {"spread": 0.0}, "Input should be greater than 0"),
    "spread inf": ("hours-per-week", {"spread": INF}, "Input should be a finite number"),
}


def _numeric(doc: dict, column: str) -> dict:
    return next(f for f in doc["features"] if f["name"] == column)


@pytest.mark.parametrize("case", list(NUMERIC_STATE), ids=list(NUMERIC_STATE))
def test_a_numeric_state_its_transform_cannot_use_is_refused(run, case):
    """NaN or infinite statistics, a negative spread or no range, in a pipeline.json edited and re-hashed,
    loaded and scored every row, silently wrong (exit 0): refused naming the file, the column and the field."""
    column, fields, message = NUMERIC_STATE[case]
    edit_json(run, "pipeline.json", lambda doc: _numeric(doc, column).update(fields))
    refused(run, rf"pipeline.json: column '{column}' \(features\[\d+\]\S*\): {message}.*retrain or restore")


def test_non_finite_bucket_boundaries_are_refused(run):
    edit_json(run, "pipeline.json", lambda doc: _numeric(doc, "age_buckets").update(boundaries=[-INF, 30.0]))
    refused(run, r"column 'age_buckets' \(features\[\d+\].buckets.boundaries\): holds -inf; boundaries are finite")


@pytest.mark.parametrize(
    "fields", [{"transform": "standardize", "std": 0.0}, {"min": 40.0, "max": 40.0}, {"mean": NAN, "std": NAN}]
)
def test_a_constant_column_or_a_statistic_its_transform_does_not_read_loads(run, fields):
    """A column constant in training has std 0 and min == max (scaled by 1): fitting writes that, so it loads; a
    statistic the transform does not read (minmax: mean, std) is not held against it."""
    edit_json(run, "pipeline.json", lambda doc: _numeric(doc, "hours-per-week").update(fields))
    load_artifact(run)


def test_predict_and_serve_refuse_a_run_with_a_nan_fill(run, tmp_path):
    """Exit 2 naming the file, the column and the field; the server does not start on it, nor reload to it."""
    from .test_serve import InProcess

    good = tmp_path / "good"
    shutil.copytree(run, good)
    edit_json(run, "pipeline.json", lambda doc: _numeric(doc, "age").update(fill=NAN))
    rows = tmp_path / "in.csv"
    rows.write_text((SPECS / "data" / "tiny.csv").read_text().splitlines()[0] + "\n" + ",".join(["1"] * 15) + "\n")
    r = subprocess.run(
        [sys.executable, "-m", "wdcli", "predict", "--model", str(run), "--input", str(rows)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "pipeline.json: column 'age' (features[" in r.stderr, r.stderr
    assert "numeric): fill is nan, not a finite number" in r.stderr and "Traceback" not in r.stderr

    with pytest.raises(ArtifactError, match="fill is nan"):
        Server(ServeConfig(model=str(run.parent), watch=False))
    (run.parent / "LATEST").write_text("good\n")
    shutil.move(good, run.parent / "good")
    s = Server(ServeConfig(model=str(run.parent), watch=False))
    (run.parent / "LATEST").write_text(run.name + "\n")
    with InProcess(s.app()) as client:
        answer = client.post("/reload")
        assert answer.status_code == 409 and "fill is nan" in answer.text, answer.text
        assert client.get("/health").json()["model"] == "good"


@pytest.mark.parametrize("pointer", ["run\x00\n", "\x00"])
def test_a_latest_that_names_no_folder_is_refused(run, pointer):
    """A NUL byte in LATEST was a ValueError: exit 1 in predict, a 500 for every /reload in serve."""
    (run.parent / "LATEST").write_text(pointer)
    refused(run.parent, "LATEST: .*NUL")
