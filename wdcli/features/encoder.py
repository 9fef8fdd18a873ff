"""The serving encoder: the same arrays as `pipeline.transform`, for one request's candidates in about a
millisecond.

`transform` looks text up by casting it to each vocabulary's Enum, which costs time in proportion to the
vocabulary on every call: nothing next to a million rows, but 60 ms for a request of 50 candidates. The encoder
pays that cost once, when a model is loaded: one hash table (`lookup.HashIndex`) holds the Polars hashes of the
values each text column knows (its feature's `lookup`: a vocabulary; and its missing markers, "" and null) with
their ids and their stable FNV hashes (which crosses combine). A request is then one `select` that strips and
hashes every text column and casts every numeric one, one probe of the table for all of them, and numpy.

Each feature says how it is served (`fitted._Sparse.serve`, `serve_bag`, `component_hash`) in terms of the
request's lookups (the `lookup.Request` protocol): the encoder never asks a feature its kind.

Polars hashes are stable within one Polars version, which is all a table built in this process needs; none is
ever saved. A value whose 64-bit hash matched a known value by chance would take that value's id: with 100,000
known values that happens about once in 10^14 lookups. Values the tables do not know (out of the vocabulary)
get their FNV hash computed as `transform` does, and the rare inputs the fast path does not cover (text in a
numeric column, weighted lists, crosses of several list columns) go through `transform`'s own functions, so the
arrays always equal `transform`'s (tests/test_encoder.py checks this on every sample spec and on fuzzed input).
Frames of more than LARGE rows go to `transform` itself, which is faster there.
"""

from __future__ import annotations

from functools import cached_property, reduce

import numpy as np
import polars as pl

from . import clean, hashing
from .fitted import Feature, Text, _Categorical
from .inputs import check_columns
from .lookup import Bag, HashIndex, Lookup
from .pipeline import FittedPipeline
from .transform import DenseTransform, Encoded, Ragged, cross_hashes, multivalent_ids, transform, univalent_ids

_SEED = 0x5EED  # any fixed seed: the tables and the requests are hashed in the same process
LARGE = 20_000  # frames above this many rows go to transform, whose parallel Enum casts are faster there


class _TextTables:
    """What every looked-up text column knows, in one hash table: each column's values are hashed with a seed
    of their own (column k: _SEED + k). Per entry: the id (0 for missing), whether the value counts as missing,
    and its stable FNV hash (NULL_HASH for missing). Per column: the id of the values it does not know where
    that is one id (`Lookup.unknown_id`), else -1."""

    def __init__(self, lookups: list[Lookup]):
        keys, ids, missing, fnv = [], [], [], []
        for k, t in enumerate(lookups):
            absent = [m for m in dict.fromkeys([*t.source.missing, ""]) if m not in t.values] + [None]
            values = pl.Series([*t.values, *absent], dtype=pl.String)
            keys.append(values.hash(_SEED + k).to_numpy())
            ids.append(np.r_[t.ids, np.zeros(len(absent), dtype=np.int64)])
            missing.append(np.r_[np.zeros(len(t.values), dtype=bool), np.ones(len(absent), dtype=bool)])
            fnv.append(np.r_[hashing.fnv1a64(values.head(len(t.values))), np.full(len(absent), hashing.NULL_HASH)])
        self.index = HashIndex(np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64))
        self.ids = np.concatenate(ids).astype(np.int64) if ids else np.zeros(0, dtype=np.int64)
        self.missing = np.concatenate(missing) if missing else np.zeros(0, dtype=bool)
        self.fnv = np.concatenate(fnv).astype(np.uint64) if fnv else np.zeros(0, dtype=np.uint64)
        self.unknown = np.array([-1 if t.unknown_id is None else t.unknown_id for t in lookups], dtype=np.int64)

    def ids_of(self, entries: np.ndarray, unknown: np.ndarray) -> np.ndarray:
        """The ids of found entries, the columns' unknown id (`unknown[k]`) elsewhere (-1 where it has none)."""
        return np.where(entries >= 0, self.ids[entries], unknown)


