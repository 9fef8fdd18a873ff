"""The serving encoder must give exactly the arrays `transform` gives, for every kind of column and value."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from wdcli.data.io import read_one
from wdcli.errors import DataError
from wdcli.features import Encoder, fit_pipeline, transform
from wdcli.features.fitted import Buckets, _Categorical
from wdcli.features.pipeline import load_pipeline
from wdcli.spec import load_spec

from .conftest import SPECS

EVERY_ENCODING = """
data: {train: data.csv}
label: {column: y}
columns:
  city: {kind: categorical, missing: ["?", "n/a"], min_count: 2}
  shop: {kind: categorical, oov_buckets: 3}
  token: {kind: categorical, hash_buckets: 50}
  slot: {kind: categorical, num_ids: 5}
  tags: {kind: multivalent, separator: ";"}
  price: {kind: numeric, transform: quantile, quantiles: 8, missing: ["-"]}
  size: {kind: numeric, transform: standardize, clip: [0, 40], fill: median}
  weight: {kind: numeric, transform: log1p}
  price_b: {kind: bucketized, source: price, quantiles: 5}
  size_b: {kind: bucketized, source: size, boundaries: [5, 10, 20]}
crosses:
  - {columns: [city, shop], hash_buckets: 97}
  - {columns: [city, price_b], min_count: 1}
  - {columns: [token, size_b, slot], hash_buckets: 31}
  - {columns: [tags, city], hash_buckets: 41}
"""


def every_encoding_frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    columns = {
        "city": pick(["paris", " paris ", "rome", "oslo", "?", "n/a", "", None, "lima", "ürümqi", "🙂"]),
        "shop": pick([f"s{i}" for i in range(12)] + [None, "  "]),
        "token": pick([f"t{i}" for i in range(30)] + [None, "?"]),
        "slot": pick(["0", "1", "4", "5", "-1", "x", None, " 2 "]),
        "tags": pick(["a;b", "b", "", None, "c; a ;d", "zz;a"]),
        "price": pick(["1.5", " 2 ", "-", "", None, "1e3", "7", "NaN", "inf", "-3"]),
        "size": pick(["3", "8", "15", "60", "-2", None, "12.5"]),
        "weight": pick(["0", "1", "100", "-5", None]),
        "y": pick(["0", "1"]),
    }
    return pl.DataFrame(columns, schema={c: pl.String for c in columns})


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("enc")
    every_encoding_frame(600, 0).write_csv(folder / "data.csv")
    (folder / "s.yaml").write_text(EVERY_ENCODING)
    spec = load_spec(folder / "s.yaml")
    return fit_pipeline(spec, read_one(folder / "data.csv"))


def assert_same(fitted, frame):
    got, want = Encoder(fitted)(frame), transform(fitted, frame, with_label=False)
    np.testing.assert_array_equal(got.sparse, want.sparse)
    np.testing.assert_array_equal(got.dense, want.dense)
    assert got.multi.keys() == want.multi.keys()
    for k in got.multi:
        np.testing.assert_array_equal(got.multi[k].ids, want.multi[k].ids)
        np.testing.assert_array_equal(got.multi[k].offsets, want.multi[k].offsets)
        np.testing.assert_array_equal(got.multi[k].weights, want.multi[k].weights)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("n", [0, 1, 7, 500])
def test_every_encoding_equals_transform(fitted, n, seed):
    assert_same(fitted, every_encoding_frame(n, seed))


def test_typed_columns_equal_transform(fitted):
    """Numbers as numbers (with nulls, NaN and inf), text as Categorical, lists as lists, a column of nulls."""
    frame = every_encoding_frame(300, 5).with_columns(
        pl.col("size").cast(pl.Float64),
        pl.col("city").cast(pl.Categorical),
        pl.col("tags").str.split(";"),
        pl.Series("weight", [None] * 300, dtype=pl.Null),
        pl.Series("price", np.r_[np.nan, np.inf, -np.inf, np.arange(297.0)]),
    )
    assert_same(fitted, frame)


WHOLE = """
data: {train: data.parquet}
label: {column: y}
columns:
  store: {kind: categorical}
  hashed: {kind: categorical, hash_buckets: 50}
  seen: {kind: multivalent}
