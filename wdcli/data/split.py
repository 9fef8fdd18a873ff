"""The train/validation/test split: explicit files, or a seeded split of the training rows."""

from __future__ import annotations

import numpy as np
import polars as pl

from ..errors import DataError
from .io import expand_paths, read_table


def split_names(data) -> dict[str, str]:
    """How messages name each split's rows: its file(s), and for a split taken from the training file(s), which
    part (e.g. 'data/adult.parquet (validation split)')."""
    def files(patterns) -> str:
        try:
            return ", ".join(expand_paths(patterns))
        except DataError:
            return ", ".join([patterns] if isinstance(patterns, str) else patterns)

    train = files(data.train)
    names = {"train": f"{train} (training rows)" if data.validation is None or data.test is None else train}
    for split in ("validation", "test"):
        given = getattr(data, split)
        names[split] = files(given) if given is not None else f"{train} ({split} split)"
    return names


def split_rows(n: int, validation: float, test: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded split of row indices into (train, validation, test); each part keeps the file's row order."""
    perm = np.random.default_rng(seed).permutation(n)
    n_test, n_val = int(round(n * test)), int(round(n * validation))
    test_idx, val_idx, train_idx = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    return np.sort(train_idx), np.sort(val_idx), np.sort(test_idx)


def load_splits(data) -> dict[str, pl.DataFrame]:
    """The train/validation/test frames of a spec's `data` section (absent parts are empty frames)."""
    train = read_table(data.train)
    parts = {"validation": data.validation, "test": data.test}
    frames = {k: read_table(v) for k, v in parts.items() if v is not None}
    want_val = data.validation is None and data.split.validation > 0
    want_test = data.test is None and data.split.test > 0
    if want_val or want_test:
        tr, va, te = split_rows(len(train), data.split.validation if want_val else 0.0,
                                data.split.test if want_test else 0.0, data.split.seed)
        if want_val:
            frames["validation"] = train[va]
        if want_test:
            frames["test"] = train[te]
        train = train[tr]
    frames["train"] = train
    return frames
