"""MST (McKenna, Sheldon & Miklau, 2021): DP synthetic data from a tree of 2-way marginals.

The budget (zCDP, rho from the requested (epsilon, delta)) is split in thirds: measure every
1-way marginal; choose a maximum spanning tree of attribute pairs, each edge picked by the
exponential mechanism scoring how badly the independent (1-way) model explains that pair; and
measure the chosen pairs' 2-way marginals. A graphical model fit to all noisy marginals by
private-pgm is then sampled. Values whose noisy 1-way count is under 3 sigma are merged into
one value before selection (as in the reference code): it shrinks the 2-way tables, so their
noise is spread over fewer, better-supported cells.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from veil.errors import InputError
from veil.synth._pgm import PGMModel, estimate, mbi, recode
from veil.synth.discretize import Coded
from veil.synth.measure import Accountant, rho_for

__all__ = ["fit_mst"]


def fit_mst(data: Coded, epsilon: float, delta: float, *, iters: int = 2000,
            progress: Callable[[float], None] | None = None) -> PGMModel:
    """Fit MST to ``data`` under (epsilon, delta)-DP (via rho-zCDP). ``progress``, if given,
    is called with the share of rho spent after each of the three phases, then with 1.0 once
    the model is fit."""
    pgm = mbi()
    attrs = data.attributes
    if len(attrs) < 2:
        raise InputError("MST needs at least two attributes")
    start = time.perf_counter()
    rho = rho_for(epsilon, delta)
    acct = Accountant(rho)
    third = rho / 3
    report = progress or (lambda share: None)

    # 1. All 1-way marginals, compressed where the noisy counts show no support.
    one_way, mapping, full = [], {}, pgm.Domain.fromdict(dict(data.domain))
    for a in attrs:
        y, sigma = acct.gaussian(data.counts((a,)), third / len(attrs), f"1-way {a}")
        m = pgm.LinearMeasurement(y, (a,), stddev=sigma)
        keep = y >= 3 * sigma
        if not keep.all():
            # Supported values keep their order; the rest share the last compressed code.
            mapping[a] = np.where(keep, np.cumsum(keep) - 1, keep.sum()).astype(np.int64)
            m = m.compress({a: mapping[a]}, full)
        one_way.append(m)
    report(min(acct.spent / rho, 1.0))
    small = recode(data, mapping)
    domain = pgm.Domain(attrs, [small.domain[a] for a in attrs])

    # 2. Spanning tree by the exponential mechanism on the independent model's L1 error.
    independent, _ = estimate(domain, one_way, iters=iters // 4)
    edges = _select(small, independent, acct, third)
    report(min(acct.spent / rho, 1.0))

    # 3. The tree's 2-way marginals, then one model fit to everything measured.
    two_way = []
    for a, b in edges:
        y, sigma = acct.gaussian(small.counts((a, b)), third / len(edges), f"2-way {a},{b}")
        two_way.append(pgm.LinearMeasurement(y, (a, b), stddev=sigma))
    report(min(acct.spent / rho, 1.0))
    model, _ = estimate(domain, one_way + two_way, iters=iters)
    report(1.0)
    return PGMModel(model, dict(data.domain), mapping, tuple(edges), tuple(acct.spends), rho,
                    time.perf_counter() - start)


def _select(data: Coded, independent: Any, acct: Accountant, rho: float
            ) -> list[tuple[str, str]]:
    """Kruskal's algorithm with each edge drawn by report-noisy-max (rho spread evenly)."""
    attrs = data.attributes
    marg = {a: np.asarray(independent.project((a,)).datavector(), np.float64) for a in attrs}
    total = float(independent.total)
    # The 1-way-only model is a product distribution, so its 2-way tables are outer products.
    weight = {
        (a, b): float(np.abs(data.counts((a, b)) - np.outer(marg[a], marg[b]).ravel() / total
                             ).sum())
        for a, b in itertools.combinations(attrs, 2)
    }
    parent = {a: a for a in attrs}

    def root(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    edges: list[tuple[str, str]] = []
    for step in range(len(attrs) - 1):
        candidates = [e for e in weight if root(e[0]) != root(e[1])]
        scores = np.array([weight[e] for e in candidates])
        a, b = candidates[acct.noisy_max(scores, rho / (len(attrs) - 1), f"select edge {step}")]
        parent[root(a)] = root(b)
        edges.append((a, b))
    return edges
