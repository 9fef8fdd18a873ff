"""`fit_pipeline(spec, train)`: learn every feature's state from the training rows only (vocabularies,
quantile boundaries, statistics, cross vocabularies), as the typed features of `wdcli.features.fitted`.

Fitting is a reduction over batches of rows (`Fitter.update`), so data larger than memory fits in memory bounded
by the fitted state: value counts per column, running moments of numeric columns, and a row sample for quantiles.
The sample holds every row up to SAMPLE_ROWS training rows, so quantiles are exact there; beyond, it is a uniform
sample of SAMPLE_ROWS rows (bottom-k of a stable hash of the row's position), and a boundary's rank is within
+-0.27% of its target with probability 1 - 1e-6 (the Dvoretzky-Kiefer-Wolfowitz bound). Vocabulary crosses need
the fitted buckets, so a spec with any takes a second pass over the rows.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, cast

import numpy as np
import polars as pl
from pydantic import ValidationError

from ..errors import DataError
from ..spec import Spec
from ..spec.types import Bucketized, Categorical, Multivalent
from ..spec.types import Numeric as NumericSpec
from . import clean, hashing, numbers
from .categories import categorical, cleaned_counts, text_source
from .cross_fit import cross_inputs, fit_cross
from .fitted import Buckets, Feature, Numeric
from .inputs import check_columns, label_array, spec_inputs
from .numbers import log1p, median, named_column, quantile_boundaries, sort, spiked, spread_rows, uneven_column
from .pipeline import FittedPipeline
from .reductions import Counts, Moments, keep_smallest
from .transform import cross_hashes

NAMED_ROWS = 50_000  # readable names of cross combinations are taken from the first rows
_SPREAD = (uneven_column, named_column)  # the tests of how the label's rate runs along a number
SAMPLE_ROWS = 1_000_000  # quantiles are exact up to this many training rows
ALL_KEYS = np.uint64(np.iinfo(np.uint64).max)


def _first_rows(frames: list[pl.DataFrame], n: int) -> list[pl.DataFrame]:
    """The frames that hold the first n rows of all (the last one cut)."""
    out: list[pl.DataFrame] = []
    for f in frames:
        room = n - sum(len(h) for h in out)
        if room <= 0:
            break
        out.append(f.head(room))
    return out


class Fitter:
    """Fit a pipeline from batches of training rows: `update(frame)` for each, then `finish()`. Processes that
    each fit a share of the rows (`first_row`: where the share starts among all the training rows) merge their
    fitters (`merged`) before finishing."""

    def __init__(self, spec: Spec, where: str = "training data", first_row: int = 0):
        self.spec, self.where = spec, where
        self.rows = 0
        self.first_row = first_row
        self.labels: set[str] = set()
        cols = spec.columns
        self.text = {n: c for n, c in cols.items() if isinstance(c, (Categorical, Multivalent))}
        self.counts = {n: Counts() for n in self.text}
        self.numeric = {n: c for n, c in cols.items() if isinstance(c, NumericSpec)}
        # every column read as numbers: the numeric columns and the sources of bucketized ones
        self.sources = [column for column, needs in spec_inputs(spec).items() if needs.reads == "numeric"]
        self.auto_clipped = set(spec.auto_clipped())
        self.valued = numbers.valued(spec)  # (the deep part's numbers that may be embedded by their values)
        self.raw = {n: Moments() for n in self.numeric}  # present values, clipped, in raw units (the fill)
        self.moments = {n: Moments() for n in self.numeric}  # present values, clipped and transformed
        self.sample_keys = np.zeros(0, dtype=np.uint64)
        # a row per source column (each column contiguous), and the label's 0/1 last (`uneven`)
        self.sample = np.zeros((len(self.sources) + 1, 0))
        self.head: list[pl.DataFrame] = []  # the first NAMED_ROWS rows: cross names' columns, `_names_alone`'s
        self.univalent, self.read = [n for n, c in self.text.items() if isinstance(c, Categorical)], spec.deep_dense()
        self.named = list(dict.fromkeys([*cross_inputs(spec), *(self.univalent + self.read if self.read else [])]))

    def update(self, df: pl.DataFrame) -> None:
        spec, where = self.spec, self.where
        check_columns(spec, df, where, need_label=True, need_group=True)  # (training rows: gAUC needs the group)
        if len(df) == 0:
            return
        df = clean.whole_floats(df, list(self.text))
        y = label_array(spec, df, where)  # nulls and values that cannot be 0/1, named in this batch
        self.labels.update(df[spec.label.column].cast(pl.String).str.strip_chars().unique().to_list())
        raw = pl.collect_all(
            [
                df.lazy().select(pl.col(n).cast(pl.String).alias("value").value_counts(name="count")).unnest("value")
                for n in self.univalent
            ]
        )  # counted raw, in parallel
        for name, counts in zip(self.univalent, raw):
            self.counts[name].add(counts)
        for name, col in self.text.items():
            if isinstance(col, Multivalent):
                values = clean.list_values(df, text_source(name, col), where, weights=False)[0]
                self.counts[name].add(values.alias("value").value_counts(name="count"))  # (any column name)
        self._numbers(df, y)
        if self.named and sum(len(h) for h in self.head) < NAMED_ROWS:
            self.head.append(df.select(self.named).head(NAMED_ROWS - sum(len(h) for h in self.head)))
        self.rows += len(df)

    def _numbers(self, df: pl.DataFrame, y: np.ndarray) -> None:
        if not self.sources:
            return
        x = np.stack(
            [clean.numbers(df, c, getattr(self.spec.columns.get(c), "missing", []), self.where) for c in self.sources]
            + [y.astype(np.float64)]
        )
        for name, col in self.numeric.items():
            v = x[self.sources.index(name)]
            v = v[~np.isnan(v)]
            if col.bounds is not None:
                v = np.clip(v, *col.bounds)
            self.raw[name].add(v)
            self.moments[name].add(log1p(v) if col.transform == "log1p" else v)
        first = self.first_row + self.rows
        keys = hashing.hash_ints(np.arange(first, first + len(df), dtype=np.int64))
        self.sample_keys, self.sample = keep_smallest(self.sample_keys, self.sample, keys, x, SAMPLE_ROWS)

    def shares(self, gather: Gather) -> list[Fitter]:
        """Every process's fitter (this one of this process's share), for `merged`, exchanged at the least cost:
        of the sample only the rows the merge keeps (those of the SAMPLE_ROWS smallest keys of all, found from
        the keys alone), its numbers as one array, and the first rows only from shares that hold some of the
        first NAMED_ROWS rows (the shares before one that starts past them hold them all)."""
        keys = gather(self.sample_keys)
        every = np.concatenate(keys)
        last = np.partition(every, SAMPLE_ROWS - 1)[SAMPLE_ROWS - 1] if len(every) > SAMPLE_ROWS else ALL_KEYS
        samples = gather(np.ascontiguousarray(self.sample[:, self.sample_keys <= last]))
        light = copy.copy(self)
        light.sample_keys, light.sample = self.sample_keys[:0], self.sample[:, :0]
        light.head = self.head if self.first_row < NAMED_ROWS else []
        out = gather(light)
        for share, k, sample in zip(out, keys, samples):
            share.sample_keys, share.sample = k[k <= last], sample
        return out

    @staticmethod
    def merged(shares: list[Fitter]) -> Fitter:
        """One fitter of the shares' rows (in the order of the shares): the state of one that saw them all."""
        out = shares[0]
        for share in shares[1:]:
            for name, counts in share.counts.items():
                out.counts[name].merge(counts)
            out.sample_keys, out.sample = keep_smallest(
                out.sample_keys, out.sample, share.sample_keys, share.sample, SAMPLE_ROWS
            )
            out.labels |= share.labels
            out.head = _first_rows(out.head + share.head, NAMED_ROWS)
            out.rows += share.rows
        out.raw = {n: Moments.of([s.raw[n] for s in shares]) for n in out.raw}
        out.moments = {n: Moments.of([s.moments[n] for s in shares]) for n in out.moments}
        return out

    def finish(
        self, gather: Gather | None = None, part: tuple[int, int] = (0, 1)
    ) -> tuple[dict[str, Feature], pl.DataFrame]:
        """The fitted columns (crosses are fitted from them: `fit_crosses`), and the first rows, for names. In a
        job of processes (`gather`; `part`: this one's rank and their number) each fits every n-th column and the
        columns are gathered; an error in one is raised in every process (the first column's, as one process
        raises it), so that none waits for the others."""
        spec, where = self.spec, self.where
        if self.rows == 0:
            raise DataError(f"{where}: no rows to fit on")
        label_array(spec, pl.DataFrame({spec.label.column: sorted(self.labels)}), where, fitting=True)
        counts, self.whole_texts = {}, set()  # (the text columns that hold "300.0": `clean.whole_floats`)
        for name, text in self.text.items():
            c = self.counts[name].result()
            # clean the distinct raw values only (a list's values are cleaned as they are split)
            c, whole = cleaned_counts(c, text.missing if isinstance(text, Categorical) else None)
            if whole:
                self.whole_texts.add(name)
            if len(c) == 0:
                raise DataError(
                    f"{where}: column '{name}' has no values (all missing); fix the data or remove the column"
                )
            counts[name] = c
        features: dict[str, Feature] = {}
        failed: tuple[int, Exception] | None = None
        rows = spread_rows(self.sample_keys)  # (the rows the uneven test reads, the same for every number)
        spread = (rows, numbers.distinct_rows(self.sample, rows))  # (and the named test: copies left out)
        for i, (name, col) in enumerate(spec.columns.items()):
            if i % part[1] != part[0]:
                continue
            try:
                feature = self._feature(name, col, counts, spread)
            except Exception as e:  # noqa: BLE001 (raised below, in every process)
                failed = (i, e if isinstance(e, DataError) or gather is None else RuntimeError(repr(e)))
                break
            if feature is not None:
                features[name] = feature
        if gather is not None:
            shares = gather((features, failed))
            errors = [f for _, f in shares if f is not None]
            every = {n: f for share, _ in shares for n, f in share.items()}
            features = {n: every[n] for n in spec.columns if n in every}
            failed = min(errors, key=lambda f: f[0]) if errors else None
        if failed is not None:
            raise failed[1]
        return features, pl.concat(self.head) if self.head else pl.DataFrame()

    def _feature(self, name: str, col: Any, counts: dict[str, pl.DataFrame], spread: tuple) -> Feature | None:
        if isinstance(col, (Categorical, Multivalent)):
            return categorical(self.spec, name, col, counts, self.rows, name in self.whole_texts)
        if isinstance(col, NumericSpec):
            return self._numeric(name, col, spread)
        if not isinstance(col, Bucketized):
            return None
        values = self.sample[self.sources.index(col.source)]
        values = values[~np.isnan(values)]
        source = self.spec.columns.get(col.source)
        bounds = (
            list(col.boundaries)
            if col.boundaries is not None
            else quantile_boundaries(values, cast(int, col.quantiles))
        )
        missing = source.missing if isinstance(source, NumericSpec) else []
        return _checked(self.where, name, Buckets, name=name, column=col.source, boundaries=bounds, missing=missing)

    def _numeric(self, name: str, col: NumericSpec, spread: tuple[np.ndarray, np.ndarray]) -> Numeric:
        raw = self.raw[name]
        if raw.n == 0:
            raise DataError(
                f"{self.where}: column '{name}' has no values (all missing, NaN or inf); fix the data "
                "or remove the column"
            )
        values = self.sample[self.sources.index(name)]
        present = values[~np.isnan(values)]
        if col.bounds is not None:
            present = np.clip(present, *col.bounds)
        ordered = sort(present) if col.fill == "median" or col.transform == "quantile" else present
        far = numbers.far_bounds(present) if name in self.auto_clipped else None
        if far is not None:  # the moments of the sample's values clipped there (standardized: raw values)
            raw = Moments()
            raw.add(np.clip(present, *far))
        if isinstance(col.fill, float | int) and not isinstance(col.fill, bool):
            fill = float(col.fill)
        else:
            fill = {"mean": raw.mean, "median": median(ordered), "zero": 0.0}[cast(str, col.fill)]
        g = log1p if col.transform == "log1p" else (lambda v: v)
        if far is None:
            m = self.moments[name].with_copies(self.rows - raw.n, float(g(np.array([fill]))[0]))
        else:
            m = raw.with_copies(len(values) - len(present), fill)  # (the sample's missing rows, filled)
        bins = self.spec.piecewise_bins().get(name, 0)
        spike = spiked(present, len(values) - len(present), fill)
        bumpy, names = (f(values, self.sample[-1], self.sample_keys, r, col.bounds) for f, r in zip(_SPREAD, spread))
        names = names and name in self.read and self._names_alone(name)
        flag = numbers.flag(present, len(values) - len(present))
        form = self.spec.deep.numeric_embedding_of(name).resolved(spike, bumpy, names, flag)
        by_values = form.kind == "values" and name in self.valued
        filled = np.zeros(0)
        if col.transform == "quantile" or bins or by_values:  # (the missing values filled, in order)
            ordered = ordered if col.transform == "quantile" or col.fill == "median" else sort(present)
            at = int(np.searchsorted(ordered, fill))
            filled = np.concatenate([ordered[:at], np.full(len(values) - len(present), fill), ordered[at:]])
        read_as = form.kind if name in self.auto_clipped else None  # (what clip: auto bounds it by)
        return _checked(
            self.where,
            name,
            _numeric,
            name=name,
            col=col,
            fill=fill,
            read_as=read_as,
            seen=raw,
            m=m,
            filled=filled,
            bins=bins,
            flags=(spike, bumpy, names, flag),
            values=by_values,
            sample=values,
        )

    def _names_alone(self, name: str) -> bool:
        """Whether no categorical column names what a number's values name: none whose values in the first rows
        each go with one value of the number (an item's price beside the item: its embedding knows it already)."""
        if not (self.univalent and self.head):
            return True
        pairs = [pl.struct(n, name).n_unique().alias(f"\0{n}") for n in self.univalent]
        row, k = pl.concat(self.head).select(*pairs, pl.col(self.univalent).n_unique()).row(0), len(self.univalent)
        return all(t > 1.01 * a for t, a in zip(row[:k], row[k:]))


