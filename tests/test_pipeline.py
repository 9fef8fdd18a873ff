"""The fitted pipeline: fit on training rows only, transform identically at training and scoring time."""

import dataclasses

import numpy as np
import polars as pl
import pytest

from wdcli.data.split import Rule, load_splits
from wdcli.errors import DataError
from wdcli.features import fit_pipeline, load_pipeline, transform
from wdcli.spec import load_spec

from .conftest import SPECS, apps_frame


@pytest.fixture(scope="module")
def tiny():
    spec = load_spec(SPECS / "tiny.yaml")
    frames = load_splits(spec.data)
    return spec, frames, fit_pipeline(spec, frames["train"])


def test_split_is_seeded_stable_and_disjoint():
    """A row's part comes from a stable hash of its file name and position: the same for the same seed, however
    the file is read (whole or in batches), fractions kept in expectation."""
    frame = pl.DataFrame({"x": range(20_000), "user": [f"u{i % 500}" for i in range(20_000)]})
    rule = Rule(validation=0.1, test=0.2, seed=7)
    whole = rule.parts(frame, "data/a.csv", 0)
    batched = np.concatenate([rule.parts(frame[a : a + 3000], "elsewhere/a.csv", a) for a in range(0, 20_000, 3000)])
    assert np.array_equal(whole, batched)
    assert np.array_equal(whole, Rule(validation=0.1, test=0.2, seed=7).parts(frame, "a.csv", 0))
    assert not np.array_equal(whole, Rule(validation=0.1, test=0.2, seed=8).parts(frame, "a.csv", 0))
    shares = np.bincount(whole, minlength=3) / len(whole)
    assert np.allclose(shares, [0.7, 0.1, 0.2], atol=0.01)
    by_user = Rule(validation=0.1, test=0.2, seed=7, key="user").parts(frame, "a.csv", 0)
    assert (
        pl.DataFrame({"user": frame["user"], "part": by_user})
        .group_by("user")
        .agg(pl.col("part").n_unique())["part"]
        .max()
        == 1
    )  # a user never straddles two parts
    assert np.allclose(np.bincount(by_user, minlength=3) / len(by_user), [0.7, 0.1, 0.2], atol=0.05)


def test_min_count_auto_grows_with_the_training_rows_at_its_documented_steps():
    from wdcli.spec.vocabulary import auto_min_count

    rows = [1, 999, 1_000, 9_999, 10_000, 499_999, 500_000, 10**8]
    assert [auto_min_count(n) for n in rows] == [1, 1, 2, 2, 5, 5, 10, 10]
    assert [auto_min_count(n, [1] * n) for n in rows[:4]] == [1, 1, 2, 2]  # (up to 2 it is never lowered)


@pytest.mark.parametrize(
    "counts, expected",
    [
        ([5] * 10 + [1] * 50, 5),  # 50 of the 100 occurrences are of values seen 5 times: half is kept
        ([5] * 10 + [4] * 11 + [1] * 91, 4),  # 5 keeps 50 of 185, under half: 4 keeps 94
        ([5] * 10 + [1] * 51, 5),  # 5, 4, 3 and 2 keep the same 50 of 101, under half: as it was
        ([4] * 10 + [3] * 10 + [1] * 69, 3),  # 4 keeps 40 of 139, 3 keeps 70: the first to keep half
        ([2] * 60 + [1] * 100, 2),  # 2 keeps 120 of 220
        ([2] * 10 + [1] * 100, 5),  # 2 keeps few: as it was (values mostly seen once are not memorized)
        ([1] * 1000, 5),  # values seen once are never kept by the lowering
        ([50, 1], 5),
        ([], 5),
    ],
)
def test_min_count_auto_is_lowered_where_most_of_a_columns_values_are_rarer(counts, expected):
    from wdcli.spec.vocabulary import auto_min_count

    assert auto_min_count(20_000, counts) == expected


