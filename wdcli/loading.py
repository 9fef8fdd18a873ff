"""Reading a spec file: YAML with line numbers, `--set` overrides, and every problem reported at once.

`load_spec(path, overrides)` returns a `Spec` or raises `SpecError` listing each problem as
`file:line yaml.path: message (did you mean ...?)`. Structural problems come from pydantic; references
between sections (a cross of an undeclared column, say) are checked here on the raw data, so that both
kinds are reported together.
"""

from __future__ import annotations

import difflib
import glob
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .errors import Problem, SpecError
from .spec import SPARSE_KINDS, Spec

Path_ = tuple[str | int, ...]


# ------------------------------------------------------------------------------------- YAML with lines


def _compose(text: str, file: str) -> tuple[Any, dict[Path_, int], list[Problem]]:
    """Parse YAML into plain data plus a map from each YAML path to its 1-based line; flag duplicate keys."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        what = getattr(e, "problem", None) or str(e)
        raise SpecError([Problem(file, line, "", f"not valid YAML: {what}; fix the syntax")]) from None
    lines: dict[Path_, int] = {}
    dupes: list[Problem] = []

    def walk(node, path: Path_):
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value
                if key in seen:
                    dupes.append(
                        Problem(file, key_node.start_mark.line + 1, _fmt(path + (key,)),
                                f"declared twice (first at line {seen[key]}); keep one")
                    )
                seen[key] = key_node.start_mark.line + 1
                walk(value_node, path + (key,))
                lines[path + (key,)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    if root is not None:
        walk(root, ())
    try:
        data = yaml.safe_load(text)
    except yaml.constructor.ConstructorError as e:  # e.g. a !!python/object tag: never built, always refused
        mark = e.problem_mark
        raise SpecError([Problem(file, mark.line + 1 if mark else None, "",
                                 f"not valid YAML for a spec: {e.problem}; use plain values (no !! tags)")]) from None
    return data, lines, dupes


def _fmt(path: Path_) -> str:
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else str(seg))
    return out


def _line(lines: dict[Path_, int], path: Path_) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


# ------------------------------------------------------------------------------------------ overrides


def _parse_key(key: str) -> Path_:
    parts: list[str | int] = []
    for piece in re.split(r"\.|(?=\[)", key):
        if not piece:
            continue
        m = re.fullmatch(r"\[(\d+)\]", piece)
        parts.append(int(m.group(1)) if m else (int(piece) if piece.isdigit() else piece))
    return tuple(parts)


def apply_overrides(data: Any, overrides: list[str], lines: dict[Path_, int]) -> tuple[Any, list[Problem]]:
    """Apply `key.path=value` overrides (values parsed as YAML) to the raw spec data."""
    problems = []
    for item in overrides:
        if "=" not in item:
            problems.append(Problem("--set", None, item, "expected key.path=value, e.g. train.epochs=1"))
            continue
        key, value = item.split("=", 1)
        path = _parse_key(key.strip())
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        node = data
        for i, seg in enumerate(path[:-1]):
            if isinstance(node, dict):
                node = node.setdefault(seg, {} if not isinstance(path[i + 1], int) else [])
            elif isinstance(node, list) and isinstance(seg, int) and seg < len(node):
                node = node[seg]
            else:
                problems.append(Problem("--set", None, key, f"cannot set: '{_fmt(path[: i + 1])}' is not a mapping"))
                break
        else:
            last = path[-1] if path else None
            if isinstance(node, dict):
                node[last] = parsed
            elif isinstance(node, list) and isinstance(last, int) and last < len(node):
                node[last] = parsed
            else:
                problems.append(Problem("--set", None, key, "cannot set: no such list item"))
                continue
            lines[path] = -1  # marks "came from --set"
    return data, problems


# ----------------------------------------------------------------------------------- pydantic problems


def _tag_of(model: type) -> tuple[str, tuple] | None:
    for field in ("kind", "name"):
        f = model.model_fields.get(field)
        if f is not None and typing.get_origin(f.annotation) is typing.Literal:
            return field, typing.get_args(f.annotation)
    return None


def _step(tp: Any, seg: str | int) -> Any:
    """The type found one step into `tp` along a pydantic error location segment."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _step(typing.get_args(tp)[0], seg)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(tp)
        for m in members:
            if isinstance(m, type) and issubclass(m, BaseModel) and (tag := _tag_of(m)) and seg in tag[1]:
                return ("tagged", m)
        for m in members:
            r = _step(m, seg)
            if r is not None:
                return r
        return None
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin is list:
        return typing.get_args(tp)[0]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        f = tp.model_fields.get(seg) if isinstance(seg, str) else None
        return f.annotation if f is not None else None
    return None


