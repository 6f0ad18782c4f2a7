"""Key ring: master key sources, wrong keys, rotation, crypto-shredding, no key on disk."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from conftest import snapshot
from veil import Workspace
from veil.errors import (
    InputError,
    KeyDestroyedError,
    MasterKeyUnavailableError,
    WrongMasterKeyError,
)
from veil.keys import Argon2Params, MasterKey, generate_key_file

FAST = {"time_cost": 1, "memory_cost": 8 * 1024, "parallelism": 1}


def test_passphrase_opens_and_wrong_passphrase_is_refused(tmp_path, frame, monkeypatch):
    monkeypatch.setattr(Argon2Params, "fresh",
                        classmethod(lambda cls: cls(salt=os.urandom(16).hex(), **FAST)))
    with Workspace.create(tmp_path / "ws", passphrase="correct horse") as ws:
        ws.ingest(frame, "people", subject_id="pid")
    with Workspace.open(tmp_path / "ws", passphrase="correct horse") as ws:
        assert ws.read("people").equals(frame)
    with pytest.raises(WrongMasterKeyError, match="does not open this workspace"):
        Workspace.open(tmp_path / "ws", passphrase="wrong horse")


def test_argon2id_parameters_are_stored_beside_the_salt(tmp_path, monkeypatch):
    monkeypatch.setattr(Argon2Params, "fresh",
                        classmethod(lambda cls: cls(salt="ab" * 16, **FAST)))
    Workspace.create(tmp_path / "ws", passphrase="pw").close()
    import sqlite3

    row = sqlite3.connect(tmp_path / "ws" / "veil.db").execute(
        "SELECT value FROM meta WHERE key = 'kdf'").fetchone()
    assert '"salt": "' + "ab" * 16 in row[0] and '"memory_cost": 8192' in row[0]


def test_key_file_and_env_key(tmp_path, frame, monkeypatch):
    key_file = generate_key_file(tmp_path / "master.key")
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    with Workspace.create(tmp_path / "ws", key_file=key_file) as ws:
        ws.ingest(frame, "people", subject_id="pid")
    monkeypatch.setenv("VEIL_MASTER_KEY", key_file.read_text().strip())
    with Workspace.open(tmp_path / "ws") as ws:
        assert ws.read("people").height == frame.height


def test_missing_key_file_and_no_key_at_all(tmp_path, master_key):
    Workspace.create(tmp_path / "ws", master_key=master_key).close()
    with pytest.raises(MasterKeyUnavailableError, match="does not exist"):
        Workspace.open(tmp_path / "ws", key_file=tmp_path / "nope.key")
    with pytest.raises(MasterKeyUnavailableError, match="no master key"):
        Workspace.open(tmp_path / "ws")


def test_malformed_key_material(tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("not base64!!")
    with pytest.raises(InputError, match="base64"):
        MasterKey.from_file(bad)
    bad.write_text(base64.b64encode(b"short").decode())
    with pytest.raises(InputError, match="5 bytes"):
        MasterKey.from_file(bad)
    with pytest.raises(InputError, match="refusing to overwrite"):
        generate_key_file(bad)


def test_wrong_raw_key_is_refused_and_nothing_changes(tmp_path, ws, frame):
    ws.ingest(frame, "people", subject_id="pid")
    before = snapshot(ws)
    with pytest.raises(WrongMasterKeyError):
        Workspace.open(ws.path, master_key=MasterKey(os.urandom(32)))
    assert snapshot(ws) == before


def test_rotation_rewraps_without_touching_data(ws, frame, master_key):
    ws.ingest(frame, "people", subject_id="pid")
    ws.ingest(frame.head(10), "people", subject_id="pid")
    vault_before = {p.name: p.read_bytes() for p in (ws.path / "vault").iterdir()}
    new = MasterKey(os.urandom(32))
    assert ws.rotate_keys(master_key=new) == 5  # two data keys, two signing keys, pseudonym
    assert {p.name: p.read_bytes() for p in (ws.path / "vault").iterdir()} == vault_before
    ws.close()
    with pytest.raises(WrongMasterKeyError):
        Workspace.open(ws.path, master_key=master_key)
    with Workspace.open(ws.path, master_key=new) as reopened:
        assert reopened.read("people", 1).equals(frame)
        actions = [e.action for e in reopened.ledger.entries()]
        assert actions == ["workspace.create", "dataset.ingest", "dataset.ingest", "keys.rotate",
                           "dataset.read"]
        assert reopened.verify().entries == 5


def test_crypto_shredding_makes_a_version_unreadable_for_good(ws, frame):
    ws.ingest(frame, "people", subject_id="pid")
    ws.ingest(frame.head(5), "people", subject_id="pid")
    record = ws.version("people", 1)
    wrapped = ws._store.conn.execute("SELECT wrapped FROM keys WHERE key_id = ?",
                               (record.key_id,)).fetchone()[0]
    assert _files_containing(ws.path, [wrapped]) == ["veil.db"] or _files_containing(
        ws.path, [wrapped]) == ["veil.db-wal"]
    ws.destroy("people", 1)
    with pytest.raises(KeyDestroyedError, match="crypto-shredded"):
        ws.read("people", 1)
    with pytest.raises(KeyDestroyedError):
        ws._store.ring.data_key(record.key_id)
    assert ws.read("people", 2).height == 5
    assert not (ws.path / "vault" / record.file).exists()
    # a copy of the sealed file taken earlier is useless: the wrapped key left no trace on disk
    assert _files_containing(ws.path, [wrapped]) == []
    actions = [e.action for e in ws.ledger.entries()]
    assert actions[3:] == ["dataset.destroy", "dataset.read"]  # the refused read logged nothing
    assert ws.verify().entries == 5


def _files_containing(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [path.name for n in needles if n in data]
    return hits


def test_unwrapped_keys_never_touch_disk(ws, frame, master_key):
    ws.ingest(frame, "people", subject_id="pid")
    record = ws.version("people")
    secrets = [master_key.key, ws._store.ring.data_key(record.key_id),
               ws._store.ring.signing_key().private_bytes_raw()]
    ws.read("people")
    assert _files_containing(ws.path, secrets) == []
