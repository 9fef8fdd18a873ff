"""A list sent joined by another separator than its column's: 'Comedy,Drama' where the spec splits on '|'.

Split on '|', such text is one value that the vocabulary does not know, and the row is scored as if its list
held nothing the model knows: a silent mistake (a walk's requests did it). Scoring refuses text that holds none
of its column's separator but another likely one, is no known value as a whole, while each of its pieces split
on that other separator is one (two pieces at least), where no known value holds that separator either: the text
was surely joined the wrong way. (A column whose values hold commas of their own, 'Rock, Pop', knows some; and
a hashed column knows no values, so it cannot tell.)
"""

from __future__ import annotations

import polars as pl

from ..errors import DataError
from .fitted import Vocabulary
from .pipeline import FittedPipeline

OTHERS = ("|", ",", ";", "\t", "/")  # separators a list may be joined by
SHOWN = 3  # such values named at most


def check_joined(fitted: FittedPipeline, df: pl.DataFrame, where: str) -> None:
    """A DataError naming the first list column of `df` whose text was joined by another separator than the
    spec's (see above), with such values and what to send; nothing otherwise (the common case: one `select` of
    a regex match per list column)."""
    lists: dict[str, Vocabulary] = {}
    for f in fitted.features.values():
        if isinstance(f, Vocabulary) and f.source.multivalent and f.source.separator is not None:
            lists.setdefault(f.source.column, f)
    lists = {c: f for c, f in lists.items() if df.schema.get(c) == pl.String}
    if not lists:
        return
    odd = df.select(
        (pl.col(c).str.contains(_others(f)) & ~pl.col(c).str.contains(f.source.separator or "", literal=True)).any()
        for c, f in lists.items()
    ).row(0)
    for (column, f), found in zip(lists.items(), odd):
        if found and (problem := _misjoined(f, df[column])):
            raise DataError(f"{where}: {problem}")


def _others(f: Vocabulary) -> str:
    """A regex of the separators other than the column's (none of them special in a character class)."""
    return "[" + "".join(c for c in OTHERS if c != f.source.separator) + "]"


def _misjoined(f: Vocabulary, text: pl.Series) -> str | None:
    sep, column = f.source.separator, f.source.column
    assert sep is not None
    text = text.drop_nulls().str.strip_chars()
    for other in OTHERS:
        if other == sep:
            continue
        odd = text.filter(text.str.contains(other, literal=True) & ~text.str.contains(sep, literal=True)).unique(
            maintain_order=True
        )
        if len(odd) == 0:
            continue
        cache = f.__dict__.setdefault("_joined", {})  # (built once per model, when such text first comes)
        if "known" not in cache:
            cache["known"] = frozenset(f.values)
        if other not in cache:
            cache[other] = any(other in v for v in f.values)  # the separator is a part of values
        if cache[other]:
            continue
        known = cache["known"]
        wrong = [v for v in odd.head(1000).to_list() if v not in known and _pieces_known(v, other, known)]
        if wrong:
            shown = ", ".join(repr(v) for v in wrong[:SHOWN]) + (" ..." if len(wrong) > SHOWN else "")
            return (
                f"column '{column}' holds {shown}: no value the model knows, but each piece split on {other!r} is "
                f"one; columns.{column}.separator is {sep!r}: send each row's values as a list, or joined by {sep!r}"
            )
    return None


def _pieces_known(value: str, other: str, known: frozenset[str]) -> bool:
    pieces = [p.strip() for p in value.split(other) if p.strip()]
    return len(pieces) >= 2 and all(p in known for p in pieces)
