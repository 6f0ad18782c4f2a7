"""Catalog state bound to the ledger: what a guarantee rests on is re-derived from signed
entries, so rows edited, deleted or swapped with ``sqlite3`` are caught before they are used.

Every write of guarded state appends a ledger entry whose params carry a ``bind`` object; the
catalog tables are indexes the ledger can rebuild:

========  ==========  ===============================================  ===================
kind      ``name``    other fields                                     catalog rows
========  ==========  ===============================================  ===================
budget    dataset     principal, accountant, epsilon, delta, rho       ``dp_budgets``
spend     dataset     version, principal, key, epsilon, delta, rho,    ``dp_spends``
                      result (SHA-256 of the stored release)
settings  dataset     digest of the stored settings                    ``dp_settings``
version   dataset     version, digest of the row                       ``versions``
destroy   dataset     version                                          ``versions.destroyed``
model     model name  version, digest of the row, weights fingerprint  ``models``
========  ==========  ===============================================  ===================

Checks: :func:`check_dataset` (before every spend, cached answer or budget read: the dataset's
budgets, spends and settings equal what its ledger entries say), :func:`check_row` (before a
version or model is decrypted: the row equals the digest in its registration entry, and that
entry is proven included in the signed head), :func:`verify` (everything, replayed from the
whole ledger, as ``Workspace.verify`` does). A digest covers a row exactly as SQLite stores it,
read back inside the transaction that wrote it.

What the per-operation checks trust: that the ledger rows they read were not rewritten too.
Rewriting a ledger row breaks its hash, chain and the signed root, which ``verify`` (and an
auditor's trusted heads) catches; only a signed head can vouch for the whole history.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from veil.errors import BoundStateError
from veil.ledger import Ledger, Record

__all__ = ["adopt", "bind_budget", "bind_destroy", "bind_model",
           "bind_settings", "bind_spend", "bind_version", "check_dataset", "check_row",
           "verify"]

_ROWS = {
    "version": ("SELECT d.name, v.version, v.file, v.key_id, v.schema, v.rows, v.subject_id, "
                "v.fingerprint, v.provenance, v.classification, v.created FROM versions v "
                "JOIN datasets d USING (dataset_id) WHERE d.name = ? AND v.version = ?"),
    "model": ("SELECT name, version, file, key_id, dataset, dataset_version, fingerprint, meta, "
              "created FROM models WHERE name = ? AND version = ?"),
}


def _digest(*values: Any) -> str:
    return hashlib.sha256(json.dumps(values, separators=(",", ":")).encode()).hexdigest()


def row_digest(conn: sqlite3.Connection, kind: str, name: str, version: int) -> str | None:
    """SHA-256 of a version's or model's catalog row as stored (None if there is none)."""
    row = conn.execute(_ROWS[kind], (name, version)).fetchone()
    return None if row is None else _digest(kind, *row)


# -- what the writers log (each reads back the row it binds, inside the writing transaction) --
def bind_budget(conn: sqlite3.Connection, dataset: str, principal: str) -> dict[str, Any]:
    accountant, eps, delta, rho = conn.execute(
        "SELECT accountant, epsilon, delta, rho FROM dp_budgets WHERE dataset = ? AND "
        "principal = ?", (dataset, principal)).fetchone()
    return {"kind": "budget", "name": dataset, "principal": principal, "accountant": accountant,
            "epsilon": eps, "delta": delta, "rho": rho}


def bind_spend(conn: sqlite3.Connection, key: str) -> dict[str, Any]:
    dataset, version, principal, eps, delta, rho, result = conn.execute(
        "SELECT dataset, version, principal, epsilon, delta, rho, result FROM dp_spends "
        "WHERE cache_key = ?", (key,)).fetchone()
    return {"kind": "spend", "name": dataset, "version": version, "principal": principal,
            "key": key, "epsilon": eps, "delta": delta, "rho": rho,
            "result": hashlib.sha256(result.encode()).hexdigest()}


def bind_settings(conn: sqlite3.Connection, dataset: str) -> dict[str, Any]:
    (text,) = conn.execute("SELECT settings FROM dp_settings WHERE dataset = ?",
                           (dataset,)).fetchone()
    return {"kind": "settings", "name": dataset, "digest": _digest("settings", text)}


def bind_version(conn: sqlite3.Connection, dataset: str, version: int) -> dict[str, Any]:
    return {"kind": "version", "name": dataset, "version": version,
            "digest": row_digest(conn, "version", dataset, version)}


def bind_destroy(dataset: str, version: int) -> dict[str, Any]:
    return {"kind": "destroy", "name": dataset, "version": version}


def bind_model(conn: sqlite3.Connection, name: str, version: int,
               weights: str | None) -> dict[str, Any]:
    """``weights`` is the fingerprint of the model's weights, checked again on every load."""
    return {"kind": "model", "name": name, "version": version, "weights": weights,
            "digest": row_digest(conn, "model", name, version)}


