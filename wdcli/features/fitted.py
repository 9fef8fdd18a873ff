"""The fitted feature pipeline as typed, frozen, plain data: what was learned from the training rows, beside
what was declared, one object per feature.

A feature is one of a closed set of kinds (a tagged union on `kind`): `vocabulary`, `hashed`, `identity`
(categorical or multivalent columns), `buckets` (a bucketized numeric column), `numeric` (a dense input) and
`hashed_cross` / `vocabulary_cross`. Each knows its id count (`cardinality`), a readable name for each id
(`id_name`), and how its ids are produced from cleaned values. Every sparse feature's ids follow one layout:
0 = missing, then the out-of-vocabulary bucket(s) where there are any, then the values. Each also knows how it
is served (`serve`, `serve_bag`, `component_hash`): which of a serving request's lookups (`Request`, made by
`wdcli.features.encoder`) give its ids, so that the encoder never asks a feature its kind.

Saved as `pipeline.json` (format 2), large lists in Parquet beside it; loading validates every key, names the
file and key of any problem, and never runs code."""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from typing import Annotated, ClassVar, Literal

import numpy as np
import polars as pl
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from . import hashing
from .lookup import Bag, HashIndex, Lookup, Request

FORMAT = 2
BIG_LIST = 5000  # lists longer than this are stored as Parquet beside pipeline.json


def _increasing(values: list[float]) -> list[float]:
    """Boundaries a sorted search can use: finite, ascending (an edited pipeline.json would misplace values)."""
    b = np.asarray(values, dtype=np.float64)
    if not np.isfinite(b).all():
        raise ValueError(f"holds {b[~np.isfinite(b)][0]}; boundaries are finite numbers")
    if (np.diff(b) < 0).any():
        raise ValueError("not in increasing order")
    return values


def _once(values: list[str]) -> list[str]:
    """A vocabulary's values, each once (a value twice makes no lookup table)."""
    if len(set(values)) < len(values):
        twice = next(v for v, n in Counter(values).items() if n > 1)
        raise ValueError(f"holds {twice!r} twice; a vocabulary lists each value once")
    return values


Increasing = Annotated[list[float], AfterValidator(_increasing)]


class _Fitted(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __eq__(self, other: object) -> bool:  # the fields only (not the lookup tables cached beside them)
        return type(self) is type(other) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]


class Text(_Fitted):
    """Where a categorical feature's values come from, and how they are cleaned (`wdcli.features.clean`)."""

    column: str
    missing: list[str] = []
    multivalent: bool = False
    separator: str | None = None  # multivalent text is split on this; None: a list column
    weights: str | None = None  # a column of per-value weights (multivalent)
    max_values: int | None = Field(None, ge=1)  # a row keeps its first max_values values (multivalent)
    whole_floats: bool = False  # 300.0 reads "300" (`clean.whole_floats`); False: "300.0", as fitted before
    whole_text: bool = False  # its training text held "300.0" (a float column written out): such text reads "300"


class _Feature(_Fitted):
    """The questions the serving encoder asks every feature (in terms of one request's lookups,
    `lookup.Request`), and the answers of a kind that has none to give."""

    def number_source(self) -> tuple[str, list[str]] | None:
        """The numeric column this feature reads, and its missing markers (None: it reads none)."""
        return None

    def lookup(self) -> Lookup | None:
        """What a serving table holds of this feature's text (None: its text is not looked up)."""
        return None

    def serve(self, r: Request) -> np.ndarray:
        raise NotImplementedError(f"a {type(self).__name__} feature has no ids")

    def serve_bag(self, r: Request) -> Bag:
        raise NotImplementedError(f"a {type(self).__name__} feature has no bags of ids")

    def component_hash(self, r: Request) -> np.ndarray:
        raise NotImplementedError(f"a {type(self).__name__} feature is not a part of crosses")


# ------------------------------------------------------------------------------------------- features


