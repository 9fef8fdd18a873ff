"""The report's figures, drawn with matplotlib's object API (no pyplot: no global state, no display), each
returned as a `Figure` to be written as inline SVG or as PNG."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from ..metrics import EpochRecord
from .curves import Curves, Reliability

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#7f7f7f"
STYLE: dict[RcKeyType, Any] = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def svg(fig: Figure, name: str) -> str:
    """The figure as an <svg> element; ids are salted with the name so that figures on one page never clash."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": name}):
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def png(fig: Figure, path) -> None:
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig.savefig(path, format="png", dpi=120)


def roc_pr(c: Curves, auc: float, base_rate: float) -> Figure:
    fig = _figure(8, 3.4)
    roc, pr = fig.subplots(1, 2)
    roc.plot(c.fpr, c.tpr, color=BLUE, label=f"model (AUC {auc:.4f})")
    roc.plot([0, 1], [0, 1], color=GREY, linestyle="--", label="chance (AUC 0.5)")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve", xlim=(0, 1), ylim=(0, 1.01))
    roc.legend(loc="lower right")
    pr.plot(c.recall, c.precision, color=BLUE, label=f"model (AP {c.average_precision:.4f})")
    pr.axhline(base_rate, color=GREY, linestyle="--", label=f"base rate {base_rate:.3f}")
    pr.set(xlabel="recall", ylabel="precision", title="Precision-recall curve", xlim=(0, 1), ylim=(0, 1.01))
    pr.legend(loc="upper right")
    return fig


def calibration(r: Reliability) -> Figure:
    fig = _figure(8, 3.4)
    ax, hist = fig.subplots(1, 2, width_ratios=[1.3, 1])
    top = max(float(r.predicted.max(initial=0)), float(r.observed.max(initial=0)), 0.05) * 1.05
    ax.plot([0, top], [0, top], color=GREY, linestyle="--", label="perfectly calibrated")
    ax.plot(r.predicted, r.observed, marker="o", color=BLUE, label=f"model (ECE {r.ece:.4f})")
    ax.set(
        xlabel="mean score in bin",
        ylabel="observed positive rate",
        title="Reliability (10 bins of equal rows)",
        xlim=(0, top),
        ylim=(0, top),
    )
    ax.legend(loc="upper left")
    hist.bar(
        np.arange(len(r.count)) + 1,
        r.observed - r.predicted,
        color=[BLUE if d >= 0 else ORANGE for d in r.observed - r.predicted],
    )
    hist.axhline(0, color=GREY)
    hist.set(xlabel="bin (lowest scores first)", ylabel="observed - predicted", title="Gap per bin")
    return fig


def score_histogram(y: np.ndarray, p: np.ndarray) -> Figure:
    fig = _figure(8, 3.0)
    ax = fig.subplots()
    bins = np.linspace(0, 1, 41)
    ax.hist(
        p[y < 0.5],
        bins=bins.tolist(),
        density=True,
        alpha=0.6,
        color=BLUE,
        label=f"negatives ({int((y < 0.5).sum()):,})",
    )
    ax.hist(
        p[y >= 0.5],
        bins=bins.tolist(),
        density=True,
        alpha=0.6,
        color=ORANGE,
        label=f"positives ({int((y >= 0.5).sum()):,})",
    )
    ax.set(xlabel="score", ylabel="density", title="Scores per class", xlim=(0, 1))
    ax.legend(loc="upper center")
    return fig


def learning_curves(history: list[EpochRecord]) -> Figure:
    fig = _figure(8, 3.2)
    loss, auc = fig.subplots(1, 2)
    epochs = [h.epoch for h in history]
    loss.plot(epochs, [h.train_loss for h in history], marker=".", color=BLUE, label="train loss (running)")
    monitor = next((h.split for h in history if h.auc is not None), None)

    def figure(split: str, name: str) -> list[float]:
        return [np.nan if (v := h.figure(split, name)) is None else v for h in history]

    if monitor:
        loss.plot(epochs, figure(monitor, "logloss"), marker=".", color=ORANGE, label=f"{monitor} log loss")
        auc.plot(epochs, figure(monitor, "auc"), marker=".", color=ORANGE, label=f"{monitor} AUC")
        if any(h.gauc is not None for h in history):
            auc.plot(epochs, figure(monitor, "gauc"), marker=".", color=BLUE, label=f"{monitor} gAUC")
    best = [h.epoch for h in history if h.best]
    for ax in (loss, auc):
        if best:
            ax.axvline(best[-1], color=GREY, linestyle=":", label=f"kept: epoch {best[-1]}")
        ax.set(xlabel="epoch")
        ax.legend(loc="best")
    loss.set(ylabel="log loss", title="Loss per epoch")
    auc.set(ylabel="AUC", title="AUC per epoch")
    return fig


def wide_weights(rows: list[tuple[float, str]], title: str) -> Figure:
    fig = _figure(8, 0.3 * len(rows) + 0.9)
    ax = fig.subplots()
    weights = [w for w, _ in rows][::-1]
    names = [n if len(n) <= 60 else n[:57] + "..." for _, n in rows][::-1]
    ax.barh(np.arange(len(rows)), weights, color=[BLUE if w >= 0 else ORANGE for w in weights])
    ax.set_yticks(np.arange(len(rows)), names)
    ax.axvline(0, color=GREY)
    ax.set(xlabel="wide weight (log-odds)", title=title)
    return fig


def group_distribution(aucs: np.ndarray, sizes: np.ndarray, gauc: float) -> Figure:
    fig = _figure(8, 3.0)
    ax, sz = fig.subplots(1, 2)
    ax.hist(aucs, bins=np.linspace(0, 1, 21), color=BLUE)
    ax.axvline(gauc, color=ORANGE, label=f"gAUC {gauc:.4f}")
    ax.set(xlabel="AUC within the group", ylabel="groups", title=f"AUC per group ({len(aucs):,} with both classes)")
    ax.legend(loc="upper left")
    sz.hist(sizes, bins=min(30, max(int(sizes.max(initial=1) - sizes.min(initial=0)) + 1, 1)), color=GREY)
    sz.set(xlabel="rows in the group", ylabel="groups", title="Sizes of those groups")  # (the AUC's groups)
    return fig
