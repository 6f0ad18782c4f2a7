"""private-pgm (``mbi``) plumbing shared by the synthesizers: the library, imported once
with the JAX settings it needs, and the fitted-model wrapper that samples from it.

Estimation in float32 stalls on tables of tens of thousands of rows (mbi warns as much), and
JAX's persistent compilation cache only adds disk traffic for mbi's many small programs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np

from veil.synth.discretize import Coded
from veil.synth.measure import Spend

__all__ = ["PGMModel", "mbi", "recode"]


@lru_cache(maxsize=1)
def mbi() -> ModuleType:
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_enable_compilation_cache", False)
    import mbi as pgm

    return pgm


def recode(coded: Coded, mapping: dict[str, np.ndarray]) -> Coded:
    """``coded`` with merged values replaced by their compressed codes."""
    columns = {a: mapping[a][c] if a in mapping else c for a, c in coded.columns.items()}
    domain = {a: int(mapping[a].max()) + 1 if a in mapping else n for a, n in coded.domain.items()}
    return Coded(columns, domain)


@dataclass(frozen=True)
class PGMModel:
    """A fitted synthesizer: a private-pgm MRF, over a compressed domain where ``mapping``
    merges values (original code -> compressed code, per merged column)."""

    model: Any  # mbi.MarkovRandomField
    domain: dict[str, int]  # the original domain
    mapping: dict[str, np.ndarray]
    cliques: tuple[tuple[str, ...], ...]  # the marginals chosen and measured beyond 1-way
    spends: tuple[Spend, ...]
    rho: float
    fit_seconds: float

    def compress(self, coded: Coded) -> Coded:
        """A table in the original domain, recoded into the model's compressed domain."""
        return recode(coded, self.mapping)

    def marginal(self, clique: Sequence[str]) -> np.ndarray:
        """The model's counts over ``clique`` (compressed domain), flattened."""
        return np.asarray(self.model.project(tuple(clique)).datavector(), np.float64)

    def sample(self, rows: int) -> Coded:
        """``rows`` synthetic records in the original domain (post-processing: no budget).

        private-pgm draws with numpy's global generator; merged values are expanded back
        uniformly within their group.
        """
        data = self.model.synthetic_data(rows)
        if self.mapping:
            data = data.decompress(self.mapping)
        return Coded({a: np.asarray(data.data[a], np.int64) for a in self.domain},
                     dict(self.domain))
