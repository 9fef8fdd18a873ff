"""What each column of a data sample is: its kind (from its type and distinct count), its missing markers, the
separator of list-like text, or why it is left out (constant, all missing, an identifier, an unsupported type).

The rules are those of `wdcli.features.clean`: values are stripped, "" is missing, and the markers found here are
declared so that the pipeline treats them as missing too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..errors import DataError
from ..features.clean import MARKERS
from .cuts import bucket_boundaries

# (MARKERS: cells that commonly mean "missing" in exported tables, "" being missing by the cleaning rules already)
SEPARATORS = ("|", ";", ",")
# Distinct values (estimated over all rows) from which a column is hashed, not given a vocabulary: below it the
# vocabulary's min_count keeps rare ids from being memorized (hashed, each had a bucket of its own: 0.806
# against 0.809 test AUC on bench/synth.py's pairs); beyond it a vocabulary is large to count and keep.
MIN_BUCKET_GAIN = 0.001  # nats per row a bucketized version must save alone to be kept (for crosses)
HASH_AT = 1_000_000
ID_NAME = re.compile(r"(^|[_\-\s.])(id|uuid|guid|key)$|(?-i:[a-z]Id)$", re.IGNORECASE)  # (userId, not 'paid')
# names of codes written with digits (a zip code, a phone number, a product code): values, not quantities
CODE_NAME = re.compile(r"(^|[_\-\s.])(zip|zipcode|postcode|postal_?code|phone|code)$|(?-i:[a-z]Code)$", re.IGNORECASE)


@dataclass
class Column:
    """One column of the sample, profiled."""

    name: str
    kind: str  # numeric | categorical | multivalent | skip
    reason: str = ""  # why it was left out, or a note on how it is encoded
    markers: list[str] = field(default_factory=list)  # missing markers found in it
    distinct: int = 0  # distinct non-missing values (tokens, for multivalent) in the sample
    estimate: int = 0  # distinct values estimated over all rows
    missing: float = 0.0  # fraction of sample rows missing
    separator: str | None = None
    hashed: bool = False
    values: pl.Series | None = None  # cleaned: Float64 (numeric), String (categorical), List(String) (multivalent)
    boundaries: list[float] = field(default_factory=list)  # bucket boundaries of a numeric column, for crosses
    numbers: Column | None = None  # whole numbers stored as text in a typed file: the column read as numbers
    categories: Column | None = (
        None  # numbers that may be codes or identities: the column read as categories (codes.py)
    )
    codes: bool = False  # with `categories`: whole numbers of ROWS_PER_CODE rows a value (else values that repeat)
    note: str = ""  # how its kind was chosen, beside its line in the draft

    @property
    def sparse(self) -> bool:
        return self.kind in ("categorical", "multivalent")

    @property
    def series(self) -> pl.Series:
        """`values` of a numeric, categorical or multivalent column, which profiling always gives them."""
        assert self.values is not None, f"column '{self.name}' ({self.kind}) was profiled without its values"
        return self.values


def share(mask: pl.Series) -> float:
    """The share of true values of a boolean Series, nulls left out (0.0 when it has none). polars types
    Series.mean() as any Python value, whatever the Series' dtype; a boolean Series' is a float or None."""
    m = mask.mean()
    assert m is None or isinstance(m, float), f"the mean of a {mask.dtype} Series"
    return m or 0.0


def chao1(distinct: int, singletons: int, doubletons: int, sampled: bool, total: int) -> int:
    """Distinct values over all rows, estimated from a sample (Chao's lower-bound estimator)."""
    if not sampled:
        return distinct
    extra = singletons * (singletons - 1) / (2 * (doubletons + 1))
    return int(min(distinct + extra, max(total, distinct)))


STEPS = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)


def buckets_for(distinct: int, rows: int, total: int) -> int:
    """Hash buckets for about twice the distinct values expected over all rows (more rows, more values)."""
    expected = distinct * (1 + np.log(max(total / max(rows, 1), 1.0)))
    return next((s for s in STEPS if s >= 2 * expected), STEPS[-1])


def _markers_in(text: pl.Series) -> list[str]:
    found = text.filter(text.is_in(list(MARKERS))).unique().to_list()
    return sorted(found, key=MARKERS.index)


KINDS = ("numeric", "categorical", "multivalent", "skip")  # what `init --kind COLUMN=KIND` may say


