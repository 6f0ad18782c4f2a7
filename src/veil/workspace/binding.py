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
row       table:key   table, key, digest of the row (None: removed)    a guarded table's row
append    table:log   table, first and last id, digest of those rows   an append-only table
========  ==========  ===============================================  ===================

Capabilities built on the store bind their own tables without changing this module: a table
registered with :func:`guard_table` has every row bound by ``row`` binds (keyed by its primary
key: purposes, consent snapshots, retention policies) or, for an append-only history, every row
covered by exactly one ``append`` range. Their names hold a ``:``, which dataset and model names
never do, so they cannot collide.

Checks: :func:`check_dataset` (before every spend, cached answer or budget read: the dataset's
budgets, spends and settings equal what its ledger entries say), :func:`check_row` (before a
version or model is decrypted: the row equals the digest in its registration entry, and that
entry is proven included in the signed head), :func:`check_table_row` (the same for a guarded
table's row, before it is used), :func:`verify` (everything, replayed from the
whole ledger, as ``Workspace.verify`` does). A digest covers a row exactly as SQLite stores it,
read back inside the transaction that wrote it.

What the per-operation checks trust: that the ledger rows they read were not rewritten too.
Rewriting a ledger row breaks its hash, chain and the signed root, which ``verify`` (and an
auditor's trusted heads) catches; only a signed head can vouch for the whole history.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from veil.errors import BoundStateError
from veil.ledger import Ledger, Record

__all__ = ["adopt", "bind_appended", "bind_budget", "bind_destroy", "bind_model",
           "bind_settings", "bind_spend", "bind_table_row", "bind_version", "check_dataset",
           "check_row", "check_table_row", "guard_table", "verify"]

_ROWS = {
    "version": ("SELECT d.name, v.version, v.file, v.key_id, v.schema, v.rows, v.subject_id, "
                "v.fingerprint, v.provenance, v.classification, v.created FROM versions v "
                "JOIN datasets d USING (dataset_id) WHERE d.name = ? AND v.version = ?"),
    "model": ("SELECT name, version, file, key_id, dataset, dataset_version, fingerprint, meta, "
              "created FROM models WHERE name = ? AND version = ?"),
}


_TABLE = re.compile(r"[a-z][a-z0-9_]*")
_GUARDED: dict[str, str] = {}  # table -> "row" or "append" (see guard_table)


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


def guard_table(table: str, kind: str) -> None:
    """Register a capability's table (``kind`` "row" or "append"), so :func:`verify` also
    refuses rows that were added to it without any bind."""
    if not _TABLE.fullmatch(table) or kind not in ("row", "append"):
        raise ValueError(f"cannot guard table {table!r} with kind {kind!r}")
    _GUARDED[table] = kind


def _key_column(conn: sqlite3.Connection, table: str) -> str | None:
    """The single-column primary key of ``table`` (None when there is no such table)."""
    if not _TABLE.fullmatch(table):
        raise ValueError(f"{table!r} is not a guarded table name")
    keys = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[5]]
    if len(keys) > 1:
        raise ValueError(f"table {table!r} has a composite primary key; bind rows by one key")
    return keys[0] if keys else None


def table_row_digest(conn: sqlite3.Connection, table: str, key: str) -> str | None:
    """SHA-256 of one row of a guarded table as stored (None if there is none)."""
    column = _key_column(conn, table)
    row = None if column is None else conn.execute(
        f"SELECT * FROM {table} WHERE {column} = ?", (key,)).fetchone()  # noqa: S608
    return None if row is None else _digest("row", table, *row)


def _range_digest(conn: sqlite3.Connection, table: str, first: int, last: int) -> str:
    if not _TABLE.fullmatch(table):
        raise ValueError(f"{table!r} is not a guarded table name")
    rows = conn.execute(f"SELECT * FROM {table} WHERE id BETWEEN ? AND ? ORDER BY id",  # noqa: S608
                        (first, last)).fetchall()
    return _digest("append", table, len(rows), [list(r) for r in rows])


def bind_table_row(conn: sqlite3.Connection, table: str, key: str) -> dict[str, Any]:
    """Bind one row of a guarded table as it is now (``digest`` None: the row was removed)."""
    return {"kind": "row", "name": f"{table}:{key}", "table": table, "key": key,
            "digest": table_row_digest(conn, table, key)}


def bind_appended(conn: sqlite3.Connection, table: str, first: int, last: int
                  ) -> dict[str, Any]:
    """Bind rows ``first..last`` (by ``id``) just appended to an append-only table."""
    return {"kind": "append", "name": f"{table}:log", "table": table, "first": first,
            "last": last, "digest": _range_digest(conn, table, first, last)}


