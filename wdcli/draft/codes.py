"""Numbers that may be codes or name things: `wdcli init` reads a column of numbers as numbers unless its name says
id or code, yet an occupation's census code, a store's number or a product line's are categories written with
digits (a walk on the General Social Survey: its occupation code drafted as a number cost 0.0056 test AUC against
the same draft reading it as categories, which tied LightGBM's best), and a number repeated in every row of one
household (RAND's Health Insurance Experiment: the family's income, in each of its people's years) names the
household as much as it measures it. The values alone cannot tell: a reading score alone gains more as categories
than at 20 quantile bins (STAR's: 0.116 against 0.086 nats), since categories resolve every value, and yet as
categories it cost that model 0.012 AUC, because the MLP reads a number's smooth effect better than 239 separate
values. So the column is tried both ways on the sample.

A candidate (profile: `categories`, numbers of CODE_VALUES values or more and ROWS_PER_VALUE rows each) whose
categories gain AS_CATEGORIES more alone than its numbers is read as categories in a draft of its own (its buckets
and crosses drafted anew); that draft and the first are trained on the sample as the blocks' trials are
(`wdcli.run.try_draft`), and the candidate is read as categories where that saves BLOCK_GAIN nats of held-out
log loss (and, with a group, does not lose GROUP_GAUC of gAUC; a number of one value a group is kept where
it adds GROUP_GAUC, `choose`); VALUE_GAIN unless it is whole numbers of ROWS_PER_CODE rows a value
(codes), since a quantity read as categories loses its order, and a value read as text must be written as the
training file writes it (the Minneapolis stops' longitude saved 0.0015 nats on the sample as categories, then cost
0.004 test AUC; the household's income saved 0.0107, then gained 0.027). Where several gain so, the draft reading
them all as categories is trained too, and must not lose to the best of them alone (else only that one is kept:
GSS's prestige score gained alone, then lost beside its occupation code). Each candidate's line says what its
trial measured. Both drafts read their numbers as `numeric_embedding: auto` does, whose `values` gives a number
that names things a vector per value: against that the categories seldom gain (RandHIE's income and GSS's code
now stay numbers, each better so on test rows)."""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl

from .blocks import BLOCK_GAIN, MIN_ROWS

if TYPE_CHECKING:
    from .profile import Column
    from .state import Draft

AS_CATEGORIES = 0.002  # nats per row a candidate's categories must gain alone over its numbers to be tried
VALUE_GAIN = 0.005  # nats per row a candidate that is not codes must save as categories (see above)
GROUP_GAUC = 0.005  # gAUC a number of one value a group must add as categories, if its log loss does not say so
MOST_TRIED = 3  # candidates tried at most (each a short training on the sample)

_READ = {True: "whole numbers read as categories (codes)", False: "values read as categories (each names a thing)"}
TryDraft = Callable[["Draft"], "tuple[float, ...] | None"]  # a draft trained on its sample: held-out figures


def candidates(
    columns: list[Column], gain: Callable[[Column], float], grouped: frozenset[str] = frozenset()
) -> list[str]:
    """The numeric columns whose categories gain AS_CATEGORIES more alone than their numbers, the largest
    difference first, MOST_TRIED at most; first those of one value in each group (`grouped`), whose gain alone
    says nothing (`within_groups`)."""
    found = []
    for c in columns:
        if c.kind == "numeric" and c.categories is not None:
            more = gain(c.categories) - gain(c)
            if more >= AS_CATEGORIES or c.name in grouped:
                found.append((c.name in grouped, more, c.name))
    return [name for *_, name in sorted(found, reverse=True)[:MOST_TRIED]]


def within_groups(sample: pl.DataFrame, group: str | None, columns: list[Column]) -> frozenset[str]:
    """The numbers that may be categories and hold one value in each group of two rows or more (20 such groups
    at least): a household's or a user's. Alone they cannot tell a group's rows apart, so a gain alone, measured
    within groups, is nil whatever they do; as categories they meet the items in crosses and embeddings (choice
    data: a household's number read as a number left its loyalty to a brand unseen, 0.9318 NDCG@10 against
    0.9408 as categories; LightGBM cut it, 0.9451). Each is tried."""
    names = [c.name for c in columns if c.kind == "numeric" and c.categories is not None]
    if group is None or not names:
        return frozenset()
    per = sample.group_by(group).agg(pl.len().alias("\0rows"), *[pl.col(n).n_unique() for n in names])
    per = per.filter(pl.col("\0rows") >= 2)
    return frozenset(n for n in names if len(per) >= 20 and bool((per[n] == 1).all()))