crosses:
  - {columns: [store, hashed], min_count: 1}
"""


def test_a_category_is_the_same_whole_number_whichever_type_carries_it(tmp_path):
    """A store id of 300 is one category as 300 (an integer column, a JSON int), 300.0 (pandas' integer column
    with a missing value, a JSON float) or "300" (CSV text). Read as text, 300.0 was "300.0": a model fitted on
    Parquet floats scored the JSON ints of its requests as unseen, and a request's 40 became "40.0" when another
    of its rows held 40.5. Fitted, transformed and served alike; an older pipeline keeps reading "300.0"."""
    ids = [300, 12, 300, 7, 12, 300, None, 45] * 20
    floats = pl.Series("store", ids, dtype=pl.Float64)
    lists = pl.Series("seen", [[float(i or 0), 12.0] for i in ids], dtype=pl.List(pl.Float64))
    frame = pl.DataFrame({"store": floats, "hashed": floats, "seen": lists, "y": [0, 1] * 80})
    frame.write_parquet(tmp_path / "data.parquet")
    (tmp_path / "s.yaml").write_text(WHOLE)
    fitted = fit_pipeline(load_spec(tmp_path / "s.yaml"), read_one(tmp_path / "data.parquet"))
    assert set(fitted.features["store"].values) == {"300", "12", "7", "45"}
    want = transform(fitted, frame, with_label=False)
    as_ints = frame.with_columns(pl.col("store", "hashed").cast(pl.Int64), pl.col("seen").cast(pl.List(pl.Int64)))
    as_text = as_ints.with_columns(pl.col("store", "hashed").cast(pl.String), pl.col("seen").cast(pl.List(pl.String)))
    for other in (frame, as_ints, as_text):
        for encode in (Encoder(fitted), lambda f: transform(fitted, f, with_label=False)):
            got = encode(other.drop("y"))
            np.testing.assert_array_equal(got.sparse, want.sparse)
            np.testing.assert_array_equal(got.multi["seen"].ids, want.multi["seen"].ids)
    halves = frame.with_columns(pl.col("store") + pl.Series([0.0, 0.5] * 80))  # 300.5 is a value of its own
    assert (transform(fitted, halves, with_label=False).sparse[1::2, 0] == 1).all()  # (the OOV id)
    # a pipeline fitted before (no whole_floats: its vocabularies hold "300.0") reads floats as it did
    fitted.save(tmp_path / "old")
    raw = json.loads((tmp_path / "old" / "pipeline.json").read_text())
    for f in raw["features"]:
        f.get("source", {}).pop("whole_floats", None)
        if f["kind"] == "vocabulary":
            f["values"] = [v + ".0" for v in f["values"]]
    (tmp_path / "old" / "pipeline.json").write_text(json.dumps(raw))
    old = load_pipeline(tmp_path / "old", fitted.spec)
    assert old.whole_floats == [] and old.features["store"].values[0].endswith(".0")
    for encode in (Encoder(old), lambda f: transform(old, f, with_label=False)):
        got = encode(frame.drop("y"))
        np.testing.assert_array_equal(got.sparse[:, 0], want.sparse[:, 0])


def test_a_float_column_written_as_text_is_read_as_its_whole_numbers(tmp_path):
    """pandas writes an integer column that has a missing value as "300.0" in a CSV, which wdcli reads as text: the
    fit sees such text and reads it as "300", so that the served JSON 300 (and a Parquet float of the same rows) is
    the category trained, not an unseen one. The vocabulary cross over the float column holds its combinations (its
    second pass read the floats as "300.0" while transform read "300": every row was out of its vocabulary), and
    a float NaN is a missing value, as the JSON null a client can only send."""
    ids = [300.0, 12.0, 300.0, 7.0, 12.0, 300.0, None, 45.0] * 20
    floats = pl.DataFrame({"store": ids, "hashed": ids, "seen": [[12.0]] * 160, "y": [0, 1] * 80})
    text = floats.with_columns(pl.col("store", "hashed").cast(pl.String).fill_null(""))
    assert text["store"][0] == "300.0"
    (tmp_path / "s.yaml").write_text(WHOLE)
    floats.write_parquet(tmp_path / "data.parquet")
    for frame in (floats, text):
        fitted = fit_pipeline(load_spec(tmp_path / "s.yaml"), frame)
        assert set(fitted.features["store"].values) == {"300", "12", "7", "45"}
        assert fitted.features["store"].source.whole_text == (frame is text)
        cross = fitted.features["store_x_hashed"]
        assert sorted(cross.names) == [
            "store=12 AND hashed=12",
            "store=300 AND hashed=300",
            "store=45 AND hashed=45",
            "store=7 AND hashed=7",
            "store=<missing> AND hashed=<missing>",
        ]
        want = transform(fitted, frame, with_label=False)
        assert (want.sparse[:, [0, 2]] != 1).all()  # (no row out of the vocabularies: 1 is the OOV id)
        served = Encoder(fitted)(floats.drop("y").with_columns(pl.col("store", "hashed").cast(pl.Int64)))
        np.testing.assert_array_equal(served.sparse, want.sparse)
    nan = floats.with_columns(pl.col("store").fill_null(float("nan")))
    np.testing.assert_array_equal(transform(fitted, nan, with_label=False).sparse, want.sparse)


def test_a_list_of_ids_written_as_floats_shares_its_table_with_the_ids(tmp_path):
    """The paper's installed-apps pattern from a pandas CSV: the item's id written as an integer ("300"), each
    user's history of items as '|'-joined floats ("300.0|12.0", built from a float column). Their shared table
    fitted "300" and "300.0" as two values, and the history's ids never met the items' (silently). The history's
    text is read as "300|12" (as a JSON list of 300.0 or "300.0" values is), in the fit, transform and the
    encoder."""
    items = [300, 12, 7, 45] * 40
    frame = pl.DataFrame(
        {
            "item": [str(i) for i in items],
            "history": ["300.0|12.0", "7.0", "", "45.0|300.0"] * 40,
            "y": [0, 1] * 80,
        }
    )
    frame.write_csv(tmp_path / "d.csv")
    (tmp_path / "s.yaml").write_text(
        "data: {train: d.csv}\nlabel: {column: y}\n"
        "columns: {item: categorical, history: {kind: multivalent, separator: '|'}}\n"
        "deep: {shared: {items: [item, history]}}\n"
    )
    fitted = fit_pipeline(load_spec(tmp_path / "s.yaml"), read_one(tmp_path / "d.csv"))
    assert (
        set(fitted.features["history"].values) == {"300", "12", "7", "45"}
        and fitted.features["history"].source.whole_text
    )
    want = transform(fitted, read_one(tmp_path / "d.csv"), with_label=False)
    item_ids = dict(zip(items[:4], want.sparse[:4, 0].tolist()))
    np.testing.assert_array_equal(want.multi["history"].ids[:3], [item_ids[300], item_ids[12], item_ids[7]])
    as_lists = frame.drop("y").with_columns(pl.col("item").cast(pl.Int64), pl.col("history").str.split("|"))
    floats = as_lists.with_columns(pl.col("history").cast(pl.List(pl.Float64), strict=False))
    for other in (as_lists, floats):
        for encode in (Encoder(fitted), lambda f: transform(fitted, f, with_label=False)):
            got = encode(other)
            np.testing.assert_array_equal(got.multi["history"].ids, want.multi["history"].ids)


def test_text_in_a_numeric_column_is_the_same_error(fitted):
    frame = every_encoding_frame(20, 3).with_columns(pl.lit("heavy").alias("weight"))
    with pytest.raises(DataError, match="'weight' is declared numeric but holds text such as 'heavy'"):
        Encoder(fitted)(frame)


def test_a_kind_without_a_fast_path_is_served_by_transform(fitted, monkeypatch):
    """A new kind needs only its branch in transform.feature_ids: the encoder serves it through it."""
    for kind, method in ((Buckets, "serve"), (_Categorical, "serve"), (_Categorical, "serve_bag")):
        monkeypatch.delattr(kind, method)
    assert_same(fitted, every_encoding_frame(50, 3))


@pytest.mark.parametrize("name", ["census", "apps", "tiny"])
def test_sample_specs_equal_transform(name):
    spec = load_spec(SPECS / f"{name}.yaml")
    frame = read_one(spec.data.train[0]).head(3000)
    fitted = fit_pipeline(spec, frame)
    assert_same(fitted, frame)
    # the same rows with their text shuffled between rows and some values unseen
    rng = np.random.default_rng(0)
    shuffled = frame.with_columns([pl.col(c).shuffle(seed=int(rng.integers(1 << 30))) for c in frame.columns])
    text = [c for c, col in spec.columns.items() if col.kind == "categorical"][:3]
    shuffled = shuffled.with_columns([pl.col(c).cast(pl.String) + "_new" for c in text])
    assert_same(fitted, shuffled)


EVERY_LIST = """
data: {train: data.csv}
label: {column: y}
columns:
  tags: {kind: multivalent, separator: ";", oov_buckets: 2, max_values: 2}
  htags: {kind: multivalent, separator: ";", hash_buckets: 20}
  nums: {kind: multivalent, separator: ";", num_ids: 4}
  wtags: {kind: multivalent, separator: ";", weights: w, missing: ["?"]}
  city: {kind: categorical, oov_buckets: 2}
  slot: {kind: categorical, num_ids: 5}
