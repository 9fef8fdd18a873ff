"""Reading a spec file: YAML with line numbers, `--set` overrides, and every problem reported at once.

`load_spec(path, overrides)` returns a `Spec` or raises `SpecError` listing each problem as
`file:line yaml.path: message (did you mean ...?)`. Structural problems come from pydantic; references
between sections (a cross of an undeclared column, say) are checked here on the raw data, so that both
kinds are reported together.
"""

from __future__ import annotations

import copy
import functools
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ..errors import Problem, SpecError, closest, suggest
from .overrides import FROM_SET, apply_overrides, problem_at
from .references import path_problems, reference_problems
from .types import Spec, expand_columns, kind_of
from .yaml_lines import Path_, compose, line_of, path_text, read_as_text

# ----------------------------------------------------------------------------------- pydantic problems


def _tag_of(model: type[BaseModel]) -> tuple[str, tuple] | None:
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


def _model_at(loc: tuple) -> type[BaseModel] | None:
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


def _unknown_key_hint(key: str, allowed: list[str], parent: tuple) -> str:
    """What an unknown key may have meant: a close key (`column`: 'columns') and, at the top, a section's key of
    that name (`seed`: train.seed, tune.seed), as one did-you-mean; else the keys allowed."""
    close = closest(key, allowed)
    meant = [f"'{close}'"] if close is not None else []
    if not parent:
        meant += [
            f"{name}.{key}" for name in Spec.model_fields if key in getattr(_model_at((name,)), "model_fields", {})
        ]
    if meant:
        return f" (did you mean {' or '.join(meant)}?)"
    return f"; allowed: {', '.join(allowed)}" if allowed else ""


def _clean_loc(loc: tuple, data: Any) -> Path_:
    """Drop the segments pydantic adds for union members (tags, type names) so the path matches the YAML."""
    out: list[str | int] = []
    node = data
    for seg in loc:
        if isinstance(node, dict) and seg in node:
            seg = next(k for k in node if k == seg)  # the key itself (pydantic writes the key True as 1)
            out.append(seg)
            node = node[seg]
        elif isinstance(node, list) and isinstance(seg, int) and seg < len(node):
            out.append(seg)
            node = node[seg]
        elif (
            isinstance(node, dict)
            and not out[-1:] == [seg]
            and seg not in ("kind", "name")
            and (node.get("kind") == seg or node.get("name") == seg)
        ):
            continue  # tag of a tagged union
        elif isinstance(node, (dict, list)):
            out.append(seg)  # a missing key
            node = None
        else:
            break  # a scalar: the rest names union member types
    return tuple(out)


def _from_defaults(path: Path_, data: dict) -> Path_:
    """`columns.X.key` as `defaults.KIND.key` when the column's value of `key` came from the defaults."""
    if len(path) < 3 or path[0] != "columns":
        return path
    col = data["columns"].get(path[1]) if isinstance(data.get("columns"), dict) else None
    kind = kind_of(col)
    if isinstance(col, dict) and path[2] in col:
        return path
    defaults = data.get("defaults")
    if isinstance(defaults, dict) and isinstance(defaults.get(kind), dict) and path[2] in defaults[kind]:
        return ("defaults", kind, *path[2:])
    return path


def _as_written(path: Path_, booleans: dict[Path_, str]) -> Path_:
    """The path with each key YAML read as no text written as in the file (`columns.on`, not `columns.True`)."""
    return tuple(booleans.get(path[: i + 1] + ("[key]",), seg) for i, seg in enumerate(path))


def _message(err: ErrorDetails, raw: str | None = None) -> str:
    t, loc, inp = err["type"], err["loc"], err.get("input")
    if t == "string_type" and isinstance(inp, (bool, int, float)):  # YAML read `yes` or `007` as no text
        return f"should be text: {read_as_text(inp, raw)}"
    if t == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        key = str(loc[-1])
        before, colon, after = key.partition(":")
        if colon and before.strip() in allowed and after[:1] not in ("", " "):  # ({hash_buckets:1000}: one word)
            return f"unknown key '{key}': YAML reads '{before}:{after}' as one word; write a space after the ':'"
        return f"unknown key '{key}'{_unknown_key_hint(key, allowed, loc[:-1])}"
    if t == "too_short" and loc and loc[-1] == "columns":
        return f"a cross needs two or more columns (got {len(inp) if isinstance(inp, list) else 0})"
    if t == "missing":
        return f"required key '{loc[-1]}' is missing"
    if t == "union_tag_invalid":
        ctx = err.get("ctx", {})
        expected = [s.strip().strip("'") for s in str(ctx.get("expected_tags", "")).split(",")]
        tag = ctx.get("discriminator", "kind").strip("'")
        got = ctx.get("tag")
        return f"unknown {tag} '{got}'{suggest(str(got), expected)}; expected one of: {', '.join(expected)}"
    if t == "union_tag_not_found":
        tag = err.get("ctx", {}).get("discriminator", "kind").strip("'")
        glued = [k for k in inp if isinstance(k, str) and k.startswith(f"{tag}:")] if isinstance(inp, dict) else []
        if glued:  # ({kind:numeric}: one word to YAML)
            return f"'{tag}' is missing: YAML reads '{glued[0]}' as one word; write a space after the ':'"
        return f"'{tag}' is missing; say which {tag} this is"
    msg = err["msg"]
    if t.startswith("value_error"):
        msg = msg.removeprefix("Value error, ")
    if loc and loc[-1] == "columns" and isinstance(inp, list):
        return "should be a mapping of column name to kind (e.g. `age: numeric`), not a list"
    msg = msg.replace("Input should be", "should be")
    if inp is not None and not isinstance(inp, (dict, list)) and t not in ("value_error",):
        msg += f" (got {inp!r})"
    if t == "list_type" and isinstance(inp, str) and "," in inp and not inp.strip().startswith("["):
        msg += f"; write a list in brackets: [{inp.strip()}]"
    return msg


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
    data, lines, problems, booleans = copy.deepcopy(_composed(_read(path), file))
    if data is None:
        raise SpecError([Problem(file, None, "", "the spec is empty; start from specs/tiny.yaml")])
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise SpecError(
            [Problem(file, 1, "", f"the spec must be a mapping of keys (data, label, columns, ...), not a {kind}")]
        )
    data, more = apply_overrides(data, list(overrides), lines, booleans)
    problems += more
    base = path.parent.resolve()
    try:
        spec = Spec.model_validate(data)
    except ValidationError as e:
        spec = None
        problems += _structure_problems(e, data, file, lines, booleans)
    problems += reference_problems(expand_columns(data), file, lines, base)
    if check_paths:
        problems += path_problems(data, file, lines, base)
    if problems:
        problems.sort(key=lambda p: (p.file != file, p.line or 0))
        raise SpecError(problems)
    assert spec is not None
    d = spec.data
    resolved = d.model_copy(
        update={
            "train": resolve_patterns(d.train, base),
            "validation": resolve_patterns(d.validation, base),
            "test": resolve_patterns(d.test, base),
        }
    )
    return spec.model_copy(update={"data": resolved, "name": spec.name or path.stem})