# -- replay ---------------------------------------------------------------------------------
@dataclass
class _State:
    """What the ledger says one name's guarded rows must be."""

    budgets: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    spends: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    settings: str | None = None
    rows: dict[tuple[str, int], str] = field(default_factory=dict)
    destroyed: set[int] = field(default_factory=set)

    def add(self, bind: dict[str, Any]) -> None:
        kind = bind.get("kind")
        if kind == "budget":
            self.budgets[bind["principal"]] = (bind["accountant"], bind["epsilon"],
                                               bind["delta"], bind["rho"])
        elif kind == "spend":
            self.spends[bind["key"]] = (bind["version"], bind["principal"], bind["epsilon"],
                                        bind["delta"], bind["rho"], bind["result"])
        elif kind == "settings":
            self.settings = bind["digest"]
        elif kind in ("version", "model"):
            self.rows[(kind, bind["version"])] = bind["digest"]
        elif kind == "destroy":
            self.destroyed.add(bind["version"])


def _binds(conn: sqlite3.Connection, name: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, bind) of every binding entry (of one name), in ledger order."""
    sql = ("SELECT json_extract(params, '$.bind.name'), json_extract(params, '$.bind') "
           "FROM ledger WHERE json_extract(params, '$.bind.name') ")
    cursor = (conn.execute(sql + "IS NOT NULL ORDER BY seq") if name is None
              else conn.execute(sql + "= ? ORDER BY seq", (name,)))
    for bound, text in cursor:
        yield bound, json.loads(text)


def _dp_rows(conn: sqlite3.Connection, dataset: str) -> _State:
    """The catalog's DP rows of ``dataset``, in the shape of :class:`_State`."""
    found = _State()
    for principal, *budget in conn.execute(
            "SELECT principal, accountant, epsilon, delta, rho FROM dp_budgets WHERE "
            "dataset = ?", (dataset,)):
        found.budgets[principal] = tuple(budget)
    for key, version, principal, eps, delta, rho, result in conn.execute(
            "SELECT cache_key, version, principal, epsilon, delta, rho, result FROM dp_spends "
            "WHERE dataset = ?", (dataset,)):
        found.spends[key] = (version, principal, eps, delta, rho,
                             hashlib.sha256(result.encode()).hexdigest())
    row = conn.execute("SELECT settings FROM dp_settings WHERE dataset = ?",
                       (dataset,)).fetchone()
    found.settings = None if row is None else _digest("settings", row[0])
    return found


def _compare_dp(dataset: str, want: _State, found: _State) -> None:
    if want.budgets != found.budgets:
        changed = sorted(set(want.budgets) ^ set(found.budgets)
                         | {p for p in want.budgets if want.budgets[p] != found.budgets.get(p)})
        raise BoundStateError(f"the privacy budget of {dataset!r} in the catalog differs from "
                              f"the ledger (principals {changed}); the catalog was edited")
    if want.spends != found.spends:
        missing = len(set(want.spends) - set(found.spends))
        extra = len(set(found.spends) - set(want.spends))
        altered = sum(1 for k in set(want.spends) & set(found.spends)
                      if want.spends[k] != found.spends[k])
        raise BoundStateError(f"the recorded spends of {dataset!r} differ from the ledger: "
                              f"{missing} missing, {extra} not in the ledger, {altered} altered; "
                              "the catalog was edited")
    if want.settings != found.settings:
        raise BoundStateError(f"the DP settings of {dataset!r} differ from the ledger; the "
                              "catalog was edited")


