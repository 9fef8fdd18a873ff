"""Checks between the sections of a spec (a cross naming an undeclared column, say), run on the raw data so
that they are reported together with the structural problems pydantic finds. What they check against (a
column's kind, which columns are sparse, a cross's name, what the wide part may hold, whether it is used) is
spec/types.py's rules, applied here to the raw data: a check never restates a rule."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import Problem, closest, did_you_mean
from .overrides import problem_at
from .types import (
    Spec,
    cross_key,
    given_or,
    has_wide,
    kind_of,
    numeric_of,
    sparse_of,
    table_encoding,
    wide_choices,
)
from .yaml_lines import Path_, line_of, path_text


class Finding(NamedTuple):
    """What is wrong where in the spec; for a name that is not declared, the name and the declared one most
    like it (its "did you mean"), which the message holds between `head` and `tail`."""

    path: Path_
    head: str
    tail: str = ""
    unknown: str | None = None
    close: str | None = None

    def message(self, hint: str | None = None) -> str:
        if hint is None:
            hint = did_you_mean(self.close)
        return f"{self.head}{hint}{self.tail}"


Found = Iterator[Finding | tuple[Path_, str]]  # (where in the spec, what is wrong there)


def _unknown(path: Path_, what: str, name: str, choices: Any, tail: str = "", quoted: bool = True) -> Finding:
    """A name that is not among `choices`, with the choice most like it."""
    head = f"{what} '{name}'" if quoted else what
    return Finding(path, head, tail, name, closest(name, choices))


def _dict(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _list(x: Any) -> list:
    return x if isinstance(x, list) else []


@dataclass(frozen=True)
class _Declared:
    """What the raw spec declares, read by the spec's rules: its columns and their kinds, its crosses and
    their names."""

    columns: dict[str, Any]
    kinds: dict[str, Any]
    sparse: list[str]
    numeric: list[str]
    crosses: list[dict]
    cross_keys: list[str]

    @staticmethod
    def of(data: dict) -> _Declared:
        columns = data["columns"]
        kinds = {name: kind_of(c) for name, c in columns.items()}
        crosses = [_dict(c) for c in _list(data.get("crosses"))]
        keys = [cross_key(_list(c.get("columns")), c.get("name")) for c in crosses]
        return _Declared(columns, kinds, sparse_of(kinds), numeric_of(kinds), crosses, keys)


def reference_problems(data: dict, file: str, lines: dict[Path_, int], base: Path) -> list[Problem]:
    """Cross-section checks on the raw data, its columns expanded (`types.expand_columns`), so that they run
    even when other parts have structural errors."""
    found = [f if isinstance(f, Finding) else Finding(*f) for f in _references(data)]
    at = _misspelt_declaration(found, set(_dict(data.get("columns"))))
    return [problem_at(file, line_of(lines, path), path_text(path), msg) for path, msg in at]


def _misspelt_declaration(found: list[Finding], declared: set[str]) -> list[tuple[Path_, str]]:
    """Where one unknown name is referenced twice or more and its "did you mean" is a declared column, the
    declaration is likely the misspelt one (a column renamed by a typo under columns:, named rightly in the
    crosses and the embedding sizes): say so beside the hint."""
    named = [f.unknown for f in found if f.close is not None]
    out = []
    for f in found:
        hint = None
        if f.close is not None and f.close in declared and named.count(f.unknown) > 1:
            hint = (
                f" (did you mean '{f.close}'? '{f.unknown}' is named {named.count(f.unknown)} times: if "
                f"columns.{f.close} is the misspelt name, rename it '{f.unknown}')"
            )
        out.append((f.path, f.message(hint)))
    return out


def _references(data: dict) -> Found:
    if "columns" in data and not _dict(data["columns"]) and not isinstance(data["columns"], list):
        yield ("columns",), "declare at least one column"
    if not isinstance(data.get("columns"), dict):
        return  # references to columns cannot be checked without them
    d = _Declared.of(data)
    yield from _label(_dict(data.get("label")), d)
    yield from _grouped_metrics(data)
    yield from _sources(d)
    yield from _crosses(d)
    wide = _dict(data.get("wide"))
    yield from _wide_features(_list(wide.get("features")), d)
    yield from _deep(_dict(data.get("deep")), d)
    yield from _wide_needed(data.get("model", Spec.model_fields["model"].default), wide, d)


def _label(label: dict, d: _Declared) -> Found:
    for key in ("column", "weight"):  # (the group, a user or request id, may well be a feature too)
        if isinstance(label.get(key), str) and label[key] in d.columns:
            yield (
                ("label", key),
                f"'{label[key]}' is also declared as a feature column; remove it from columns "
                "(a model must not see its own label or weight)",
            )


def _grouped_metrics(data: dict) -> Found:
    """gAUC is the mean AUC of label.group's groups: a spec that stops or tunes on it names the groups."""
    if isinstance(_dict(data.get("label")).get("group"), str):
        return
    metrics = {
        ("train", "early_stopping", "metric"): _dict(_dict(data.get("train")).get("early_stopping")).get("metric"),
        ("tune", "metric"): _dict(data.get("tune")).get("metric"),
    }
    for path, metric in metrics.items():
        if metric == "gauc":
            yield (
                path,
                (
                    "gauc is the mean AUC of each group's rows: set label.group (the user or request column), or use "
                    "auc or logloss"
                ),
            )


