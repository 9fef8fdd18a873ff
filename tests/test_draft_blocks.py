"""`wdcli init` tries the deep part's blocks on its sample (issue 20): a block is drafted when it lowers the
held-out log loss of a short training, left out with its measured loss when it does not, and the comment says
which and by how much."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.draft.blocks import BLOCK_GAIN, GROWS, SURE_GAIN, Tried

runner = CliRunner()


def planted(
    rows: int = 24_000, seed: int = 0, pairs: float = 1.2, waves: float = 1.5, often: float = 3
) -> pl.DataFrame:
    """Two id columns whose effect is the dot product of their latent factors (what `interaction: dot` learns
    directly; `pairs` its weight), a number whose effect is periodic in it (what a periodic embedding learns;
    `waves` its weight, `often` its frequency), and noise."""
    rng = np.random.default_rng(seed)
    u, v = rng.normal(size=(60, 4)), rng.normal(size=(60, 4))
    a, b = rng.integers(0, 60, rows), rng.integers(0, 60, rows)
    x = rng.normal(size=rows)
    logit = pairs * np.sum(u[a] * v[b], axis=1) + waves * np.sin(often * x) - 0.5
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return pl.DataFrame(
        {
            "a": [f"a{i}" for i in a],
            "b": [f"b{i}" for i in b],
            "x": x,
            "noise": rng.integers(0, 5, rows).astype(str),
            "y": y,
        }
    )


@pytest.mark.parametrize(
    "planted_as, kept, left_out",
    [
        ({"waves": 0}, ("interaction", "dot"), ("numeric_embedding", "none")),
        ({"pairs": 0}, ("numeric_embedding", "periodic"), ("interaction", None)),
        ({"pairs": 0, "often": 30}, ("numeric_embedding", {"kind": "periodic", "sigma": 10}), ("interaction", None)),
    ],
)
def test_init_drafts_the_blocks_that_help_on_its_sample_and_says_by_how_much(tmp_path, planted_as, kept, left_out):
    """Each block is kept where the label needs it and one off by default left out where it does not; dot
    products, on by default, stay unless they cost (each is tried alone against
    the draft without blocks: on data with both effects the MLP alone learns the pairs sooner than with a
    periodic embedding beside it, and that trial is lost; docs/benchmarks.md). The periodic embedding is tried
    at two spreads of its frequencies and drafted at the one that fits the number's effect: a slow wave
    (sin 3x of a standardized x) at the default sigma, a fast one (sin 30x) at 10."""
    planted(**planted_as).write_parquet(tmp_path / "clicks.parquet")
    out = tmp_path / "drafted" / "clicks.yaml"  # (a folder not made yet: the trials' spec goes there too)
    r = runner.invoke(app, ["init", str(tmp_path / "clicks.parquet"), "--label", "y", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert [p.name for p in out.parent.iterdir()] == ["clicks.yaml"]  # no trial spec left behind
    deep = yaml.safe_load(text)["deep"]
    assert deep[kept[0]] == kept[1], deep
    if left_out[1] is not None:  # (off by default: left out)
        assert deep[left_out[0]] == left_out[1], deep
    else:  # dot products (on by default) with no pairs to learn: they stay unless their trial says they cost
        loss = re.search(r"dot tried on the sample: held-out log loss (\S+) -> (\S+)", text)
        assert loss is not None
        cost = float(loss.group(2)) - float(loss.group(1))
        assert deep["interaction"] == ("none" if cost >= BLOCK_GAIN else "dot"), (cost, deep)
    written = kept[1] if isinstance(kept[1], str) else "{kind: periodic, sigma: 10}"
    assert f"{written} tried on the sample: held-out log loss" in text and "; kept" in text
    assert "dot tried on the sample" in text and re.search(
        r"periodic(, sigma: 10\})?( tried on the sample|: 0\.)", text
    )
    # auto is tried always: where it embeds no number (the slow wave is smooth in its rank, no spike; noise) as the
    # numbers read standardized, not by 50 quantiles; the fast wave is uneven (its rate turns often), and auto
    # embeds it at sigma 1
    blocks = text[text.index("\ndeep:") :]
    plain = "auto (no number embedded: the numbers standardized, not by 50 quantiles) tried on the sample"
    assert (plain in blocks) != ("; as auto: 0." in blocks)  # (its comment, or its figure beside the best form's)
    if kept[0] == "numeric_embedding":  # (the other spread tried too, its held-out log loss beside)
        other = "{kind: periodic, sigma: 10}" if written == "periodic" else "periodic"
        assert f"; as {other}: 0." in text
        assert yaml.safe_load(text)["defaults"]["numeric"]["transform"] == "standardize"  # (what periodic reads)
    r = runner.invoke(app, ["train", str(out), "-q", "--set", "train.epochs=2"])
    assert r.exit_code == 0, r.output


def test_init_tries_auto_where_a_number_has_a_spike(tmp_path):
    """A number that is 0 in three rows of four and whose other values say much of the label in steps (census's
    capital gains): the default's `auto` (the periodic embedding of that number alone, at sigma 10) is tried
    beside the periodic embedding of every number, and the numbers are embedded. (Its values are many, each in a
    few rows: no codes to try as categories, as `test_draft_codes` does.)"""
    rng = np.random.default_rng(0)
    rows = 24_000
    edges, effect = np.sort(rng.integers(100, 20_000, 29)), rng.normal(scale=2.5, size=30)
    values, has = rng.integers(100, 20_000, rows), rng.random(rows) < 0.25
    smooth = rng.normal(size=rows)
    logit = np.where(has, effect[np.searchsorted(edges, values)], 0.0) + 0.5 * smooth - 1
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    frame = pl.DataFrame({"amount": np.where(has, values, 0), "smooth": smooth, "c": rng.integers(0, 5, rows), "y": y})
    frame.with_columns(pl.col("c").cast(pl.String)).write_parquet(tmp_path / "amounts.parquet")
    out = tmp_path / "amounts.yaml"
    r = runner.invoke(app, ["init", str(tmp_path / "amounts.parquet"), "--label", "y", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    comment = next(line for line in text.splitlines() if "tried on the sample" in line and "periodic" in line)
    assert re.search(r"(^  # auto tried|; as auto: 0\.)", comment), comment
    assert yaml.safe_load(text)["deep"]["numeric_embedding"] != "none", comment


@pytest.mark.parametrize(
    "rows, spike, often, transform",
    [(2_000, False, 3, "quantile"), (2_000, True, 3, "standardize"), (12_000, False, 30, "standardize")],
)
def test_no_trials_leaves_the_blocks_to_the_defaults(tmp_path, rows, spike, often, transform):
    """With no trials the defaults stand; where a number has a spike (x: 0 in 69% of the rows) or an uneven effect
    (sin 30x) the default's auto embeds it, which reads standardized numbers (census's draft: 0.9293 test AUC;
    through 50 quantiles 0.9211)."""
    frame = planted(rows, often=often)
    frame = frame.with_columns(x=pl.when(pl.col("x") > 0.5).then(pl.col("x")).otherwise(0.0)) if spike else frame
    frame.write_parquet(tmp_path / "clicks.parquet")
    out = tmp_path / "clicks.yaml"
    r = runner.invoke(app, ["init", str(tmp_path / "clicks.parquet"), "--label", "y", "-o", str(out), "--no-trials"])
    assert r.exit_code == 0, r.output
    drafted = yaml.safe_load(out.read_text())
    assert "interaction" not in drafted["deep"] and "numeric_embedding" not in drafted["deep"]
    assert drafted["defaults"]["numeric"]["transform"] == transform
    assert (
        "not tried (--no-trials): the defaults (dot products; numbers with a spike, an uneven effect or values that name things embedded)"
        in out.read_text()
    )


def test_a_block_is_kept_only_past_its_threshold():
    """A block off by default is drafted when it saves BLOCK_GAIN nats and, with a group, does not lower the
    gAUC; one on by default (dot products, auto) stands unless it costs BLOCK_GAIN (a trial's figures move by a
    few thousandths: the movie ratings' +0.0002 left dot products out, which gained 0.0014 NDCG@10 on the test
    rows). On data of more than GROWS times the trial's rows the periodic embedding must save SURE_GAIN."""
    base = (0.5000, 0.70)
    for value in ("periodic", "{kind: periodic, sigma: 10}"):
        block = "numeric_embedding"
        assert Tried(block, value, base, (0.5000 - BLOCK_GAIN, 0.71)).written == value
        assert Tried(block, value, base, (0.5000 - BLOCK_GAIN / 2, 0.71)).written == "none"
        ranked = Tried(block, value, (0.5, 0.7, 0.65), (0.5 - 2 * BLOCK_GAIN, 0.71, 0.64))
        assert ranked.written == "none" and "gAUC 0.650 -> 0.640; left out (the gAUC fell)" in ranked.comment()
        assert Tried(block, value, (0.5, 0.7, 0.65), (0.5 - 2 * BLOCK_GAIN, 0.71, 0.65)).kept
        worse = Tried(block, value, base, (0.5100, 0.69))
        assert worse.written == "none" and "gain -0.0100" in worse.comment() and "left out" in worse.comment()
        near = Tried(block, value, base, (0.5000 - 0.00096, 0.70)).comment()  # (a walk: '+0.0010 ... under 0.001')
        assert "(gain +0.00096)" in near and "left out (under 0.001 nats)" in near
    for block, value in [("interaction", "dot"), ("numeric_embedding", "auto")]:  # (trials of all the rows)
        assert Tried(block, value, base, (0.5000 - BLOCK_GAIN, 0.71)).written == value
        assert Tried(block, value, base, (0.5000 - BLOCK_GAIN, 0.71)).comment().endswith("; kept")
        small = Tried(block, value, base, (0.5000 + BLOCK_GAIN / 2, 0.70))
        assert small.written == value and "kept (on by default, and within 0.001 nats)" in small.comment()
        costly = Tried(block, value, base, (0.5000 + BLOCK_GAIN, 0.69))
        assert costly.written == "none" and "left out (it cost 0.001 nats or more)" in costly.comment()
    big = GROWS * 2.5  # the data: 10 times the trial's rows
    assert Tried("interaction", "dot", base, (0.5000 + BLOCK_GAIN / 2, 0.69), big).written == "dot"
    assert (
        "kept (on by default; the data hold 10.0x the trial's rows)"
        in Tried("interaction", "dot", base, base, big).comment()
    )
    costly = Tried("interaction", "dot", base, (0.5000 + BLOCK_GAIN, 0.69), big)
    assert costly.written == "none" and "left out (it cost 0.001 nats or more)" in costly.comment()
    assert Tried("interaction", "dot", (0.5, 0.7, 0.65), (0.5, 0.7, 0.60), big).written == "dot"  # (log loss alone)
    # the periodic embedding (off by default) on such data must save SURE_GAIN: on pairs' million rows it lost
    # what it gained on 40,000 (0.0032 nats), and census gains 0.0156
    for gained in (base, (0.5000 - SURE_GAIN / 2, 0.72)):
        sampled = Tried("numeric_embedding", "periodic", base, gained, big)
        assert sampled.written == "none"
        assert (
            "left out (off by default, and the data hold 10.0x the trial's rows: a gain under 0.01" in sampled.comment()
        )
    assert Tried("numeric_embedding", "periodic", base, (0.5000 - SURE_GAIN, 0.72), big).written == "periodic"
    fell = Tried("numeric_embedding", "periodic", (0.5, 0.7, 0.65), (0.5 - SURE_GAIN, 0.72, 0.64), big)
    assert fell.written == "none" and "left out (the gAUC fell)" in fell.comment()
    assert Tried("numeric_embedding", "periodic", base, (0.5000 - BLOCK_GAIN, 0.72), GROWS).written == "periodic"


