"""Datasets: ingest a source as a new sealed version, read one, crypto-shred one.

Each function takes the guard's :class:`~veil.access.scope.Scope` (who, why, whose rows) and
runs after the guard decided the call; every use is one ledger entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from veil import __version__
from veil.access.scope import Scope
from veil.errors import SchemaError
from veil.workspace import binding, sources
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Store, check_name, summary

__all__ = ["check_columns", "destroy", "ingest", "read"]


def ingest(store: Store, scope: Scope, source: sources.Source, name: str, *, subject_id: str,
           format: str | None = None, schema_overrides: Mapping[str, pl.DataType] | None = None,
           classify: bool = True) -> DatasetVersion:
    """Validate, fingerprint, encrypt and register ``source`` as the next version of ``name``.

    With ``classify`` (the default) a sampled :func:`veil.discover.scan_table` runs too; its
    findings are stored with the version and summarised in the ledger entry. Everything is
    checked before anything is written; the vault file is written atomically before the catalog
    transaction, so a crash leaves at worst an unreferenced sealed file (see ``veil gc``).
    """
    check_name(name, "dataset")
    frame, provenance = sources.load(source, format=format, schema_overrides=schema_overrides,
                                     subject_id=subject_id)
    sources.check_subject_id(frame, subject_id, provenance.get("file", provenance["source"]))
    with store.sealing((frame, classify)) as (sealed,), store.transaction() as now:
        provenance |= {"veil": __version__, "actor": scope.principal, "purpose": scope.purpose}
        version = store.add_version(name, sealed, frame, subject_id, provenance, now)
        store.log(now, scope, "dataset.ingest", f"{name}@{version}", rows=frame.height,
                  columns=frame.width, subject_id=subject_id, fingerprint=sealed[3],
                  key_id=sealed[1], source=provenance, classification=summary(sealed[4]),
                  bind=binding.bind_version(store.conn, name, version))
    return store.version(name, version)


def check_columns(record: DatasetVersion, columns: Sequence[str]) -> list[str]:
    missing = [c for c in columns if c not in record.schema]
    if missing:
        msg = f"{record.ref} has no column(s) {missing}; columns are {list(record.schema)}"
        raise SchemaError(msg)
    return list(columns)


def read(store: Store, scope: Scope, record: DatasetVersion, columns: Sequence[str]
         ) -> pl.DataFrame:
    """Decrypt a version (checked against its registration and fingerprint), keep the rows the
    scope allows, log the access and return the columns asked for."""
    frame, left_out = store.open_then(record,
                                      lambda opened: scope.filter(opened, record.subject_id))
    with store.transaction() as now:
        store.log(now, scope, "dataset.read", record.ref, columns=list(columns),
                  fingerprint=record.fingerprint, **scope.left_out(left_out))
    return frame.select(columns)


def destroy(store: Store, scope: Scope, record: DatasetVersion) -> DatasetVersion:
    """Crypto-shred one version: its data key is erased, so its sealed bytes are noise."""
    with store.transaction() as now:
        store.ring.destroy(record.key_id, now)
        store.conn.execute("UPDATE versions SET destroyed = ? WHERE file = ?", (now, record.file))
        store.log(now, scope, "dataset.destroy", record.ref, key_id=record.key_id,
                  fingerprint=record.fingerprint,
                  bind=binding.bind_destroy(record.dataset, record.version))
    store.vault.discard(record.file)
    store.checkpoint()
    return store.version(record.dataset, record.version)
