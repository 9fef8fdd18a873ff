"""Data larger than memory: the streamed fit equals the in-memory one, streamed training sees every training row
once an epoch and resumes bit-identically, chunked reading of every format, ragged and capped lists."""

from __future__ import annotations

from functools import partial
from io import StringIO

import numpy as np
import polars as pl
import pytest
import torch

from wdcli.data import io
from wdcli.data.files import Chunk, ChunkReader, Files
from wdcli.data.split import load_splits
from wdcli.features import fit_pipeline, transform
from wdcli.run import run_training
from wdcli.spec import load_spec

from .conftest import APPS_SPEC, SIGNAL_SPEC, apps_frame, fitter_fed, signal_frame
from .test_checkpoint import StopAfter, assert_same_weights


@pytest.fixture
def many_files(tmp_path):
    """The apps frame in four Parquet files and one CSV, with the spec reading them all."""
    frame = apps_frame(1200, seed=5)
    for i in range(4):
        frame.slice(i * 250, 250).write_parquet(tmp_path / f"part-{i}.parquet")
    spec = tmp_path / "apps.yaml"
    spec.write_text(APPS_SPEC.format(path="part-*.parquet"))
    return tmp_path, spec, frame.head(1000)


@pytest.mark.parametrize("sizes", [[3000], [70] * 42 + [60], [199, 1, 800, 2000]])
def test_the_quantile_sample_is_the_rows_of_the_smallest_position_hashes(monkeypatch, tmp_path, sizes):
    """Past SAMPLE_ROWS rows the sample is a bottom-k of a stable hash of the row's position, whatever the
    batches (newcomers replace the rows whose keys leave it in place)."""
    import wdcli.features.fit as fit
    from wdcli.features import hashing

    monkeypatch.setattr(fit, "SAMPLE_ROWS", 250)
    values = np.random.default_rng(1).normal(size=3000)
    fitter = fitter_fed(tmp_path, pl.DataFrame({"a": values, "y": np.arange(3000) % 2}), sizes)
    kept = np.argsort(hashing.hash_ints(np.arange(3000, dtype=np.int64)))[:250]
    assert np.array_equal(np.sort(fitter.sample[0]), np.sort(values[kept]))


STREAM = ["train.data.mode=stream", "train.data.read_batch_rows=64", "train.data.shuffle_buffer=200"]


def test_streamed_fit_equals_the_fit_of_the_whole_table(many_files):
    folder, path, _ = many_files
    spec = load_spec(path)
    frames = load_splits(spec.data)
    whole = fit_pipeline(spec, frames["train"])
    train = Files.of(spec.data)["train"]
    streamed = fit_pipeline(spec, lambda: train.frames(37))
    assert streamed.rows == whole.rows == len(frames["train"])
    for name, f in whole.features.items():
        g = streamed.features[name]
        if f.kind == "numeric":  # moments merged batch by batch: equal up to rounding
            d = f.model_dump()
            for k, v in g.model_dump().items():
                assert v == (pytest.approx(d[k], rel=1e-12, abs=1e-12) if isinstance(v, float) else d[k]), (name, k)
        else:
            assert g == f, name


@pytest.fixture
def learnable(tmp_path):
    """Rows a model learns in two epochs (test AUC ~0.90), in four Parquet files, and the spec reading them."""
    frame = signal_frame(1200, seed=5)
    for i in range(4):
        frame.slice(i * 300, 300).write_parquet(tmp_path / f"part-{i}.parquet")
    (tmp_path / "s.yaml").write_text(SIGNAL_SPEC.format(path="part-*.parquet", validation=0.2, test=0.2))
    return tmp_path / "s.yaml"


def test_stream_mode_trains_on_every_training_row_and_scores_like_memory(learnable, workdir):
    """The tolerance is measured: over train.seed 0-11 on these rows, memory's test AUC spread with a standard
    deviation of 0.003 (range 0.010), streaming's 0.004 (0.015), and stream minus memory at one seed had mean
    0.002, deviation 0.006, largest 0.013. 0.03 is five deviations; a stream that trains on wrong rows (AUC
    ~0.5) is far outside it."""
    memory, _ = run_training(load_spec(learnable, ["train.epochs=2", "train.data.mode=memory"]), output=workdir / "m")
    stream, _ = run_training(load_spec(learnable, ["train.epochs=2", *STREAM]), output=workdir / "s")
    for split in ("train", "validation", "test"):
        assert stream.metrics.splits[split]["rows"] == memory.metrics.splits[split]["rows"], split
    assert stream.metrics.history[0].rows_per_s > 0 and stream.metrics.epochs == 2
    assert memory.metrics.metric("auc", "test") > 0.85  # (the rows are learnt: the comparison means something)
    assert abs(stream.metrics.metric("auc", "test") - memory.metrics.metric("auc", "test")) < 0.03


