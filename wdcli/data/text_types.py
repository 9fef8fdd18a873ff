"""The types of columns read as text (CSV, TSV): what reading the whole file with Polars' inference gives, ints
as Int64, floats as Float64, the rest as text, learned from every value as the file's batches pass by.

wdcli reads CSV as text (`io.scan_one`); an output that keeps types (Parquet, NDJSON) gives the user's columns
back as Polars would have read them. Polars' own inference over a whole file reads it once more, in one thread
(about four times as long as reading it as text), and inference from its first rows can be contradicted by a
later row after the first batches are written. So each batch is looked at as it passes (one vectorized check
per text column: no per-row Python), the batches are written as text, and the types are given once, when the
parts are joined (`io.write_batches`): the same for every batch, and every value casts, because a column is
Int64 (Float64) only when every value of it passed the same cast.

A value is an int when it matches Polars' integer pattern and fits Int64; a float when it matches Polars' float
pattern (`1.5`, `.5`, `1e3`, `inf`, `NaN`) and casts; an int column with a float is Float64, a column with any
other value (or no value at all) text. Unlike Polars, `true`/`false` stay text, an int past Int64 keeps the
column text (exact, where Polars gives Int128), and so does an int written with leading zeros (a walk's customer
ids, 00045971: as Int64 they came back 45971, and the model scored the written file's customers as unknown).
"""

from __future__ import annotations

import polars as pl

INTEGER = r"^-?\d+$"  # Polars' CSV inference (polars-io: INTEGER_RE)
PADDED = r"^-?0\d"  # an int written with leading zeros (00045971): a code whose zeros an Int64 would lose
FLOAT = r"^[-+]?((\d*\.\d+)([eE][-+]?\d+)?|inf|NaN|(\d+)[eE][-+]?\d+|\d+\.)$"  # (polars-io: FLOAT_RE)


class TextTypes:
    """What the text columns of a stream of frames hold: `see` each frame, then `casts` gives their types."""

    def __init__(self) -> None:
        self.columns: dict[str, list[bool]] = {}  # column -> [any value, every value an int, every value a number]

    def see(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Note what the frame's text columns hold; returns the frame as it is."""
        text = [c for c, dtype in frame.schema.items() if dtype == pl.String]
        if not text or not len(frame):
            return frame
        checks = []
        for i, c in enumerate(text):
            col = pl.col(c)
            absent = col.is_null()
            whole = (
                col.str.contains(INTEGER) & ~col.str.contains(PADDED) & col.cast(pl.Int64, strict=False).is_not_null()
            )
            number = whole | (col.str.contains(FLOAT) & col.cast(pl.Float64, strict=False).is_not_null())
            checks += [
                (~absent).any().alias(f"{i}any"),
                (whole | absent).all().alias(f"{i}int"),
                (number | absent).all().alias(f"{i}num"),
            ]
        found = frame.select(checks).row(0)
        for i, c in enumerate(text):
            seen = self.columns.setdefault(c, [False, True, True])
            seen[0] |= bool(found[3 * i])
            seen[1] &= bool(found[3 * i + 1])
            seen[2] &= bool(found[3 * i + 2])
        return frame

    def casts(self) -> list[pl.Expr]:
        """The text columns seen that hold ints (as Int64) or numbers (as Float64), cast to that type."""
        out = []
        for c, (anything, whole, number) in self.columns.items():
            if anything and (whole or number):
                out.append(pl.col(c).cast(pl.Int64 if whole else pl.Float64))
        return out