class _Column:
    """The values of one text column of one request (or of one list column, flattened): which the tables
    know, which count as missing, and their stable hashes, computed on demand."""

    def __init__(self, tables: _TextTables, source: Text, raw: pl.Series, entry: np.ndarray):
        self.source, self.raw, self.entry = source, raw, entry
        self.found = entry >= 0
        self.is_missing = self.found & tables.missing[entry]
        self._table_fnv = tables.fnv

    @cached_property
    def fnv(self) -> np.ndarray:
        """The stable hash of each cleaned value (NULL_HASH when missing), as crosses use it."""
        out = self._table_fnv[self.entry]
        if not self.found.all():
            frame = pl.DataFrame({"v": self.raw.filter(pl.Series(~self.found))})
            text = frame.select(clean.text("v", self.source.missing))["v"]  # no nulls: those are in the tables
            small = len(text) <= 4096 and text.null_count() == 0  # too few to gain from hashing distinct values
            out[~self.found] = hashing.fnv1a64(text) if small else hashing.hash_strings(text)
        return out


class Encoder:
    """Build once per loaded model (`Encoder(fitted)`), then `encoder(frame)` for each request."""

    def __init__(self, fitted: FittedPipeline):
        self.fitted = fitted
        features = fitted.features
        sources = [f.number_source() for f in features.values()]
        self.numeric = dict(s for s in sources if s is not None)  # numeric column -> its missing markers
        lookups = {name: t for name, f in features.items() if (t := f.lookup()) is not None}
        self.text = [n for n, t in lookups.items() if not t.source.multivalent]  # looked up per row
        self.lists = [n for n, t in lookups.items() if t.source.multivalent and not t.source.weights]  # per value
        self.index = {name: k for k, name in enumerate(self.text + self.lists)}  # a column's place in the tables
        self.sources = {name: lookups[name].source for name in self.index}
        self.tables = _TextTables([lookups[name] for name in self.index])
        self.text_unknown = self.tables.unknown[: len(self.text), None]  # the univalent columns' (a column each)
        # univalent features the tables answer alone (a vocabulary with one OOV id): most of a model, in one step
        alone = lambda n: n in self.index and self.tables.unknown[self.index[n]] >= 0  # noqa: E731
        self.alone = [j for j, n in enumerate(fitted.univalent) if alone(n)]  # their columns in Encoded.sparse
        self.alone_rows = [self.index[n] for n in fitted.univalent if alone(n)]  # their tables' columns
        self.served = [(j, features[n]) for j, n in enumerate(fitted.univalent) if not alone(n)]
        self.bags = [(n, features[n]) for n in fitted.multivalent]
        self.parts: dict[tuple[str, ...], tuple[list[Feature], list[str]]] = {}  # by cross: its parts, its lists
        self.dense = DenseTransform([fitted.numeric(c) for c in fitted.dense])
        self._plans: dict[tuple, tuple] = {}  # by the input's column names and types

    def _plan(self, df: pl.DataFrame, where: str) -> tuple[list[pl.Expr], dict[str, list[pl.Expr]], list[str]]:
        """Check the input's columns once per schema, and make the request's selects: one row-aligned, and
        one per list column (its values, flattened). A column whose type the fast path does not cover is
        left out; transform's functions take it (and give its error, if any)."""
        key = (tuple(df.columns), tuple(df.dtypes))
        if key in self._plans:
            return self._plans[key]
        check_columns(self.fitted.spec, df, where, need_label=False)
        schema = df.schema
        exprs = [
            pl.col(c).cast(pl.String).str.strip_chars().hash(_SEED + k).alias(f"h:{c}") for k, c in enumerate(self.text)
        ]
        numbers, flat = [], {}  # numeric columns selected; lists' values
        for name, missing in self.numeric.items():
            number = clean.number(name, missing, schema[name])
            if number is not None:
                exprs += [number[0].alias(f"n:{name}"), number[1].any().alias(f"bad:{name}")]
                numbers.append(name)
        for k, name in enumerate(self.lists, start=len(self.text)):
            source = self.sources[name]
            lists = clean.lists(name, source.separator, schema[name])
            if lists is None:
                continue
            exprs.append(lists.list.len().fill_null(0).alias(f"len:{name}"))
            values = lists.explode(empty_as_null=False, keep_nulls=False).str.strip_chars()
            flat[name] = [values.alias("v"), values.hash(_SEED + k).alias("h")]
        self._plans[key] = exprs, flat, numbers
        return self._plans[key]

    def __call__(self, df: pl.DataFrame, where: str = "input") -> Encoded:
        if len(df) > LARGE:
            return transform(self.fitted, df, where, with_label=False)
        df = self.fitted.clean(df)
        r = _Request(self, df, where)
        sparse = np.empty((r.n, len(self.fitted.univalent)), dtype=np.int64)
        if self.alone:
            sparse[:, self.alone] = r.table_ids[self.alone_rows].T
        for j, f in self.served:
            sparse[:, j] = f.serve(r)
        multi = {name: Ragged.of(*f.serve_bag(r)) for name, f in self.bags}
        numbers = [r.number(c) for c in self.fitted.dense]
        dense = self.dense(np.column_stack(numbers) if numbers else np.empty((r.n, 0)))
        return Encoded(sparse, multi, dense, None, None, None, r.n)


