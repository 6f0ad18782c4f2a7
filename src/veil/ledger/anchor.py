"""Copies of the signed tree head kept outside the catalog: they catch a catalog rolled back.

The catalog holds the ledger and its newest signed head, so a catalog copied aside and copied
back later is internally consistent: every hash and signature in it checks. What it cannot
hide is that a newer head was published. After every commit the head is copied to *anchors*:
``ledger-head.json`` beside the catalog and any number of witness directories (another disk,
a folder an auditor owns), where it is ``veil-head-<key id>.json``.

Rules, enforced here:

* an anchor only advances: a head replaces the stored one only when it is larger (writers
  serialise on a lock file), and a write transaction whose result would not extend every
  anchor is refused before it commits;
* opening a workspace fails closed when an anchor covers more entries than the catalog holds,
  or its root is not the root of the catalog's first ``size`` entries (a replaced catalog);
* anchors are read *before* the catalog snapshot they are compared with, so a head published
  by a concurrent commit is never mistaken for one from the future.

A configured witness whose file is missing fails the same way: an anchor that vanished is
evidence removed. The owner's way out of a real rollback is :meth:`Anchors.abandon` (through
``Workspace.recover``): the stale heads are kept as ``*.abandoned-*.json`` and the ledger records
that they were abandoned.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from veil._atomic import atomic_write
from veil._lock import file_lock
from veil.errors import IntegrityError, LedgerIntegrityError, RollbackError
from veil.ledger.proofs import SignedTreeHead
from veil.ledger.signing import LedgerKey

__all__ = ["Anchor", "Anchors", "witness_file"]

RootAt = Callable[[int], bytes]


def witness_file(directory: Path, public_key: bytes) -> Path:
    """Where a workspace's head lives in a witness directory (one directory may serve many
    workspaces; the ledger key tells them apart)."""
    return directory / f"veil-head-{public_key.hex()[:32]}.json"


@dataclass(frozen=True)
class Anchor:
    """One place a head is published; ``required`` anchors must exist once configured."""

    path: Path
    label: str
    required: bool


class Anchors:
    """The head file beside the catalog plus the witness files."""

    def __init__(self, head_path: Path, public_key: bytes, key: Callable[[], LedgerKey],
                 witnesses: Sequence[tuple[Path, bool]] = ()) -> None:
        """``public_key``: the ledger's Ed25519 key, which names its witness files; ``key``:
        the current (hybrid) key heads are checked with; ``witnesses``: (directory, required)
        pairs; a configured witness is required (its file must exist), one named for a
        session only is written on first use."""
        self.public_key = public_key
        self._key = key
        self.lock_path = head_path.with_name(f".{head_path.name}.lock")
        self.anchors = [Anchor(head_path, f"the published head {head_path.name}", False)]
        needed: dict[Path, bool] = {}
        for directory, required in witnesses:
            needed[directory] = needed.get(directory, False) or required
        for directory, required in needed.items():
            self.anchors.append(Anchor(witness_file(directory, public_key),
                                       f"the witness head in {directory}", required))

    def add(self, directory: Path, head: SignedTreeHead | None) -> None:
        """Start publishing to a witness directory, writing ``head`` (the current one) there
        first, so the witness holds a prefix before anyone requires it."""
        anchor = Anchor(witness_file(directory, self.public_key),
                        f"the witness head in {directory}", True)
        if head is not None:
            atomic_write(anchor.path, json.dumps(head.to_dict(), indent=2).encode())
        self.anchors.append(anchor)

    def remove(self, directory: Path) -> None:
        path = witness_file(directory, self.public_key)
        self.anchors = [a for a in self.anchors if a.path != path]

    def read(self, anchor: Anchor, *, missing_ok: bool = False) -> SignedTreeHead | None:
        try:
            return SignedTreeHead.from_dict(json.loads(anchor.path.read_text()))
        except FileNotFoundError:
            if anchor.required and not missing_ok:
                raise RollbackError(f"{anchor.label} is missing: a configured witness must "
                                    "hold the head (mount it, or remove the witness)") from None
            return None
        except OSError as exc:
            raise RollbackError(f"{anchor.label} cannot be read: {exc.strerror}") from None
        except (ValueError, IntegrityError):
            raise LedgerIntegrityError(f"{anchor.label} is unreadable") from None

    def heads(self, *, missing_ok: bool = False) -> list[tuple[Anchor, SignedTreeHead]]:
        """Every stored head, signature-checked (a missing witness file raises unless
        ``missing_ok``)."""
        found = []
        key = self._key()
        for anchor in self.anchors:
            head = self.read(anchor, missing_ok=missing_ok)
            if head is None:
                continue
            if not head.is_valid(key):
                raise LedgerIntegrityError(f"{anchor.label} has an invalid signature")
            found.append((anchor, head))
        return found

    @staticmethod
    def check(heads: Sequence[tuple[Anchor, SignedTreeHead]], size: int,
              root_at: RootAt) -> None:
        """Refuse a catalog of ``size`` entries that some anchored head does not prefix."""
        for anchor, head in heads:
            if head.size > size:
                raise RollbackError(
                    f"{anchor.label} covers {head.size} ledger entries but the catalog holds "
                    f"{size}: the catalog was rolled back or replaced by an older copy. Restore "
                    "the newest veil.db from a backup, or, as the owner, accept the loss with "
                    "`veil audit recover --accept-rollback`")
            if root_at(head.size) != head.root:
                raise RollbackError(
                    f"{anchor.label} signs a root for the first {head.size} entries that the "
                    "catalog's ledger does not have: the catalog was replaced. Restore it from a "
                    "backup, or accept the loss with `veil audit recover --accept-rollback`")

    def publish(self, head: SignedTreeHead, *, durable: bool = False) -> None:
        """Advance every anchor to ``head``; never move one back (a concurrent commit may have
        published a larger head already). ``durable`` fsyncs (witnesses are written rarely
        enough to afford it; the local copy is not, see ``Ledger.publish_head``)."""
        data = json.dumps(head.to_dict(), indent=2).encode()
        with file_lock(self.lock_path):
            for anchor in self.anchors:
                try:
                    stored = SignedTreeHead.from_dict(json.loads(anchor.path.read_text()))
                except (OSError, ValueError, IntegrityError):
                    stored = None
                if stored is None or stored.size < head.size:
                    atomic_write(anchor.path, data, durable=durable or anchor.required)

    def abandon(self, heads: Sequence[tuple[Anchor, SignedTreeHead]]) -> list[str]:
        """Move stale anchored heads aside (kept as evidence, never deleted); returns the
        new file names."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        kept = []
        for anchor, head in heads:
            target = anchor.path.with_name(f"{anchor.path.stem}.abandoned-{head.size}-{stamp}.json")
            anchor.path.replace(target)
            kept.append(str(target))
        return kept
