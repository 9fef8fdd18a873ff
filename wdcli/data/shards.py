"""A shard: one chunk's encoded rows as one file (`wdcli.data.cache` keeps a part's rows as shards). Its arrays
(ids, numeric values, ragged ids with offsets and weights, label, weight, group) each start at an aligned offset
after a JSON header, so that a reader maps the file and copies the arrays it needs; a file of another format,
or not whole, reads as None."""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path

import numpy as np

from ..features import Encoded
from ..features.transform import Ragged
from .atomic import atomic_file

FORMAT = 15  # of the shards and of what a cache folder's name hashes: a new one makes new folders (2: numbers keep
# their spike; 3: and whether their effect is uneven; 4, 5: as read from the rows of the smallest keys; 6: clip: auto;
# 7: min_count: auto lowered for a column of mostly rarer values; 8: numbers keep whether their values name things;
# 9: and their values without a missing value's fill; 10: categories read whole floats as integers; 11: `named`
# leaves one row out; 12: log1p read centered and scaled, quantile between its boundaries; 13: text "300.0" as "300"
# where the training text holds such, a float NaN category missing, vocabulary crosses of float columns fixed; 14:
# numbers keep whether they are flags with missing values, and lists their "300.0" text as "300"; 15: clip: auto
# of a number whose spread a few far values hold)
# (tests/test_cache.py pins what the fit learns per FORMAT: a change to it fails there until FORMAT is bumped)
MAGIC = b"WDCSHARD"
ALIGN = 64  # bytes: where each array starts in a shard


def _arrays(enc: Encoded) -> tuple[dict[str, np.ndarray], str | None]:
    """A shard's arrays by name, and how its group column is held (None: it has none; object: text, kept as
    fixed-width unicode with a mask of its nulls)."""
    arrays = {"sparse": enc.sparse, "dense": enc.dense}
    arrays.update({k: a for k in ("label", "weight") if (a := getattr(enc, k)) is not None})
    for name, bag in enc.multi.items():
        arrays.update({f"multi.{name}.ids": bag.ids, f"multi.{name}.offsets": bag.offsets})
        arrays[f"multi.{name}.weights"] = bag.weights
    group, kind = enc.group, None if enc.group is None else "array"
    if group is not None and group.dtype == object:
        nulls = np.array([v is None for v in group], dtype=bool)
        arrays["group.nulls"], kind = nulls, "object"
        group = np.array(["" if v is None else str(v) for v in group], dtype=str if len(group) else "<U1")
    if group is not None:
        arrays["group"] = group
    return arrays, kind


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


_writing: set[Path] = set()  # shards being written by this process's threads
_guard = threading.Lock()


def write_shard(path: Path, enc: Encoded) -> None:
    """One chunk's encoded rows as a shard file (atomically: a whole file or none). A shard another thread of
    this process is writing (under the same temporary name) is left to it."""
    with _guard:
        if path in _writing:
            return
        _writing.add(path)
    try:
        _write(path, enc)
    finally:
        with _guard:
            _writing.discard(path)


def _write(path: Path, enc: Encoded) -> None:
    arrays, group = _arrays(enc)
    places: dict[str, list] = {}  # name -> [dtype, shape, offset]
    at = 0
    for name, a in arrays.items():
        places[name] = [a.dtype.str, list(a.shape), at]
        at = _align(at + a.nbytes)
    head = json.dumps({"n": enc.n, "group": group, "size": at, "arrays": places}).encode()
    start = _align(len(MAGIC) + 8 + len(head))
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        f.write(MAGIC + struct.pack("<II", FORMAT, len(head)) + head)
        for name, a in arrays.items():
            f.seek(start + places[name][2])
            f.write(np.ascontiguousarray(a).data)
        f.truncate(start + at)


def read_shard(path: Path) -> Encoded | None:
    """A shard's encoded rows, mapped read-only; None when it is missing, of another format, or not whole."""
    try:
        mm = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError):  # (missing, or empty)
        return None
    if len(mm) < len(MAGIC) + 8 or bytes(mm[: len(MAGIC)]) != MAGIC:
        return None
    version, size = struct.unpack("<II", bytes(mm[len(MAGIC) : len(MAGIC) + 8]))
    try:
        head = json.loads(bytes(mm[len(MAGIC) + 8 : len(MAGIC) + 8 + size]))
    except ValueError:
        return None
    start = _align(len(MAGIC) + 8 + size)
    if version != FORMAT or len(mm) != start + head["size"]:
        return None
    arrays = {}
    for name, (dtype, shape, at) in head["arrays"].items():
        dt = np.dtype(dtype)
        count = int(np.prod(shape))
        arrays[name] = mm[start + at : start + at + count * dt.itemsize].view(dt).reshape(shape)
    return _encoded(arrays, head["n"], head["group"])


def _encoded(arrays: dict[str, np.ndarray], n: int, group_kind: str | None) -> Encoded:
    names = [k[len("multi.") : -len(".ids")] for k in arrays if k.startswith("multi.") and k.endswith(".ids")]
    multi = {m: Ragged(*(arrays[f"multi.{m}.{k}"] for k in ("ids", "offsets", "weights"))) for m in names}
    group = arrays.get("group")
    if group is not None and group_kind == "object":
        group = group.astype(object)
        group[arrays["group.nulls"]] = None
    return Encoded(arrays["sparse"], multi, arrays["dense"], arrays.get("label"), arrays.get("weight"), group, n)
