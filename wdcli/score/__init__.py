"""Scoring a trained artifact: `Scorer` (score, predict, evaluate, rank in memory), file commands (`files`),
and what the wide part memorized (`inspect`). Nothing here imports training."""

from .scorer import Ranked, Scorer

__all__ = ["Ranked", "Scorer"]
