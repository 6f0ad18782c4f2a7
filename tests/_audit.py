"""Empirical DP audits: a statistically valid lower bound on the epsilon a mechanism spends,
from many of its outputs on two neighbouring inputs (Jagielski et al. 2020; Nasr et al. 2021).

A distinguisher is a threshold test ``output > t`` or ``output <= t``. (epsilon, delta)-DP
says ``P[S | one] <= e^epsilon P[S | other] + delta`` for every event ``S``, so
``log((P[S | one] - delta) / P[S | other])`` is a lower bound on epsilon wherever it is
positive. The threshold and direction are chosen on the first half of each sample and the
bound is computed on the second half with Clopper-Pearson intervals (each one-sided at half
the error, so the bound holds with the asked confidence): a mechanism that keeps its claim
gives a bound above the claim with probability at most ``1 - confidence``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta

__all__ = ["epsilon_lower_bound"]


def _bound(hits: np.ndarray, misses: np.ndarray, n: int, delta: float,
           alpha: float) -> np.ndarray:
    """log((lower CP bound of hits/n - delta) / upper CP bound of misses/n), elementwise."""
    low = np.where(hits > 0, beta.ppf(alpha, np.maximum(hits, 1), n - hits + 1), 0.0)
    high = np.where(misses < n, beta.ppf(1 - alpha, misses + 1, np.maximum(n - misses, 1)),
                    1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(low > delta, np.log((low - delta) / high), -np.inf)


def _events(one: np.ndarray, other: np.ndarray, thresholds: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Counts of ``x > t`` and ``x <= t`` per threshold, in both samples: for each of the four
    (event, which sample is 'one') pairs, the hits in 'one' and in 'other'."""
    above_one = len(one) - np.searchsorted(np.sort(one), thresholds, side="right")
    above_other = len(other) - np.searchsorted(np.sort(other), thresholds, side="right")
    hits = np.stack([above_one, len(one) - above_one, above_other, len(other) - above_other])
    misses = np.stack([above_other, len(other) - above_other, above_one, len(one) - above_one])
    return hits, misses


def epsilon_lower_bound(one: np.ndarray, other: np.ndarray, delta: float, *,
                        confidence: float = 0.95) -> float:
    """A lower bound on epsilon, at ``confidence``, from scalar outputs of a mechanism on two
    neighbouring inputs (equal numbers of independent samples); 0.0 when nothing is found."""
    one, other = np.asarray(one, np.float64), np.asarray(other, np.float64)
    n = min(len(one), len(other)) // 2
    alpha = (1 - confidence) / 2
    pooled = np.concatenate([one[:n], other[:n]])
    thresholds = np.quantile(pooled, np.linspace(0.0005, 0.9995, 1999))
    hits, misses = _events(one[:n], other[:n], thresholds)
    best = np.unravel_index(np.argmax(_bound(hits, misses, n, delta, alpha)), hits.shape)
    hits, misses = _events(one[n:2 * n], other[n:2 * n], thresholds[best[1]:best[1] + 1])
    found = float(_bound(hits[best[0]], misses[best[0]], n, delta, alpha)[0])
    return max(found, 0.0) if math.isfinite(found) else 0.0
