"""Tables on disk, by extension, in one place: CSV (`.csv`), TSV (`.tsv`, `.tab`), Parquet (`.parquet`, `.pq`)
and NDJSON (`.ndjson`, `.jsonl`, `.json`), one file or many (globs), read whole, lazily or in batches, and
written atomically (`atomic.atomic_file`: a killed write leaves no half-written file).

CSV and TSV are read as text: the pipeline casts each column as its spec says, so a CSV and a Parquet copy of
the same data give the same model. A CSV file's fields are separated by commas unless `separator` says otherwise
(data.csv.separator, --separator); a header that reads as one field holding another separator is refused with
the fix. Every read error becomes a `DataError` that names the file.
"""

from __future__ import annotations

import glob
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl
from polars.datatypes import DataTypeClass

from ..errors import DataError
from .atomic import atomic_file
from .text_types import TextTypes

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "ndjson",
}
SEPARATORS = {"csv": ",", "tsv": "\t"}
LIKELY = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "'|'"}  # separators a one-field header may hold


def type_problem(path: str | Path, suffixes: Iterable[str] = FORMATS) -> str | None:
    """What is wrong with a file's type for reading or writing it (by its extension), or None. `suffixes`: the
    extensions allowed (default: the table formats)."""
    allowed = list(suffixes)
    if Path(path).suffix.lower() in allowed:
        return None
    return f"{path}: unknown file type '{Path(path).suffix}'; use {', '.join(allowed[:-1])} or {allowed[-1]}"


def file_format(path: str | Path) -> str:
    """csv, tsv, parquet or ndjson, by the file's extension."""
    if why := type_problem(path):
        raise DataError(why)
    return FORMATS[Path(path).suffix.lower()]


def expand_paths(patterns: str | Path | list) -> list[str]:
    """The files matching the pattern(s), sorted; an error when there are none."""
    patterns = [str(patterns)] if isinstance(patterns, (str, Path)) else [str(p) for p in patterns]
    paths = sorted({p for pat in patterns for p in (glob.glob(pat) or ([pat] if os.path.isfile(pat) else []))})
    if not paths:
        raise DataError(f"no file matches {', '.join(patterns)}")
    for p in paths:
        file_format(p)
    return paths


FIRST_LINE = 1 << 20  # a CSV or TSV header longer than this is no header: a file with no line breaks


def scan_one(path: str | Path, separator: str | None = None) -> pl.LazyFrame:
    """One file as a LazyFrame (nothing is read until it is collected); `separator`: a CSV file's."""
    fmt = file_format(path)
    _check_regular(path)
    if fmt in SEPARATORS:
        sep = separator if separator is not None and fmt == "csv" else SEPARATORS[fmt]
        _check_first_line(path, fmt.upper())
        _check_header(path, sep)
        return pl.scan_csv(path, infer_schema=False, separator=sep, glob=False)
    # a path is a file's, never a pattern (a folder named 'runs[1]' holds files): globs are expanded before
    return pl.scan_parquet(path, glob=False) if fmt == "parquet" else pl.scan_ndjson(glob.escape(str(path)))


def _check_regular(path: str | Path) -> None:
    """Refuse a named pipe, a device or a socket: opening a pipe with no writer waits forever, and a device can
    be read without end. (A folder or a missing file: reading it names the problem.)"""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    kind = (
        "a named pipe"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else None
    )
    if kind is not None:
        raise DataError(
            f"{path}: not a regular file ({kind}), which could be waited on or read without end; "
            "write the rows to a file and give that"
        )


def _check_header(path: str | Path, separator: str) -> None:
    """Refuse a header that is one field holding another likely separator ('user_id;movie_id;liked' read with
    commas): every column would be missing, under one long name."""
    try:
        with open(path, "rb") as f:
            header = f.readline(1 << 16).decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    except OSError:
        return  # reading it names the problem
    found = {c: header.count(c) for c in LIKELY if c != separator and c in header}
    if separator in header or not found:
        return
    c = max(found, key=lambda k: found[k])
    shown = header if len(header) <= 60 else header[:57] + "..."
    raise DataError(
        f"{path}: its header is one field ({shown!r}) when read with {LIKELY.get(separator, repr(separator))}; "
        f"its fields look separated by {LIKELY[c]}: set data.csv.separator: {c!r} in the spec, or pass "
        f"--separator {'tab' if c == chr(9) else repr(c)}"
    )