def _model_at(loc: tuple) -> type | None:
    tp: Any = Spec
    for seg in loc:
        r = _step(tp, seg)
        if isinstance(r, tuple):
            tp = r[1]  # a tag segment: the union member it selects
        elif r is None:
            return None
        else:
            tp = r
    while typing.get_origin(tp) in (typing.Annotated,):
        tp = typing.get_args(tp)[0]
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _clean_loc(loc: tuple, data: Any) -> Path_:
    """Drop the segments pydantic adds for union members (tags, type names) so the path matches the YAML."""
    out: list[str | int] = []
    node = data
    for seg in loc:
        if isinstance(node, dict) and seg in node:
            out.append(seg)
            node = node[seg]
        elif isinstance(node, list) and isinstance(seg, int) and seg < len(node):
            out.append(seg)
            node = node[seg]
        elif isinstance(node, dict) and not out[-1:] == [seg] and seg not in ("kind", "name") and (
            node.get("kind") == seg or node.get("name") == seg
        ):
            continue  # tag of a tagged union
        elif isinstance(node, (dict, list)):
            out.append(seg)  # a missing key
            node = None
        else:
            break  # a scalar: the rest names union member types
    return tuple(out)


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _message(err: dict) -> str:
    t, loc, inp = err["type"], err["loc"], err.get("input")
    if t == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        hint = _suggest(loc[-1], allowed) or (f"; allowed: {', '.join(allowed)}" if allowed else "")
        return f"unknown key '{loc[-1]}'{hint}"
    if t == "too_short" and loc and loc[-1] == "columns":
        return f"a cross needs two or more columns (got {len(inp) if isinstance(inp, list) else 0})"
    if t == "missing":
        return f"required key '{loc[-1]}' is missing"
    if t == "union_tag_invalid":
        ctx = err.get("ctx", {})
        expected = [s.strip().strip("'") for s in str(ctx.get("expected_tags", "")).split(",")]
        tag = ctx.get("discriminator", "kind").strip("'")
        return f"unknown {tag} '{ctx.get('tag')}'{_suggest(ctx.get('tag'), expected)}; expected one of: {', '.join(expected)}"
    if t == "union_tag_not_found":
        tag = err.get("ctx", {}).get("discriminator", "kind").strip("'")
        return f"'{tag}' is missing; say which {tag} this is"
    msg = err["msg"]
    if t.startswith("value_error"):
        msg = msg.removeprefix("Value error, ")
    if loc and loc[-1] == "columns" and isinstance(inp, list):
        return "should be a mapping of column name to kind (e.g. `age: numeric`), not a list"
    msg = msg.replace("Input should be", "should be")
    if inp is not None and not isinstance(inp, (dict, list)) and t not in ("value_error",):
        msg += f" (got {inp!r})"
    return msg


# ------------------------------------------------------------------------------------------ references


