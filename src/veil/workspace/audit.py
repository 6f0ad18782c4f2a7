"""The workspace's own integrity: audited events, full verification, the anchors of the
signed head (witnesses, recovery from a rollback) and collecting unreferenced vault files."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from veil.access.scope import Scope
from veil.errors import InputError
from veil.govern import lineage
from veil.ledger import SignedTreeHead, Verification
from veil.workspace import binding
from veil.workspace.store import FORMAT, Store

__all__ = ["add_witness", "collect_garbage", "record", "recover", "remove_witness", "verify",
           "witnesses"]


def record(store: Store, scope: Scope, action: str, resource: str, **params: Any) -> int:
    """Append one audited event (a computation on encrypted or secret-shared data, a proof
    checked) with its parameters and results, never raw personal values; returns its ledger
    sequence number. An event on a dataset version (``resource`` ``name@version``) is recorded
    in the lineage as a ``computation`` derived from it."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+", action):
        raise InputError(f"an action is dotted lower-case words like 'he.score'; got {action!r}")
    with store.transaction() as now:
        store.log(now, scope, action, resource, **params)
        seq = store.ledger.size
        source = lineage.source_in(store, resource)
        if source is not None:  # a result computed from a dataset version is an artifact
            lineage.record(store, scope, now,
                           lineage.Artifact("computation", action, str(seq), None, (source,)))
    return seq


def verify(store: Store, trusted: Sequence[SignedTreeHead] = ()) -> Verification:
    """Full verification in one snapshot: the ledger against its signed, anchored and
    ``trusted`` heads (:meth:`veil.ledger.Ledger.verify`), then every guarded catalog row
    against the ledger entries that bind it (:mod:`veil.workspace.binding`)."""
    anchored = [head for _, head in store.ledger.anchors.heads()]  # before the snapshot
    store.conn.execute("BEGIN")
    try:
        result = store.ledger.verify([*anchored, *trusted], anchors=False)
        bound = binding.verify(store.conn) if store.format() >= FORMAT else 0
    finally:
        store.conn.execute("COMMIT")
    return dataclasses.replace(result, bound=bound)


def recover(store: Store, scope: Scope) -> list[dict[str, Any]]:
    """The owner's way out of a rolled-back catalog (opened with ``check_ledger=False``): the
    catalog's own ledger and bindings must verify in full; every anchored head it does not
    extend is kept aside as ``*.abandoned-*.json`` and the ledger records it. What was logged
    and spent behind those heads is gone from this catalog, so re-check budgets (the abandoned
    heads say how many entries were lost). Prefer restoring the newest ``veil.db`` from a
    backup; this is for when there is none."""
    store.ledger.verify(anchors=False)
    binding.verify(store.conn)
    size = store.ledger.size
    stale = [(a, h) for a, h in store.ledger.anchors.heads(missing_ok=True)
             if h.size > size or store.ledger.root_at(h.size) != h.root]
    if not stale:
        raise InputError("nothing to recover: every anchored head is a prefix of this "
                         "catalog's ledger")
    kept = store.ledger.anchors.abandon(stale)
    abandoned = [{"anchor": a.label, "head": h.to_dict(), "kept_as": Path(k).name,
                  "entries_lost": max(h.size - size, 0)}
                 for (a, h), k in zip(stale, kept, strict=True)]
    with store.transaction() as now:
        store.log(now, scope, "ledger.recover", "ledger", catalog_size=size, abandoned=abandoned)
    return abandoned


def witnesses(store: Store) -> list[str]:
    """The witness directories this workspace publishes its head to (configured ones)."""
    row = store.conn.execute("SELECT value FROM meta WHERE key = 'witnesses'").fetchone()
    return json.loads(row[0]) if row else []


def add_witness(store: Store, scope: Scope, directory: str | os.PathLike[str]) -> Path:
    """Publish the signed head to ``directory`` too (another disk, a folder an auditor owns)
    from now on, and refuse to open the workspace while that copy is ahead of the catalog or
    missing. The head is written there before the configuration commits."""
    folder = Path(directory).resolve()
    if not folder.is_dir():
        raise InputError(f"witness directory {folder} does not exist")
    listed = witnesses(store)
    if str(folder) in listed:
        raise InputError(f"{folder} is already a witness of this workspace")
    store.ledger.anchors.add(folder, store.ledger.head())
    with store.transaction() as now:
        store.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('witnesses', ?)",
                           (json.dumps([*listed, str(folder)]),))
        store.log(now, scope, "ledger.witness.add", "ledger", directory=str(folder))
    return folder


def remove_witness(store: Store, scope: Scope, directory: str | os.PathLike[str]) -> None:
    """Stop publishing to a witness (its file stays where it is, as evidence)."""
    folder = str(Path(directory).resolve())
    listed = witnesses(store)
    if folder not in listed:
        raise InputError(f"{folder} is not a witness of this workspace; witnesses: {listed}")
    store.ledger.anchors.remove(Path(folder))  # a missing witness must not block this
    with store.transaction() as now:
        store.conn.execute("UPDATE meta SET value = ? WHERE key = 'witnesses'",
                           (json.dumps([w for w in listed if w != folder]),))
        store.log(now, scope, "ledger.witness.remove", "ledger", directory=folder)


def collect_garbage(store: Store, scope: Scope) -> list[str]:
    """Delete vault files no live version or model refers to: left by a crash between sealing
    and committing, or between crypto-shredding and removing the file, and temp files of
    interrupted writes. Safe beside concurrent ingests: they hold the vault's pending lock
    from sealing to commit, and this waits for it. Logged when it removes something."""
    def referenced() -> set[str]:
        rows = store.conn.execute("SELECT file FROM versions WHERE destroyed IS NULL "
                                  "UNION SELECT file FROM models")
        return {r[0] for r in rows}

    removed = store.vault.collect(referenced)
    if removed:
        with store.transaction() as now:
            store.log(now, scope, "vault.gc", "vault", files=len(removed))
    return removed
