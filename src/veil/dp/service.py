"""DP queries inside a workspace: settings, budgets, and answering under the budget ledger.

Every function runs after the guard decided the call and takes its
:class:`~veil.access.scope.Scope`: the spend is charged to ``scope.principal`` (an
authenticated principal, so a per-principal budget cannot be dodged by naming someone else),
and the rows are only those of people the purpose may use.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from veil.access.scope import Scope
from veil.dp import budget as dp_budget
from veil.dp.execute import DPResult, Settings, cost, run
from veil.dp.query import Query
from veil.errors import BoundStateError, InputError, KeyDestroyedError
from veil.govern import lineage
from veil.workspace import binding
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Store

__all__ = ["answer", "budget", "estimate_bounds", "set_budget", "settings", "update_settings"]


def settings(store: Store, name: str) -> Settings:
    """A dataset's DP settings (bounds, public keys, contribution bound)."""
    store.version(name)
    row = store.conn.execute("SELECT settings FROM dp_settings WHERE dataset = ?",
                             (name,)).fetchone()
    return Settings.from_dict(json.loads(row[0])) if row else Settings()


def update_settings(store: Store, scope: Scope, name: str, *,
                    bounds: Mapping[str, tuple[float, float]] | None,
                    public_keys: Mapping[str, Sequence[Any]] | None,
                    max_rows_per_person: int | None) -> Settings:
    """Merge new value bounds (values are clamped to them), public grouping keys and the most
    rows one person may contribute (more are dropped at random) into the settings; logged and
    bound in the ledger."""
    record = store.version(name)
    current = settings(store, name)
    unknown = sorted((set(bounds or {}) | set(public_keys or {})) - set(record.schema))
    if unknown:
        raise InputError(f"unknown column(s) {unknown} in dataset {name!r}")
    new_bounds = {c: (float(b[0]), float(b[1])) for c, b in (bounds or {}).items()}
    updated = Settings(
        {**current.bounds, **new_bounds},
        {**current.public_keys, **{c: tuple(k) for c, k in (public_keys or {}).items()}},
        current.max_rows_per_person if max_rows_per_person is None else max_rows_per_person)
    updated.check(record.schema)
    with store.transaction() as now:
        store.conn.execute(
            "INSERT INTO dp_settings(dataset, settings, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(dataset) DO UPDATE SET settings = excluded.settings, "
            "updated = excluded.updated", (name, json.dumps(updated.to_dict()), now))
        store.log(now, scope, "dp.settings", name, **updated.to_dict(),
                  bind=binding.bind_settings(store.conn, name))
    return updated


def set_budget(store: Store, scope: Scope, name: str, *, epsilon: float | None,
               delta: float | None, rho: float | None, principal: str) -> dp_budget.Remaining:
    """Set the privacy budget of a dataset (or of one principal on it): (epsilon, delta) or
    zCDP rho; see :mod:`veil.dp.budget`."""
    store.version(name)
    with store.transaction() as now:
        binding.check_dataset(store.conn, name)
        made = dp_budget.set_budget(store.conn, name, principal, epsilon=epsilon, delta=delta,
                                    rho=rho, now=now)
        store.log(now, scope, "dp.budget.set", name, principal=principal, **made.__dict__,
                  bind=binding.bind_budget(store.conn, name, principal))
    return dp_budget.remaining(store.conn, name, principal)


def budget(store: Store, name: str, principal: str) -> dp_budget.Remaining:
    """A dataset's (or a principal's) budget, spent and left, as the ledger backs it."""
    binding.check_dataset(store.conn, name)
    return dp_budget.remaining(store.conn, name, principal)


