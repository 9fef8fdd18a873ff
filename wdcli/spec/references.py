"""Checks between the sections of a spec (a cross naming an undeclared column, say), run on the raw data so
that they are reported together with the structural problems pydantic finds."""

from __future__ import annotations

import glob
from pathlib import Path

from ..errors import Problem, suggest
from .types import SPARSE_KINDS
from .yaml_lines import Path_, line_of, path_text


def reference_problems(data: dict, file: str, lines, base: Path) -> list[Problem]:
    """Cross-section checks on the raw data (so they run even when other parts have structural errors)."""
    problems: list[Problem] = []

    def add(path: Path_, msg: str):
        line = line_of(lines, path)
        problems.append(Problem("--set" if line == -1 else file, None if line == -1 else line, path_text(path), msg))

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
    for key in ("column", "weight"):  # (the group, a user or request id, may well be a feature too)
        if isinstance(label.get(key), str) and label[key] in columns:
            add(
                ("label", key),
                f"'{label[key]}' is also declared as a feature column; remove it from columns "
                "(a model must not see its own label or weight)",
            )

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
            if not isinstance(c, str):
                continue  # not a name: the type check says so
            if c not in columns:
                add(("crosses", i, "columns", j), f"unknown column '{c}'{suggest(c, columns)}")
            elif kinds[c] == "numeric":
                add(
                    ("crosses", i, "columns", j),
                    f"numeric column '{c}' cannot be crossed; add a bucketized column with source: {c} and cross that",
                )
        name = cross.get("name")
        key = name if isinstance(name, str) and name else "_x_".join(str(c) for c in cols)
        if len(cols) >= 2 and (key in columns or key in cross_names):
            add(("crosses", i), f"cross name '{key}' is already used; give this cross a distinct name:")
        cross_names.append(key)

    wide_ok = sparse + cross_names
    wide = as_dict(data.get("wide"))
    for i, f in enumerate(wide.get("features") or []):
        if f not in wide_ok:
            why = " (numeric columns feed the deep part; bucketize them for the wide part)" if f in numeric else ""
            add(("wide", "features", i), f"unknown sparse column or cross '{f}'{suggest(f, wide_ok)}{why}")

    deep = as_dict(data.get("deep"))
    embed = deep.get("embed") if isinstance(deep.get("embed"), list) else sparse
    for i, f in enumerate(deep.get("embed") or []):
        if f not in sparse:
            add(("deep", "embed", i), f"unknown sparse column '{f}'{suggest(f, sparse)}")
    for i, f in enumerate(deep.get("dense") or []):
        if f not in numeric:
            add(("deep", "dense", i), f"unknown numeric column '{f}'{suggest(f, numeric)}")
    shared = as_dict(deep.get("shared"))
    owner: dict[str, str] = {}
    for table, cols in shared.items():
        if not isinstance(cols, list) or len(cols) < 2:
            add(("deep", "shared", table), "a shared table lists two or more columns")
            continue
        for j, c in enumerate(cols):
            if c not in sparse:
                add(("deep", "shared", table, j), f"unknown sparse column '{c}'{suggest(c, sparse)}")
            elif c in owner:
                add(("deep", "shared", table, j), f"'{c}' is already in shared table '{owner[c]}'")
            owner[c] = table
        encodings = {_encoding_key(as_dict(columns.get(c)), as_dict(data.get("defaults"))) for c in cols if c in sparse}
        if len(encodings) > 1:
            add(
                ("deep", "shared", table),
                "columns sharing a table must be encoded alike (all vocabulary, or the same hash_buckets / num_ids)",
            )
    for key in as_dict(deep.get("embedding_dims")):
        if key not in embed and key not in shared:
            add(
                ("deep", "embedding_dims", key),
                f"not an embedded column or shared table{suggest(key, list(embed) + list(shared))}",
            )

    model = data.get("model", "wide_deep")
    if model in ("wide_deep", "wide") and isinstance(wide.get("features"), list) and not wide["features"]:
        add(("wide", "features"), "the wide part needs at least one feature (or set model: deep)")
    if model in ("wide_deep", "wide") and not wide.get("features") and not wide_ok and columns:
        add(
            ("columns",),
            "the wide part needs a categorical, bucketized or multivalent column, or a cross (or set model: deep)",
        )
    return problems


def _encoding_key(col: dict, defaults: dict) -> tuple:
    merged = {**(defaults.get(col.get("kind")) or {}), **col}
    return (merged.get("hash_buckets"), merged.get("num_ids"))


def path_problems(data: dict, file: str, lines, base: Path) -> list[Problem]:
    problems = []
    d = data.get("data") if isinstance(data.get("data"), dict) else {}
    for key in ("train", "validation", "test"):
        value = d.get(key)
        patterns = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        for i, pattern in enumerate(patterns):
            if not glob.glob(str(base / pattern)):
                path = ("data", key, i) if isinstance(value, list) else ("data", key)
                line = line_of(lines, path)
                problems.append(
                    Problem(
                        file if line != -1 else "--set",
                        line if line != -1 else None,
                        path_text(path),
                        f"no file matches '{pattern}' (paths are relative to the spec file, in {base})",
                    )
                )
    return problems
