"""Stable hashing: the same value gives the same bucket in every process, machine and library version.

Polars' own `hash` is seeded per version, so wdcli hashes strings with FNV-1a (64-bit) over their UTF-8
bytes, vectorized with numpy one byte position at a time over the strings still that long (the last few long
ones byte by byte); crosses combine the 64-bit hashes of their parts with a fixed integer mixer.
`tests/test_hashing.py` pins the outputs.

FNV-1a is sequential, one step per byte, so a value's cost grows with its length: a 2 MB value took seconds.
Only the first HASHED_BYTES (1 KiB) are hashed so; a longer value (no category is that long: a user agent is a
few hundred bytes) is that prefix's FNV-1a mixed with a BLAKE2b of the whole value, which hashlib computes at
C speed. Values up to 1 KiB hash as they always did; a longer one was hashed whole by FNV-1a before.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
NULL_HASH = np.uint64(0x9AE16A3B2F90404F)  # the hash of "missing", so that crosses keep rows with a null part
HASHED_BYTES = 1024  # FNV-1a covers a value's first KiB; the rest costs one BLAKE2b call (see above)
_FEW = 8  # active rows below which the rest is hashed byte by byte in Python
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def fnv1a64(values: pl.Series) -> np.ndarray:
    """FNV-1a 64 of each string of a null-free String series (its first HASHED_BYTES bytes, then `_long` for a
    longer one), as uint64."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    lens = values.str.len_bytes().to_numpy().astype(np.int64)
    buf = np.frombuffer(values.str.join("").cast(pl.Binary).item(), dtype=np.uint8)  # (bytes, no Python str)
    starts = np.cumsum(lens) - lens
    order = np.argsort(-lens, kind="stable")  # longest first: the active rows are always a prefix
    sorted_lens = np.minimum(lens[order], HASHED_BYTES)
    active_starts = starts[order]
    h = np.full(n, FNV_OFFSET, dtype=np.uint64)
    ascending = sorted_lens[::-1]
    j, longest = 0, int(sorted_lens[0])
    while j < longest:
        k = n - int(np.searchsorted(ascending, j, side="right"))  # rows longer than j
        if k <= _FEW:  # a few long values left: byte by byte in Python costs less than a numpy step per byte
            for r in range(k):
                h[r] = _fnv_bytes(int(h[r]), buf[active_starts[r] + j : active_starts[r] + sorted_lens[r]])
            break
        hk = h[:k]
        np.bitwise_xor(hk, buf[active_starts[:k] + j], out=hk)
        np.multiply(hk, FNV_PRIME, out=hk)
        j += 1
    out = np.empty(n, dtype=np.uint64)
    out[order] = h
    for i in np.flatnonzero(lens > HASHED_BYTES):
        out[i] = _long(out[i], buf[starts[i] : starts[i] + lens[i]])
    return out


def _fnv_bytes(h: int, data: np.ndarray) -> np.uint64:
    """FNV-1a 64 continued from state h over some bytes."""
    for b in data.tobytes():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return np.uint64(h)


def _long(prefix: np.uint64, data: np.ndarray) -> np.uint64:
    """The hash of a value longer than HASHED_BYTES: the FNV-1a of its first HASHED_BYTES bytes mixed with a
    64-bit BLAKE2b of all of it (hashlib: C speed), so that it costs per value, not per byte, and long values
    that share a prefix still differ."""
    digest = np.uint64(
        int.from_bytes(hashlib.blake2b(np.ascontiguousarray(data).data, digest_size=8).digest(), "little")
    )  # (read in place)
    return mix(np.array([prefix ^ digest], dtype=np.uint64))[0]


def hash_strings(s: pl.Series) -> np.ndarray:
    """Stable uint64 hash of each value of a String series; nulls get NULL_HASH. Hashes distinct values once."""
    s = s.cast(pl.String)
    uniq = s.drop_nulls().unique()
    if len(uniq) == len(s) and s.null_count() == 0:
        return fnv1a64(s)
    codes = s.cast(pl.Enum(uniq), strict=False).to_physical()
    table = fnv1a64(uniq)
    out = table[codes.fill_null(0).to_numpy()] if len(table) else np.zeros(len(s), dtype=np.uint64)
    out[codes.is_null().to_numpy()] = NULL_HASH
    return out


def hash_ints(x: np.ndarray) -> np.ndarray:
    """Stable uint64 hash of integers (bucket ids of bucketized columns)."""
    return mix(x.astype(np.uint64) + _GOLDEN)


def mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer: a fixed bijective scramble of uint64."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Order-dependent combination of two uint64 hash arrays (a cross of a then b)."""
    with np.errstate(over="ignore"):
        return mix(a ^ (b + _GOLDEN + (a << np.uint64(6)) + (a >> np.uint64(2))))


def bucket(h: np.ndarray, n: int) -> np.ndarray:
    """Bucket in [0, n) of each hash, as int64."""
    return (h % np.uint64(n)).astype(np.int64)