def _numeric(
    name: str,
    col: NumericSpec,
    fill: float,
    read_as: str | None,
    seen: Moments,
    m: Moments,
    filled: np.ndarray,
    bins: int,
    flags: tuple[bool, bool, bool, bool],  # spike, uneven, named, flag
    values: bool,
    sample: np.ndarray,
) -> Numeric:
    clip = numbers.clip_of(col, m, read_as, seen)
    numeric = Numeric(
        name=name,
        missing=col.missing,
        transform=col.transform,
        fill=fill,
        clip=clip,
        mean=m.mean,
        std=m.std,
        min=m.min,
        max=m.max,
        boundaries=quantile_boundaries(filled, col.quantiles, presorted=True) if col.transform == "quantile" else [],
        smooth=col.transform == "quantile",
        **dict(zip(("spike", "uneven", "named", "flag"), flags)),
    )
    numeric = numbers.scaled(numeric, sample)  # (first: the values and edges are in the model's units)
    numeric = numbers.with_values(numeric, filled, m.n - seen.n) if values and len(filled) else numeric
    return numbers.with_edges(numeric, filled, bins) if bins and len(filled) else numeric


def _checked(where: str, column: str, build: Callable[..., Any], /, **kwargs: Any) -> Any:
    """The feature `build(**kwargs)` makes, or a DataError where its state is one the transform cannot use (the values
    fitted on overflow float64: a spread past 1e308; loading refuses such a state, `fitted.Numeric.problem`)."""
    try:
        return build(**kwargs)
    except ValidationError as e:
        problem = e.errors()[0]["msg"].removeprefix("Value error, ")
        raise DataError(
            f"{where}: column '{column}': the fitted {problem}, as its values are too far apart for float64; clip "
            f"them (columns.{column}.clip: [low, high]), or use transform: log1p or quantile"
        ) from None


