"""Reconstruction from aggregates: Dinur and Nissim's attack on subset sums (PODS 2003).

A database holds one secret bit per person. The attacker asks for the sum of the bits over
random subsets of people (each person in with probability 1/2) and solves a linear program
for the bits that best explain the answers: minimise the total error ``sum |A x - b|`` over
``x`` in ``[0, 1]^n``, then round at 1/2. With exact answers (or noise well below
``sqrt(n)``) about ``n log n`` queries (in practice ~2n) give back almost every bit: "too many
accurate answers destroy privacy", the result differential privacy answers. Through a DP
query API, each answer spends budget and carries noise of scale ``1/epsilon``; once the
budget is spent the attacker must solve with what he got, which is the point of the check.

:func:`attack` runs the attacker against any answering function; :func:`through_workspace`
runs him against a workspace's DP query API (``SUM(secret)`` or ``COUNT(*) WHERE secret = 1``
restricted to ``id IN (...)``), stopping when the budget refuses. The truth the result is
scored against is held by the caller, and only used once the attacker has answered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse
from scipy.optimize import linprog

from veil.dp.query import Query
from veil.errors import InputError, PrivacyBudgetError

__all__ = ["ReconstructionResult", "attack", "reconstruct", "through_workspace"]


@dataclass(frozen=True)
class ReconstructionResult:
    """How much of the secret column the attacker rebuilt, and what it cost him.

    ``baseline_share`` is what guessing everyone has the more common bit gets (an attacker
    who learned nothing); ``stopped`` says why he stopped asking: ``"queries"`` (he asked all he
    planned) or ``"refused"`` (the answerer said no more: a spent budget)."""

    people: int
    queries_asked: int
    queries_answered: int
    epsilon_spent: float | None  # None: the answers were not DP releases
    recovered: int  # bits equal to the truth
    baseline_share: float
    stopped: str

    @property
    def recovered_share(self) -> float:
        return self.recovered / self.people if self.people else 0.0

    @property
    def advantage(self) -> float:
        """Share recovered beyond the baseline."""
        return self.recovered_share - self.baseline_share

    def to_dict(self) -> dict[str, Any]:
        return {"attack": "reconstruction", "people": self.people,
                "queries_asked": self.queries_asked, "queries_answered": self.queries_answered,
                "epsilon_spent": self.epsilon_spent, "recovered": self.recovered,
                "recovered_share": self.recovered_share, "baseline_share": self.baseline_share,
                "advantage": self.advantage, "stopped": self.stopped}


def reconstruct(subsets: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """The bits (0/1, int8) that best explain ``answers`` to the subset sums ``subsets``
    (q x n, bool): Dinur and Nissim's linear program, ``min sum |subsets @ x - answers|`` over
    ``x`` in ``[0, 1]^n`` (with one slack variable per answer), solved by HiGHS and rounded at
    1/2. With no answers every bit is 0."""
    rows = np.asarray(subsets, dtype=bool)
    values = np.asarray(answers, dtype=float)
    if rows.ndim != 2 or values.ndim != 1 or rows.shape[0] != values.shape[0]:
        raise InputError(f"subsets must be (q, n) and answers (q,); got {rows.shape} and "
                         f"{values.shape}")
    if not np.isfinite(values).all():
        raise InputError("answers must be finite numbers; leave out the unanswered queries")
    q, n = rows.shape
    if q == 0:
        return np.zeros(n, dtype=np.int8)
    a = sparse.csr_array(rows.astype(float))
    slack = sparse.identity(q, format="csr")
    # a x - e <= b  and  -a x - e <= -b  together say |a x - b| <= e
    constraints = sparse.vstack([sparse.hstack([a, -slack]), sparse.hstack([-a, -slack])],
                                format="csr")
    bounds = np.concatenate([np.tile([0.0, 1.0], (n, 1)), np.tile([0.0, np.inf], (q, 1))])
    solved = linprog(np.concatenate([np.zeros(n), np.ones(q)]), A_ub=constraints,
                     b_ub=np.concatenate([values, -values]), bounds=bounds, method="highs")
    if solved.status != 0:
        raise RuntimeError(f"the reconstruction LP did not solve: {solved.message}")
    return (solved.x[:n] >= 0.5).astype(np.int8)


def attack(answer: Callable[[np.ndarray], float | None], n: int, *, queries: int,
           seed: int = 0, truth: np.ndarray | Sequence[int]) -> ReconstructionResult:
    """Ask ``answer(subset)`` (subset: a length-``n`` bool mask, each person in with
    probability 1/2) until ``queries`` are asked or it returns None or raises
    :class:`~veil.errors.PrivacyBudgetError`; solve with the answers received
    (:func:`reconstruct`) and score the bits against ``truth``, which the attacker never sees.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"n must be a whole number >= 1; got {n!r}")
    if isinstance(queries, bool) or not isinstance(queries, int) or queries < 0:
        raise InputError(f"queries must be a whole number >= 0; got {queries!r}")
    secret = _bits(truth, n)
    rng = np.random.default_rng(seed)
    asked, subsets, answers, stopped = 0, [], [], "queries"
    while asked < queries:
        subset = rng.random(n) < 0.5
        asked += 1
        try:
            value = answer(subset)
        except PrivacyBudgetError:
            value = None
        if value is None:
            stopped = "refused"
            break
        subsets.append(subset)
        answers.append(float(value))
    guess = reconstruct(np.array(subsets, dtype=bool).reshape(len(subsets), n),
                        np.array(answers, dtype=float))
    ones = float(secret.mean())
    return ReconstructionResult(people=n, queries_asked=asked, queries_answered=len(answers),
                                epsilon_spent=None, recovered=int((guess == secret).sum()),
                                baseline_share=max(ones, 1.0 - ones), stopped=stopped)


