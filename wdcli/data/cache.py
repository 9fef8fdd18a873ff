"""The encoded cache: a part's rows encoded once and kept as memory-mappable shards with the fitted pipeline, so
that later epochs, later runs and other processes read encoded columns instead of reading, cleaning and
encoding the files again.

    cache = Cache.open(root, spec, parts)         # root: train.data.cache's folder (`cache_root`)
    hit = cache.pipeline(spec)                    # (fitted pipeline, train.max_rows' limit), or None: fit, then
    cache.keep(fitted, limit)                     # ... keep it for the next run
    enc = cache.read("train", chunks, encode)     # the chunks' encoded rows, one after the other (a new copy);
                                                  # encode(chunk) makes, and the cache keeps, each one missing

A shard is one chunk of a part (`wdcli.data.files.Chunk`: a file's rows `start` to `start + rows`, less those of
other parts): its encoded arrays (ids, numeric values, ragged ids with offsets and weights, label, weight,
group) in one file that a reader maps (`wdcli.data.shards`). A window of a stream is the concatenation of its
chunks' shards, the rows the stream encodes from the files, in the same order: training reads the same batches
from either.

Layout: ROOT/<what>-<data>/ holds `cache.json` (what the folder stands for), `pipeline/` (pipeline.json and the
limit of train.max_rows) and a folder of shards per part. <what> hashes what the encoding depends on besides
the files' contents (`_what`: the spec's data, label, columns, crosses and shared tables, train.max_rows and
read_batch_rows, the paths, FORMAT and wdcli's version); <data> the files' sizes and modification times.
Changed files give a new folder; the old one is stale and removed, unless a run is using it.

Every file is written atomically (`wdcli.data.atomic`): a killed build leaves whole shards, never part of one,
and the next run encodes only the chunks still missing (a shard whose size disagrees with its header is
rebuilt). Runs on one cache at once are safe: each shard is written whole under a temporary name and renamed,
so two runs may both encode a chunk, never spoil it; a lock lets one run fit the pipeline while the others
wait for it, and a run's shared lock on its folder keeps others from removing it as stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import ArtifactError, DataError
from ..features import Encoded, FittedPipeline
from ..features.pipeline import file_in, load_pipeline
from ..features.transform import Ragged
from ..spec import Spec
from .atomic import atomic_file, atomic_folder
from .files import Chunk, Files
from .shards import FORMAT, read_shard, write_shard

try:
    import fcntl
except ImportError:  # (Windows: no locks; atomic writes alone keep the cache whole)
    fcntl = None  # type: ignore[assignment]

Encode = Callable[[Chunk], Encoded]


def cache_root(setting: str, output: str | Path) -> Path | None:
    """The folder of caches `train.data.cache` names: auto, beside the runs (<output>/.cache); off, none."""
    if setting == "off":
        return None
    return Path(output) / ".cache" if setting == "auto" else Path(setting)


def _what(spec: Spec, parts: dict[str, Files]) -> dict:
    """What the fitted pipeline and the encoded rows depend on, besides the files' contents."""
    d = spec.model_dump(mode="json")
    return {
        "format": FORMAT,
        "wdcli": __version__,
        "data": d["data"],
        "label": d["label"],
        "columns": d["columns"],
        "crosses": d["crosses"],
        "shared": d["deep"]["shared"],
        "piecewise": spec.piecewise_bins(),
        # how `clip: auto` bounds the numbers it may: by the form the deep part reads them in (auto's: the fit's)
        "plain": {n: spec.deep.numeric_embedding_of(n).kind for n in spec.auto_clipped()},
        "max_rows": d["train"]["max_rows"],
        "read_batch_rows": d["train"]["data"]["read_batch_rows"],
        "paths": {part: f.paths for part, f in sorted(parts.items())},
    }


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _stats(parts: dict[str, Files]) -> list:
    """Each file's path, size and modification time."""
    paths = dict.fromkeys(p for f in parts.values() for p in f.paths)
    return [[p, st.st_size, st.st_mtime_ns] for p in paths for st in [os.stat(p)]]


