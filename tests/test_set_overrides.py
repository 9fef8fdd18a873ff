"""`--set` at every depth of the schema, read from the spec's own types: every key can be set (to a value
other than the spec's, and reads back) in a spec that does not mention it, under a column written in short form, under every kind of
column and optimizer; a misspelled key anywhere is blamed on --set with "did you mean"; and no problem that
comes from --set is ever blamed on a line of the file."""

from __future__ import annotations

import itertools
import json
import types
import typing

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from wdcli.errors import SpecError
from wdcli.spec import load_spec
from wdcli.spec.types import Spec
from wdcli.spec.yaml_lines import path_text

SPEC = """\
data: {train: x.csv}
label: {column: y}
columns:
  n: numeric
  n2: numeric
  b: {kind: bucketized, source: n, boundaries: [1, 2]}
  c: categorical
  m: {kind: multivalent, separator: "|"}
crosses:
  - {columns: [c, b]}
"""
COLUMN_OF_KIND = {"numeric": "n", "bucketized": "b", "categorical": "c", "multivalent": "m"}


def _members(annotation) -> list[type[BaseModel]]:
    """The models of a tagged union (Annotated[A | B, Field(discriminator=...)]), or []."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for m in typing.get_args(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    return []


def _tag(model: type[BaseModel]) -> tuple[str, str]:
    name = "kind" if "kind" in model.model_fields else "name"
    return name, typing.get_args(model.model_fields[name].annotation)[0]


def cases() -> list[tuple[tuple, str, object, list[str]]]:
    """(path, key, its field, the overrides that select its union member) for every key of the schema."""
    out = []

    def walk(model, prefix, pre):
        for key, field in model.model_fields.items():
            path = prefix + (key,)
            out.append((path, key, field, pre))
            members = _members(field.annotation)
            if path == ("columns",):
                for member in _members(typing.get_args(field.annotation)[1]):
                    walk(member, ("columns", COLUMN_OF_KIND[_tag(member)[1]]), pre)
            elif path == ("crosses",):
                walk(typing.get_args(field.annotation)[0], ("crosses", 0), pre)
            elif members:
                for member in members:
                    tag, value = _tag(member)
                    walk(member, path, pre + [f"{path_text(path)}.{tag}={value}"])
            elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                walk(field.annotation, path, pre)

    walk(Spec, (), [])
    return out


CASES = cases()


def load(tmp_path, overrides):
    f = tmp_path / "s.yaml"
    f.write_text(SPEC)
    return load_spec(f, overrides, check_paths=False)


def problems(tmp_path, overrides) -> list:
    with pytest.raises(SpecError) as e:
        load(tmp_path, overrides)
    return e.value.problems


def test_the_sweep_reaches_every_depth():
    depths = {len(p) for p, *_ in CASES}
    assert max(depths) >= 3 and len(CASES) > 80
    assert ("columns", "c", "min_count") in [p for p, *_ in CASES]  # under a short-form column
    assert ("train", "deep_optimizer", "momentum") in [p for p, *_ in CASES]  # under an optimizer's kind


def candidates(annotation) -> list:
    """Values of a type, read from the type: a few of each kind, so that one differs from any default. Strings
    are the names of SPEC's columns first (most keys that take text name a column), then other words."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return candidates(args[0])
    if origin in (typing.Union, types.UnionType):
        return [v for a in args for v in candidates(a)]
    if origin is typing.Literal:
        return list(args)
    if origin is tuple:  # (a range: [low, high])
        return [sorted(candidates(args[0])[:2])]
    if origin is list:
        values = candidates(args[0])
        return [values[:1], values[:2]] + [[v] for v in values[1:5]]  # (a pair: a cross's, a shared table's)
    if origin is dict:
        return [{k: v} for k in candidates(args[0])[:3] for v in candidates(args[1])[:2]]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = annotation.model_fields
        needed = [[(k, v) for v in candidates(f.annotation)[:6]] for k, f in fields.items() if f.is_required()]
        return [
            {**dict(required), k: v}
            for required in list(itertools.product(*needed))[:6]
            for k, f in fields.items()
            if not f.is_required()
            for v in candidates(f.annotation)[:2]
        ]
    simple = {
        type(None): [None],
        bool: [True, False],
        int: [3, 2, 7, 1, 0],
        float: [0.5, 3.0, 0.25, 2.0],
        str: ["c", "m", "n", "n2", "b", "other", "cpu", ";"],
        dict: [{}],
        typing.Any: [1],
    }
    return simple.get(annotation, [])


def at(spec, path):
    for seg in path:
        spec = spec[seg] if isinstance(seg, int) or isinstance(spec, dict) else getattr(spec, seg)
    return spec


FILES = ("train", "validation", "test")


def as_loaded(path: tuple, value, folder):
    """A value as load_spec holds it: data files as lists of paths resolved against the spec's folder."""
    if path[:1] == ("data",) and len(path) == 1:
        return value.model_copy(update={k: as_loaded(("data", k), getattr(value, k), folder) for k in FILES})
    if len(path) == 2 and path[0] == "data" and path[1] in FILES and value is not None:
        return [str(folder / v) for v in ([value] if isinstance(value, str) else value)]
    return value


