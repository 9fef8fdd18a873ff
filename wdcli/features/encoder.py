"""The serving encoder: the same arrays as `pipeline.transform`, for one request's candidates in about a
millisecond.

`transform` looks text up by casting it to each vocabulary's Enum, which costs time in proportion to the
vocabulary on every call: nothing next to a million rows, but 60 ms for a request of 50 candidates. The encoder
pays that cost once, when a model is loaded: one hash table (open addressing, probed in numpy) holds the Polars
hashes of the values each text column knows (its vocabulary, its missing markers, "" and null) with their ids
and their stable FNV hashes (which crosses combine). A request is then one `select` that strips and hashes
every text column and casts every numeric one, one probe of the table for all of them, and numpy.

Polars hashes are stable within one Polars version, which is all a table built in this process needs; none is
ever saved. A value whose 64-bit hash matched a known value by chance would take that value's id: with 100,000
known values that happens about once in 10^14 lookups. Values the tables do not know (out of the vocabulary)
get their FNV hash computed as `transform` does, and the rare inputs the fast path does not cover (text in a
numeric column, identity-encoded columns, crosses of several list columns) go through `transform`'s own
functions, so the arrays always equal `transform`'s (tests/test_encoder.py checks this on every sample spec and
on fuzzed input). Frames of more than LARGE rows go to `transform` itself, which is faster there.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
import polars as pl

from . import clean, hashing
from .fitted import Buckets, Hashed, Identity, Numeric, Vocabulary, _Categorical, _Cross
from .inputs import check_columns
from .pipeline import FittedPipeline
from .transform import DenseTransform, Encoded, Ragged, cross_ids, transform

_SEED = 0x5EED  # any fixed seed: the tables and the requests are hashed in the same process
LARGE = 20_000  # frames above this many rows go to transform, whose parallel Enum casts are faster there


class _HashTable:
    """Open addressing with linear probing over uint64 keys, probed for many keys at once in numpy. Kept at
    most a quarter full, so that a lookup costs a little more than one random read."""

    def __init__(self, keys: np.ndarray):
        self.keys = keys
        size = 1 << max(int(4 * len(keys) - 1).bit_length(), 4)
        self.mask = np.uint64(size - 1)
        self.slots = np.full(size, -1, dtype=np.int64)
        slot = (keys & self.mask).astype(np.int64)
        pending = np.arange(len(keys))
        while pending.size:  # place, per free slot, the first key that wants it; the others move one on
            s = slot[pending]
            free = self.slots[s] == -1
            _, first = np.unique(s[free], return_index=True)
            winners = pending[free][first]
            self.slots[slot[winners]] = winners
            placed = np.zeros(len(keys), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & (size - 1)

    def find(self, h: np.ndarray) -> np.ndarray:
        """The entry of each key, -1 where the table does not hold it."""
        slot = (h & self.mask).astype(np.int64)
        entry = self.slots[slot]
        found = (entry >= 0) & (self.keys[entry] == h)
        todo = np.flatnonzero(~found & (entry >= 0))
        while todo.size:
            slot[todo] = (slot[todo] + 1) & int(self.mask)
            e = self.slots[slot[todo]]
            ok = (e >= 0) & (self.keys[e] == h[todo])
            entry[todo] = e
            found[todo] = ok
            todo = todo[~ok & (e >= 0)]
        return np.where(found, entry, -1)


class _TextTables:
    """The known values of every text column, in one hash table: each column's values are hashed with a seed
    of their own: a column's vocabulary (if it has one) and what counts as missing (its markers, "" and null).
    Per entry: the id (0 for missing), whether the value counts as missing, and its stable FNV hash (NULL_HASH
    for missing)."""

    def __init__(self, fitted: FittedPipeline, names: list[str]):
        keys, ids, missing, fnv = [], [], [], []
        for j, name in enumerate(names):
            f = fitted.features[name]
            vocab = f.values if isinstance(f, Vocabulary) else []
            absent = [m for m in dict.fromkeys([*f.source.missing, ""]) if m not in vocab] + [None]
            values = pl.Series([*vocab, *absent], dtype=pl.String)
            keys.append(values.hash(_SEED + j).to_numpy())
            first = 1 + (f.oov if isinstance(f, Vocabulary) else 0)
            ids.append(np.r_[np.arange(first, first + len(vocab)), np.zeros(len(absent))])
            missing.append(np.r_[np.zeros(len(vocab), dtype=bool), np.ones(len(absent), dtype=bool)])
            fnv.append(np.r_[hashing.fnv1a64(values.head(len(vocab))), np.full(len(absent), hashing.NULL_HASH)])
        self.table = _HashTable(np.concatenate(keys)) if keys else None
        self.ids = np.concatenate(ids).astype(np.int64) if ids else None
        self.missing = np.concatenate(missing) if missing else None
        self.fnv = np.concatenate(fnv).astype(np.uint64) if fnv else None


class _Column:
    """One text column of one request: what the tables know of each row, the rest computed on demand."""

    def __init__(self, tables: _TextTables, name: str, missing: list[str], raw: pl.Series, entry: np.ndarray):
        self.name, self.missing_markers, self.raw = name, missing, raw
        self.found = entry >= 0
        self.ids = np.where(self.found, tables.ids[entry], -1)
        self.is_missing = self.found & tables.missing[entry]
        self._table_fnv, self._entry = tables.fnv, entry
        self._fnv = None

    def unknown_text(self) -> pl.Series:
        """The cleaned text of the rows the tables do not know."""
        frame = pl.DataFrame({self.name: self.raw.filter(pl.Series(~self.found))})
        return frame.select(clean.text(self.name, self.missing_markers))[self.name]

    def fnv(self) -> np.ndarray:
        """The stable hash of each row's cleaned value (NULL_HASH when missing), as crosses use it."""
        if self._fnv is None:
            out = self._table_fnv[self._entry]
            if not self.found.all():
                text = self.unknown_text()  # no nulls: null and the missing markers are in the tables
                small = len(text) <= 4096 and text.null_count() == 0  # too few to gain from hashing distinct values
                out[~self.found] = hashing.fnv1a64(text) if small else hashing.hash_strings(text)
            self._fnv = out
        return self._fnv