class _Sparse(_Feature):
    """What every sparse feature shares: id 0 means missing; `describe` says how many ids and of what kind."""

    encoding: ClassVar[str]
    name: str

    @property
    def cardinality(self) -> int:
        raise NotImplementedError

    def value_name(self, i: int) -> str:
        raise NotImplementedError

    # a kind without a fast path of its own is served by transform's functions
    def serve(self, r: Request) -> np.ndarray:
        return r.transformed_ids(self.name)

    def serve_bag(self, r: Request) -> Bag:
        return r.transformed_bag(self.name)

    def id_name(self, i: int) -> str:
        """A readable name for id i, e.g. 'education=Masters'."""
        return f"{self.name}=<missing>" if i == 0 else self.value_name(i)

    def describe(self) -> str:
        return f"{self.cardinality:,} {self.encoding}"


class _Categorical(_Sparse):
    source: Text

    @property
    def multivalent(self) -> bool:
        return self.source.multivalent

    def ids(self, text: pl.Series) -> np.ndarray:
        raise NotImplementedError

    def unknown_ids(self, h: np.ndarray) -> np.ndarray:
        """The ids of values a serving table does not know (missing aside), from their stable hashes."""
        raise NotImplementedError

    def serve(self, r: Request) -> np.ndarray:
        return r.text_ids(self)

    def serve_bag(self, r: Request) -> Bag:
        return r.list_ids(self)

    def component_hash(self, r: Request) -> np.ndarray:
        return r.text_hashes(self)


class Vocabulary(_Categorical):
    """Values seen at least `min_count` times, most frequent first; unseen values share `oov` buckets."""

    kind: Literal["vocabulary"] = "vocabulary"
    encoding: ClassVar[str] = "vocab"
    values: Annotated[list[str], AfterValidator(_once)]
    oov: int = Field(ge=1)

    @property
    def cardinality(self) -> int:
        return 1 + self.oov + len(self.values)

    def codes(self, column: str) -> pl.Expr:
        """The text column as codes of the vocabulary (null: not in it), built once (an Enum of 100,000: ~20 ms)."""
        cache = self.__dict__.setdefault("_codes", {})
        if column not in cache:
            cache[column] = pl.col(column).cast(pl.String).cast(pl.Enum(self.values), strict=False).to_physical()
        return cache[column]

    def ids(self, text: pl.Series) -> np.ndarray:
        """Ids of cleaned text (null = missing)."""
        codes = pl.DataFrame({"v": text}).select(self.codes("v"))["v"]
        missing = text.is_null().to_numpy()
        ids = codes.fill_null(0).to_numpy().astype(np.int64) + 1 + self.oov
        unknown = codes.is_null().to_numpy() & ~missing
        if unknown.any():
            ids[unknown] = self.unknown_ids(hashing.hash_strings(text.filter(pl.Series(unknown))))
        ids[missing] = 0
        return ids

    def unknown_ids(self, h: np.ndarray) -> np.ndarray:
        """The out-of-vocabulary id of values with these stable hashes."""
        return np.ones(len(h), dtype=np.int64) if self.oov == 1 else hashing.bucket(h, self.oov) + 1

    def lookup(self) -> Lookup:
        ids = self.ids(pl.Series(self.values, dtype=pl.String))
        return Lookup(self.source, self.values, ids, 1 if self.oov == 1 else None)

    def value_name(self, i: int) -> str:
        return f"{self.name}={self.values[i - 1 - self.oov]}" if i > self.oov else f"{self.name}=<other>"


class Hashed(_Categorical):
    """Values hashed into `buckets` ids with a stable hash (FNV-1a 64): no vocabulary to fit or to store."""

    kind: Literal["hashed"] = "hashed"
    encoding: ClassVar[str] = "hash"
    buckets: int = Field(ge=1)

    @property
    def cardinality(self) -> int:
        return self.buckets + 1

    def ids(self, text: pl.Series) -> np.ndarray:
        return np.where(text.is_null().to_numpy(), 0, self.unknown_ids(hashing.hash_strings(text)))

    def lookup(self) -> Lookup:
        return Lookup(self.source, [], np.zeros(0, dtype=np.int64), None)  # every value not missing is hashed

    def unknown_ids(self, h: np.ndarray) -> np.ndarray:
        return hashing.bucket(h, self.buckets) + 1

    def value_name(self, i: int) -> str:
        return f"{self.name}#bucket{i - 1}"


