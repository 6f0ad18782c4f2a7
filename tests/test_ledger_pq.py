"""Hybrid tree heads: Ed25519 + ML-DSA-65 on every new head, legacy workspaces migrate, a head
that loses either signature is refused, and an auditor without ML-DSA is told what was checked."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey, MLDSA65PublicKey
from cryptography_vectors import open_vector_file

from _vectors import kat_records
from veil import Workspace
from veil.errors import LedgerIntegrityError
from veil.keys.ring import ML_DSA_KEY_ID
from veil.ledger import (
    Assurance,
    InvalidProof,
    LedgerKey,
    Policy,
    Record,
    SignedTreeHead,
    verify_consistency,
    verify_inclusion,
)
from veil.ledger.signing import ML_DSA_CONTEXT, HeadSigner, message

NOW = "2026-12-04T00:00:00+00:00"


def test_ml_dsa_65_matches_the_fips_204_known_answers():
    """Key generation from the seed gives the KAT's public key; its signatures verify under
    the KAT context, and not under ours (the context separates uses of one key)."""
    vectors = kat_records("asymmetric/MLDSA/kat_MLDSA_65_det_pure.rsp",
                          ("xi", "pk", "msg", "sm", "ctx"), 20)
    assert len(vectors) == 20
    for v in vectors:
        key = MLDSA65PrivateKey.from_seed_bytes(v["xi"])
        assert key.public_key().public_bytes_raw() == v["pk"]
        signature = v["sm"][:-len(v["msg"])] if v["msg"] else v["sm"]
        MLDSA65PublicKey.from_public_bytes(v["pk"]).verify(signature, v["msg"], v["ctx"])
        assert LedgerKey(bytes(32), v["pk"], 0).ml_dsa == v["pk"]


def test_ed25519_matches_rfc_8032():
    with open_vector_file("asymmetric/Ed25519/sign.input", "r") as f:
        lines = [next(f) for _ in range(5)]
    for line in lines:
        secret, public, msg, signed, _ = line.split(":")
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret)[:32])
        assert key.public_key().public_bytes_raw() == bytes.fromhex(public)
        assert key.sign(bytes.fromhex(msg)) == bytes.fromhex(signed)[:64]


# -- a workspace born hybrid --------------------------------------------------------------------
def test_new_heads_carry_both_signatures_over_the_same_bytes(ws):
    head = ws.ledger.head()
    key = ws.ledger.key
    assert key.hybrid and key.classical_until == 0 and ws.ledger.switch() is None
    assert len(head.ml_dsa_signature) == 3309 and len(head.signature) == 64
    data = message(head.size, head.root, head.time, hybrid=True)
    MLDSA65PublicKey.from_public_bytes(key.ml_dsa).verify(head.ml_dsa_signature, data,
                                                          ML_DSA_CONTEXT)
    assert head.verify(key) is Assurance.HYBRID
    assert (ws.path / Workspace.PUBLIC_KEY).read_text().strip() == key.to_bytes().hex()
    assert LedgerKey.from_bytes(key.to_bytes()) == key
    published = SignedTreeHead.from_dict(json.loads((ws.path / Workspace.HEAD).read_text()))
    assert published == head


def test_the_ml_dsa_key_is_wrapped_in_the_ring_and_survives_rotation(ws, frame, tmp_path):
    row = ws._store.conn.execute("SELECT kind, wrapped FROM keys WHERE key_id = ?",
                                 (ML_DSA_KEY_ID,)).fetchone()
    assert row[0] == "signing" and len(row[1]) == 12 + 32 + 16  # nonce, seed, tag
    seed = ws._store.ring.ml_dsa_key().private_bytes_raw()
    assert seed not in row[1]
    before = ws.ledger.key
    ws.rotate_keys(key_file=_key_file(tmp_path))
    ws.ingest(frame.head(5), "d", subject_id="pid")
    assert ws.ledger.key == before and ws.ledger.head().verify(before) is Assurance.HYBRID
    assert ws.verify().entries == ws.ledger.size


def _key_file(tmp_path):
    from veil.keys import generate_key_file

    path = tmp_path / "new.key"
    generate_key_file(path)
    return path


@pytest.fixture
def hybrid_head(ws):
    return ws.ledger.head(), ws.ledger.key


def test_flipping_any_byte_of_either_signature_is_refused_alike(hybrid_head):
    head, key = hybrid_head
    refused = set()
    for field in ("signature", "ml_dsa_signature"):
        original = getattr(head, field)
        for i in range(len(original)):
            bad = bytearray(original)
            bad[i] ^= 0x01
            forged = dataclasses.replace(head, **{field: bytes(bad)})
            with pytest.raises(InvalidProof) as caught:
                forged.verify(key)
            refused.add(str(caught.value))
    assert refused == {str(InvalidProof())}  # one message, naming no check


def test_a_head_stripped_of_its_ml_dsa_signature_is_a_refused_downgrade(hybrid_head):
    head, key = hybrid_head
    stripped = dataclasses.replace(head, ml_dsa_signature=None)
    for policy in Policy:
        assert not stripped.is_valid(key, policy)


def test_a_classical_head_forged_after_the_switch_is_refused(ws):
    """Someone who can forge Ed25519 (here: holds the key) signs a classical head for a size
    after the switch: the key's switch point refuses it, under either policy."""
    ed = ws._store.ring.signing_key()
    head = ws.ledger.head()
    forged = SignedTreeHead.sign(HeadSigner(ed), head.size, head.root, head.time)
    assert forged.ml_dsa_signature is None
    for policy in Policy:
        assert not forged.is_valid(ws.ledger.key, policy)
    ws._store.conn.execute("UPDATE ledger_head_ml_dsa SET size = -1")
    ws._store.conn.execute("UPDATE ledger_head SET signature = ?", (forged.signature,))
    with pytest.raises(LedgerIntegrityError, match="invalid signature"):
        ws.verify()


