"""Optimal full-domain generalization: the best node of the generalization lattice.

A node gives one level per quasi-identifier; every record is generalized to those levels and
the classes that fail the privacy models are suppressed, which is allowed while the suppressed
records stay within the limit. The search is best-first branch and bound, with the pruning of
ARX's Flash and OLA:

1. Every node's objective *without suppression* is known up front (a lower bound; exact when a
   node suppresses nothing, see :mod:`veil.anonymize.objective`). Nodes are visited in order
   of that bound, lowest first.
2. Monotonicity: if a node fails, so does every node below it (more specific on every
   attribute), and those are never grouped. That holds for every model without suppression,
   and with suppression for the models that say so (``monotone_with_suppression``); otherwise
   each node is judged on its own.
3. The search stops at the first node whose bound is no better than the best score found:
   nothing later can beat it. Without suppression the first passing node is the optimum.

The result is optimal for the objective among all nodes (tests compare it with exhaustive
enumeration). A lattice of more than ``MAX_NODES`` nodes is refused; use Mondrian there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from veil.anonymize.encoding import Encoded, Partition
from veil.anonymize.models import PrivacyModel
from veil.anonymize.objective import Objective
from veil.errors import InputError, PrivacyModelError

__all__ = ["MAX_NODES", "Optimum", "failing_classes", "search"]

MAX_NODES = 2_000_000


@dataclass(frozen=True)
class Optimum:
    """The chosen node, its partition and which classes it suppresses."""

    levels: tuple[int, ...]
    score: float
    partition: Partition
    suppressed: np.ndarray  # Boolean per class
    nodes: int  # lattice size
    checked: int  # nodes whose classes were grouped
    seconds: float


def failing_classes(partition: Partition, models: Sequence[PrivacyModel]) -> np.ndarray:
    """Boolean per class: fails at least one model."""
    failing = np.zeros(partition.classes, dtype=bool)
    for model in models:
        failing |= model.fails(partition)
    return failing


def suppression_budget(records: int, limit: float) -> int:
    """Records that may be suppressed under ``limit`` (a share of the table)."""
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 <= limit <= 1:
        raise InputError(f"suppression limit must be a share in [0, 1]; got {limit!r}")
    return math.floor(limit * records + 1e-9)


def search(encoded: Encoded, models: Sequence[PrivacyModel], objective: Objective,
           suppression_limit: float = 0.0) -> Optimum:
    """The node with the lowest ``objective`` that meets every model within the limit.

    Raises :class:`PrivacyModelError` when no node does (not even full generalization).
    """
    started = time.perf_counter()
    budget = suppression_budget(encoded.records, suppression_limit)
    lattice = _Lattice(encoded, models, objective, budget)
    bound = objective.bound(lattice.nodes)
    for index in np.lexsort((lattice.nodes.sum(axis=1), bound)):
        if objective.decomposable and bound[index] >= lattice.best_score:
            break
        if lattice.status[index] == _FAILS:
            continue
        if not lattice.passes(lattice.nodes[index]) and lattice.monotone:
            lattice.climb(lattice.nodes[index])
    best = lattice.best
    if best is None:
        described = ", ".join(str(m.describe()) for m in models)
        msg = (f"no generalization meets {described} with at most {budget} suppressed "
               f"record(s) ({suppression_limit:.1%} of {encoded.records}); raise the "
               "suppression limit, add hierarchy levels, or relax the model")
        raise PrivacyModelError(msg)
    return Optimum(best.levels, best.score, best.partition, best.suppressed,
                   len(lattice.nodes), lattice.checked, time.perf_counter() - started)


_FAILS, _UNKNOWN, _PASSES = -1, 0, 1


class _Lattice:
    """The nodes, what is known of each, and the best passing node so far."""

    def __init__(self, encoded: Encoded, models: Sequence[PrivacyModel], objective: Objective,
                 budget: int) -> None:
        heights = encoded.heights
        size = math.prod(h + 1 for h in heights)
        if size > MAX_NODES:
            msg = (f"the generalization lattice has {size:,} nodes (more than {MAX_NODES:,}); "
                   "use fewer quasi-identifiers, shallower hierarchies, or "
                   "algorithm='mondrian'")
            raise InputError(msg)
        self.nodes = np.indices([h + 1 for h in heights], dtype=np.int64).reshape(
            len(heights), size).T
        self.top = np.array(heights, dtype=np.int64)
        self._place = np.array([math.prod(h + 1 for h in heights[j + 1:])
                                for j in range(len(heights))], dtype=np.int64)
        self.status = np.full(size, _UNKNOWN, dtype=np.int8)
        self.scored = np.zeros(size, dtype=bool)
        self.encoded, self.models, self.objective, self.budget = encoded, models, objective, budget
        self.monotone = budget == 0 or all(m.monotone_with_suppression for m in models)
        self.best: Optimum | None = None
        self.best_score = math.inf
        self.checked = 0

    def passes(self, levels: np.ndarray) -> bool:
        """Whether the node meets the models within the budget; a passing node is scored
        (once), and what the answer implies for other nodes is recorded."""
        index = int(levels @ self._place)
        if self.status[index] == _FAILS or self.scored[index]:
            return bool(self.status[index] == _PASSES)
        partition = self.encoded.partition(levels)
        self.checked += 1
        failing = failing_classes(partition, self.models)
        if int(partition.sizes[failing].sum()) > self.budget:
            if self.monotone:
                self.status[(self.nodes <= levels).all(axis=1)] = _FAILS
            else:
                self.status[index] = _FAILS
            return False
        self.status[index] = _PASSES
        self.scored[index] = True
        score = self.objective.score(self.encoded, levels, partition, failing)
        if score < self.best_score:
            self.best_score = score
            self.best = Optimum(tuple(int(x) for x in levels), score, partition, failing,
                                len(self.nodes), 0, 0.0)
        return True

    def climb(self, levels: np.ndarray) -> None:
        """From a failing node, find a maximal failing node above it and mark everything
        below that one as failing: first a binary search along the chain that raises every
        attribute towards the top in proportion, then one per attribute, those with the most
        room first (``_CHAIN_STEPS`` and the order were tuned on Adult: about a third of the
        checks of per-attribute search alone)."""
        low, high, node = 0.0, 1.0, levels.copy()
        for _ in range(_CHAIN_STEPS):
            middle = (low + high) / 2
            probe = levels + np.floor((self.top - levels) * middle + 1e-9).astype(np.int64)
            if self.passes(probe):
                high = middle
            else:
                low, node = middle, probe
        for j in np.argsort(-(self.top - node), kind="stable"):
            low_level, high_level = int(node[j]), int(self.top[j])
            while low_level < high_level:
                middle_level = (low_level + high_level + 1) // 2
                probe = node.copy()
                probe[j] = middle_level
                if self.passes(probe):
                    high_level = middle_level - 1
                else:
                    low_level = middle_level
            node[j] = low_level
        self.status[(self.nodes <= node).all(axis=1)] = _FAILS


_CHAIN_STEPS = 4
