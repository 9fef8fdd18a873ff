"""The deep part's optional blocks (issue 20) against their equations, where the layout puts them, and what a
spec makes of them: numeric embeddings (periodic, piecewise-linear), dot products of fields, cross layers."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import polars as pl
import pytest
import torch

from wdcli.features import fit_pipeline, hashing, transform
from wdcli.features.numbers import spiked, uneven
from wdcli.model.blocks import CrossLayers, DotInteraction, PeriodicEmbedding, PiecewiseEmbedding
from wdcli.model.plan import build_config, plan_rows
from wdcli.model.widedeep import RaggedBags, WideDeep
from wdcli.run import compared
from wdcli.spec import load_spec
from wdcli.spec.blocks import NumericEmbedding
from wdcli.train import train
from wdcli.train.schedule import Schedule, ScheduleState

from .conftest import SPECS, fitter_fed


def test_periodic_embedding_is_relu_of_a_linear_map_of_sines_and_cosines():
    torch.manual_seed(0)
    block = PeriodicEmbedding(columns=2, frequencies=3, sigma=1.0, dim=4)
    x = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    got = block(x)
    for b in range(2):
        for j in range(2):
            c = block.frequencies[j]
            v = torch.cat([torch.sin(2 * math.pi * c * x[b, j]), torch.cos(2 * math.pi * c * x[b, j])])
            expected = torch.relu(v @ block.weight[j] + block.bias[j])
            assert torch.allclose(got[b, j], expected, atol=1e-6)


def test_piecewise_embedding_reads_each_bin_as_0_below_1_above_and_linear_inside():
    block = PiecewiseEmbedding([[0.0, 1.0, 3.0, 7.0], [10.0, 20.0]], dim=2)
    with torch.no_grad():
        block.weight.zero_()
        block.bias.zero_()
        block.weight[0, :, 0] = torch.tensor([1.0, 10.0, 100.0])  # column 0's first output: sum of 10^t p_t
        block.weight[1, 0, 0] = 1.0
        block.weight[1, 1:, 0] = 1000.0  # (the padded bins' weights: never read)
    x = torch.tensor([[-5.0, 15.0], [2.0, 25.0], [5.0, 5.0], [100.0, 20.0]])
    out = block(x)[:, :, 0]
    # -5: below every bin; 2: bin 0 full, bin 1 half; 5: bins 0, 1 full, bin 2 half; 100: all full
    assert out[:, 0].tolist() == pytest.approx([0.0, 1 + 5, 1 + 10 + 50, 111.0])
    # the second column has one bin ([10, 20]) and two padded ones that always read 0
    assert out[:, 1].tolist() == pytest.approx([0.5, 1.0, 0.0, 1.0])


def test_dot_interaction_is_every_pair_of_fields_in_order_with_projections():
    torch.manual_seed(0)
    block = DotInteraction([(2, 3), (1, 5)], dim=3)  # two fields of width 3, one of width 5 (projected)
    a, b = torch.randn(4, 2, 3), torch.randn(4, 1, 5)
    got = block([a, b])
    c = block.project[1](b)[:, 0]
    expected = torch.stack([(a[:, 0] * a[:, 1]).sum(1), (a[:, 0] * c).sum(1), (a[:, 1] * c).sum(1)], dim=1)
    assert torch.allclose(got, expected, atol=1e-6)


def test_dot_interaction_orders_the_pairs_of_four_fields_by_the_first_then_the_second():
    torch.manual_seed(0)
    e = torch.randn(2, 4, 3)
    got = DotInteraction([(4, 3)], dim=3)([e])
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]  # the layout names the columns in this order
    assert torch.allclose(got, torch.stack([(e[:, i] * e[:, j]).sum(1) for i, j in pairs], dim=1), atol=1e-6)


@pytest.mark.parametrize("rank", [0, 2])
def test_cross_layers_are_x0_times_wx_plus_b_plus_x(rank):
    torch.manual_seed(0)
    block = CrossLayers(width=5, layers=2, rank=rank)
    x0 = torch.randn(3, 5)
    x = x0
    for i, up in enumerate(block.up):
        h = up(block.down[i](x)) if rank else up(x)
        x = x0 * h + x
    assert torch.allclose(block(x0), x)
    assert rank == 0 or all(d.weight.shape == (rank, 5) for d in block.down)


PAPER = [  # census as the paper's model: no block, numbers by their quantile (specs/census.yaml embeds them)
    "deep.numeric_embedding=none",
    "deep.interaction=none",
    "defaults.numeric={transform: quantile, quantiles: 50}",
]


def _census(tmp_path, *overrides):
    spec = load_spec(SPECS / "census.yaml", ["train.max_rows=3000", *PAPER, *overrides])
    frame = pl.read_parquet(SPECS / "data" / "adult.parquet").head(3000)
    fitted = fit_pipeline(spec, frame)
    return spec, fitted, build_config(fitted), transform(fitted, frame)


def test_layout_places_embedded_numbers_after_plain_ones_and_dot_pairs_last(tmp_path):
    spec, fitted, cfg, enc = _census(
        tmp_path,
        "deep.numeric_embeddings={age: periodic, capital-gain: {kind: piecewise, dim: 4, bins: 5}}",
        "deep.interaction=dot",
    )
    kinds = [f.kind for f in cfg.layout.fields]
    assert kinds.index("numeric") < kinds.index("periodic") < kinds.index("dot")
    age = next(f for f in cfg.layout.fields if f.name == "age")
    gain = next(f for f in cfg.layout.fields if f.name == "capital-gain")
    assert (age.kind, age.width, gain.kind, gain.width) == ("periodic", 8, "piecewise", 4)
    assert {"age", "capital-gain"}.isdisjoint(cfg.dense_names)  # (no longer a plain input)
    dot_inputs = cfg.layout.dot_inputs()
    pairs = [f.name for f in cfg.layout.fields if f.kind == "dot"]
    assert len(pairs) == len(dot_inputs) * (len(dot_inputs) - 1) // 2
    assert pairs[0] == f"{dot_inputs[0].name}*{dot_inputs[1].name}"
    model = WideDeep(cfg).eval()
    x = model.deep_input(torch.from_numpy(enc.sparse), RaggedBags({}), torch.from_numpy(enc.dense))
    assert x.shape == (3000, cfg.layout.width)
    # the dot columns hold the dot products of the fields the layout names
    i = [f.name for f in dot_inputs].index("age")
    j = [f.name for f in dot_inputs].index("capital-gain")
    column = next(f.start for f in cfg.layout.fields if f.name == "age*capital-gain")
    dot_groups = [g for g in model.groups if g.kind in ("embedding", "bag", "periodic", "piecewise")]
    projected = model.dot.project[next(k for k, g in enumerate(dot_groups) if g.fields[0].name == "capital-gain")]
    e_age, e_gain = x[:, age.start : age.stop], projected(x[:, gain.start : gain.stop])
    assert i < j and torch.allclose(x[:, column], (e_age * e_gain).sum(1), atol=1e-5)


@pytest.mark.parametrize(
    "present, missing, fill, expected",
    [
        ([0] * 6 + [1, 2, 3], 0, 0.0, True),  # a spike and a tail (an amount mostly zero)
        ([0] * 6 + [1, 1, 1], 0, 0.0, False),  # two values: a flag, no tail
        ([0] * 5 + [1, 2, 3, 4, 5], 0, 0.0, False),  # half is not more than half
        ([0] * 4 + [1, 2, 3, 4, 5], 2, 0.0, True),  # the filled values make it one
        ([1, 2, 3, 7], 5, 9.0, True),  # the fill is the spike
        ([0] * 6 + [1, 1], 1, 2.0, True),  # the fill is one of the two others
        (list(np.random.default_rng(0).normal(size=1000)), 0, 0.0, False),
        ([], 3, 1.0, False),
        ([0, 0, 0, 1, 2], 3, 5.0, False),  # the filled rows count for the fill, not for the common value
    ],
)
def test_a_spike_is_one_value_in_over_half_the_rows_and_two_others_or_more(present, missing, fill, expected):
    assert spiked(np.array(present, dtype=np.float64), missing, fill) is expected


def test_auto_embeds_exactly_the_numbers_with_a_spike(tmp_path):
    """`numeric_embedding: auto` (the default) gives the periodic embedding at sigma 10 to each number whose
    training rows mostly hold one value (census's capital gains and losses, 0 in over 90% of the rows) and leaves
    the others one input each (hours-per-week: 40 in 46% of these rows); a sigma the spec gives is kept."""
    spec, fitted, cfg, _ = _census(tmp_path, "deep.numeric_embedding=auto")
    assert [n for n in fitted.dense if fitted.numeric(n).spike] == ["capital-gain", "capital-loss"]
    assert [(n.name, n.kind, n.sigma) for n in cfg.numeric] == [
        ("capital-gain", "periodic", 10.0),
        ("capital-loss", "periodic", 10.0),
    ]
    assert {"age", "hours-per-week", "fnlwgt", "educational-num"} <= set(cfg.dense_names)
    assert {n.sigma for n in _census(tmp_path, "deep.numeric_embedding={kind: auto, sigma: 3}")[2].numeric} == {3.0}
    assert {n.sigma for n in _census(tmp_path, "deep.numeric_embedding=periodic")[2].numeric} == {1.0}
    assert _census(tmp_path, "deep.numeric_embedding=none")[2].numeric == []


def _labels(rate: np.ndarray, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random(len(rate)) < rate).astype(np.float64)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


N = 40_000
_rng = np.random.default_rng(0)
MONTHS = _rng.integers(1, 13, N).astype(np.float64)
PLACES = _rng.random(N)
AGES = _rng.integers(18, 90, N).astype(np.float64)
AMOUNTS = _rng.lognormal(1, 1.5, N)


@pytest.mark.parametrize(
    "x, rate, expected",
    [
        (MONTHS, 0.2 + 0.2 * np.isin(MONTHS, [6, 7, 12]) - 0.1 * np.isin(MONTHS, [9, 10]), True),  # flights' months
        (PLACES, 0.25 + 0.15 * np.sin(2 * np.pi * 5 * PLACES), True),  # a rate that turns ten times
        (AGES, _sigmoid(-0.5 - (AGES - 45) ** 2 / 300), False),  # a hump: smooth in the rank
        (AMOUNTS, _sigmoid(-2 + 0.6 * np.log1p(AMOUNTS)), False),  # a log effect of a heavy-tailed amount
        (AMOUNTS, _sigmoid(-2 + 0.6 * (AMOUNTS > 5)), False),  # one step: a cubic of the rank comes close
        (MONTHS, np.full(N, 0.3), False),  # no effect
        (MONTHS[:1500], (0.2 + 0.3 * np.isin(MONTHS, [6, 7, 12]))[:1500], False),  # too few rows to tell
        ((MONTHS > 6).astype(np.float64), 0.2 + 0.3 * (MONTHS > 6), False),  # a flag: two values, no turns
    ],
)
def test_an_uneven_effect_is_one_bins_fit_better_than_a_smooth_curve_of_the_rank(x, rate, expected):
    keys = hashing.hash_ints(np.arange(len(x), dtype=np.int64))
    assert uneven(x, _labels(rate), keys) is expected


def test_an_uneven_effect_must_gain_two_standard_errors_measured_on_shrunk_bins():
    """The rule's own two guards, at 3,000 rows of a months' effect: a gain past its floor (0.002 nats) but
    under two standard errors is not uneven (a weak effect, seed 0); a stronger one is, where the bins' rates
    are shrunk toward the whole's (unshrunk, the noisy bins' gain falls under two standard errors: seed 1)."""
    n = 3_000
    keys = hashing.hash_ints(np.arange(n, dtype=np.int64))
    m = np.random.default_rng(0).integers(1, 13, n).astype(np.float64)

    def rate(a: float) -> np.ndarray:
        return 0.3 + a * np.isin(m, [6, 7, 12]) - a * np.isin(m, [9, 10])

    assert uneven(m, (np.random.default_rng(0).random(n) < rate(0.05)).astype(np.float64), keys) is False
    assert uneven(m, (np.random.default_rng(1).random(n) < rate(0.08)).astype(np.float64), keys) is True


def test_auto_resolves_a_number_with_a_spike_and_an_uneven_effect_at_the_spikes_sigma():
    e = NumericEmbedding()
    assert (e.resolved(True, True).kind, e.resolved(True, True).sigma) == ("periodic", 10.0)
    assert e.resolved(False, True).sigma == 1.0 and e.resolved(True, False).sigma == 10.0
    assert e.resolved(False, False).kind == "none"


def test_a_steep_smooth_effect_of_rare_positives_is_not_uneven():
    """A textbook logistic effect with 3% positives (and a one-sided one, past the 95th percentile): the curve's
    Newton steps are halved until its loss falls, so it fits them (undamped, it diverged, overflowed and lost to
    the bins, which marked such columns uneven)."""
    z = np.random.default_rng(3).normal(size=N)
    keys = hashing.hash_ints(np.arange(N, dtype=np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert uneven(z, _labels(_sigmoid(-5 + 2 * z)), keys) is False
        assert uneven(z, _labels(_sigmoid(-6 + 12 * (z > 1.64))), keys) is False


@pytest.mark.parametrize("sizes", [[6000], [70] * 85 + [50], [199, 1, 800, 5000]])
def test_the_rows_the_uneven_test_reads_do_not_depend_on_the_batches(monkeypatch, tmp_path, sizes):
    """Past SAMPLE_ROWS the sample's order depends on the batches (and on the shares of a fit in processes); the
    uneven test reads the rows of the smallest keys, in their order, the same whatever the batching."""
    import wdcli.features.fit as fit
    import wdcli.features.numbers as numbers

    monkeypatch.setattr(fit, "SAMPLE_ROWS", 900)
    monkeypatch.setattr(numbers, "UNEVEN_AT_MOST", 250)
    seen = []
    monkeypatch.setattr(numbers, "uneven", lambda x, y, keys: seen.append((x, y, keys)) or False)
    frame = pl.DataFrame({"a": MONTHS[:6000], "y": _labels(np.full(6000, 0.3)).astype(np.int8)})
    fitter_fed(tmp_path, frame, sizes).finish()
    x, y, keys = seen[0]
    kept = np.sort(hashing.hash_ints(np.arange(6000, dtype=np.int64)))[:250]  # (the smallest keys, in order)
    assert np.array_equal(keys, kept) and len(x) == len(y) == len(kept)


def test_auto_embeds_a_number_of_uneven_effect_at_sigma_1_and_the_plan_says_why(tmp_path):
    """A month whose rate turns (summer and December high, autumn low) is embedded at sigma 1; an age of a smooth
    effect stays one input; a spiked amount keeps sigma 10; `validate`'s plan says why each was embedded."""
    rate = 0.2 + 0.2 * np.isin(MONTHS, [6, 7, 12]) - 0.1 * np.isin(MONTHS, [9, 10])
    amounts = np.where(_rng.random(N) < 0.8, 0.0, AMOUNTS)
    rate = _sigmoid(np.log(rate / (1 - rate)) + 0.01 * (AGES - 50) + 0.5 * (amounts > 3))
    frame = pl.DataFrame({"month": MONTHS, "age": AGES, "amount": amounts, "y": _labels(rate).astype(np.int8)})
    path = tmp_path / "rows.parquet"
    frame.write_parquet(path)
    (tmp_path / "s.yaml").write_text(
        f"data: {{train: {path}}}\nlabel: {{column: y}}\nmodel: deep\ncolumns: {{month: numeric, age: numeric, amount: numeric}}\n"
    )
    spec = load_spec(tmp_path / "s.yaml")
    fitted = fit_pipeline(spec, frame)
    assert [(n, fitted.numeric(n).spike, fitted.numeric(n).uneven) for n in ("month", "age", "amount")] == [
        ("month", False, True),
        ("age", False, False),
        ("amount", True, False),
    ]
    cfg = build_config(fitted)
    assert [(n.name, n.kind, n.sigma) for n in cfg.numeric] == [
        ("month", "periodic", 1.0),
        ("amount", "periodic", 10.0),
    ]
    deep = {row[0]: row[4] for row in plan_rows(fitted, cfg)}
    assert deep["month"].endswith("(auto: an uneven effect)") and deep["amount"].endswith("(auto: a spike)")
    assert deep["age"] == "dense"


