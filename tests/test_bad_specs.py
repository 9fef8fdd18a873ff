"""The corpus of bad specs under tests/corpus/specs: each gives exit 2, no traceback, and a message naming the
file, the line and YAML path (or the data file and column), and what to do. Nothing is written."""

from __future__ import annotations

import polars as pl
import pytest
from typer.testing import CliRunner

from wdcli.cli import app

from .conftest import ROOT

CORPUS = ROOT / "tests" / "corpus" / "specs"
runner = CliRunner()
DATA = str(CORPUS / "data.csv")

# file -> the lines its error must include ({f} is the spec's path)
EXPECTED = {
    "not_yaml": ["{f}:3: not valid YAML: expected ',' or '}}', but got ':'; fix the syntax"],
    "a_list": ["{f}:1: the spec must be a mapping of keys (data, label, columns, ...), not a list"],
    "empty": ["{f}: the spec is empty; start from specs/tiny.yaml"],
    "python_tag": [
        "{f}:1: not valid YAML for a spec: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'; use plain values (no !! tags)"
    ],
    "unknown_key_top": ["{f}:13 crosess: unknown key 'crosess' (did you mean 'crosses'?)"],
    "unknown_key_data": [
        "{f}:3 data.trian: unknown key 'trian' (did you mean 'train'?)",
        "{f}:2 data.train: required key 'train' is missing",
    ],
    "unknown_key_split": ["{f}:4 data.split.sed: unknown key 'sed' (did you mean 'seed'?)"],
    "unknown_key_label": ["{f}:7 label.postive: unknown key 'postive' (did you mean 'positive'?)"],
    "unknown_key_column": ["{f}:9 columns.age.transfrom: unknown key 'transfrom' (did you mean 'transform'?)"],
    "unknown_key_cross": ["{f}:15 crosses[0].hash_bucket: unknown key 'hash_bucket' (did you mean 'hash_buckets'?)"],
    "unknown_key_wide": ["{f}:17 wide.feature: unknown key 'feature' (did you mean 'features'?)"],
    "unknown_key_deep": ["{f}:18 deep.hiden: unknown key 'hiden' (did you mean 'hidden'?)"],
    "unknown_key_train": ["{f}:20 train.epoch: unknown key 'epoch' (did you mean 'epochs'?)"],
    "unknown_key_optimizer": ["{f}:21 train.wide_optimizer.alpah: unknown key 'alpah' (did you mean 'alpha'?)"],
    "unknown_key_checkpoint": ["{f}:21 train.checkpoint.every: unknown key 'every' (did you mean 'every_steps'?)"],
    "unknown_kind": [
        "{f}:11 columns.education: unknown kind 'categorial' (did you mean 'categorical'?); "
        "expected one of: numeric, bucketized, categorical, multivalent"
    ],
    "kind_glued": [
        "{f}:9 columns.age: 'kind' is missing: YAML reads 'kind:numeric' as one word; write a space after the ':'"
    ],
    "unknown_optimizer": [
        "{f}:21 train.wide_optimizer: unknown name 'ftlr' (did you mean 'ftrl'?); "
        "expected one of: ftrl, adagrad, adam, adamw, sgd"
    ],
    "wrong_type_epochs": [
        "{f}:20 train.epochs: should be a valid integer, unable to parse string as an integer (got 'ten')"
    ],
    "wrong_type_hidden": ["{f}:18 deep.hidden: should be a valid list (got 16)"],
    "wrong_type_dim": [
        "{f}:17 deep.embedding_dim: should be a valid integer, got a number with a fractional part (got 4.5)"
    ],
    "wrong_type_boundaries": ["{f}:10 columns.age_buckets.boundaries: should be a valid list (got 'thirty')"],
    "wrong_type_columns": [
        "{f}:8 columns: should be a mapping of column name to kind (e.g. `age: numeric`), not a list"
    ],
    "duplicate_column": ["{f}:12 columns.education: declared twice (first at line 11); keep one"],
    "cross_of_undeclared": ["{f}:14 crosses[0].columns[1]: unknown column 'ocupation' (did you mean 'occupation'?)"],
    "embedding_dim_zero": ["{f}:17 deep.embedding_dim: should be greater than 0 (got 0)"],
    "embedding_dims_zero": ["{f}:18 deep.embedding_dims.education: should be greater than 0 (got 0)"],
    "missing_data_path": [
        f"{{f}}:3 data.train: no file matches 'nothere.csv' (paths are relative to the spec file, in {CORPUS})"
    ],
    "split_too_large": ["{f}:4 data.split: validation + test must leave some rows to train on (sum < 1)"],
    "split_time_and_key": [
        "{f}:4 data.split: give key or time, not both: key keeps each education in one part, time splits by when "
        "rows happened (for each education's latest rows: per: education)"
    ],
    "gauc_without_group": [
        "{f}:21 train.early_stopping.metric: gauc is the mean AUC of each group's rows: set label.group (the user "
        "or request column), or use auc or logloss"
    ],
    # a value must be one row of a shared table in each column: a vocabulary's ids start after its oov buckets
    "shared_oov_unlike": [
        "{f}:14 deep.shared.jobs: columns sharing a table must be encoded alike (all vocabulary with the same "
        "oov_buckets, or the same hash_buckets / num_ids)"
    ],
    # problems only the data can show: the data file, the YAML path and the column are named
    "bucketized_source_undeclared": [
        f"{DATA} (training rows): missing column 'aeg' (needed by columns.age_buckets.source) (did you mean 'age'?)"
    ],
    "label_column_absent": [f"{DATA} (training rows): missing column 'salary' (needed by label.column)"],
    "missing_yaml_boolean": [
        "{f}:12 columns.occupation.missing[1]: should be text: YAML read unquoted no as the "
        'boolean false; quote it to keep it text: "no"'
    ],
    "positive_yaml_boolean": [
        f"{DATA} (training rows): label.positive is the boolean true, but column 'income' "
        "holds ['<=50K', '>50K']: YAML reads unquoted yes, no, on, off, true and false as "
        'booleans; quote the value to keep it text: positive: "yes"'
    ],
    "positive_never_occurs": [
        f"{DATA} (training rows): label.positive '>100K' never occurs in column 'income' "
        "(values: ['<=50K', '>50K']); fix label.positive"
    ],
}


