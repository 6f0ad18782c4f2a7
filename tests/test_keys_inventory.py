"""Key inventory: every key a workspace holds and every algorithm its operations use, judged
against a quantum computer from one table; the CLI and every report show it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from veil import Workspace
from veil.errors import AccessDenied
from veil.govern.report import compute, render
from veil.keys import MasterKey, generate_key_file
from veil.keys.inventory import (
    ALGORITHMS,
    EXPOSED,
    HYBRID,
    OPERATIONS,
    SAFE,
    KeyInfo,
    rule,
    summary,
)
from veil.keys.ring import ML_DSA_KEY_ID
from veil.keys.share import ALGORITHM as SHARE_ALGORITHM
from veil.keys.share import RecipientKey

FAMILIES = {"symmetric", "classical-signature", "classical-kem", "hybrid-signature",
            "hybrid-kem", "lattice", "factoring/discrete-log"}


def keys(session) -> dict[str, KeyInfo]:
    return {k.name: k for k in session.key_inventory()}


def test_a_new_workspace_lists_its_keys_and_operations(ws, frame) -> None:
    record = ws.ingest(frame, "people", subject_id="pid")
    found = keys(ws)
    assert (found["master"].where, found["master"].algorithm) == ("file", "AES-256-GCM")
    assert (found["pseudonym"].algorithm, found["pseudonym"].quantum_exposure) == (
        "HMAC-SHA256", SAFE)
    data = found[record.key_id]
    assert (data.where, data.algorithm, data.family, data.quantum_exposure) == (
        "ring", "AES-256-GCM", "symmetric", SAFE)
    assert data.purpose == "seals dataset people@1" and data.created == record.created
    assert "federation-ca" not in found
    operations = {k.name: k for k in found.values() if k.where == OPERATIONS}
    assert {name: k.quantum_exposure for name, k in operations.items()} == {
        "paillier": EXPOSED, "ckks": SAFE, "zk-proofs": EXPOSED, "zk-membership": SAFE,
        "secure-aggregation": EXPOSED, "mpc": EXPOSED, "tls": EXPOSED}
    assert operations["paillier"].uses == 0 and operations["zk-proofs"].uses is None
    assert summary(list(found.values())).verdict.startswith("quantum-ready")


def test_a_passphrase_master_key_reads_argon2id(tmp_path) -> None:
    with Workspace.create(tmp_path / "ws", passphrase="a long test passphrase") as ws:
        master = keys(ws)["master"]
    assert (master.where, master.algorithm, master.quantum_exposure) == (
        "passphrase", "Argon2id", SAFE)
    assert "m=65536 KiB" in master.note


def test_the_ledger_key_reads_hybrid_only_beside_its_ml_dsa_key(ws) -> None:
    conn = ws._store.conn
    conn.execute("DELETE FROM keys WHERE key_id = ?", (ML_DSA_KEY_ID,))  # not yet migrated
    classical = keys(ws)
    assert (classical["ledger-signing"].algorithm, classical["ledger-signing"].family,
            classical["ledger-signing"].quantum_exposure) == (
        "Ed25519", "classical-signature", EXPOSED)
    verdict = summary(list(classical.values())).verdict
    assert verdict.startswith("not quantum-ready") and "ledger-signing (Ed25519)" in verdict
    ws._store.ring._insert(ML_DSA_KEY_ID, "signing", os.urandom(32),
                           "2026-01-01T00:00:00+00:00")
    hybrid = keys(ws)
    assert (hybrid["ledger-signing"].algorithm, hybrid["ledger-signing"].family,
            hybrid["ledger-signing"].quantum_exposure) == (
        "Ed25519 + ML-DSA-65", "hybrid-signature", HYBRID)
    assert (hybrid[ML_DSA_KEY_ID].algorithm, hybrid[ML_DSA_KEY_ID].quantum_exposure) == (
        "ML-DSA-65", SAFE)


def test_the_federation_ca_and_its_server_keys_are_exposed(ws, tmp_path) -> None:
    files = ws.issue_tls(tmp_path / "tls", hosts=["10.0.0.5"])
    found = keys(ws)
    ca = found["federation-ca"]
    assert (ca.where, ca.algorithm, ca.family, ca.quantum_exposure) == (
        "ring", "ECDSA P-256", "classical-signature", EXPOSED)
    server = found[f"tls-server-{files.serial[:12]}"]
    assert (server.where, server.algorithm, server.quantum_exposure) == (
        "file", "ECDSA P-256", EXPOSED)
    assert str(files.server_key) in server.note and "10.0.0.5" in server.purpose
    assert found["tls"].uses == 1
    tally = summary(list(found.values()))
    assert tally.exposed == 2 and tally.exposed_operations == 1
    assert "federation-ca (ECDSA P-256)" in tally.verdict and "tls (1x)" in tally.verdict


def test_destroyed_keys_are_listed_as_destroyed_and_not_counted(ws, frame) -> None:
    first = ws.ingest(frame, "people", subject_id="pid")
    ws.ingest(frame.head(50), "people", subject_id="pid")
    before = summary(ws.key_inventory())
    gone = ws.destroy("people", 1)
    found = keys(ws)
    assert found[first.key_id].destroyed == gone.destroyed is not None
    after = summary(list(found.values()))
    assert (after.safe, after.destroyed) == (before.safe - 1, before.destroyed + 1)


def test_operations_count_their_ledger_entries(ws, frame) -> None:
    ws.ingest(frame, "people", subject_id="pid")
    for _ in range(2):
        ws.record("he.paillier.encrypt", "people@1", column="age", key_id="ab" * 32)
    ws.record("he.evaluate", "people@1", samples=3)
    found = keys(ws)
    assert (found["paillier"].uses, found["ckks"].uses) == (2, 1)
    verdict = summary(list(found.values())).verdict
    assert "exposed algorithms used: paillier (2x)" in verdict and "ckks" not in verdict


def test_credentials_in_the_catalog_are_counted(ws, person) -> None:
    person(ws, "alice", "analyst")
    found = keys(ws)
    assert (found["totp-seeds"].algorithm, found["totp-seeds"].quantum_exposure) == (
        "HMAC-SHA1 (TOTP)", SAFE)
    assert found["totp-seeds"].purpose.startswith("1 user")
    assert found["password-hashes"].algorithm == "Argon2id"


def test_shares_sent_and_accepted_appear(ws, frame, tmp_path) -> None:
    ws.ingest(frame, "people", subject_id="pid")
    recipient = RecipientKey.generate()
    bundle = ws.share_key("people", 1, recipient.public)
    sent = next(k for k in ws.key_inventory() if k.where == "sent")
    assert (sent.algorithm, sent.family, sent.quantum_exposure) == (
        SHARE_ALGORITHM, "hybrid-kem", HYBRID)
    assert recipient.key_id in sent.purpose and sent.purpose.startswith("people@1")
    with Workspace.create(tmp_path / "other", master_key=MasterKey(os.urandom(32))) as other:
        accepted = other.accept_share(bundle, recipient)
        found = keys(other)
    shared = found[accepted.key_id]
    assert accepted.key_id.startswith("shared-")
    assert (shared.algorithm, shared.quantum_exposure, shared.purpose) == (
        "AES-256-GCM", SAFE, f"seals dataset {accepted.ref}")
    assert "X25519+ML-KEM-768" in shared.note
    opener = found[f"recipient-{recipient.key_id}"]
    assert (opener.where, opener.family, opener.quantum_exposure) == (
        "file", "hybrid-kem", HYBRID)


def test_every_algorithm_has_a_family_and_an_exposure_and_unknown_fails_closed(
        ws, frame, tmp_path) -> None:
    for algorithm, found in ALGORITHMS.items():
        assert found.family in FAMILIES and found.exposure in (SAFE, EXPOSED, HYBRID), algorithm
        assert found.why, algorithm
    assert rule("ROT13").exposure == EXPOSED
    ws.ingest(frame, "people", subject_id="pid")
    ws.issue_tls(tmp_path / "tls")
    assert all(k.algorithm in ALGORITHMS for k in ws.key_inventory())


def test_the_inventory_needs_the_audit_right(ws, person) -> None:
    nobody, _ = person(ws, "nobody")
    with pytest.raises(AccessDenied):
        nobody.key_inventory()
    auditor, _ = person(ws, "carol", "auditor")
    assert "ledger-signing" in keys(auditor)


def test_the_cli_prints_a_table_and_json(tmp_path, run) -> None:
    key = generate_key_file(tmp_path / "ws.key")
    Workspace.create(tmp_path / "ws", key_file=key).close()
    base = ("--workspace", str(tmp_path / "ws"), "--key-file", str(key), "keys", "inventory")
    shown = run(*base).stdout
    assert "keys held" in shown and "ledger-signing" in shown and "quantum-ready" in shown
    data = json.loads(run(*base, "--json").stdout)
    by_name = {k["name"]: k for k in data["keys"]}
    assert by_name["pseudonym"]["quantum_exposure"] == SAFE
    assert by_name["paillier"]["where"] == OPERATIONS and by_name["paillier"]["uses"] == 0
    with Workspace.open(tmp_path / "ws", key_file=key) as ws:
        assert data["summary"]["verdict"] == summary(ws.key_inventory()).verdict


def test_every_report_has_the_keys_section(ws, frame, tmp_path) -> None:
    ws.ingest(frame, "people", subject_id="pid")
    ws.issue_tls(tmp_path / "tls")
    for kind in compute.KINDS:
        made = ws.report(kind)
        section = next(s for s in made.sections if s.id == "keys")
        assert section.title == "Keys and quantum exposure"
        held, used = section.tables
        assert "federation-ca" in {row[0] for row in held.rows}
        assert {row[0] for row in used.rows} >= {"paillier", "ckks", "tls"}
        (finding,) = section.findings
        assert finding.status == "gap" and "federation-ca (ECDSA P-256)" in finding.detail
        cited = {e.id: e for e in made.evidence}
        assert {cited[i].ref.split()[2] for i in finding.evidence} >= {
            "workspace.create", "tls.issue"}
        assert any(line.startswith("keys: not quantum-ready") for line in made.summary)
        data = json.loads(render.to_json(made))
        render.validate(data)
        assert any(s["id"] == "keys" for s in data["sections"])
        assert "Keys and quantum exposure" in render.html(made)


def test_the_docs_table_matches_the_rules() -> None:
    text = (Path(__file__).parent.parent / "docs" / "keys.md").read_text()
    rows = {cells[0]: cells[1:3] for line in text.splitlines() if line.startswith("| ")
            and len(cells := [c.strip() for c in line.strip("|").split("|")]) == 4}
    for algorithm, found in ALGORITHMS.items():
        shown = "hybrid" if found.exposure == HYBRID else found.exposure
        assert rows.get(algorithm) == [found.family, shown], algorithm
