"""Reading tables (CSV, Parquet, NDJSON; globs) and the seeded train/validation/test split."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import polars as pl

from .errors import DataError

FORMATS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet", ".ndjson": "ndjson",
           ".jsonl": "ndjson", ".json": "ndjson"}


def file_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"{path}: unknown file type '{suffix}'; use .csv, .parquet or .ndjson/.jsonl")
    return FORMATS[suffix]


def read_one(path: str | Path) -> pl.DataFrame:
    """Read one file. CSV is read as text columns: the pipeline casts each column as its spec says."""
    fmt = file_format(path)
    try:
        if fmt == "csv":
            sep = "\t" if str(path).lower().endswith(".tsv") else ","
            df = pl.read_csv(path, infer_schema=False, separator=sep)
        elif fmt == "parquet":
            df = pl.read_parquet(path)
        else:
            df = pl.read_ndjson(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except pl.exceptions.NoDataError:
        raise DataError(f"{path}: the file is empty; it needs a header row and data rows") from None
    except pl.exceptions.ComputeError as e:
        msg = str(e).splitlines()[0]
        if "utf-8" in msg.lower() or "utf8" in msg.lower():
            raise DataError(f"{path}: not valid UTF-8 text; re-encode it (e.g. iconv -f latin1 -t utf-8)") from None
        raise DataError(f"{path}: cannot be read as {fmt.upper()}: {msg}; check the rows have the same "
                        "number of fields as the header") from None
    except (pl.exceptions.PolarsError, OSError) as e:
        raise DataError(f"{path}: cannot be read as {fmt.upper()}: {str(e).splitlines()[0]}") from None
    return df


def expand_paths(patterns: str | list[str]) -> list[str]:
    """The files matching the pattern(s), sorted; an error when there are none."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    paths = sorted({p for pat in patterns for p in glob.glob(pat)})
    if not paths:
        raise DataError(f"no file matches {', '.join(patterns)}")
    return paths


def read_table(patterns: str | list[str]) -> pl.DataFrame:
    """Read and concatenate every file matching the pattern(s)."""
    paths = expand_paths(patterns)
    frames = [read_one(p) for p in paths]
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")


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
