"""What a model memorized: the wide part's heaviest weights, with readable names."""

from __future__ import annotations

import numpy as np

from ..artifact import Artifact
from ..features.fitted import HashedCross, VocabularyCross


def heaviest_wide(art: Artifact, top: int) -> dict:
    """The wide weights of largest magnitude, split into crosses and single values, with readable names."""
    w = art.model.wide.weight.detach().cpu().numpy()[:, 0]
    rows = {"cross": [], "single": [], "nonzero": int(np.count_nonzero(w))}
    layout = art.config.layout
    for i in np.argsort(-np.abs(w), kind="stable"):
        if w[i] == 0 or all(len(v) >= top for k, v in rows.items() if k != "nonzero"):
            break
        slot, id_ = layout.wide_row(int(i))
        key = "cross" if isinstance(art.fitted.features[slot.name], (HashedCross, VocabularyCross)) else "single"
        if len(rows[key]) < top:
            rows[key].append((float(w[i]), art.fitted.id_name(slot.name, id_)))
    return rows
