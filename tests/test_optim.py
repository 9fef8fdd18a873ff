"""FTRL-Proximal against a plain per-coordinate reference of McMahan et al. (2013), Algorithm 1, at batch 1
and at batch 16; FTRL and AdaGrad on per-example sums (the same update whatever the batch size); the sparse
optimizers' lazy weight decay and momentum."""

import math

import pytest
import torch

from wdcli.model.optim import FTRL, Adagrad, step_all


def reference_ftrl(grads, alpha, beta, l1, l2, dim):
    """Algorithm 1 of the paper, one coordinate at a time, in plain Python floats."""
    z, n, w = [0.0] * dim, [0.0] * dim, [0.0] * dim
    for g in grads:  # g: dict coordinate -> gradient of this step
        for i, gi in g.items():
            sigma = (math.sqrt(n[i] + gi * gi) - math.sqrt(n[i])) / alpha
            z[i] += gi - sigma * w[i]
            n[i] += gi * gi
            if abs(z[i]) <= l1:
                w[i] = 0.0
            else:
                w[i] = -(z[i] - math.copysign(l1, z[i])) / ((beta + math.sqrt(n[i])) / alpha + l2)
    return w


def _logistic_problem(seed=0, steps=60, dim=12):
    """Sparse logistic regression: a few informative coordinates, the rest noise."""
    g = torch.Generator().manual_seed(seed)
    true_w = torch.zeros(dim)
    true_w[:3] = torch.tensor([2.0, -1.5, 1.0])
    batches = []
    for _ in range(steps):
        ids = torch.randint(0, dim, (16, 3), generator=g)
        y = (torch.rand(16, generator=g) < torch.sigmoid(true_w[ids].sum(1))).float()
        batches.append((ids, y))
    return batches


def test_ftrl_matches_reference_with_sparse_updates():
    alpha, beta, l1, l2, dim = 0.3, 1.0, 8.0, 0.1, 12
    emb = torch.nn.Embedding(dim, 1, sparse=True)
    torch.nn.init.zeros_(emb.weight)
    opt = FTRL([emb.weight], alpha, beta, l1, l2)
    ref_w = [0.0] * dim
    history = []
    for ids, y in _logistic_problem(steps=200):
        # gradient at the reference's current weights (equal to the module's, checked below)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(emb(ids).sum((1, 2)), y, reduction="sum")
        opt.zero_grad()
        loss.backward()
        dense_grad = emb.weight.grad.to_dense()[:, 0]
        touched = {int(i) for i in ids.unique()}
        history.append({i: float(dense_grad[i]) for i in touched})
        opt.step()
        ref_w = reference_ftrl(history, alpha, beta, l1, l2, dim)
        assert torch.allclose(emb.weight[:, 0].detach(), torch.tensor(ref_w), atol=1e-5)
    w = emb.weight[:, 0].detach()
    assert (w == 0).sum() >= 3, "L1 drives weak (noise) weights to exactly zero"
    assert w[0] > 0 and w[1] < 0, "the informative weights survive with the right sign"


def test_ftrl_at_batch_16_is_the_reference_on_summed_gradients():
    """The trainer's loss is a batch mean; told the batch size, FTRL takes the step of the paper's algorithm on
    the per-example sum of the batch's gradients, so beta, l1 and l2 keep their per-example meaning."""
    alpha, beta, l1, l2, dim = 0.3, 1.0, 8.0, 0.1, 12
    emb = torch.nn.Embedding(dim, 1, sparse=True)
    torch.nn.init.zeros_(emb.weight)
    opt = FTRL([emb.weight], alpha, beta, l1, l2)
    history = []
    for ids, y in _logistic_problem(seed=1, steps=120):
        logits = emb(ids).sum((1, 2))
        summed = torch.autograd.grad(
            torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="sum"),
            emb.weight,
            retain_graph=True,
        )[0]
        touched = {int(i) for i in ids.unique()}
        history.append({i: float(summed.to_dense()[i, 0]) for i in touched})
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(logits, y).backward()  # the mean, as trained
        step_all([opt], examples=len(y))
        ref_w = reference_ftrl(history, alpha, beta, l1, l2, dim)
        assert torch.allclose(emb.weight[:, 0].detach(), torch.tensor(ref_w), atol=1e-5)
    assert (emb.weight == 0).sum() >= 3


