"""The files of a workspace: owner-only permissions whatever the umask, and `veil gc`
collecting what crashes leave behind without racing a concurrent ingest."""

from __future__ import annotations

import fcntl
import os
import stat
import threading
from pathlib import Path

import pytest

from veil import Workspace
from veil.keys import KeyRing


@pytest.fixture
def loose_umask():
    old = os.umask(0o000)
    yield
    os.umask(old)


def _modes(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path.parent)): stat.S_IMODE(p.stat().st_mode)
            for p in [path, *path.rglob("*")]}


def test_every_workspace_file_is_owner_only(tmp_path, master_key, frame, loose_umask) -> None:
    with Workspace.create(tmp_path / "ws", master_key=master_key) as ws:
        ws.ingest(frame, "people", subject_id="pid")
        ws.read("people")
        modes = _modes(ws.path)  # while open: the -wal and -shm files exist too
    assert {"ws/veil.db-wal", "ws/veil.db-shm", "ws/vault", "ws/ledger.pub"} <= set(modes)
    loose = {name: oct(mode) for name, mode in modes.items()
             if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)}
    assert loose == {}


def test_opening_tightens_a_workspace_made_loose(tmp_path, master_key, frame) -> None:
    with Workspace.create(tmp_path / "ws", master_key=master_key) as ws:
        ws.ingest(frame, "people", subject_id="pid")
    for item in [tmp_path / "ws", *(tmp_path / "ws").rglob("*")]:
        item.chmod(0o755 if item.is_dir() else 0o644)
    Workspace.open(tmp_path / "ws", master_key=master_key).close()
    assert set(_modes(tmp_path / "ws").values()) <= {0o700, 0o600}


def test_gc_removes_what_crashes_leave_and_keeps_everything_referenced(ws, frame) -> None:
    ws.ingest(frame, "people", subject_id="pid")
    ws.ingest(frame.head(10), "gone", subject_id="pid")
    kept = {p.name for p in (ws.path / "vault").glob("*.vlt")}
    orphan = ws._store.vault.seal(frame, KeyRing.generate_data_key(), "data-x")  # no commit
    (ws.path / "vault" / ".abc.vlt.123.tmp").write_bytes(b"half")  # crash mid-write
    shredded = ws.version("gone").file
    ws._store.conn.execute("UPDATE versions SET destroyed = 'x' WHERE file = ?", (shredded,))
    removed = ws.gc()
    assert sorted(removed) == sorted([orphan, ".abc.vlt.123.tmp", shredded])
    assert {p.name for p in (ws.path / "vault").glob("*.vlt")} == kept - {shredded}
    assert ws.ledger.tail(1)[0].action == "vault.gc"
    assert ws.read("people").height == frame.height
    assert ws.gc() == []


def test_gc_waits_for_an_ingest_between_sealing_and_commit(ws, master_key, frame) -> None:
    sealed, finish = threading.Event(), threading.Event()

    def ingest_slowly() -> None:
        with Workspace.open(ws.path, master_key=master_key) as other:
            original = other._store._seal

            def slow_seal(*args, **kwargs):
                result = original(*args, **kwargs)
                sealed.set()
                finish.wait()  # the ingest holds its sealed file, not yet in the catalog
                return result

            other._store._seal = slow_seal
            other.ingest(frame, "people", subject_id="pid", classify=False)

    ingest = threading.Thread(target=ingest_slowly)
    ingest.start()
    sealed.wait()
    fd = os.open(ws.path / "vault" / ".lock", os.O_RDWR)
    with pytest.raises(BlockingIOError):  # gc could not take the lock now
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)
    finish.set()
    ingest.join()
    assert ws.gc() == []
    assert ws.read("people").height == frame.height