def given_kind(name: str, s: pl.Series, kind: str, total: int) -> Column:
    """A column profiled as `init --kind` says, whatever its values suggest: no codes or numbers tried; a kind
    its values cannot have is a DataError."""
    n, sampled = len(s), len(s) < total
    if kind == "skip":
        return Column(name, "skip", "--kind skip")
    cannot = f"--kind {name}={kind}: column '{name}'"
    if isinstance(s.dtype, (pl.List, pl.Array)):
        if kind != "multivalent":
            raise DataError(f"{cannot} holds lists ({s.dtype}); a list column is multivalent")
        return _categorical(name, s.cast(pl.List(pl.String)), [], None, n, total, sampled)
    if kind == "numeric" and not (s.dtype.is_numeric() or s.dtype in (pl.String, pl.Categorical, pl.Enum)):
        raise DataError(f"{cannot} is of type {s.dtype}, no number; derive a numeric column from it")
    clean, markers = _cleaned(name, s)
    if kind == "numeric":
        parsed = s.cast(pl.Float64) if s.dtype.is_numeric() else clean.cast(pl.Float64, strict=False)
        if clean.null_count() < n and parsed.null_count() == n:
            raise DataError(f"{cannot} holds no number (such as {clean.drop_nulls()[0]!r})")
        col = _numeric(name, parsed, markers, n)
        unread = clean.null_count() < parsed.null_count()
        col.note = "--kind numeric" + ("; values that are no numbers read as missing" if unread else "")
        return col
    found = (sep for sep in SEPARATORS if clean.str.contains(sep, literal=True).any())
    separator = (_separator(clean.drop_nulls()) or next(found, None)) if kind == "multivalent" else None
    if kind == "multivalent" and separator is None:
        raise DataError(f"{cannot} holds no list separator (| ; ,) in its values: it is no list")
    values = clean if separator is None else _split(clean, separator, markers)
    col = _categorical(name, values, markers, separator, n, total, sampled)
    if col.kind == "skip" and col.reason.startswith("unique in"):  # (the user's call: said, not overruled)
        col.kind, col.note, col.reason = kind, f"--kind {kind}; {col.reason}", ""
    col.note = col.note or f"--kind {kind}"
    return col


def profile_column(name: str, s: pl.Series, total: int, identity: bool = False, typed: bool = False) -> Column:
    """Profile one column of the sample; `total` is the number of rows in all the data; `identity`: the column
    names things (the --group column kept as a feature: a user), categorical whatever its type. `typed`: the
    files keep their columns' types (Parquet, JSON lines), so whole numbers stored there as text may name things
    (ids) or count them (amounts written by a text-only export): such a column is profiled both ways, and
    `settle` keeps the one that gains more alone. (CSV has no types: there text that parses as numbers is numbers.)"""
    n, sampled = len(s), len(s) < total
    if isinstance(s.dtype, (pl.List, pl.Array)):
        return _categorical(name, s.cast(pl.List(pl.String)), [], None, n, total, sampled)
    if s.dtype == pl.Boolean or identity and s.dtype.is_numeric():
        return _categorical(name, s.cast(pl.String), [], None, n, total, sampled)
    if s.dtype.is_numeric():
        if (ID_NAME.search(name) or CODE_NAME.search(name)) and s.dtype.is_integer():
            return _categorical(name, s.cast(pl.String), [], None, n, total, sampled)
        return _maybe_codes(_numeric(name, s.cast(pl.Float64), [], n), s.cast(pl.String), n, total, sampled)
    if s.dtype not in (pl.String, pl.Categorical, pl.Enum, pl.Null):
        return Column(name, "skip", f"its type {s.dtype} has no column kind; derive numeric or text columns from it")
    clean, markers = _cleaned(name, s)
    parsed = clean.cast(pl.Float64, strict=False)
    codes = bool(clean.str.contains(r"^[+-]?0\d").any())  # "00123": a code written with digits, not a quantity
    if (
        clean.null_count() < n
        and parsed.null_count() == clean.null_count()
        and not codes
        and not identity
        and not ((ID_NAME.search(name) or CODE_NAME.search(name)) and _integral(parsed))
    ):
        numeric = _numeric(name, parsed, markers, n)
        if not typed or not clean.drop_nulls().str.contains(r"^[+-]?\d+$").all():
            return _maybe_codes(numeric, clean, n, total, sampled)
        col = _categorical(name, clean, markers, None, n, total, sampled)
        col.numbers = numeric
        return col
    separator = _separator(clean.drop_nulls())
    if separator is not None:
        return _categorical(name, _split(clean, separator, markers), markers, separator, n, total, sampled)
    col = _categorical(name, clean, markers, None, n, total, sampled)
    col.note = _joined(name, clean.drop_nulls()) if col.kind == "categorical" else ""
    return col