@contextlib.contextmanager
def _locked(path: Path, exclusive: bool = True, wait: bool = True) -> Iterator[bool]:
    """Hold a lock on a file while the block runs (whether it was got, when not waiting)."""
    fd = _lock(path, exclusive, wait)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def _lock(path: Path, exclusive: bool, wait: bool) -> int | None:
    """A file descriptor holding a lock on `path` (closing it releases the lock), or None when it was taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if fcntl is None:
        return fd
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Cache:
    """One folder of a cache: the fitted pipeline and the shards of one spec's features over one version of its
    files."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._hold: int | None = None  # a shared lock on the folder while this run uses it
        self._made: Path | None = None
        self.failed = False  # a shard could not be written

    @staticmethod
    def open(root: Path, spec: Spec, parts: dict[str, Files]) -> Cache:
        """The folder for this spec's features and these files (made if need be); stale ones removed."""
        what = _what(spec, parts)
        name = _digest(what)
        cache = Cache(root / f"{name}-{_digest(_stats(parts))}")
        missing = [p for p in [cache.folder, *cache.folder.parents] if not p.exists()]
        cache._made = missing[-1] if missing else None  # the outermost folder made for it (runs/, say)
        try:
            cache.folder.mkdir(parents=True, exist_ok=True)
            cache._hold = _lock(cache.folder / ".in-use", exclusive=False, wait=True)
            about = cache.folder / "cache.json"
            if not about.exists():
                with atomic_file(about) as tmp:
                    tmp.write_text(json.dumps({"what": what, "files": _stats(parts)}, indent=1))
        except OSError as e:
            raise DataError(
                f"{root}: cannot keep the encoded cache there ({e.strerror or e}); set train.data.cache to a "
                "folder you can write, or to off"
            ) from None
        for old in root.glob(f"{name}-*"):
            if old != cache.folder:
                _remove_unused(old)
        return cache

    @staticmethod
    def find(root: Path, spec: Spec, parts: dict[str, Files]) -> Cache | None:
        """The folder `open` gives for this spec and these files, if it is there, held (until `close`) so that no
        run removes it while it is read; None when it is not, or is being removed. Nothing is made or removed:
        what scoring a run's own rows reads (`wdcli.score.evaluation`)."""
        try:
            cache = Cache(root / f"{_digest(_what(spec, parts))}-{_digest(_stats(parts))}")
            if (cache.folder / "cache.json").is_file():
                cache._hold = _lock(cache.folder / ".in-use", exclusive=False, wait=False)
        except OSError:  # (a file gone, a folder this user may not lock: no cache to read)
            return None
        return cache if cache._hold is not None else None

    def abandon(self) -> None:
        """After a run that failed before keeping anything (a bad column, Ctrl-C while fitting): no trace of it,
        neither this folder (unless another run holds it) nor the empty folders made for it."""
        self.close()
        try:
            if any(p.name not in ("cache.json", ".in-use", ".fit.lock") for p in self.folder.iterdir()):
                return
            _remove_unused(self.folder)
        except OSError:  # (gone already, say: the run's own error is the one to tell)
            pass
        for up in self.folder.parents if self._made is not None and not self.folder.exists() else []:
            if not (up == self._made or self._made in up.parents):
                break
            with contextlib.suppress(OSError):
                up.rmdir()

    def close(self) -> None:
        if self._hold is not None:
            os.close(self._hold)
            self._hold = None

    def __del__(self) -> None:
        self.close()

    def __getstate__(self) -> dict:  # (to reader processes: the folder, not the lock)
        return {"folder": self.folder, "_hold": None, "failed": self.failed}

    # ------------------------------------------------------------------------------------------ pipeline
    @contextlib.contextmanager
    def fitting(self) -> Iterator[None]:
        """While one run fits the pipeline, others opening this folder wait (then find it)."""
        with _locked(self.folder / ".fit.lock"):
            yield

    def pipeline(self, spec: Spec) -> tuple[FittedPipeline, tuple[int, int] | None] | None:
        """The fitted pipeline kept here (for `spec`: the features are the same, the rest of it may differ) and
        where train.max_rows ended the training rows, or None."""
        folder = self.folder / "pipeline"
        try:  # (file_in: a regular file of the folder, never a FIFO that would wait; a spoilt one is no pipeline)
            limit = json.loads(file_in(folder, "limit.json", "the cache").read_text())["limit"]
            if limit is not None and not (len(limit) == 2 and all(type(x) is int and x >= 0 for x in limit)):
                return None
            return load_pipeline(folder, spec), (tuple(limit) if limit is not None else None)
        except (OSError, ValueError, KeyError, TypeError, ArtifactError):
            return None

    def keep(self, fitted: FittedPipeline, limit: tuple[int, int] | None) -> None:
        try:
            with atomic_folder(self.folder / "pipeline") as tmp:
                fitted.save(tmp)
                (tmp / "limit.json").write_text(json.dumps({"limit": list(limit) if limit is not None else None}))
        except OSError as e:
            self._failed(e)

    # -------------------------------------------------------------------------------------------- shards
    def shard(self, part: str, chunk: Chunk) -> Path:
        return self.folder / part / f"{chunk.file}-{chunk.start}-{chunk.rows}.shard"

    def has(self, part: str, chunks: list[Chunk]) -> bool:
        """Whether every chunk's shard is here (a whole part: read it without the files)."""
        return all(self.shard(part, c).is_file() for c in chunks)

    def load(self, part: str, chunk: Chunk) -> Encoded | None:
        """A chunk's encoded rows, mapped from its shard (read-only), or None when it is missing or spoilt."""
        return read_shard(self.shard(part, chunk))

    def each(self, part: str, chunks: list[Chunk], encode: Encode) -> Iterator[Encoded]:
        """Each chunk's encoded rows: mapped from its shard (read-only), or made by `encode` and kept."""
        for c in chunks:
            enc = self.load(part, c)
            if enc is None:
                enc = encode(c)
                self._keep(part, c, enc)
            yield enc

    def _keep(self, part: str, chunk: Chunk, enc: Encoded) -> None:
        """Write a chunk's shard. A cache that cannot be written (a full disk) is said once (a warning), and the
        run goes on without it."""
        try:
            write_shard(self.shard(part, chunk), enc)
        except OSError as e:
            self._failed(e)

    def _failed(self, e: OSError) -> None:
        if not self.failed:
            warnings.warn(
                f"{self.folder}: the encoded cache cannot be written ({e.strerror or e}); training goes on, "
                "fitting and encoding what is missing again next time",
                RuntimeWarning,
                stacklevel=3,
            )
        self.failed = True

    def read(self, part: str, chunks: list[Chunk], encode: Encode) -> Encoded:
        """The chunks' encoded rows, one after the other, in new (writable) arrays."""
        return concat(list(self.each(part, chunks, encode)))


