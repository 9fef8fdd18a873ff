"""`deep.members`: K MLPs over the one deep input, each trained on its own loss (its logit: the bias, the wide
part and its MLP), the model's logit their mean (the packed ensemble of Gorishniy et al., 2024, "TabM")."""

from __future__ import annotations

import polars as pl
import torch
import torch.nn.functional as F
import yaml

from wdcli.draft.render import ENSEMBLE_ROWS, MEMBERS, _members
from wdcli.features import fit_pipeline, transform
from wdcli.model.optim import make_optimizers
from wdcli.model.plan import build_config
from wdcli.model.widedeep import RaggedBags, WideDeep
from wdcli.spec import load_spec
from wdcli.train import train
from wdcli.train.trainer import _by_member
from wdcli.train.warm import warm_start

from .conftest import SPECS
from .test_warm import previous_of

BASE = ["train.epochs=1", "train.threads=1"]


def _tiny(*overrides):
    spec = load_spec(SPECS / "tiny.yaml", [*BASE, *overrides])
    frame = pl.read_csv(SPECS / "data" / "tiny.csv")
    fitted = fit_pipeline(spec, frame)
    enc = transform(fitted, frame)
    return spec, fitted, build_config(fitted), enc


def _inputs(enc):
    return torch.from_numpy(enc.sparse), RaggedBags({}), torch.from_numpy(enc.dense)


def test_the_models_logit_is_the_mean_of_its_members_each_the_wide_part_plus_its_own_mlp():
    _, _, cfg, enc = _tiny("deep.members=3")
    torch.manual_seed(0)
    model = WideDeep(cfg).eval()
    with torch.no_grad():
        model.wide.weight.normal_()  # (the wide part starts at zero: give it something to add)
        sparse, bags, dense = _inputs(enc)
        each = model.member_logits(sparse, bags, dense)
        x = model.deep_input(sparse, bags, dense)
        mlps = [(model.mlp, model.out)] + [(t.mlp, t.out) for t in model.towers]
        deep = torch.cat([out(mlp(x)) for mlp, out in mlps], dim=1)  # [B, 3]
        shared = each - deep  # the bias and the wide part: the same in every member
        assert each.shape == (len(enc.sparse), 3) and torch.allclose(shared, shared[:, :1].expand(-1, 3))
        assert not torch.allclose(deep[:, 0], deep[:, 1])  # (each member started from weights of its own)
        assert torch.allclose(model.logits(sparse, bags, dense), each.mean(dim=1))


def test_a_model_of_one_member_is_the_model_it_was_before_members():
    """The first member's layers are the model's `mlp` and `out`, started first, so one member (the default)
    gives the same weights as before and every other member only adds its own."""
    _, _, one, _ = _tiny()
    _, _, three, _ = _tiny("deep.members=3")
    torch.manual_seed(0)
    a = WideDeep(one).state_dict()
    torch.manual_seed(0)
    b = WideDeep(three).state_dict()
    assert set(b) - set(a) and all(k.startswith("towers.") for k in set(b) - set(a))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert three.param_counts()["mlp"] == 3 * one.param_counts()["mlp"]


def test_each_member_learns_from_its_own_loss_not_from_the_loss_of_the_mean():
    """The loss is the mean over members of each one's log loss: a member's output layer gets 1/K of the gradient
    of its own loss (the loss of the mean logit would give it another)."""
    _, _, cfg, enc = _tiny("deep.members=2")
    torch.manual_seed(0)
    model = WideDeep(cfg)
    sparse, bags, dense = _inputs(enc)
    label = torch.from_numpy(enc.label).float()
    logits, y, w, k = _by_member(model.member_logits(sparse, bags, dense), label, None)
    F.binary_cross_entropy_with_logits(logits, y, weight=w).backward()
    got = model.towers[0].out.weight.grad.clone()
    model.zero_grad()
    own = F.binary_cross_entropy_with_logits(model.member_logits(sparse, bags, dense)[:, 1], label)
    (own / k).backward()
    assert k == 2 and torch.allclose(got, model.towers[0].out.weight.grad, atol=1e-7)


def test_a_warm_start_carries_each_member_from_its_own_and_starts_new_members_fresh():
    first = train(load_spec(SPECS / "tiny.yaml", [*BASE, "deep.members=2"]))
    spec, fitted, cfg, _ = _tiny("deep.members=3")
    torch.manual_seed(0)
    model = WideDeep(cfg)
    fresh = model.towers[1].out.weight.detach().clone()
    report = warm_start(previous_of(first), model, make_optimizers(model, spec.train), fitted)
    assert report.mlp == "3 of 3 layers copied, in each of 2 members; 1 of 3 members fresh", report.mlp
    assert torch.equal(model.towers[0].mlp[0].weight, first.model.towers[0].mlp[0].weight)
    assert torch.equal(model.out.weight, first.model.out.weight)
    assert not torch.equal(model.towers[0].out.weight, model.out.weight)
    assert torch.equal(model.towers[1].out.weight, fresh)


def test_init_drafts_an_ensemble_under_a_million_rows_and_says_what_it_would_cost_beyond():
    small, big = _members(ENSEMBLE_ROWS - 1), _members(ENSEMBLE_ROWS)
    assert yaml.safe_load("\n".join(small)) == {"members": MEMBERS} and "ensemble" in small[0]
    assert yaml.safe_load("\n".join(big)) is None and "left at 1 for 1,000,000 rows" in big[0]