def test_an_id_seen_a_few_times_each_keeps_a_vocabulary(tmp_path):
    """Pupils seen once or twice in about 12,000 training rows: auto's 5 would give every pupil the
    out-of-vocabulary id; the pupils seen twice hold two thirds of the rows, so it is lowered to 2 and they keep
    ids of their own (the split keyed by pupil keeps each pupil's rows together, so the counts are as made)."""
    rng = np.random.default_rng(0)
    pupils = np.repeat(np.arange(10_000), rng.integers(1, 3, size=10_000)).astype(str)
    frame = pl.DataFrame({"pupil": pupils, "y": rng.integers(0, 2, len(pupils))})
    frame.write_parquet(tmp_path / "d.parquet")
    (tmp_path / "s.yaml").write_text(
        "data: {train: d.parquet, split: {validation: 0.1, test: 0.1, seed: 1, key: pupil}}\n"
        "label: {column: y}\ncolumns: {pupil: categorical}\n"
    )
    spec = load_spec(tmp_path / "s.yaml")
    train = load_splits(spec.data)["train"]
    twice = train["pupil"].value_counts(name="n").filter(pl.col("n") == 2)["pupil"]
    assert len(train) >= 10_000 and 0 < len(twice) < train["pupil"].n_unique()  # (auto's base is 5 here)
    assert sorted(fit_pipeline(spec, train).features["pupil"].values) == sorted(twice.to_list())


def test_vocab_fitted_on_train_only_and_ordered(tiny):
    spec, frames, fitted = tiny
    vocab = fitted.features["education"].values
    counts = frames["train"]["education"].value_counts()
    kept = counts.filter(pl.col("count") >= 2).sort(["count", "education"], descending=[True, False])
    assert vocab == kept["education"].to_list()
    assert "?" not in fitted.features["occupation"].values  # a declared missing marker is not a value


def test_transform_is_row_independent(tiny):
    spec, frames, fitted = tiny
    full = transform(fitted, frames["test"])
    one = transform(fitted, frames["test"][5:6])
    assert np.array_equal(full.sparse[5], one.sparse[0]) and np.allclose(full.dense[5], one.dense[0])


def test_unseen_missing_and_null_values_never_crash(tiny):
    spec, frames, fitted = tiny
    row = frames["test"][:3].with_columns(
        education=pl.Series(["Never-seen", None, ""]),
        occupation=pl.Series(["?", "Sales", None]),
        age=pl.Series(["", None, "1e308"]),
        **{"native-country": pl.Series(["?", "Atlantis", None])},
    )
    enc = transform(fitted, row)
    cols = fitted.univalent
    edu, occ, nat = (enc.sparse[:, cols.index(c)] for c in ("education", "occupation", "native-country"))
    assert edu.tolist() == [1, 0, 0]  # unseen -> OOV bucket 1; null and '' -> missing 0
    assert occ[0] == 0 and occ[2] == 0 and occ[1] >= 2
    assert nat[0] == 0 and nat[2] == 0 and 1 <= nat[1] <= 50
    assert np.isfinite(enc.dense).all()
    for name in cols:
        assert (enc.sparse[:, cols.index(name)] < fitted.cardinality(name)).all()


def test_quantile_normalization_matches_paper(tiny):
    """The paper's CDF normalization, read between its quantiles: the share of training values below x, in [0, 1],
    a line through (min, 0), (b_i, i/(k+1)) and (max, 1) (the paper's step rounded every value of a quantile down to
    it: census's capital gains, 0 in over 90% of the rows, kept a handful of values). A pipeline fitted before
    (`smooth` false) reads the paper's step as it did: the i-th of n quantiles -> (i-1)/(n-1)."""
    spec, frames, fitted = tiny
    age = fitted.features["age"]
    b, raw = age.boundaries, frames["train"]["age"].cast(pl.Float64).to_numpy()
    assert age.smooth and (age.center, age.spread) == (0, 1) and age.min < b[0] and age.max > b[-1]
    k = len(b)
    x = transform(fitted, frames["train"]).dense[:, fitted.dense.index("age")]
    expected = np.interp(raw, [age.min, *b, age.max], np.arange(k + 2) / (k + 1))
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-7)
    assert x.min() == 0.0 and x.max() == 1.0 and len(set(x.tolist())) == len(set(raw.tolist()))  # (every age its own)
    before = age.model_copy(update={"smooth": False})
    step = dataclasses.replace(fitted, features={**fitted.features, "age": before})
    x = transform(step, frames["train"]).dense[:, fitted.dense.index("age")]
    np.testing.assert_array_equal(x, (np.searchsorted(b, raw, side="right") / k).astype(np.float32))
    assert sorted(set(np.round(x * k).astype(int).tolist())) == list(range(k + 1))


