"""The file commands on files that are legal but unusual, or not tables at all: list, struct and binary columns
are written as text; a file with no rows, lines ending in CR alone or no line break at all is an error (exit 2)
that names it; values no reader takes are refused as the server refuses them; a huge number never gives NaN."""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from wdcli.cli import app

from .conftest import APPS_SPEC, SPECS, apps_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """tiny, with hours-per-week minmax-scaled and not clipped (1e308 would be inf after scaling)."""
    folder = tmp_path_factory.mktemp("tiny")
    r = runner.invoke(
        app,
        [
            "train",
            str(SPECS / "tiny.yaml"),
            "-q",
            "--output",
            str(folder / "m"),
            "--set",
            "train.epochs=1",
            "--set",
            "columns.hours-per-week={kind: numeric, transform: minmax}",
        ],
    )
    assert r.exit_code == 0, r.output
    return folder / "m"


@pytest.fixture(scope="module")
def apps(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("apps")
    apps_frame(300).write_csv(folder / "apps.csv")
    (folder / "apps.yaml").write_text(APPS_SPEC.format(path="apps.csv"))
    r = runner.invoke(app, ["train", str(folder / "apps.yaml"), "-q", "--output", str(folder / "m")])
    assert r.exit_code == 0, r.output
    return folder / "m"


def rows(n: int = 4) -> pl.DataFrame:
    return pl.read_csv(SPECS / "data" / "tiny.csv", infer_schema=False).head(n)


def predict(model: Path, input: Path, *more: str):
    t0 = time.perf_counter()
    r = runner.invoke(app, ["predict", "--model", str(model), "--input", str(input), *more])
    assert time.perf_counter() - t0 < 5.0  # (the work is ~0.1 s; a hang or a read of the whole file is not)
    return r


def test_list_struct_and_binary_columns_are_written_as_text(tiny, tmp_path):
    frame = rows().with_columns(
        tags=pl.Series([["a", "b"], [], None, ["c"]], dtype=pl.List(pl.String)),
        counts=pl.Series([[1, 2], [3], [], None], dtype=pl.List(pl.Int64)),
        meta=pl.Series([{"k": 1, "v": "x"}] * 4),
        raw=pl.Series([b"\x00\xff", b"ab", None, b""], dtype=pl.Binary),
        deep=pl.Series([[["a"]], [["b", "c"]], None, []], dtype=pl.List(pl.List(pl.String))),
    )
    frame.write_parquet(tmp_path / "in.parquet")
    r = predict(tiny, tmp_path / "in.parquet")  # CSV on stdout
    assert r.exit_code == 0, r.output
    out = pl.read_csv(r.stdout.encode())
    assert out["tags"].to_list() == ["a|b", "", None, "c"] and out["counts"][0] == "1|2"  # (as issue 23 writes lists)
    assert out["meta"][0] == '{"k":1,"v":"x"}' and out["raw"][0] == "AP8=" and out["deep"][1] == '[["b","c"]]'
    for name in ("out.csv", "out.tsv", "out.ndjson", "out.parquet"):
        r = predict(tiny, tmp_path / "in.parquet", "--output", str(tmp_path / name))
        assert r.exit_code == 0, (name, r.output)
    first = json.loads((tmp_path / "out.ndjson").read_text().splitlines()[0])
    assert first["tags"] == ["a", "b"] and first["raw"] == "AP8="
    assert pl.read_parquet(tmp_path / "out.parquet")["tags"].dtype == pl.List(pl.String)


def test_values_no_reader_takes_are_refused_as_the_server_refuses_them(tiny, apps, tmp_path):
    rows().with_columns(education=pl.Series([{"a": "b"}] * 4)).write_parquet(tmp_path / "struct.parquet")
    r = predict(tiny, tmp_path / "struct.parquet")
    assert r.exit_code == 2 and "column 'education' holds objects (a struct)" in r.stderr, r.output
    frame = apps_frame(5).with_columns(installed=pl.Series([[["app1"], ["app2"]]] * 5))
    frame.write_parquet(tmp_path / "nested.parquet")
    r = predict(apps, tmp_path / "nested.parquet")
    assert r.exit_code == 2 and "column 'installed' holds lists of lists" in r.stderr, r.output


@pytest.mark.parametrize(
    "content,message",
    [
        (b"age,education\r39,Bachelors\r52,HS-grad\r", "its lines end in a carriage return alone"),
        (b"foo", "missing column 'age'"),
        (
            b"age,hours-per-week,capital-gain,education,occupation,native-country,educational-num\n",
            "no rows to score",
        ),
        (b"x" * (3 << 20), "no line break in its first 1 MiB"),
    ],
    ids=["CR line ends", "one word", "header only", "no line break"],
)
def test_a_file_with_no_rows_is_an_error_not_an_empty_answer(tiny, tmp_path, content, message):
    (tmp_path / "in.csv").write_bytes(content)
    r = predict(tiny, tmp_path / "in.csv", "--output", str(tmp_path / "out.csv"))
    assert r.exit_code == 2 and message in r.stderr, r.output
    assert not (tmp_path / "out.csv").exists()


def test_eval_of_a_file_with_no_rows_is_an_error_not_a_crash(tiny, tmp_path):
    """(It was an internal error: the metrics of no batches at all were computed on None.)"""
    header = b"age,hours-per-week,capital-gain,education,occupation,native-country,educational-num,income\n"
    (tmp_path / "in.csv").write_bytes(header)
    r = runner.invoke(app, ["eval", "--model", str(tiny), "--input", str(tmp_path / "in.csv")])
    assert r.exit_code == 2 and "no rows to evaluate" in r.stderr, r.output


def test_a_huge_number_is_clipped_never_a_nan_score(tiny, tmp_path):
    frame = rows().with_columns(pl.Series("hours-per-week", ["1e308", "-1e308", "40", "1e300"]))
    frame.write_csv(tmp_path / "in.csv")
    r = predict(tiny, tmp_path / "in.csv")
    assert r.exit_code == 0, r.output
    scores = pl.read_csv(r.stdout.encode())["score"]
    assert scores.is_not_null().all() and scores.is_finite().all() and scores.is_between(0, 1).all()


def test_a_named_pipe_is_refused_not_waited_on(tiny, tmp_path):
    """A FIFO with no writer made predict wait forever (opening it blocks); a device reads without end."""
    import os
    import threading

    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)

    def rescue() -> None:  # (before the fix: after 8 s, a writer for each open, so that the test fails, not hangs)
        done.wait(8)
        while not done.wait(0.05):
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # (no reader yet)
                pass

    done = threading.Event()
    threading.Thread(target=rescue, daemon=True).start()
    t0 = time.perf_counter()
    r = runner.invoke(app, ["predict", "--model", str(tiny), "--input", str(fifo)])
    done.set()
    assert time.perf_counter() - t0 < 5.0 and r.exit_code == 2, r.output
    assert "not a regular file (a named pipe)" in r.stderr, r.output