def check_table_row(conn: sqlite3.Connection, ledger: Ledger, table: str, key: str) -> None:
    """Refuse a guarded table's row that differs from its newest ``row`` bind (proven in the
    signed head), or that exists with no bind at all; a row that is absent and was never bound
    (or whose removal was bound) passes, for the caller to report as unknown. Reads in one
    snapshot, so a write committed meanwhile by another process is not taken for an edit."""
    with _snapshot(conn):
        found = ledger.find_bound(f"{table}:{key}", "row")
        stored = table_row_digest(conn, table, key)
    if (found["digest"] if found else None) != stored:
        raise BoundStateError(f"the {table} row {key!r} differs from its ledger registration; "
                              "the catalog was edited")


# -- replay ---------------------------------------------------------------------------------
@dataclass
class _State:
    """What the ledger says one name's guarded rows must be."""

    budgets: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    spends: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    settings: str | None = None
    rows: dict[tuple[str, int], str] = field(default_factory=dict)
    destroyed: set[int] = field(default_factory=set)
    row: tuple[str, str, str | None] | None = None  # a guarded table's row: table, key, digest
    appended: list[tuple[str, int, int, str]] = field(default_factory=list)
    digest: str | None = None  # a registered kind's newest digest (see register_verifier)

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
        elif kind == "row":
            self.row = (bind["table"], bind["key"], bind["digest"])
        elif kind == "append":
            self.appended.append((bind["table"], bind["first"], bind["last"], bind["digest"]))
        elif kind in _VERIFIERS:
            self.digest = bind["digest"]


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
    _verify_tables(conn, states.values())
    for prefix, verifier in (_VERIFIERS[kind] for kind in sorted(_VERIFIERS)):
        verifier(conn, {n.removeprefix(prefix): s.digest for n, s in states.items()
                        if n.startswith(prefix) and s.digest is not None})
    return count


Verifier = Callable[[sqlite3.Connection, dict[str, str]], None]
_VERIFIERS: dict[str, tuple[str, Verifier]] = {}


def register_verifier(kind: str, prefix: str, verifier: Verifier) -> None:
    """A bind ``kind`` whose binds are ``{"kind", "name": prefix + key, "digest"}`` and whose
    rows a package checks itself: :func:`verify` hands ``verifier`` the newest digest of every
    key, and it raises :class:`BoundStateError` on any difference (rows missing, extra or
    altered)."""
    _VERIFIERS[kind] = (prefix, verifier)


def bind_digest(kind: str, prefix: str, key: str, digest: str) -> dict[str, Any]:
    return {"kind": kind, "name": f"{prefix}{key}", "digest": digest}


def check_digest(conn: sqlite3.Connection, kind: str, prefix: str, key: str,
                 digest: str) -> None:
    """Refuse ``key``'s rows when their digest is not the newest one bound (per use)."""
    with _snapshot(conn):
        newest = None
        for _, bind in _binds(conn, f"{prefix}{key}"):
            if bind.get("kind") == kind:
                newest = bind["digest"]
    if newest != digest:
        raise BoundStateError(f"the {kind} {key!r} differs from its ledger registration; the "
                              "catalog was edited")


def _verify_tables(conn: sqlite3.Connection, states: Iterable[_State]) -> None:
    """Guarded tables against their ``row`` and ``append`` binds (see :func:`guard_table`)."""
    rows: dict[str, dict[str, str]] = {t: {} for t, k in _GUARDED.items() if k == "row"}
    ranges: dict[str, list[tuple[int, int, str]]] = {
        t: [] for t, k in _GUARDED.items() if k == "append"}
    for state in states:
        if state.row is not None:
            table, key, digest = state.row
            rows.setdefault(table, {})
            if digest is not None:
                rows[table][key] = digest
        for table, first, last, digest in state.appended:
            ranges.setdefault(table, []).append((first, last, digest))
    for table, want in sorted(rows.items()):
        column = _key_column(conn, table)
        stored = set() if column is None else {r[0] for r in conn.execute(
            f"SELECT {column} FROM {table}")}  # noqa: S608
        if stored != set(want):
            raise BoundStateError(f"the {table} table has {len(stored - set(want))} row(s) "
                                  f"without a ledger registration and lacks "
                                  f"{len(set(want) - stored)} registered row(s); the catalog "
                                  "was edited")
        changed = sorted(k for k in want if table_row_digest(conn, table, k) != want[k])
        if changed:
            raise BoundStateError(f"the {table} row(s) {changed[:5]} differ from their ledger "
                                  "registration; the catalog was edited")
    for table, spans in sorted(ranges.items()):
        if _key_column(conn, table) is None:
            if spans:
                raise BoundStateError(f"the {table} table is gone; the catalog was edited")
            continue
        (stored,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
        bound = sum(last - first + 1 for first, last, _ in spans)
        altered = sum(1 for first, last, digest in spans
                      if _range_digest(conn, table, first, last) != digest)
        if stored != bound or altered:
            raise BoundStateError(f"the {table} history differs from the ledger: {stored} rows "
                                  f"stored, {bound} registered, {altered} registered range(s) "
                                  "altered; the catalog was edited")


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
