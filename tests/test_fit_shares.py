"""The fit in shares: processes that each fit a share of the training files' chunks and merge their states fit
the pipeline one process fits, byte for byte (simulated here with threads, one per process; tests/
test_distributed.py runs it in processes)."""

from __future__ import annotations

import pickle
import threading

import polars as pl
import pytest
import torch

import wdcli.features.fit as fit
import wdcli.train.fitting as fitting
from wdcli.data.files import Files
from wdcli.errors import DataError
from wdcli.spec import load_spec
from wdcli.train.runtime import Runtime

from .conftest import apps_frame
from .test_stream import many_files  # noqa: F401 (a fixture)


class Exchange:
    """all_gather_object between threads: each thread's value, pickled as between processes."""

    def __init__(self, world: int):
        self.barrier, self.slots, self.local = threading.Barrier(world), [b""] * world, threading.local()

    def __call__(self, value):
        self.slots[self.local.rank] = pickle.dumps(value)
        self.barrier.wait()
        out = [pickle.loads(s) for s in self.slots]
        self.barrier.wait()
        return out


def _fit_in(spec, world: int, monkeypatch) -> list:
    exchange, out, errors = Exchange(world), [None] * world, []
    monkeypatch.setattr(fitting, "_gather", exchange)

    def process(rank: int) -> None:
        exchange.local.rank = rank
        try:
            out[rank] = fitting.fit_training_rows(spec, Runtime(torch.device("cpu"), rank=rank, world=world))
        except BaseException as e:  # (reported below)
            errors.append(e)
            exchange.barrier.abort()

    threads = [threading.Thread(target=process, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


def _saved(fitted, folder) -> dict[str, bytes]:
    fitted.save(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "sets",
    [
        [],  # split by position
        ["data.split.key=user"],  # split by a key column
        ["train.max_rows=700"],  # the rows capped
        ["data.split.time=ts"],  # split by time
        ["data.split.time=ts", "data.split.per=user"],  # each user's latest rows held out
    ],
)
@pytest.mark.parametrize("sample_rows", [1_000_000, 97])  # the quantile sample: every row, or a bottom-k
@pytest.mark.parametrize("ext", ["parquet", "csv"])  # chunks sliced, or read in order
def test_shares_fit_the_pipeline_of_one_process_byte_for_byte(
    many_files,  # noqa: F811
    tmp_path,
    monkeypatch,
    sets,
    sample_rows,
    ext,
):
    folder, path, _ = many_files
    for i in range(4):  # the apps rows, with a time (not in the order of the rows)
        frame = apps_frame(250, seed=i).with_columns(ts=(pl.int_range(250) * 7919 + i * 13) % 1000)
        frame.write_csv(folder / f"part-{i}.csv") if ext == "csv" else frame.write_parquet(folder / f"part-{i}.parquet")
    if ext == "csv":
        path.write_text(path.read_text().replace("part-*.parquet", "part-*.csv"))
    monkeypatch.setattr(fit, "SAMPLE_ROWS", sample_rows)
    spec = load_spec(path, ["train.data.read_batch_rows=90", "train.data.cache=off", *sets])
    one = _saved(fitting.fit_training_rows(spec, Runtime(torch.device("cpu"))), tmp_path / "one")
    for world in (2, 3, 7, 20):  # (20: shares without a chunk)
        for rank, fitted in enumerate(_fit_in(spec, world, monkeypatch)):
            assert _saved(fitted, tmp_path / f"{world}-{rank}") == one, (world, rank)


@pytest.mark.parametrize("sets", [[], ["data.split.time=ts", "data.split.per=user"]])
def test_shares_take_the_readable_names_from_the_first_rows_as_one_process(many_files, tmp_path, monkeypatch, sets):  # noqa: F811
    """The crosses' readable names come from the first NAMED_ROWS rows: with fewer of them than the rows (300 of
    1,000 here; the default 50,000 is more than any test's), shares that start past them send none, a share
    that starts before sends its rows, and they merge in the order of the rows."""
    folder, path, _ = many_files
    for i in range(4):
        frame = apps_frame(250, seed=i).with_columns(ts=(pl.int_range(250) * 7919 + i * 13) % 1000)
        frame.write_parquet(folder / f"part-{i}.parquet")
    monkeypatch.setattr(fit, "NAMED_ROWS", 300)
    spec = load_spec(path, ["train.data.read_batch_rows=90", "train.data.cache=off", *sets])
    one = _saved(fitting.fit_training_rows(spec, Runtime(torch.device("cpu"))), tmp_path / "one")
    for world in (2, 3, 7):
        for rank, fitted in enumerate(_fit_in(spec, world, monkeypatch)):
            assert _saved(fitted, tmp_path / f"{world}-{rank}") == one, (world, rank)


def test_a_share_starts_where_the_rows_before_it_end(many_files):  # noqa: F811
    _, path, _ = many_files
    for sets in ([], ["data.split.key=user"], ["data.split.time=age", "data.split.per=user"]):
        train = Files.of(load_spec(path, sets).data)["train"]
        assert sum(fitting._kept(train, c) for c in train.chunks(64)) == sum(len(f) for f in train.frames(64))


def test_shares_of_no_rows_merge_with_vocabulary_crosses(tmp_path, monkeypatch):
    """`train --nproc 5` on 60 capped rows: most shares read none; their value counts of columns and of a
    vocabulary cross's hashes (untyped when empty) merge as nothing (once an internal error)."""
    from .conftest import SPECS

    spec = load_spec(SPECS / "tiny.yaml", ["train.max_rows=60", "train.data.cache=off"])
    assert any(c.min_count is not None for c in spec.crosses)  # (a vocabulary cross)
    one = _saved(fitting.fit_training_rows(spec, Runtime(torch.device("cpu"))), tmp_path / "one")
    for rank, fitted in enumerate(_fit_in(spec, 5, monkeypatch)):
        assert _saved(fitted, tmp_path / f"5-{rank}") == one, rank


def test_a_column_that_fails_in_one_share_fails_every_process_alike(many_files, tmp_path, monkeypatch):  # noqa: F811
    """The processes fit their shares of the columns (every n-th each): a column that cannot be fitted fails in
    one of them, and every process raises the first such column's error, as one process does, rather than
    waiting for the others."""
    folder, path, _ = many_files
    for i in range(4):
        part = pl.read_parquet(folder / f"part-{i}.parquet")
        part.with_columns(blank=pl.lit(None, pl.Float64), blank2=pl.lit(None, pl.Float64)).write_parquet(
            folder / f"part-{i}.parquet"
        )
    spec = load_spec(path, ["train.data.cache=off", "columns.blank.kind=numeric", "columns.blank2.kind=numeric"])
    with pytest.raises(DataError, match="'blank' has no values") as one:
        fitting.fit_training_rows(spec, Runtime(torch.device("cpu")))
    for world in (2, 3, 4):  # (4: the two blank columns fall to two processes, neither of them the last)
        assert _raised_in(spec, world, monkeypatch) == [str(one.value)] * world, world


def _raised_in(spec, world: int, monkeypatch) -> list:
    """The DataError each of `world` processes (threads) raised, as text."""
    exchange, raised = Exchange(world), [None] * world
    monkeypatch.setattr(fitting, "_gather", exchange)

    def process(rank: int) -> None:
        exchange.local.rank = rank
        try:
            fitting.fit_training_rows(spec, Runtime(torch.device("cpu"), rank=rank, world=world))
        except DataError as e:
            raised[rank] = str(e)

    threads = [threading.Thread(target=process, args=(r,), daemon=True) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return raised
