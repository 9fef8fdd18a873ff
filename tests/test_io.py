"""Tables by extension, in one module: every format reads and writes the same frame, TSV with tabs."""

from __future__ import annotations

import polars as pl
import pytest

from wdcli.data import io
from wdcli.errors import DataError

FRAME = pl.DataFrame({"a": ["1", "2", "3"], "b": ["x, y", "z", ""], "c": ["p", "q", "r"]})


@pytest.mark.parametrize("ext", ["csv", "tsv", "parquet", "ndjson", "jsonl"])
def test_every_format_round_trips(tmp_path, ext):
    path = tmp_path / f"t.{ext}"
    io.write_table(FRAME, path)
    back = io.read_table(path)
    assert back.columns == FRAME.columns and back.height == 3
    assert back["b"].fill_null("").to_list() == ["x, y", "z", ""]


def test_tsv_is_written_and_read_with_tabs(tmp_path):
    path = tmp_path / "t.tsv"
    io.write_table(FRAME, path)
    assert path.read_text().splitlines()[0] == "a\tb\tc"
    assert io.read_table(path).width == 3
    assert [len(b) for b in io.iter_batches(path, 2)] == [2, 1]


def test_batches_stream_several_files_and_name_bad_ones(tmp_path):
    io.write_table(FRAME, tmp_path / "1.csv")
    io.write_table(FRAME, tmp_path / "2.csv")
    assert sum(len(b) for b in io.iter_batches(str(tmp_path / "*.csv"), 2)) == 6
    (tmp_path / "3.csv").write_text("")
    with pytest.raises(DataError, match="3.csv: the file is empty"):
        list(io.iter_batches(str(tmp_path / "*.csv"), 2))
    (tmp_path / "x.txt").write_text("a\n1\n")
    with pytest.raises(DataError, match="unknown file type '.txt'"):
        io.read_table(tmp_path / "x.txt")
    with pytest.raises(DataError, match="no file matches"):
        io.read_table(tmp_path / "nothere.csv")


def test_a_failed_write_leaves_no_file(tmp_path):
    def frames():
        yield FRAME
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        io.write_batches(frames(), tmp_path / "out.parquet")
    assert list(tmp_path.iterdir()) == []


def test_a_value_of_another_type_past_the_first_ndjson_rows_says_what_to_write(tmp_path):
    """Polars reads an NDJSON column's type from its first rows; an empty string for a missing number after them
    fails the read: the message names the file and says to write null (polars' own error said nothing of what to do)."""
    import json

    rows = [{"a": i, "y": i % 2} for i in range(200)] + [{"a": "", "y": 1}]
    (tmp_path / "t.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"t\.ndjson: cannot be read as NDJSON: .*write missing values as null"):
        io.read_table(tmp_path / "t.ndjson")