def test_log1p_reads_centered_and_scaled_and_minmax_as_it_is(tiny):
    """log1p values reach the model as (transformed - mean) / sd of the training rows' transformed values (the
    sample holds every row here); minmax in [0, 1], as the spec says (standardize, quantile and none as they are)."""
    spec, frames, fitted = tiny
    enc = transform(fitted, frames["train"])
    for name in ("capital-gain", "hours-per-week"):
        f = fitted.features[name]
        raw = frames["train"][name].cast(pl.Float64).to_numpy()
        raw = np.clip(np.where(np.isnan(raw), f.fill, raw), *(f.clip or (-np.inf, np.inf)))
        x = enc.dense[:, fitted.dense.index(name)]
        if f.transform == "log1p":
            v = np.sign(raw) * np.log1p(np.abs(raw))
            assert f.center == pytest.approx(v.mean(), abs=1e-6) and f.spread == pytest.approx(v.std(), rel=1e-6)
            np.testing.assert_allclose(x, (v - v.mean()) / v.std(), rtol=0, atol=1e-5)
        else:
            assert f.transform == "minmax" and (f.center, f.spread) == (0, 1)
            np.testing.assert_allclose(x, (raw - f.min) / (f.max - f.min), rtol=0, atol=1e-6)


def test_save_and_load_roundtrip(tiny, tmp_path):
    spec, frames, fitted = tiny
    fitted.save(tmp_path)
    again = load_pipeline(tmp_path, spec)
    a, b = transform(fitted, frames["test"]), transform(again, frames["test"])
    assert np.array_equal(a.sparse, b.sparse) and np.array_equal(a.dense, b.dense)
    assert not list(tmp_path.glob("*.pkl"))


def test_large_vocab_goes_to_parquet(tmp_path):
    from wdcli.spec import Spec

    n = 12_000
    df = pl.DataFrame({"item": [f"i{i}" for i in range(n)], "y": [i % 2 for i in range(n)]})
    spec = Spec.model_validate(
        {"data": {"train": "x"}, "label": {"column": "y"}, "columns": {"item": {"kind": "categorical", "min_count": 1}}}
    )
    fitted = fit_pipeline(spec, df)
    files = fitted.save(tmp_path)
    assert any(f.endswith(".parquet") for f in files)
    assert load_pipeline(tmp_path, spec).features["item"].values == fitted.features["item"].values


def test_multivalent_cross_and_shared_vocab(apps_spec):
    spec = load_spec(apps_spec)
    frame = apps_frame(60)
    fitted = fit_pipeline(spec, frame)
    # a shared table means one vocabulary for both columns
    assert fitted.features["installed"].values == fitted.features["impression"].values
    enc = transform(fitted, frame)
    bag = enc.multi["installed"]
    counts = frame["installed"].str.split("|").list.eval(pl.element().filter(pl.element() != "")).list.len().to_numpy()
    assert (np.add.reduceat(bag.weights, bag.offsets[:-1])[counts > 0] == counts[counts > 0]).all()
    assert (np.diff(bag.offsets) == counts).all()  # ragged: each row holds its own values, no padding
    cross = enc.multi["installed_x_impression"]
    assert (np.diff(cross.offsets) == counts).all() and (cross.ids > 0).all()  # one id per installed app x impression


def test_data_errors_name_the_column(tiny):
    spec, frames, fitted = tiny
    with pytest.raises(DataError, match="missing column 'education'"):
        transform(fitted, frames["test"].drop("education"))
    with pytest.raises(DataError, match="column 'age' is declared numeric but holds text such as 'old'"):
        transform(fitted, frames["test"].with_columns(age=pl.lit("old")))
    with pytest.raises(DataError, match="all missing"):
        fit_pipeline(spec, frames["train"].with_columns(education=pl.lit(None, pl.String)))
    with pytest.raises(DataError, match="label column 'income' has 3 distinct values"):
        train = frames["train"]
        fit_pipeline(spec, train.with_columns(income=pl.Series(["a", "b", "c"] * len(train))[: len(train)]))


