"""The append-only audit log: a hash chain and an RFC 6962 Merkle tree in SQLite, signed heads.

Tables live in the workspace catalog so that an operation and its audit entry commit in one
transaction: either both exist or neither does. Besides the entries the log stores every complete
aligned subtree hash (``ledger_nodes``), which makes roots and proofs O(log n) lookups, and the
latest signed tree head. After each commit the head is also copied to its anchors (a file beside
the catalog and optional witness directories, :mod:`veil.ledger.anchor`); a catalog rolled back
to an older state then refuses to open, and a write that would not extend the anchors is refused.
Auditors should keep heads they are shown and pass them back as ``trusted`` heads: only an outside
copy can prove that the workspace owner did not rewrite history as a whole.

Heads are hybrid-signed (Ed25519 + ML-DSA-65, :mod:`veil.ledger.signing`). A workspace made
before that switches on its next append: the ML-DSA key is made in the ring inside the same
transaction, that head is the first co-signed one, and a :class:`~veil.ledger.proofs.Switch`
(the last classical head and a consistency proof to the first hybrid one) is stored beside it.
From then on a head without its ML-DSA signature is refused.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey

from veil._atomic import atomic_write
from veil.errors import IntegrityError, LedgerIntegrityError, NotFoundError
from veil.ledger import merkle
from veil.ledger.anchor import Anchors
from veil.ledger.entry import GENESIS, Entry, encode, params_json
from veil.ledger.proofs import (
    ConsistencyProof,
    InclusionProof,
    InvalidProof,
    SignedTreeHead,
    Switch,
    proof_from_dict,
)
from veil.ledger.signing import HeadSigner, LedgerKey

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    seq        INTEGER PRIMARY KEY,
    time       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    resource   TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    params     TEXT NOT NULL,
    prev_hash  BLOB NOT NULL,
    entry_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    size      INTEGER NOT NULL,
    root      BLOB NOT NULL,
    time      TEXT NOT NULL,
    signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_head_ml_dsa (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    size      INTEGER NOT NULL,
    signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_switch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    switch TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_by_resource ON ledger(resource, action);
CREATE INDEX IF NOT EXISTS ledger_by_bind ON ledger(json_extract(params, '$.bind.name'));
"""
_COLUMNS = "seq, time, actor, action, resource, purpose, params, prev_hash, entry_hash"


@dataclass(frozen=True)
class Record:
    """What a caller wants logged; the ledger adds sequence, time and hashes."""

    actor: str
    action: str
    resource: str
    purpose: str
    params: dict[str, Any] = field(default_factory=dict)


class SigningKeys(Protocol):
    """Where the ledger's private keys live (the workspace's key ring)."""

    def signing_key(self) -> Ed25519PrivateKey: ...
    def ml_dsa_key(self) -> MLDSA65PrivateKey | None: ...
    def add_ml_dsa_key(self, now: str) -> MLDSA65PrivateKey: ...


@dataclass(frozen=True)
class Verification:
    """What ``verify`` checked: entries, stored subtree nodes and heads (signed or trusted)."""

    entries: int
    nodes: int
    heads: int
    root: bytes
    bound: int = 0  # catalog rows checked against the entries that bind them (the workspace's)


