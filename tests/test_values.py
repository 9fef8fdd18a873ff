"""`numeric_embedding: values`: a number whose exact values name things (a household's income repeated in each
of its members' rows, a code) gets a trained vector per value, and `auto` gives it one where the fit's test
(`numbers.named`) finds the values' own rates beat their neighbourhood's, unless a categorical column of the spec
names the same things."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import torch
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.features import fit_pipeline, hashing, load_pipeline, numbers, transform
from wdcli.features.numbers import by_its_values, named
from wdcli.model.blocks import ValuesEmbedding
from wdcli.model.plan import build_config, plan_rows
from wdcli.spec import load_spec
from wdcli.spec.blocks import NumericEmbedding

runner = CliRunner()
_rng = np.random.default_rng(0)
N = 20_000
HOUSEHOLD = _rng.integers(0, 800, N)  # 800 households of about 25 rows each
INCOME = np.round(_rng.lognormal(10, 0.6, 800), 2)[HOUSEHOLD]  # each household's income, in each of its rows
TASTE = _rng.normal(0, 1.5, 800)[HOUSEHOLD]  # what the households differ by: no smooth function of the income
AGES = _rng.integers(18, 90, N).astype(np.float64)
PLACES = _rng.random(N)


def _labels(logit: np.ndarray, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random(len(logit)) < 1 / (1 + np.exp(-logit))).astype(np.float64)


@pytest.mark.parametrize(
    "x, logit, expected",
    [
        (INCOME, TASTE - 1, True),  # a household's income: its rows' rate is the household's
        (INCOME, np.full(N, -1.0), False),  # the same values, no effect
        (INCOME, 0.8 * (np.log(INCOME) - 10), False),  # a smooth effect of the income: the bins have it
        (AGES, -0.5 - (AGES - 45) ** 2 / 300, False),  # 72 values, a hump: the 32 bins are as good
        (PLACES, 3 * np.sin(20 * PLACES), False),  # every value once: none seen often enough
        (INCOME[:1500], (TASTE - 1)[:1500], False),  # too few rows to tell
    ],
)
def test_values_name_things_when_their_own_rates_beat_their_bins(x, logit, expected):
    keys = hashing.hash_ints(np.arange(len(x), dtype=np.int64))
    assert named(x, _labels(logit), keys) is expected


@pytest.mark.parametrize("seed, expected", [(24, False), (2, True)])
def test_values_must_gain_four_standard_errors(seed, expected):
    """400 households of weaker tastes in 4,000 rows: seed 24's values save 0.0176 nats per row left out (past the
    0.015 asked), 3.9 standard errors (noise a tree would memorize too), and are not marked; seed 2's save 0.030,
    6.4."""
    rng = np.random.default_rng(seed)
    household = rng.integers(0, 400, 4000)
    income = np.round(rng.lognormal(10, 0.6, 400), 2)[household]
    taste = rng.normal(0, 0.8, 400)[household]
    y = (rng.random(4000) < 1 / (1 + np.exp(1 - taste))).astype(np.float64)
    assert named(income, y, hashing.hash_ints(np.arange(4000, dtype=np.int64))) is expected


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_persons_id_in_a_panel_of_two_or_three_rows_each_names_them(seed):
    """6,000 people of about 2.3 rows each, their id a whole number (the German health panel a new user's walk
    brought: LightGBM cut the id, 0.667 AUC, and wdcli's plain number trailed at 0.646; embedded by its values,
    0.701). Split in halves, each person had about one row a half, and the values seen three times in a half held
    a quarter of the rows: never marked. Each row predicted from the other rows of its id saves 0.04 nats; the
    same ids with no effect lose (their few rows are noise), and are not marked."""
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(6000), rng.poisson(2.3, 6000).clip(1, 5))
    ids = (np.arange(6000) * 7 + 1000)[person].astype(np.float64)
    keys = hashing.hash_ints(np.arange(len(person), dtype=np.int64))
    assert named(ids, _labels(rng.normal(0, 1.5, 6000)[person] + 0.5, seed), keys)
    assert not named(ids, _labels(np.full(len(person), 0.4), seed), keys)


def test_copies_of_rows_do_not_make_a_number_name_things(tmp_path):
    """Each positive row written four times (oversampling by copies): a row's copies answer for it, so left one
    out, a continuous number's values looked named (a verify test's oversampled model fell from 0.87 to 0.79 AUC
    with them embedded). The fit's test reads each distinct row once (numbers and label); the copies' number
    alone, all rows read, is marked: what the fit must not do."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-x))).astype(np.int64)
    frame = pl.DataFrame({"x": x, "kind": rng.integers(0, 3, 4000).astype(str), "y": y})
    frame = pl.concat([frame, *[frame.filter(pl.col("y") == 1)] * 3])
    keys = hashing.hash_ints(np.arange(len(frame), dtype=np.int64))
    assert named(frame["x"].to_numpy(), frame["y"].to_numpy().astype(np.float64), keys)
    frame.write_parquet(tmp_path / "d.parquet")
    (tmp_path / "s.yaml").write_text(
        "data: {train: d.parquet}\nlabel: {column: y}\ncolumns: {x: numeric, kind: categorical}\n"
    )
    spec = load_spec(tmp_path / "s.yaml")
    assert not fit_pipeline(spec, pl.read_parquet(tmp_path / "d.parquet")).features["x"].named