def _cleaned(name: str, s: pl.Series) -> tuple[pl.Series, list[str]]:
    """A text column's values stripped, with "" and the missing markers found in it (also returned) as null."""
    text = s.cast(pl.String).str.strip_chars().alias(name)
    markers = _markers_in(text)
    clean = text.to_frame().select(
        pl.when(pl.col(name).is_in(markers) | (pl.col(name) == "")).then(None).otherwise(pl.col(name)).alias(name)
    )[name]
    return clean, markers


def _split(clean: pl.Series, separator: str, markers: list[str]) -> pl.Series:
    """Cleaned text split into lists on `separator`, each piece stripped, empty and missing pieces dropped."""
    lists = clean.str.split(separator).list.eval(pl.element().str.strip_chars())
    return lists.list.eval(pl.element().filter((pl.element() != "") & ~pl.element().is_in(markers)))


AS_NUMBERS = 0.002  # nats per row whole numbers stored as text must gain more as numbers than as categories


def settle(columns: list[Column], gain: Callable[[Column], float]) -> list[Column]:
    """Each column profiled both ways (`numbers`) as the way that gains more alone (`gain`: held-out log loss
    saved): ids written as digits gain as categories (bench/synth.py's sparse set: 0.0097 against 0.0027 nats),
    amounts as numbers. The writer chose text, so numbers must gain AS_NUMBERS more (that set's ids of no effect,
    many values each, lose as categories, -0.002, and read as noise numbers they cost its draft 0.005 test AUC);
    one that is no category at all (unique in almost every row: a time, an amount of many values) is numbers."""

    def pick(c: Column, n: Column | None) -> Column:
        if n is None or n.kind == "skip":
            return c
        return n if c.kind == "skip" or gain(n) >= gain(c) + AS_NUMBERS else c

    return [pick(c, c.numbers) for c in columns]


CODE_VALUES = 10  # numbers of this many values or more, each in ROWS_PER_VALUE sample rows on average, may name
ROWS_PER_VALUE = 5  # things (a household by its income, repeated in each of its years): init tries them as categories
ROWS_PER_CODE = (
    20  # too; whole numbers of this many rows a value are codes (an occupation's census code, a store number)
)


def _maybe_codes(col: Column, text: pl.Series, n: int, total: int, sampled: bool) -> Column:
    """A numeric column with values enough and rows enough per value to be codes or to name things, profiled as
    categories as well (`categories`, of `text`: its values as a categorical column reads them; `codes`: whole
    numbers of ROWS_PER_CODE rows a value; draft.codes chooses). A name of an id or a code makes them categories
    outright (profile_column); others are numbers unless the trial says otherwise."""
    present = n * (1 - col.missing)
    if col.kind != "numeric" or col.distinct < CODE_VALUES or present < ROWS_PER_VALUE * col.distinct:
        return col
    v = col.series.drop_nulls().to_numpy()
    v = v[np.isfinite(v)]  # (a float column's NaN is missing, as a null)
    if len(v) == 0:
        return col
    col.codes = present >= ROWS_PER_CODE * col.distinct and bool(np.all(v == np.round(v)))
    col.categories = _categorical(col.name, text.alias(col.name), col.markers, None, n, total, sampled)
    return col


def _integral(x: pl.Series) -> bool:
    v = x.drop_nulls().to_numpy()
    return len(v) > 0 and bool(np.all(v == np.round(v)))


def _separator(text: pl.Series) -> str | None:
    """The separator of list-like text: one that many values hold, whose pieces repeat far more than whole values:
    fewer distinct pieces than half the distinct values (genres), or each piece seen four times as often as each
    value, half again as often with four pieces a value or more (a history of item ids: thousands of items, yet
    each row's list its own; a small sample sees each item a few times only). ("Austin, TX": the pieces, cities
    and states, seen two or three times as often as the values.)"""
    if len(text) < 20:
        return None
    distinct = text.n_unique()
    for sep in SEPARATORS:
        has = text.str.contains(sep, literal=True)
        if share(has) < 0.2:
            continue
        tokens = text.str.split(sep).explode().str.strip_chars()
        pieces = tokens.n_unique()
        many = tokens.len() / pieces >= (1.5 if tokens.len() >= 4 * len(text) else 4) * len(text) / distinct
        if tokens.len() >= 1.5 * len(text) and (pieces < 0.5 * distinct or many):
            return sep
    return None


def _joined(name: str, text: pl.Series) -> str:
    """A note on text that may be a list of mostly one value: 5% of its values or more (20 at least) hold '|' or
    ';', and their pieces are mostly values of the column on their own (a walk's mentions of tweets: one account
    in most rows, several in an eighth). Drafted categorical all the same: '@a|@b' a value of its own, which also
    tells that a row holds several, and on that walk's tweets the list cost 0.0115 test AUC (0.6599, categorical
    0.6714); the note says how to read it as a list."""
    for sep in ("|", ";"):
        has = text.str.contains(sep, literal=True)
        if share(has) < 0.05 or int(has.sum()) < 20:
            continue
        alone = text.filter(~has).str.strip_chars().unique()
        pieces = text.filter(has).str.split(sep).explode().str.strip_chars()
        if share(pieces.is_in(alone.implode())) >= 0.6:
            return (
                f"{share(has):.0%} of its values join values of its own with '{sep}': "
                f"--kind {name}=multivalent reads them as lists"
            )
    return ""