def _sources(d: _Declared) -> Found:
    for name, col in d.columns.items():
        src = _dict(col).get("source")
        if d.kinds[name] == "bucketized" and isinstance(src, str) and src in d.kinds and d.kinds[src] != "numeric":
            yield ("columns", name, "source"), f"'{src}' is {d.kinds[src]}, not numeric; bucketize a numeric column"


def _crosses(d: _Declared) -> Found:
    for i, (cross, key) in enumerate(zip(d.crosses, d.cross_keys)):
        cols = _list(cross.get("columns"))
        for j, c in enumerate(cols):
            if not isinstance(c, str):
                continue  # not a name: the type check says so
            if c not in d.columns:
                yield _unknown(("crosses", i, "columns", j), "unknown column", c, d.columns)
            elif d.kinds[c] == "numeric":
                yield (
                    ("crosses", i, "columns", j),
                    f"numeric column '{c}' cannot be crossed; add a bucketized column with source: {c} and cross that",
                )
        if len(cols) >= 2 and (key in d.columns or key in d.cross_keys[:i]):
            yield ("crosses", i), f"cross name '{key}' is already used; give this cross a distinct name:"


def _wide_features(features: list, d: _Declared) -> Found:
    choices = wide_choices(d.sparse, d.cross_keys)
    for i, f in enumerate(features):
        if f not in choices:
            why = " (numeric columns feed the deep part; bucketize them for the wide part)" if f in d.numeric else ""
            yield _unknown(("wide", "features", i), "unknown sparse column or cross", f, choices, why)


def _wide_needed(model: Any, wide: dict, d: _Declared) -> Found:
    if not has_wide(model):
        return
    if isinstance(wide.get("features"), list) and not wide["features"]:
        yield ("wide", "features"), "the wide part needs at least one feature (or set model: deep)"
    if not wide.get("features") and not wide_choices(d.sparse, d.cross_keys) and d.columns:
        yield (
            ("columns",),
            "the wide part needs a categorical, bucketized or multivalent column, or a cross (or set model: deep)",
        )


def _deep(deep: dict, d: _Declared) -> Found:
    for i, f in enumerate(_list(deep.get("embed"))):
        if f not in d.sparse:
            yield _unknown(("deep", "embed", i), "unknown sparse column", f, d.sparse)
    for i, f in enumerate(_list(deep.get("dense"))):
        if f not in d.numeric:
            yield _unknown(("deep", "dense", i), "unknown numeric column", f, d.numeric)
    shared = _dict(deep.get("shared"))
    yield from _shared(shared, d)
    embed = given_or(deep["embed"] if isinstance(deep.get("embed"), list) else None, d.sparse)
    for key in _dict(deep.get("embedding_dims")):
        if key in d.numeric:
            yield (
                ("deep", "embedding_dims", key),
                f"'{key}' is a numeric column, which embedding_dims does not size (a number's embedding, where it has "
                "one, is sized by deep.numeric_embedding.dim or deep.numeric_embeddings.<column>.dim): remove this "
                "entry (or declare the column categorical)",
            )
        elif key not in embed and key not in shared:
            path = ("deep", "embedding_dims", key)
            yield _unknown(path, "not an embedded column or shared table", key, [*embed, *shared], quoted=False)
    dense = given_or(deep["dense"] if isinstance(deep.get("dense"), list) else None, d.numeric)
    for key in _dict(deep.get("numeric_embeddings")):
        if key not in dense:
            path = ("deep", "numeric_embeddings", key)
            yield _unknown(path, "not a numeric column of the deep part", key, dense, quoted=False)


def _shared(shared: dict, d: _Declared) -> Found:
    owner: dict[str, str] = {}
    for table, cols in shared.items():
        if not isinstance(cols, list) or len(cols) < 2:
            yield ("deep", "shared", table), "a shared table lists two or more columns"
            continue
        for j, c in enumerate(cols):
            if c not in d.sparse:
                yield _unknown(("deep", "shared", table, j), "unknown sparse column", c, d.sparse)
                continue
            if c in owner:
                yield ("deep", "shared", table, j), f"'{c}' is already in shared table '{owner[c]}'"
            owner[c] = table
        encodings = [table_encoding(_dict(d.columns[c])) for c in cols if c in d.sparse]
        if any(e != encodings[0] for e in encodings):
            yield (
                ("deep", "shared", table),
                "columns sharing a table must be encoded alike (all vocabulary with the same oov_buckets, or the "
                "same hash_buckets / num_ids)",
            )


def path_problems(data: dict, file: str, lines: dict[Path_, int], base: Path) -> list[Problem]:
    problems = []
    d = _dict(data.get("data"))
    for key in ("train", "validation", "test"):
        value = d.get(key)
        patterns = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        for i, pattern in enumerate(patterns):
            # (not text: the type check says so; a file's own name may hold glob characters: data[1]/a.csv)
            if isinstance(pattern, str) and not (glob.glob(str(base / pattern)) or (base / pattern).is_file()):
                path = ("data", key, i) if isinstance(value, list) else ("data", key)
                msg = f"no file matches '{pattern}' (paths are relative to the spec file, in {base})"
                problems.append(problem_at(file, line_of(lines, path), path_text(path), msg))
    return problems
