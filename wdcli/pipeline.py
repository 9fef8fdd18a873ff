"""The feature pipeline: `fit_pipeline(spec, train)` learns vocabularies, quantiles and statistics from the
training data only; `transform(fitted, frame)` turns raw columns into the model's arrays, identically at
training and at scoring time.

Ids of every sparse feature (categorical, multivalent, bucketized, cross) follow one layout:
0 = missing, then the out-of-vocabulary bucket(s) where there are any, then the values. Unseen values,
nulls and declared missing markers never raise: they get the OOV or missing id.

The fitted state is plain data (`FittedPipeline.states`: JSON, with large vocabularies in Parquet).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path

import numpy as np
import polars as pl

from . import hashing
from .errors import DataError
from .spec import Bucketized, Categorical, Multivalent, Numeric, Spec

PIPELINE_FORMAT = 1
BIG_LIST = 5000  # lists longer than this are stored as Parquet beside pipeline.json


@dataclass(frozen=True)
class Encoded:
    """The model's input for n rows, as numpy arrays (torch.from_numpy shares their memory)."""

    sparse: np.ndarray  # int64 [n, S]: ids of the univalent sparse features, in FittedPipeline.univalent order
    multi: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (ids int64 [n, L], weights float32 [n, L])
    dense: np.ndarray  # float32 [n, D]: numeric columns, in FittedPipeline.dense order
    label: np.ndarray | None  # float32 [n] of 0/1
    weight: np.ndarray | None  # float32 [n]
    group: np.ndarray | None  # the group column's values
    n: int


@dataclass(frozen=True)
class FittedPipeline:
    spec: Spec
    states: dict[str, dict] = field(default_factory=dict)  # feature name -> fitted plain data
    _cache: dict = field(default_factory=dict, compare=False, repr=False)  # Enum dtypes, built once

    def enum(self, name: str) -> pl.Enum:
        if name not in self._cache:
            self._cache[name] = pl.Enum(self.states[name]["vocab"])
        return self._cache[name]

    def cross_ids(self, name: str, h: np.ndarray) -> np.ndarray:
        """Ids of a cross's combination hashes: their bucket, or their place in the fitted vocabulary (1 = not
        in it)."""
        state = self.states[name]
        if state["encoding"] == "hash":
            return hashing.bucket(h, state["buckets"]) + 1
        key = ("cross", name)
        if key not in self._cache:
            vocab = np.asarray(self.states[name]["hashes"], dtype=np.uint64)
            order = np.argsort(vocab)
            self._cache[key] = (vocab[order], order)
        sorted_vocab, order = self._cache[key]
        if len(sorted_vocab) == 0:
            return np.ones(len(h), dtype=np.int64)
        pos = np.clip(np.searchsorted(sorted_vocab, h), 0, len(sorted_vocab) - 1)
        return np.where(sorted_vocab[pos] == h, order[pos] + 2, 1).astype(np.int64)

    @property
    def univalent(self) -> list[str]:
        return [n for n, s in self.states.items() if s["kind"] != "numeric" and not s["multivalent"]]

    @property
    def multivalent(self) -> list[str]:
        return [n for n, s in self.states.items() if s["kind"] != "numeric" and s["multivalent"]]

    @property
    def dense(self) -> list[str]:
        return [n for n, s in self.states.items() if s["kind"] == "numeric"]

    def cardinality(self, name: str) -> int:
        return self.states[name]["cardinality"]

    def id_name(self, name: str, i: int) -> str:
        """A readable name for id i of a sparse feature, e.g. 'education=Masters'."""
        s = self.states[name]
        oov = s.get("oov", 1)
        if i == 0:
            return f"{name}=<missing>"
        if s["kind"] == "cross":
            if s["encoding"] == "vocab":
                return s["names"][i - 2] if i >= 2 else f"{name}=<other>"
            return s.get("examples", {}).get(str(i), f"{name}#bucket{i - 1}")
        if s["kind"] == "bucketized":
            return f"{name}={_bucket_label(s['boundaries'], i - 1)}"
        if s["encoding"] == "vocab":
            return f"{name}={s['vocab'][i - 1 - oov]}" if i > oov else f"{name}=<other>"
        if s["encoding"] == "identity":
            return f"{name}={i - 2}" if i >= 2 else f"{name}=<out of range>"
        return f"{name}#bucket{i - 1}"

    # ------------------------------------------------------------------------------------------- save/load
    def save(self, folder: Path) -> list[str]:
        """Write pipeline.json (and vocab/*.parquet for large lists); returns the files written."""
        folder.mkdir(parents=True, exist_ok=True)
        written, states = [], {}
        for name, state in self.states.items():
            state = dict(state)
            for key in ("vocab", "hashes", "names"):
                if key in state and len(state[key]) > BIG_LIST:
                    rel = f"vocab/{len(written)}_{key}.parquet"
                    (folder / "vocab").mkdir(exist_ok=True)
                    dtype = pl.UInt64 if key == "hashes" else pl.String
                    pl.DataFrame({key: pl.Series(state[key], dtype=dtype)}).write_parquet(folder / rel)
                    written.append(rel)
                    state[key] = {"parquet": rel}
            states[name] = state
        (folder / "pipeline.json").write_text(json.dumps({"format": PIPELINE_FORMAT, "states": states}))
        return ["pipeline.json", *written]


