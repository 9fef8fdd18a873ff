"""What a model memorized: the wide part's heaviest weights, with readable names."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..artifact import Artifact
from ..features.fitted import HashedCross, VocabularyCross

Weighted = list[tuple[float, str]]  # (weight, 'feature=value'), heaviest first


@dataclass(frozen=True)
class HeaviestWide:
    """The wide part's heaviest weights: crosses and single values apart, and how many weights are not 0."""

    cross: Weighted = field(default_factory=list)
    single: Weighted = field(default_factory=list)
    nonzero: int = 0

    def of(self, kind: str) -> Weighted:
        """The heaviest of one kind: "cross" or "single"."""
        return self.cross if kind == "cross" else self.single


def heaviest_wide(art: Artifact, top: int) -> HeaviestWide:
    """The wide weights of largest magnitude, split into crosses and single values, with readable names."""
    w = art.model.wide.weight.detach().cpu().numpy()[:, 0]
    rows = HeaviestWide(nonzero=int(np.count_nonzero(w)))
    layout = art.config.layout
    for i in np.argsort(-np.abs(w), kind="stable"):
        if w[i] == 0 or (len(rows.cross) >= top and len(rows.single) >= top):
            break
        slot, id_ = layout.wide_row(int(i))
        crossed = isinstance(art.fitted.features[slot.name], (HashedCross, VocabularyCross))
        kind = rows.cross if crossed else rows.single
        if len(kind) < top:
            kind.append((float(w[i]), art.fitted.id_name(slot.name, id_)))
    return rows