def test_a_streamed_run_resumes_bit_identically(many_files, workdir):
    folder, path, _ = many_files
    spec = load_spec(
        path, ["train.epochs=3", "train.batch_size=16", "train.checkpoint.every_steps=3", "train.threads=1", *STREAM]
    )
    _, straight = run_training(spec, output=workdir / "straight")
    for crash_after in (5, 40):  # within the first window, and in a later window of a later epoch
        out = workdir / f"resumed{crash_after}"
        with pytest.raises(RuntimeError, match="simulated crash"):
            run_training(spec, output=out, reporter=StopAfter(crash_after))
        _, resumed = run_training(spec, output=out, resume=True)
        assert_same_weights(straight, resumed)


@pytest.mark.parametrize("ext", ["csv", "tsv", "parquet", "ndjson"])
def test_chunks_of_every_format_read_the_right_rows(tmp_path, ext):
    frame = pl.DataFrame({"i": [str(i) for i in range(1000)]})
    path = tmp_path / f"t.{ext}"
    io.write_table(frame, path)
    reader = ChunkReader([str(path)])
    got = [reader.read(Chunk(0, a, min(128, 1000 - a))) for a in range(0, 1000, 128)]
    assert pl.concat(got)["i"].cast(pl.Int64).to_list() == list(range(1000))
    assert reader.read(Chunk(0, 300, 5))["i"].cast(pl.Int64).to_list() == [300, 301, 302, 303, 304]  # out of order


def test_max_rows_caps_the_training_rows_in_file_order(many_files):
    folder, path, _ = many_files
    spec = load_spec(path)
    train = Files.of(spec.data)["train"]
    train.cap(333)
    rows = pl.concat(list(train.frames(50)))
    assert len(rows) == 333
    assert rows.equals(load_splits(spec.data)["train"].head(333))


def test_long_lists_stay_ragged_and_can_be_capped(tmp_path):
    frame = pl.DataFrame({"tags": ["|".join(f"t{i}" for i in range(2000)), "t1|t2", ""], "y": [1, 0, 1]})
    text = "data: {train: x.csv}\nlabel: {column: y}\ncolumns:\n  tags: {kind: multivalent, separator: '|'%s}\n"
    (tmp_path / "a.yaml").write_text(text % "")
    (tmp_path / "b.yaml").write_text(text % ", max_values: 3")
    (tmp_path / "x.csv").write_text("x")
    enc = transform(fit_pipeline(load_spec(tmp_path / "a.yaml"), frame), frame)
    assert enc.multi["tags"].ids.shape == (2002,) and enc.multi["tags"].offsets.tolist() == [0, 2000, 2002, 2002]
    capped = transform(fit_pipeline(load_spec(tmp_path / "b.yaml"), frame), frame)
    assert capped.multi["tags"].offsets.tolist() == [0, 3, 5, 5]
    from wdcli.features import Encoder

    fitted = fit_pipeline(load_spec(tmp_path / "b.yaml"), frame)
    assert np.array_equal(Encoder(fitted)(frame).multi["tags"].ids, capped.multi["tags"].ids)
    assert torch.is_tensor(torch.from_numpy(capped.multi["tags"].ids))


def test_eval_and_rank_stream_and_agree_with_memory(apps_spec, workdir):
    """A file grouped by its group column is ranked one group range at a time, with the metrics of ranking it
    whole; an ungrouped one is ranked whole (and says so); eval in batches gives the metrics of eval whole."""
    from wdcli.score import Scorer
    from wdcli.score.evaluation import evaluate_file
    from wdcli.score.files import predict_file, rank_file

    _, model = run_training(load_spec(apps_spec, ["train.epochs=1"]))
    scorer = Scorer.load(model)
    frame = apps_frame(700, seed=11)
    ungrouped, grouped = workdir / "u.csv", workdir / "g.parquet"
    frame.write_csv(ungrouped)
    frame.sort("user", maintain_order=True).write_parquet(grouped)
    whole = scorer.rank(frame, top_k=3)
    for path, streamed in ((grouped, True), (ungrouped, False)):
        out = workdir / f"ranked-{path.stem}.csv"
        r = rank_file(None, path, out, top_k=3, batch_rows=64, scorer=scorer)
        assert r.streamed is streamed and r.groups == whole.groups and r.rows == len(whole.frame)
        assert r.metrics == pytest.approx(whole.metrics, rel=1e-9)
        got = pl.read_csv(out).sort(["user", "rank"])
        assert got["score"].to_list() == pytest.approx(whole.frame.sort(["user", "rank"])["score"].to_list())
    batched = evaluate_file(None, ungrouped, scorer=scorer, batch_rows=64)
    assert batched == pytest.approx(scorer.evaluate(frame), rel=1e-9)
    # to stdout, batch after batch: one CSV, its header once
    for score, rows in ((predict_file, len(frame)), (partial(rank_file, top_k=3), len(whole.frame))):
        out = StringIO()
        score(None, grouped, None, batch_rows=64, stdout=out, scorer=scorer)
        lines = out.getvalue().splitlines()
        assert len(lines) == 1 + rows and lines.count(lines[0]) == 1