def test_piecewise_edges_are_the_training_rows_quantiles_as_the_model_sees_them(tmp_path):
    spec, fitted, cfg, enc = _census(tmp_path, "deep.numeric_embeddings={age: {kind: piecewise, bins: 4}}")
    age = fitted.numeric("age")
    raw = pl.read_parquet(SPECS / "data" / "adult.parquet").head(3000)["age"].to_numpy().astype(float)
    q = np.sort(raw)[np.ceil(np.arange(1, 4) / 4 * len(raw)).astype(int) - 1]
    b = age.boundaries  # (read between the boundaries: a line through (min, 0), (b_i, i/(k+1)), (max, 1))
    assert age.smooth and age.min < b[0] and age.max > b[-1]
    expected = np.unique(
        np.interp([raw.min(), *q, raw.max()], [age.min, *b, age.max], np.arange(len(b) + 2) / (len(b) + 1))
    )
    assert age.transform == "quantile" and np.allclose(age.edges, expected)
    assert next(n for n in cfg.numeric if n.name == "age").edges == age.edges
    assert fitted.numeric("capital-gain").edges == []  # (only the columns that ask for them)


def test_schedule_factors_follow_their_formulas():
    from wdcli.spec.settings import Schedule as Spec

    def factors(spec, steps, improved=()):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2)
        s = Schedule(spec, [opt], steps_per_epoch=10, epochs=3)
        out = []
        for t in range(steps):
            s.before_step()
            out.append(opt.param_groups[0]["lr"] / 0.2)
            if (t + 1) % 10 == 0 and improved:
                s.after_epoch(improved[(t + 1) // 10 - 1])
        return out, s

    warm, _ = factors(Spec(kind="warmup", warmup=0.5), 8)
    assert warm == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0])
    cos, _ = factors(Spec(kind="cosine", min_factor=0.1), 30)
    assert cos[0] == pytest.approx(1.0) and cos[15] == pytest.approx(0.1 + 0.9 * 0.5) and cos[-1] > 0.1
    flat, s = factors(Spec(kind="plateau", factor=0.5, patience=0, min_factor=0.2), 30, [True, False, False])
    assert flat[:20] == pytest.approx([1.0] * 10 + [1.0] * 10) and flat[20:] == pytest.approx([0.5] * 10)
    assert s.state == ScheduleState(steps=30, plateau=0.25, waited=0)
    s.after_epoch(False)
    assert s.state.plateau == 0.2  # never below min_factor


