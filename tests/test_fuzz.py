"""Fuzzing the fitted pipeline and the scoring path with hypothesis: arbitrary strings and unicode, nulls,
whitespace, extreme and non-finite numbers. Nothing crashes: every id is in its feature's range, every dense
value is finite, every score is finite and in [0, 1], the serving encoder agrees with `transform`, and the
only error is the documented one (text in a numeric column), as a DataError."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wdcli.errors import DataError
from wdcli.features import transform
from wdcli.run import run_training
from wdcli.score import Scorer
from wdcli.spec import load_spec

from .conftest import SPECS
from .test_encoder import EVERY_ENCODING, every_encoding_frame

TEXT = st.one_of(
    st.none(),
    st.text(max_size=30),  # any unicode (no surrogates: Polars strings are UTF-8)
    st.sampled_from(
        [
            "",
            " ",
            "?",
            "n/a",
            "\t",
            "paris",
            " rome ",
            "s1",
            "t3",
            "0",
            "4",
            "-1",
            "🙂",
            "\x00",
            "a" * 5000,
            "Ünïcödé",
            "NULL",
            "None",
            "nan",
        ]
    ),
)
NUMBER = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "-", "1e308", "-1e308", "1e-320", "inf", "-inf", "NaN", "0", " 7 ", "+3"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
LISTS = st.one_of(st.none(), st.lists(TEXT.map(lambda s: (s or "").replace(";", "")), max_size=6).map(";".join))


@pytest.fixture(scope="module")
def every_encoding(tmp_path_factory):
    """A trained model over every column kind and encoding."""
    folder = tmp_path_factory.mktemp("fuzz")
    every_encoding_frame(600, 0).write_csv(folder / "data.csv")
    (folder / "s.yaml").write_text(EVERY_ENCODING + "deep: {embedding_dim: 3, hidden: [8]}\ntrain: {epochs: 1}\n")
    spec = load_spec(folder / "s.yaml")
    _, path = run_training(spec, output=folder / "model")
    return Scorer.load(path)


def check(scorer: Scorer, frame: pl.DataFrame) -> None:
    try:
        enc = scorer.encoder(frame)
    except DataError as e:
        assert "declared numeric but holds text" in str(e)
        with pytest.raises(DataError):
            transform(scorer.fitted, frame, with_label=False)
        return
    fitted = scorer.fitted
    for j, name in enumerate(fitted.univalent):
        ids = enc.sparse[:, j]
        assert ((ids >= 0) & (ids < fitted.cardinality(name))).all(), name
    for name, bag in enc.multi.items():
        assert ((bag.ids >= 0) & (bag.ids < fitted.cardinality(name))).all(), name
        assert np.isfinite(bag.weights).all() and len(bag.offsets) == len(frame) + 1
    assert np.isfinite(enc.dense).all()
    want = transform(fitted, frame, with_label=False)
    assert np.array_equal(enc.sparse, want.sparse) and np.array_equal(enc.dense, want.dense)
    for name, bag in want.multi.items():  # list columns and crosses with them, ragged
        got = enc.multi[name]
        assert all(np.array_equal(getattr(got, k), getattr(bag, k)) for k in ("ids", "offsets", "weights")), name
    scores = scorer.score(frame)
    assert len(scores) == len(frame)
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_every_encoding(every_encoding, data):
    n = data.draw(st.integers(0, 12))
    col = lambda s: data.draw(st.lists(s, min_size=n, max_size=n))  # noqa: E731
    frame = pl.DataFrame(
        {
            "city": col(TEXT),
            "shop": col(TEXT),
            "token": col(TEXT),
            "slot": col(TEXT),
            "tags": col(LISTS),
            "price": col(NUMBER),
            "size": col(NUMBER),
            "weight": col(NUMBER),
            "extra": col(TEXT),
        },
        schema={c: pl.String for c in ("city", "shop", "token", "slot", "tags", "price", "size", "weight", "extra")},
    )
    check(every_encoding, frame)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_typed_numbers(every_encoding, data):
    """Numbers as float columns: NaN, inf and the extremes are missing or clipped, never a crash."""
    n = data.draw(st.integers(1, 12))
    floats = st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), min_size=n, max_size=n)
    texts = st.lists(TEXT, min_size=n, max_size=n)
    frame = pl.DataFrame(
        {
            "city": data.draw(texts),
            "shop": data.draw(texts),
            "token": data.draw(texts),
            "slot": data.draw(texts),
            "tags": data.draw(st.lists(LISTS, min_size=n, max_size=n)),
            "price": data.draw(floats),
            "size": data.draw(floats),
            "weight": data.draw(floats),
        },
        schema={
            "city": pl.String,
            "shop": pl.String,
            "token": pl.String,
            "slot": pl.String,
            "tags": pl.String,
            "price": pl.Float64,
            "size": pl.Float64,
            "weight": pl.Float64,
        },
    )
    check(every_encoding, frame)


@pytest.fixture(scope="module")
def census(tmp_path_factory):
    folder = tmp_path_factory.mktemp("census")
    spec = load_spec(SPECS / "census.yaml", ["train.epochs=1", "train.max_rows=3000"])
    _, path = run_training(spec, output=folder / "model")
    return Scorer.load(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_census_model(census, data):
    """The shipped census spec's model, fed rows of arbitrary text and numbers."""
    n = data.draw(st.integers(1, 8))
    spec = census.spec
    raw = {c.source if c.kind == "bucketized" else name for name, c in spec.columns.items()}
    frame = pl.DataFrame(
        {
            c: data.draw(
                st.lists(
                    NUMBER if spec.columns.get(c) is not None and spec.columns[c].kind == "numeric" else TEXT,
                    min_size=n,
                    max_size=n,
                )
            )
            for c in sorted(raw)
        },
        schema={c: pl.String for c in sorted(raw)},
    )
    check(census, frame)