def test_a_pipeline_written_by_wdcli_0_1_still_loads(tiny, tmp_path):
    """Format 1 (untyped states) is read as the typed features, and transforms alike. (The file was fitted by
    wdcli 0.1 on every row of tiny.csv.)"""
    import shutil

    from wdcli.data.io import read_table

    from .conftest import ROOT

    spec, frames, _ = tiny
    fitted = fit_pipeline(spec, read_table(spec.data.train))
    shutil.copy(ROOT / "tests" / "data" / "pipeline_format1_tiny.json", tmp_path / "pipeline.json")
    old = load_pipeline(tmp_path, spec)
    assert old.features.keys() == fitted.features.keys()
    for name, f in old.features.items():  # (0.1 named a hashed bucket after any of its most frequent combinations;
        # a number's spike, which transforms nothing, is newer: read as none, as the model those files came with;
        # whole floats as integers are newer too: read as they were, "300.0"; and numbers read centered and scaled,
        # a quantile between its boundaries: read as they were, the paper's step in [0, 1])
        skip = {"examples": True, "spike": True, "source": {"whole_floats": True}}
        skip |= dict.fromkeys(["smooth", "center", "spread"], True)
        assert getattr(getattr(f, "source", None), "whole_floats", False) is False
        assert (getattr(f, "smooth", False), getattr(f, "center", 0), getattr(f, "spread", 1)) == (False, 0, 1)
        assert f.model_dump(exclude=skip) == fitted.features[name].model_dump(exclude=skip), name
    as_before = {"smooth": False, "center": 0.0, "spread": 1.0}
    numbers = {n: f.model_copy(update=as_before) for n, f in fitted.features.items() if f.kind == "numeric"}
    fitted = dataclasses.replace(fitted, features={**fitted.features, **numbers})
    a, b = transform(fitted, frames["test"]), transform(old, frames["test"])
    assert np.array_equal(a.sparse, b.sparse) and np.array_equal(a.dense, b.dense)


def test_a_damaged_pipeline_file_names_the_file_and_key(tiny, tmp_path):
    import json

    from wdcli.errors import ArtifactError

    spec, frames, fitted = tiny
    fitted.save(tmp_path)
    raw = json.loads((tmp_path / "pipeline.json").read_text())
    raw["features"][1]["oov"] = "many"
    (tmp_path / "pipeline.json").write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match=r"json: column 'education' \(features\[1\]\.vocabulary\.oov\): .*integer"):
        load_pipeline(tmp_path, spec)
    raw["format"] = 99
    (tmp_path / "pipeline.json").write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match="pipeline format 99 is not one this wdcli reads"):
        load_pipeline(tmp_path, spec)


def test_numbers_fill_clip_scale_and_cut_as_their_settings_say(tmp_path):
    """Each numeric setting against a hand computation or numpy: the median fill (the mean of the middle two),
    the moments of standardize over every row (the missing ones filled), a clip before the transform, quantile
    boundaries at ranks ceil(i / q * n) (numpy's inverted CDF), and a vocabulary cut at max_size."""
    (tmp_path / "s.yaml").write_text(
        "data: {train: t.parquet}\nlabel: {column: y}\ncolumns:\n"
        "  a: {kind: numeric, transform: none, fill: median}\n"
        "  b: {kind: numeric, transform: standardize, fill: zero}\n"
        "  c: {kind: numeric, transform: none, clip: [0, 10], fill: zero}\n"
        "  q: {kind: numeric, transform: quantile, quantiles: 4}\n"
        "  e: {kind: categorical, min_count: 1, max_size: 2}\n"
    )
    frame = pl.DataFrame(
        {
            "a": [1.0, 2.0, 10.0, 20.0, None, None],
            "b": [1.0, 3.0, 5.0, 7.0, None, None],
            "c": [-5.0, 0.0, 5.0, 50.0, 100.0, None],
            "q": [3.0, 1.0, 4.0, 1.0, 5.0, 9.0],
            "e": ["x", "x", "x", "y", "y", "z"],
            "y": [0, 1, 0, 1, 0, 1],
        }
    )
    frame.write_parquet(tmp_path / "t.parquet")
    fitted = fit_pipeline(load_spec(tmp_path / "s.yaml"), frame)
    dense = transform(fitted, frame).dense
    column = {name: dense[:, fitted.dense.index(name)] for name in ("a", "b", "c")}
    assert fitted.numeric("a").fill == 6.0 and column["a"].tolist() == [1, 2, 10, 20, 6, 6]
    b = np.array([1.0, 3.0, 5.0, 7.0, 0.0, 0.0])
    assert np.allclose(column["b"], (b - b.mean()) / b.std(ddof=1), atol=1e-6)
    assert column["c"].tolist() == [0, 0, 5, 10, 10, 0]
    q = frame["q"].to_numpy()
    assert fitted.numeric("q").boundaries == np.quantile(q, [0.25, 0.5, 0.75], method="inverted_cdf").tolist()
    assert fitted.features["e"].values == ["x", "y"]