def test_a_value_past_the_length_limit_is_refused_naming_column_and_limit(tiny, tmp_path, monkeypatch):
    """A 100 MB value in a CSV took predict to 1.4 GB (every copy the cleaning, hashing and writing made cost its
    length again); a value past the limit (1 MiB; here 1,000 bytes) is now an error before any of them."""
    import wdcli.features.inputs as inputs

    monkeypatch.setattr(inputs, "MAX_VALUE_BYTES", 1000)
    frame = rows(2).with_columns(pl.Series("native-country", ["x" * 1000, "y" * 1001]))
    frame.write_csv(tmp_path / "in.csv")
    r = predict(tiny, tmp_path / "in.csv", "--output", str(tmp_path / "out.csv"))
    assert r.exit_code == 2, r.output
    assert "in.csv: column 'native-country' holds a value of 1,001 bytes" in r.stderr
    assert "takes values of at most 1,000 bytes" in r.stderr and not (tmp_path / "out.csv").exists()
    frame.head(1).write_csv(tmp_path / "in.csv")  # (at the limit: scored)
    assert predict(tiny, tmp_path / "in.csv").exit_code == 0


def test_paths_with_glob_characters_are_files_not_patterns(tmp_path):
    """A walk's run folder was named 'init-crosses=[]-s0': Polars read every path as a pattern, so `rank --output`
    into it failed with an internal error ('invalid glob pattern'), and a training file in a folder named 'data[1]'
    was 'no such file'. A path is a file's; only data.train's own patterns are expanded (before any read)."""
    folder = tmp_path / "data[1]"
    folder.mkdir()
    frame = rows(40)
    for name in ("tiny.csv", "tiny.parquet", "tiny.ndjson"):
        (
            frame.write_csv
            if name.endswith("csv")
            else frame.write_parquet
            if name.endswith("parquet")
            else frame.write_ndjson
        )(folder / name)
        spec = (SPECS / "tiny.yaml").read_text().replace("data/tiny.csv", name)
        (folder / "s.yaml").write_text(spec)
        out = folder / f"runs[{name}]"
        r = runner.invoke(app, ["train", str(folder / "s.yaml"), "-q", "--output", str(out), "--set", "train.epochs=1"])
        assert r.exit_code == 0, r.output
        r = predict(out, folder / name, "--output", str(folder / "out[2]" / "p.parquet"))
        assert r.exit_code == 0, r.output
        assert pl.read_parquet(folder / "out[2]" / "p.parquet", glob=False).height == 40
