"""Private measurements for the synthesizers, all noise drawn by OpenDP under zCDP.

Neighbouring tables differ by one added or removed record, so a marginal's count vector has
L2 sensitivity 1, and a selection score that is a norm of a count-vector difference has
L-infinity sensitivity 1. Each measurement is built at a closed-form scale and kept only if
OpenDP's own privacy map confirms it spends no more rho than its share; the spends are
recorded, so the total a synthesizer used is what OpenDP's maps say, not what we intended.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from veil.dp.mechanisms import opendp
from veil.errors import InputError

__all__ = ["Accountant", "Spend", "rho_for"]


@lru_cache(maxsize=256)
def rho_for(epsilon: float, delta: float) -> float:
    """The largest rho whose zCDP guarantee implies (epsilon, delta)-DP, by OpenDP's
    ``make_zCDP_to_approxDP`` conversion (searched over a unit-sensitivity Gaussian)."""
    if not (epsilon > 0 and 0 < delta < 1):
        raise InputError("need epsilon > 0 and 0 < delta < 1")
    dp = opendp()
    space = dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float)

    def approx(scale: float) -> Any:
        zcdp = dp.m.make_gaussian(*space, scale=scale)
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(zcdp), delta)

    scale = dp.binary_search_param(approx, d_in=1.0, d_out=(epsilon, delta))
    return float(dp.m.make_gaussian(*space, scale=scale).map(1.0))


@dataclass(frozen=True)
class Spend:
    """One measurement's cost by OpenDP's privacy map."""

    label: str
    rho: float
    scale: float


@dataclass
class Accountant:
    """Runs OpenDP measurements and records the rho each spends, refusing to overspend."""

    budget: float
    spends: list[Spend] = field(default_factory=list)

    @property
    def spent(self) -> float:
        return math.fsum(s.rho for s in self.spends)

    @property
    def left(self) -> float:
        return max(self.budget - self.spent, 0.0)

    def gaussian(self, counts: np.ndarray, rho: float, label: str) -> tuple[np.ndarray, float]:
        """``counts`` plus Gaussian noise spending ``rho``; returns (noisy counts, sigma)."""
        dp = opendp()
        space = (dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l2_distance(T=float))
        measurement, scale = self._run(lambda s: dp.m.make_gaussian(*space, scale=s), rho, label)
        return np.asarray(measurement(counts.astype(np.float64).tolist())), scale

    def noisy_max(self, scores: np.ndarray, rho: float, label: str) -> int:
        """Index of the (noisily) highest score: the exponential mechanism as Gumbel
        report-noisy-max, whose zCDP map is the bounded-range bound epsilon^2 / 8."""
        dp = opendp()
        space = (dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.linf_distance(T=float))
        zcdp = dp.zero_concentrated_divergence()
        measurement, _ = self._run(lambda s: dp.m.make_noisy_max(*space, zcdp, scale=s), rho,
                                   label)
        return int(measurement(scores.astype(np.float64).tolist()))

    def _run(self, build: Callable[[float], Any], rho: float, label: str) -> tuple[Any, float]:
        if not rho > 0:
            raise InputError(f"a measurement needs a positive rho; {label} got {rho}")
        if rho > self.left * (1 + 1e-9):
            raise InputError(f"{label} asks rho {rho:g}; only {self.left:g} left")
        # zCDP maps scale as 1/scale^2: one map at scale 1 gives the scale in closed form,
        # nudged up while float rounding leaves the spend a hair over the share.
        scale = math.sqrt(build(1.0).map(1.0) / rho)
        for _ in range(8):
            measurement = build(scale)
            spend = float(measurement.map(1.0))
            if spend <= rho:
                self.spends.append(Spend(label, spend, scale))
                return measurement, scale
            scale = math.nextafter(scale, math.inf) * (1 + 1e-12)
        raise RuntimeError("could not calibrate the noise scale")  # pragma: no cover