def _check_references(data: dict, file: str, lines, base: Path) -> list[Problem]:
    """Cross-section checks on the raw data (so they run even when other parts have structural errors)."""
    problems: list[Problem] = []

    def add(path: Path_, msg: str):
        line = _line(lines, path)
        problems.append(Problem("--set" if line == -1 else file, None if line == -1 else line, _fmt(path), msg))

    def as_dict(x):
        return x if isinstance(x, dict) else {}

    columns = as_dict(data.get("columns"))
    kinds = {n: (c if isinstance(c, str) else as_dict(c).get("kind")) for n, c in columns.items()}
    sparse = [n for n, k in kinds.items() if k in SPARSE_KINDS]
    numeric = [n for n, k in kinds.items() if k == "numeric"]
    if "columns" in data and not columns and not isinstance(data["columns"], list):
        add(("columns",), "declare at least one column")
    if not isinstance(data.get("columns"), dict):
        return problems  # references to columns cannot be checked without them

    label = as_dict(data.get("label"))
    for key in ("column", "weight", "group"):
        if isinstance(label.get(key), str) and label[key] in columns:
            add(("label", key), f"'{label[key]}' is also declared as a feature column; remove it from columns "
                "(a model must not see its own label, weight or group)")

    for name, col in columns.items():
        col = as_dict(col)
        if kinds[name] == "bucketized" and isinstance(col.get("source"), str):
            src = col["source"]
            if src in kinds and kinds[src] != "numeric":
                add(("columns", name, "source"), f"'{src}' is {kinds[src]}, not numeric; bucketize a numeric column")

    cross_names = []
    for i, cross in enumerate(data.get("crosses") or []):
        cross = as_dict(cross)
        cols = cross.get("columns") if isinstance(cross.get("columns"), list) else []
        for j, c in enumerate(cols):
            if c not in columns:
                add(("crosses", i, "columns", j), f"unknown column '{c}'{_suggest(c, columns)}")
            elif kinds[c] == "numeric":
                add(("crosses", i, "columns", j), f"numeric column '{c}' cannot be crossed; add a bucketized "
                    f"column with source: {c} and cross that")
        key = cross.get("name") or "_x_".join(str(c) for c in cols)
        if len(cols) >= 2 and (key in columns or key in cross_names):
            add(("crosses", i), f"cross name '{key}' is already used; give this cross a distinct name:")
        cross_names.append(key)

    wide_ok = sparse + cross_names
    wide = as_dict(data.get("wide"))
    for i, f in enumerate(wide.get("features") or []):
        if f not in wide_ok:
            why = " (numeric columns feed the deep part; bucketize them for the wide part)" if f in numeric else ""
            add(("wide", "features", i), f"unknown sparse column or cross '{f}'{_suggest(f, wide_ok)}{why}")

    deep = as_dict(data.get("deep"))
    embed = deep.get("embed") if isinstance(deep.get("embed"), list) else sparse
    for i, f in enumerate(deep.get("embed") or []):
        if f not in sparse:
            add(("deep", "embed", i), f"unknown sparse column '{f}'{_suggest(f, sparse)}")
    for i, f in enumerate(deep.get("dense") or []):
        if f not in numeric:
            add(("deep", "dense", i), f"unknown numeric column '{f}'{_suggest(f, numeric)}")
    shared = as_dict(deep.get("shared"))
    owner: dict[str, str] = {}
    for table, cols in shared.items():
        if not isinstance(cols, list) or len(cols) < 2:
            add(("deep", "shared", table), "a shared table lists two or more columns")
            continue
        for j, c in enumerate(cols):
            if c not in sparse:
                add(("deep", "shared", table, j), f"unknown sparse column '{c}'{_suggest(c, sparse)}")
            elif c in owner:
                add(("deep", "shared", table, j), f"'{c}' is already in shared table '{owner[c]}'")
            owner[c] = table
        encodings = {_encoding_key(as_dict(columns.get(c)), as_dict(data.get("defaults"))) for c in cols if c in sparse}
        if len(encodings) > 1:
            add(("deep", "shared", table), "columns sharing a table must be encoded alike (all vocabulary, "
                "or the same hash_buckets / num_ids)")
    for key in as_dict(deep.get("embedding_dims")):
        if key not in embed and key not in shared:
            add(("deep", "embedding_dims", key), f"not an embedded column or shared table{_suggest(key, list(embed) + list(shared))}")

    model = data.get("model", "wide_deep")
    if model in ("wide_deep", "wide") and isinstance(wide.get("features"), list) and not wide["features"]:
        add(("wide", "features"), "the wide part needs at least one feature (or set model: deep)")
    if model in ("wide_deep", "wide") and not wide.get("features") and not wide_ok and columns:
        add(("columns",), "the wide part needs a categorical, bucketized or multivalent column, or a cross "
            "(or set model: deep)")
    return problems


