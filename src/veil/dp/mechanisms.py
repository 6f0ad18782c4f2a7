"""Noise, only from OpenDP: calibrated measurements and what their noise means for accuracy.

veil computes a query's exact aggregates with Polars and adds noise with OpenDP measurements
(``make_laplace`` and ``make_gaussian`` on vectors, ``make_private_quantile``). The noise scale
is derived in closed form from the sensitivity and the budget share: OpenDP's maps are linear
in 1/scale (pure DP) or in 1/scale^2 (zCDP), so one map at scale 1 gives the factor. The
measurement is then built once at that scale and its *own* privacy map must confirm the spend
(``map(d_in) <= budget``) before it runs; otherwise it is refused. Measurements are cached by
their parameters, so a query pays microseconds here, not OpenDP's scale search.

Accuracy comes from OpenDP's accuracy utilities: the half-width of an interval that holds the
noise with probability 1 - alpha. OpenDP is imported on first use (it takes most of a second),
so commands that never add noise do not wait for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any, Literal

import numpy as np

from veil.errors import InputError

__all__ = ["Noise", "noise", "private_quantile"]

Measure = Literal["pure", "zcdp"]


@lru_cache(maxsize=1)
def opendp() -> ModuleType:
    """``opendp.prelude`` with the ``contrib`` features this module uses."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


@dataclass(frozen=True)
class Noise:
    """A calibrated additive mechanism for a vector with the given sensitivity."""

    measure: Measure  # "pure": Laplace, budget in epsilon; "zcdp": Gaussian, budget in rho
    integer: bool
    sensitivity: float  # L1 (pure) or L2 (zcdp) of the whole vector
    budget: float  # epsilon or rho this release spends
    scale: float
    _measurement: Any  # an OpenDP Measurement

    @property
    def distribution(self) -> str:
        kind = "Laplace" if self.measure == "pure" else "Gaussian"
        return f"{'discrete ' if self.integer else ''}{kind}"

    def __call__(self, values: Sequence[float]) -> list[float]:
        if not len(values):
            return []
        cast = [int(v) for v in values] if self.integer else [float(v) for v in values]
        return list(self._measurement(cast))

    def accuracy(self, alpha: float) -> float:
        """Half-width of the interval holding one coordinate's noise with prob. 1 - alpha."""
        dp = opendp()
        if self.measure == "pure":
            convert = (dp.discrete_laplacian_scale_to_accuracy if self.integer
                       else dp.laplacian_scale_to_accuracy)
        else:
            convert = (dp.discrete_gaussian_scale_to_accuracy if self.integer
                       else dp.gaussian_scale_to_accuracy)
        return float(convert(self.scale, alpha))


def _build(measure: Measure, integer: bool, scale: float) -> Any:
    dp = opendp()
    atom = dp.atom_domain(T=int) if integer else dp.atom_domain(T=float, nan=False)
    domain = dp.vector_domain(atom)
    kind = int if integer else float
    if measure == "pure":
        return dp.m.make_laplace(domain, dp.l1_distance(T=kind), scale=scale)
    return dp.m.make_gaussian(domain, dp.l2_distance(T=kind), scale=scale)


@lru_cache(maxsize=4096)
def noise(measure: Measure, integer: bool, sensitivity: float, budget: float) -> Noise:
    """The mechanism spending exactly ``budget`` (or just under) at ``sensitivity``."""
    if not (budget > 0 and math.isfinite(budget)):
        raise InputError(f"a privacy budget share must be a positive finite number; got {budget}")
    if sensitivity <= 0:
        raise InputError("sensitivity must be positive")
    d_in = math.ceil(sensitivity) if integer else float(sensitivity)
    measurement, scale = _calibrated(lambda scale: _build(measure, integer, scale), d_in,
                                     measure, budget)
    return Noise(measure, integer, float(d_in), budget, scale, measurement)


def _calibrated(build: Callable[[float], Any], d_in: float, measure: Measure, budget: float
                ) -> tuple[Any, float]:
    """The measurement ``build(scale)`` whose own map at ``d_in`` spends at most ``budget``:
    the scale in closed form from the map at scale 1 (linear in 1/scale for pure DP, in
    1/scale^2 for zCDP), nudged up while float rounding leaves it a hair over."""
    unit = build(1.0).map(d_in)
    scale = unit / budget if measure == "pure" else math.sqrt(unit / budget)
    for _ in range(8):
        measurement = build(scale)
        if measurement.map(d_in) <= budget:
            return measurement, scale
        scale = math.nextafter(scale, math.inf) * (1 + 1e-12)
    raise RuntimeError("could not calibrate the noise scale")  # pragma: no cover


@lru_cache(maxsize=1024)
def _quantile(candidates: tuple[float, ...], q: float, measure: Measure, rows: int,
              budget: float) -> tuple[Any, float]:
    dp = opendp()
    domain = dp.vector_domain(dp.atom_domain(T=float, nan=False))
    output = dp.max_divergence() if measure == "pure" else dp.zero_concentrated_divergence()

    def build(scale: float) -> Any:
        return dp.m.make_private_quantile(domain, dp.symmetric_distance(), output,
                                          list(candidates), q, scale)

    return _calibrated(build, rows, measure, budget)


def private_quantile(values: np.ndarray, q: float, bounds: tuple[float, float], *,
                     measure: Measure, rows_per_person: int, budget: float,
                     candidates: int = 257) -> tuple[float, float]:
    """OpenDP's exponential-mechanism quantile over ``candidates`` evenly spaced points in
    ``bounds`` (values are clamped into them); returns the release and the noise scale."""
    grid = tuple(float(x) for x in np.linspace(bounds[0], bounds[1], candidates))
    measurement, scale = _quantile(grid, q, measure, rows_per_person, budget)
    clipped = np.clip(values.astype(np.float64, copy=False), bounds[0], bounds[1])
    return float(measurement(clipped)), scale