def test_auto_resolves_a_spike_first_then_values_then_an_uneven_effect():
    auto = NumericEmbedding()
    assert auto.resolved(True, True, True).kind == "periodic" and auto.resolved(True, True, True).sigma == 10
    assert auto.resolved(False, True, True).kind == "values"
    assert auto.resolved(False, True, False).kind == "periodic" and auto.resolved(False, True, False).sigma == 1
    assert auto.resolved(False, False, False).kind == "none"
    assert NumericEmbedding(kind="values").resolved(False, False, False).kind == "values"


@pytest.mark.parametrize(
    "present, missing, expected",
    [
        ([0.0, 1.0, 1.0, 0.0], 1, True),  # a flag with a missing value: three states
        ([1.0, 1.0], 3, True),  # one value and missing ones: two states, still no quantity
        ([0.0, 1.0, 1.0, 0.0], 0, False),  # a flag with none missing: a plain input is as good
        ([0.0, 1.0, 2.0], 1, False),  # three values: a count, a number
        ([], 3, False),  # no value at all (the fit refuses it)
    ],
)
def test_a_flag_is_two_values_or_one_with_missing_ones(present, missing, expected):
    assert numbers.flag(np.array(present), missing) is expected


def test_auto_embeds_a_flag_with_missing_values_by_its_values_and_the_plan_says_why(tmp_path):
    """A survey's 0/1 answer that some did not give (a walk's happiness data: six such flags, 0.6603 test AUC read
    as numbers, 0.6645 as three states, LightGBM 0.6641) is filled with its mean, a third value that is no
    quantity: `auto` gives its two answers a vector each and the missing rows the vector of a value it does not
    know, where before it read the three as a spike (periodic). A flag with none missing, and a count with
    missing values, stay as they were."""
    rng = np.random.default_rng(0)
    n = 4_000
    answer = rng.integers(0, 2, n).astype(float)
    frame = pl.DataFrame(
        {
            "answer": np.where(rng.random(n) < 0.3, np.nan, answer),
            "flag": rng.integers(0, 2, n).astype(float),
            "count": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 5, n).astype(float)),
            "c": rng.choice(["a", "b"], n),
            "y": rng.integers(0, 2, n),
        }
    ).with_columns(pl.col("answer", "count").fill_nan(None))
    frame.write_parquet(tmp_path / "d.parquet")
    (tmp_path / "s.yaml").write_text(
        "data: {train: d.parquet}\nlabel: {column: y}\n"
        "columns: {answer: numeric, flag: numeric, count: numeric, c: categorical}\n"
    )
    spec = load_spec(tmp_path / "s.yaml")
    fitted = fit_pipeline(spec, frame)
    assert [n for n in fitted.dense if fitted.numeric(n).flag] == ["answer"]
    forms = {n.name: n.kind for n in build_config(fitted).numeric}
    assert forms["answer"] == "values" and "flag" not in forms and forms.get("count") != "values"
    assert len(fitted.numeric("answer").known) == 2  # (the two answers, standardized; the fill is none of them)
    encoded = transform(fitted, frame, with_label=True)
    plan = {row[0]: row[4] for row in plan_rows(fitted, build_config(fitted))}
    assert plan["answer"] == "values dim 8, 2 values (auto: a flag with missing values)"
    assert not np.isnan(encoded.dense).any()


