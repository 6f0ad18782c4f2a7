"""Non-private baseline: every column drawn from its real 1-way marginal, independently.

A DP synthesizer is only worth its budget if it keeps more of the joint structure than this;
the benchmark reports both so a regression that loses all correlations is visible.
"""

from __future__ import annotations

import numpy as np

from veil.synth.discretize import Coded

__all__ = ["independent"]


def independent(real: Coded, rows: int | None = None,
                rng: np.random.Generator | None = None) -> Coded:
    """``rows`` records (default: as many as ``real``) with the real per-column frequencies."""
    rng = rng or np.random.default_rng()
    rows = real.rows if rows is None else rows
    columns = {}
    for a in real.attributes:
        p = real.counts((a,))
        columns[a] = rng.choice(real.domain[a], size=rows, p=p / p.sum())
    return Coded(columns, dict(real.domain))
