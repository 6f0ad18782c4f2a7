"""private-pgm (``mbi``) plumbing shared by the synthesizers: the library, imported once
with the JAX settings it needs; a numpy port of its mirror-descent estimator; and the
fitted-model wrapper that samples from it.

Estimation in float32 stalls on tables of tens of thousands of rows (mbi warns as much), and
JAX's persistent compilation cache only adds disk traffic for mbi's many small programs.

Why a port of the estimator: mbi's ``MirrorDescent`` compiles one XLA program per set of
measured cliques (plus eager per-shape kernels for its first loss and its marginal oracle),
5-20 s each on two CPU cores, while running the program is ~0.3 ms an iteration. AIM re-fits
after every measurement, so compilation was nearly all of its fit time. ``estimate`` below is
the same algorithm (Algorithm 1 of McKenna et al. 2019, as mbi 2.0 implements it: potentials
on the maximal measured cliques, HUGIN message passing on mbi's junction tree, the L2 loss
weighted by 1/sigma, step 2/(L * total) from mbi's Lipschitz bound, Armijo backtracking
with x1.01 growth and x0.5 shrink) in float64 numpy, with no compilation; its iterates match
mbi's to rounding (tests/test_synth_fit.py checks). It returns an ``mbi``
``MarkovRandomField`` so mbi's sampler and ``project`` work on it unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np

from veil.synth.discretize import Coded
from veil.synth.measure import Spend

__all__ = ["Calibrated", "PGMModel", "estimate", "mbi", "recode"]

Clique = tuple[str, ...]


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


# --- the estimator ---------------------------------------------------------------------------
# Every table is held in "broadcast form": an ndarray with one axis per domain attribute, in
# domain order, of length 1 for attributes outside its clique. Projection is a sum with
# keepdims, expansion is broadcasting, so no transposes are needed inside the loop.


def _lse(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """log-sum-exp over ``axes`` (kept, length 1)."""
    if not axes:
        return values
    top = values.max(axis=axes, keepdims=True)
    return top + np.log(np.exp(values - top).sum(axis=axes, keepdims=True))


class _Space:
    """Conversions between mbi's (clique, values in clique order) and broadcast form."""

    def __init__(self, domain: Any) -> None:
        self.domain = domain
        self.axis = {a: i for i, a in enumerate(domain.attributes)}
        self.sizes = tuple(int(n) for n in domain.shape)

    def canonical(self, clique: Sequence[str]) -> Clique:
        return tuple(sorted(set(clique), key=self.axis.__getitem__))

    def shape(self, clique: Sequence[str]) -> tuple[int, ...]:
        inside = {self.axis[a] for a in clique}
        return tuple(n if i in inside else 1 for i, n in enumerate(self.sizes))

    def others(self, outer: Sequence[str], inner: Sequence[str]) -> tuple[int, ...]:
        """Axes of ``outer`` that are not in ``inner`` (to sum out)."""
        keep = set(inner)
        return tuple(sorted(self.axis[a] for a in outer if a not in keep))

    def to_broadcast(self, clique: Sequence[str], values: Any) -> np.ndarray:
        clique = tuple(clique)
        table = np.asarray(values, np.float64).reshape([self.sizes[self.axis[a]] for a in clique])
        order = sorted(range(len(clique)), key=lambda i: self.axis[clique[i]])
        return np.ascontiguousarray(table.transpose(order)).reshape(self.shape(clique))

    def from_broadcast(self, clique: Sequence[str], table: np.ndarray) -> np.ndarray:
        """Values over ``clique`` in the clique's own attribute order (unflattened)."""
        canon = self.canonical(clique)
        values = table.reshape([self.sizes[self.axis[a]] for a in canon])
        return values.transpose([canon.index(a) for a in clique])


def _components(graph: Any) -> list[set[Any]]:
    import networkx as nx

    return list(nx.connected_components(graph))