class Identity(_Categorical):
    """Values that are integer ids in [0, num_ids); others share one out-of-range id."""

    kind: Literal["identity"] = "identity"
    encoding: ClassVar[str] = "identity"
    num_ids: int = Field(ge=1)

    def ids(self, text: pl.Series) -> np.ndarray:
        num = text.cast(pl.Int64, strict=False)
        v = num.fill_null(-1).to_numpy()
        ids = np.where((v >= 0) & (v < self.num_ids) & ~num.is_null().to_numpy(), v + 2, 1).astype(np.int64)
        ids[text.is_null().to_numpy()] = 0
        return ids

    @property
    def cardinality(self) -> int:
        return self.num_ids + 2

    def value_name(self, i: int) -> str:
        return f"{self.name}={i - 2}" if i >= 2 else f"{self.name}=<out of range>"


class Buckets(_Sparse):
    """A numeric column cut at boundaries: bucket i holds boundaries[i-1] <= x < boundaries[i]."""

    kind: Literal["buckets"] = "buckets"
    encoding: ClassVar[str] = "buckets"
    column: str  # the numeric source column
    missing: list[str] = []
    boundaries: Increasing
    multivalent: Literal[False] = False

    @property
    def cardinality(self) -> int:
        return len(self.boundaries) + 2

    @cached_property
    def _bounds(self) -> np.ndarray:
        return np.asarray(self.boundaries, dtype=np.float64)

    def ids(self, x: np.ndarray) -> np.ndarray:
        """Bucket ids of float64 values with NaN for missing: 0 = missing, then one id per interval."""
        return np.where(np.isnan(x), 0, np.searchsorted(self._bounds, x, side="right") + 1).astype(np.int64)

    def number_source(self) -> tuple[str, list[str]]:
        return self.column, self.missing

    def serve(self, r: Request) -> np.ndarray:
        return self.ids(r.number(self.column))

    def component_hash(self, r: Request) -> np.ndarray:
        return hashing.hash_ints(self.serve(r))  # a bucket id, mixed

    def label(self, i: int) -> str:
        """'<25', '[25,35)', '>=65' for bucket id i (1-based)."""
        b, k = self.boundaries, i - 1
        if not b:
            return "all"
        return f"<{b[0]:g}" if k == 0 else f">={b[-1]:g}" if k == len(b) else f"[{b[k - 1]:g},{b[k]:g})"

    def value_name(self, i: int) -> str:
        return f"{self.name}={self.label(i)}"