def _fitted_on(tmp_path, columns: str, frame: pl.DataFrame, extra: str = ""):
    spec = f"data: {{train: t.parquet}}\nlabel: {{column: y}}\nmodel: deep\ncolumns:\n{columns}{extra}"
    (tmp_path / "s.yaml").write_text(spec)
    frame.write_parquet(tmp_path / "t.parquet")
    return fit_pipeline(load_spec(tmp_path / "s.yaml"), frame)


@pytest.mark.parametrize(
    "transform,message",
    [("standardize", "std is inf"), ("minmax", r"min -1e\+308 and max 1e\+308 make no range")],
)
def test_values_too_far_apart_to_scale_are_a_data_error_when_fitting(tmp_path, transform, message):
    """±1e308 in a standardized or min-max column made a spread that overflows float64: fitting wrote NaN or
    infinite statistics, training gave NaN weights and exit 0. Now: an error naming the column and the fix."""
    frame = pl.DataFrame({"x": [1e308, -1e308, 1.0, 2.0], "y": [0, 1, 0, 1]})
    with pytest.raises(DataError, match=rf"column 'x': the fitted {message}.*clip them \(columns.x.clip"):
        _fitted_on(tmp_path, f"  x: {{kind: numeric, transform: {transform}}}\n", frame)


def test_a_mean_past_the_sum_float64_holds_is_fitted_finite(tmp_path):
    """The mean of values near 1e308 is a finite number, though their sum is not (the fill was inf)."""
    frame = pl.DataFrame({"x": [1e308, 1e308, 1e308, None], "z": [1e308, -1e308, 1e308, 1e308], "y": [0, 1, 0, 1]})
    columns = "  x: {kind: numeric, transform: log1p, fill: mean}\n  z: {kind: numeric, transform: none}\n"
    fitted = _fitted_on(tmp_path, columns, frame)
    assert fitted.numeric("x").fill == pytest.approx(1e308) and np.isfinite(fitted.numeric("z").mean)
    assert np.isfinite(transform(fitted, frame).dense).all()