def _numeric(name: str, x: pl.Series, markers: list[str], n: int) -> Column:
    v = x.to_numpy().astype(np.float64)
    v = v[np.isfinite(v)]
    col = Column(name, "numeric", markers=markers, missing=1 - len(v) / max(n, 1), values=x.alias(name))
    col.distinct = int(len(np.unique(v)))
    if len(v) == 0:
        col.kind, col.reason = "skip", "missing in every sample row"
    elif col.distinct == 1:
        col.kind, col.reason = "skip", f"constant ({_num(v[0])} in every sample row that has a value)"
    elif (
        col.distinct == len(v)
        and len(v) > 100
        and _integral(x)
        and bool(np.all(np.diff(x.drop_nulls().to_numpy()) > 0))
    ):
        col.kind, col.reason = "skip", "a row number (unique and increasing): it says nothing about the label"
    elif col.distinct <= 30 and _integral(x):  # a few whole numbers (a count, a grade): a bucket for each
        col.boundaries = sorted(float(b) for b in np.unique(v))[1:]
    else:
        col.boundaries = bucket_boundaries(v)
    return col


def _categorical(
    name: str,
    values: pl.Series,
    markers: list[str],
    separator: str | None,
    n: int,
    total: int,
    sampled: bool,
) -> Column:
    multi = values.dtype == pl.List(pl.String)
    flat = values.explode().drop_nulls() if multi else values.drop_nulls()
    kind = "multivalent" if multi else "categorical"
    missing = share(values.list.len().fill_null(0) == 0) if multi else values.null_count() / max(n, 1)
    col = Column(
        name, kind, markers=markers, missing=float(missing or 0.0), separator=separator, values=values.alias(name)
    )
    counts = flat.alias("value").value_counts(name="count")["count"]  # (a column may be named count)
    col.distinct = len(counts)
    col.estimate = chao1(col.distinct, int((counts == 1).sum()), int((counts == 2).sum()), sampled, total)
    if col.distinct == 0:
        col.kind, col.reason = "skip", "missing in every sample row"
    elif col.distinct == 1 and col.missing == 0:
        col.kind, col.reason = "skip", f"constant ({flat[0]!r} in every sample row)"
    elif not multi and col.distinct > 100 and min(col.distinct / len(flat), col.estimate / max(total, 1)) >= 0.9:
        # (unique in the sample and, estimated, over all rows: a user of 200 rows in 100 million is seen once in a
        # sample of 100,000, yet no identifier)
        col.kind, col.reason = (
            "skip",
            (
                f"unique in {col.distinct / len(flat):.0%} of sample rows: an identifier "
                "or free text, which cannot generalize to new rows"
            ),
        )
    elif col.estimate >= HASH_AT:
        col.hashed = True
    return col


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def shared_tables(columns: list[Column]) -> dict[str, list[str]]:
    """A list column and a column whose values are mostly the same things (the apps installed and the app
    shown) share one embedding table: what is learned of an app in one serves the other."""
    lists = [c for c in columns if c.kind == "multivalent"]
    singles = [c for c in columns if c.kind == "categorical"]
    shared, used = {}, set()
    for m in lists:
        tokens = set(m.series.explode().drop_nulls().unique().to_list())
        # the most alike, not the first alike enough (user and movie ids may both be 1..n)
        scored = [(_jaccard(tokens, s), s) for s in singles if s.name not in used]
        overlap, s = max(scored, key=lambda x: x[0], default=(0.0, None))
        if s is not None and overlap >= 0.5:
            shared[f"{s.name}_table"] = [m.name, s.name]
            used |= {m.name, s.name}
            _encode_alike(m, s)
    return shared


def _jaccard(tokens: set, column: Column) -> float:
    """The share of the values of a list column and of a column that are the same."""
    values = set(column.series.drop_nulls().unique().to_list())
    return len(tokens & values) / len(tokens | values) if tokens and values else 0.0


def _encode_alike(*columns: Column) -> None:
    """Columns sharing a table take the same ids: all hashed into the same buckets when any is hashed."""
    if any(c.hashed for c in columns):
        estimate = max(c.estimate for c in columns)
        for c in columns:
            c.hashed, c.estimate = True, estimate