def test_values_embedding_is_a_vector_per_known_value_plus_the_value_times_a_vector():
    """Row 0 holds any value the column does not know; a known value matches within a millionth of itself, the
    nearest known value otherwise is not taken; a column of no known values (padded with +inf) matches nothing."""
    torch.manual_seed(0)
    e = ValuesEmbedding([[1.0, 2.5, 7.0], []], dim=3)
    with torch.no_grad():
        e.scale.copy_(torch.randn(2, 3))
        e.bias.copy_(torch.randn(2, 3))
    x = torch.tensor([[2.5, 7.0], [7.0, 1.0], [3.0, 2.5], [1.0 + 1e-7, float("inf")], [-5.0, 0.0]])
    out = e(x)
    ids = [[2, 0], [3, 0], [0, 0], [1, 0], [0, 0]]  # per column: 0 unknown, k + 1 the k-th known value
    for b in range(len(x)):
        for c in range(2):
            want = e.table[c * e.rows + ids[b][c]] + x[b, c] * e.scale[c] + e.bias[c]
            if torch.isfinite(x[b, c]):
                assert torch.allclose(out[b, c], want), (b, c)


def test_the_onnx_path_finds_the_same_values_as_the_search(monkeypatch):
    e = ValuesEmbedding([[0.0, 0.5, 2.0, 9.0], [-1.0, 3.0]], dim=2)
    x = torch.tensor([[0.5, 3.0], [9.0, 0.0], [1.9, -1.0], [2.0, 2.999999]])
    searched = e(x)
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)  # (the comparison the exported graph runs)
    assert torch.equal(searched, e(x))


def test_values_one_float32_step_apart_each_read_their_own_vector(monkeypatch):
    """Two incomes a cent apart (20268.07, 20268.08: log1p puts them one float32 step apart) are two known
    values: each reads its own row, in the search and in the exported graph's comparison alike (a search of the
    midpoints, one of which rounded onto a value, gave 20268.07 its neighbour's vector in torch, and its own in
    ONNX: the scores differed by 0.04)."""
    a = np.float32(np.log1p(20268.07))
    up = lambda v: float(np.nextafter(np.float32(v), np.float32(np.inf)))  # noqa: E731 (one float32 step up)
    known = [3.0, up(3.0), float(a), up(a)]
    e = ValuesEmbedding([known], dim=1)
    with torch.no_grad():
        e.table.copy_(torch.arange(e.rows, dtype=torch.float32).unsqueeze(1))
    x = torch.tensor([*known, 2.0, 1e12, -5.0]).unsqueeze(1)
    expected = [1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0]
    assert e(x)[:, 0, 0].tolist() == expected
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
    assert e(x)[:, 0, 0].tolist() == expected


def _known_rows(fitted, frame: pl.DataFrame, column: str = "income") -> np.ndarray:
    """Which rows the model reads as a value its column knows: the table's row each reads, through forward."""
    e = ValuesEmbedding([fitted.numeric(column).known], dim=1)
    with torch.no_grad():
        e.table.copy_(torch.arange(e.rows, dtype=torch.float32).unsqueeze(1))
        e.scale.zero_()
        x = torch.from_numpy(transform(fitted, frame).dense[:, [fitted.dense.index(column)]])
        return e(x)[:, 0, 0].numpy() > 0


