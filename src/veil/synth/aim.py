"""AIM (McKenna, Mullins, Sheldon & Miklau, 2022): workload-aware adaptive MST successor.

Each round spends 10% of its rho choosing, by the exponential mechanism, the candidate
marginal the current model answers worst (L1 error, less the error the measurement noise
alone would cause, weighted by its overlap with the workload), and 90% measuring it. The
model grows only through candidates that keep its junction tree under a size cap that rises
with the budget spent. When a new measurement barely moves the model, the noise is halved
(budget annealing) so that later rounds buy more accurate answers; the last round spends
whatever is left.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from veil.errors import InputError
from veil.synth._pgm import PGMModel, mbi
from veil.synth.discretize import Coded
from veil.synth.measure import Accountant, rho_for

__all__ = ["fit_aim"]

Clique = tuple[str, ...]


def fit_aim(data: Coded, epsilon: float, delta: float, *,
            workload: Sequence[Clique] | None = None, rounds: int | None = None,
            max_model_mb: float = 80.0, round_iters: int = 500,
            final_iters: int = 2000) -> PGMModel:
    """Fit AIM to ``data`` under (epsilon, delta)-DP (via rho-zCDP). ``workload`` defaults to
    all 2- and 3-way marginals; ``rounds`` (default 16 per attribute) sets the initial
    per-round budget, so fewer rounds mean less noise per measurement."""
    pgm = mbi()
    attrs = data.attributes
    workload = [tuple(w) for w in workload] if workload else [
        c for k in (2, 3) for c in itertools.combinations(attrs, k)]
    start = time.perf_counter()
    rho = rho_for(epsilon, delta)
    acct = Accountant(rho)
    rounds = rounds or 16 * len(attrs)
    gauss, select = 0.9 * rho / rounds, 0.1 * rho / rounds  # per-round shares
    candidates = _candidates(workload)
    domain = pgm.Domain(attrs, [data.domain[a] for a in attrs])
    estimator = pgm.estimation.MirrorDescent()

    measurements = []
    for a in attrs:
        y, sigma = acct.gaussian(data.counts((a,)), gauss, f"1-way {a}")
        measurements.append(pgm.LinearMeasurement(y, (a,), stddev=sigma))
    model = estimator.estimate(domain, measurements, iters=round_iters)
    chosen: list[Clique] = []
    last = False
    while not last:
        if acct.left < 2 * (gauss + select):
            gauss, select, last = 0.9 * acct.left, 0.1 * acct.left, True
        cap = max_model_mb * (acct.spent + gauss + select) / rho
        sigma = math.sqrt(1 / (2 * gauss))  # the Gaussian's scale at this share
        clique = _worst(data, model, _affordable(domain, model, candidates, cap), sigma, acct,
                        select, f"select round {len(chosen)}")
        y, sigma = acct.gaussian(data.counts(clique), gauss, f"measure {','.join(clique)}")
        measurements.append(pgm.LinearMeasurement(y, clique, stddev=sigma))
        chosen.append(clique)
        before = _marginals(model, [clique])[0]
        model = estimator.estimate(domain, measurements, iters=round_iters, warm_start=model)
        moved = np.abs(_marginals(model, [clique])[0] - before).sum()
        if moved <= sigma * math.sqrt(2 / math.pi) * y.size:
            gauss, select = 4 * gauss, 4 * select  # halve sigma, double epsilon
    model = estimator.estimate(domain, measurements, iters=final_iters, warm_start=model)
    return PGMModel(model, dict(data.domain), {}, tuple(chosen), tuple(acct.spends), rho,
                    time.perf_counter() - start)


def _candidates(workload: Sequence[Clique]) -> dict[Clique, float]:
    """Every subset of a workload marginal, weighted by its overlap with the workload."""
    closure = {s for w in workload for k in range(1, len(w) + 1)
               for s in itertools.combinations(w, k)}
    return {c: float(sum(len(set(c) & set(w)) for w in workload)) for c in closure}


def _affordable(domain: Any, model: Any, candidates: dict[Clique, float], cap: float
                ) -> dict[Clique, float]:
    """Candidates already inside the model's cliques, or that keep it under ``cap`` MB."""
    pgm = mbi()
    cliques = [tuple(c) for c in model.cliques]
    free = set(pgm.clique_utils.downward_closure(cliques))
    return {c: w for c, w in candidates.items() if c in free or
            pgm.junction_tree.hypothetical_model_size(domain, [*cliques, c]) <= cap}


def _worst(data: Coded, model: Any, candidates: dict[Clique, float], sigma: float,
           acct: Accountant, rho: float, label: str) -> Clique:
    """Report-noisy-max over weighted, noise-debiased L1 errors; scores are divided by the
    largest weight so that their L-infinity sensitivity is 1, as the accountant assumes."""
    if not candidates:
        raise InputError("no workload marginal fits under the model-size cap")
    cliques = list(candidates)
    top = max(candidates.values())
    scores = np.empty(len(cliques))
    for i, (c, estimate) in enumerate(zip(cliques, _marginals(model, cliques), strict=True)):
        bias = math.sqrt(2 / math.pi) * sigma * estimate.size
        scores[i] = candidates[c] * (np.abs(data.counts(c) - estimate).sum() - bias) / top
    return cliques[acct.noisy_max(scores, rho, label)]


def _marginals(model: Any, cliques: Sequence[Clique]) -> list[np.ndarray]:
    """The model's counts over each clique (flattened, in the clique's attribute order).

    One numpy einsum over the exponentiated potentials per clique: ~10 ms on adult, where
    private-pgm's ``project`` (eager variable elimination) takes ~0.5 s and compiles a JAX
    program per shape, which over AIM's hundreds of candidates per round ran out of memory.
    """
    axis = {a: i for i, a in enumerate(model.domain.attributes)}
    operands: list[Any] = []
    for c in model.potentials.cliques:
        factor = model.potentials[c]
        values = np.asarray(factor.values, np.float64)
        operands += [np.exp(values - values.max()), [axis[a] for a in factor.domain.attributes]]
    total = float(model.total)
    out = []
    for c in cliques:
        joint = np.einsum(*operands, [axis[a] for a in c], optimize="greedy").ravel()
        out.append(joint * (total / joint.sum()))
    return out