@functools.lru_cache(maxsize=16)
def _composed(text: str, file: str) -> tuple[Any, dict[Path_, int], list[Problem], dict[Path_, str]]:
    """A spec's YAML composed once per text: tune checks its space and starts each trial, init each trial, by
    loading one spec again with other overrides (tune's check of its default space took 1 s of 40 parses)."""
    booleans: dict[Path_, str] = {}
    data, lines, problems = compose(text, file, booleans)
    return data, lines, problems, booleans


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(str(path), None, "", "no such file; check the path")]) from None
    except UnicodeDecodeError:
        raise SpecError([Problem(str(path), None, "", "not UTF-8 text; save the spec as UTF-8")]) from None
    except OSError as e:
        raise SpecError([Problem(str(path), None, "", f"cannot read: {e.strerror}")]) from None


def _structure_problems(
    e: ValidationError, data: dict, file: str, lines: dict[Path_, int], booleans: dict[Path_, str]
) -> list[Problem]:
    """pydantic's errors as problems at the YAML path and line each is about, each once."""
    problems: list[Problem] = []
    expanded = expand_columns(data)
    seen = set()
    for err in e.errors():
        key = err["loc"][-1:] == ("[key]",)
        clean = _clean_loc(err["loc"][:-1] if key else err["loc"], expanded)
        clean = _from_defaults(clean, data)
        msg = _message(err, booleans.get(clean + ("[key]",) if key else clean))
        if (clean, msg) in seen:
            continue
        seen.add((clean, msg))
        line = line_of(lines, clean)
        tag = (err.get("ctx") or {}).get("discriminator", "").strip("'")
        if err["type"].startswith("union_tag") and lines.get(clean + (tag,)) == FROM_SET:
            line = FROM_SET  # `--set columns.x.kind=...` named a kind that does not exist
        if err["type"] == "union_tag_not_found" and line == FROM_SET and clean[:1] == ("columns",) and len(clean) == 2:
            columns = data["columns"] if isinstance(data.get("columns"), dict) else {}
            declared = [str(c) for c in columns if c != clean[1]]  # `--set columns.agee.clip=...`
            dotted = [c for c in declared if c.startswith(f"{clean[1]}.")]  # `--set columns.sleep.hours.clip=...`
            if dotted:
                msg = f"no column '{clean[1]}' is declared; to set a column whose name holds dots, quote it: "
                msg += f'columns."{dotted[0]}".KEY=VALUE'
            elif hint := suggest(str(clean[1]), declared):
                msg = (
                    f"no column '{clean[1]}' is declared{hint}; a new column needs its kind (e.g. {clean[1]}: numeric)"
                )
        setters = [q for q, n in lines.items() if n == FROM_SET and len(q) > len(clean) and q[: len(clean)] == clean]
        if line != FROM_SET and setters:  # the file's mapping, as --set changed it
            msg += f" (after --set {', '.join(path_text(q) for q in setters)})"
        problems.append(problem_at(file, line, path_text(_as_written(clean, booleans)), msg))
    return _numbered_keys(problems)


def _numbered_keys(problems: list[Problem]) -> list[Problem]:
    """Many keys of one mapping YAML read as numbers (a table whose columns are named 4, 5, ... 77) as one problem."""
    numbered = [p for p in problems if " as a number; quote it" in p.message and re.search(r"\.\w+$", p.path)]
    parents = {p.path.rpartition(".")[0] for p in numbered}
    for parent in parents:
        keys = [p for p in numbered if p.path.rpartition(".")[0] == parent]
        if len(keys) > 3:
            names = [p.path.rpartition(".")[2] for p in keys]
            shown = ", ".join(names[:3]) + f", ... {names[-1]}"
            msg = (
                f'YAML read {len(keys)} unquoted names as numbers ({shown}); quote each to keep it text: "{names[0]}":'
            )
            problems = [p for p in problems if p not in keys] + [problem_at(keys[0].file, keys[0].line, parent, msg)]
    return problems