def test_cosine_after_a_warm_up_spans_the_steps_left_and_plateau_counts_only_epochs_in_a_row():
    from wdcli.spec.settings import Schedule as Spec

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    s = Schedule(Spec(kind="cosine", warmup=1, min_factor=0.1), [opt], steps_per_epoch=10, epochs=3)
    factors = []
    for _ in range(30):
        s.before_step()
        factors.append(opt.param_groups[0]["lr"])
    # 10 warm-up steps, then s = (t - 10) / 20: t = 20 is half way, t = 29 is 19/20 of the way
    assert factors[9] == pytest.approx(1.0) and factors[10] == pytest.approx(1.0)
    assert factors[20] == pytest.approx(0.55) and factors[29] == pytest.approx(
        0.1 + 0.45 * (1 + math.cos(0.95 * math.pi))
    )
    plateau = Schedule(Spec(kind="plateau", factor=0.5, patience=1), [opt], steps_per_epoch=10, epochs=3)
    for improved in (False, True, False):  # an improvement starts the count again: never 2 epochs in a row
        plateau.after_epoch(improved)
    assert plateau.state == ScheduleState(steps=0, plateau=1.0, waited=1)
    plateau.after_epoch(False)
    assert plateau.state == ScheduleState(steps=0, plateau=0.5, waited=0)