def answer(store: Store, scope: Scope, query: Query, record: DatasetVersion, chosen: Settings,
           *, epsilon: float | None, delta: float | None, rho: float | None, alpha: float
           ) -> DPResult:
    """Check, compute, then debit and release in one transaction.

    The noisy answer is computed before the write lock is taken (nothing leaves until the
    debit commits), so concurrent queries queue only for the debit; the loser of a race
    between identical requests receives the winner's release, at no cost. Literals in the
    query never reach the catalog or the ledger: both hold its shape with each literal
    replaced by a MAC under a key derived from the version's data key, which dies with the
    version when it is crypto-shredded; the cache key is a MAC under the same key, over the
    query, the version, the spend, the settings and the state of the scope's row filter (a
    consent withdrawn since is a different request)."""
    if record.destroyed:
        raise KeyDestroyedError(f"{record.ref} was crypto-shredded; it cannot be queried")
    binding.check_dataset(store.conn, query.dataset)
    measure = dp_budget.remaining(store.conn, query.dataset).budget.measure
    spend = cost(measure, epsilon, delta, rho)
    secret = store.ring.derive(record.key_id, "dp-query")
    key = _mac(secret, [query.canonical(), record.ref, record.fingerprint, spend.__dict__,
                        alpha, chosen.to_dict(), scope.rows_state()])
    shape = query.shape(lambda literal: f"mac:{_mac(secret, literal)[:32]}")
    result, left_out = None, 0
    if dp_budget.cached(store.conn, key) is None:
        dp_budget.check(store.conn, query.dataset, scope.principal, spend)  # refuse before work
        frame, most_rows, ranges = store.cached(record)
        frame, left_out = scope.filter(frame, record.subject_id)
        result = run(frame, query, chosen, record.subject_id or None, measure=measure,
                     spend=spend, alpha=alpha, most_rows=most_rows, ranges=ranges)
    with store.transaction() as now:
        binding.check_dataset(store.conn, query.dataset)
        earlier = dp_budget.cached(store.conn, key)
        if earlier is None and result is not None:
            left = dp_budget.debit(store.conn, query.dataset, record.version, scope.principal,
                                   shape, key, spend, result.to_dict(), now)
            store.log(now, scope, "dp.query", record.ref, query=shape, spent=spend.__dict__,
                      remaining=left.left.__dict__, alpha=alpha, mechanisms=result.mechanisms,
                      bind=binding.bind_spend(store.conn, key), **scope.left_out(left_out))
            lineage.record(store, scope, now, lineage.Artifact(
                "dp_release", query.dataset, key, lineage.guarantee(spend.__dict__),
                (lineage.Source.of(record),)))
        elif earlier is not None:
            store.log(now, scope, "dp.query.cached", record.ref, query=shape, cache_key=key)
    if earlier is not None:
        overall = dp_budget.remaining(store.conn, query.dataset)
        return DPResult.from_dict(earlier, remaining=overall.to_dict(), cached=True)
    if result is None:  # cached when checked, gone when debited: the catalog was edited
        raise BoundStateError(f"the release cache of {query.dataset!r} changed under a query; "
                              "the catalog was edited")
    return DPResult(result.frame, spend, alpha, result.mechanisms, left.to_dict())


def estimate_bounds(store: Store, scope: Scope, record: DatasetVersion, column: str, *,
                    within: tuple[float, float], epsilon: float | None, rho: float | None,
                    quantiles: tuple[float, float]) -> tuple[float, float]:
    """Estimate a column's bounds under DP (two quantiles of the values clamped to the
    generous range ``within``, spending ``epsilon`` or ``rho`` like any query) and declare them
    in the dataset's settings, for the queries that need them."""
    low, high = quantiles
    query = Query(record.dataset).quantile(column, low, alias="lower").quantile(
        column, high, alias="upper")
    current = settings(store, record.dataset)
    trial = Settings({**current.bounds, column: (float(within[0]), float(within[1]))},
                     current.public_keys, current.max_rows_per_person)
    result = answer(store, scope, query, record, trial, epsilon=epsilon, delta=None, rho=rho,
                    alpha=0.05)
    found = dict(zip(result.frame["statistic"], result.frame["value"], strict=True))
    lower, upper = float(found["lower"]), float(found["upper"])
    if not lower < upper:  # the data sit in one grid cell: widen by one cell
        step = (within[1] - within[0]) / 256
        lower, upper = lower - step, upper + step
    update_settings(store, scope, record.dataset, bounds={column: (lower, upper)},
                    public_keys=None, max_rows_per_person=None)
    return lower, upper


def _mac(key: bytes, value: Any) -> str:
    """HMAC-SHA256 of a value's canonical JSON, hex."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