class _Request:
    """One request's selected columns and table lookups, and what is computed from them on demand: what the
    features are served from (the `lookup.Request` protocol)."""

    def __init__(self, enc: Encoder, df: pl.DataFrame, where: str):
        self.enc, self.df, self.where, self.n = enc, df, where, len(df)
        self.features = enc.fitted.features
        exprs, flat_exprs, fast_numbers = enc._plan(df, where)
        # (on small frames a sequential select costs less than a parallel one)
        out = df.select_seq(exprs) if self.n and exprs else None
        flats = {c: df.select_seq(e) for c, e in flat_exprs.items()} if self.n else {}
        # every text value of the request, univalent and flattened lists, looked up in one probe
        hashes = [out.get_column(f"h:{c}").to_numpy() for c in enc.text] if out is not None else []
        hashes += [f.get_column("h").to_numpy() for f in flats.values()]
        entries = enc.tables.index.find(np.concatenate(hashes)) if hashes else np.zeros(0, dtype=np.int64)
        t = len(enc.text)
        self.text_entries = entries[: t * self.n].reshape(t, self.n)
        self.table_ids = enc.tables.ids_of(self.text_entries, enc.text_unknown)  # -1: hash the value
        self.columns: dict[str, _Column] = {}
        self.lists = self._lists(flats, out, entries[t * self.n :])
        # numbers: float64 with NaN for missing, NaN and inf; text in a numeric column is transform's error
        good = [c for c in fast_numbers if out is not None and not out.get_column(f"bad:{c}")[0]]
        block = [out.get_column(f"n:{c}").to_numpy() for c in good] if out is not None else []
        self.block = clean.finite(np.column_stack(block) if block else np.empty((self.n, 0)))
        self.block_index = {c: k for k, c in enumerate(good)}

    def _lists(
        self, flats: dict[str, pl.DataFrame], out: pl.DataFrame | None, entries: np.ndarray
    ) -> dict[str, tuple[_Column, np.ndarray, np.ndarray]]:
        """Each looked-up list column: (its values, flat; which of them are kept; their rows)."""
        lists, at = {}, 0
        for c, f in flats.items():
            assert out is not None  # (a request with rows selects each list's lengths)
            source = self.enc.sources[c]
            col = _Column(self.enc.tables, source, f.get_column("v"), entries[at : at + len(f)])
            at += len(f)
            valid = ~col.is_missing
            rows = np.repeat(np.arange(self.n), out.get_column(f"len:{c}").to_numpy())[valid]
            if source.max_values is not None:  # each row's first max_values, as transform keeps them
                keep = clean.first_values(rows, source.max_values)
                valid[np.flatnonzero(valid)[~keep]] = False
                rows = rows[keep]
            lists[c] = (col, valid, rows)
        return lists

    @cached_property
    def rows(self) -> np.ndarray:
        """Each row's number: the rows of a cross of univalent parts, as transform.cross_hashes gives them."""
        return np.arange(self.n)

    def column(self, name: str) -> _Column:
        """A univalent looked-up text column."""
        if name not in self.columns:
            entry = self.text_entries[self.enc.index[name]]
            self.columns[name] = _Column(self.enc.tables, self.enc.sources[name], self.df[name], entry)
        return self.columns[name]

    def cleaned(self, source: Text) -> pl.Series:
        """A text column cleaned as transform cleans it (for the columns the tables do not hold)."""
        return self.df.select(clean.text(source.column, source.missing))[source.column]

    @staticmethod
    def _hashed_unknown(f: _Categorical, ids: np.ndarray, col: _Column) -> np.ndarray:
        """The ids, those the tables left to the value's hash (-1) filled in by the feature."""
        unknown = ids < 0
        if not unknown.any():
            return ids
        ids = ids.copy()
        ids[unknown] = f.unknown_ids(col.fnv[unknown])
        return ids

    # ---- the lookup.Request protocol
    def text_ids(self, f: _Categorical) -> np.ndarray:
        if f.name not in self.enc.index:  # not looked up (identity ids): parsed as transform does
            return f.ids(self.cleaned(f.source))
        return self._hashed_unknown(f, self.table_ids[self.enc.index[f.name]], self.column(f.name))

    def list_ids(self, f: _Categorical) -> Bag:
        if f.name not in self.lists:  # weighted, identity ids, or a type the fast path does not cover
            flat, counts, w = clean.list_values(self.df, f.source, self.where)
            return f.ids(flat), counts, w
        col, valid, rows = self.lists[f.name]
        unknown = self.enc.tables.unknown[self.enc.index[f.name]]
        ids = self._hashed_unknown(f, self.enc.tables.ids_of(col.entry, unknown), col)
        return ids[valid], np.bincount(rows, minlength=self.n), None

    def text_hashes(self, f: _Categorical) -> np.ndarray:
        if f.multivalent:  # (cross_hashes takes a list the tables do not hold to transform's function)
            col, valid, _ = self.lists[f.name]
            return col.fnv[valid]
        if f.name in self.enc.index:
            return self.column(f.name).fnv
        return hashing.hash_strings(self.cleaned(f.source))

    def number(self, column: str) -> np.ndarray:
        if column in self.block_index:
            return self.block[:, self.block_index[column]]
        return clean.numbers(self.df, column, self.enc.numeric.get(column, []), self.where)

    def cross_hashes(self, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
        key = tuple(columns)
        if key not in self.enc.parts:
            parts = [self.features[c] for c in columns]
            self.enc.parts[key] = parts, [c for c, p in zip(columns, parts) if p.multivalent]
        parts, listed = self.enc.parts[key]
        if len(listed) > 1 or (listed and listed[0] not in self.lists):  # every combination: transform's join
            return cross_hashes(self.enc.fitted, columns, self.df, self.where)
        if not listed:
            return self.rows, reduce(hashing.combine, [p.component_hash(self) for p in parts])
        rows = self.lists[listed[0]][2]  # a row per value of the list column; the other parts' hashes follow it
        hashes = [p.component_hash(self) if p.multivalent else p.component_hash(self)[rows] for p in parts]
        return rows, reduce(hashing.combine, hashes)

    def transformed_ids(self, name: str) -> np.ndarray:
        return univalent_ids(self.enc.fitted, name, self.df, self.where)

    def transformed_bag(self, name: str) -> Bag:
        bag = multivalent_ids(self.enc.fitted, name, self.df, self.where)
        return bag.ids, np.diff(bag.offsets), bag.weights
