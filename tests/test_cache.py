"""The encoded cache: the same batches as encoding the files, read again without fitting or encoding, rebuilt
when stale or partial, safe when runs share it, and a streamed run resumes from it bit for bit."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

import wdcli.data.cache as cache_module
from wdcli.data.cache import Cache, cache_root, read_shard, write_shard
from wdcli.data.files import Files
from wdcli.data.shards import FORMAT
from wdcli.data.stream import Stream
from wdcli.features import fit_pipeline, transform
from wdcli.run import run_training
from wdcli.spec import load_spec

from .conftest import apps_frame
from .test_checkpoint import StopAfter, assert_same_weights
from .test_stream import STREAM, many_files  # noqa: F401 (a fixture)

OFF = ["train.data.cache=off"]


def _flat(batch) -> list:
    """A batch's arrays, to compare batches whole."""
    out = [batch.sparse, batch.dense, batch.label]
    for bag in batch.multi.values():
        out += [bag.ids, bag.offsets, bag.weights]
    return out + [torch.tensor([hash(str(g)) for g in batch.group])]


def _epochs(spec, cache: Cache | None, epochs: int = 2) -> list[list]:
    train = Files.of(spec.data)["train"]
    fitted = fit_pipeline(spec, lambda: train.frames(64))
    stream = Stream(train, fitted, 16, 1, fitted.rows, 200, 64, cache=cache)
    return [[_flat(b) for b in stream.batches()] for _ in range(epochs)]


def _same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert len(x) == len(y) and all(torch.equal(u, v) for u, v in zip(x, y))


def test_a_stream_through_the_cache_gives_the_batches_of_the_files(many_files, tmp_path):  # noqa: F811
    """Epoch 1 encodes and keeps each chunk, epoch 2 reads the shards: both the very batches of encoding the
    files, window by window, with the same seed."""
    _, path, _ = many_files
    spec = load_spec(path, STREAM)
    files = _epochs(spec, None)
    cache = Cache.open(tmp_path / "cache", spec, Files.of(spec.data))
    cached = _epochs(spec, cache)
    for a, b in zip(files, cached):
        _same(a, b)
    assert len(list((cache.folder / "train").glob("*.shard"))) == len(Files.of(spec.data)["train"].chunks(64))


def test_a_shard_holds_every_array_of_a_chunk(tmp_path):
    frame = apps_frame(300, seed=2).with_columns(
        user=pl.when(pl.int_range(300) % 7 == 0).then(None).otherwise(pl.col("user")), w=pl.lit(0.5)
    )
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(
        "data: {train: x.csv}\nlabel: {column: clicked, group: user, weight: w}\ncolumns:\n"
        "  installed: {kind: multivalent, separator: '|'}\n  age: numeric\n  country: categorical\n"
    )
    (tmp_path / "x.csv").write_text("x")
    fitted = fit_pipeline(load_spec(spec_file), frame)
    enc = transform(fitted, frame, with_label=True)
    write_shard(tmp_path / "a.shard", enc)
    back = read_shard(tmp_path / "a.shard")
    assert back is not None and back.n == enc.n
    for key in ("sparse", "dense", "label", "weight"):
        assert (
            np.array_equal(getattr(back, key), getattr(enc, key))
            and getattr(back, key).dtype == getattr(enc, key).dtype
        )
    assert back.group.tolist() == enc.group.tolist() and back.group.tolist()[0] is None
    for name, bag in enc.multi.items():
        for key in ("ids", "offsets", "weights"):
            assert np.array_equal(getattr(back.multi[name], key), getattr(bag, key))
    raw = (tmp_path / "a.shard").read_bytes()
    (tmp_path / "b.shard").write_bytes(raw[:-8])  # cut short: not whole, so not read
    assert read_shard(tmp_path / "b.shard") is None and read_shard(tmp_path / "none.shard") is None
    (tmp_path / "c.shard").write_bytes(raw + b"\0" * 64)  # longer than its header says
    (tmp_path / "d.shard").write_bytes(raw[:8] + struct.pack("<I", FORMAT - 1) + raw[12:])  # of another format
    assert read_shard(tmp_path / "c.shard") is None and read_shard(tmp_path / "d.shard") is None


