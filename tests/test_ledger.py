"""Ledger: tampering of any kind is detected; proofs verify with the public key alone."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from veil import Workspace
from veil.errors import LedgerIntegrityError, NotFoundError
from veil.ledger import (
    InvalidProof,
    Record,
    SignedTreeHead,
    proof_from_dict,
    verify_consistency,
    verify_inclusion,
)


@pytest.fixture
def busy(ws, frame):
    """A workspace with a dozen real operations in its ledger; returns (path, master_key)."""
    for i in range(4):
        ws.ingest(frame.head(20 + i), f"d{i}", subject_id="pid")
        ws.read(f"d{i}", columns=["age"])
    ws.ingest(frame, "d0", subject_id="pid")
    assert ws.verify().entries == 10
    return ws


def _tamper(ws, sql, *args):
    """Change the catalog behind veil's back, as an attacker with file access would."""
    ws.close()
    conn = sqlite3.connect(ws.path / Workspace.CATALOG)
    conn.execute(sql, args)
    conn.commit()
    conn.close()


def _reopen(ws, master_key):
    return Workspace.open(ws.path, master_key=master_key, check_ledger=False)


def test_entries_hold_parameters_not_personal_values(busy, frame):
    text = " ".join(e.params + e.resource for e in busy.ledger.entries())
    for value in frame.get_column("note").drop_nulls().to_list()[:20]:
        assert value not in text
    for value in frame.get_column("pid").to_list()[:20]:
        assert value not in text
    ingest = next(e for e in busy.ledger.entries() if e.action == "dataset.ingest")
    assert ingest.parameters["fingerprint"] == busy.version("d0", 1).fingerprint


@pytest.mark.parametrize(("sql", "args", "message"), [
    ("UPDATE ledger SET actor = 'mallory' WHERE seq = 4", (), "entry 4 was modified"),
    ("UPDATE ledger SET params = '{}' WHERE seq = 2", (), "entry 2 was modified"),
    ("DELETE FROM ledger WHERE seq = 5", (), "entry 5 is missing"),
    ("UPDATE ledger SET seq = seq + 100 WHERE seq = 3", (), "entry 3 is missing"),
    ("UPDATE ledger SET entry_hash = zeroblob(32) WHERE seq = 6", (), "modified"),
    ("UPDATE ledger_nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 1", (),
     "Merkle node"),
    ("DELETE FROM ledger_nodes WHERE level = 2", (), "Merkle node"),
])
def test_changed_or_deleted_rows_are_detected(busy, master_key, sql, args, message):
    _tamper(busy, sql, *args)
    with _reopen(busy, master_key) as ws, pytest.raises(LedgerIntegrityError, match=message):
        ws.verify()


def test_reordered_rows_are_detected(busy, master_key):
    busy.close()
    conn = sqlite3.connect(busy.path / Workspace.CATALOG)
    rows = {r[0]: r[1:] for r in conn.execute("SELECT * FROM ledger WHERE seq IN (4, 5)")}
    conn.execute("DELETE FROM ledger WHERE seq IN (4, 5)")
    conn.execute("INSERT INTO ledger VALUES (4, ?, ?, ?, ?, ?, ?, ?, ?)", rows[5])
    conn.execute("INSERT INTO ledger VALUES (5, ?, ?, ?, ?, ?, ?, ?, ?)", rows[4])
    conn.commit()
    conn.close()
    with _reopen(busy, master_key) as ws, pytest.raises(LedgerIntegrityError, match="entry 4"):
        ws.verify()


def test_inserted_rows_with_a_consistent_chain_are_detected(busy, master_key):
    """An attacker can recompute unkeyed hashes, but cannot sign a head covering new rows."""
    old = busy.ledger.head()
    busy._store.conn.execute("BEGIN IMMEDIATE")
    busy.ledger.append_many([Record("mallory", "dataset.read", "d0@1", "snooping")],
                            now="2026-01-01T00:00:00+00:00")  # hashes and nodes all consistent
    busy._store.conn.execute("UPDATE ledger_head SET size = ?, root = ?, time = ?, signature = ?",
                       (old.size, old.root, old.time, old.signature))  # no key to sign anew
    busy._store.conn.execute("UPDATE ledger_head_ml_dsa SET size = ?, signature = ?",
                             (old.size, old.ml_dsa_signature))
    busy._store.conn.execute("COMMIT")
    with pytest.raises(LedgerIntegrityError):
        busy.verify()
    busy.close()
    with pytest.raises(LedgerIntegrityError, match="covers 10 entries but the ledger has 11"):
        Workspace.open(busy.path, master_key=master_key)


