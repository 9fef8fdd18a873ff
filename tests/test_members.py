"""`deep.members`: K MLPs over the one deep input, each trained on its own loss (its logit: the bias, the wide
part and its MLP), the model's logit their mean (the packed ensemble of Gorishniy et al., 2024, "TabM")."""

from __future__ import annotations

import polars as pl
import torch
import torch.nn.functional as F
import yaml

from wdcli.draft.render import _members
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


def _member(model: WideDeep, x: torch.Tensor, j: int) -> torch.Tensor:
    """Member j's deep output [B], from its own block of the packed weights, as one MLP computes it."""
    m, h0 = model.members, model.cfg.hidden[0]
    h = torch.relu(x @ m.first.weight[j * h0 : (j + 1) * h0].T + m.first.bias[j * h0 : (j + 1) * h0])
    for w, b in zip(m.weight, m.bias):
        h = torch.relu(h @ w[j] + b[j])
    return h @ m.out[j]


def test_the_models_logit_is_the_mean_of_its_members_each_the_wide_part_plus_its_own_mlp():
    _, _, cfg, enc = _tiny("deep.members=3")
    torch.manual_seed(0)
    model = WideDeep(cfg).eval()
    with torch.no_grad():
        model.wide.weight.normal_()  # (the wide part starts at zero: give it something to add)
        sparse, bags, dense = _inputs(enc)
        each = model.member_logits(sparse, bags, dense)
        x = model.deep_input(sparse, bags, dense)
        deep = torch.stack([_member(model, x, j) for j in range(3)], dim=1)  # [B, 3]
        shared = each - deep  # the bias and the wide part: the same in every member
        assert each.shape == (len(enc.sparse), 3) and torch.allclose(shared, shared[:, :1].expand(-1, 3), atol=1e-6)
        assert not torch.allclose(deep[:, 0], deep[:, 1])  # (each member started from weights of its own)
        assert torch.allclose(model.logits(sparse, bags, dense), each.mean(dim=1))


def test_members_are_as_many_mlps_as_they_say_and_one_member_is_the_model_as_before():
    _, _, one, _ = _tiny()
    _, _, three, _ = _tiny("deep.members=3")
    torch.manual_seed(0)
    a = WideDeep(one)
    b = WideDeep(three)
    assert not any(n.startswith("members.") for n in a.state_dict())  # (one member: the paper's mlp and out)
    assert three.param_counts()["mlp"] == 3 * one.param_counts()["mlp"]
    assert sum(p.numel() for n, p in b.named_parameters() if n.startswith("members.")) == three.param_counts()["mlp"]
    first, fanin = b.members.first.weight, b.layout.width  # (each member's weights start at one MLP's scale)
    assert abs(first.std().item() * fanin**0.5 - 1) < 0.05


def test_each_member_learns_from_its_own_loss_not_from_the_loss_of_the_mean():
    """The loss is the mean over members of each one's log loss, and a member's own weights take the gradient of
    its own loss whole (as one MLP trained alone: the mean's 1/K made up), the shared bias the mean of theirs
    (the loss of the mean logit would give the member another). Checked against the gradients written out: of
    member j's output weights, mean_b (sigmoid(z_bj) - y_b) h_bj; of the bias, the mean of that over j."""
    _, _, cfg, enc = _tiny("deep.members=2")
    torch.manual_seed(0)
    model = WideDeep(cfg)
    sparse, bags, dense = _inputs(enc)
    label = torch.from_numpy(enc.label).float()
    logits, y, w, k = _by_member(model.member_logits(sparse, bags, dense), label, None)
    F.binary_cross_entropy_with_logits(logits, y, weight=w).backward()
    with torch.no_grad():
        x, m = model.deep_input(sparse, bags, dense), model.members
        error = torch.sigmoid(model.member_logits(sparse, bags, dense)) - label.unsqueeze(1)  # [B, K]
        h0 = cfg.hidden[0]
        for j in range(k):
            h = torch.relu(x @ m.first.weight[j * h0 : (j + 1) * h0].T + m.first.bias[j * h0 : (j + 1) * h0])
            h = torch.relu(h @ m.weight[0][j] + m.bias[0][j])  # [B, h1]: member j's last hidden layer
            assert torch.allclose(m.out.grad[j], (error[:, j : j + 1] * h).mean(0), atol=1e-6)
        assert torch.allclose(model.bias.grad, error.mean(), atol=1e-6) and k == 2


def test_a_warm_start_carries_members_as_many_as_before_and_else_starts_them_fresh():
    first = train(load_spec(SPECS / "tiny.yaml", [*BASE, "deep.members=2", "deep.embed=[education, occupation]"]))
    spec, fitted, cfg, _ = _tiny("deep.members=2", "deep.embed=[education, native-country, occupation]")
    torch.manual_seed(0)
    model = WideDeep(cfg)
    fresh = model.members.first.weight.detach().clone()
    report = warm_start(previous_of(first), model, make_optimizers(model, spec.train), fitted)
    assert report.mlp == "the first layer copied, 3 of 3 other parts, in 2 members", report.mlp
    old_cols = {c: j for j, c in enumerate(first.config.layout.columns())}
    pairs = [(j, old_cols[c]) for j, c in enumerate(model.layout.columns()) if c in old_cols]
    w, old_w = model.members.first.weight, first.model.members.first.weight
    assert len(pairs) < w.shape[1] and all(torch.equal(w[:, j], old_w[:, i]) for j, i in pairs)
    new = [j for j in range(w.shape[1]) if j not in dict(pairs)]  # native-country's columns: fresh
    assert new and torch.equal(w[:, new], fresh[:, new])
    assert torch.equal(model.members.out, first.model.members.out)
    spec, fitted, cfg, _ = _tiny("deep.members=3")
    model = WideDeep(cfg)
    report = warm_start(previous_of(first), model, make_optimizers(model, spec.train), fitted)
    assert report.mlp == "fresh (members: 2 before, 3 now)"


def test_init_leaves_members_at_one_and_says_what_they_did_on_the_benchmark():
    text = "\n".join(_members())
    assert yaml.safe_load(text) is None and "members: 8" in text and "-0.003 to +0.003" in text


def test_members_score_no_rows_and_warm_start_from_members_without_hidden_layers():
    _, _, cfg, enc = _tiny("deep.members=3", "deep.batch_norm=true", "deep.hidden=[8, 4, 2]")
    sparse, bags, dense = _inputs(enc)
    assert WideDeep(cfg).eval().member_logits(sparse[:0], bags, dense[:0]).shape == (0, 3)
    first = train(load_spec(SPECS / "tiny.yaml", [*BASE, "deep.members=2", "deep.hidden=[]"]))
    spec, fitted, cfg, _ = _tiny("deep.members=2", "deep.hidden=[8]")
    model = WideDeep(cfg)
    report = warm_start(previous_of(first), model, make_optimizers(model, spec.train), fitted)
    assert report.mlp.startswith("the first layer fresh"), report.mlp