@pytest.mark.parametrize("path,key,field,pre", CASES, ids=[path_text(c[0]) + str(len(c[3])) for c in CASES])
def test_every_key_set_to_another_value_reads_back(path, key, field, pre, tmp_path):
    """Each key is set to a value of its type other than the one the spec has, and the loaded spec holds that
    value: an override that is accepted but not applied fails here. A value that needs another key to change
    too (a rule across keys, not the key's own type) skips, saying which rule."""
    if key in ("kind", "name") and _members(field.annotation) == [] and field.is_required():
        pytest.skip("a tag of a kind: the pre-overrides set it, and each kind's keys are swept")
    if path in (("columns",), ("crosses",)):
        pytest.skip("a whole section of named items: each item's keys are swept")
    check = TypeAdapter(typing.Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation)
    before = at(load(tmp_path, pre), path)
    refused = []
    for value in candidates(field.annotation):
        try:
            expected = check.validate_python(value)
        except ValidationError:
            continue  # (not a value of this key's type and bounds)
        if expected == before:
            continue
        try:
            spec = load(tmp_path, [*pre, f"{path_text(path)}={json.dumps(value)}"])
        except SpecError as e:
            refused += [(value, p) for p in e.problems]
            continue
        assert at(spec, path) == as_loaded(path, expected, tmp_path), (value, at(spec, path))
        return
    assert refused, f"no value of {field.annotation} to try: teach candidates() one"
    own = path_text(path)
    if all(p.path == own or p.path.startswith((own + ".", own + "[")) for _, p in refused):
        raise AssertionError(f"every value tried was refused: {[(v, str(p)) for v, p in refused]}")
    value, problem = next((v, p) for v, p in refused if not p.path.startswith(own))
    pytest.skip(f"{own}={json.dumps(value)} needs another key: {problem}")


@pytest.mark.parametrize("path,key,field,pre", CASES, ids=[path_text(c[0]) + str(len(c[3])) for c in CASES])
def test_a_misspelled_key_at_any_depth_is_blamed_on_set(path, key, field, pre, tmp_path):
    typo = path_text(path[:-1] + (key + "x",))
    got = problems(tmp_path, [*pre, f"{typo}=1"])
    assert [str(p) for p in got] == [f"--set {typo}: unknown key '{key}x' (did you mean '{key}'?)"]


@pytest.mark.parametrize("path,key,field,pre", CASES, ids=[path_text(c[0]) + str(len(c[3])) for c in CASES])
def test_a_key_under_a_value_is_blamed_on_set(path, key, field, pre, tmp_path):
    default = field.get_default(call_default_factory=True)
    if isinstance(default, (BaseModel, dict)) or key in ("columns", "crosses", "data", "label"):
        pytest.skip("a mapping takes keys: the misspelled-key test's case")
    got = problems(tmp_path, [*pre, f"{path_text(path)}.deeper=1"])
    assert got and all(p.file == "--set" for p in got), [str(p) for p in got]


def test_set_messages_name_set_and_say_what_to_do(tmp_path):
    def says(override):
        return [str(p) for p in problems(tmp_path, [override])]

    assert says("columns.c.min_count=0") == [
        "--set columns.c.min_count: should be a whole number of 1 or more, or auto (got 0)"
    ]
    assert says("label.column.x=1") == [
        "--set label.column.x: cannot set: 'label.column' is the value 'y', not a mapping; set 'label.column' itself"
    ]
    assert says("crosses[3].hash_buckets=9") == [
        "--set crosses[3].hash_buckets: cannot set: 'crosses' has no item "
        "[3]: it has 1 item (crosses[0] to [0]); [1] adds one"
    ]
    assert says("crosses.name=x") == [
        "--set crosses.name: cannot set: 'crosses' is a list; pick an item by its index, e.g. crosses[0]"
    ]
    assert says("name=yes") == [
        '--set name: should be text: YAML read unquoted yes as the boolean true; quote it to keep it text: "yes"'
    ]
    assert says("columns.c.kind=categorial")[0].startswith("--set columns.c: unknown kind 'categorial'")
    assert says("train.epochs") == ["--set train.epochs: expected KEY=VALUE, e.g. --set train.epochs=1"]
    assert says("train.early_stopping={patience:5}") == [  # (a flow mapping's key and value, no space between)
        "--set train.early_stopping.patience:5: unknown key 'patience:5': YAML reads 'patience:5' as one word; "
        "write a space after the ':'"
    ]


def test_a_problem_the_file_and_set_make_together_names_both(tmp_path):
    assert [str(p) for p in problems(tmp_path, ["columns.b.boundaries=null"])] == [
        f"{tmp_path / 's.yaml'}:6 columns.b: give exactly one of boundaries or quantiles (after --set "
        "columns.b.boundaries)"
    ]