def test_clip_auto_bounds_only_a_plain_standardized_number_to_five_deviations(tmp_path):
    """`clip: auto` (the default): a number the MLP reads as one standardized input is clipped at its mean +- 5
    standard deviations (fitted), so that one far value enters the first layer as 5; a number auto embeds
    periodic (a spike) at the training rows' range, so that a value past it reads as the largest seen; one
    embedded piecewise (its end bins saturate), one set to none (or null), one the spec clips, a quantile one:
    as they were."""
    rng = np.random.default_rng(0)
    normal = rng.normal(size=10_000)
    normal[0] = 8.0  # (far past 5 deviations, though not so far as to hold the spread: the next test)
    spike = np.where(rng.random(10_000) < 0.9, 0.0, rng.integers(1, 5, 10_000).astype(float))
    spike[0] = 40.0
    frame = pl.DataFrame(
        {"p": normal, "n": normal, "c": normal, "q": normal, "s": spike, "w": spike, "y": rng.integers(0, 2, 10_000)}
    )
    columns = (
        "  p: numeric\n  n: {kind: numeric, clip: none}\n  c: {kind: numeric, clip: [-2, 2]}\n"
        "  q: {kind: numeric, transform: quantile}\n  s: numeric\n  w: numeric\n"
    )
    fitted = _fitted_on(tmp_path, columns, frame, "deep: {numeric_embeddings: {w: piecewise}}\n")
    p = fitted.numeric("p")
    assert p.clip == pytest.approx((p.mean - 5 * p.std, p.mean + 5 * p.std))
    assert fitted.numeric("c").clip == (-2, 2) and fitted.numeric("s").spike
    assert p.describe().startswith("standardize, clipped to [") and fitted.numeric("n").describe() == "standardize"
    assert fitted.numeric("n").clip is fitted.numeric("q").clip is fitted.numeric("w").clip is None
    assert fitted.numeric("s").clip == (0.0, 40.0) and fitted.numeric("s").describe().endswith("[0, 40]")
    past = transform(fitted, frame.head(1).with_columns(s=pl.lit(5_000.0), w=pl.lit(-7.0))).dense[0]
    first = transform(fitted, frame.head(1)).dense[0]
    assert past[fitted.dense.index("s")] == first[fitted.dense.index("s")]  # (5,000 reads as 40)
    at = {name: first[fitted.dense.index(name)] for name in "pncs"}
    c = fitted.numeric("c")  # (its statistics are of the values it clipped)
    assert at["p"] == pytest.approx(5.0) and at["c"] == pytest.approx((2 - c.mean) / c.std, rel=1e-5)
    s = fitted.numeric("s")
    assert at["n"] == pytest.approx((8 - p.mean) / p.std, rel=1e-5) and at["n"] > 7.5
    assert at["s"] == pytest.approx((40 - s.mean) / s.std, rel=1e-5) and at["s"] > 40
    assert load_spec(tmp_path / "s.yaml").columns["p"].clip == "auto"
    (tmp_path / "s.yaml").write_text((tmp_path / "s.yaml").read_text().replace("clip: none", "clip: null"))
    assert load_spec(tmp_path / "s.yaml").columns["n"].clip == "none"


def test_clip_auto_of_a_number_whose_spread_a_few_far_values_hold_is_that_of_the_others(tmp_path):
    """Hours of work (40 +- 12) with a sentinel of 1e9 in 3 rows of 30,000 (and some missing): `clip: auto` clips
    at the mean +- 5 deviations of the other values, and standardizes by them (the sentinel made the deviation 1e7:
    every hour read ~0, census lost 0.009 test AUC); the fill is their mean. Read periodic, the range clip ends
    there too. A heavy tail inside the 0.1% quantiles (0.5% of the rows at 99,999, as census's capital gains) and
    a number the spec does not let clip: auto bound keep their own moments."""
    rng = np.random.default_rng(0)
    hours = rng.normal(40, 12, 30_000)
    hours[[5, 50, 500]] = 1e9
    gains = np.where(rng.random(30_000) < 0.005, 99_999.0, rng.exponential(500, 30_000))
    frame = pl.DataFrame(
        {"h": hours, "p": hours, "n": hours, "g": gains, "y": rng.integers(0, 2, 30_000)}
    ).with_columns(h=pl.when(pl.Series(rng.random(30_000) < 0.1)).then(None).otherwise(pl.col("h")))
    columns = "  h: numeric\n  p: numeric\n  n: {kind: numeric, clip: none}\n  g: numeric\n"
    fitted = _fitted_on(tmp_path, columns, frame, "deep: {numeric_embeddings: {p: periodic, g: none}}\n")
    h, p, n, g = (fitted.numeric(c) for c in "hpng")
    bulk = hours[hours < 1e6]
    # (a tenth of its rows filled at the mean)
    assert h.std == pytest.approx(12 * 0.9**0.5, rel=0.05) and h.mean == pytest.approx(40, abs=0.5) and h.fill == h.mean
    assert h.clip == pytest.approx((h.mean - 5 * h.std, h.mean + 5 * h.std))
    assert p.std == pytest.approx(bulk.std(), rel=0.01) and p.clip[1] == pytest.approx(
        bulk.mean() + 5 * bulk.std(), rel=0.01
    )
    assert p.clip[0] == bulk.min()
    assert n.std > 1e6 and n.clip is None
    assert g.clip == pytest.approx((g.mean - 5 * g.std, g.mean + 5 * g.std)) and g.std == pytest.approx(
        gains.std(), rel=1e-3
    )
    dense = transform(fitted, frame.head(6)).dense
    assert dense[5, fitted.dense.index("h")] == pytest.approx(5.0)
    assert dense[0, fitted.dense.index("h")] == pytest.approx((hours[0] - h.mean) / h.std, rel=1e-5)