def test_a_block_stands_by_its_best_form_it_would_keep(tmp_path, monkeypatch):
    """Of the periodic embedding's two forms the one drafted is the one of the lowest held-out log loss among
    those that pass (with a group: whose gAUC does not fall), not the lowest log loss alone (a helper's review:
    sigma 10 saved more nats but lowered the gAUC, and sigma 1, which passed, was never judged)."""
    from types import SimpleNamespace

    from wdcli import run
    from wdcli.draft import draft_spec

    def train(spec, frames, reuse=None):  # held-out (log loss, AUC, gAUC) by the block tried
        ne, dot = spec.deep.numeric_embedding, spec.deep.interaction.kind == "dot"
        m = (
            (0.600, 0.70, 0.650)
            if ne.kind in ("none", "auto")  # (auto embeds no number here: the draft's model, standardized)
            else (0.590, 0.71, 0.660)
            if ne.sigma in (None, 1)
            else (0.585, 0.71, 0.640)
        )
        m = (0.601, 0.70, 0.650) if dot else m
        splits = {"validation": dict(zip(("logloss", "auc", "gauc"), m))}
        return SimpleNamespace(fitted=None, metrics=SimpleNamespace(splits=splits))

    monkeypatch.setattr(run, "train", train)
    monkeypatch.setattr(run, "_auto_embeds", lambda fitted, spec: False)  # (auto embeds no number)
    frame = planted(6_000).with_columns(user=pl.Series([f"u{i % 300}" for i in range(6_000)]))
    frame.write_parquet(tmp_path / "clicks.parquet")
    d = draft_spec(
        tmp_path / "clicks.parquet", "y", output=tmp_path / "clicks.yaml", group="user", try_blocks=run.try_blocks
    )
    tried = d.tried["numeric_embedding"]
    assert tried.written == "periodic" and tried.others == (("auto", 0.600), ("{kind: periodic, sigma: 10}", 0.585))
    assert "gain +0.0100" in tried.comment() and "; as {kind: periodic, sigma: 10}: 0.5850; kept" in tried.comment()