def load_pipeline(folder: Path, spec: Spec) -> FittedPipeline:
    raw = json.loads((folder / "pipeline.json").read_text())
    states = {}
    for name, state in raw["states"].items():
        for key in ("vocab", "hashes", "names"):
            if isinstance(state.get(key), dict):
                rel = state[key]["parquet"]
                if Path(rel).is_absolute() or ".." in Path(rel).parts:
                    raise DataError(f"{folder}/pipeline.json: {name}.{key} points outside the model folder")
                state[key] = pl.read_parquet(folder / rel)[key].to_list()
        states[name] = state
    return FittedPipeline(spec, states)


# ------------------------------------------------------------------------------------- column checks


def check_columns(spec: Spec, df: pl.DataFrame, where: str, need_label: bool, need: set[str] | None = None) -> None:
    """Raise one DataError naming every declared column the frame lacks or cannot use."""
    have = set(df.columns)
    want = {}
    for name, col in spec.columns.items():
        if need is not None and name not in need:
            continue
        if isinstance(col, Bucketized):
            want[col.source] = f"columns.{name}.source"
        else:
            want[name] = f"columns.{name}"
        if isinstance(col, Multivalent) and col.weights:
            want[col.weights] = f"columns.{name}.weights"
    if need_label:
        want[spec.label.column] = "label.column"
    if spec.label.weight and need_label:
        want[spec.label.weight] = "label.weight"
    problems, schema = [], df.schema
    for column, path in want.items():
        if column not in have:
            close = difflib.get_close_matches(column, list(have), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"missing column '{column}' (needed by {path}){hint}")
    for name, col in spec.columns.items():
        if name in have and not isinstance(col, Multivalent) and isinstance(schema[name], (pl.List, pl.Array)):
            problems.append(f"column '{name}' holds lists; declare it kind: multivalent")
        if name in have and isinstance(col, Multivalent) and col.separator is None and not isinstance(
                schema[name], (pl.List, pl.Array)):
            problems.append(f"column '{name}' is not a list column; give columns.{name}.separator to split its text")
    if problems:
        cols = ", ".join(df.columns[:20]) + (" ..." if len(df.columns) > 20 else "")
        raise DataError(f"{where}: " + "; ".join(problems) + f". The file has: {cols}")


# ------------------------------------------------------------------------------------- cleaned values


def _clean_text(name: str, missing: list[str]) -> pl.Expr:
    """A categorical column as stripped text, with declared missing markers and '' as null."""
    e = pl.col(name).cast(pl.String).str.strip_chars()
    bad = (e == "") if not missing else (e == "") | e.is_in(missing)
    return pl.when(bad).then(None).otherwise(e).alias(name)


