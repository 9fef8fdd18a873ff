"""The settings of the deep part's optional blocks: an embedding of each numeric column of its own
(`numeric_embedding`) and an explicit interaction of the fields (`interaction`). `Deep` (spec/types.py) holds
them; docs/spec.md gives the equations and their sources.

Both accept a short form (`ShortForm`), as columns do: `numeric_embedding: periodic` is `{kind: periodic}`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .settings import PositiveInt, ShortForm

PERIODIC_SIGMA = 1.0  # periodic's spread of frequencies, unless given
AUTO_SIGMA = 10.0  # auto's: a spike's standardized tail is crowded (census's capital gains: 3, 10, 30 gave 0.9264, 0.9289, 0.9296)


class NumericEmbedding(ShortForm):
    """How a numeric column enters the deep part. `none`: its transformed value, one input. `periodic`
    (Gorishniy et al. 2022, PLR): v = [sin(2 pi c x), cos(2 pi c x)] with `frequencies` trained frequencies c
    (started from N(0, sigma)), then ReLU(W v + b) of width `dim`. `piecewise` (PLE): the value's position in
    each of `bins` quantile bins fitted on the training rows (0 below a bin, 1 above, linear inside), then
    ReLU(W e + b) of width `dim`. `values`: a trained vector of width `dim` for each value seen 3 times or more
    in the fit's sample (at most the 10,000 most frequent; one more for any other value), plus the value times a
    trained vector: a number that names things (a household's income, a code). `auto` (the default): `periodic`
    at sigma 10 for a column with a spike (more than half of its training rows hold one value and the rest at
    least two others: an amount that is mostly zero, whose standardized tail is too crowded for the MLP to tell
    its values apart), else `values` for a column whose exact values tell the label apart
    (`features.numbers.named`), else periodic at sigma 1 for a column along which the label's rate turns often
    (`features.numbers.uneven`: a month, a latitude), else `none` (`resolved`, once the fit has seen it)."""

    kind: Literal["auto", "none", "periodic", "piecewise", "values"] = Field(
        "auto", description="auto, none, periodic, piecewise or values."
    )
    dim: PositiveInt = Field(8, description="The width of each numeric column's embedding.")
    frequencies: PositiveInt = Field(16, description="periodic: frequencies per column.")
    sigma: float | None = Field(
        None, gt=0, description="periodic: the spread of the initial frequencies; default 1 (periodic), 10 (auto)."
    )
    bins: int = Field(16, ge=2, description="piecewise: quantile bins fitted on the training rows.")

    @property
    def embedded(self) -> bool:
        """Whether the column surely has an embedding of its own (`auto`: only the fit can say)."""
        return self.kind not in ("none", "auto")

    def resolved(self, spike: bool, uneven: bool = False, named: bool = False, flag: bool = False) -> NumericEmbedding:
        """The form the model builds for a column (`spike`, `uneven`, `named`, `flag`: its fitted state's): `auto`
        made periodic, values or none, periodic's sigma given its default."""
        if self.kind == "auto" and (flag or (named and not spike)):
            return self.model_copy(update={"kind": "values"})
        if self.kind == "auto":
            kind = "periodic" if spike or uneven else "none"
            sigma = self.sigma or (AUTO_SIGMA if spike or not uneven else PERIODIC_SIGMA)
            return self.model_copy(update={"kind": kind, "sigma": sigma})
        if self.kind == "periodic" and self.sigma is None:
            return self.model_copy(update={"sigma": PERIODIC_SIGMA})
        return self


class Interaction(ShortForm):
    """Explicit interactions of the deep part's fields, before its MLP. `dot` (FM, DLRM): the dot product of
    every pair of fields (embeddings, pooled lists, embedded numbers; a field of another width is first
    projected to `dim`), appended to the MLP's input. `cross` (DCN-V2, stacked): `layers` cross layers
    x_{l+1} = x_0 * (W x_l + b) + x_l over the whole input, W full or of `rank` (W = U V)."""

    kind: Literal["none", "dot", "cross"] = Field("dot", description="none, dot or cross.")
    dim: PositiveInt | None = Field(None, description="dot: the width fields meet at; default deep.embedding_dim.")
    layers: PositiveInt = Field(2, description="cross: how many cross layers.")
    rank: PositiveInt | None = Field(None, description="cross: a low-rank W (U V) of this rank; default full.")
