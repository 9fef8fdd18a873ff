"""The fitted pipeline: the spec it was fitted for and its typed features (`wdcli.features.fitted`) in model order,
saved as `pipeline.json` (format 2, large lists in Parquet beside it) and loaded with every key validated. Loading
never runs code; format 1 (wdcli 0.1's untyped states) is still read.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl
from pydantic import ValidationError

from ..errors import ArtifactError, counted
from ..spec import Spec
from . import clean
from .fitted import (
    _FEATURES,
    BIG_LIST,
    FORMAT,
    Buckets,
    Categorical,
    Feature,
    Hashed,
    Identity,
    Numeric,
    Sparse,
    Vocabulary,
)


@dataclass(frozen=True)
class FittedPipeline:
    """The spec it was fitted for, and its features in model order: sparse columns, crosses, numeric columns."""

    spec: Spec
    features: dict[str, Feature] = field(default_factory=dict)
    rows: int = 0  # the training rows it was fitted on

    @cached_property
    def univalent(self) -> list[str]:
        """Sparse features with one id per row: the columns of `Encoded.sparse`, in order."""
        return [n for n, f in self.features.items() if not isinstance(f, Numeric) and not f.multivalent]

    @cached_property
    def multivalent(self) -> list[str]:
        return [n for n, f in self.features.items() if not isinstance(f, Numeric) and f.multivalent]

    @cached_property
    def dense(self) -> list[str]:
        """Numeric features: the columns of `Encoded.dense`, in order."""
        return [n for n, f in self.features.items() if isinstance(f, Numeric)]

    @cached_property
    def whole_floats(self) -> list[str]:
        """The columns read as categories in which a whole float reads as an integer (`clean.whole_floats`)."""
        sources = [f.source for f in self.features.values() if isinstance(f, Categorical)]
        return list(dict.fromkeys(s.column for s in sources if s.whole_floats))

    @cached_property
    def whole_texts(self) -> dict[str, str | None]:
        """The text columns in which "300.0" reads as "300" (`clean.whole_floats`), and the separator of the
        lists they hold as text (None: not lists)."""
        sources = [f.source for f in self.features.values() if isinstance(f, Categorical)]
        return {s.column: s.separator if s.multivalent else None for s in sources if s.whole_text}

    def clean(self, df: pl.DataFrame) -> pl.DataFrame:
        """The frame with its categories' numbers read as the fit read them (`clean.whole_floats`): what every
        encoding of rows starts with."""
        return clean.whole_floats(df, self.whole_floats, self.whole_texts)

    def cardinality(self, name: str) -> int:
        return self.sparse(name).cardinality

    def id_name(self, name: str, i: int) -> str:
        """A readable name for id i of a sparse feature, e.g. 'education=Masters'."""
        return self.sparse(name).id_name(i)

    def sparse(self, name: str) -> Sparse:
        """The sparse feature of this name (typed: `features` holds every kind)."""
        f = self.features[name]
        assert not isinstance(f, Numeric), f"'{name}' is numeric"
        return f

    def numeric(self, name: str) -> Numeric:
        """The numeric feature of this name (typed: `features` holds every kind)."""
        f = self.features[name]
        assert isinstance(f, Numeric), f"'{name}' is not numeric"
        return f

    def part(self, name: str) -> Categorical | Buckets:
        """A part of a cross: a categorical or bucketized feature (typed)."""
        f = self.features[name]
        assert isinstance(f, Vocabulary | Hashed | Identity | Buckets), f"'{name}' is no part of a cross"
        return f

    # ------------------------------------------------------------------------------------------- save/load
    def feature_dicts(self) -> list[dict]:
        """Every feature as plain JSON data, lists inline (what pipeline.json holds, less the Parquet files)."""
        return _FEATURES.dump_python(list(self.features.values()), mode="json")

    def save(self, folder: Path) -> list[str]:
        """Write pipeline.json (and vocab/*.parquet for large lists); returns the files written."""
        folder.mkdir(parents=True, exist_ok=True)
        written: list[str] = []
        features = []
        for f in self.feature_dicts():
            for key in ("values", "hashes", "names"):
                if key in f and len(f[key]) > BIG_LIST:
                    rel = f"vocab/{len(written)}_{key}.parquet"
                    (folder / "vocab").mkdir(exist_ok=True)
                    dtype = pl.UInt64 if key == "hashes" else pl.String
                    pl.DataFrame({key: pl.Series(f[key], dtype=dtype)}).write_parquet(folder / rel)
                    written.append(rel)
                    f[key] = {"parquet": rel}
            features.append(f)
        (folder / "pipeline.json").write_text(json.dumps({"format": FORMAT, "rows": self.rows, "features": features}))
        return ["pipeline.json", *written]


def file_in(folder: Path, name: str, what: str = "the model folder") -> Path:
    """`folder/name`, checked to be a regular file of the folder itself: not outside it (an absolute name, `..`),
    not a symbolic link (nor under a linked folder), not a FIFO or device (reading one could wait forever).
    Raises ArtifactError; FileNotFoundError when it is absent."""
    if not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise ArtifactError(f"{folder}: '{name}' is outside {what}")
    file = folder / name
    root = os.path.realpath(folder)
    if os.path.realpath(file) != os.path.join(root, os.path.normpath(name)):
        raise ArtifactError(
            f"{file}: a symbolic link (to {os.path.realpath(file)}); {what} must hold its own files: "
            "copy the file in place of the link"
        )
    if not stat.S_ISREG(os.stat(file).st_mode):
        raise ArtifactError(f"{file}: not a regular file (a FIFO, device or folder); retrain or restore the folder")
    return file


def load_pipeline(folder: Path, spec: Spec) -> FittedPipeline:
    """Read and validate pipeline.json (format 1, written by wdcli 0.1, is read too)."""
    file = folder / "pipeline.json"
    try:
        raw = json.loads(file_in(folder, "pipeline.json").read_text())
    except (OSError, ValueError, RecursionError) as e:  # (not JSON, not UTF-8, nested or a number too long)
        raise ArtifactError(f"{file}: cannot be read ({type(e).__name__}); retrain or restore the folder") from None
    if not isinstance(raw, dict) or raw.get("format") not in (1, FORMAT):
        version = raw.get("format") if isinstance(raw, dict) else None
        raise ArtifactError(
            f"{file}: pipeline format {version!r} is not one this wdcli reads (1 or {FORMAT}); "
            "upgrade wdcli, or retrain"
        )
    features = raw.get("features") if raw["format"] == FORMAT else _from_format_1(raw.get("states"), spec)
    if not isinstance(features, list):
        raise ArtifactError(f"{file}: 'features' should be a list; retrain or restore the folder")
    for i, f in enumerate(features):
        for key in ("values", "hashes", "names"):
            if isinstance(f, dict) and isinstance(f.get(key), dict):
                rel = str(f[key].get("parquet", ""))
                if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
                    raise ArtifactError(f"{file}: features[{i}].{key} points outside the model folder")
                try:  # (the file's one column: format 1 named it 'vocab')
                    f[key] = pl.read_parquet(file_in(folder, rel), glob=False).to_series(0).to_list()
                except (OSError, pl.exceptions.PolarsError) as e:
                    raise ArtifactError(f"{folder / rel}: cannot be read ({str(e).splitlines()[0][:120]})") from None
    try:
        typed = _FEATURES.validate_python(features)
    except ValidationError as e:
        first = e.errors()[0]
        loc = first["loc"]
        where = "features" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        at = loc[0] if loc and isinstance(loc[0], int) else None
        f = features[at] if at is not None and isinstance(features[at], dict) else {}
        what = "cross" if str(f.get("kind", "")).endswith("cross") else "column"
        where = f"{what} '{f['name']}' ({where})" if isinstance(f.get("name"), str) else where
        msg = first["msg"].removeprefix("Value error, ")
        raise ArtifactError(
            f"{file}: {where}: {msg} ({counted(e.error_count(), 'problem')}); retrain or restore the folder"
        ) from None
    rows = raw.get("rows", 0)
    return FittedPipeline(spec, {f.name: f for f in typed}, rows if isinstance(rows, int) else 0)


def _from_format_1(states: object, spec: Spec) -> list[dict] | None:
    """Format 1 (`{"states": {name: {...}}}`, untyped) as format 2's list of features."""
    if not isinstance(states, dict):
        return None
    out = []
    for name, s in states.items():
        feature = _feature_1(name, s, spec) if isinstance(s, dict) else None
        if feature is None:
            return None
        out.append(feature)
    return out


def _feature_1(name: str, s: dict, spec: Spec) -> dict | None:
    """One feature's format 1 state as format 2's feature (None: not one format 1 wrote)."""
    kind = s.get("kind")
    if kind in ("categorical", "multivalent"):
        return _categorical_1(name, s, spec)
    if kind == "bucketized":
        src = spec.columns.get(s["source"]) if isinstance(s.get("source"), str) else None
        return {
            "kind": "buckets",
            "name": name,
            "column": s.get("source"),
            "boundaries": s.get("boundaries"),
            "missing": list(getattr(src, "missing", [])),
        }
    if kind == "numeric":
        keep = ("transform", "fill", "clip", "mean", "std", "min", "max")
        return {
            "kind": "numeric",
            "name": name,
            "missing": list(getattr(spec.columns.get(name), "missing", [])),
            "boundaries": s.get("boundaries", []),
            **{k: s.get(k) for k in keep},
        }
    if kind == "cross":
        base = {"name": name, "columns": s.get("columns"), "multivalent": s.get("multivalent", False)}
        if s.get("encoding") == "hash":
            return {**base, "kind": "hashed_cross", "buckets": s.get("buckets"), "examples": s.get("examples", {})}
        return {**base, "kind": "vocabulary_cross", "hashes": s.get("hashes"), "names": s.get("names")}
    return None


def _categorical_1(name: str, s: dict, spec: Spec) -> dict:
    """A categorical or multivalent column's format 1 state: hashed, identity or vocabulary ids."""
    col = spec.columns.get(name)
    source = {
        "column": name,
        "missing": list(getattr(col, "missing", [])),
        "multivalent": s.get("kind") == "multivalent",
        "separator": getattr(col, "separator", None),
        "weights": getattr(col, "weights", None),
    }
    base = {"name": name, "source": source}
    enc = s.get("encoding")
    if enc == "hash":
        return {**base, "kind": "hashed", "buckets": s.get("buckets")}
    if enc == "identity":
        return {**base, "kind": "identity", "num_ids": s.get("num_ids")}
    return {**base, "kind": "vocabulary", "values": s.get("vocab"), "oov": s.get("oov")}