class Numeric(_Feature):
    """A dense input: clipped, missing filled, transformed with the fitted statistics, then centered and scaled."""

    kind: Literal["numeric"] = "numeric"
    name: str
    missing: list[str] = []
    transform: Literal["none", "standardize", "minmax", "log1p", "quantile"]
    fill: float
    clip: tuple[float, float] | None = None
    mean: float
    std: float
    min: float
    max: float
    boundaries: Increasing = []  # transform: quantile
    smooth: bool = False  # quantile: read between its boundaries, not as the bin's index (False: fitted before)
    center: float = Field(0.0, allow_inf_nan=False)  # the model reads (transformed - center) / spread: the mean and
    spread: float = Field(1.0, gt=0, allow_inf_nan=False)  # sd of log1p values (else 0 and 1)
    edges: list[float] = []  # deep.numeric_embedding piecewise: its bins' edges, transformed (as the model sees them)
    spike: bool = False  # over half its rows hold one value, the rest two others or more (numeric_embedding auto)
    uneven: bool = False  # the label's rate turns often along it (numbers.uneven; numeric_embedding auto)
    named: bool = False  # its exact values tell the label apart (numbers.named; numeric_embedding auto)
    flag: bool = False  # two values and missing ones: three states, not a number (numbers.flag; numeric_embedding auto)
    known: Increasing = []  # numeric_embedding values: the values it embeds, transformed, ascending
    multivalent: Literal[False] = False

    @model_validator(mode="after")
    def _usable(self) -> Numeric:
        if problem := self.problem():
            raise ValueError(problem)
        return self

    def problem(self) -> str | None:
        """What makes this state one its transform cannot use, in words (None: nothing): what it reads not finite,
        a negative spread (a pipeline.json edited so scored every row silently wrong; fitting refuses it too)."""
        read = {"standardize": ("mean", "std"), "minmax": ("min", "max")}.get(self.transform, ())
        used = {"fill": self.fill, **dict(zip(("clip[0]", "clip[1]"), self.clip or ()))}
        used |= {k: getattr(self, k) for k in read} | {f"edges[{i}]": e for i, e in enumerate(self.edges)}
        if (bad := next((k for k, v in used.items() if not np.isfinite(v)), None)) is not None:
            return f"{bad} is {used[bad]}, not a finite number"
        if self.clip and self.clip[0] > self.clip[1]:
            return f"clip {list(self.clip)} is not [low, high]"
        if self.transform == "standardize" and self.std < 0:
            return f"std is {self.std}; a standard deviation is not negative"
        if self.transform == "minmax" and not (self.min <= self.max and np.isfinite(self.max - self.min)):
            return f"min {self.min} and max {self.max} make no range (max - min is {self.max - self.min})"
        if any(b < a for a, b in zip(self.edges, self.edges[1:])):
            return "edges are not in increasing order"
        return None

    def describe(self) -> str:  # (the clip too: the spec's, or what clip: auto fitted)
        return self.transform + (f", clipped to [{self.clip[0]:.4g}, {self.clip[1]:.4g}]" if self.clip else "")

    def number_source(self) -> tuple[str, list[str]]:
        return self.name, self.missing


class _Cross(_Sparse):
    columns: list[str] = Field(min_length=2)  # features (categorical or buckets), in order
    multivalent: bool = False

    def ids(self, h: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def serve(self, r: Request) -> np.ndarray:
        return self.ids(r.cross_hashes(self.columns)[1])

    def serve_bag(self, r: Request) -> Bag:
        rows, h = r.cross_hashes(self.columns)
        return self.ids(h), np.bincount(rows, minlength=r.n), None


class HashedCross(_Cross):
    kind: Literal["hashed_cross"] = "hashed_cross"
    encoding: ClassVar[str] = "hash"
    buckets: int = Field(ge=1)
    examples: dict[int, str] = {}  # a readable combination for the most frequent buckets (`wdcli inspect`)

    @property
    def cardinality(self) -> int:
        return self.buckets + 1

    def ids(self, h: np.ndarray) -> np.ndarray:
        """Ids of combination hashes."""
        return hashing.bucket(h, self.buckets) + 1

    def value_name(self, i: int) -> str:
        return self.examples.get(i, f"{self.name}#bucket{i - 1}")


class VocabularyCross(_Cross):
    kind: Literal["vocabulary_cross"] = "vocabulary_cross"
    encoding: ClassVar[str] = "vocab"
    hashes: list[int]  # combinations seen at least min_count times, most frequent first
    names: list[str]  # their readable names ('a=x AND b=y')

    @property
    def cardinality(self) -> int:
        return 2 + len(self.hashes)

    @cached_property
    def _index(self) -> HashIndex:
        return HashIndex(np.asarray(self.hashes, dtype=np.uint64))

    def ids(self, h: np.ndarray) -> np.ndarray:
        """Ids of combination hashes: their place in the vocabulary, or 1 (not in it)."""
        at = self._index.find(h)
        return np.where(at >= 0, at + 2, 1).astype(np.int64)

    def value_name(self, i: int) -> str:
        return self.names[i - 2] if i >= 2 else f"{self.name}=<other>"


Categorical = Vocabulary | Hashed | Identity
Cross = HashedCross | VocabularyCross
Sparse = Vocabulary | Hashed | Identity | Buckets | HashedCross | VocabularyCross
Feature = Annotated[
    Vocabulary | Hashed | Identity | Buckets | Numeric | HashedCross | VocabularyCross, Field(discriminator="kind")
]
_FEATURES = TypeAdapter(list[Feature])