crosses:
  - {columns: [tags, htags], hash_buckets: 37}
  - {columns: [nums, city], min_count: 1}
  - {columns: [htags, slot], min_count: 1}
  - {columns: [city, slot], min_count: 1}
  - {columns: [wtags, city], hash_buckets: 11}
"""


def every_list_frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    wtags = pick(["a;b", "b", "", None, "c; a ;?", "zz"])
    weights = [None if t is None else ";".join(str(rng.integers(1, 4)) for _ in t.split(";")) for t in wtags]
    columns = {
        "tags": pick(["a;b;c", "b", "", None, "c; a ;d", "zz;a", "q"]),
        "htags": pick(["x;y", "y", None, " z ;x", "new"]),
        "nums": pick(["0;1", "3", "7;-1", None, "x;2", ""]),
        "wtags": wtags,
        "w": weights,
        "city": pick(["paris", "rome", "oslo", None, "lima", " "]),
        "slot": pick(["0", "1", "4", "5", "x", None]),
        "y": pick(["0", "1"]),
    }
    return pl.DataFrame(columns, schema={c: pl.String for c in columns})


@pytest.mark.parametrize("n", [0, 1, 9, 400])
def test_every_list_and_cross_path_equals_transform(tmp_path, n):
    """Lists looked up (out-of-vocabulary buckets, hashed, max_values), lists left to transform's functions
    (identity ids, weights), crosses of two lists, of a list, of identity ids, into a fitted vocabulary."""
    every_list_frame(500, 0).write_csv(tmp_path / "data.csv")
    (tmp_path / "s.yaml").write_text(EVERY_LIST)
    fitted = fit_pipeline(load_spec(tmp_path / "s.yaml"), read_one(tmp_path / "data.csv"))
    assert_same(fitted, every_list_frame(n, 1))
    assert_same(fitted, every_list_frame(n, 2).with_columns(pl.col("tags", "htags").str.split(";")))