def test_a_hashed_cross_names_each_bucket_by_its_most_frequent_combination(tmp_path):
    """`wdcli inspect` names a hashed cross's bucket by the combination seen in it most often (one bucket here:
    x AND p, three rows, over y AND q and z AND r)."""
    frame = pl.DataFrame({"a": list("xxxyzz"), "b": list("pppqrr"), "y": [0, 1, 0, 1, 0, 1]})
    crosses = "crosses: [{columns: [a, b], hash_buckets: 1}]\n"
    fitted = _fitted_on(tmp_path, "  a: categorical\n  b: categorical\n", frame, crosses)
    assert fitted.features["a_x_b"].examples == {1: "a=x AND b=p"}


def test_a_constant_number_is_not_clipped(tmp_path):
    """clip: auto of a number of one value: no bounds (a spread of 0 bounds nothing), not [5, 5]."""
    frame = pl.DataFrame({"k": [5.0] * 6, "x": [1.0, 2, 3, 4, 5, 6], "y": [0, 1, 0, 1, 0, 1]})
    fitted = _fitted_on(tmp_path, "  k: numeric\n  x: numeric\n", frame)
    assert fitted.numeric("k").clip is None and fitted.numeric("x").clip is not None


def test_a_missing_column_is_never_said_to_be_one_the_spec_reads_already(tmp_path):
    """'missing column grade (did you mean read?)' pointed at a column the model needs for itself: the hint
    names only columns the spec does not read."""
    from wdcli.features.inputs import check_columns

    (tmp_path / "s.yaml").write_text(
        "data: {train: t.parquet}\nlabel: {column: y}\ncolumns: {grade: categorical, read: numeric}\n"
    )
    pl.DataFrame({"grade": ["a"], "read": [1.0], "y": [1]}).write_parquet(tmp_path / "t.parquet")
    spec = load_spec(tmp_path / "s.yaml")
    with pytest.raises(DataError) as e:
        check_columns(spec, pl.DataFrame({"read": [1.0], "y": [1]}), "r.csv", need_label=True)
    assert "missing column 'grade'" in str(e.value) and "did you mean" not in str(e.value)
    with pytest.raises(DataError, match="did you mean 'grades'"):
        check_columns(spec, pl.DataFrame({"read": [1.0], "grades": ["a"], "y": [1]}), "r.csv", need_label=True)


def test_a_periodic_numbers_range_is_of_the_values_present_not_its_fill(tmp_path):
    """Values 100-200 with missing ones filled with 0: the range clip is [100, 200] (the fill is applied after the
    clip, so a served 50 reads as 100, the nearest value seen)."""
    x = [float(v) for v in range(100, 201)] + [None] * 20
    frame = pl.DataFrame({"f": x, "y": [i % 2 for i in range(len(x))]})
    columns = "  f: {kind: numeric, transform: standardize, fill: zero}\n"
    fitted = _fitted_on(tmp_path, columns, frame, "deep: {numeric_embedding: periodic}\n")
    assert fitted.numeric("f").clip == (100.0, 200.0) and fitted.numeric("f").min == 0.0


def test_validate_says_what_clip_auto_made_of_each_number():
    """`clip: auto`'s bounds read like a mistake beside the data (an age of 17-90 'clipped to [-29.73, 106.8]'), so
    the plan says which rule made them: a plain number's mean +- 5 deviations, a periodic one's training range
    (a new user's walk)."""
    from typer.testing import CliRunner

    from wdcli.cli import app

    r = CliRunner().invoke(app, ["validate", str(SPECS / "census.yaml")])
    assert r.exit_code == 0, r.output
    rows = {line.split("│")[1].strip(): line for line in r.output.splitlines() if line.count("│") > 3}
    assert "clipped to [" in rows["age"] and "(auto: mean ± 5 sd)" in rows["age"]
    assert "(auto: the training range)" in rows["capital-gain"] and "periodic" in rows["capital-gain"]


