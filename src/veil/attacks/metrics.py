"""How well a membership attack separates members from non-members, and what DP allows it.

A membership attack gives each candidate a score (higher: "more likely a member"). Its ROC
curve, the area under it and above all its true-positive rate at a *low* false-positive rate
(Carlini et al. 2022: an attack that confidently identifies a few people matters, an average
one does not) are reported with percentile-bootstrap intervals: at 0.1 % FPR of 8,000
non-members the rate rests on 8 points, so the interval is part of the answer.

(epsilon, delta)-DP bounds every attack: at false-positive rate ``a`` the true-positive rate is
at most ``min(e^eps a + delta, 1 - e^-eps (1 - delta - a))`` (Kairouz et al. 2015), which is
what a DP model's measured rates are checked against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from veil.errors import InputError

__all__ = ["LOW_FPR", "Roc", "dp_tpr_bound", "roc"]

LOW_FPR = (0.01, 0.001)
_GRID = np.unique(np.concatenate([np.geomspace(1e-4, 1.0, 161), np.linspace(0, 1, 101)]))


def dp_tpr_bound(fpr: float, epsilon: float, delta: float) -> float:
    """The highest true-positive rate any attack can reach at ``fpr`` on an
    (epsilon, delta)-DP mechanism."""
    return float(min(1.0, math.exp(epsilon) * fpr + delta,
                     1.0 - math.exp(-epsilon) * (1.0 - delta - fpr)))


def _tpr_at(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """The best true-positive rate at a false-positive rate of at most ``target``."""
    return float(tpr[np.searchsorted(fpr, target, side="right") - 1])


def _measure(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUC, then the TPR at each of ``LOW_FPR``."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return np.array([roc_auc_score(labels, scores), *(_tpr_at(fpr, tpr, a) for a in LOW_FPR)])


@dataclass(frozen=True)
class Roc:
    """An attack's ROC with its headline figures and their bootstrap intervals."""

    auc: float
    tpr: dict[float, float]  # false-positive rate -> true-positive rate
    intervals: dict[str, tuple[float, float]]  # "auc", "tpr@0.01"... -> (low, high)
    members: int
    non_members: int
    curve: list[tuple[float, float]] = field(repr=False)  # (fpr, tpr) on a log-spaced grid
    confidence: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return {"auc": self.auc, "tpr_at_fpr": {str(a): t for a, t in self.tpr.items()},
                "intervals": {k: list(v) for k, v in self.intervals.items()},
                "members": self.members, "non_members": self.non_members,
                "confidence": self.confidence, "curve": [list(p) for p in self.curve]}


def roc(member_scores: np.ndarray, non_member_scores: np.ndarray, *, bootstrap: int = 200,
        confidence: float = 0.95, seed: int = 0) -> Roc:
    """ROC, AUC and TPR at 1 % and 0.1 % FPR of an attack's scores, with percentile-bootstrap
    intervals (members and non-members resampled separately, ``bootstrap`` times)."""
    members = np.asarray(member_scores, np.float64)
    others = np.asarray(non_member_scores, np.float64)
    if len(members) < 2 or len(others) < 2:
        raise InputError("an attack needs at least two members and two non-members to score")
    if not (np.isfinite(members).all() and np.isfinite(others).all()):
        raise InputError("attack scores must be finite")
    scores = np.concatenate([members, others])
    labels = np.concatenate([np.ones(len(members)), np.zeros(len(others))])
    point = _measure(labels, scores)
    rng = np.random.default_rng(seed)
    draws = np.array([_measure(labels, np.concatenate([
        rng.choice(members, len(members)), rng.choice(others, len(others))]))
        for _ in range(bootstrap)])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    names = ["auc", *(f"tpr@{a:g}" for a in LOW_FPR)]
    fpr, tpr, _ = roc_curve(labels, scores)
    curve = [(float(a), _tpr_at(fpr, tpr, a)) for a in _GRID]
    return Roc(float(point[0]), {a: float(t) for a, t in zip(LOW_FPR, point[1:], strict=True)},
               {n: (float(lo), float(hi)) for n, lo, hi in zip(names, low, high, strict=True)},
               len(members), len(others), curve, confidence)