def test_the_schedule_scales_ftrls_alpha_as_the_others_lr():
    from wdcli.model.optim import FTRL
    from wdcli.spec.settings import Schedule as Spec

    wide = FTRL([torch.nn.Parameter(torch.zeros(1))], alpha=0.1)
    deep = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2)
    s = Schedule(Spec(kind="warmup", warmup=0.5), [wide, deep], steps_per_epoch=10, epochs=1)
    s.before_step()
    assert wide.param_groups[0]["alpha"] == pytest.approx(0.02) and deep.param_groups[0]["lr"] == pytest.approx(0.04)


def test_blocks_stream_and_serve_as_they_train_in_memory(tmp_path):
    """A streamed run fits the same piecewise bins as an in-memory one, and the serving encoder scores a model
    with every block as the model scores the transformed rows (the bins, the periodic and dot parts, the cross
    layers all travel in the artifact)."""
    from wdcli.data.batch import Batch
    from wdcli.model.widedeep import probabilities
    from wdcli.run import run_training
    from wdcli.score import Scorer

    blocks = [
        "train.epochs=1",
        "train.threads=1",
        "deep.numeric_embeddings={age: {kind: piecewise, bins: 6}, hours-per-week: periodic}",
        "deep.interaction={kind: cross, rank: 4}",
    ]
    stream = ["train.data.mode=stream", "train.data.read_batch_rows=2000", "train.data.shuffle_buffer=4000"]
    runs = {}
    for mode, sets in (("memory", ["train.data.mode=memory"]), ("stream", stream)):
        spec = load_spec(SPECS / "census.yaml", [*PAPER, "train.max_rows=6000", *blocks, *sets])
        runs[mode] = run_training(spec, output=tmp_path / mode)[1]
    bins = [
        {f["name"]: f.get("edges") for f in json.loads((runs[m] / "pipeline.json").read_text())["features"]}
        for m in runs
    ]
    assert bins[0] == bins[1] and len(bins[0]["age"]) == 7  # the same bins (moments differ in the last digit)
    scorer = Scorer.load(runs["stream"])
    rows = pl.read_parquet(SPECS / "data" / "adult.parquet").slice(40_000, 500)
    served = scorer.score(rows)
    direct = probabilities(scorer.model, Batch.of(transform(scorer.fitted, rows)).chunks(256))
    assert len(served) == 500 and np.allclose(served, direct, atol=1e-6)