@pytest.mark.parametrize(
    "make",
    [
        lambda p: FTRL(p, alpha=0.2, beta=1.0, l1=0.5, l2=0.1),
        lambda p: Adagrad(p, lr=0.1, initial_accumulator=0.1, weight_decay=0.01),
    ],
    ids=["ftrl", "adagrad"],
)
def test_a_batch_of_distinct_rows_updates_as_its_examples_one_at_a_time(make):
    """Batch-size invariance: when a batch's examples touch distinct rows, one step at batch B gives the very
    weights of B steps at batch 1 (a batch-mean gradient used as it is would move each row B times less)."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randperm(64, generator=g)[:32].view(8, 4)  # 8 examples, 4 ids each, all distinct
    y = (torch.rand(8, generator=g) < 0.5).float()
    weights = []
    for batch in (8, 1):
        torch.manual_seed(0)
        emb = torch.nn.Embedding(64, 1, sparse=True)
        start = emb.weight.detach().clone()
        opt = make([emb.weight])
        for _ in range(3):  # three epochs
            for at in range(0, 8, batch):
                opt.zero_grad()
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    emb(ids[at : at + batch]).sum((1, 2)), y[at : at + batch]
                )
                loss.backward()
                step_all([opt], examples=batch)
        weights.append(emb.weight.detach().clone())
    assert torch.allclose(weights[0], weights[1], atol=1e-6)
    assert (weights[0] != start).sum() == 32, "the touched rows moved, and only they"


def test_ftrl_untouched_rows_stay_put():
    emb = torch.nn.Embedding(100, 1, sparse=True)
    torch.nn.init.zeros_(emb.weight)
    opt = FTRL([emb.weight], 0.1, 1.0, 0.0, 0.0)
    emb(torch.tensor([[3, 7]])).sum().backward()
    opt.step()
    changed = (emb.weight[:, 0] != 0).nonzero().flatten().tolist()
    assert changed == [3, 7]
    assert opt.state[emb.weight]["n"][50].item() == 0.0


def test_adagrad_sparse_equals_dense():
    torch.manual_seed(0)
    a = torch.nn.Embedding(20, 4, sparse=True)
    b = torch.nn.Embedding(20, 4, sparse=False)
    b.weight.data.copy_(a.weight.data)
    oa, ob = Adagrad([a.weight], lr=0.1), Adagrad([b.weight], lr=0.1)
    for _step in range(5):
        ids = torch.randint(0, 20, (8, 3))
        for emb, opt in ((a, oa), (b, ob)):
            opt.zero_grad()
            (emb(ids) ** 2).sum().backward()
            opt.step()
    # untouched rows differ only in never having been updated; touched rows must match exactly
    assert torch.allclose(a.weight, b.weight, atol=1e-6)


def _sparse_step(opt_factory, rows=(1, 3)):
    """One step of an optimizer on a sparse table where only `rows` got a gradient; returns (before, after)."""
    emb = torch.nn.Embedding(6, 2, sparse=True)
    torch.nn.init.constant_(emb.weight, 1.0)
    opt = opt_factory([emb.weight])
    emb(torch.tensor(list(rows))).sum().mul(0.0).backward()  # a zero gradient: only weight decay moves rows
    before = emb.weight.detach().clone()
    opt.step()
    return before, emb.weight.detach()


def test_weight_decay_and_momentum_are_not_ignored_on_sparse_tables():
    """Weight decay and momentum act on the rows a batch touched (lazily), and only on them."""
    from wdcli.model.optim import SparseAdam, SparseSGD

    for factory in (
        lambda p: Adagrad(p, lr=0.1, weight_decay=0.5),
        lambda p: SparseAdam(p, lr=0.1, weight_decay=0.5),
        lambda p: SparseAdam(p, lr=0.1, weight_decay=0.5, decoupled=True),
    ):
        before, after = _sparse_step(factory)
        assert (after[[1, 3]] < before[[1, 3]]).all(), factory
        assert torch.equal(after[[0, 2, 4, 5]], before[[0, 2, 4, 5]])
    emb = torch.nn.Embedding(4, 1, sparse=True)
    torch.nn.init.zeros_(emb.weight)
    opt = SparseSGD([emb.weight], lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        emb(torch.tensor([2])).sum().backward()  # gradient 1 on row 2, twice
        opt.step()
    assert torch.allclose(emb.weight[2], torch.tensor([-0.1 - 0.1 * 1.9]))  # v = 1, then 0.9 + 1
    assert emb.weight[[0, 1, 3]].abs().sum() == 0


@pytest.mark.parametrize(
    "settings,after",
    [
        # AdaGrad: g = wd * w = 0.5; sum = 0.1 + 0.25; w = 1 - 0.1 * 0.5 / sqrt(0.35)
        ({"name": "adagrad", "lr": 0.1, "weight_decay": 0.5}, 1 - 0.1 * 0.5 / math.sqrt(0.35)),
        # Adam, decay in the gradient: g = 0.5; the first step moves w by lr * g / |g| = 0.1
        ({"name": "adam", "lr": 0.1, "weight_decay": 0.5}, 0.9),
        # AdamW, decoupled: no gradient, no step; w *= 1 - lr * wd
        ({"name": "adamw", "lr": 0.1, "weight_decay": 0.5}, 0.95),
    ],
    ids=["adagrad", "adam-coupled", "adamw-decoupled"],
)
def test_weight_decay_gives_the_values_its_rule_derives(settings, after):
    """One step from w = 1 with a zero gradient, on a sparse table's touched rows and on a dense parameter, as
    the train section's optimizers are built: each rule's exact value (coupled and decoupled decay differ)."""
    from pydantic import TypeAdapter

    from wdcli.model.optim import _make
    from wdcli.spec.settings import Optimizer

    emb = torch.nn.Embedding(6, 2, sparse=True)
    dense = torch.nn.Parameter(torch.ones(3))
    torch.nn.init.constant_(emb.weight, 1.0)
    opts = _make([emb.weight, dense], TypeAdapter(Optimizer).validate_python(settings), {id(emb.weight)})
    (emb(torch.tensor([1, 3])).sum() * 0.0 + (dense * 0.0).sum()).backward()
    step_all(opts, 1)
    assert torch.allclose(emb.weight[[1, 3]], torch.full((2, 2), after), atol=1e-6), emb.weight
    assert torch.equal(emb.weight[[0, 2, 4, 5]], torch.ones(4, 2))  # untouched rows: no decay
    assert torch.allclose(dense.detach(), torch.full((3,), after), atol=1e-6), dense


OPTIMIZERS = {  # the train section's optimizers, as make_optimizers builds them
    "ftrl": {"name": "ftrl"},
    "adagrad": {"name": "adagrad"},
    "adam": {"name": "adam", "lr": 0.01},
    "adamw": {"name": "adamw", "lr": 0.01, "weight_decay": 0.1},
    "sgd": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
}


def _model_and_optimizers(name: str):
    from wdcli.model.optim import make_optimizers
    from wdcli.model.plan import ModelConfig, SparseInput, Table
    from wdcli.model.widedeep import WideDeep
    from wdcli.spec.types import Train

    cfg = ModelConfig(
        "wide_deep",
        wide=[SparseInput("a", 5, 0)],
        deep=[SparseInput("a", 5, 0)],
        tables=[Table("a", 5, 3, ["a"])],
        dense=[0],
        hidden=[4],
        dense_names=["x"],
    )
    torch.manual_seed(0)
    model = WideDeep(cfg)
    train = Train.model_validate({"wide_optimizer": OPTIMIZERS[name], "deep_optimizer": OPTIMIZERS[name]})
    return model, make_optimizers(model, train)


def _steps(model, optimizers, n: int, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        sparse, dense = torch.randint(0, 5, (8, 1), generator=g), torch.randn(8, 1, generator=g)
        y = (torch.rand(8, generator=g) < 0.5).float()
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(sparse, {}, dense), y)
        loss.backward()
        step_all(optimizers, 8)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_started_before_the_first_step_is_the_state_the_step_starts(name):
    """Each optimizer starts a parameter's state in one function (`fresh_state`), which its first step and a
    warm start (`init_state`) both use: starting it early changes nothing."""
    from wdcli.model.optim import init_state, optimizer_state

    a, opts_a = _model_and_optimizers(name)
    b, opts_b = _model_and_optimizers(name)
    for opt in opts_b:
        init_state(opt)
    _steps(a, opts_a, 3)
    _steps(b, opts_b, 3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    sa, sb = optimizer_state(a, opts_a), optimizer_state(b, opts_b)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_state_by_parameter_name_restores_the_very_next_steps(name):
    """The one encoding (`<parameter>.<key>`) that checkpoints and artifacts hold restores every optimizer
    exactly: the steps after it are those of a run that never stopped."""
    from wdcli.model.optim import load_optimizer_state, optimizer_state

    a, opts_a = _model_and_optimizers(name)
    _steps(a, opts_a, 2)
    saved, weights = optimizer_state(a, opts_a), {k: v.clone() for k, v in a.state_dict().items()}
    assert all(k.split(".")[0] in ("wide", "embed", "mlp", "out", "bias") for k in saved)
    b, opts_b = _model_and_optimizers(name)
    b.load_state_dict(weights)
    load_optimizer_state(b, opts_b, {k: v.clone() for k, v in saved.items()})
    _steps(a, opts_a, 2, seed=2)
    _steps(b, opts_b, 2, seed=2)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
