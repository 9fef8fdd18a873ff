"""The spec language: every shipped spec validates; bad specs report every problem with its line."""

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wdcli.errors import SpecError
from wdcli.spec import Spec, load_spec

from .conftest import SPECS

SHIPPED = sorted(SPECS.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_spec_validates(path):
    spec = load_spec(path)
    assert spec.name
    assert spec.wide_features() or spec.model == "deep"


def _problems(tmp_path: Path, text: str, overrides=()) -> list[str]:
    f = tmp_path / "s.yaml"
    f.write_text(text)
    with pytest.raises(SpecError) as e:
        load_spec(f, list(overrides), check_paths=False)
    return [str(p) for p in e.value.problems]


BASE = """data: {train: x.csv}
label: {column: y}
columns:
  age: numeric
  occupation: categorical
  education: {kind: categorical, min_count: 2}
"""


def test_all_problems_reported_together_with_lines(tmp_path):
    text = (
        BASE
        + """crosses:
  - columns: [education, ocupation]
  - columns: [age, education]
  - columns: [education]
deep: {embedding_dim: 0, hidden: [8], dropuot: 0.1}
"""
    )
    got = _problems(tmp_path, text)
    joined = "\n".join(got)
    assert "s.yaml:8 crosses[0].columns[1]: unknown column 'ocupation' (did you mean 'occupation'?)" in joined
    assert "s.yaml:9 crosses[1].columns[0]: numeric column 'age' cannot be crossed" in joined
    assert "s.yaml:10 crosses[2].columns: a cross needs two or more columns (got 1)" in joined
    assert "s.yaml:11 deep.embedding_dim: should be greater than 0" in joined
    assert "s.yaml:11 deep.dropuot: unknown key 'dropuot' (did you mean 'dropout'?)" in joined
    assert len(got) == 5


def test_unknown_kind_and_keys_suggest(tmp_path):
    got = _problems(tmp_path, BASE.replace("age: numeric", "age: {kind: numerc, fil: 0}") + "trian: {}\n")
    assert any("columns.age: unknown kind 'numerc' (did you mean 'numeric'?)" in p for p in got)
    assert any("trian: unknown key 'trian' (did you mean 'train'?)" in p for p in got)


def test_column_declared_twice(tmp_path):
    got = _problems(tmp_path, BASE + "  age: categorical\n")
    assert any(":7 columns.age: declared twice (first at line 4)" in p for p in got)


def test_wrong_types_and_shapes(tmp_path):
    assert _problems(tmp_path, "- a\n- b\n") == [
        f"{tmp_path / 's.yaml'}:1: the spec must be a mapping of keys (data, label, columns, ...), not a list"
    ]
    assert "the spec is empty" in _problems(tmp_path, "")[0]
    assert "not valid YAML" in _problems(tmp_path, "data: [unclosed\n")[0]
    got = _problems(tmp_path, BASE + "train: {epochs: many}\n")
    assert any("train.epochs: should be a valid integer" in p for p in got)


def test_references_checked(tmp_path):
    text = (
        BASE
        + """label: {column: age}
wide: {features: [occupation, age]}
deep: {embed: [educaton], dense: [occupation], shared: {t: [occupation, nothere]}}
"""
    )
    got = "\n".join(_problems(tmp_path, text.replace("label: {column: y}\n", "")))
    assert "label.column: 'age' is also declared as a feature column" in got
    assert "wide.features[1]: unknown sparse column or cross 'age'" in got
    assert "deep.embed[0]: unknown sparse column 'educaton' (did you mean 'education'?)" in got
    assert "deep.dense[0]: unknown numeric column 'occupation'" in got
    assert "deep.shared.t[1]: unknown sparse column 'nothere'" in got


def test_overrides_apply_and_validate(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(BASE)
    spec = load_spec(f, ["train.epochs=1", "deep.hidden=[4, 2]", "columns.education.min_count=7"], check_paths=False)
    assert spec.train.epochs == 1 and spec.deep.hidden == [4, 2] and spec.columns["education"].min_count == 7
    got = _problems(tmp_path, BASE, ["train.epochs=0", "train.bogus=1", "nonsense"])
    assert "--set train.epochs: should be greater than 0 (got 0)" in got
    assert any(p.startswith("--set train.bogus: unknown key 'bogus'") for p in got)
    assert any("expected KEY=VALUE" in p for p in got)


def test_data_path_missing_is_reported_with_line(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(BASE)
    with pytest.raises(SpecError) as e:
        load_spec(f)
    assert str(e.value.problems[0]).startswith(f"{f}:1 data.train: no file matches 'x.csv'")


def test_defaults_and_shorthand(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(BASE + "defaults: {categorical: {missing: ['?'], min_count: 3}}\n")
    spec = load_spec(f, check_paths=False)
    assert spec.columns["occupation"].missing == ["?"] and spec.columns["occupation"].min_count == 3
    assert spec.columns["education"].min_count == 2  # the column's own setting wins


def test_paths_resolve_relative_to_spec_file():
    spec = load_spec(SPECS / "tiny.yaml")
    assert spec.data.train == [str((SPECS / "data" / "tiny.csv").resolve())]


def test_json_schema_is_complete():
    schema = Spec.model_json_schema()
    assert {"data", "label", "columns", "crosses", "wide", "deep", "model", "train"} <= set(schema["properties"])


# any YAML value where a section expects a mapping, a list or a name: the checks between sections must report
# it (or leave it to the type check), never fail on it
_ANY = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 3) | st.sampled_from(["age", "occupation", "categorical", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["kind", "a", "age"]), inner),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sections=st.dictionaries(
        st.sampled_from(["columns", "crosses", "wide", "deep", "label", "defaults", "model", "data"]),
        _ANY | st.fixed_dictionaries({}, optional={k: _ANY for k in ("features", "embed", "shared", "columns")}),
        max_size=4,
    ),
    column=_ANY,
)
def test_garbage_in_any_section_is_a_problem_not_a_crash(tmp_path, sections, column):
    raw = {"data": {"train": "x.csv"}, "label": {"column": "y"}, "columns": {"age": "numeric", "c": column}}
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({**raw, **sections}))
    try:
        load_spec(f)
    except SpecError as e:
        assert e.problems