def test_a_second_run_neither_fits_nor_encodes_and_trains_the_same_weights(many_files, workdir, monkeypatch):  # noqa: F811
    _, path, _ = many_files
    for mode in (["train.data.mode=memory"], STREAM):
        base = ["train.epochs=2", "train.threads=1", *mode]
        _, off = run_training(load_spec(path, [*base, *OFF]), output=workdir / "off")
        _, first = run_training(load_spec(path, base), output=workdir / "first")
        assert (workdir / "runs" / ".cache").is_dir()
        with monkeypatch.context() as m:
            import wdcli.data.stream as stream
            import wdcli.train.sources as sources

            def fails(*args, **kwargs):
                raise AssertionError("fitted or encoded again")

            for module, name in ((sources, "fit_pipeline"), (sources, "transform"), (stream, "transform")):
                m.setattr(module, name, fails)
            _, second = run_training(load_spec(path, base), output=workdir / "second")
        for run in (first, second):
            assert_same_weights(off, run)
            assert (run / "pipeline.json").read_bytes() == (off / "pipeline.json").read_bytes()


def test_changed_files_make_the_cache_stale_and_it_is_rebuilt(many_files, workdir):  # noqa: F811
    folder, path, _ = many_files
    spec = load_spec(path, ["train.epochs=1", *STREAM])
    run_training(spec, output=workdir / "a")
    root = workdir / "runs" / ".cache"
    (old,) = [p for p in root.iterdir() if p.is_dir()]
    apps_frame(250, seed=9).write_parquet(folder / "part-0.parquet")  # new rows in one file
    spec = load_spec(path, ["train.epochs=1", *STREAM])
    _, cached = run_training(spec, output=workdir / "b")
    (new,) = [p for p in root.iterdir() if p.is_dir()]
    assert new != old and not old.exists()
    _, fresh = run_training(load_spec(path, ["train.epochs=1", *STREAM, *OFF]), output=workdir / "c")
    assert_same_weights(fresh, cached)


def test_other_features_get_a_cache_of_their_own(many_files, workdir):  # noqa: F811
    _, path, _ = many_files
    run_training(load_spec(path, ["train.epochs=1"]), output=workdir / "a")
    run_training(load_spec(path, ["train.epochs=1", "columns.age.quantiles=5"]), output=workdir / "b")
    run_training(load_spec(path, ["train.epochs=1", "deep.hidden=[4]", "train.seed=3"]), output=workdir / "c")
    assert len([p for p in (workdir / "runs" / ".cache").iterdir() if p.is_dir()]) == 2


def test_the_cache_folder_changes_with_whatever_the_encoding_depends_on(many_files, tmp_path, monkeypatch):  # noqa: F811
    """Each setting the fitted pipeline or the encoded rows depend on gets a folder of its own (a cache of other
    features is never read), and so does a file rewritten in place with as many bytes; the model's do not."""
    folder, path, _ = many_files

    def opened(*sets: str) -> str:
        spec = load_spec(path, list(sets))
        cache = Cache.open(tmp_path / "root", spec, Files.of(spec.data))
        cache.close()
        return cache.folder.name

    first = opened()
    changes = [
        "crosses[0].hash_buckets=300",
        "columns.age.quantiles=5",
        "label.group=country",
        "data.split.seed=4",
        "train.max_rows=900",
        "train.data.read_batch_rows=100",
        "deep.numeric_embeddings={age: piecewise}",
    ]
    names = [opened(change) for change in changes]
    assert len({first, *names}) == len(changes) + 1
    assert opened("deep.hidden=[4]", "train.seed=3", "deep.embedding_dim=8") == first
    # clip: auto bounds a number by the form it is read in, so the form is the fit's too (sigma is the model's)
    std = "columns.age.transform=standardize"
    forms = ("auto", "none", "periodic", "piecewise")
    assert len({opened(std, f"deep.numeric_embedding={e}") for e in forms}) == 4
    periodic = opened(std, "deep.numeric_embedding=periodic")
    assert opened(std, "deep.numeric_embedding={kind: periodic, sigma: 3}") == periodic
    assert opened("deep.numeric_embedding=none") == first  # (its age, through quantiles, is never clipped)
    assert opened("deep.shared={}") != first  # (columns of one table share a vocabulary)
    monkeypatch.setattr(cache_module, "__version__", "999.0")
    assert opened() != first
    monkeypatch.undo()
    part = folder / "part-0.parquet"
    stat = part.stat()
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # (rewritten: same size, a new time)
    assert opened() != first
    first, stat = opened(), part.stat()
    apps_frame(300, seed=9).write_parquet(part)  # (rewritten: another size, the old time)
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert part.stat().st_size != stat.st_size and opened() != first


