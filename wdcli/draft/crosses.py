"""The crosses `wdcli init` proposes: pairs of its sparse columns (bucketized numbers included) ranked by the
held-out log-loss gain of their cross over the two columns alone (`gain.Scorer.cross_gain`); pairs where one
column gives the other are not tried (a bucketized number is not checked: an id crossed with the bucket of a
number it gives is the id hashed past the vocabulary's min_count, which helped MovieLens latest-small's NDCG@10,
0.7716 against 0.7685 without; docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from . import gain as G
from .cuts import bucket_boundaries
from .profile import Column, buckets_for

MIN_GAIN = 0.0005  # nats per row a suggested cross must save on held-out rows
SURE = 2.0  # ... and standard errors of that gain over the held-out rows
MAX_CROSSES = 5
CANDIDATES = 20  # columns (best alone first) whose pairs are tried as crosses
FINE = 20  # quantile buckets of each number in the finer grid a chosen cross of two numbers tries


@dataclass
class Bucketized:
    name: str
    source: str
    boundaries: list[float]


@dataclass
class Cross:
    columns: tuple[str, str]
    gain: float
    combinations: int  # seen in the sample
    hash_buckets: int
    finer: float = 0.0  # of the gain, what a finer grid of two numbers saved over the coarser one's cross


def choose_crosses(
    columns: list[Column],
    buckets: list[Bucketized],
    scores: dict[str, tuple[float, float]],
    coded: dict,
    stats: G.Scorer,
    rows: tuple[int, int],
) -> list[Cross]:
    """The best crosses (at most MAX_CROSSES, each column in at most two) of the CANDIDATES columns best alone
    (`scores`: each column's gain alone): those saving MIN_GAIN nats per row and SURE standard errors of it.
    `rows`: the sample's and the data's, which size each cross's hash buckets."""
    sparse = [c.name for c in columns if c.sparse and c.kind != "skip"] + [b.name for b in buckets]
    # (a column that says little alone may say much in a cross, as the apps a user installed do: all are tried)
    ranked = sorted(sparse, key=lambda n: -scores[n][0])[:CANDIDATES]
    tried = []
    values = {c.name: c.values for c in columns if c.values is not None}
    for i, first in enumerate(ranked):
        for second in ranked[i + 1 :]:
            if coded[first].multi and coded[second].multi or _determined(values, first, second):
                continue
            a, b = (second, first) if coded[second].multi else (first, second)  # a list column first
            g = stats.cross_gain(coded[a], coded[b])
            if g.gain >= SURE * g.se:  # (a smaller gain may be the half's chance)
                tried.append(Cross((a, b), g.gain, g.combinations, buckets_for(g.combinations, *rows)))
    chosen: list[Cross] = []
    uses: dict[str, int] = {}
    for x in sorted(tried, key=lambda x: -x.gain):
        if x.gain < MIN_GAIN or len(chosen) == MAX_CROSSES:
            break
        if all(uses.get(c, 0) < 2 for c in x.columns):
            chosen.append(x)
            for c in x.columns:
                uses[c] = uses.get(c, 0) + 1
    return chosen


def _determined(values: dict[str, pl.Series], a: str, b: str) -> bool:
    """Whether either column's value gives the other's (a movie's id gives its genres): their cross would be the
    first column again."""
    if a not in values or b not in values:
        return False  # (a bucketized column: not checked)
    pairs = pl.DataFrame([values[a].alias("a"), values[b].alias("b")]).unique().height
    return pairs in (values[a].n_unique(), values[b].n_unique())


def bucket_codes(name: str, x: np.ndarray, boundaries: list[float]) -> G.Coded:
    """A number's sample values (float64, NaN where missing) as the codes of its buckets (-1: missing)."""
    ok = np.isfinite(x)
    return G.code(name, np.where(ok, np.searchsorted(boundaries, np.where(ok, x, 0), side="right"), -1))


def finer_grids(
    crosses: list[Cross],
    buckets: list[Bucketized],
    values: Callable[[str], np.ndarray],
    coded: dict,
    stats: G.Scorer,
    rows: tuple[int, int],
) -> tuple[list[Cross], list[Bucketized]]:
    """Each chosen cross of two bucketized numbers drawn on a finer grid (FINE quantile buckets of each, copies
    of their own: `{source}_grid`) where the finer cuts and their cross save SURE standard errors over the
    coarser cross on held-out rows: a map, latitude x longitude, at ten buckets a side was too coarse to add to
    the numbers' embeddings (California housing: 0.9606 test AUC with it or without; at twenty, 0.9639).
    `values`: a number's sample values. Returns the crosses and the grids' bucketized copies (new `coded`)."""
    of = {b.name: b for b in buckets}
    made: dict[str, Bucketized] = {}  # each number's grid, tried once
    grids: dict[str, Bucketized] = {}  # those kept
    out = []
    for x in crosses:
        if not all(c in of for c in x.columns):
            out.append(x)
            continue
        fine = [made.get(of[c].source) or _grid(of[c].source, values(of[c].source), coded) for c in x.columns]
        made.update({f.source: f for f in fine})
        if any(len(f.boundaries) <= len(of[c].boundaries) for f, c in zip(fine, x.columns)):
            out.append(x)  # (a number of few values: no finer cuts)
            continue
        g = stats.finer_gain(coded[x.columns[0]], coded[x.columns[1]], coded[fine[0].name], coded[fine[1].name])
        if g.gain < SURE * g.se:
            out.append(x)
            continue
        grids.update({f.source: f for f in fine})
        hashed = buckets_for(g.combinations, *rows)
        out.append(Cross((fine[0].name, fine[1].name), x.gain + g.gain, g.combinations, hashed, g.gain))
    return out, list(grids.values())


def _grid(source: str, v: np.ndarray, coded: dict) -> Bucketized:
    """A number's FINE quantile buckets as a bucketized copy (`{source}_grid`), its codes added to `coded`."""
    grid = Bucketized(f"{source}_grid", source, bucket_boundaries(v[np.isfinite(v)], FINE))
    coded[grid.name] = bucket_codes(grid.name, v, grid.boundaries)
    return grid
