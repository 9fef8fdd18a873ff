"""The crosses `wdcli init` proposes: pairs of its sparse columns (bucketized numbers included) ranked by the
held-out log-loss gain of their cross over the two columns alone (`gain.Scorer.cross_gain`); pairs where one
column gives the other are not tried (a bucketized number is not checked: an id crossed with the bucket of a
number it gives is the id hashed past the vocabulary's min_count, which helped MovieLens latest-small's NDCG@10,
0.7716 against 0.7685 without; docs/benchmarks.md)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from . import gain as G
from .profile import Column, buckets_for

MIN_GAIN = 0.0005  # nats per row a suggested cross must save on held-out rows
SURE = 2.0  # ... and standard errors of that gain over the held-out rows
MAX_CROSSES = 5
CANDIDATES = 20  # columns (best alone first) whose pairs are tried as crosses


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