def test_the_encodings_kept_for_reuse_are_not_reused_by_a_spec_that_asks_for_other_bins():
    """A tune trial or compare variant with piecewise bins needs a pipeline fitted with them."""
    from wdcli.data.cache import Encodings

    plain = load_spec(SPECS / "census.yaml", PAPER)
    kept = Encodings()
    kept.put(plain, fit_pipeline(plain, pl.read_parquet(SPECS / "data" / "adult.parquet").head(500)), {})
    assert kept.get(load_spec(SPECS / "census.yaml", [*PAPER, "deep.interaction=dot"])) is not None
    assert kept.get(load_spec(SPECS / "census.yaml", [*PAPER, "deep.numeric_embedding=piecewise"])) is None
    assert kept.get(load_spec(SPECS / "census.yaml", [*PAPER, "model=wide", "deep.numeric_embedding=piecewise"]))


def test_numbers_alone_make_a_deep_part_and_one_field_takes_no_dot_products(tmp_path):
    """A deep model over numeric columns only is an MLP over them (it was a bias alone, AUC 0.5, whose saved run
    then failed to load), and dot products of fewer than two fields are no block at all: no parameters counted,
    none built (the hostile review's findings)."""
    data = (SPECS / "data" / "tiny.csv").resolve()
    numbers = tmp_path / "numbers.yaml"
    numbers.write_text(
        f"data: {{train: {data}, split: {{validation: 0.2, test: 0.2, seed: 1}}}}\n"
        "label: {column: income, positive: '>50K'}\nmodel: deep\n"
        "columns: {age: numeric, hours-per-week: numeric, capital-gain: {kind: numeric, transform: log1p}}\n"
        "deep: {numeric_embedding: none}\n"  # (capital-gain has a spike: auto would embed it, a field)
        "train: {epochs: 3, seed: 0, threads: 1}\n"
    )
    r = train(load_spec(numbers))
    cfg = r.config
    assert cfg.has_deep and cfg.interaction.kind == "none" and r.model.mlp is not None
    assert sum(p.numel() for p in r.model.parameters()) == cfg.param_counts()["total"]
    assert r.metrics.metric("auc", "test") > 0.6  # (0.698; a bias alone: 0.5)
    one = load_spec(
        numbers, ["columns.education=categorical", "deep.embed=[education]", "deep.embedding_dims={education: 4}"]
    )
    cfg = train(one).config
    assert cfg.interaction.kind == "none" and "interaction" not in cfg.param_counts()