class Encoder:
    """Build once per loaded model (`Encoder(fitted)`), then `encoder(frame)` for each request."""

    def __init__(self, fitted: FittedPipeline):
        self.fitted = fitted
        self.text: list[str] = []  # univalent text columns looked up in the tables
        self.lists: list[str] = []  # multivalent columns looked up in the tables, value by value
        self.numeric: dict[str, list[str]] = {}  # numeric source column -> its missing markers
        for name in fitted.univalent + fitted.multivalent + fitted.dense:
            f = fitted.features[name]
            for p in f.columns if isinstance(f, _Cross) else [name]:
                part = fitted.features[p]
                if isinstance(part, (Vocabulary, Hashed)) and not part.multivalent and p not in self.text:
                    self.text.append(p)
                elif (
                    isinstance(part, (Vocabulary, Hashed))
                    and not part.source.weights
                    and p not in self.lists
                    and part.multivalent
                ):
                    self.lists.append(p)
                elif isinstance(part, Buckets):
                    self.numeric[part.column] = part.missing
                elif isinstance(part, Numeric):
                    self.numeric[p] = part.missing
        self.tables = _TextTables(fitted, self.text + self.lists)
        # the univalent features by how they are computed: (column in `sparse`, ...)
        self.vocab1, self.lookups, self.others, self.crosses = [], [], [], []
        for j, name in enumerate(fitted.univalent):
            f = fitted.features[name]
            if isinstance(f, _Cross):
                self.crosses.append((j, f))
            elif name not in self.text:  # identity ids and buckets
                self.others.append((j, f))
            elif isinstance(f, Vocabulary) and f.oov == 1:
                self.vocab1.append((j, self.text.index(name)))
            else:
                self.lookups.append((j, f))
        self.dense = DenseTransform([fitted.features[c] for c in fitted.dense])
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
            pl.col(c).cast(pl.String).str.strip_chars().hash(_SEED + j).alias(f"h:{c}") for j, c in enumerate(self.text)
        ]
        numbers, flat = [], {}  # numeric columns selected; lists' values
        for name, missing in self.numeric.items():
            number = clean.number(name, missing, schema[name])
            if number is not None:
                exprs += [number[0].alias(f"n:{name}"), number[1].any().alias(f"bad:{name}")]
                numbers.append(name)
        for j, name in enumerate(self.lists, start=len(self.text)):
            source = self.fitted.features[name].source
            lists = clean.lists(name, source.separator, schema[name])
            if lists is None:
                continue
            exprs.append(lists.list.len().fill_null(0).alias(f"len:{name}"))
            values = lists.explode(empty_as_null=False, keep_nulls=False).str.strip_chars()
            flat[name] = [values.alias("v"), values.hash(_SEED + j).alias("h")]
        self._plans[key] = exprs, flat, numbers
        return self._plans[key]

    def __call__(self, df: pl.DataFrame, where: str = "input") -> Encoded:
        if len(df) > LARGE:
            return transform(self.fitted, df, where, with_label=False)
        r = _Request(self, df, where)
        dense = self.dense(
            np.column_stack([r.number(c) for c in self.fitted.dense]) if self.fitted.dense else np.empty((r.n, 0))
        )
        return Encoded(self._univalent(r), self._multivalent(r), dense, None, None, None, r.n)

    def _univalent(self, r: _Request) -> np.ndarray:
        sparse = np.empty((r.n, len(self.fitted.univalent)), dtype=np.int64)
        if self.vocab1:  # vocabulary columns with one OOV id: the bulk of most models, in one step
            cols, rows = zip(*self.vocab1)
            e = r.text_entries[list(rows)]
            sparse[:, list(cols)] = np.where(e >= 0, self.tables.ids[e], 1).T
        for j, f in self.lookups:
            sparse[:, j] = self._categorical_ids(f, r.column(f.name))
        for j, f in self.others:
            if isinstance(f, Identity):
                sparse[:, j] = f.ids(r.df.select(clean.text(f.source.column, f.source.missing))[f.source.column])
            else:
                sparse[:, j] = f.ids(r.number(f.column))
        for j, f in self.crosses:
            if all(r.fast(c) for c in f.columns):
                sparse[:, j] = f.ids(reduce(hashing.combine, map(r.component_hash, f.columns)))
            else:
                sparse[:, j] = cross_ids(self.fitted, f.name, r.df, r.where)
        return sparse

    def _multivalent(self, r: _Request) -> dict[str, Ragged]:
        fitted, multi = self.fitted, {}
        for name in fitted.multivalent:
            f = fitted.features[name]
            if isinstance(f, _Cross):
                listed = [c for c in f.columns if c in r.lists]
                if len(listed) != 1 or not all(r.fast(c) for c in f.columns):
                    multi[name] = cross_ids(fitted, name, r.df, r.where)  # several list columns: every combination
                    continue
                col, valid, rows = r.lists[listed[0]]
                h = reduce(
                    hashing.combine,
                    [col.fnv()[valid] if c in r.lists else r.component_hash(c)[rows] for c in f.columns],
                )
                multi[name] = Ragged.of(f.ids(h), np.bincount(rows, minlength=r.n))
            elif name in r.lists:
                col, valid, rows = r.lists[name]
                multi[name] = Ragged.of(self._categorical_ids(f, col)[valid], np.bincount(rows, minlength=r.n))
            else:
                s = f.source
                flat, counts, w = clean.list_values(r.df, s, r.where)
                multi[name] = Ragged.of(f.ids(flat), counts, w)
        return multi

    @staticmethod
    def _categorical_ids(f: _Categorical, col: _Column) -> np.ndarray:
        if isinstance(f, Hashed):
            return f.ids_of_hashes(col.fnv(), col.is_missing)
        ids = col.ids.copy()
        unknown = ~col.found
        if unknown.any():  # out of the vocabulary: the OOV bucket(s)
            ids[unknown] = f.oov_ids(col.fnv()[unknown])
        return ids