def _numeric_values(df: pl.DataFrame, name: str, missing: list[str], where: str) -> pl.Series:
    """A numeric column as Float64 with nulls for missing markers, NaN and +-inf. Text is an error."""
    s = df[name]
    if s.dtype == pl.Null:
        s = s.cast(pl.Float64)
    if s.dtype == pl.String:
        text = s.str.strip_chars()
        text = text.set(text.is_in(missing) | (text == ""), None) if missing else text.set(text == "", None)
        out = text.cast(pl.Float64, strict=False)
        bad = out.is_null() & text.is_not_null()
        if bad.any():
            examples = text.filter(bad).unique(maintain_order=True).head(3).to_list()
            raise DataError(f"{where}: column '{name}' is declared numeric but holds text such as "
                            f"{', '.join(repr(x) for x in examples)} ({bad.sum()} rows); declare it categorical, "
                            f"or list such values under columns.{name}.missing")
        s = out
    elif s.dtype == pl.Boolean or s.dtype.is_numeric():
        s = s.cast(pl.Float64)
    else:
        raise DataError(f"{where}: column '{name}' has type {s.dtype}, which is not numeric; declare it categorical")
    return s.set(~s.is_finite(), None)


def _multi_values(df: pl.DataFrame, name: str, col: Multivalent, where: str) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """(flat values, per-row counts, flat weights) of a multivalent column."""
    s = df[name]
    if col.separator is not None and s.dtype == pl.String:
        s = s.str.split(col.separator)
    elif not isinstance(s.dtype, (pl.List, pl.Array)):
        raise DataError(f"{where}: column '{name}' is not a list column; set columns.{name}.separator")
    s = s.cast(pl.List(pl.String))
    raw_counts = s.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = s.explode(empty_as_null=False, keep_nulls=False).str.strip_chars()
    valid = (flat.is_not_null() & (flat != "") & ~flat.is_in(col.missing or [""])).to_numpy()
    rows = np.repeat(np.arange(len(s)), raw_counts)[valid]
    if col.weights:
        w = df[col.weights]
        if col.separator is not None and w.dtype == pl.String:
            w = w.str.split(col.separator)
        w = w.cast(pl.List(pl.Float64), strict=False)
        if not np.array_equal(w.list.len().fill_null(0).to_numpy(), raw_counts):
            raise DataError(f"{where}: column '{col.weights}' must hold one weight per value of '{name}' in every row")
        flat_w = w.explode(empty_as_null=False, keep_nulls=False).fill_null(0.0).to_numpy().astype(np.float32)[valid]
    else:
        flat_w = np.ones(int(valid.sum()), dtype=np.float32)
    return flat.filter(pl.Series(valid)), np.bincount(rows, minlength=len(s)).astype(np.int64), flat_w