def test_reader_processes_encode_the_very_windows_of_a_thread(many_files, workdir):
    """Windows encoded by reader processes (as on a GPU machine) train the same weights as one reader thread."""
    folder, path, _ = many_files
    base = ["train.epochs=2", "train.threads=1", *STREAM]
    _, thread = run_training(load_spec(path, [*base, "train.data.readers=0"]), output=workdir / "thread")
    _, procs = run_training(load_spec(path, [*base, "train.data.readers=2"]), output=workdir / "procs")
    assert_same_weights(thread, procs)


@pytest.mark.parametrize("ext", ["csv", "ndjson"])
def test_a_share_of_a_text_files_chunks_reads_the_file_once(tmp_path, ext, monkeypatch):
    """A process of a run of three reads every third chunk: the reader reads past the others' chunks instead of
    reopening the file (and parsing it again from its start) for each of its own."""
    import wdcli.data.files as files

    frame = pl.DataFrame({"a": np.arange(1000)})
    path = tmp_path / f"t.{ext}"
    frame.write_csv(path) if ext == "csv" else frame.write_ndjson(path)
    opened = []
    monkeypatch.setattr(files, "scan_one", lambda p, *rest, _scan=files.scan_one: opened.append(p) or _scan(p, *rest))
    reader = ChunkReader([str(path)])
    for chunk in [Chunk(0, s, min(64, 1000 - s)) for s in range(0, 1000, 64)][1::3]:
        assert reader.read(chunk)["a"].cast(pl.Int64).to_list() == list(range(chunk.start, chunk.start + chunk.rows))
    assert len(opened) == 1
    assert reader.read(Chunk(0, 10, 3))["a"].cast(pl.Int64).to_list() == [10, 11, 12]  # behind: reopened
    assert len(opened) == 2


def test_auto_mode_holds_in_memory_the_parts_that_fit_what_is_left_of_the_budget(many_files, monkeypatch):
    """`train.data.mode: auto` spends the memory budget part by part, held-out parts first: with 700 bytes and a
    byte a row, validation (200 expected rows) and test (200) are held in memory and the 600 training rows,
    which alone would fit, are streamed."""
    import wdcli.train.sources as sources
    from wdcli.data.memory import InMemory
    from wdcli.data.stream import Stream
    from wdcli.train.runtime import Runtime

    _, path, _ = many_files
    monkeypatch.setattr(sources, "row_bytes", lambda enc: 1.0)
    monkeypatch.setattr(sources, "memory_budget", lambda mb: 700)
    spec = load_spec(path, ["train.data.mode=auto", "train.data.cache=off"])
    fitted, parts, _ = sources.prepare(spec, None, Runtime(torch.device("cpu")))
    assert isinstance(parts["train"], Stream) and fitted.rows > 500
    assert isinstance(parts["validation"], InMemory) and isinstance(parts["test"], InMemory)


def test_rows_read_from_files_into_memory_are_shuffled_by_train_seed(many_files):
    """The in-memory order of rows read from files follows train.seed: the same seed, the same first batch;
    another seed, another."""
    from wdcli.train.runtime import Runtime
    from wdcli.train.sources import prepare

    _, path, _ = many_files

    def first_rows(seed: int) -> list:
        spec = load_spec(path, ["train.data.mode=memory", "train.data.cache=off", f"train.seed={seed}"])
        _, parts, _ = prepare(spec, None, Runtime(torch.device("cpu")))
        return next(iter(parts["train"].batches())).dense.tolist()

    assert first_rows(1) == first_rows(1) != first_rows(2)


def test_train_max_rows_caps_the_rows_the_pipeline_is_fitted_on(many_files):
    """From files (train.max_rows applied as the rows are read) and from frames alike."""
    from wdcli.train import train
    from wdcli.train.fitting import fit_training_rows
    from wdcli.train.runtime import Runtime

    _, path, frame = many_files
    spec = load_spec(path, ["train.max_rows=333", "train.epochs=1"])
    assert fit_training_rows(spec, Runtime(torch.device("cpu"))).rows == 333
    result = train(spec, {"train": frame.head(500), "validation": frame.tail(100)})
    assert result.fitted.rows == 333 and result.metrics.splits["train"]["rows"] == 333