def _encoding_key(col: dict, defaults: dict) -> tuple:
    merged = {**(defaults.get(col.get("kind")) or {}), **col}
    return (merged.get("hash_buckets"), merged.get("num_ids"))


def _check_paths(data: dict, file: str, lines, base: Path) -> list[Problem]:
    problems = []
    d = data.get("data") if isinstance(data.get("data"), dict) else {}
    for key in ("train", "validation", "test"):
        value = d.get(key)
        patterns = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        for i, pattern in enumerate(patterns):
            if not glob.glob(str(base / pattern)):
                path = ("data", key, i) if isinstance(value, list) else ("data", key)
                line = _line(lines, path)
                problems.append(Problem(file if line != -1 else "--set", line if line != -1 else None, _fmt(path),
                    f"no file matches '{pattern}' (paths are relative to the spec file, in {base})"))
    return problems


# ------------------------------------------------------------------------------------------- load_spec


def resolve_patterns(value: str | list[str] | None, base: Path) -> list[str] | None:
    if value is None:
        return None
    patterns = [value] if isinstance(value, str) else value
    return [str((base / p).resolve()) if not Path(p).is_absolute() else p for p in patterns]


def load_spec(path: str | Path, overrides: list[str] | tuple[str, ...] = (), check_paths: bool = True) -> Spec:
    """Read, override and validate a spec file. Raises SpecError with every problem found."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(file, None, "", "no such file; check the path")]) from None
    except UnicodeDecodeError:
        raise SpecError([Problem(file, None, "", "not UTF-8 text; save the spec as UTF-8")]) from None
    except OSError as e:
        raise SpecError([Problem(file, None, "", f"cannot read: {e.strerror}")]) from None
    data, lines, problems = _compose(text, file)
    if data is None:
        raise SpecError([Problem(file, None, "", "the spec is empty; start from specs/tiny.yaml")])
    if not isinstance(data, dict):
        raise SpecError([Problem(file, 1, "", f"the spec must be a mapping of keys (data, label, columns, ...), "
                                 f"not a {type(data).__name__}")])
    data, more = apply_overrides(data, list(overrides), lines)
    problems += more
    base = path.parent.resolve()
    try:
        spec = Spec.model_validate(data)
    except ValidationError as e:
        spec = None
        expanded = Spec._expand_columns(data)
        seen = set()
        for err in e.errors():
            clean = _clean_loc(err["loc"], expanded)
            msg = _message(err)
            if (clean, msg) in seen:
                continue
            seen.add((clean, msg))
            line = _line(lines, clean)
            problems.append(Problem("--set" if line == -1 else file, None if line == -1 else line, _fmt(clean), msg))
    problems += _check_references(Spec._expand_columns(data), file, lines, base)
    if check_paths:
        problems += _check_paths(data, file, lines, base)
    if problems:
        problems.sort(key=lambda p: (p.file != file, p.line or 0))
        raise SpecError(problems)
    assert spec is not None
    d = spec.data
    resolved = d.model_copy(update={
        "train": resolve_patterns(d.train, base),
        "validation": resolve_patterns(d.validation, base),
        "test": resolve_patterns(d.test, base),
    })
    return spec.model_copy(update={"data": resolved, "name": spec.name or path.stem})
