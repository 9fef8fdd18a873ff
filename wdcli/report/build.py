"""`build_report`: a run's HTML report (and its figures as PNG files).

    report = build_report("runs/census")                   # the run's own test split
    report = build_report("runs/census", split="validation")  # or another of its parts
    report = build_report(None, input="labelled.parquet")  # the latest run, scored on a file

The plots are of scores made now by the run's model (`Scorer`) on its own rows of a part (test by default, else
validation), read again as the run recorded its split (the files refused if they changed since; a run saved
before wdcli kept that record reads them through its spec), or on `--input`; the page says which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from ..artifact import load_split
from ..data.atomic import atomic_file
from ..data.split import load_splits, split_names
from ..errors import DataError, WdcliError, counted
from ..metrics import EpochRecord, evaluate, group_aucs, ranking_metrics
from ..score import Scorer
from ..score.files import Rows, shown
from ..score.inspect import heaviest_wide
from . import html as H
from .curves import curves, reliability
from .runs import find_run

SECTIONS = {
    "metrics": "Metrics",
    "curves": "ROC and precision-recall",
    "calibration": "Calibration",
    "scores": "Scores per class",
    "learning": "Learning curves",
    "wide": "Wide part",
    "groups": "Per-group metrics",
}
K = 10  # the ranking metrics' cut-off, as `wdcli rank`'s default --k
METRIC_KEYS = ["rows", "auc", "logloss", "accuracy", "mean_score", "base_rate", "calibration", "gauc"]


@dataclass
class Report:
    path: Path
    source: str  # where the plotted scores come from
    sections: list[str]
    pngs: list[Path] = field(default_factory=list)


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise WdcliError(
            "wdcli report draws its plots with matplotlib, which is not installed; pip install 'wdcli[report]'"
        ) from None


def scored_rows(scorer: Scorer, input: str | Path | None, split: str | None = None, separator: str | None = None):
    """(frame, where, description) of the rows to plot: --input, else the run's own rows of `split` (default:
    test, else validation)."""
    if input is not None:
        rows = Rows.of(scorer, input, None, separator)
        frame = rows.whole()
        return frame, rows.where, f"{input} (--input, {len(frame):,} rows)"
    record = load_split(scorer.artifact)
    if record is None and split is None:
        return _rows_by_spec(scorer)
    part = split or next((p for p in ("test", "validation") if record is not None and record.has(p)), None)
    if part is None:
        raise DataError("the run has no test or validation rows to plot; pass --input FILE with labelled rows")
    rows = Rows.of(scorer, None, part)
    frame = rows.whole()
    return frame, rows.where, f"the run's {part} split: {shown(rows.paths)}, {len(frame):,} rows"


def _rows_by_spec(scorer: Scorer):
    """A run saved before wdcli recorded its split: its test (else validation) rows, read through its spec."""
    spec = scorer.spec
    try:
        frames, names = load_splits(spec.data), split_names(spec.data)
    except DataError as e:
        raise DataError(
            f"the run's data cannot be read again to plot its test split ({e}); pass --input FILE with labelled rows"
        ) from None
    for split in ("test", "validation"):
        if split in frames and len(frames[split]):
            return frames[split], names[split], f"the run's {split} split: {names[split]}, {len(frames[split]):,} rows"
    raise DataError("the run has no test or validation rows to plot; pass --input FILE with labelled rows")


def build_report(
    model: str | Path | Scorer | None = None,
    output: str | Path | None = None,
    png_dir: str | Path | None = None,
    input: str | Path | None = None,
    top: int = 15,
    runs: str | Path = "runs",
    split: str | None = None,
    separator: str | None = None,
) -> Report:
    """Write the report of a run (as `find_run` takes it, or its Scorer loaded; default: the latest) to `output`
    (default: report.html in the run's folder), plotting `input`'s rows or the run's own of a part (`split`;
    default: test, else validation)."""
    require_matplotlib()
    from . import figures as F

    scorer = model if isinstance(model, Scorer) else Scorer.load(find_run(model, runs))
    art, spec = scorer.artifact, scorer.spec
    frame, where, source = scored_rows(scorer, input, split, separator)
    y, w, group = scorer.labels(frame, where)
    p = scorer.score(frame, where)
    if len(np.unique(y)) < 2:
        raise DataError(f"{where}: the rows hold one class only; the curves need both")
    m = evaluate(y, p, w, group)
    show = _Shown(png_dir)
    c, r = curves(y, p), reliability(y, p)
    calibration = f"Mean score / base rate: {m['calibration']:.4f}; expected calibration error {r.ece:.4f}."
    secs = [
        ("metrics", SECTIONS["metrics"], _metrics(art.metrics.splits, m, source)),
        ("curves", SECTIONS["curves"], show("curves", F.roc_pr(c, m["auc"], m["base_rate"]))),
        ("calibration", SECTIONS["calibration"], show("calibration", F.calibration(r)) + H.note(calibration)),
        ("scores", SECTIONS["scores"], show("scores", F.score_histogram(y, p))),
        ("learning", SECTIONS["learning"], _learning(art.metrics.history, show, F)),
        ("wide", SECTIONS["wide"], _wide(art, top, show, F)),
    ]
    if group is not None:
        assert spec.label.group is not None  # labels() gives groups only of the spec's group column
        secs.append(("groups", SECTIONS["groups"], _groups(y, p, group, m["gauc"], spec.label.group, show, F)))
    output = Path(output) if output is not None else art.path / "report.html"
    lines = [
        f"run {art.path} · model {spec.model} · {art.config.param_counts()['total']:,} parameters · "
        f"{counted(art.metrics.epochs, 'epoch')} in {art.metrics.seconds:.1f} s",
        f"plots: {source}",
        f"written {time.strftime('%Y-%m-%d %H:%M:%S')} by wdcli report",
    ]
    text = H.page(f"wdcli report: {spec.name}", lines, secs)
    with atomic_file(output) as tmp:  # (a failed write leaves no stray file)
        tmp.write_text(text, encoding="utf-8")
    return Report(output, source, [i for i, _, _ in secs], show.pngs)


class _Shown:
    """A figure inline (SVG), and as <png_dir>/<name>.png when asked."""

    def __init__(self, png_dir: str | Path | None):
        self.png_dir = png_dir
        self.pngs: list[Path] = []
        if png_dir is not None:
            Path(png_dir).mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str, fig) -> str:
        from . import figures as F

        if self.png_dir is not None:
            self.pngs.append(Path(self.png_dir) / f"{name}.png")
            F.png(fig, self.pngs[-1])
        return H.figure(F.svg(fig, name))


def _metrics(saved: dict[str, dict], now: dict, source: str) -> str:
    splits = {**saved, "plotted rows (now)": now}
    keys = [k for k in METRIC_KEYS if any(k in v for v in splits.values())]
    return H.table(["split", *keys], [[s, *[v.get(k, "") for k in keys]] for s, v in splits.items()]) + H.note(
        "The splits' figures are those saved when the run was trained; 'plotted rows' are the "
        f"rows plotted below, scored now: {source}."
    )


def _learning(history: list[EpochRecord], show, F) -> str:
    if not history:
        return H.note("This run saved no per-epoch history.")
    rows = [r.to_json() for r in history]
    columns = [k for k in rows[-1] if k not in ("epoch", "best")]
    table = H.table(["epoch", *columns], [[r["epoch"], *[r.get(k, "") for k in columns]] for r in rows])
    return show("learning", F.learning_curves(history)) + table


def _groups(y, p, group, gauc: float, column: str, show, F) -> str:
    aucs, sizes, n = group_aucs(y, p, group)
    shown = show("groups", F.group_distribution(aucs, sizes, gauc)) if len(aucs) else ""
    ranked = pl.DataFrame({"g": group, "score": p}).with_columns(
        rank=pl.col("score").rank("ordinal", descending=True).over("g")  # (as `wdcli rank` orders them)
    )
    r = ranking_metrics(ranked, "g", y, K)
    ranks = (
        f" Ranked within each, over the {r['groups_with_positives']:,} with a positive: NDCG@{K} {r[f'ndcg@{K}']:.4f}, "
        f"MAP {r['map']:.4f}, MRR {r['mrr']:.4f}."
        if r["groups_with_positives"]
        else ""
    )
    return shown + H.note(
        f"{column}: {n:,} groups, {len(aucs):,} with both classes; gAUC (their AUCs weighted by "
        f"size) {gauc:.4f}; median group AUC {np.median(aucs) if len(aucs) else float('nan'):.4f}.{ranks}"
    )


def _wide(art, top: int, show, F) -> str:
    if not art.config.wide:
        return H.note(f"This model ({art.spec.model}) has no wide part.")
    rows = heaviest_wide(art, top)
    parts = []
    for key, title in (("cross", "Heaviest crosses"), ("single", "Heaviest single values")):
        if rows.of(key):
            parts.append(show(f"wide_{key}", F.wide_weights(rows.of(key), title)))
    out = "".join(parts)
    body = [[f"{w:+.4f}", kind, name] for kind in ("cross", "single") for w, name in rows.of(kind)]
    out += H.table(["weight", "kind", "feature = value"], body, name_columns=(2,))
    total = art.config.wide_size
    opt = art.spec.train.wide_optimizer
    why = " (FTRL's L1 keeps the rest at zero)" if opt.name == "ftrl" and opt.l1 > 0 else ""
    return out + H.note(f"Non-zero wide weights: {rows.nonzero:,} of {total:,}{why}.")