def _households(path, logit: np.ndarray, household_column: bool = False):
    frame = pl.DataFrame({"income": INCOME, "age": AGES, "y": _labels(logit).astype(np.int8)})
    if household_column:
        frame = frame.with_columns(household=pl.Series(HOUSEHOLD.astype(str)))
    frame.write_parquet(path / "rows.parquet")
    columns = "{income: numeric, age: numeric" + (", household: categorical}" if household_column else "}")
    (path / "s.yaml").write_text(
        "data: {train: rows.parquet, split: {validation: 0.1, test: 0.2, seed: 1}}\nlabel: {column: y}\n"
        f"model: deep\ncolumns: {columns}\ntrain: {{epochs: 8, threads: 1}}\n"
    )
    return load_spec(path / "s.yaml"), frame


def test_auto_embeds_a_households_income_by_its_values_and_the_plan_says_why(tmp_path):
    spec, frame = _households(tmp_path, TASTE - 1)
    fitted = fit_pipeline(spec, frame)
    income = fitted.numeric("income")
    assert income.named and not fitted.numeric("age").named
    seen = np.unique(INCOME, return_counts=True)
    z = (seen[0][seen[1] >= 3] - income.mean) / income.std
    assert np.array_equal(income.known, np.unique(z.astype(np.float32)).astype(np.float64).tolist())
    cfg = build_config(fitted)
    assert [(n.name, n.kind, len(n.known)) for n in cfg.numeric] == [("income", "values", len(income.known))]
    plan = {row[0]: row[4] for row in plan_rows(fitted, cfg)}
    assert plan["income"] == f"values dim 8, {len(income.known):,} values (auto: values that name things)"


def test_a_categorical_column_naming_the_same_things_leaves_the_number_plain(tmp_path):
    """An item's price beside the item: the household's own column names what the income's values would (its
    rate still turns along the income, so auto embeds it as an uneven effect, not by its values)."""
    spec, frame = _households(tmp_path, TASTE - 1, household_column=True)
    fitted = fit_pipeline(spec, frame)
    assert not fitted.numeric("income").named and fitted.numeric("income").known == []
    assert [(n.name, n.kind) for n in build_config(fitted).numeric] == [("income", "periodic")]


@pytest.mark.parametrize("transform", ["standardize", "quantile"])
def test_values_learn_what_the_number_alone_cannot(workdir, transform):
    """The decision made to fail: on households whose rate is their own (no function of their income), the
    income embedded by its values reaches a test AUC the plain number cannot come near (read standardized, or
    along its quantiles' line)."""
    spec, _ = _households(workdir, TASTE - 1)
    auc = {}
    for form in ("auto", "none"):
        out = f"r-{form}"
        sets = ["--set", f"deep.numeric_embedding={form}", "--output", out, "-q"]
        sets += ["--set", f"columns.income.transform={transform}"]
        r = runner.invoke(app, ["train", "s.yaml", *sets])
        assert r.exit_code == 0, r.output
        auc[form] = json.loads((workdir / out / "metrics.json").read_text())["splits"]["test"]["auc"]
    assert auc["auto"] > 0.70 and auc["auto"] - auc["none"] > 0.08, auc