def test_an_auditor_without_ml_dsa_checks_ed25519_alone_and_is_told(hybrid_head):
    head, key = hybrid_head
    bad = dataclasses.replace(head, ml_dsa_signature=bytes(3309))
    assert bad.verify(key, Policy.CLASSICAL) is Assurance.CLASSICAL
    assert not bad.is_valid(key)
    classical_key = LedgerKey(key.ed25519)  # an old pubkey: cannot check the ML-DSA half
    assert not head.is_valid(classical_key)
    assert head.verify(classical_key, Policy.CLASSICAL) is Assurance.CLASSICAL


@pytest.mark.parametrize("raw", [b"", bytes(31), bytes(33), bytes(32 + 8 + 1951)])
def test_malformed_keys_are_refused(hybrid_head, raw):
    head, _ = hybrid_head
    with pytest.raises(ValueError, match="ledger public key"):
        LedgerKey.from_bytes(raw)
    with pytest.raises(InvalidProof):
        head.verify(raw)


# -- a workspace made before the switch ---------------------------------------------------------
def _make_legacy(ws: Workspace) -> SignedTreeHead:
    """Turn ``ws`` into what an earlier veil made: no ML-DSA key, a v1 Ed25519 head, a 32-byte
    published key. Returns that classical head."""
    conn, ledger = ws._store.conn, ws.ledger
    head = ledger.head()
    classical = SignedTreeHead.sign(HeadSigner(ws._store.ring.signing_key()), head.size,
                                    head.root, head.time)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM keys WHERE key_id = ?", (ML_DSA_KEY_ID,))
    conn.execute("DELETE FROM ledger_head_ml_dsa")
    conn.execute("UPDATE ledger_head SET signature = ?", (classical.signature,))
    conn.execute("COMMIT")
    (ws.path / Workspace.HEAD).write_text(json.dumps(classical.to_dict()))
    (ws.path / Workspace.PUBLIC_KEY).write_text(ledger.public_key.hex() + "\n")
    return classical


@pytest.fixture
def legacy(tmp_path, master_key, frame):
    ws = Workspace.create(tmp_path / "old", master_key=master_key)
    ws.ingest(frame.head(30), "d", subject_id="pid")
    old_proof = ws.ledger.prove_inclusion(2)
    classical = _make_legacy(ws)
    ws.close()
    old_proof = dataclasses.replace(old_proof, head=classical)
    return tmp_path / "old", classical, old_proof


