"""What the lattice search minimises: information loss of a full-domain generalization.

The decomposable objectives give each record a cost per quasi-identifier that depends only on
its raw value and that attribute's level (a suppressed record costs the most), so the loss of
every lattice node *without* suppression is known before any data is grouped. That figure is a
lower bound (suppression only adds cost) and orders the search (:mod:`veil.anonymize.lattice`).

* ``loss``: ARX's default "Loss" (gs-factor 0.5, geometric mean): per attribute, the mean over
  records of the share of the domain their generalized value covers (a suppressed record 1),
  rescaled so raw data is 0 and full suppression 1; attributes combined as
  ``prod(1 + loss_a) ** (1/d) - 1``. Comparable with the Loss figures ARX reports.
* ``entropy``: non-uniform entropy (Gionis and Tassa 2009), in bits: per record and attribute
  ``-log2 P(raw value | generalized value)``, summed; a suppressed record is generalized to ``*``.
* ``height``: the sum of the levels (suppression costs nothing).
* ``discernibility``: ``sum |E|^2`` over released classes plus ``n`` per suppressed record
  (Bayardo and Agrawal 2005); not decomposable, so it gives no bound and the search checks
  every node that pruning leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from veil.anonymize.encoding import Encoded, Partition
from veil.errors import InputError

__all__ = ["OBJECTIVES", "Objective", "objective"]


@dataclass
class Objective:
    """A named objective prepared for one table (see the module docstring)."""

    name: str
    _costs: list[list[np.ndarray]] = field(default_factory=list)  # [attr][level][raw code]
    _suppressed: list[np.ndarray] = field(default_factory=list)  # [attr][raw code]
    _totals: list[np.ndarray] = field(default_factory=list)  # [attr][level] no suppression
    _aggregate: Callable[[np.ndarray], np.ndarray] | None = None
    _records: int = 0

    def prepare(self, encoded: Encoded) -> Objective:
        self._records = n = encoded.records
        self._costs, self._suppressed, self._totals = [], [], []
        if self.name == "discernibility":
            return self
        for j, hierarchy in enumerate(encoded.hierarchies):
            per_raw = np.bincount(encoded.codes[:, j], weights=encoded.counts,
                                  minlength=len(hierarchy.rows))
            if self.name == "loss":
                costs = hierarchy.shares()
            elif self.name == "entropy":
                costs = []
                for codes in hierarchy.level_codes():
                    group = np.bincount(codes, weights=per_raw)[codes]
                    with np.errstate(divide="ignore", invalid="ignore"):
                        costs.append(np.where(per_raw > 0, -np.log2(per_raw / group), 0.0))
            else:  # height
                costs = [np.full(len(hierarchy.rows), level / n)
                         for level in range(hierarchy.height + 1)]
            self._costs.append(costs)
            self._suppressed.append(costs[-1] if self.name != "height" else np.zeros(0))
            self._totals.append(np.array([float(per_raw @ c) for c in costs]))
        if self.name == "loss":
            sizes = np.array([len(h.rows) for h in encoded.hierarchies], dtype=float)
            low = n / sizes

            def aggregate(totals: np.ndarray) -> np.ndarray:
                norm = np.clip((totals - low) / np.maximum(n - low, 1e-12), 0.0, None)
                return np.prod(1.0 + norm, axis=-1) ** (1.0 / totals.shape[-1]) - 1.0
        else:
            def aggregate(totals: np.ndarray) -> np.ndarray:
                return totals.sum(axis=-1)
        self._aggregate = aggregate
        return self

    @property
    def decomposable(self) -> bool:
        return self.name != "discernibility"

    def bound(self, nodes: np.ndarray) -> np.ndarray:
        """Per node (rows of levels), the objective with nothing suppressed: a lower bound,
        exact for nodes that suppress nothing."""
        if not self.decomposable:
            return np.zeros(len(nodes))
        assert self._aggregate is not None, "prepare() first"
        totals = np.stack([self._totals[j][nodes[:, j]] for j in range(nodes.shape[1])],
                          axis=1)
        return self._aggregate(totals)

    def score(self, encoded: Encoded, levels: np.ndarray, partition: Partition,
              suppressed: np.ndarray) -> float:
        """The objective of a node whose classes ``suppressed`` (Boolean per class) are
        removed."""
        if not self.decomposable:
            kept = partition.sizes[~suppressed]
            return float((kept.astype(float) ** 2).sum()
                         + partition.sizes[suppressed].sum() * float(self._records))
        assert self._aggregate is not None, "prepare() first"
        rows = suppressed[partition.group]
        totals = np.array([self._totals[j][level] for j, level in enumerate(levels)])
        if rows.any() and self.name != "height":
            counts = encoded.counts[rows]
            for j, level in enumerate(levels):
                codes = encoded.codes[rows, j]
                totals[j] += counts @ (self._suppressed[j][codes] - self._costs[j][level][codes])
        return float(self._aggregate(totals))


OBJECTIVES = ("loss", "entropy", "height", "discernibility")


def objective(name: str) -> Objective:
    if name not in OBJECTIVES:
        raise InputError(f"unknown utility metric {name!r}; choose one of {list(OBJECTIVES)}")
    return Objective(name)