def test_a_partial_or_spoilt_cache_is_completed(many_files, workdir):  # noqa: F811
    _, path, _ = many_files
    spec = load_spec(path, ["train.epochs=2", "train.threads=1", *STREAM])
    _, first = run_training(spec, output=workdir / "a")
    shards = sorted((workdir / "runs" / ".cache").glob("*/train/*.shard"))
    shards[0].unlink()  # missing
    shards[1].write_bytes(shards[1].read_bytes()[:100])  # cut short (as no atomic write leaves it)
    _, again = run_training(spec, output=workdir / "b")
    assert_same_weights(first, again)
    assert shards[0].exists() and read_shard(shards[1]) is not None
    limit = next((workdir / "runs" / ".cache").glob("*/pipeline/limit.json"))
    for spoilt in ('{"limit": [1]}', '{"limit": ["a", 2]}', "[]"):  # (edited by hand: a crash, now a new fit)
        limit.write_text(spoilt)
        _, again = run_training(spec, output=workdir / f"c{len(spoilt)}")
        assert_same_weights(first, again)
    limit.unlink()
    os.mkfifo(limit)  # (read, it would wait for a writer forever)
    _, again = run_training(spec, output=workdir / "d")
    assert_same_weights(first, again)


def test_a_streamed_run_resumes_from_the_cache_bit_for_bit(many_files, workdir):  # noqa: F811
    """Killed in its first epoch (the cache half built) and in a later one (read from it), a run resumes to the
    weights of a run that never stopped and never used a cache."""
    _, path, _ = many_files
    base = ["train.epochs=3", "train.batch_size=16", "train.checkpoint.every_steps=3", "train.threads=1", *STREAM]
    _, straight = run_training(load_spec(path, [*base, *OFF]), output=workdir / "straight")
    for crash_after in (5, 40):
        out = workdir / f"resumed{crash_after}"
        with pytest.raises(RuntimeError, match="simulated crash"):
            run_training(load_spec(path, base), output=out, reporter=StopAfter(crash_after))
        _, resumed = run_training(load_spec(path, base), output=out, resume=True)
        assert_same_weights(straight, resumed)


def test_runs_at_once_on_one_cache_are_safe(many_files, workdir):  # noqa: F811
    """Three runs started together build one cache (each shard written whole, the pipeline fitted once while the
    others wait) and train the weights of a run without it."""
    _, path, _ = many_files
    sets = [f"--set={s}" for s in ("train.epochs=2", "train.threads=1", *STREAM)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "wdcli", "train", str(path), "-q", *sets, "--output", str(workdir / f"r{i}")],
            cwd=workdir,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read() if p.stderr else ""
    _, alone = run_training(load_spec(path, [s.removeprefix("--set=") for s in sets] + OFF), output=workdir / "off")
    for i in range(3):
        assert_same_weights(alone, workdir / f"r{i}")
    assert not list((workdir / "runs" / ".cache").rglob(".*tmp*"))  # no temporaries left