@pytest.mark.parametrize("standardized, transform", [(0.5995, "standardize"), (0.6015, "quantile")])
def test_where_auto_embeds_no_number_its_trial_chooses_how_the_numbers_read(
    tmp_path, monkeypatch, standardized, transform
):
    """KDD Cup 2004's protein data: 74 numbers, none that auto embeds, drafted by 50 quantiles: test AUC 0.946;
    standardized, as the columns-only spec reads them, 0.963, and its trial said so (0.0097 -> 0.0091 nats), but
    auto was not tried where it embeds no number. It is now: standardized numbers stand unless they cost."""
    from types import SimpleNamespace

    from wdcli import run
    from wdcli.draft import draft_spec

    def train(spec, frames, reuse=None):
        ne, dot = spec.deep.numeric_embedding.kind, spec.deep.interaction.kind == "dot"
        loss = standardized if ne == "auto" else 0.600 if ne == "none" else 0.605
        splits = {"validation": {"logloss": loss + (0.0001 if dot else 0), "auc": 0.7}}
        return SimpleNamespace(fitted=None, metrics=SimpleNamespace(splits=splits))

    monkeypatch.setattr(run, "train", train)
    monkeypatch.setattr(run, "_auto_embeds", lambda fitted, spec: False)
    planted(6_000).write_parquet(tmp_path / "clicks.parquet")
    d = draft_spec(tmp_path / "clicks.parquet", "y", output=tmp_path / "clicks.yaml", try_blocks=run.try_blocks)
    assert yaml.safe_load(d.text)["defaults"]["numeric"]["transform"] == transform
    said = "auto (no number embedded: the numbers standardized, not by 50 quantiles) tried on the sample"
    assert said in d.text and ("as the defaults read numbers: their trial below chose it" in d.text) == (
        transform == "standardize"
    )


def test_a_sample_too_small_to_measure_a_block_is_not_tried_and_the_draft_says_so(tmp_path):
    planted(1_000).write_parquet(tmp_path / "clicks.parquet")
    out = tmp_path / "clicks.yaml"
    r = runner.invoke(app, ["init", str(tmp_path / "clicks.parquet"), "--label", "y", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "interaction" not in yaml.safe_load(text)["deep"]
    assert "sample rows to learn from; 4,000 measure them): the defaults (dot products" in text
    assert re.search(r"not tried \([78]\d\d sample rows", text)  # (less the rows the split tests on)