class _Tree:
    """mbi's junction tree over ``cliques``, with HUGIN message passing in numpy."""

    def __init__(self, space: _Space, cliques: Sequence[Clique]) -> None:
        jt = mbi().junction_tree
        tree, _ = jt.make_junction_tree(space.domain, list(cliques))
        self.space = space
        self.graph = tree
        self.nodes: list[Clique] = [tuple(n) for n in jt.maximal_cliques(tree)]
        self.order = [(tuple(i), tuple(j)) for i, j in jt.message_passing_order(tree)]
        self.home = {c: min((n for n in self.nodes if set(c) <= set(n)),
                            key=space.domain.size) for c in cliques}
        self.shapes = {n: space.shape(n) for n in self.nodes}
        self.out = {(i, j): space.others(i, j) for i, j in self.order}
        self.all = {n: tuple(space.axis[a] for a in n) for n in self.nodes}
        # After calibration every node of a connected part has the same normalizer: one
        # log-sum-exp per part (its first node) serves them all.
        self.part = {}
        for part in _components(tree):
            first = min(part, key=self.nodes.index)
            self.part.update({tuple(n): tuple(first) for n in part})

    def beliefs(self, theta: dict[Clique, np.ndarray], total: float) -> dict[Clique, np.ndarray]:
        """Each node's marginal counts (broadcast form) under log-potentials ``theta``."""
        log = {n: np.zeros(s) for n, s in self.shapes.items()}
        for c, t in theta.items():
            log[self.home[c]] = log[self.home[c]] + t
        messages: dict[tuple[Clique, Clique], np.ndarray] = {}
        for i, j in self.order:
            tau = log[i] - messages[(j, i)] if (j, i) in messages else log[i]
            messages[(i, j)] = _lse(tau, self.out[(i, j)])
            log[j] = log[j] + messages[(i, j)]
        shift = {first: math.log(total) - _lse(log[first], self.all[first])
                 for first in set(self.part.values())}
        return {n: np.exp(b + shift[self.part[n]]) for n, b in log.items()}

    def marginals(self, theta: dict[Clique, np.ndarray], total: float
                  ) -> dict[Clique, np.ndarray]:
        """Marginal counts over each clique of ``theta``."""
        nodes = self.beliefs(theta, total)
        return {c: nodes[self.home[c]].sum(axis=self.space.others(self.home[c], c),
                                           keepdims=True) for c in theta}


class _Loss:
    """mbi's L2 loss: sum over measurements of ||(Q mu_c - y) / sigma||^2 / 2."""

    def __init__(self, space: _Space, measurements: Sequence[Any], cliques: Sequence[Clique]
                 ) -> None:
        pgm = mbi()
        self.terms = []
        for m in measurements:
            route = min((c for c in cliques if set(m.clique) <= set(c)),
                        key=space.domain.size)  # mbi routes to the smallest supporting clique
            weights = None
            if isinstance(m.query, pgm.marginal_loss.WeightedQuery):
                weights = space.to_broadcast(m.clique, m.query.weights)
            elif not isinstance(m.query, pgm.marginal_loss.DatavectorQuery):
                raise TypeError(f"unsupported query {type(m.query).__name__}")
            y = space.to_broadcast(m.clique, m.noisy_measurement)
            sigma = max(float(m.stddev), 1e-12)
            self.terms.append((route, space.others(route, m.clique), y, weights, sigma))

    def __call__(self, mu: dict[Clique, np.ndarray]) -> tuple[float, dict[Clique, np.ndarray]]:
        """The loss at marginals ``mu`` and its gradient (per clique, broadcast form)."""
        loss, grad = 0.0, {c: np.zeros_like(v) for c, v in mu.items()}
        for route, out, y, weights, sigma in self.terms:
            projected = mu[route].sum(axis=out, keepdims=True) if out else mu[route]
            diff = ((projected if weights is None else projected * weights) - y) / sigma
            loss += 0.5 * float(np.vdot(diff, diff))
            back = diff / sigma if weights is None else diff * weights / sigma
            grad[route] = grad[route] + back  # broadcasting undoes the projection
        return loss, grad


def estimate(domain: Any, measurements: Sequence[Any], *, iters: int,
             warm_start: Any | None = None, total: float | None = None,
             stepsize: float | None = None) -> tuple[Any, float]:
    """A graphical model (mbi ``MarkovRandomField``) fit to ``measurements`` (mbi
    ``LinearMeasurement`` with identity or weighted queries) by mbi's mirror descent,
    ``iters`` steps from ``warm_start`` (a model whose cliques the new measurements' cliques
    cover) or from zero; and the step size the line search ended with. mbi starts every fit
    at step 2 / (L * total); a ``stepsize`` carried over from the previous fit, if larger,
    starts there instead (the Armijo search halves it if it is too long), which saves the
    hundreds of steps mbi's x1.01 growth takes to get back to it after a warm start.
    """
    pgm = mbi()
    measurements = list(measurements)
    space = _Space(domain)
    if total is None:
        total = pgm.estimation.minimum_variance_unbiased_total(measurements)
    cliques = [space.canonical(c) for c in
               pgm.clique_utils.maximal_subset([m.clique for m in measurements])]
    tree = _Tree(space, cliques)
    loss_fn = _Loss(space, measurements, cliques)
    lipschitz = pgm.marginal_loss.calculate_l2_lipschitz_from_metadata(domain, measurements)
    alpha = max(2.0 / (lipschitz * total), stepsize or 0.0)

    theta = {c: np.zeros(space.shape(c)) for c in cliques}
    if warm_start is not None:
        old = warm_start.potentials
        for c in old.cliques:
            home = min((d for d in cliques if set(c) <= set(d)), key=domain.size)
            theta[home] = theta[home] + space.to_broadcast(c, old[c].values)

    mu = tree.marginals(theta, total)
    loss, grad = loss_fn(mu)
    for _ in range(iters):
        trial = {c: theta[c] - alpha * grad[c] for c in cliques}
        mu2 = tree.marginals(trial, total)
        loss2, grad2 = loss_fn(mu2)
        decrease = math.fsum(float(np.vdot(grad[c], mu[c] - mu2[c])) for c in cliques)
        if loss - loss2 >= 0.5 * alpha * decrease:  # Armijo, as mbi's MirrorDescent
            alpha, theta, mu, loss, grad = 1.01 * alpha, trial, mu2, loss2, grad2
        else:
            alpha *= 0.5
    return _field(space, theta, mu, total), alpha