def test_a_warm_start_keeps_the_values_it_was_trained_on(workdir):
    """Day 2's rows know other values (half of the households moved): warm-started, the income keeps day 1's
    values, so each vector stays with its value, and says so; trained cold, it takes day 2's."""
    _households(workdir, TASTE - 1)
    day2 = pl.read_parquet(workdir / "rows.parquet").with_columns(
        income=pl.when(pl.Series(HOUSEHOLD) % 2 == 0).then(pl.col("income") + 0.5).otherwise(pl.col("income"))
    )
    day2.write_parquet(workdir / "day2.parquet")
    (workdir / "day2.yaml").write_text((workdir / "s.yaml").read_text().replace("rows.parquet", "day2.parquet"))
    run = ["-q", "--set", "train.epochs=1"]
    assert runner.invoke(app, ["train", "s.yaml", *run, "--output", "r1"]).exit_code == 0
    r = runner.invoke(app, ["train", "day2.yaml", *run, "--warm-start", "r1", "--output", "r2"])
    assert r.exit_code == 0, r.output

    def known(run: str) -> list[float]:
        features = json.loads((workdir / run / "pipeline.json").read_text())["features"]
        return next(f["known"] for f in features if f["name"] == "income")

    assert len(known("r2")) == len(known("r1"))
    # in day 2's units (its mean and spread are day 2's): the households that kept their income hit their values,
    # the others' new incomes none (before, day 1's units were kept, and almost no row hit a value)
    hit = _known_rows(load_pipeline(workdir / "r2", load_spec(workdir / "day2.yaml")), day2)
    same = HOUSEHOLD % 2 == 1
    assert hit[same].all() and hit[~same].mean() < 0.01  # (one moved income lands a cent from a known one)
    numbers = json.loads((workdir / "r2" / "metrics.json").read_text())["warm_start"]["numbers"]
    assert numbers["income"].startswith(f"its {len(known('r1')):,} values as before"), numbers
    assert "the blocks fresh" not in json.loads((workdir / "r2" / "metrics.json").read_text())["warm_start"]["mlp"]
    assert runner.invoke(app, ["train", "day2.yaml", *run, "--output", "cold"]).exit_code == 0
    assert known("cold") != known("r1")


@pytest.mark.parametrize("t", ["standardize", "minmax", "log1p"])
def test_known_values_are_read_back_through_the_scale_the_model_read_them_on(t):
    """A warm start reads the known values (model units) back to raw values through the old run's center and spread
    too, then into the new run's units: every raw value lands where the new run's rows of it land."""
    from wdcli.features.fitted import Numeric
    from wdcli.features.numbers import known_in
    from wdcli.features.transform import DenseTransform

    raw = np.array([[1.0], [5.0], [20.0], [300.0]])
    stats = {"name": "x", "transform": t, "fill": 0.0, "mean": 2.0, "std": 3.0, "min": 0.0, "max": 400.0}
    old = Numeric(**stats, center=0.7, spread=2.5)
    old = old.model_copy(update={"known": sorted(float(v) for v in DenseTransform([old])(raw)[:, 0])})
    new = Numeric(**{**stats, "mean": 4.0, "max": 500.0}, center=-0.3, spread=0.5)
    np.testing.assert_allclose(known_in(old, new), sorted(DenseTransform([new])(raw)[:, 0]), rtol=1e-5)


def test_a_quantile_column_is_embedded_by_its_values_too(workdir):
    """`transform: quantile` reads a value along the line through its quantiles, so distinct values stay apart
    (800 incomes: as many known positions as standardized values), and auto embeds such a column by them."""
    spec, _ = _households(workdir, TASTE - 1)
    quantile = load_spec(workdir / "s.yaml", ["columns.income.transform=quantile"])
    plain, fitted = (fit_pipeline(s, pl.read_parquet(workdir / "rows.parquet")) for s in (spec, quantile))
    income = fitted.numeric("income")
    assert income.named and income.smooth and len(income.known) == len(plain.numeric("income").known) > 700
    assert all(0.0 <= v <= 1.0 for v in income.known)
    assert [(n.name, n.kind) for n in build_config(fitted).numeric] == [("income", "values")]
    step = income.model_copy(update={"smooth": False, "known": []})  # fitted before smooth: the step kept no values
    assert not by_its_values(step, quantile.columns["income"]) and by_its_values(income, quantile.columns["income"])


