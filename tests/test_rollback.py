"""A catalog rolled back (copied aside, used, copied back) fails closed at open and on write;
anchored heads only advance; witnesses outside the workspace; the owner's recovery path."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import polars as pl
import pytest

from veil import Workspace
from veil.errors import LedgerIntegrityError, RollbackError
from veil.keys import generate_key_file
from veil.ledger.anchor import witness_file


@pytest.fixture
def ws_path(tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "k.key"
    generate_key_file(key)
    with Workspace.create(tmp_path / "ws", key_file=key) as ws:
        ws.ingest(pl.DataFrame({"pid": [f"p{i}" for i in range(300)],
                                "g": [i % 50 for i in range(300)]}), "labs", subject_id="pid",
                  classify=False)
        ws.set_budget("labs", epsilon=1.0)
    return tmp_path / "ws", key


def _spend(path: Path, key: Path, epsilon: float = 0.9) -> None:
    with Workspace.open(path, key_file=key) as ws:
        ws.query("SELECT COUNT(*) FROM labs", epsilon=epsilon)


def test_a_catalog_copied_back_refuses_to_open(ws_path, run) -> None:
    """The review's attack: copy veil.db aside, spend the budget, copy it back."""
    path, key = ws_path
    shutil.copy(path / Workspace.CATALOG, path.parent / "old.db")
    _spend(path, key)
    shutil.copy(path.parent / "old.db", path / Workspace.CATALOG)
    with pytest.raises(RollbackError, match=r"covers 5 ledger entries but the catalog holds 3"):
        Workspace.open(path, key_file=key)
    failed = run("-w", str(path), "--key-file", str(key), "query",
                 "SELECT COUNT(*) FROM labs", "--epsilon", "0.9", check=False)
    assert failed.returncode == 4 and "rolled back" in failed.stderr
    before = (path / Workspace.HEAD).read_bytes()
    with Workspace.open(path, key_file=key, check_ledger=False) as ws:
        with pytest.raises(RollbackError):  # a write never replaces the newer head
            ws.set_budget("labs", epsilon=5.0)
        with pytest.raises(LedgerIntegrityError, match="truncated"):
            ws.verify()
    assert (path / Workspace.HEAD).read_bytes() == before


def test_a_forked_head_stops_the_next_write(ws_path) -> None:
    """A process holding the workspace open must not commit on top of a replaced catalog."""
    path, key = ws_path
    fork = path.parent / "fork"
    shutil.copytree(path, fork)
    _spend(fork, key, 0.1)
    with Workspace.open(path, key_file=key) as ws:
        size = ws.ledger.size
        shutil.copy(fork / Workspace.HEAD, path / Workspace.HEAD)  # another history's head
        with pytest.raises(RollbackError, match="does not have"):
            ws.query("SELECT COUNT(*) FROM labs", epsilon=0.1)
        assert ws.ledger.size == size and ws.budget("labs").queries == 0


def test_heads_only_advance_under_concurrent_commits(ws_path) -> None:
    path, key = ws_path

    def work(i: int) -> None:
        with Workspace.open(path, key_file=key) as ws:
            for j in range(5):
                ws.record("test.tick", f"t{i}-{j}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Workspace.open(path, key_file=key) as ws:
        head = json.loads((path / Workspace.HEAD).read_text())
        assert head["size"] == ws.ledger.size == 23
        ws.verify()


def test_a_witness_catches_a_rollback_of_the_whole_directory(ws_path, tmp_path) -> None:
    path, key = ws_path
    witness = tmp_path / "auditor"
    witness.mkdir()
    with Workspace.open(path, key_file=key) as ws:
        ws.add_witness(witness)
        assert ws.witnesses() == [str(witness.resolve())]
    saved = tmp_path / "saved"
    shutil.copytree(path, saved)  # the attacker's copy: catalog and head file together
    _spend(path, key)
    stored = json.loads(witness_file(witness, _public_key(path)).read_text())
    assert stored["size"] == 6  # + the witness, the query and its lineage record
    shutil.rmtree(path)
    shutil.copytree(saved, path)
    with pytest.raises(RollbackError, match="witness head"):
        Workspace.open(path, key_file=key)


def test_a_missing_witness_fails_closed_until_the_owner_removes_it(ws_path, tmp_path) -> None:
    path, key = ws_path
    witness = tmp_path / "auditor"
    witness.mkdir()
    with Workspace.open(path, key_file=key) as ws:
        ws.add_witness(witness)
    shutil.rmtree(witness)
    with pytest.raises(RollbackError, match="missing"):
        Workspace.open(path, key_file=key)
    with Workspace.open(path, key_file=key, check_ledger=False) as ws:
        ws.remove_witness(witness)
    with Workspace.open(path, key_file=key) as ws:
        assert ws.ledger.tail(1)[0].action == "ledger.witness.remove"


def test_a_witness_named_at_open_guards_a_catalog_from_before_it(ws_path, tmp_path,
                                                                 monkeypatch) -> None:
    path, key = ws_path
    saved = tmp_path / "saved"
    shutil.copytree(path, saved)
    witness = tmp_path / "auditor"
    witness.mkdir()
    monkeypatch.setenv("VEIL_WITNESS", str(witness))
    _spend(path, key)
    assert witness_file(witness, _public_key(path)).is_file()
    shutil.rmtree(path)
    shutil.copytree(saved, path)
    with pytest.raises(RollbackError, match="witness"):
        Workspace.open(path, key_file=key)


def test_the_owner_recovers_a_rolled_back_catalog_and_the_loss_is_recorded(ws_path, run):
    path, key = ws_path
    shutil.copy(path / Workspace.CATALOG, path.parent / "old.db")
    _spend(path, key)
    shutil.copy(path.parent / "old.db", path / Workspace.CATALOG)
    refused = run("-w", str(path), "--key-file", str(key), "audit", "recover", check=False)
    assert refused.returncode == 2 and "--accept-rollback" in refused.stderr
    done = run("-w", str(path), "--key-file", str(key), "audit", "recover", "--accept-rollback")
    assert "of 5 entries, 2 lost" in done.stdout  # the query and its lineage record
    kept = list(path.glob("ledger-head.abandoned-5-*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["size"] == 5
    with Workspace.open(path, key_file=key) as ws:
        entry = ws.ledger.tail(1, "ledger.recover")[0].parameters
        assert entry["abandoned"][0]["entries_lost"] == 2
        ws.verify()
    with Workspace.open(path, key_file=key, check_ledger=False) as ws, \
            pytest.raises(Exception, match="nothing to recover"):
        ws.recover()


def _public_key(path: Path) -> bytes:
    return bytes.fromhex((path / Workspace.PUBLIC_KEY).read_text().strip())