class Calibrated:
    """A fitted model's node marginals, calibrated once, answering marginal queries cheaply:
    a clique inside a junction-tree node is a sum over that node's table; any other is the
    contraction of the smallest subtree that covers it (node marginals over separator
    marginals, exact on a junction tree), not a pass over every potential."""

    def __init__(self, model: Any) -> None:
        space = _Space(model.domain)
        potentials = model.potentials
        theta: dict[Clique, np.ndarray] = {}
        for c in potentials.cliques:
            key = space.canonical(c)
            theta[key] = theta.get(key, 0.0) + space.to_broadcast(c, potentials[c].values)
        tree = _Tree(space, list(theta))
        self.space, self.total = space, float(model.total)
        self.nodes = tree.beliefs(theta, self.total)
        self.near = {n: set(map(tuple, tree.graph.neighbors(n))) for n in tree.nodes}

    def marginal(self, clique: Sequence[str]) -> np.ndarray:
        """Counts over ``clique``, flattened in the clique's attribute order."""
        space, query = self.space, set(clique)
        inside = [n for n in self.nodes if query <= set(n)]
        if inside:
            node = min(inside, key=space.domain.size)
            table = self.nodes[node].sum(axis=space.others(node, clique), keepdims=True)
            return space.from_broadcast(clique, table).ravel()
        kept = set(self.nodes)
        pruned = True
        while pruned:  # drop leaves that hold no queried attribute of their own
            pruned = False
            for node in list(kept):
                near = [m for m in self.near[node] if m in kept]
                if len(near) > 1:
                    continue
                own = set(node) - set(near[0]) if near else set(node)
                if not own & query:
                    kept.remove(node)
                    pruned = True
        operands: list[Any] = []
        for node in kept:
            operands += [self._table(node, node), [space.axis[a] for a in node]]
            for other in self.near[node]:
                if other in kept and node < other:
                    sep = space.canonical(set(node) & set(other))
                    operands += [1.0 / self._table(node, sep), [space.axis[a] for a in sep]]
        canon = space.canonical(clique)
        joint = np.einsum(*operands, [space.axis[a] for a in canon], optimize="greedy")
        return (joint.transpose([canon.index(a) for a in clique]) * self.total).ravel()

    def _table(self, node: Clique, onto: Sequence[str]) -> np.ndarray:
        """The node's probabilities summed onto ``onto`` (canonical order, squeezed)."""
        table = self.nodes[node].sum(axis=self.space.others(node, onto), keepdims=True)
        return table.reshape([self.space.sizes[self.space.axis[a]] for a in
                              self.space.canonical(onto)]) / self.total


def _field(space: _Space, theta: dict[Clique, np.ndarray], mu: dict[Clique, np.ndarray],
           total: float) -> Any:
    import jax.numpy as jnp

    pgm = mbi()
    domain = space.domain

    def vector(tables: dict[Clique, np.ndarray]) -> Any:
        return pgm.CliqueVector(domain, list(tables), {
            c: pgm.Factor(domain.project(c), jnp.asarray(space.from_broadcast(c, t)))
            for c, t in tables.items()})

    return pgm.MarkovRandomField(potentials=vector(theta), marginals=vector(mu), total=total)


# --- the fitted model ------------------------------------------------------------------------


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

    def sample(self, rows: int, seed: int | None = None) -> Coded:
        """``rows`` synthetic records in the original domain (post-processing: no budget).

        private-pgm's sampler (mbi 2.0 ``synthetic_data``, randomized rounding) takes no
        generator: it draws from numpy's global one. With a ``seed`` that generator is seeded
        for the call and its state restored afterwards, so the rows are reproducible and the
        caller's global stream is left as it was (not thread-safe: another thread drawing from
        the global generator meanwhile would interleave). Merged values are expanded back
        uniformly within their group, from the same stream.
        """
        if seed is None:
            return self._sample(rows)
        saved = np.random.get_state()
        np.random.seed(seed)
        try:
            return self._sample(rows)
        finally:
            np.random.set_state(saved)

    def _sample(self, rows: int) -> Coded:
        data = self.model.synthetic_data(rows)
        if self.mapping:
            data = data.decompress(self.mapping)
        return Coded({a: np.asarray(data.data[a], np.int64) for a in self.domain},
                     dict(self.domain))
