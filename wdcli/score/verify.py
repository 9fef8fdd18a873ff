"""The verification gate: may a new model replace the one being served? Both score the same labelled rows
(a holdout neither trained on), and each check compares them, with thresholds from the new run's spec
(`verify:`) or given by the caller:

- auc, logloss, gauc (with a group column): the new model is not worse than the baseline by more than a margin;
- calibration: the new model's mean score is within a share of the base rate (or no further than the
  baseline's);
- moved: the share of rows whose score changed by more than `moved_by` is small;
- psi: the population stability index of the new scores against the baseline's (10 bins at the baseline's
  deciles; < 0.1 is commonly read as no shift, > 0.25 as a large one).

    verdict = verify(Scorer.load(new), Scorer.load(old), holdout)      # verdict.passed, verdict.checks
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import ValidationError

from ..data import io
from ..errors import DataError, WdcliError
from ..metrics import evaluate
from ..spec.types import Verify
from .scorer import Scorer


@dataclass(frozen=True)
class Check:
    name: str
    new: float
    baseline: float | None  # the baseline's value, where the check compares with one
    limit: str  # the rule, in words ('>= 0.8512')
    passed: bool


@dataclass(frozen=True)
class Verdict:
    checks: list[Check]
    new: dict  # the new model's metrics on the rows
    baseline: dict
    rows: int

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "rows": self.rows,
            "failed": self.failed,
            "checks": [c.__dict__ for c in self.checks],
            "new": self.new,
            "baseline": self.baseline,
        }


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `actual` against `expected`: sum over bins of (a - e) * ln(a / e), with
    the bins at the expected scores' quantiles (shares smoothed by 1e-4, so an empty bin is finite)."""
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1) / len(expected)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1) / len(actual)
    e, a = e + 1e-4, a + 1e-4
    return float(np.sum((a - e) * np.log(a / e)))


def comparable(new: Scorer, baseline: Scorer) -> None:
    """Raise a DataError when two models do not predict the same thing."""
    a, b = new.spec.label, baseline.spec.label
    if (a.column, a.positive) != (b.column, b.positive):

        def what(label) -> str:
            return f"'{label.column}'" + (f" = {label.positive!r}" if label.positive is not None else "")

        raise DataError(
            f"{new.artifact.path} predicts {what(a)} but the baseline {baseline.artifact.path} predicts "
            f"{what(b)}: they cannot be compared; verify against a run of the same label"
        )


def verify(
    new: Scorer, baseline: Scorer, frame: pl.DataFrame, where: str = "input", thresholds: Verify | None = None
) -> Verdict:
    """Score the rows with both models and apply every check."""
    comparable(new, baseline)
    t = thresholds or new.spec.verify
    y, w, group = new.labels(frame, where)
    if len(y) == 0:
        raise DataError(f"{where}: no rows to verify on")
    s_new, s_old = _scores("new model", new, frame, where), _scores("baseline", baseline, frame, where)
    m_new, m_old = evaluate(y, s_new, w, group), evaluate(y, s_old, w, group)
    # a NaN metric (one class only in the rows) fails its check: the rows cannot vouch for the model
    checks = _metric_checks(t, m_new, m_old, grouped=group is not None) + _shift_checks(t, s_new, s_old)
    return Verdict(checks, m_new, m_old, len(y))


def _scores(role: str, scorer: Scorer, frame: pl.DataFrame, where: str) -> np.ndarray:
    try:
        return scorer.score(frame, where)
    except DataError as e:
        raise DataError(f"{role} {scorer.artifact.path}: {e}") from None


def _metric_checks(t: Verify, m_new: dict, m_old: dict, grouped: bool) -> list[Check]:
    """The new model's metrics against the baseline's: not worse by more than a margin."""
    cal = max(t.max_calibration_error, abs(m_old["calibration"] - 1))  # within the margin, or no worse than before
    checks = [
        Check(
            "auc",
            m_new["auc"],
            m_old["auc"],
            f">= {m_old['auc'] - t.max_auc_drop:.4f}",
            m_new["auc"] >= m_old["auc"] - t.max_auc_drop,
        ),
        Check(
            "logloss",
            m_new["logloss"],
            m_old["logloss"],
            f"<= {m_old['logloss'] + t.max_logloss_increase:.4f}",
            m_new["logloss"] <= m_old["logloss"] + t.max_logloss_increase,
        ),
        Check(
            "calibration",
            m_new["calibration"],
            m_old["calibration"],
            f"within 1 ± {cal:.4g}",
            abs(m_new["calibration"] - 1) <= cal,
        ),
    ]
    if grouped:
        checks.append(
            Check(
                "gauc",
                m_new["gauc"],
                m_old["gauc"],
                f">= {m_old['gauc'] - t.max_gauc_drop:.4f}",
                m_new["gauc"] >= m_old["gauc"] - t.max_gauc_drop,
            )
        )
    return checks


def _shift_checks(t: Verify, s_new: np.ndarray, s_old: np.ndarray) -> list[Check]:
    """How far the scores moved: the share of rows that moved, and the population stability index."""
    moved = float(np.mean(np.abs(s_new - s_old) > t.moved_by))
    index = psi(s_old, s_new)
    return [
        Check(f"moved > {t.moved_by:g}", moved, None, f"<= {t.max_moved_share:g}", moved <= t.max_moved_share),
        Check("psi", index, None, f"<= {t.max_psi:g}", index <= t.max_psi),
    ]


def verify_runs(
    new: str | Path | Scorer,
    baseline: str | Path | Scorer,
    input: str | Path,
    overrides: dict | None = None,
    separator: str | None = None,
) -> Verdict:
    """Verify two runs (folders, or their scorers loaded) on a labelled file; `overrides` replace thresholds of
    the new run's spec; `separator`: the file's, if CSV (default: the new run's data.csv.separator)."""
    a = new if isinstance(new, Scorer) else Scorer.load(new)
    b = baseline if isinstance(baseline, Scorer) else Scorer.load(baseline)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        thresholds = Verify.model_validate({**a.spec.verify.model_dump(), **given})
    except ValidationError as e:
        first = e.errors()[0]
        raise WdcliError(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from None
    frame = io.read_table(input, separator or a.spec.data.csv.separator)
    return verify(a, b, frame, str(input), thresholds)