def test_cache_off_writes_nothing_and_a_folder_can_be_named(many_files, workdir):  # noqa: F811
    _, path, _ = many_files
    run_training(load_spec(path, ["train.epochs=1", *OFF]), output=workdir / "a")
    assert not (workdir / "runs" / ".cache").exists()
    run_training(load_spec(path, ["train.epochs=1", f"train.data.cache={workdir / 'mine'}"]), output=workdir / "b")
    assert list((workdir / "mine").glob("*/pipeline/pipeline.json"))
    assert cache_root("auto", "runs") == Path("runs/.cache") and cache_root("off", "runs") is None


def test_a_run_stopped_while_fitting_leaves_no_cache(many_files, workdir, monkeypatch):  # noqa: F811
    """Nothing of a run that failed before keeping anything (a bad column, Ctrl-C): neither its folder nor the
    empty folders made for it; other features' caches stay."""
    import wdcli.train.sources as sources

    _, path, _ = many_files
    run_training(load_spec(path, ["train.epochs=1"]), output=workdir / "a")
    root = workdir / "runs" / ".cache"
    kept = sorted(root.iterdir())

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sources, "fit_training_rows", stop)
    for sets in (["columns.age.quantiles=5"], [f"train.data.cache={workdir / 'new' / 'cache'}"]):
        with pytest.raises(KeyboardInterrupt):
            run_training(load_spec(path, ["train.epochs=1", *sets]), output=workdir / "b")
    assert sorted(root.iterdir()) == kept and not (workdir / "new").exists()


def _counting_fits(monkeypatch) -> list:
    import wdcli.train.sources as sources

    calls: list = []
    monkeypatch.setattr(
        sources, "fit_pipeline", lambda *a, _fit=sources.fit_pipeline, **k: calls.append(1) or _fit(*a, **k)
    )
    return calls


def test_tune_trials_reuse_the_encoding_and_find_the_same_results(apps_spec, workdir, monkeypatch):
    """Trials that change only optimizer settings fit and encode once; the trials' results are those of a
    study that fits and encodes every trial (train.data.cache=off)."""
    from wdcli.tune import tune

    space = ["train.deep_optimizer.lr={log_uniform: [0.01, 0.3]}", "train.wide_optimizer.alpha={uniform: [0.01, 0.1]}"]
    sets = ["train.epochs=2", "train.checkpoint.enabled=false", "train.threads=1"]
    rows = {}
    for cache in ("auto", "off"):
        calls = _counting_fits(monkeypatch)
        result = tune(apps_spec, [*sets, f"train.data.cache={cache}"], space, 4, workdir / cache, fresh=True)
        rows[cache] = [{k: r[k] for k in ("trial", "state", "value", "params", "epochs")} for r in result.rows]
        assert len(calls) == (1 if cache == "auto" else 4)
    assert rows["auto"] == rows["off"]


def test_a_trial_that_changes_the_features_fits_its_own(apps_spec, workdir, monkeypatch):
    from wdcli.tune import tune

    calls = _counting_fits(monkeypatch)
    sets = ["train.epochs=1", "train.checkpoint.enabled=false", "train.threads=1", "tune.prune=false"]
    result = tune(apps_spec, sets, ["columns.age.quantiles={choice: [3, 7]}"], 4, workdir / "t", fresh=True)
    quantiles = {r["params"]["columns.age.quantiles"] for r in result.rows}
    assert len(calls) == len(quantiles)  # one fit for each value tried (the encodings of two are kept)


def test_compare_fits_and_encodes_once_for_its_models(apps_spec, workdir, monkeypatch):
    from wdcli.run import compare_models

    calls = _counting_fits(monkeypatch)
    rows = compare_models(load_spec(apps_spec, ["train.epochs=1", "train.threads=1"]))
    assert len(calls) == 1 and [r["model"] for r in rows][:3] == ["wide", "deep", "wide_deep"]
    off = compare_models(load_spec(apps_spec, ["train.epochs=1", "train.threads=1", *OFF]))
    assert len(rows) == 5 and len(calls) == 1 + 5  # (the blocks the other way: interaction, numeric embedding)
    for a, b in zip(rows, off):
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}