def test_each_id_is_missing_out_of_vocabulary_or_a_value_never_two_of_them():
    """A sparse feature's ids: 0 = missing, then the out-of-vocabulary buckets, then the values. An unseen value
    never takes id 0 (missing) or a known value's id, whichever of the buckets it hashes to; an identity id at or
    past num_ids (or text) takes the one out-of-range id, never a row past the feature's cardinality."""
    from wdcli.features.fitted import Identity, Text, Vocabulary

    vocab = Vocabulary(name="c", source=Text(column="c"), values=["a", "b"], oov=3)
    assert set(vocab.ids(pl.Series([f"unseen{i}" for i in range(200)])).tolist()) == {1, 2, 3}
    assert vocab.ids(pl.Series(["a", "b", None])).tolist() == [4, 5, 0]
    ids = Identity(name="i", source=Text(column="i"), num_ids=3)
    assert ids.ids(pl.Series(["0", "2", "3", "4", "-1", "x", None])).tolist() == [2, 4, 1, 1, 1, 1, 0]
    assert ids.cardinality == 5


def test_log1p_keeps_the_sign_of_a_negative_number():
    """log1p of a signed quantity (a capital loss, a balance) is sign(x) log(1 + |x|): -1000 reads as the mirror of
    1000, not as 1000."""
    from wdcli.features.fitted import Numeric
    from wdcli.features.transform import DenseTransform

    f = Numeric(name="x", transform="log1p", fill=0.0, mean=0.0, std=1.0, min=-1000.0, max=1000.0)
    x = DenseTransform([f])(np.array([[-1000.0], [0.0], [1000.0], [np.nan]]))
    np.testing.assert_array_equal(x[:, 0], np.float32([-np.log1p(1000), 0, np.log1p(1000), 0]))


def test_a_vocabulary_cross_keeps_what_was_seen_min_count_times_the_most_frequent_first(tmp_path):
    """A vocabulary cross keeps the combinations seen at least min_count times (exactly min_count is enough),
    most frequent first; max_size keeps the most frequent of them."""
    pairs = [("a", "x")] * 4 + [("a", "y")] * 3 + [("b", "y")] * 2 + [("b", "x")]
    frame = pl.DataFrame({"p": [p for p, _ in pairs], "q": [q for _, q in pairs], "y": [i % 2 for i in range(10)]})
    frame.write_parquet(tmp_path / "t.parquet")
    columns = "data: {train: t.parquet}\nlabel: {column: y}\nmodel: wide\ncolumns:\n  p: {kind: categorical}\n"
    columns += "  q: {kind: categorical}\ncrosses:\n"
    for cross, kept in (
        ("{columns: [p, q], min_count: 2}", ["p=a AND q=x", "p=a AND q=y", "p=b AND q=y"]),
        ("{columns: [p, q], min_count: 2, max_size: 2}", ["p=a AND q=x", "p=a AND q=y"]),
    ):
        (tmp_path / "s.yaml").write_text(columns + f"  - {cross}\n")
        fitted = fit_pipeline(load_spec(tmp_path / "s.yaml"), frame)
        assert fitted.features["p_x_q"].names == kept
        ids = transform(fitted, frame).sparse[:, fitted.univalent.index("p_x_q")]
        assert ids.tolist() == [2] * 4 + [3] * 3 + [4 if len(kept) == 3 else 1] * 2 + [1]  # 1: not kept


def test_a_bucket_holds_its_lower_boundary():
    """Bucket i holds boundaries[i-1] <= x < boundaries[i], as its label says: 25 is in '[25,35)', not '<25'."""
    from wdcli.features.fitted import Buckets

    b = Buckets(name="age_b", column="age", boundaries=[25.0, 35.0])
    assert b.ids(np.array([24.9, 25.0, 34.9, 35.0, np.nan])).tolist() == [1, 2, 2, 3, 0]
    assert [b.label(i) for i in (1, 2, 3)] == ["<25", "[25,35)", ">=35"]
