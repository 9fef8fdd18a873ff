"""Which value of a two-valued label is the positive class, read the way people mean it: yes/no, true/false,
1/0, click/no-click, liked/not liked. Only when neither value reads as the event or its absence is the rarer
value taken, and the note says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..errors import DataError

# values that name the event (compared lowercased, after stripping)
YES = {
    "1", "1.0", "true", "t", "yes", "y", "positive", "pos", "click", "clicked", "like", "liked", "buy", "bought",
    "purchase", "purchased", "install", "installed", "convert", "converted", "conversion", "success", "hit", "win",
    "won", "accept", "accepted", "relevant", "good", "watched", "play", "played", "open", "opened",
}  # fmt: skip
# values that name its absence
NO = {
    "0", "0.0", "false", "f", "no", "n", "negative", "neg", "none", "fail", "failure", "failed", "miss", "lose",
    "lost", "reject", "rejected", "irrelevant", "bad", "skip", "skipped", "ignore", "ignored", "dislike",
    "disliked", "unclicked", "unseen",
}  # fmt: skip
NUMERIC = {"0", "1", "0.0", "1.0", "true", "false"}  # what label.positive may leave out (wdcli reads 1/true as 1)
NEGATION = re.compile(r"^(no|not|non|un|dis|never)[\s_\-]*(?P<rest>.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Positive:
    """The label's positive value (None: a 0/1 or true/false column, which needs none), and why it was chosen."""

    value: str | None
    shown: str  # the value as the note names it ('yes'; 1 for a 0/1 column)
    why: str
    share: float  # of sample rows


def positive_of(text: pl.Series, label: str, given: str | None, where: str) -> tuple[Positive, np.ndarray]:
    """The positive value of a label column's text (stripped, no missing values) and the 0/1 labels."""
    counts = text.alias("value").value_counts(sort=True, name="n")  # (a label may be named n)
    values = counts["value"].to_list()
    if len(values) < 2:
        raise DataError(
            f"{where}: label column '{label}' has one value ({values[0]!r}) in the sample; a model needs both classes"
        )
    if len(values) > 2:
        shown = ", ".join(repr(v) for v in values[:5])
        raise DataError(
            f"{where}: label column '{label}' has {len(values)} values ({shown}{', ...' if len(values) > 5 else ''})"
            "; wdcli learns a binary label: make a column of two values (or 0/1) first"
        )
    if given is not None:
        if str(given) not in values:
            raise DataError(
                f"{where}: --positive {given!r} never occurs in column '{label}' (values: "
                f"{', '.join(repr(v) for v in values)})"
            )
        value, why = str(given), "chosen with --positive"
    else:
        value, why = _read(values[0], values[1])
    y = (text == value).to_numpy().astype(np.float64)
    share = float(y.mean())
    if {v.lower() for v in values} <= NUMERIC and value.lower() in ("1", "1.0", "true"):
        return Positive(None, value, "a 0/1 (true/false) column", share), y
    return Positive(value, repr(value), why, share), y


def _read(common: str, rare: str) -> tuple[str, str]:
    """(the positive value, why) of a label's two values, the commoner first."""
    a, b = common.lower(), rare.lower()
    for pos, neg in ((common, rare), (rare, common)):
        m = NEGATION.match(neg)
        if m and m["rest"].lower() == pos.lower():
            return pos, f"{neg!r} says 'not {pos}'"
    a_yes, b_yes, a_no, b_no = a in YES, b in YES, a in NO, b in NO
    if (a_yes and not b_yes) or (b_no and not a_no):
        return common, f"{common!r} reads as yes, {rare!r} as no"
    if (b_yes and not a_yes) or (a_no and not b_no):
        return rare, f"{rare!r} reads as yes, {common!r} as no"
    return rare, f"neither {common!r} nor {rare!r} reads as yes or no, so the rarer was taken: check it"
