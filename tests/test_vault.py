"""Vault: any changed, missing or moved byte fails with an integrity error, never wrong data."""

from __future__ import annotations

import random

import pytest

from veil.errors import VaultIntegrityError
from veil.vault.store import MAGIC


def _file(ws, version=None):
    return ws.path / "vault" / ws.version("people", version).file


def test_roundtrip_is_exact_and_ciphertext_hides_values(ws, frame):
    ws.ingest(frame, "people", subject_id="pid")
    blob = _file(ws).read_bytes()
    assert blob.startswith(MAGIC)
    assert b"patient 1 called" not in blob and b"P0001" not in blob and b"PAR1" not in blob
    assert ws.read("people").equals(frame)


@pytest.mark.parametrize("where", ["header", "nonce", "body", "tag"])
def test_any_flipped_byte_fails(ws, frame, where):
    ws.ingest(frame, "people", subject_id="pid")
    path = _file(ws)
    data = bytearray(path.read_bytes())
    index = {"header": 3, "nonce": len(MAGIC) + 5, "body": len(data) // 2, "tag": len(data) - 1}
    data[index[where]] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(VaultIntegrityError, match="failed authentication"):
        ws.read("people")


def test_random_corruption_never_returns_data(ws, frame):
    ws.ingest(frame, "people", subject_id="pid")
    path = _file(ws)
    original = path.read_bytes()
    rng = random.Random(7)
    for _ in range(25):
        data = bytearray(original)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        with pytest.raises(VaultIntegrityError):
            ws.read("people")


@pytest.mark.parametrize("keep", [0, 10, 30, -1])
def test_truncated_or_missing_file_fails(ws, frame, keep):
    ws.ingest(frame, "people", subject_id="pid")
    path = _file(ws)
    if keep == -1:
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(VaultIntegrityError):
        ws.read("people")


def test_files_swapped_between_versions_fail(ws, frame):
    ws.ingest(frame, "people", subject_id="pid")
    ws.ingest(frame.head(10), "people", subject_id="pid")
    one, two = _file(ws, 1), _file(ws, 2)
    a, b = one.read_bytes(), two.read_bytes()
    one.write_bytes(b)
    two.write_bytes(a)
    for version in (1, 2):
        with pytest.raises(VaultIntegrityError):
            ws.read("people", version)


def test_catalog_fingerprint_mismatch_is_an_integrity_error(ws, frame):
    ws.ingest(frame, "people", subject_id="pid")
    ws._conn.execute("UPDATE versions SET fingerprint = ?", ("0" * 64,))
    with pytest.raises(VaultIntegrityError, match="fingerprint"):
        ws.read("people")


def test_no_temp_files_are_left_behind(ws, frame):
    for _ in range(3):
        ws.ingest(frame, "people", subject_id="pid")
    names = [p.name for p in (ws.path / "vault").iterdir()]
    assert len(names) == 3 and all(n.endswith(".vlt") for n in names)
