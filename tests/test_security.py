"""Nothing runs that the user did not write: no pickle, no eval, no import strings; YAML tags that would build
Python objects are refused; an artifact refers to nothing outside its folder."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from wdcli.artifact import load_artifact
from wdcli.cli import app
from wdcli.errors import ArtifactError
from wdcli.run import run_training
from wdcli.spec import load_spec

from .conftest import ROOT, SPECS

FORBIDDEN = {
    r"\bimport pickle\b|\bpickle\.": "pickle",
    r"\btorch\.load\(": "torch.load",
    r"\byaml\.load\(|\byaml\.unsafe_load|yaml\.Loader\b|UnsafeLoader": "unsafe YAML loading",
    r"(?<!def )(?<!\.)\beval\(|(?<!\.)\bexec\(": "eval/exec",  # (not module.eval(), a mode switch)
    r"__import__|importlib|import_module": "import strings",
}


def test_the_package_never_unpickles_evals_or_imports_by_name():
    for path in sorted((ROOT / "wdcli").rglob("*.py")):
        code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        for pattern, what in FORBIDDEN.items():
            assert not re.search(pattern, code), f"{path.name} uses {what}"


def test_yaml_tags_that_build_python_objects_are_refused(tmp_path):
    marker = tmp_path / "hacked"
    spec = tmp_path / "s.yaml"
    spec.write_text(
        f"name: !!python/object/apply:os.system ['touch {marker}']\n"
        + (SPECS / "tiny.yaml")
        .read_text()
        .replace("name: tiny\n", "")
        .replace("data/tiny.csv", str(SPECS / "data" / "tiny.csv"))
    )
    r = CliRunner().invoke(app, ["validate", str(spec)])
    assert r.exit_code == 2 and "not valid YAML" in r.stderr, r.output
    assert not marker.exists()


@pytest.fixture
def model(workdir):
    _, folder = run_training(load_spec(SPECS / "tiny.yaml", ["train.epochs=1"]))
    return folder


def test_manifest_naming_a_file_outside_the_folder_is_refused(model):
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["files"]["../../evil.json"] = "0" * 64
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="outside the model folder"):
        load_artifact(model)


def test_latest_pointing_outside_is_refused(model, workdir):
    (workdir / "runs" / "LATEST").write_text("../../somewhere\n")
    with pytest.raises(ArtifactError, match="points outside its folder"):
        load_artifact()


def test_vocabulary_file_outside_the_folder_is_refused(model):
    from wdcli.features import load_pipeline

    pipeline = json.loads((model / "pipeline.json").read_text())
    feature = next(f for f in pipeline["features"] if "values" in f)
    feature["values"] = {"parquet": "../outside.parquet"}
    (model / "pipeline.json").write_text(json.dumps(pipeline))
    with pytest.raises(ArtifactError, match="points outside the model folder"):
        load_pipeline(model, load_spec(SPECS / "tiny.yaml"))


def test_spec_paths_resolve_relative_to_the_spec_file(workdir):
    spec = load_spec(SPECS / "tiny.yaml")  # run from an unrelated folder
    assert spec.data.train == [str(SPECS / "data" / "tiny.csv")] or spec.data.train == str(SPECS / "data" / "tiny.csv")


LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")
)


@pytest.mark.parametrize(
    "text,message",
    [
        (LAUGHS, "its aliases (*name) expand to"),  # 9^9 values from ~400 bytes: refused, not expanded
        ("a: &a [*a]\n", "its aliases (*name) expand to"),  # a value that contains itself
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
    ids=["billion laughs", "self reference", "deep nesting"],
)
def test_yaml_that_expands_or_nests_without_bound_is_refused_at_once(tmp_path, text, message):
    import time

    from wdcli.errors import SpecError

    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    t0 = time.perf_counter()
    with pytest.raises(SpecError, match=re.escape(message)):
        load_spec(spec)
    assert time.perf_counter() - t0 < 1.0  # (~0.05 s; expanding the laughs took minutes)
    r = CliRunner().invoke(app, ["validate", str(spec)])
    assert r.exit_code == 2 and message in r.stderr, r.output