def check_dataset(conn: sqlite3.Connection, dataset: str) -> None:
    """Refuse to spend from, or report on, a dataset whose DP state the ledger does not back.
    Reads in one snapshot (the caller's transaction, or a read transaction of its own)."""
    with _snapshot(conn):
        want = _State()
        for _, bind in _binds(conn, dataset):
            want.add(bind)
        _compare_dp(dataset, want, _dp_rows(conn, dataset))


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def check_row(conn: sqlite3.Connection, ledger: Ledger, kind: str, name: str,
              version: int) -> dict[str, Any]:
    """The registration bind of a version or model, proven included in the signed head and
    equal to the row as stored now; returns it (a model's carries its weights' fingerprint)."""
    found = ledger.find_bound(name, kind, version=version)
    if found is None:
        raise BoundStateError(f"{kind} {name}@{version} has no registration in the ledger; the "
                              "catalog was edited")
    if row_digest(conn, kind, name, version) != found["digest"]:
        raise BoundStateError(f"the catalog row of {kind} {name}@{version} differs from its "
                              "ledger registration; the catalog was edited")
    return found


def verify(conn: sqlite3.Connection) -> int:
    """Replay every bind in the (already verified) ledger and compare every guarded table with
    it; returns how many binds were replayed."""
    states: dict[str, _State] = {}
    count = 0
    for name, bind in _binds(conn, None):
        states.setdefault(name, _State()).add(bind)
        count += 1
    dp_names = {r[0] for r in conn.execute(
        "SELECT dataset FROM dp_budgets UNION SELECT dataset FROM dp_spends "
        "UNION SELECT dataset FROM dp_settings")}
    for name in sorted(dp_names | {n for n, s in states.items()
                                   if s.budgets or s.spends or s.settings}):
        _compare_dp(name, states.get(name, _State()), _dp_rows(conn, name))
    stored = {("version", n, v): d for n, v, d in conn.execute(
        "SELECT d.name, v.version, v.destroyed FROM versions v JOIN datasets d "
        "USING (dataset_id)")}
    stored |= {("model", n, v): None for n, v in conn.execute(
        "SELECT name, version FROM models")}
    bound = {(kind, name, version) for name, s in states.items() for kind, version in s.rows}
    if set(stored) != bound:
        extra = sorted(f"{k} {n}@{v}" for k, n, v in set(stored) - bound)
        gone = sorted(f"{k} {n}@{v}" for k, n, v in bound - set(stored))
        raise BoundStateError(f"catalog rows without a ledger registration {extra[:5]}, "
                              f"registrations without a row {gone[:5]}; the catalog was edited")
    for kind, name, version in sorted(stored):
        if row_digest(conn, kind, name, version) != states[name].rows[(kind, version)]:
            raise BoundStateError(f"the catalog row of {kind} {name}@{version} differs from its "
                                  "ledger registration; the catalog was edited")
        if kind == "version" and bool(stored[(kind, name, version)]) != (
                version in states[name].destroyed):
            raise BoundStateError(f"{name}@{version} is marked destroyed differently in the "
                                  "catalog and the ledger")
    return count


def adopt(conn: sqlite3.Connection) -> list[Record]:
    """Binds for every guarded row of a workspace made before binding existed (trust on first
    use: the rows are taken as they are when this veil first opens the workspace)."""
    binds = [bind_budget(conn, *key) for key in conn.execute(
        "SELECT dataset, principal FROM dp_budgets ORDER BY dataset, principal").fetchall()]
    binds += [bind_spend(conn, key) for (key,) in conn.execute(
        "SELECT cache_key FROM dp_spends ORDER BY id").fetchall()]
    binds += [bind_settings(conn, name) for (name,) in conn.execute(
        "SELECT dataset FROM dp_settings ORDER BY dataset").fetchall()]
    for name, version, destroyed in conn.execute(
            "SELECT d.name, v.version, v.destroyed FROM versions v JOIN datasets d "
            "USING (dataset_id) ORDER BY d.name, v.version").fetchall():
        binds.append(bind_version(conn, name, version))
        if destroyed:
            binds.append(bind_destroy(name, version))
    for name, version in conn.execute(
            "SELECT name, version FROM models ORDER BY name, version").fetchall():
        (weights,) = conn.execute(
            "SELECT json_extract(params, '$.weights') FROM ledger WHERE action = "
            "'model.register' AND resource = ?", (f"{name}@{version}",)).fetchone() or (None,)
        binds.append(bind_model(conn, name, version, weights))
    return [Record("veil", "catalog.bind", b["name"], "migration", {"bind": b, "adopted": True})
            for b in binds]