Rows = pl.DataFrame | Callable[[], Iterable[pl.DataFrame]]
Gather = Callable[[Any], list[Any]]  # every process's value, in the order of the processes


def fit_pipeline(
    spec: Spec,
    train: Rows,
    where: str = "training data",
    gather: Gather | None = None,
    first_row: int = 0,
    part: tuple[int, int] = (0, 1),
) -> FittedPipeline:
    """Learn every feature's state from the training rows: a frame, or a function that returns an iterable of
    frames (called once, or twice when the spec has vocabulary crosses).

    In a job of processes, each fits its share of the rows (the shares in the order of the processes, this
    one's starting at `first_row` of all; `part`: this one's rank and their number) and `gather` hands each
    process every process's state: the merged state gives every process the pipeline one process fitting all
    the rows gives, byte for byte (each process finishing its share of the columns)."""
    batches = (lambda: [train]) if isinstance(train, pl.DataFrame) else train
    fitter = Fitter(spec, where, first_row)
    for df in batches():
        fitter.update(df)
    if gather is not None:
        fitter = Fitter.merged(fitter.shares(gather))
    columns, head = fitter.finish(gather, part)
    fitted = FittedPipeline(spec, columns)
    head = fitted.clean(head)  # (its numbers read as the fit read them, as the rows are in the second pass)
    crosses = {x.key: x for x in spec.crosses}
    counts = {k: Counts("h") for k, x in crosses.items() if x.encoding == "vocab"}
    if counts:  # a second pass: combinations are hashed with the fitted buckets
        for df in batches():
            df = fitted.clean(df)
            for key in counts:
                h = cross_hashes(fitted, crosses[key].columns, df, where)[1]
                counts[key].add(pl.DataFrame({"h": h}).group_by("h").len("count"))
        if gather is not None:
            shares = gather(counts)
            for share in shares[1:]:
                for key in counts:
                    shares[0][key].merge(share[key])
            counts = shares[0]
    fitted_crosses = {
        k: fit_cross(fitted, x, head, counts[k].result() if k in counts else None, where) for k, x in crosses.items()
    }
    sparse = {n: f for n, f in columns.items() if not isinstance(f, Numeric)}  # model order: sparse columns,
    dense = {n: f for n, f in columns.items() if isinstance(f, Numeric)}  # crosses, then numeric columns
    return FittedPipeline(spec, {**sparse, **fitted_crosses, **dense}, fitter.rows)
