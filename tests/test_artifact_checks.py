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
        ("buckets", "boundaries", lambda b: [float("nan")] * len(b), "not in increasing order"),
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


@pytest.mark.parametrize("pointer", ["run\x00\n", "\x00"])
def test_a_latest_that_names_no_folder_is_refused(run, pointer):
    """A NUL byte in LATEST was a ValueError: exit 1 in predict, a 500 for every /reload in serve."""
    (run.parent / "LATEST").write_text(pointer)
    refused(run.parent, "LATEST: .*NUL")