def _check_first_line(path: str | Path, fmt: str) -> None:
    """Polars reads a file whose lines end in CR alone as one line, and a file with no line break whole into
    its header: both are refused before reading (a DataError naming the file)."""
    try:
        with open(path, "rb") as f:
            head = f.read(FIRST_LINE + 1)
    except OSError as e:
        raise _read_error(path, e) from None
    if b"\n" in head:
        return
    if b"\r" in head:
        raise DataError(
            f"{path}: its lines end in a carriage return alone (an old Mac format), which {fmt} readers do not "
            "split; convert them to newlines, e.g. tr '\\r' '\\n' < in.csv > out.csv"
        )
    if len(head) > FIRST_LINE:
        raise DataError(
            f"{path}: no line break in its first {FIRST_LINE >> 20} MiB, so it has no {fmt} header row; "
            "check that it is a table with one row per line"
        )


def _read_error(path: str | Path, e: Exception) -> DataError:
    fmt = file_format(path).upper()
    if isinstance(e, FileNotFoundError):
        return DataError(f"{path}: no such file")
    if isinstance(e, IsADirectoryError):
        return DataError(f"{path}: is a folder, not a file")
    if isinstance(e, PermissionError):
        return DataError(f"{path}: cannot be read (permission denied)")
    if isinstance(e, pl.exceptions.NoDataError):
        return DataError(f"{path}: the file is empty; it needs a header row and data rows")
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "utf-8" in msg.lower() or "utf8" in msg.lower():
        return DataError(f"{path}: not valid UTF-8 text; re-encode it (e.g. iconv -f latin1 -t utf-8)")
    if fmt == "NDJSON" and "cannot parse" in msg:  # (polars reads a column's type from the first 100 rows)
        return DataError(
            f"{path}: cannot be read as NDJSON: {msg}: a value of another type than its column's first rows hold "
            '("" for a missing number is text); write missing values as null, or give the rows as Parquet or CSV'
        )
    if isinstance(e, pl.exceptions.ComputeError) and fmt in ("CSV", "TSV"):
        return DataError(
            f"{path}: cannot be read as {fmt}: {msg}; check the rows have the same number of fields as the header"
        )
    return DataError(f"{path}: cannot be read as {fmt}: {msg}")


def read_one(path: str | Path, separator: str | None = None) -> pl.DataFrame:
    try:
        return scan_one(path, separator).collect()
    except (pl.exceptions.PolarsError, OSError) as e:
        raise _read_error(path, e) from None


def read_table(patterns: str | Path | list, separator: str | None = None) -> pl.DataFrame:
    """Read and concatenate every file matching the pattern(s)."""
    frames = [read_one(p, separator) for p in expand_paths(patterns)]
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")


def scan_table(patterns: str | Path | list, separator: str | None = None) -> pl.LazyFrame:
    """Every file matching the pattern(s) as one LazyFrame (columns matched by name; nothing is read yet)."""
    return _stacked([scan_one(p, separator) for p in expand_paths(patterns)])


def _stacked(scans: list[pl.LazyFrame]) -> pl.LazyFrame:
    """Files' scans as one LazyFrame, their columns matched by name."""
    return scans[0] if len(scans) == 1 else pl.concat(scans, how="diagonal_relaxed")


def sample_table(
    patterns: str | Path | list, rows: int, seed: int = 0, separator: str | None = None
) -> tuple[pl.DataFrame, int, pl.DataFrame]:
    """A uniform random sample of at most `rows` rows of every file matching the pattern(s), in file order, the
    number of rows there are, and each sample row's place (`file`: its file's index among the paths, `row`: its
    row in that file). One streaming pass: memory holds the sample, never the files (the rows with
    the `rows` smallest hashes of their position are kept; the same seed and files give the same sample)."""
    paths = expand_paths(patterns)
    scans = [
        scan_one(p, separator).with_row_index(PLACE[1]).with_columns(pl.lit(i, pl.UInt32).alias(PLACE[0]))
        for i, p in enumerate(paths)
    ]
    lazy = _stacked(scans).with_row_index("__row")
    try:
        total = lazy.select(pl.len()).collect(engine="streaming").item()
        if total <= rows:
            sample = lazy.collect(engine="streaming")
        else:
            key = pl.col("__row").hash(seed)
            sample = lazy.bottom_k(rows, by=key).sort("__row").collect(engine="streaming")
    except (pl.exceptions.PolarsError, OSError) as e:
        for path in paths:  # name the file that cannot be read
            read_schema(path, separator)
        raise _read_error(paths[0], e) from None
    if total == 0:
        read_one(paths[0], separator)  # an empty file: its clear error
    places = sample.select(file=pl.col(PLACE[0]), row=pl.col(PLACE[1]).cast(pl.Int64))
    return sample.drop("__row", *PLACE), total, places


