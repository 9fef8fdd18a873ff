"""`min_count: auto`, a categorical column's vocabulary threshold as the fit resolves it: from the training rows,
and from how often the column's values were seen there. A plain-values rule, so that the fit (on the training
rows' counts) and `wdcli init` (on its sample's) apply it alike."""

from __future__ import annotations

from typing import Any

import numpy as np

COVERED = 0.5  # the share of a column's values in the training rows that auto's threshold lets keep their ids


def auto_min_count(rows: int, counts: Any = None) -> int:
    """How often a value must be seen in `rows` training rows to get an id (and an embedding) of its own, the
    paper's threshold that keeps rare values from being memorized: 1 below 1,000 rows, 2 below 10,000, 5 below
    500,000, then 10 (docs/benchmarks.md: on a million clicks with columns of up to 100,000 values, 10 gives
    +0.007 test AUC over 1; on smaller data 5 and 1 are alike). Given `counts` (each distinct value's count in
    those rows), the threshold is then lowered, not below 2, to the largest that keeps values holding at least
    half of the column's occurrences: an id seen 1 to 4 times each (a pupil's marks over four school years) kept
    none at 5, and 2 gave +0.016 test AUC (docs/benchmarks.md, star). Where even 2 keeps less than half (values
    mostly seen once), it stays as it was: a value seen once is never kept by the lowering."""
    base = 1 if rows < 1_000 else 2 if rows < 10_000 else 5 if rows < 500_000 else 10
    if counts is None or base <= 2:
        return base
    seen = np.asarray(counts, dtype=np.int64)
    total = int(seen.sum())
    return next((t for t in range(base, 1, -1) if COVERED * total <= int(seen[seen >= t].sum())), base)