def test_set_expands_short_forms_adds_list_items_and_keeps_default_kinds(tmp_path):
    spec = load(
        tmp_path,
        [
            "columns.c.min_count=3",
            "crosses[1]={columns: [c, m]}",
            "train.wide_optimizer.alpha=0.5",
            'label.positive="yes"',
        ],
    )
    assert spec.columns["c"].kind == "categorical" and spec.columns["c"].min_count == 3
    assert [x.columns for x in spec.crosses] == [["c", "b"], ["c", "m"]]
    assert spec.train.wide_optimizer.name == "ftrl" and spec.train.wide_optimizer.alpha == 0.5
    assert spec.label.positive == "yes"


def short_form_places() -> list[tuple[tuple, str, str, list[str]]]:
    """(place, tag, kind, the overrides that select its union member) for every place the schema holds a model
    with a tag (`kind` or `name`): a field, a mapping's value (a column: one of each kind), a list's item; with
    each of its kinds that needs no other key. These are where the YAML might write the kind alone."""
    out = []
    for path, _, field, pre in CASES:
        annotation, place = field.annotation, path
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin in (dict, list):
            annotation, place = args[-1], path + ("n" if origin is dict else 0,)
        whole = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        for model in [annotation] if whole else _members(annotation):
            tag = next((t for t in ("kind", "name") if t in model.model_fields), None)
            for kind in typing.get_args(model.model_fields[tag].annotation) if tag else ():
                try:
                    model.model_validate({tag: kind})
                except ValidationError:
                    continue  # (this kind needs more keys than its tag)
                at_ = ("columns", COLUMN_OF_KIND[kind]) if path == ("columns",) else place
                if (at_, tag, kind, pre) not in out:
                    out.append((at_, tag, kind, pre))
    return out


SHORT = short_form_places()


def takes_short_form(place: tuple, kind: str, pre: list[str], folder, overrides=()):
    """The spec loaded with the kind alone at `place` (and `overrides` after), or None if the YAML refuses it."""
    raw = yaml.safe_load(SPEC)
    node = raw
    for seg in place[:-1]:
        node = node.setdefault(seg, {})
    node[place[-1]] = kind
    f = folder / "short.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        load_spec(f, pre, check_paths=False)
    except SpecError:
        return None
    return load_spec(f, [*pre, *overrides], check_paths=False)


@pytest.mark.parametrize("place,tag,kind,pre", SHORT, ids=[f"{path_text(s[0])}:{s[2]}" for s in SHORT])
def test_set_reaches_under_every_short_form_the_yaml_takes(place, tag, kind, pre, tmp_path):
    """Wherever the spec may write a section's kind alone (`interaction: dot`), `--set` descends into it: a new
    block with a short form that overrides.py does not see fails here."""
    spec = takes_short_form(place, kind, pre, tmp_path, [f"{path_text(place)}.{tag}={kind}"])
    if spec is None:
        pytest.skip("the YAML does not take the kind alone here")
    assert getattr(at(spec, place), tag) == kind


def test_the_short_form_sweep_finds_the_known_short_forms(tmp_path):
    taken = {path_text(p) for p, _, kind, pre in SHORT if takes_short_form(p, kind, pre, tmp_path) is not None}
    known = {"columns.n", "columns.c", "columns.m", "deep.interaction", "deep.numeric_embedding"}
    assert known | {"deep.numeric_embeddings.n", "train.schedule"} <= taken, taken


def test_a_column_whose_name_holds_dots_is_set_by_quoting_it(tmp_path):
    """R's tables name columns `sleep.hours`: `--set columns.sleep.hours.min_count=3` cannot name it (a walk found
    no escape), and says how; `columns."sleep.hours".KEY` and `columns.'sleep.hours'.KEY` do, and messages write
    such a name quoted, as --set takes it."""
    from wdcli.spec.overrides import parse_key
    from wdcli.spec.yaml_lines import path_text

    assert parse_key('columns."sleep.hours".min_count') == ("columns", "sleep.hours", "min_count")
    assert parse_key("columns.'a.b'.quantiles") == ("columns", "a.b", "quantiles")
    assert parse_key("crosses[0].columns[1]") == ("crosses", 0, "columns", 1)
    assert parse_key('columns."2019".kind') == ("columns", "2019", "kind")  # (quoted: a name, never an index)
    assert path_text(("columns", "sleep.hours", "clip")) == 'columns."sleep.hours".clip'
    (tmp_path / "d.csv").write_text("sleep.hours,y\n1,0\n2,1\n")
    spec = tmp_path / "s.yaml"
    spec.write_text('data: {train: d.csv}\nlabel: {column: y}\ncolumns: {"sleep.hours": numeric}\n')
    assert load_spec(spec, ['columns."sleep.hours".clip=[0, 5]']).columns["sleep.hours"].clip == (0.0, 5.0)
    with pytest.raises(SpecError) as e:
        load_spec(spec, ["columns.sleep.hours.clip=[0, 5]"])
    assert 'quote it: columns."sleep.hours".KEY=VALUE' in str(e.value)
    with pytest.raises(SpecError) as e:
        load_spec(spec, ['columns."sleep.hours".clip=5'])
    assert 'columns."sleep.hours".clip' in str(e.value)