def test_a_cache_that_cannot_be_written_is_said(many_files, workdir, monkeypatch):  # noqa: F811
    """A cache folder that cannot be made is an error that says what to do; a full disk while shards are written
    is a warning, and the run trains the weights it trains without the cache."""
    from wdcli.errors import DataError

    _, path, _ = many_files
    (workdir / "a-file").write_text("")
    with pytest.raises(DataError, match="cannot keep the encoded cache there.*or to off"):
        run_training(
            load_spec(path, ["train.epochs=1", f"train.data.cache={workdir / 'a-file'}"]), output=workdir / "x"
        )
    import wdcli.data.cache as cache

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache, "write_shard", full)
    base = ["train.epochs=2", "train.threads=1", *STREAM]
    with pytest.warns(RuntimeWarning, match="No space left on device"):
        _, full_disk = run_training(load_spec(path, base), output=workdir / "full")
    _, off = run_training(load_spec(path, [*base, *OFF]), output=workdir / "off")
    assert_same_weights(off, full_disk)


# wdcli.data.shards.FORMAT -> the digest of the shipped specs' fitted pipelines (below)
FITTED = {15: "a60eb76f67c98a756fb5d9891223d2e6d214c8014a96c0ddd3a40d11426a9dbb"}


def _rounded(x):
    if isinstance(x, float):
        return float(f"{x:.6g}")
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_rounded(v) for v in x]
    return x


def test_a_change_to_what_the_fit_learns_comes_with_a_new_cache_format():
    """A cache folder is found by FORMAT, the files and the spec, not by the fitted state: a change to what the fit
    learns (a new statistic, another rule) would reuse rows encoded the old way, silently. So the fitted pipelines
    of the three shipped specs (numbers to 6 digits) are pinned per FORMAT: when this fails, bump FORMAT in
    wdcli/data/shards.py and pin the digest it prints."""
    import hashlib
    import json

    from wdcli.data.shards import FORMAT
    from wdcli.data.split import load_splits

    from .conftest import SPECS

    digest = hashlib.sha256()
    for name in ("tiny", "census", "apps"):
        spec = load_spec(SPECS / f"{name}.yaml")
        fitted = fit_pipeline(spec, load_splits(spec.data)["train"])
        digest.update(json.dumps(_rounded(fitted.feature_dicts()), sort_keys=True).encode())
    assert FITTED.get(FORMAT) == digest.hexdigest(), (
        f"the fitted pipelines changed: bump FORMAT in wdcli/data/shards.py (now {FORMAT}) and pin "
        f"{digest.hexdigest()!r} in FITTED"
    )


def test_the_encodings_kept_for_reuse_drop_the_least_recently_used(apps_spec):
    """Two encodings are kept (tune's trials go back and forth between feature sets): made a, b, then a used
    again and c made, b is dropped, not a (the first made, but the last used)."""
    from wdcli.data.cache import Encodings

    frame = apps_frame(200, seed=1)
    a, b, c = (load_spec(apps_spec, [f"columns.age.quantiles={q}"]) for q in (3, 4, 5))
    kept = Encodings(keep=2)
    for spec in (a, b):
        kept.put(spec, fit_pipeline(spec, frame), {})
    assert kept.get(a) is not None
    kept.put(c, fit_pipeline(c, frame), {})
    assert kept.get(b) is None and kept.get(a) is not None and kept.get(c) is not None


def test_a_stale_folder_is_removed_only_once_no_run_holds_it(many_files, tmp_path):  # noqa: F811
    """A run reading a cache holds its folder: another run, on files changed since, makes a folder of its own
    and leaves the held one; the next run to open the cache after the holder has closed it removes it."""
    folder, path, _ = many_files
    spec = load_spec(path)
    held = Cache.open(tmp_path / "root", spec, Files.of(spec.data))
    part = folder / "part-0.parquet"
    stat = part.stat()
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    newer = Cache.open(tmp_path / "root", spec, Files.of(spec.data))
    assert newer.folder != held.folder and held.folder.is_dir()
    held.close()
    newer.close()
    again = Cache.open(tmp_path / "root", spec, Files.of(spec.data))
    again.close()
    assert again.folder == newer.folder and not held.folder.exists()
