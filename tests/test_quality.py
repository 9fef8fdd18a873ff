"""A floor on model quality, in seconds: the shipped census and apps specs, trained briefly, reach a test AUC
and a test log loss that a model learns only if each part trains, alone and together. A part that does not
learn (a frozen optimizer: its weights barely move, or FTRL's step 1e-9 of what it should be) fails its floor.

AUC alone is not enough: FTRL with a step 1e-9 of its size still ranks the census rows at AUC 0.85 (the
weights are tiny but ordered), while every score stays at 0.5 (log loss 0.69). Each floor is both.

The figures each case reached when its floor was set (CPU, torch 2.13) are in FLOORS' comments; the floors sit
below them with a margin for other machines' float rounding, and above what a part that learns nothing, or
(apps, joint model) only one of the two parts, reaches."""

from __future__ import annotations

import pytest

from wdcli.spec import load_spec
from wdcli.train import train

from .conftest import SPECS

QUICK = {  # a short training of each shipped spec
    "census": ["train.max_rows=10000", "train.epochs=2", "train.batch_size=256", "wide.features=null"],
    # (census's wide part holds only its crosses; alone it is given every column, as the paper's wide model)
    "apps": [
        "train.epochs=3",
        "train.batch_size=1024",
        "train.wide_optimizer.alpha=0.2",
        "train.deep_optimizer.lr=0.1",
    ],
}
FLOORS = {  # (dataset, model): (test AUC at least, test log loss at most)
    ("census", "wide"): (0.88, 0.40),  # reached 0.8933, 0.3687
    ("census", "deep"): (0.88, 0.40),  # 0.9138, 0.3067
    ("census", "wide_deep"): (0.88, 0.40),  # 0.9143, 0.3051
    ("apps", "wide"): (0.71, 0.40),  # 0.7339, 0.3817
    ("apps", "deep"): (0.70, 0.40),  # 0.7208, 0.3904
    ("apps", "wide_deep"): (0.745, 0.385),  # 0.7606, 0.3699: above either part alone, as the paper's
}


def quality(dataset: str, model: str, *more: str) -> tuple[float, float]:
    overrides = [f"model={model}", "train.checkpoint.enabled=false", "train.threads=1", *QUICK[dataset], *more]
    metrics = train(load_spec(SPECS / f"{dataset}.yaml", overrides)).metrics
    return metrics.metric("auc", "test"), metrics.metric("logloss", "test")


@pytest.mark.parametrize("dataset,model", list(FLOORS), ids=[f"{d}-{m}" for d, m in FLOORS])
def test_each_part_and_the_joint_model_reach_their_floor(dataset, model):
    least_auc, most_logloss = FLOORS[dataset, model]
    auc, logloss = quality(dataset, model)
    assert auc >= least_auc and logloss <= most_logloss, (auc, logloss)


FROZEN = {  # a part that does not learn, and what the case reached with it
    "census-wide": ("census", "wide", "train.wide_optimizer.alpha=1e-9"),  # AUC 0.8501, log loss 0.6931
    "census-deep": ("census", "deep", "train.deep_optimizer.lr=1e-9"),  # 0.4284, 0.5529
    "apps-joint-wide-frozen": ("apps", "wide_deep", "train.wide_optimizer.alpha=1e-9"),  # 0.7238, 0.3893
    "apps-joint-deep-frozen": ("apps", "wide_deep", "train.deep_optimizer.lr=1e-9"),  # 0.7329, 0.3818
}


@pytest.mark.parametrize("case", FROZEN)
def test_a_part_that_does_not_learn_fails_its_floor(case):
    dataset, model, frozen = FROZEN[case]
    least_auc, most_logloss = FLOORS[dataset, model]
    auc, logloss = quality(dataset, model, frozen)
    assert auc < least_auc or logloss > most_logloss, (auc, logloss)