def choose(
    d: Draft,
    names: list[str],
    assemble: Callable[[Draft], Draft],
    trial: TryDraft | None,
    grouped: frozenset[str] = frozenset(),
) -> Draft:
    """The draft `d` (its candidates `names` read as numbers) with each candidate read as categories where its
    own trial on the sample says so (each tried alone against `d`); with no trial (--no-trials, or a sample
    under MIN_ROWS rows) `d`, noted so. With groups, a trial's gAUC moves by GROUP_GAUC before it decides
    (a sample's gAUC over a few hundred groups moves by that from noise): a candidate that saves log loss is
    kept unless its gAUC falls by as much (Cracker's household: 0.3023 -> 0.2369 nats, gAUC 0.899 -> 0.895
    on the sample, a number before), and a number of one value in each group (`grouped`), which can only
    reorder a group's rows (what the gAUC measures), is kept where its gAUC rises by as much, whatever the
    pooled log loss says (Catsup's household: 0.3608 -> 0.3644 nats, gAUC 0.845 -> 0.857; 0.844 test gAUC as
    a number, 0.866 as categories)."""
    if not names:
        return d
    if trial is None or d.rows < MIN_ROWS:
        why = "--no-trials" if trial is None else f"{d.rows:,} sample rows to learn from; {MIN_ROWS:,} measure it"
        return _noted(d, {name: f"may be codes: try it as categorical (not tried: {why})" for name in names})
    a = trial(d)
    if a is None:
        return d
    notes: dict[str, str] = {}
    kept: list[tuple[float, str]] = []
    drafts: dict[tuple[str, ...], Draft] = {}  # each draft tried, by the columns it reads as categories
    codes = {c.name: c.codes for c in d.columns}
    for name in names:
        drafts[(name,)] = assemble(_swapped(d, [name]))
        b = trial(drafts[(name,)])
        if b is None:
            continue
        ranked = len(a) > 2 and len(b) > 2
        figures = f"held-out log loss {a[0]:.4f} -> {b[0]:.4f}, AUC {a[1]:.3f} -> {b[1]:.3f}"
        figures += f", gAUC {a[2]:.3f} -> {b[2]:.3f}" if ranked else ""
        saves = a[0] - b[0] >= (BLOCK_GAIN if codes[name] else VALUE_GAIN)
        gauc = b[2] - a[2] if ranked else 0.0  # what the candidate adds to the gAUC
        if (saves and gauc > -GROUP_GAUC) or (name in grouped and gauc >= GROUP_GAUC):
            kept.append((b[0], name))
            notes[name] = f"{_READ[codes[name]]}: on the sample {figures}"
        else:
            notes[name] = f"as categories on the sample: {figures}; kept as numbers"
    kept.sort()
    if len(kept) > 1:  # each gained alone; together they must not lose to the best of them alone
        together = tuple(name for _, name in kept)
        drafts[together] = assemble(_swapped(d, list(together)))
        both = trial(drafts[together])
        if both is None or both[0] > kept[0][0]:
            for _, name in kept[1:]:
                notes[name] = notes[name].replace(_READ[codes[name]], "as categories alone")
                notes[name] += f"; kept as numbers: with {kept[0][1]} as categories too, held-out log loss "
                notes[name] += f"{kept[0][0]:.4f} -> {'?' if both is None else f'{both[0]:.4f}'}"
            kept = kept[:1]
    return _noted(drafts[tuple(name for _, name in kept)] if kept else d, notes)  # (as assembled for its trial)


def _swapped(d: Draft, names: list[str]) -> Draft:
    """`d` with the columns `names` read as categories (their buckets and crosses not yet drafted), every column
    a copy of its own (drafting leaves columns out: a duplicate, a leak; not those of `d`)."""
    columns = [copy(c.categories if c.name in names and c.categories else c) for c in d.columns]
    return replace(d, columns=columns)


def _noted(d: Draft, notes: dict[str, str]) -> Draft:
    for c in d.columns:
        c.note = notes.get(c.name, c.note)
    return d