class _Request:
    """One request's selected columns and table lookups, and what is computed from them on demand."""

    def __init__(self, enc: Encoder, df: pl.DataFrame, where: str):
        self.enc, self.df, self.where, self.n = enc, df, where, len(df)
        self.features = enc.fitted.features
        exprs, flat_exprs, fast_numbers = enc._plan(df, where)
        n = self.n
        # (on small frames a sequential select costs less than a parallel one)
        out = df.select_seq(exprs) if n and exprs else None
        flats = {c: df.select_seq(e) for c, e in flat_exprs.items()} if n else {}

        # every text value of the request, univalent and flattened lists, looked up in one probe
        hashes = [out.get_column(f"h:{c}").to_numpy() for c in enc.text] if out is not None else []
        hashes += [f.get_column("h").to_numpy() for f in flats.values()]
        entries = enc.tables.table.find(np.concatenate(hashes)) if hashes else np.zeros(0, dtype=np.int64)
        self.text_entries = entries[: len(enc.text) * n].reshape(len(enc.text), n)
        self.columns: dict[str, _Column] = {}
        self.lists: dict[str, tuple[_Column, np.ndarray, np.ndarray]] = {}  # name -> (values, valid, their rows)
        at = len(enc.text) * n
        for c, f in flats.items():
            col = _Column(enc.tables, c, self.features[c].source.missing, f.get_column("v"), entries[at : at + len(f)])
            at += len(f)
            valid = ~col.is_missing
            rows = np.repeat(np.arange(n), out.get_column(f"len:{c}").to_numpy())[valid]
            cap = self.features[c].source.max_values
            if cap is not None:  # each row's first max_values, as transform keeps them
                keep = clean.first_values(rows, cap)
                valid[np.flatnonzero(valid)[~keep]] = False
                rows = rows[keep]
            self.lists[c] = (col, valid, rows)

        # numbers: float64 with NaN for missing, NaN and inf; text in a numeric column is transform's error
        good = [c for c in fast_numbers if out is not None and not out.get_column(f"bad:{c}")[0]]
        block = np.column_stack([out.get_column(f"n:{c}").to_numpy() for c in good]) if good else np.empty((n, 0))
        self.block = clean.finite(block)
        self.block_index = {c: k for k, c in enumerate(good)}

    def column(self, name: str) -> _Column:
        if name not in self.columns:
            self.columns[name] = _Column(
                self.enc.tables,
                name,
                self.features[name].source.missing,
                self.df.get_column(name),
                self.text_entries[self.enc.text.index(name)],
            )
        return self.columns[name]

    def number(self, name: str) -> np.ndarray:
        if name in self.block_index:
            return self.block[:, self.block_index[name]]
        return clean.numbers(self.df, name, self.enc.numeric.get(name, []), self.where)

    def component_hash(self, name: str) -> np.ndarray:
        """A cross component's stable hash per row: FNV of the value, or the mixed bucket id."""
        f = self.features[name]
        if isinstance(f, Buckets):
            return hashing.hash_ints(f.ids(self.number(f.column)))
        return self.column(name).fnv()

    def fast(self, part: str) -> bool:
        """Whether a cross component is covered here (else the cross goes through transform's functions)."""
        return part in self.enc.text or part in self.lists or isinstance(self.features[part], Buckets)