def test_truncation_behind_the_published_head_is_detected(busy, master_key, tmp_path):
    """Roll the whole catalog back to an older, internally consistent copy."""
    busy.close()
    old = tmp_path / "old"
    with Workspace.open(busy.path, master_key=master_key) as ws:
        ws.ingest(ws.read("d1"), "d1", subject_id="pid")
        ws._store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy(ws.path / Workspace.CATALOG, old)  # attacker's copy of 12 entries
        ws.ingest(ws.read("d2"), "d2", subject_id="pid")  # now 14, head file says 14
    shutil.copy(old, busy.path / Workspace.CATALOG)
    with _reopen(busy, master_key) as ws, pytest.raises(LedgerIntegrityError, match="truncated"):
        ws.verify()


def test_trusted_heads_from_an_auditor_catch_a_rewritten_history(busy, master_key):
    trusted = busy.ledger.head()
    forged = SignedTreeHead(trusted.size, bytes(32), trusted.time, trusted.signature)
    with pytest.raises(LedgerIntegrityError, match="invalid signature"):
        busy.verify([forged])
    (busy.path / Workspace.HEAD).unlink()  # the attacker also removes the head file ...
    _tamper(busy, "DELETE FROM ledger WHERE seq > 8")
    _tamper(busy, "DELETE FROM ledger_nodes WHERE (idx + 1) * (1 << level) > 8")
    with _reopen(busy, master_key) as ws, pytest.raises(LedgerIntegrityError, match="truncated"):
        ws.verify([trusted])  # ... but the auditor kept the head


def test_inclusion_proofs_verify_with_only_the_public_key(busy):
    public_key = (busy.path / Workspace.PUBLIC_KEY).read_text().strip()
    for seq in range(1, busy.ledger.size + 1):
        proof = proof_from_dict(json.loads(json.dumps(busy.ledger.prove_inclusion(seq).to_dict())))
        verify_inclusion(proof, bytes.fromhex(public_key))


def test_tampered_inclusion_proofs_fail(busy):
    key = busy.ledger.key
    good = busy.ledger.prove_inclusion(3).to_dict()
    cases = [
        lambda d: d["entry"].update(actor="mallory"),
        lambda d: d["entry"].update(seq=4),
        lambda d: d["path"].__setitem__(0, "00" * 32),
        lambda d: d["path"].pop(),
        lambda d: d["head"].update(size=d["head"]["size"] + 1),
        lambda d: d["head"].update(root="11" * 32),
    ]
    for mutate in cases:
        bad = json.loads(json.dumps(good))
        mutate(bad)
        with pytest.raises(InvalidProof):
            verify_inclusion(proof_from_dict(bad), key)
    with pytest.raises(InvalidProof):
        verify_inclusion(proof_from_dict(good), bytes(32))  # another key
    with pytest.raises(InvalidProof):
        proof_from_dict({"kind": "inclusion"})


def test_consistency_proofs(busy, frame):
    old = busy.ledger.head()
    busy.ingest(frame.head(3), "d9", subject_id="pid")
    key = busy.ledger.key
    for size in range(1, busy.ledger.size + 1):
        proof = busy.ledger.prove_consistency(size)
        verify_consistency(proof, key, trusted_old_root=busy.ledger.root_at(size))
    proof = busy.ledger.prove_consistency(old.size)
    verify_consistency(proof, key, trusted_old_root=old.root)
    with pytest.raises(InvalidProof):
        verify_consistency(proof, key, trusted_old_root=bytes(32))
    with pytest.raises(NotFoundError):
        busy.ledger.prove_consistency(busy.ledger.size + 1)
    with pytest.raises(NotFoundError):
        busy.ledger.prove_inclusion(0)


def test_batched_appends_sign_one_head_and_verify(ws):
    ws._store.conn.execute("BEGIN IMMEDIATE")
    head = ws.ledger.append_many(
        [Record("svc", "dp.query", "d@1", "research", {"epsilon": 0.1, "i": i})
         for i in range(1000)], now="2026-11-23T00:00:00+00:00")
    ws._store.conn.execute("COMMIT")
    assert head.size == 1001 and head.is_valid(ws.ledger.key)
    result = ws.verify()
    assert result.entries == 1001 and result.root == head.root


def test_tail_returns_the_newest_entries_in_order(busy):
    assert [e.seq for e in busy.ledger.tail(3)] == [8, 9, 10]
    reads = busy.ledger.tail(10, "dataset.read")
    assert [e.action for e in reads] == ["dataset.read"] * 4
    assert reads == sorted(reads, key=lambda e: e.seq)
