"""Key administration inside a workspace: master-key rotation, the pseudonym key and its
epochs, and TLS certificates from the federation CA. Each action is a ledger entry; no key
bytes are ever logged."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from veil.access.scope import Scope
from veil.discover.redact import Pseudonymizer
from veil.keys import KeyRing, MasterKey
from veil.keys import tls as tls_certs
from veil.keys.ring import pseudonym_key_id
from veil.workspace.store import Store

__all__ = ["issue_tls", "pseudonymizer", "rotate_master", "rotate_pseudonym_key"]


def rotate_master(store: Store, scope: Scope, new_master: MasterKey,
                  secrets: Callable[[KeyRing], list[dict[str, Any]]] | None = None) -> int:
    """Re-wrap every key under a new master key (data files stay as they are). ``secrets``
    re-seals what other packages keep under the master key (TOTP seeds) in the same
    transaction, given the new ring, and returns the binds of what it changed."""
    with store.transaction() as now:
        rebound = secrets(KeyRing(store.conn, new_master)) if secrets is not None else []
        count = store.ring.rotate(new_master)
        store.log(now, scope, "keys.rotate", "keyring", keys=count, secrets=len(rebound),
                  kdf="argon2id" if new_master.kdf else "raw")
        for bind in rebound:
            store.log(now, scope, "keys.rewrap", bind["name"], bind=bind)
    store.checkpoint()
    return count


def pseudonymizer(store: Store, scope: Scope) -> Pseudonymizer:
    """Keyed, stable tokens for this workspace (same value, same token); the use is logged."""
    with store.transaction() as now:
        store.log(now, scope, "keys.use", "pseudonym-key")
    return Pseudonymizer(store.ring.pseudonym_key())


def rotate_pseudonym_key(store: Store, scope: Scope) -> int:
    """Start a new pseudonym key epoch and return its number: tokens made from now on differ
    from earlier ones. Earlier keys stay in the ring (wrapped), so ``pseudonymize(epoch=)`` can
    still link new data to an old release; token maps need no key and keep working."""
    with store.transaction() as now:
        epoch = store.ring.add_pseudonym_epoch(now)
        store.log(now, scope, "keys.rotate_pseudonym", "pseudonym-key", epoch=epoch,
                  key_id=pseudonym_key_id(epoch))
    return epoch


def issue_tls(store: Store, scope: Scope, directory: str | os.PathLike[str], *,
              hosts: Sequence[str], days: int) -> tls_certs.TlsFiles:
    """Write ``ca.crt``, ``server.pem`` and ``server.key`` (0600) for a server on ``hosts``
    into ``directory``, signed by this workspace's federation CA. The CA key is made on first
    use and stays wrapped in the key ring; ``ca.crt`` is the same every time, so peers pin it
    once. The issue is logged (serial, fingerprints, hosts; no key bytes)."""
    with store.transaction() as now:
        der, created = store.ring.tls_ca_key(now)
        files = tls_certs.issue(directory, tls_certs.key_from_der(der),
                                created=datetime.fromisoformat(created), hosts=hosts, days=days)
        store.log(now, scope, "tls.issue", "federation-ca", **files.facts())
    return files
