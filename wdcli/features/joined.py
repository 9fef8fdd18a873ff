"""A list sent joined by another separator than its column's: 'Comedy,Drama' where the spec splits on '|'.

Split on '|', such text is one value that the vocabulary does not know, and the row is scored as if its list
held nothing the model knows: a silent mistake (a walk's requests did it). Scoring refuses a column whose text
holds its separator in no row, while some of it holds another likely one (`OTHERS`) that no known value holds,
is no known value as a whole, and splits on that separator into known values (two at least): the text was
surely joined the wrong way. Rows that hold the column's own separator say that the frame was joined right, and
a value such as 'Comedy,Drama' among them is one the training rows had too rarely to keep: scored as it is. A
column whose values hold commas of their own ('Rock, Pop') knows some, a missing marker is no value, and a
hashed column knows no values, so none of them can tell.
"""

from __future__ import annotations

import polars as pl

from ..errors import DataError
from .fitted import Vocabulary
from .pipeline import FittedPipeline

OTHERS = ("|", ",", ";", "\t")  # separators a list may be joined by ('/' is a part of names: 'Sci-Fi/Fantasy')
SHOWN = 3  # such values named at most


def check_joined(fitted: FittedPipeline, df: pl.DataFrame, where: str) -> None:
    """A DataError naming the first list column of `df` whose text was joined by another separator than the
    spec's (see above), with such values and what to send (`where`: "request" for a server's client, else a
    file); nothing otherwise (the common case: one `select` of a regex match per list column)."""
    lists: dict[str, tuple[Vocabulary, tuple[str, ...]]] = {}
    for f in fitted.features.values():
        if isinstance(f, Vocabulary) and f.source.multivalent and f.source.separator is not None:
            if df.schema.get(f.source.column) == pl.String and (others := _others(f)):
                lists.setdefault(f.source.column, (f, others))
    if not lists:
        return
    odd = df.select(
        (
            pl.col(c).str.contains(_any_of(others)).any()
            & ~pl.col(c).str.contains(f.source.separator or "", literal=True).any()
        )
        for c, (f, others) in lists.items()
    ).row(0)
    for (column, (f, others)), found in zip(lists.items(), odd):
        if found and (problem := _misjoined(f, df[column], others, where == "request")):
            raise DataError(f"{where}: {problem}")


def _others(f: Vocabulary) -> tuple[str, ...]:
    """The separators other than the column's that no known value holds, found once per model (a race finds
    them twice, alike)."""
    cache = f.__dict__.setdefault("_joined", {})
    if "others" not in cache:
        cache["others"] = tuple(c for c in OTHERS if c != f.source.separator and not any(c in v for v in f.values))
    return cache["others"]


def _any_of(others: tuple[str, ...]) -> str:
    """A regex matching any of `others` (none is special in a character class)."""
    return "[" + "".join(others) + "]"


def _misjoined(f: Vocabulary, text: pl.Series, others: tuple[str, ...], request: bool) -> str | None:
    sep, column = f.source.separator, f.source.column
    cache = f.__dict__.setdefault("_joined", {})
    if "known" not in cache:
        cache["known"] = frozenset(f.values)
    known = cache["known"]
    text = text.drop_nulls().str.strip_chars()
    odd = text.filter(text.str.contains(_any_of(others)) & ~text.is_in(f.source.missing)).unique(maintain_order=True)
    for other in others:
        wrong = [v for v in odd.head(1000).to_list() if other in v and v not in known and _known(v, other, known)]
        if wrong:
            shown = ", ".join(repr(v) for v in wrong[:SHOWN]) + (" ..." if len(wrong) > SHOWN else "")
            send = "send each row's values as a JSON list, or joined by" if request else "join each row's values by"
            return (
                f"column '{column}' holds {shown} and no {sep!r}: no value the model knows, but each piece split on "
                f"{other!r} is one; columns.{column}.separator is {sep!r}: {send} {sep!r}"
            )
    return None


def _known(value: str, other: str, known: frozenset[str]) -> bool:
    pieces = [p.strip() for p in value.split(other) if p.strip()]
    return len(pieces) >= 2 and all(p in known for p in pieces)