def test_the_corpus_and_the_expectations_match():
    assert {p.stem for p in CORPUS.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("command", ["validate", "train"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_spec(name, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = CORPUS / f"{name}.yaml"
    r = CliRunner().invoke(app, [command, str(spec)] + (["-q"] if command == "train" else []))
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    text = " ".join(r.stderr.split())  # rich may wrap long lines
    for line in EXPECTED[name]:
        assert line.format(f=spec) in text, r.stderr
    assert not (tmp_path / "runs").exists(), "nothing is written for a bad spec"


def test_a_column_misspelt_where_it_is_declared_is_said_to_be(tmp_path):
    """A column renamed by a typo under columns: (teacher_rce), named rightly in a cross and the embedding sizes:
    the hint says the declaration may be the misspelt one; a name misspelt once keeps the plain hint."""
    from wdcli.errors import SpecError
    from wdcli.spec import load_spec

    pl.DataFrame({"teacher_race": ["a"], "grade": ["k"], "y": [1]}).write_csv(tmp_path / "d.csv")
    (tmp_path / "s.yaml").write_text(
        "data: {train: d.csv}\nlabel: {column: y}\ncolumns: {teacher_rce: categorical, grade: categorical}\n"
        "crosses: [{columns: [grade, teacher_race], hash_buckets: 10}]\ndeep: {embedding_dims: {teacher_race: 4}}\n"
    )
    with pytest.raises(SpecError) as e:
        load_spec(tmp_path / "s.yaml")
    hint = "(did you mean 'teacher_rce'? 'teacher_race' is named 2 times: if columns.teacher_rce is the misspelt"
    assert str(e.value).count(hint) == 2
    (tmp_path / "s.yaml").write_text(
        "data: {train: d.csv}\nlabel: {column: y}\ncolumns: {teacher_race: categorical, grade: categorical}\n"
        "crosses: [{columns: [grade, teacher_rce], hash_buckets: 10}]\n"
    )
    with pytest.raises(SpecError, match=r"unknown column 'teacher_rce' \(did you mean 'teacher_race'\?\)$"):
        load_spec(tmp_path / "s.yaml")


def test_a_spec_of_numbers_alone_is_a_deep_model_unless_it_asks_for_the_wide_part(tmp_path):
    """Every column a number and `model` unsaid: the wide part would hold nothing, so the model is the deep part
    alone (a new user's walk: such a spec was refused, 'the wide part needs a categorical ... column'); asked for
    by name, wide_deep is still refused with that message."""
    (tmp_path / "d.csv").write_text("a,b,y\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(200)))
    (tmp_path / "s.yaml").write_text("data: {train: d.csv}\nlabel: {column: y}\ncolumns: {a: numeric, b: numeric}\n")
    r = runner.invoke(app, ["validate", str(tmp_path / "s.yaml")])
    assert r.exit_code == 0 and "model: deep" in r.output, r.output
    r = runner.invoke(app, ["validate", str(tmp_path / "s.yaml"), "--set", "model=wide_deep"])
    assert r.exit_code == 2 and "the wide part needs a categorical, bucketized or multivalent column" in r.output
    with_a_category = tmp_path / "c.yaml"
    with_a_category.write_text((tmp_path / "s.yaml").read_text().replace("b: numeric", "b: categorical"))
    r = runner.invoke(app, ["validate", str(with_a_category)])
    assert r.exit_code == 0 and "model: wide_deep" in r.output, r.output
