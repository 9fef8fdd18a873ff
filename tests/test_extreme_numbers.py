"""Infinities and numbers near 1e308 in a numeric column of every transform, through `predict` (CSV and Parquet)
and the server: an infinity is a missing value (the column's fill), a huge number is clipped and scored, and
where the model's float32 arithmetic still overflows (DCN's cross layers multiply a clipped 1e12 by itself) the
row is refused naming the column, the row and the value. A score is never NaN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.errors import DataError
from wdcli.score import Scorer

from .conftest import SPECS

runner = CliRunner()
TRANSFORMS = {  # column: transform (none of them clipped: clip: none)
    "age": "quantile",
    "hours-per-week": "minmax",
    "capital-gain": "log1p",
    "fnlwgt": "standardize",
    "educational-num": "none",
}
INFINITIES = ["inf", "-inf", "Infinity", "1e400"]  # (1e400 parses as inf)
HUGE = ["1e308", "-1e308"]


def _train(folder: Path, *settings: str) -> Path:
    columns = [f"columns.{c}={{kind: numeric, transform: {t}, clip: none}}" for c, t in TRANSFORMS.items()]
    args = ["train", str(SPECS / "tiny.yaml"), "-q", "--output", str(folder), "--set", "train.epochs=1"]
    for s in [*columns, *settings]:
        args += ["--set", s]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return folder


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("plain") / "m")


@pytest.fixture(scope="module")
def crossed(tmp_path_factory) -> Path:
    """Three cross layers: a clipped 1e12 to the fourth power is past float32."""
    return _train(tmp_path_factory.mktemp("crossed") / "m", "deep.interaction={kind: cross, layers: 3}")


def extreme_rows(values: list[str]) -> pl.DataFrame:
    """One row per (column, value), the other columns as the first row of tiny.csv has them; then that row with
    each column missing (its score is what an infinity should get)."""
    base = pl.read_csv(SPECS / "data" / "tiny.csv", infer_schema=False).head(1)
    rows = [base.with_columns(pl.lit(v).alias(c)) for c in TRANSFORMS for v in values]
    rows += [base.with_columns(pl.lit(None, pl.String).alias(c)) for c in TRANSFORMS]
    return pl.concat(rows)


def written(frame: pl.DataFrame, folder: Path, kind: str) -> Path:
    path = folder / f"in.{kind}"
    if kind == "csv":
        frame.write_csv(path)
    else:  # numbers as Float64, infinities as IEEE infinities
        frame.with_columns(pl.col(list(TRANSFORMS)).cast(pl.Float64)).write_parquet(path)
    return path


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_an_infinity_is_a_missing_value_and_a_huge_number_is_scored(plain, tmp_path, kind):
    frame = extreme_rows(INFINITIES + HUGE)
    r = runner.invoke(app, ["predict", "--model", str(plain), "--input", str(written(frame, tmp_path, kind))])
    assert r.exit_code == 0, r.output
    scores = pl.read_csv(r.stdout.encode())["score"].to_numpy()
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    per_column = len(INFINITIES) + len(HUGE)
    missing = scores[-len(TRANSFORMS) :]
    for j, column in enumerate(TRANSFORMS):
        infinite = scores[j * per_column : j * per_column + len(INFINITIES)]
        assert np.allclose(infinite, missing[j]), column  # scored as the column's fill


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_number_the_model_overflows_on_is_refused_naming_column_row_and_value(crossed, tmp_path, kind):
    """It was `x.csv: the model gives no score (NaN) for 4 rows (the first: row 8); check their numeric values`:
    no column, no value, a row counted from 0 within a batch."""
    frame = extreme_rows(HUGE)
    r = runner.invoke(app, ["predict", "--model", str(crossed), "--input", str(written(frame, tmp_path, kind))])
    scorer = Scorer.load(crossed)
    refused = []
    for i in range(len(frame)):
        try:
            assert np.isfinite(scorer.score(frame[i : i + 1])).all()
        except DataError as e:
            refused.append(i)
            assert "row 1: the model gives no score (NaN) for column '" in str(e)
            column = next(c for c in TRANSFORMS if f"'{c}' = " in str(e))
            assert f"'{column}' = {frame[column][i]} (trained on " in str(e) and f"columns.{column}.clip" in str(e)
    assert refused, "the cross layers overflowed on none: the test shows nothing"
    assert r.exit_code == 2 and r.stdout == "", r.output
    first = refused[0]
    column = next(c for c in TRANSFORMS if frame[c][first] in HUGE)
    value = frame[column][first] if kind == "csv" else f"{float(frame[column][first]):g}"
    assert f"in.{kind}: row {first + 1}: the model gives no score (NaN)" in r.stderr, r.stderr
    assert f"'{column}' = {value}" in r.stderr and "Traceback" not in r.stderr


def test_rows_are_counted_across_the_batches_of_a_file(crossed, tmp_path):
    frame = extreme_rows(HUGE)
    scorer = Scorer.load(crossed)
    bad = next(i for i in range(len(frame)) if _refused(scorer, frame[i : i + 1]))
    good = pl.concat([frame[-1:]] * 25)  # (the last row: a missing value, scored)
    path = written(pl.concat([good, frame]), tmp_path, "csv")
    r = runner.invoke(app, ["predict", "--model", str(crossed), "--input", str(path), "--batch-rows", "10"])
    assert r.exit_code == 2 and f"in.csv: row {25 + bad + 1}: the model" in r.stderr, r.stderr


def test_the_server_refuses_the_row_with_422_and_scores_the_others(crossed, tmp_path):
    import shutil

    from wdcli.serve.app import ServeConfig, Server

    from .test_serve import InProcess

    runs = tmp_path / "runs" / "tiny"
    shutil.copytree(crossed, runs / "m")
    (runs / "LATEST").write_text("m\n")
    frame = extreme_rows(HUGE)
    scorer = Scorer.load(crossed)
    bad = next(i for i in range(len(frame)) if _refused(scorer, frame[i : i + 1]))
    column = next(c for c in TRANSFORMS if frame[c][bad] in HUGE)
    good_row = frame[-1:].to_dicts()[0]
    with InProcess(Server(ServeConfig(model=str(runs), watch=False)).app()) as client:
        row = {**good_row, column: float(frame[column][bad])}
        r = client.post("/predict", json={"rows": [good_row, row]})
        assert r.status_code == 422, r.text
        assert f"request: row 2: the model gives no score (NaN) for column '{column}' = " in r.json()["error"]
        assert client.post("/predict", json={"rows": [good_row]}).status_code == 200
        body = '{"rows": [{"hours-per-week": Infinity}]}'  # JSON has no infinity: not JSON
        assert client.post("/predict", content=body).status_code == 400


def _refused(scorer: Scorer, row: pl.DataFrame) -> bool:
    try:
        scorer.score(row)
    except DataError:
        return True
    return False
