"""`Draft`: what `wdcli init` drafts and tells, as each step of `draft_spec` fills it in."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from .blocks import Tried
from .crosses import Bucketized, Cross
from .label import Positive
from .profile import Column


@dataclass
class Draft:
    """What `wdcli init` writes and tells."""

    text: str  # the spec, YAML with comments
    rows: int  # sample rows drafted from (those read, less the `held` ones the split tests on)
    total: int  # rows in the data
    columns: list[Column] = field(default_factory=list)
    buckets: list[Bucketized] = field(default_factory=list)
    crosses: list[Cross] = field(default_factory=list)
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)  # feature -> (gain, held-out AUC)
    label: Positive | None = None  # the label's positive value, and why
    group: str | None = None
    shared: dict[str, list[str]] = field(default_factory=dict)
    sample: pl.DataFrame | None = field(default=None, repr=False)
    time: str | None = None  # --time: the split's time column (data.split.time)
    per: bool = False  # the split by time is per group (data.split.per: the --group column), which is a feature
    follows: bool = False  # the groups follow one another in time (a day): one cut, not a split per group
    known: bool = False  # --test holds the training data's groups (users): a feature, and the split is of rows
    few: bool = False  # the groups have too few rows each for a split per group to hold out rows (times.holds_out)
    time_chosen: bool = False  # init chose the split by time (--group's rows span times; no --time given)
    time_offers: list[tuple[str, str]] = field(default_factory=list)  # columns that look like times, and how
    time_unusable: list[str] = field(default_factory=list)  # notes: columns that look like times but cannot split
    tried: dict[str, Tried] = field(default_factory=dict)  # the deep part's blocks tried on the sample (blocks.py)
    untried: str = ""  # why they were not tried
    held: int = 0  # sample rows left out: the drafted split tests on them (held.py)
    test: str | None = None  # --test: the test file(s) as the spec holds them (the split then holds out none)

    @property
    def read(self) -> int:
        """Sample rows read (those drafted from and those left out)."""
        return self.rows + self.held

    @property
    def trained(self) -> int:
        """The rows of the data the sample drafted from stands for (all but the test rows)."""
        return self.rows if self.read == self.total else round(self.total * self.rows / max(self.read, 1))

    @property
    def positive(self) -> str | None:
        """label.positive as the draft writes it (None: a 0/1 or true/false label)."""
        return self.label.value if self.label is not None else None