def test_compare_flips_the_interaction_only_where_flipping_changes_the_model(tmp_path):
    """`compare` trains the joint model again with its interaction the other way; with one field in the deep part
    dot products are none, so that row would train the same model twice (it did). Cross layers still flip."""
    spec = tmp_path / "one.yaml"
    spec.write_text(
        f"data: {{train: {(SPECS / 'data' / 'tiny.csv').resolve()}}}\n"
        "label: {column: income, positive: '>50K'}\n"
        "columns: {age: numeric, education: categorical, gender: categorical}\n"
    )
    rows = [
        ([], "wide_deep, interaction none"),  # two fields: dot products by default, and a row without them
        (["deep.embed=[education]"], None),  # one field: dot products are none, no row
        (["deep.embed=[education]", "deep.interaction=none"], None),
        (["deep.embed=[education]", "deep.numeric_embedding=periodic"], "wide_deep, interaction none"),  # 2
        (["deep.embed=[education]", "deep.interaction=cross"], "wide_deep, interaction none"),
    ]
    for overrides, flipped in rows:
        names = [m for m, _ in compared(load_spec(spec, overrides))]
        assert names[:3] == ["wide", "deep", "wide_deep"] and names[-1].startswith("wide_deep, numeric_embedding")
        assert [n for n in names if "interaction" in n] == ([flipped] if flipped else []), overrides