def through_workspace(session: Any, dataset: str, secret: str, id_column: str, *,
                      queries: int, epsilon_per_query: float, seed: int = 0,
                      ids: Sequence[Any] | None = None,
                      truth: np.ndarray | Sequence[int] | None = None) -> ReconstructionResult:
    """Run :func:`attack` against ``session``'s DP query API on ``dataset``.

    Each subset becomes one query, ``SUM(secret)`` when the dataset's DP settings bound
    ``secret`` and ``COUNT(*) ... WHERE secret = 1`` otherwise, restricted to ``id_column IN
    (the subset's ids)`` and spending ``epsilon_per_query``; the attacker stops when the budget
    refuses. He knows the ids (a public list); ``ids`` and ``truth`` (the secret bits, in the
    same order) default to reading both columns through ``session``, which is the auditor's
    side of the attack and is logged as a read.
    """
    if ids is None or truth is None:
        frame = session.read(dataset, columns=[id_column, secret])
        ids = frame[id_column].to_list() if ids is None else ids
        truth = frame[secret].cast(pl.Int64).to_numpy() if truth is None else truth
    people = list(ids)
    schema = session.version(dataset).schema
    if secret not in schema:
        raise InputError(f"no column {secret!r} in dataset {dataset!r}")
    one: Any = True if str(schema[secret]).startswith("Bool") else 1
    base = Query(dataset)
    base = (base.sum(secret, alias="answer") if secret in session.dp_settings(dataset).bounds
            else base.where(secret, "=", one).count(alias="answer"))
    spent: list[float] = []

    def answer(subset: np.ndarray) -> float:
        chosen = [people[i] for i in np.flatnonzero(subset)]
        if not chosen:
            return 0.0  # the empty sum is known without asking
        released = session.query(base.where(id_column, "in", chosen),
                                 epsilon=epsilon_per_query)
        spent.append(0.0 if released.cached else released.spent.epsilon)
        return float(released.frame["value"][0])

    result = attack(answer, len(people), queries=queries, seed=seed, truth=truth)
    return dataclasses.replace(result, epsilon_spent=float(sum(spent)))


def _bits(truth: np.ndarray | Sequence[int], n: int) -> np.ndarray:
    bits = np.asarray(truth)
    if bits.shape != (n,):
        raise InputError(f"truth must hold one bit per person ({n}); got shape {bits.shape}")
    if not np.isin(bits, (0, 1)).all():
        raise InputError("truth must hold bits (0 or 1, or booleans)")
    return bits.astype(np.int8)
