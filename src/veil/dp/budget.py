"""The privacy budget ledger: what each dataset and each principal may still spend.

Budgets live in the workspace catalog, so they survive restarts and bind every process that
opens the workspace. A dataset has one accountant:

* ``approx``: budgets and spends in (epsilon, delta), composed by basic composition (sums);
  queries use Laplace noise (pure epsilon-DP; delta only for partition selection);
* ``zcdp``: budgets and spends in rho (zero-concentrated DP), which compose by addition;
  queries use Gaussian noise.

The dataset-wide budget (principal ``*``) caps everyone together; a principal's own budget,
when set, caps that principal too. :func:`debit` runs inside the caller's ``BEGIN IMMEDIATE``
transaction: it sums what was spent, refuses a request that would exceed either cap, and
records the spend with its released result in the same transaction, so concurrent requests
(threads or processes) queue on the write lock and can never overspend together.

These tables are an index: every budget set and every spend is also a ledger entry in the same
transaction, and the workspace refuses to spend from, or report, a budget whose rows differ from
those entries (:mod:`veil.workspace.binding`). A spend stores the query's loggable shape (its
literals masked), never the literals themselves.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

from veil.dp.execute import Cost
from veil.errors import InputError, NotFoundError, PrivacyBudgetError

__all__ = ["ALL", "SCHEMA", "Budget", "Remaining", "cached", "check", "debit", "get_budget",
           "remaining", "set_budget", "spent"]

ALL = "*"  # the principal that stands for everyone: the dataset-wide budget

SCHEMA = """
CREATE TABLE IF NOT EXISTS dp_settings (
    dataset  TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dp_budgets (
    dataset     TEXT NOT NULL,
    principal   TEXT NOT NULL,
    accountant  TEXT NOT NULL CHECK (accountant IN ('approx', 'zcdp')),
    epsilon     REAL NOT NULL,
    delta       REAL NOT NULL,
    rho         REAL NOT NULL,
    updated     TEXT NOT NULL,
    PRIMARY KEY (dataset, principal)
);
CREATE TABLE IF NOT EXISTS dp_spends (
    id         INTEGER PRIMARY KEY,
    dataset    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    principal  TEXT NOT NULL,
    query      TEXT NOT NULL,
    cache_key  TEXT NOT NULL UNIQUE,
    epsilon    REAL NOT NULL,
    delta      REAL NOT NULL,
    rho        REAL NOT NULL,
    result     TEXT NOT NULL,
    created    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dp_spends_by_dataset ON dp_spends(dataset, principal);
"""

Accountant = Literal["approx", "zcdp"]


@dataclass(frozen=True)
class Budget:
    accountant: Accountant
    epsilon: float = 0.0
    delta: float = 0.0
    rho: float = 0.0

    @property
    def measure(self) -> Literal["pure", "zcdp"]:
        return "pure" if self.accountant == "approx" else "zcdp"


@dataclass(frozen=True)
class Remaining:
    """A budget, what was spent from it and what is left (one principal or everyone)."""

    dataset: str
    principal: str
    budget: Budget
    spent: Cost
    queries: int

    @property
    def left(self) -> Cost:
        b, s = self.budget, self.spent
        return Cost(max(b.epsilon - s.epsilon, 0.0), max(b.delta - s.delta, 0.0),
                    max(b.rho - s.rho, 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "principal": self.principal,
                "accountant": self.budget.accountant, "budget": self.budget.__dict__,
                "spent": self.spent.__dict__, "left": self.left.__dict__,
                "queries": self.queries}


def _positive(name: str, value: float | None, *, upper: float | None = None,
              allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"budget {name} must be a finite number; got {value!r}")
    if value < 0 or (value == 0 and not allow_zero) or (upper is not None and value >= upper):
        bound = f" and below {upper}" if upper is not None else ""
        raise InputError(f"budget {name} must be {'>= 0' if allow_zero else '> 0'}{bound}; "
                         f"got {value}")
    return float(value)


def set_budget(conn: sqlite3.Connection, dataset: str, principal: str, *,
               epsilon: float | None, delta: float | None, rho: float | None,
               now: str) -> Budget:
    """Set (or replace) a budget; the accountant follows from what is given and must match
    the dataset's other budgets. Lowering a budget below what was spent is allowed: nothing
    more can be spent then."""
    if rho is not None:
        if epsilon is not None or delta is not None:
            raise InputError("give a budget either as epsilon (and delta) or as rho, not both")
        budget = Budget("zcdp", rho=_positive("rho", rho))
    elif epsilon is not None:
        budget = Budget("approx", epsilon=_positive("epsilon", epsilon),
                        delta=_positive("delta", delta or 0.0, upper=1.0, allow_zero=True))
    else:
        raise InputError("a budget needs epsilon (and optionally delta) or rho")
    other = conn.execute("SELECT DISTINCT accountant FROM dp_budgets WHERE dataset = ? AND "
                         "principal != ?", (dataset, principal)).fetchall()
    if any(row[0] != budget.accountant for row in other):
        raise InputError(f"dataset {dataset!r} already keeps its budgets as "
                         f"{other[0][0]}; use the same kind for every principal")
    conn.execute(
        "INSERT INTO dp_budgets(dataset, principal, accountant, epsilon, delta, rho, updated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(dataset, principal) DO UPDATE SET "
        "accountant = excluded.accountant, epsilon = excluded.epsilon, "
        "delta = excluded.delta, rho = excluded.rho, updated = excluded.updated",
        (dataset, principal, budget.accountant, budget.epsilon, budget.delta, budget.rho, now))
    return budget


def get_budget(conn: sqlite3.Connection, dataset: str, principal: str = ALL) -> Budget | None:
    row = conn.execute("SELECT accountant, epsilon, delta, rho FROM dp_budgets WHERE "
                       "dataset = ? AND principal = ?", (dataset, principal)).fetchone()
    return Budget(*row) if row else None


def spent(conn: sqlite3.Connection, dataset: str, principal: str = ALL) -> tuple[Cost, int]:
    """What was spent on ``dataset`` (by ``principal``, or by everyone for ``ALL``)."""
    where, args = ("dataset = ?", [dataset]) if principal == ALL else (
        "dataset = ? AND principal = ?", [dataset, principal])
    row = conn.execute(f"SELECT COALESCE(SUM(epsilon), 0), COALESCE(SUM(delta), 0), "  # noqa: S608
                       f"COALESCE(SUM(rho), 0), COUNT(*) FROM dp_spends WHERE {where}",
                       args).fetchone()
    return Cost(row[0], row[1], row[2]), row[3]


def remaining(conn: sqlite3.Connection, dataset: str, principal: str = ALL) -> Remaining:
    budget = get_budget(conn, dataset, principal)
    if budget is None:
        who = "" if principal == ALL else f" for principal {principal!r}"
        raise NotFoundError(f"no privacy budget is set for dataset {dataset!r}{who}; set one "
                            "with Workspace.set_budget or `veil budget set`")
    used, count = spent(conn, dataset, principal)
    return Remaining(dataset, principal, budget, used, count)


def _exceeds(left: Remaining, cost: Cost) -> str | None:
    b, s = left.budget, left.spent
    slack = 1e-12
    if b.accountant == "approx":
        if s.epsilon + cost.epsilon > b.epsilon + slack:
            return f"epsilon {cost.epsilon:g} asked, {max(b.epsilon - s.epsilon, 0):.6g} left"
        if s.delta + cost.delta > b.delta + slack:
            return f"delta {cost.delta:g} asked, {max(b.delta - s.delta, 0):.6g} left"
        return None
    if s.rho + cost.rho > b.rho + slack:
        return f"rho {cost.rho:g} asked, {max(b.rho - s.rho, 0):.6g} left"
    return None


def check(conn: sqlite3.Connection, dataset: str, principal: str, cost: Cost) -> Remaining:
    """Refuse ``cost`` if it exceeds the dataset's or ``principal``'s budget; returns the
    dataset's budget as it stands."""
    overall = remaining(conn, dataset)
    checks = [overall]
    if get_budget(conn, dataset, principal) is not None:
        checks.append(remaining(conn, dataset, principal))
    for left in checks:
        why = _exceeds(left, cost)
        if why is not None:
            whose = "the dataset's" if left.principal == ALL else f"{principal!r}'s"
            raise PrivacyBudgetError(f"{whose} privacy budget for {dataset!r} is exhausted: "
                                     f"{why}; nothing was released or spent")
    return overall


def debit(conn: sqlite3.Connection, dataset: str, version: int, principal: str,
          query: str, cache_key: str, cost: Cost, result: dict[str, Any], now: str
          ) -> Remaining:
    """Inside the caller's write transaction: :func:`check` ``cost``, then record the spend
    and its result (``query`` is the request's loggable shape, never its literals). Returns
    the dataset's budget after the spend."""
    check(conn, dataset, principal, cost)
    conn.execute(
        "INSERT INTO dp_spends(dataset, version, principal, query, cache_key, epsilon, delta, "
        "rho, result, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (dataset, version, principal, query, cache_key, cost.epsilon, cost.delta, cost.rho,
         json.dumps(result, default=str), now))
    return remaining(conn, dataset)


def cached(conn: sqlite3.Connection, cache_key: str) -> dict[str, Any] | None:
    """The released result of an identical earlier request, if any."""
    row = conn.execute("SELECT result FROM dp_spends WHERE cache_key = ?",
                       (cache_key,)).fetchone()
    return json.loads(row[0]) if row else None
