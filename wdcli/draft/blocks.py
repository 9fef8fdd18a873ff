"""The deep part's blocks `wdcli init` tries on its sample before writing a draft (issue 20): what is tried,
how its held-out gain is judged and how the draft writes the outcome. The trainings themselves are the caller's
(`wdcli.run.try_blocks`: drafting knows no training).

Each candidate is the drafted spec with one block switched on; a block of several forms (the numbers' embedding
as the default's `auto`, which embeds only the numbers with a spike, such as census's capital gains, or an
uneven effect, such as flights' months, and as the
periodic embedding of every number at two spreads of its frequencies: a smooth effect wants sigma 1, a sharp
step 10) is tried in each and stands by its best form: one it would keep, of the lowest log loss (where `auto`
embeds no number its trial is of the numbers read standardized, as a spec that does not say reads them, against
the draft's 50 quantiles: KDD Cup 2004's protein data, 74 numbers, 0.946 test AUC by quantiles, 0.963
standardized; MovieLens 100K +0.003 NDCG@10, the crashes +0.002 AUC, the taste data -0.0035). A block is kept
when it lowers the held-out log loss of a short training on the sample by at least BLOCK_GAIN nats per row (and,
with a group, does not lower the gAUC: ranking within groups is what such data are for). A form a spec that does not name
the block has (dot products, `auto`: the defaults, chosen on many data sets) stands unless its trial says that it
costs BLOCK_GAIN or more: a trial's figures move by a few thousandths with the rows it holds out, and the
defaults' gains come with more rows (pairs: dot products -0.0008 nats on the sample, +0.016 AUC on the million
rows; the movie ratings: +0.0002 nats on the sample, left out; kept, +0.0014 NDCG@10 and +0.0023 AUC on the test
rows, seeds 0-2; the apps sample: -0.0008 on one sample, +0.0099 on another). Where the trial saw under a quarter
of the data's rows (GROWS), a form off by default, such as the periodic embedding of every number, can lose what
it gained (pairs: +0.0032 nats on the sample, -0.007 AUC on all the rows, where it slowed the learning of the
pairs), so there it must save SURE_GAIN (census's +0.0156 at sigma 10, ten times the BLOCK_GAIN a trial of all
the rows needs). The draft says by how much either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..spec.blocks import Interaction, NumericEmbedding

BLOCK_GAIN = 0.001  # nats per row of held-out log loss a block must save on the sample to be drafted
MIN_ROWS = 4_000  # fewer sample rows hold out too few (a fifth) to measure a gain of BLOCK_GAIN: no trials (the
# sample less the rows the split tests on: data of 5,000 rows)

# block -> its forms tried, as the draft writes them under `deep:` when they help
CANDIDATES = {"interaction": ["dot"], "numeric_embedding": ["auto", "periodic", "{kind: periodic, sigma: 10}"]}
READS = {"numeric_embedding": ["defaults.numeric.transform=standardize"]}  # what else a block needs set
DEFAULTS = {"interaction": Interaction().kind, "numeric_embedding": NumericEmbedding().kind}  # a spec's, unsaid
SURE_GAIN = 0.01  # nats per row a block off by default must save where the trial saw under 1/GROWS of the rows
GROWS = 4  # data of more than this many times the trial's training rows: a block off by default needs SURE_GAIN
ALL_OFF = ["deep.interaction=none", "deep.numeric_embedding=none"]  # the base each block is tried against


@dataclass(frozen=True)
class Tried:
    """A block's trial on the sample: held-out log loss and AUC (and, with a group, gAUC) without it and with it.
    With a group the rows are ranked within it, so a block must also not lower the gAUC."""

    block: str
    value: str  # what it was tried as (dot, periodic): its best form
    base: tuple[float, ...]  # (log loss, AUC[, gAUC]) of the draft as it was
    with_it: tuple[float, ...]
    scale: float = 1.0  # the data's rows over the trial's training rows
    others: tuple[tuple[str, float], ...] = ()  # its other forms tried and their held-out log loss
    plain: bool = False  # auto, where it embeds no number: the numbers read standardized (the draft's: quantile)

    @property
    def gain(self) -> float:
        return self.base[0] - self.with_it[0]

    @property
    def ranked(self) -> bool:
        return len(self.base) > 2 and len(self.with_it) > 2 and not math.isnan(self.base[2] + self.with_it[2])

    @property
    def sampled(self) -> bool:
        """Whether the trial saw too little of the data (under 1/GROWS of its rows) for its gain to stand as it is:
        a form off by default (the periodic embedding) needs SURE_GAIN."""
        return self.scale > GROWS

    @property
    def on_by_default(self) -> bool:
        """Whether a spec that does not name the block builds it in this form (dot products; auto)."""
        return self.value == DEFAULTS[self.block]

    @property
    def kept(self) -> bool:
        if self.on_by_default:  # the defaults stand unless the trial says they cost
            return self.gain > -BLOCK_GAIN
        need = SURE_GAIN if self.sampled else BLOCK_GAIN
        return self.gain >= need and (not self.ranked or self.with_it[2] >= self.base[2])

    @property
    def written(self) -> str:
        return self.value if self.kept else "none"

    def comment(self) -> str:
        (ll, auc), (ll2, auc2) = self.base[:2], self.with_it[:2]
        ranked = f", gAUC {self.base[2]:.3f} -> {self.with_it[2]:.3f}" if self.ranked else ""
        hold = f"the data hold {self.scale:.1f}x the trial's rows"
        if self.sampled and not self.on_by_default and self.gain < SURE_GAIN:
            verdict = f"left out (off by default, and {hold}: a gain under {SURE_GAIN} nats can reverse on them)"
        elif self.on_by_default and self.gain < BLOCK_GAIN:
            small = f"on by default; {hold}" if self.sampled else f"on by default, and within {BLOCK_GAIN} nats"
            verdict = f"kept ({small})" if self.kept else f"left out (it cost {BLOCK_GAIN} nats or more)"
        elif self.kept:
            verdict = "kept"
        elif self.gain >= BLOCK_GAIN:
            verdict = "left out (the gAUC fell)"
        else:
            verdict = f"left out (under {BLOCK_GAIN} nats)"
        others = "".join(f"; as {value}: {loss:.4f}" for value, loss in self.others)
        # (a gain that rounds to a bar it missed is shown finer: '+0.0010 ... under 0.001 nats' reads as a slip)
        digits = 5 if round(abs(self.gain), 4) == BLOCK_GAIN or round(self.gain, 4) == SURE_GAIN else 4
        value = (
            f"{self.value} (no number embedded: the numbers standardized, not by 50 quantiles)"
            if self.plain
            else self.value
        )
        return (
            f"{value} tried on the sample: held-out log loss {ll:.4f} -> {ll2:.4f} (gain {self.gain:+.{digits}f}), "
            f"AUC {auc:.3f} -> {auc2:.3f}{ranked}{others}; {verdict}"
        )


def overrides(block: str, form: str) -> list[str]:
    """The --set overrides that try a block in one of its forms."""
    return [f"deep.{block}={form}", *READS.get(block, [])]


def untried(rows: int | None) -> str:
    """What a draft says of the blocks it did not try: its sample too small (rows), or --no-trials (None)."""
    why = "--no-trials" if rows is None else f"{rows:,} sample rows to learn from; {MIN_ROWS:,} measure them"
    return f"interaction, numeric_embedding: not tried ({why}): the defaults (dot products; numbers with a spike, an uneven effect or values that name things embedded)"