def test_a_quantile_columns_known_values_are_read_back_along_its_line():
    """A warm start reads a quantile column's known positions back to raw values along its line through the
    quantiles, then into the new run's positions: every raw value lands where the new run's rows of it land."""
    from wdcli.features.fitted import Numeric
    from wdcli.features.numbers import known_in
    from wdcli.features.transform import DenseTransform

    raw = np.array([[1.0], [5.0], [20.0], [300.0]])
    stats = {"name": "x", "transform": "quantile", "fill": 0.0, "mean": 2.0, "std": 3.0, "smooth": True}
    old = Numeric(**stats, min=0.0, max=400.0, boundaries=[2.0, 10.0, 50.0])
    old = old.model_copy(update={"known": sorted(float(v) for v in DenseTransform([old])(raw)[:, 0])})
    new = Numeric(**stats, min=0.5, max=500.0, boundaries=[3.0, 8.0, 30.0, 100.0])
    np.testing.assert_allclose(known_in(old, new), sorted(DenseTransform([new])(raw)[:, 0]), rtol=1e-5)
    step = old.model_copy(update={"smooth": False})
    assert known_in(step, new) == old.known  # (a step's positions cannot be read back: kept as they are)


def test_missing_values_filled_do_not_share_a_known_values_vector(tmp_path):
    """A median fill is some household's income: with missing incomes it is not a known value (those rows read
    as unknown), while without missing ones it is."""
    _, frame = _households(tmp_path, TASTE - 1)
    spec = load_spec(tmp_path / "s.yaml", ["columns.income.fill=median"])
    missing = frame.with_columns(income=pl.when(pl.int_range(N) % 10 == 0).then(None).otherwise(pl.col("income")))
    without, with_missing = (fit_pipeline(spec, f).numeric("income") for f in (frame, missing))
    z = lambda f: float(np.float32((f.fill - f.mean) / f.std))  # noqa: E731 (the fill, as the model reads it)
    assert without.fill in INCOME and z(without) in without.known
    assert with_missing.fill in INCOME and z(with_missing) not in with_missing.known
    assert len(with_missing.known) == len(without.known) - 1


def test_numbers_outside_the_deep_part_keep_no_values(tmp_path):
    _, frame = _households(tmp_path, TASTE - 1, household_column=True)
    named = ["deep.numeric_embeddings={income: values}"]
    for sets in (["model=wide", *named], ["model=wide_deep", "deep.dense=[age]"]):
        fitted = fit_pipeline(load_spec(tmp_path / "s.yaml", sets), frame)
        assert fitted.numeric("income").known == [], sets
    assert fit_pipeline(load_spec(tmp_path / "s.yaml", named), frame).numeric("income").known != []


def test_a_warm_start_from_auto_to_values_named_keeps_the_values(workdir):
    """Day 1 lets auto choose values; day 2's spec names `values` and its rows know other values: the warm start
    keeps day 1's, as when both said auto."""
    _households(workdir, TASTE - 1)
    day2 = pl.read_parquet(workdir / "rows.parquet").with_columns(
        income=pl.when(pl.Series(HOUSEHOLD) % 2 == 0).then(pl.col("income") + 0.5).otherwise(pl.col("income"))
    )
    day2.write_parquet(workdir / "day2.parquet")
    text = (workdir / "s.yaml").read_text().replace("rows.parquet", "day2.parquet")
    (workdir / "day2.yaml").write_text(text + "deep: {numeric_embeddings: {income: values}}\n")
    run = ["-q", "--set", "train.epochs=1"]
    assert runner.invoke(app, ["train", "s.yaml", *run, "--output", "r1"]).exit_code == 0
    r = runner.invoke(app, ["train", "day2.yaml", *run, "--warm-start", "r1", "--output", "r2"])
    assert r.exit_code == 0, r.output
    numbers = json.loads((workdir / "r2" / "metrics.json").read_text())["warm_start"]["numbers"]
    assert numbers["income"].startswith("its ") and "values as before" in numbers["income"], numbers