PLACE = ("__file", "__in")  # (the names a sample's places have while it is read)


def read_schema(path: str | Path, separator: str | None = None) -> pl.Schema:
    """The columns and types of one file (reading as little of it as its format allows)."""
    try:
        return scan_one(path, separator).collect_schema()
    except (pl.exceptions.PolarsError, OSError) as e:
        raise _read_error(path, e) from None


def iter_batches(patterns: str | Path | list, rows: int, separator: str | None = None) -> Iterator[pl.DataFrame]:
    """Frames of at most `rows` rows, file after file, read lazily: files larger than memory stream through."""
    for path in expand_paths(patterns):
        try:
            batches = scan_one(path, separator).collect_batches(chunk_size=rows)
            first = next(batches, None)
        except (pl.exceptions.PolarsError, OSError) as e:
            raise _read_error(path, e) from None
        if first is None:
            read_one(path, separator)  # an empty file: its clear error
            continue
        yield first
        try:
            yield from batches
        except (pl.exceptions.PolarsError, OSError) as e:
            raise _read_error(path, e) from None


def write_table(frame: pl.DataFrame, path: str | Path) -> None:
    """Write one frame by extension, atomically."""
    write_batches([frame], path)


def write_batches(frames: Iterable[pl.DataFrame], path: str | Path, typed: bool = False) -> int:
    """Write a stream of frames as one file by extension, atomically, in bounded memory; returns the rows.
    Parquet is written as parts and joined by Polars' streaming sink. `typed`: the frames' text columns were read
    from CSV; a Parquet or NDJSON file gets them as reading the whole CSV with Polars' inference would (ints,
    floats, text: `text_types`), the same type in every batch (CSV and TSV are written as they are)."""
    path = Path(path)
    fmt = file_format(path)
    types = TextTypes() if typed and fmt in ("parquet", "ndjson") else None
    rows = 0
    with atomic_file(path) as tmp:
        if fmt == "parquet" or types is not None:
            parts = Path(tempfile.mkdtemp(prefix=".wdcli-parts-", dir=path.parent))
            try:
                files = []
                for i, frame in enumerate(frames):
                    files.append(parts / f"{i:06d}.parquet")
                    if types is not None:
                        frame = as_text(types.see(frame), fmt) if fmt == "ndjson" else types.see(frame)
                    frame.write_parquet(files[-1])
                    rows += len(frame)
                joined = pl.scan_parquet(files, glob=False) if files else pl.LazyFrame()
                joined = joined.with_columns(types.casts()) if types is not None else joined
                joined.sink_parquet(tmp) if fmt == "parquet" else joined.sink_ndjson(tmp)
            finally:
                shutil.rmtree(parts, ignore_errors=True)
        else:
            with open(tmp, "w", encoding="utf-8") as f:
                for i, frame in enumerate(frames):
                    f.write(text(frame, fmt, header=i == 0))
                    rows += len(frame)
    return rows


def text(frame: pl.DataFrame, fmt: str = "csv", header: bool = True) -> str:
    """A frame as CSV, TSV or NDJSON text. CSV holds no lists: a list column's values are written joined by '|'
    (which a spec reads back with separator: '|'); what else CSV or NDJSON cannot hold goes through `as_text`."""
    if fmt in SEPARATORS:
        lists = [c for c, kind in frame.schema.items() if isinstance(kind, (pl.List, pl.Array)) and _flat(kind.inner)]
        flat = frame.with_columns(pl.col(c).cast(pl.List(pl.String)).list.join("|") for c in lists)
        return as_text(flat, fmt).write_csv(separator=SEPARATORS[fmt], include_header=header)
    return as_text(frame, fmt).write_ndjson()


def _flat(dtype: pl.DataType | DataTypeClass) -> bool:
    """A list's values that read back from text joined by '|': not lists, objects or bytes."""
    return not dtype.is_nested() and dtype != pl.Binary


def as_text(frame: pl.DataFrame, fmt: str) -> pl.DataFrame:
    """Columns that CSV and TSV cannot hold, as text: structs and lists of lists, objects or bytes as JSON
    (`{"k":1}`, `[["a"]]`), bytes as base64 (in NDJSON too, which cannot hold bytes either); nulls stay null."""
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.Binary:
            out.append(col.bin.encode("base64"))
        elif fmt in SEPARATORS and dtype.is_nested():  # (a struct's JSON, less the `{"v":` and `}` around it)
            json = pl.struct(col.alias("v")).struct.json_encode().str.slice(5).str.head(-1)
            out.append(pl.when(col.is_null()).then(None).otherwise(json).alias(name))
    return frame.with_columns(out) if out else frame