class Ledger:
    """The workspace's audit ledger. Appends run inside the caller's transaction."""

    def __init__(self, conn: sqlite3.Connection, keys: SigningKeys, head_path: Path,
                 witnesses: Sequence[tuple[Path, bool]] = (), *,
                 key_file: Path | None = None) -> None:
        """``key_file``: where the public :attr:`key` is published (hex), rewritten when the
        workspace switches to hybrid heads."""
        self._conn = conn
        self._keys = keys
        self._ed25519 = keys.signing_key()
        self._key_file = key_file
        self._switched = False
        self.public_key = self._ed25519.public_key().public_bytes_raw()
        """The Ed25519 half: the ledger's identity (witness file names), not enough to verify
        hybrid heads; third parties verify with :attr:`key`."""
        self.anchors = Anchors(head_path, self.public_key, lambda: self.key, witnesses)

    # -- reading ------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM ledger").fetchone()[0]

    def head(self) -> SignedTreeHead | None:
        row = self._conn.execute(
            "SELECT h.size, h.root, h.time, h.signature, p.signature FROM ledger_head h "
            "LEFT JOIN ledger_head_ml_dsa p ON p.id = 1 AND p.size = h.size WHERE h.id = 1"
        ).fetchone()
        return SignedTreeHead(*row) if row else None

    @property
    def key(self) -> LedgerKey:
        """The public key third parties verify heads and proofs with (``veil audit pubkey``):
        Ed25519, plus ML-DSA-65 and the switch point once the workspace has switched."""
        # only the switch point, not the whole stored switch: this runs on every commit
        row = self._conn.execute("SELECT CASE WHEN json_valid(switch) THEN json_extract("
                                 "switch, '$.classical.size') END FROM ledger_switch "
                                 "WHERE id = 1").fetchone()
        if row is not None and not isinstance(row[0], int):
            raise LedgerIntegrityError("the ledger's stored switch to hybrid heads is "
                                       "unreadable")
        return self._signer().public(0 if row is None else row[0])

    def switch(self) -> Switch | None:
        """The stored move to hybrid heads, for a workspace made before them (else None)."""
        row = self._conn.execute("SELECT switch FROM ledger_switch WHERE id = 1").fetchone()
        if row is None:
            return None
        try:
            data = json.loads(row[0])
            proof = proof_from_dict(data["proof"])
            if not isinstance(proof, ConsistencyProof):
                raise InvalidProof
            return Switch(SignedTreeHead.from_dict(data["classical"]), proof)
        except (ValueError, KeyError, TypeError, IntegrityError):
            raise LedgerIntegrityError("the ledger's stored switch to hybrid heads is "
                                       "unreadable") from None

    def _signer(self) -> HeadSigner:
        return HeadSigner(self._ed25519, self._keys.ml_dsa_key())

    def entries(self, start: int = 1, stop: int | None = None) -> Iterator[Entry]:
        """Entries with ``start <= seq < stop``, in order."""
        cursor = self._conn.execute(
            f"SELECT {_COLUMNS} FROM ledger WHERE seq >= ? AND seq < ? ORDER BY seq",  # noqa: S608
            (start, stop if stop is not None else 2**62),
        )
        for row in cursor:
            yield Entry(*row)

    def tail(self, limit: int, action: str | None = None) -> list[Entry]:
        """The newest ``limit`` entries (optionally of one action), oldest first."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM ledger WHERE ? IS NULL OR action = ? "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?",
            (action, action, limit),
        ).fetchall()
        return [Entry(*row) for row in reversed(rows)]

    def find(self, action: str, resource: str, **match: str) -> Entry | None:
        """The newest entry of ``action`` on ``resource`` whose params hold ``match``."""
        where = "".join(" AND json_extract(params, ?) = ?" for _ in match)
        args = [a for key, value in match.items() for a in (f"$.{key}", value)]
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM ledger WHERE action = ? AND resource = ?{where} "  # noqa: S608
            "ORDER BY seq DESC LIMIT 1", (action, resource, *args)).fetchone()
        return Entry(*row) if row else None

    def find_bound(self, name: str, kind: str, **match: Any) -> dict[str, Any] | None:
        """The newest ``bind`` of ``kind`` on ``name`` (see :mod:`veil.workspace.binding`) whose
        fields hold ``match``, after proving its entry is in the signed head."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM ledger WHERE json_extract(params, '$.bind.name') = ? "  # noqa: S608
            "AND json_extract(params, '$.bind.kind') = ? ORDER BY seq DESC", (name, kind))
        for row in rows.fetchall():
            entry = Entry(*row)
            bind = entry.parameters["bind"]
            if all(bind.get(k) == v for k, v in match.items()):
                self.authenticate(entry)
                return bind
        return None

    def authenticate(self, entry: Entry) -> None:
        """Prove ``entry`` is, unchanged, in the tree the signed head covers (O(log n))."""
        head = self._current_head()
        ok = (head.is_valid(self.key) and entry.seq <= head.size
              and entry.computed_hash() == entry.entry_hash
              and merkle.verify_inclusion(entry.entry_hash, entry.seq - 1, head.size,
                                          merkle.inclusion_path(self._lookup, entry.seq - 1,
                                                                head.size), head.root))
        if not ok:
            raise LedgerIntegrityError(f"ledger entry {entry.seq} is not in the signed tree as "
                                       "stored; the ledger was edited")

    def entry(self, seq: int) -> Entry:
        found = next(self.entries(seq, seq + 1), None)
        if found is None:
            msg = f"ledger entry {seq} does not exist (the ledger has {self.size} entries)"
            raise NotFoundError(msg)
        return found

    def _lookup(self, level: int, index: int) -> bytes:
        if level == 0:
            row = self._conn.execute(
                "SELECT entry_hash FROM ledger WHERE seq = ?", (index + 1,)
            ).fetchone()
        else:
            row = self._conn.execute(
                "SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?", (level, index)
            ).fetchone()
        if row is None:
            msg = f"Merkle node ({level}, {index}) is missing from the ledger"
            raise LedgerIntegrityError(msg)
        return row[0]

    def root_at(self, size: int) -> bytes:
        return merkle.root(self._lookup, size)

    # -- writing ------------------------------------------------------------------------------
    def append(self, record: Record, *, now: str) -> Entry:
        self.append_many([record], now=now)
        return self.entry(self.size)

    def append_many(self, records: Sequence[Record], *, now: str) -> SignedTreeHead:
        """Chain, hash and store ``records``, then sign one new tree head over all of them
        (switching to hybrid heads first if this ledger has no ML-DSA key yet)."""
        signer = self._signer()
        classical = None
        if signer.ml_dsa is None:
            classical = self.head()
            signer = HeadSigner(self._ed25519, self._keys.add_ml_dsa_key(now))
        last = self._conn.execute(
            "SELECT seq, entry_hash FROM ledger ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        size, prev = last if last else (0, GENESIS)
        frontier = merkle.Frontier.from_lookup(self._lookup, size)
        rows, nodes = [], []
        for r in records:
            size += 1
            params = params_json(r.params)
            digest = merkle.leaf_hash(
                encode(size, now, r.actor, r.action, r.resource, r.purpose, params, prev)
            )
            rows.append((size, now, r.actor, r.action, r.resource, r.purpose, params, prev, digest))
            nodes.extend(n for n in frontier.append(digest) if n[0])
            prev = digest
        self._conn.executemany(
            f"INSERT INTO ledger({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows  # noqa: S608
        )
        self._conn.executemany("INSERT INTO ledger_nodes(level, idx, hash) VALUES (?, ?, ?)",
                               nodes)
        head = SignedTreeHead.sign(signer, size, frontier.root(), now)
        self._conn.execute(
            "INSERT OR REPLACE INTO ledger_head(id, size, root, time, signature) "
            "VALUES (1, ?, ?, ?, ?)",
            (head.size, head.root, head.time, head.signature),
        )
        self._conn.execute(
            "INSERT OR REPLACE INTO ledger_head_ml_dsa(id, size, signature) VALUES (1, ?, ?)",
            (head.size, head.ml_dsa_signature))
        if classical is not None:
            proof = ConsistencyProof(classical.size, classical.root, head,
                                     merkle.consistency_path(self._lookup, classical.size,
                                                             head.size))
            self._conn.execute("INSERT INTO ledger_switch(id, switch) VALUES (1, ?)",
                               (json.dumps(Switch(classical, proof).to_dict()),))
            self._switched = True
        return head

    def publish_head(self) -> None:
        """Copy the committed head to its anchors; call after the transaction commits.

        The local copy is not fsynced: the signed head is already durable in the catalog, and a
        copy that a power loss rolls back is only stale, which the checks accept (it is a
        consistent prefix); an fsync here would double the cost of every audited operation."""
        head = self.head()
        if head is not None:
            self.anchors.publish(head)
        if self._switched and self._key_file is not None:
            atomic_write(self._key_file, self.key.to_bytes().hex().encode() + b"\n")
        self._switched = False

    # -- verification -------------------------------------------------------------------------
    def check_head(self) -> None:
        """Cheap check on open: the signed head covers every entry and matches the tree, and
        every anchored head is a prefix of it (else the catalog was rolled back).

        Anchors are read first, then the catalog in one snapshot (a read transaction): another
        process committing meanwhile must not look like tampering."""
        anchored = self.anchors.heads()
        self._conn.execute("BEGIN")
        try:
            self._check_head()
            Anchors.check(anchored, self.size, self.root_at)
        finally:
            self._conn.execute("COMMIT")

    def check_anchors(self) -> None:
        """Inside a write transaction, before it commits: refuse to commit a ledger that does
        not extend every anchored head (a catalog rolled back while a process had it open)."""
        Anchors.check(self.anchors.heads(), self.size, self.root_at)

    def _check_head(self) -> None:
        head, size = self.head(), self.size
        if head is None:
            if size:
                raise LedgerIntegrityError("the ledger has entries but no signed tree head")
            return
        if not head.is_valid(self.key):
            raise LedgerIntegrityError("the signed tree head has an invalid signature (or "
                                       "lacks its ML-DSA-65 half)")
        if head.size != size:
            msg = f"the signed tree head covers {head.size} entries but the ledger has {size}"
            raise LedgerIntegrityError(msg)
        last = self.entry(size)
        if last.computed_hash() != last.entry_hash or self.root_at(size) != head.root:
            raise LedgerIntegrityError("the newest ledger entries do not match the signed head")

    def verify(self, trusted: Iterable[SignedTreeHead] = (), *,
               anchors: bool = True) -> Verification:
        """Recompute every entry hash, chain link, subtree node and signed root.

        Detects changed, deleted, inserted or reordered entries, altered tree nodes, entries
        added after the last signed head, and truncation behind the signed, an anchored (unless
        ``anchors`` is off: checking the catalog alone before a recovery) or any ``trusted``
        head. Raises ``LedgerIntegrityError`` naming the first problem found.
        """
        head, key, switch = self.head(), self.key, self.switch()
        checkpoints: dict[int, bytes] = {}
        anchored = [h for _, h in self.anchors.heads()] if anchors else []
        if switch is not None:
            try:
                switch.verify(key)
            except InvalidProof:
                raise LedgerIntegrityError("the stored switch to hybrid heads does not "
                                           "verify") from None
            anchored += [switch.classical, switch.proof.head]
        for h in filter(None, [head, *anchored, *trusted]):
            if not h.is_valid(key):
                msg = f"a tree head of size {h.size} has an invalid signature"
                raise LedgerIntegrityError(msg)
            if checkpoints.setdefault(h.size, h.root) != h.root:
                msg = f"two signed heads disagree on the root of the first {h.size} entries"
                raise LedgerIntegrityError(msg)

        frontier = merkle.Frontier()
        append, leaf, prev, size = frontier.append, merkle.leaf_hash, GENESIS, 0
        computed: list[list[bytes]] = []
        cursor = self._conn.execute(f"SELECT {_COLUMNS} FROM ledger ORDER BY seq")  # noqa: S608
        for seq, time, actor, action, resource, purpose, params, prev_hash, entry_hash in cursor:
            size += 1
            if seq != size:
                msg = f"ledger entry {size} is missing or out of order (found seq {seq})"
                raise LedgerIntegrityError(msg)
            if prev_hash != prev:
                msg = f"ledger entry {seq} does not link to entry {seq - 1}"
                raise LedgerIntegrityError(msg)
            data = encode(seq, time, actor, action, resource, purpose, params, prev)
            if leaf(data) != entry_hash:
                msg = f"ledger entry {seq} was modified after it was written"
                raise LedgerIntegrityError(msg)
            for level, _, node in append(entry_hash):
                if level:
                    if level > len(computed):
                        computed.append([])
                    computed[level - 1].append(node)
            if size in checkpoints and frontier.root() != checkpoints[size]:
                msg = f"the first {size} entries do not match the signed root for that size"
                raise LedgerIntegrityError(msg)
            prev = entry_hash

        if checkpoints and max(checkpoints) > size:
            msg = (f"the ledger was truncated: a signed head covers {max(checkpoints)} entries "
                   f"but only {size} remain")
            raise LedgerIntegrityError(msg)
        if size and (head is None or head.size != size):
            msg = (f"entries after {head.size if head else 0} are not covered by a signed head "
                   "(written outside veil)")
            raise LedgerIntegrityError(msg)
        nodes = self._verify_nodes(computed)
        return Verification(size, nodes, len(checkpoints), frontier.root())

    def _verify_nodes(self, computed: list[list[bytes]]) -> int:
        stored = self._conn.execute("SELECT level, idx, hash FROM ledger_nodes ORDER BY level, idx")
        count = 0
        expected = ((lv + 1, i, h) for lv, hs in enumerate(computed) for i, h in enumerate(hs))
        for want, got in zip(expected, stored, strict=False):
            if want != got:
                msg = f"Merkle node (level {got[0]}, index {got[1]}) does not match the entries"
                raise LedgerIntegrityError(msg)
            count += 1
        if count != sum(map(len, computed)):
            raise LedgerIntegrityError("the ledger's Merkle nodes were added or removed")
        return count

    # -- proofs -------------------------------------------------------------------------------
    def _current_head(self) -> SignedTreeHead:
        head = self.head()
        if head is None:
            raise NotFoundError("the ledger is empty; there is nothing to prove")
        return head

    def prove_inclusion(self, seq: int, head: SignedTreeHead | None = None) -> InclusionProof:
        """Proof that entry ``seq`` is in the tree of ``head`` (an earlier signed head of this
        ledger, as a report computed at it cites), by default the current one."""
        head = head or self._current_head()
        if not 1 <= seq <= head.size:
            msg = f"ledger entry {seq} does not exist (the signed head covers 1..{head.size})"
            raise NotFoundError(msg)
        return InclusionProof(head, self.entry(seq),
                              merkle.inclusion_path(self._lookup, seq - 1, head.size))

    def prove_consistency(self, old_size: int) -> ConsistencyProof:
        """Proof that the tree of the first ``old_size`` entries is a prefix of the current one."""
        head = self._current_head()
        if not 1 <= old_size <= head.size:
            msg = f"old size {old_size} is outside 1..{head.size}"
            raise NotFoundError(msg)
        return ConsistencyProof(old_size, self.root_at(old_size), head,
                                merkle.consistency_path(self._lookup, old_size, head.size))