def test_a_legacy_workspace_opens_classical_and_switches_on_its_next_append(
        legacy, master_key, frame):
    path, classical, old_proof = legacy
    old_key = (path / Workspace.PUBLIC_KEY).read_text().strip()
    with Workspace.open(path, master_key=master_key) as ws:
        assert not ws.ledger.key.hybrid and ws.ledger.head().ml_dsa_signature is None
        assert ws.verify().entries == classical.size  # nothing written by opening
        ws.ingest(frame.head(10), "e", subject_id="pid")
        key, head, switch = ws.ledger.key, ws.ledger.head(), ws.ledger.switch()
        assert key.hybrid and key.classical_until == classical.size
        assert head.verify(key) is Assurance.HYBRID
        assert switch.classical == classical and switch.proof.head.size == classical.size + 1
        switch.verify(key)
        # old heads stay valid as they were, and anchor what follows
        assert classical.verify(key) is Assurance.CLASSICAL
        assert verify_inclusion(old_proof, key) is Assurance.CLASSICAL
        assert verify_inclusion(old_proof, bytes.fromhex(old_key)) is Assurance.CLASSICAL
        proof = ws.ledger.prove_consistency(classical.size)
        assert verify_consistency(proof, key, trusted_old_root=classical.root) \
            is Assurance.HYBRID
        assert ws.verify([classical]).entries == head.size
    assert (path / Workspace.PUBLIC_KEY).read_text().strip() == key.to_bytes().hex()
    with Workspace.open(path, master_key=master_key) as ws:  # the mixed workspace reopens
        assert ws.ledger.key == key and ws.verify([classical, head]).heads == 2


def test_the_switch_is_atomic_with_its_append(legacy, master_key):
    path, classical, _ = legacy
    with Workspace.open(path, master_key=master_key) as ws:
        conn = ws._store.conn
        conn.execute("BEGIN IMMEDIATE")
        ws.ledger.append(Record("owner", "probe", "x", "administration"), now=NOW)
        conn.execute("ROLLBACK")
        assert ws._store.ring.ml_dsa_key() is None and ws.ledger.switch() is None
        assert ws.ledger.head() == classical and not ws.ledger.key.hybrid
        conn.execute("BEGIN IMMEDIATE")
        ws.ledger.append(Record("owner", "probe", "x", "administration"), now=NOW)
        conn.execute("COMMIT")
        ws.ledger.switch().verify(ws.ledger.key)
        assert ws.verify().entries == classical.size + 1


def test_after_the_switch_a_classical_head_is_refused_in_the_workspace(
        legacy, master_key, frame):
    """The downgrade a quantum forger would try inside the catalog: drop the ML-DSA half."""
    path, _, _ = legacy
    with Workspace.open(path, master_key=master_key) as ws:
        ws.ingest(frame.head(10), "e", subject_id="pid")
    conn = sqlite3.connect(path / Workspace.CATALOG)
    conn.execute("DELETE FROM ledger_head_ml_dsa")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerIntegrityError, match="ML-DSA"):
        Workspace.open(path, master_key=master_key)


def test_a_tampered_switch_record_fails_verification(legacy, master_key, frame):
    path, _, _ = legacy
    with Workspace.open(path, master_key=master_key) as ws:
        ws.ingest(frame.head(10), "e", subject_id="pid")
        stored = json.loads(ws._store.conn.execute("SELECT switch FROM ledger_switch")
                            .fetchone()[0])
        stored["proof"]["old_root"] = "00" * 32
        ws._store.conn.execute("UPDATE ledger_switch SET switch = ?", (json.dumps(stored),))
        with pytest.raises(LedgerIntegrityError, match="switch"):
            ws.verify()


# -- the command line ----------------------------------------------------------------------------
def test_cli_exports_both_keys_and_checks_a_proof_under_either_policy(run, tmp_path):
    run("-w", "ws", "init", "--new-key-file", "k.key")
    base = ("-w", "ws", "--key-file", "k.key")
    parts = json.loads(run(*base, "audit", "pubkey", "--json").stdout)
    assert len(bytes.fromhex(parts["ml_dsa_65"])) == 1952
    assert len(bytes.fromhex(parts["ed25519"])) == 32 and parts["classical_until"] == 0
    assert run(*base, "audit", "pubkey").stdout.strip() == parts["key"]
    run(*base, "audit", "prove", "1", "--out", "inc.json")
    ok = run("audit", "check", "inc.json", "--public-key", "ws/ledger.pub")
    assert "Ed25519 + ML-DSA-65" in ok.stdout
    old = run("audit", "check", "inc.json", "--public-key", parts["ed25519"], check=False)
    assert old.returncode != 0 and "does not verify" in old.stderr
    classical = run("audit", "check", "inc.json", "--public-key", parts["ed25519"],
                    "--classical-only")
    assert "Ed25519 only" in classical.stdout
    short = run("audit", "check", "inc.json", "--public-key", "abcd", check=False)
    assert short.returncode != 0 and "ledger public key" in short.stderr