def test_compare_counts_the_numbers_auto_embeds_once_the_fit_is_known(tmp_path):
    """One embedded column and a number with a spike: auto embeds the number, so dot products have two fields
    and `compare` trains the joint model without them too (counted from the spec alone, auto's number was no
    field and the row was left out); a number auto would embed but an override keeps plain is no spike to flip."""
    spec_path = tmp_path / "one.yaml"
    spec_path.write_text(
        f"data: {{train: {(SPECS / 'data' / 'tiny.csv').resolve()}}}\n"
        "label: {column: income, positive: '>50K'}\n"
        "columns: {capital-gain: numeric, education: categorical, gender: categorical}\n"
        "deep: {embed: [education]}\n"
    )
    spec = load_spec(spec_path)
    fitted = fit_pipeline(spec, pl.read_csv(SPECS / "data" / "tiny.csv"))
    assert fitted.numeric("capital-gain").spike
    names = [m for m, _ in compared(spec, fitted)]
    assert names[3:] == ["wide_deep, interaction none", "wide_deep, numeric_embedding none"]
    plain = load_spec(spec_path, ["deep.numeric_embeddings={capital-gain: none}"])
    assert [m for m, _ in compared(plain, fitted)][3:] == ["wide_deep, numeric_embedding periodic"]
