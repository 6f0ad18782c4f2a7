"""Utility of a synthetic table: how far its low-order marginals are from the real ones.

Mean total-variation distance over all k-way marginals is the metric of the NIST and PGM
benchmarks, so figures are comparable with published MST/AIM results.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np

from veil.synth.discretize import Coded

__all__ = ["mean_tvd", "tvd", "workload"]


def workload(attributes: Sequence[str], ways: int) -> list[tuple[str, ...]]:
    """All ``ways``-way attribute subsets."""
    return list(itertools.combinations(attributes, ways))


def tvd(p: np.ndarray, q: np.ndarray) -> float:
    """Total-variation distance of two count vectors, each normalized to a distribution."""
    return 0.5 * float(np.abs(p / p.sum() - q / q.sum()).sum())


def mean_tvd(real: Coded, synth: Coded, cliques: Iterable[Sequence[str]]) -> float:
    """Mean TVD between the two tables' marginals over ``cliques``."""
    if dict(real.domain) != dict(synth.domain):
        raise ValueError("both tables must have the same domain")
    scores = [tvd(real.counts(c), synth.counts(c)) for c in cliques]
    return float(np.mean(scores))