class Encodings:
    """The fitted pipelines and encoded rows of one set of frames, kept in memory for runs that train on the
    same frames again (tune's trials, compare's three models): a run whose features are those of one of the
    last `keep` runs neither fits nor encodes. Only what the features depend on is compared (`_what`); the rest
    of the spec (the model, the optimizers) may differ."""

    def __init__(self, keep: int = 2):
        self.keep = keep
        self.items: dict[str, tuple[FittedPipeline, dict[str, Encoded]]] = {}  # the last used last

    @staticmethod
    def _key(spec: Spec) -> str:
        return _digest(_what(spec, {}))

    def get(self, spec: Spec) -> tuple[FittedPipeline, dict[str, Encoded]] | None:
        """The pipeline (for `spec`) and each part's encoded rows kept for these features, or None."""
        key = self._key(spec)
        if key not in self.items:
            return None
        fitted, encoded = self.items[key] = self.items.pop(key)
        return FittedPipeline(spec, fitted.features, fitted.rows), encoded

    def put(self, spec: Spec, fitted: FittedPipeline, encoded: dict[str, Encoded]) -> None:
        self.items[self._key(spec)] = (fitted, encoded)
        while len(self.items) > self.keep:
            del self.items[next(iter(self.items))]


def _remove_unused(folder: Path) -> None:
    """Remove a stale folder, unless a run holds it."""
    with _locked(folder / ".in-use", exclusive=True, wait=False) as got:
        if got:
            shutil.rmtree(folder, ignore_errors=True)


def concat(parts: list[Encoded]) -> Encoded:
    """The rows of several encodings, one after the other, always in new arrays (a shard's are read-only)."""
    if len(parts) > 1:
        return Encoded.concat(parts)
    e = parts[0]
    copy = np.array
    maybe = lambda a: None if a is None else np.array(a)  # noqa: E731
    multi = {k: Ragged(copy(r.ids), copy(r.offsets), copy(r.weights)) for k, r in e.multi.items()}
    return Encoded(copy(e.sparse), multi, copy(e.dense), maybe(e.label), maybe(e.weight), maybe(e.group), e.n)


def empty(e: Encoded) -> Encoded:
    """No rows, in the shapes of `e`."""
    head = lambda a: None if a is None else a[:0]  # noqa: E731
    multi = {k: Ragged(r.ids[:0], np.zeros(1, dtype=np.int64), r.weights[:0]) for k, r in e.multi.items()}
    return Encoded(e.sparse[:0], multi, e.dense[:0], head(e.label), head(e.weight), head(e.group), 0)