def _pad(flat_ids: np.ndarray, counts: np.ndarray, flat_w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ragged rows -> padded [n, L] ids and weights (pads have id 0 and weight 0)."""
    n = len(counts)
    width = max(int(counts.max()) if n else 0, 1)
    rows = np.repeat(np.arange(n), counts)
    starts = np.cumsum(counts) - counts
    pos = np.arange(len(flat_ids)) - np.repeat(starts, counts)
    ids = np.zeros((n, width), dtype=np.int64)
    w = np.zeros((n, width), dtype=np.float32)
    ids[rows, pos] = flat_ids
    w[rows, pos] = 1.0 if flat_w is None else flat_w
    return ids, w


# -------------------------------------------------------------------------------------------- fitting


def _quantile_boundaries(values: np.ndarray, q: int) -> list[float]:
    """Interior boundaries of q quantile buckets of the sorted values (duplicates merged)."""
    if len(values) == 0:
        return []
    idx = np.clip(np.ceil(np.arange(1, q) / q * len(values)).astype(np.int64) - 1, 0, len(values) - 1)
    return [float(x) for x in np.unique(values[idx])]


def _vocab(counts: pl.DataFrame, min_count: int, max_size: int | None) -> list[str]:
    """Values seen at least min_count times, most frequent first (ties by value): a deterministic order."""
    v = counts.filter(pl.col("count") >= min_count).sort(["count", "value"], descending=[True, False])
    if max_size is not None:
        v = v.head(max_size)
    return v["value"].to_list()


def _sparse_state(col: Categorical | Multivalent, vocab: list[str] | None) -> dict:
    base = {"kind": col.kind, "multivalent": col.kind == "multivalent", "encoding": col.encoding}
    if col.encoding == "hash":
        return {**base, "buckets": col.hash_buckets, "cardinality": col.hash_buckets + 1}
    if col.encoding == "identity":
        return {**base, "num_ids": col.num_ids, "cardinality": col.num_ids + 2}
    return {**base, "oov": col.oov_buckets, "vocab": vocab, "cardinality": 1 + col.oov_buckets + len(vocab)}


def fit_pipeline(spec: Spec, train: pl.DataFrame, where: str = "training data") -> FittedPipeline:
    """Learn every column's state from the training rows."""
    check_columns(spec, train, where, need_label=True)
    if len(train) == 0:
        raise DataError(f"{where}: no rows to fit on")
    label_array(spec, train, where, fitting=True)
    states: dict[str, dict] = {}
    numeric_cache: dict[str, pl.Series] = {}

    def numeric(name: str, missing: list[str]) -> pl.Series:
        if name not in numeric_cache:
            numeric_cache[name] = _numeric_values(train, name, missing, where)
        return numeric_cache[name]

    # value counts of vocabulary columns; columns sharing a table share one vocabulary
    text = {n: c for n, c in spec.columns.items() if isinstance(c, (Categorical, Multivalent))}
    counts: dict[str, pl.DataFrame] = {}
    raw_counts = pl.collect_all([train.lazy().select(pl.col(n).cast(pl.String).value_counts(name="count"))
                                 .unnest(n).rename({n: "value"}) for n, c in text.items()
                                 if isinstance(c, Categorical)])
    raw_counts = dict(zip([n for n, c in text.items() if isinstance(c, Categorical)], raw_counts))
    for name, col in text.items():
        if isinstance(col, Categorical):
            c = raw_counts[name].with_columns(_clean_text("value", col.missing)).drop_nulls("value")
            c = c.group_by("value").agg(pl.col("count").sum())
        else:
            values = _multi_values(train, name, col, where)[0]
            c = values.value_counts(name="count").rename({values.name: "value"})
        if len(c) == 0:
            raise DataError(f"{where}: column '{name}' has no values (all missing); fix the data or remove the column")
        counts[name] = c
    for name, col in text.items():
        vocab = None
        if col.encoding == "vocab":
            table = spec.shared_table_of(name)
            group = [c for c in spec.deep.shared.get(table, [name]) if c in counts] if table else [name]
            merged = pl.concat([counts[c] for c in group]).group_by("value").agg(pl.col("count").sum())
            vocab = _vocab(merged, col.min_count, col.max_size)
        states[name] = _sparse_state(col, vocab)

    for name, col in spec.columns.items():
        if isinstance(col, Numeric):
            states[name] = _fit_numeric(numeric(name, col.missing), col, name, where)
        elif isinstance(col, Bucketized):
            source = spec.columns.get(col.source)
            values = numeric(col.source, source.missing if isinstance(source, Numeric) else [])
            if col.boundaries is not None:
                bounds = list(col.boundaries)
            else:
                bounds = _quantile_boundaries(values.drop_nulls().sort().to_numpy(), col.quantiles)
            states[name] = {"kind": "bucketized", "multivalent": False, "source": col.source,
                            "boundaries": bounds, "cardinality": len(bounds) + 2}

    fitted = FittedPipeline(spec, states)
    for cross in spec.crosses:
        states[cross.key] = _fit_cross(fitted, cross, train, where)
    # order: sparse columns, crosses, then numeric columns (the dense block)
    order = [n for n in spec.columns if states[n]["kind"] != "numeric"] + [x.key for x in spec.crosses]
    order += [n for n in spec.columns if states[n]["kind"] == "numeric"]
    return FittedPipeline(spec, {n: states[n] for n in order})


def _fit_numeric(values: pl.Series, col: Numeric, name: str, where: str) -> dict:
    if col.clip is not None:
        values = values.clip(col.clip[0], col.clip[1])
    present = values.drop_nulls()
    if len(present) == 0:
        raise DataError(f"{where}: column '{name}' has no values (all missing, NaN or inf); fix the data or "
                        "remove the column")
    if isinstance(col.fill, float | int) and not isinstance(col.fill, bool):
        fill = float(col.fill)
    else:
        fill = {"mean": present.mean, "median": present.median, "zero": lambda: 0.0}[col.fill]()
    filled = values.fill_null(fill)
    if col.transform == "log1p":
        filled = filled.sign() * filled.abs().log1p()
    state = {"kind": "numeric", "multivalent": False, "transform": col.transform, "fill": float(fill),
             "clip": list(col.clip) if col.clip else None, "mean": float(filled.mean()),
             "std": float(filled.std() or 0.0), "min": float(filled.min()), "max": float(filled.max())}
    if col.transform == "quantile":
        state["boundaries"] = _quantile_boundaries(filled.sort().to_numpy(), col.quantiles)
    return state


def _fit_cross(fitted: FittedPipeline, cross, train: pl.DataFrame, where: str) -> dict:
    multivalent = any(fitted.states[c]["multivalent"] for c in cross.columns)
    base = {"kind": "cross", "multivalent": multivalent, "columns": list(cross.columns), "encoding": cross.encoding}
    rows, h = _cross_hashes(fitted, cross.columns, train, where)
    sample = min(len(h), 50_000)
    names = _cross_names(fitted, cross.columns, train.head(sample), where)
    combos = pl.DataFrame({"h": h[: len(names)] if not multivalent else h[rows < sample], "name": names})
    counts = pl.DataFrame({"h": h}).group_by("h").len("count")
    if cross.encoding == "vocab":
        vocab = counts.filter(pl.col("count") >= cross.min_count).sort(["count", "h"], descending=[True, False])
        if cross.max_size:
            vocab = vocab.head(cross.max_size)
        first = combos.unique("h", keep="first", maintain_order=True)
        vocab = vocab.join(first, on="h", how="left", maintain_order="left")
        return {**base, "hashes": vocab["h"].to_list(), "names": vocab["name"].fill_null("?").to_list(),
                "cardinality": 2 + len(vocab)}
    # hashed: remember a readable example for the most frequent buckets, for `wdcli inspect`
    top = (combos.with_columns(b=pl.Series(hashing.bucket(combos["h"].to_numpy(), cross.buckets) + 1))
           .group_by("b", "name").len().sort(["len", "b"], descending=[True, False]).unique("b", keep="first",
                                                                                             maintain_order=True).head(2000))
    return {**base, "buckets": cross.buckets, "cardinality": cross.buckets + 1,
            "examples": {str(b): n for b, n in zip(top["b"].to_list(), top["name"].to_list())}}


# ---------------------------------------------------------------------------------------------- crosses


def _component_hashes(fitted: FittedPipeline, name: str, df: pl.DataFrame, where: str):
    """(rows, hashes) of one cross component: the stable hash of each raw value (bucket for bucketized)."""
    spec = fitted.spec
    col = spec.columns[name]
    n = len(df)
    if isinstance(col, Bucketized):
        return np.arange(n), hashing.hash_ints(_bucket_ids(fitted, name, df, where))
    if isinstance(col, Multivalent):
        flat, counts, _ = _multi_values(df, name, col, where)
        return np.repeat(np.arange(n), counts), hashing.hash_strings(flat)
    return np.arange(n), hashing.hash_strings(df.select(_clean_text(name, col.missing))[name])


def _cross_hashes(fitted: FittedPipeline, columns: list[str], df: pl.DataFrame, where: str):
    """(rows, hashes) of every combination of the columns' values in each row, rows ascending."""
    parts = [_component_hashes(fitted, c, df, where) for c in columns]
    if all(len(r) == len(df) and not fitted.states[c]["multivalent"] for c, (r, _) in zip(columns, parts)):
        return parts[0][0], reduce(hashing.combine, [h for _, h in parts])
    frame = pl.DataFrame({"r": parts[0][0], "h": parts[0][1]})
    for rows, h in parts[1:]:
        frame = frame.join(pl.DataFrame({"r": rows, "h2": h}), on="r", how="inner", maintain_order="left_right")
        frame = frame.select("r", h=pl.Series(hashing.combine(frame["h"].to_numpy(), frame["h2"].to_numpy())))
    return frame["r"].to_numpy(), frame["h"].to_numpy()


def _cross_names(fitted: FittedPipeline, columns: list[str], df: pl.DataFrame, where: str) -> list[str]:
    """Readable 'a=x AND b=y' names of each combination (same order as _cross_hashes)."""
    spec = fitted.spec
    parts = []
    for c in columns:
        col = spec.columns[c]
        if isinstance(col, Bucketized):
            labels = [_bucket_label(fitted.states[c]["boundaries"], i - 1) if i else "<missing>"
                      for i in range(fitted.states[c]["cardinality"])]
            ids = _bucket_ids(fitted, c, df, where)
            parts.append((np.arange(len(df)), pl.Series(labels)[ids]))
        elif isinstance(col, Multivalent):
            flat, counts, _ = _multi_values(df, c, col, where)
            parts.append((np.repeat(np.arange(len(df)), counts), flat))
        else:
            parts.append((np.arange(len(df)), df.select(_clean_text(c, col.missing))[c].fill_null("<missing>")))
    frame = pl.DataFrame({"r": parts[0][0], "n": (columns[0] + "=" + parts[0][1].cast(pl.String))})
    for c, (rows, values) in zip(columns[1:], parts[1:]):
        other = pl.DataFrame({"r": rows, "v": values.cast(pl.String)})
        frame = frame.join(other, on="r", how="inner", maintain_order="left_right")
        frame = frame.select("r", n=pl.col("n") + f" AND {c}=" + pl.col("v"))
    return frame["n"].to_list()


def _bucket_label(bounds: list[float], i: int) -> str:
    fmt = lambda x: f"{x:g}"  # noqa: E731
    if not bounds:
        return "all"
    if i == 0:
        return f"<{fmt(bounds[0])}"
    if i == len(bounds):
        return f">={fmt(bounds[-1])}"
    return f"[{fmt(bounds[i - 1])},{fmt(bounds[i])})"


# -------------------------------------------------------------------------------------------- transform


def _bucket_ids(fitted: FittedPipeline, name: str, df: pl.DataFrame, where: str) -> np.ndarray:
    state = fitted.states[name]
    source = fitted.spec.columns.get(state["source"])
    values = _numeric_values(df, state["source"], source.missing if isinstance(source, Numeric) else [], where)
    return bucketize(state["boundaries"], values.fill_null(np.nan).to_numpy())


def bucketize(boundaries: list[float], x: np.ndarray) -> np.ndarray:
    """Bucket ids of float64 values with NaN for missing: 0 = missing, then one id per interval."""
    ids = np.searchsorted(np.asarray(boundaries, dtype=np.float64), x, side="right") + 1
    ids[np.isnan(x)] = 0
    return ids.astype(np.int64)


def _vocab_ids(fitted: FittedPipeline, name: str, raw: pl.Series, codes: pl.Series) -> np.ndarray:
    """Vocabulary ids of a raw column whose values were cast to the vocabulary's Enum (`codes`). Only the
    values not found as they are (OOV, missing markers, stray whitespace) go through cleaning."""
    state = fitted.states[name]
    ids = codes.fill_null(-1).to_numpy().astype(np.int64) + 1 + state["oov"]
    unresolved = codes.is_null()
    if unresolved.any():
        mask = unresolved.to_numpy()
        rest = pl.DataFrame({name: raw.filter(unresolved)}).select(_clean_text(name, fitted.spec.columns[name].missing))
        ids[mask] = _lookup(fitted, name, rest[name])
    return ids


def _lookup(fitted: FittedPipeline, name: str, values: pl.Series) -> np.ndarray:
    """Ids of cleaned text values (nulls = missing) under a categorical state."""
    state = fitted.states[name]
    missing = values.is_null().to_numpy()
    enc = state["encoding"]
    if enc == "hash":
        ids = hashing.bucket(hashing.hash_strings(values), state["buckets"]) + 1
    elif enc == "identity":
        num = values.cast(pl.Int64, strict=False)
        v = num.fill_null(-1).to_numpy()
        ids = np.where((v >= 0) & (v < state["num_ids"]) & ~num.is_null().to_numpy(), v + 2, 1)
    else:
        oov = state["oov"]
        codes = values.cast(fitted.enum(name), strict=False).to_physical()
        unknown = codes.is_null().to_numpy() & ~missing
        ids = codes.fill_null(0).to_numpy().astype(np.int64) + 1 + oov
        if unknown.any():
            if oov == 1:
                ids[unknown] = 1
            else:
                ids[unknown] = hashing.bucket(hashing.hash_strings(values.filter(pl.Series(unknown))), oov) + 1
    ids = ids.astype(np.int64)
    ids[missing] = 0
    return ids


def _cross_ids(fitted: FittedPipeline, name: str, df: pl.DataFrame, where: str):
    state = fitted.states[name]
    rows, h = _cross_hashes(fitted, state["columns"], df, where)
    ids = fitted.cross_ids(name, h)
    if not state["multivalent"]:
        return ids
    return _pad(ids, np.bincount(rows, minlength=len(df)))


class DenseTransform:
    """The numeric columns' model input, all at once: float64 values [n, D] with NaN for missing in,
    float32 [n, D] out. Built from the fitted states of the columns, in order."""

    def __init__(self, states: list[dict]):
        self.lo = np.array([s["clip"][0] if s["clip"] else -np.inf for s in states], dtype=np.float64)
        self.hi = np.array([s["clip"][1] if s["clip"] else np.inf for s in states], dtype=np.float64)
        self.fill = np.array([s["fill"] for s in states], dtype=np.float64)
        pick = lambda t: np.array([j for j, s in enumerate(states) if s["transform"] == t], dtype=np.int64)  # noqa: E731
        self.log, self.std, self.minmax = pick("log1p"), pick("standardize"), pick("minmax")
        self.mean = np.array([states[j]["mean"] for j in self.std], dtype=np.float64)
        self.scale = np.array([states[j]["std"] or 1.0 for j in self.std], dtype=np.float64)
        self.min = np.array([states[j]["min"] for j in self.minmax], dtype=np.float64)
        self.range = np.array([(states[j]["max"] - states[j]["min"]) or 1.0 for j in self.minmax], dtype=np.float64)
        self.quantile = [(j, np.asarray(s["boundaries"], dtype=np.float64), max(len(s["boundaries"]), 1))
                         for j, s in enumerate(states) if s["transform"] == "quantile"]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.clip(x, self.lo, self.hi)  # a copy; NaN stays NaN
        np.copyto(x, np.broadcast_to(self.fill, x.shape), where=np.isnan(x))
        if len(self.log):
            v = x[:, self.log]
            x[:, self.log] = np.sign(v) * np.log1p(np.abs(v))
        if len(self.std):
            x[:, self.std] = (x[:, self.std] - self.mean) / self.scale
        if len(self.minmax):
            x[:, self.minmax] = (x[:, self.minmax] - self.min) / self.range
        for j, bounds, k in self.quantile:
            x[:, j] = np.searchsorted(bounds, x[:, j], side="right") / k
        return np.ascontiguousarray(x, dtype=np.float32)


def numeric_block(fitted: FittedPipeline, names: list[str], df: pl.DataFrame, where: str) -> np.ndarray:
    """float64 [n, len(names)] of numeric columns, NaN for missing markers, nulls, NaN and inf."""
    x = np.empty((len(df), len(names)), dtype=np.float64, order="F")  # column by column: contiguous columns
    for j, name in enumerate(names):
        x[:, j] = _numeric_values(df, name, fitted.spec.columns[name].missing, where).fill_null(np.nan).to_numpy()
    return x


def transform(fitted: FittedPipeline, df: pl.DataFrame, where: str = "data", with_label: bool | None = None) -> Encoded:
    """Encode raw rows. with_label=None reads the label (and weight) when the frame has them."""
    spec = fitted.spec
    if with_label is None:
        with_label = spec.label.column in df.columns
    check_columns(spec, df, where, need_label=with_label)
    n = len(df)
    sparse = np.empty((n, len(fitted.univalent)), dtype=np.int64)
    multi = {}
    vocab_cols = [c for c in fitted.univalent if fitted.states[c]["kind"] == "categorical"
                  and fitted.states[c]["encoding"] == "vocab"]
    codes = df.select([pl.col(c).cast(pl.String).cast(fitted.enum(c), strict=False).to_physical()
                       for c in vocab_cols]) if vocab_cols else None
    for j, name in enumerate(fitted.univalent):
        kind = fitted.states[name]["kind"]
        if name in vocab_cols:
            sparse[:, j] = _vocab_ids(fitted, name, df[name], codes[name])
        elif kind == "categorical":
            sparse[:, j] = _lookup(fitted, name, df.select(_clean_text(name, spec.columns[name].missing))[name])
        elif kind == "bucketized":
            sparse[:, j] = _bucket_ids(fitted, name, df, where)
        else:
            sparse[:, j] = _cross_ids(fitted, name, df, where)
    for name in fitted.multivalent:
        if fitted.states[name]["kind"] == "cross":
            multi[name] = _cross_ids(fitted, name, df, where)
        else:
            flat, counts, w = _multi_values(df, name, spec.columns[name], where)
            multi[name] = _pad(_lookup(fitted, name, flat), counts, w)
    dense = DenseTransform([fitted.states[c] for c in fitted.dense])(numeric_block(fitted, fitted.dense, df, where))
    label = label_array(spec, df, where) if with_label else None
    weight = weight_array(spec, df, where) if with_label and spec.label.weight else None
    group = df[spec.label.group].to_numpy() if spec.label.group and spec.label.group in df.columns else None
    return Encoded(sparse, multi, dense, label, weight, group, n)


# ---------------------------------------------------------------------------------------- label, weight


def label_array(spec: Spec, df: pl.DataFrame, where: str, fitting: bool = False) -> np.ndarray:
    """The label as 0/1 float32. Errors name the column and the values found."""
    name, positive = spec.label.column, spec.label.positive
    if name not in df.columns:
        raise DataError(f"{where}: missing label column '{name}' (label.column)")
    s = df[name]
    if s.null_count():
        raise DataError(f"{where}: label column '{name}' is missing in {s.null_count()} rows; drop or fill them")
    text = s.cast(pl.String).str.strip_chars()
    seen = text.unique().sort().to_list()
    if positive is None:
        ones, zeros = {"1", "1.0", "true", "True"}, {"0", "0.0", "false", "False"}
        other = [v for v in seen if v not in ones | zeros]
        if other:
            raise DataError(f"{where}: label column '{name}' has values {_show(other)} that are not 0/1 or "
                            f"true/false; name the positive value with label.positive")
        return text.is_in(list(ones)).to_numpy().astype(np.float32)
    pos = str(positive).lower() if isinstance(positive, bool) else str(positive)
    if isinstance(positive, bool):
        text = text.str.to_lowercase()
        seen = [v.lower() for v in seen]
    if len(seen) > 2:
        raise DataError(f"{where}: label column '{name}' has {len(seen)} distinct values {_show(seen)}; "
                        f"a binary label has two (positive: {pos!r} and one other)")
    if fitting and pos not in seen:
        raise DataError(f"{where}: label.positive {pos!r} never occurs in column '{name}' (values: {_show(seen)}); "
                        "fix label.positive")
    return (text == pos).to_numpy().astype(np.float32)


def weight_array(spec: Spec, df: pl.DataFrame, where: str) -> np.ndarray:
    name = spec.label.weight
    w = _numeric_values(df, name, [], where)
    if w.null_count() or (w < 0).any():
        raise DataError(f"{where}: weight column '{name}' needs a finite, non-negative number in every row")
    return w.to_numpy().astype(np.float32)


def _show(values: list) -> str:
    shown = ", ".join(repr(v) for v in values[:5])
    return f"[{shown}{', ...' if len(values) > 5 else ''}]"
