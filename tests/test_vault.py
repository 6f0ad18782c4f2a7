"""Vault: any changed, missing or moved byte fails with an integrity error, never wrong data."""

from __future__ import annotations

import random

import pytest

from veil.errors import IntegrityError, VaultIntegrityError
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
    ws._store.conn.execute("UPDATE versions SET fingerprint = ?", ("0" * 64,))
    with pytest.raises(IntegrityError, match="differs from its ledger registration"):
        ws.read("people")


def test_no_temp_files_are_left_behind(ws, frame):
    for _ in range(3):
        ws.ingest(frame, "people", subject_id="pid")
    names = [p.name for p in (ws.path / "vault").iterdir() if p.name != ".lock"]
    assert len(names) == 3 and all(n.endswith(".vlt") for n in names)


# -- the segmented (STREAM) format, on small segments so a file has many -----------------------
@pytest.fixture
def sealed(tmp_path, frame):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from veil.vault import Vault

    vault = Vault(tmp_path, segment_size=256)
    key = AESGCM.generate_key(bit_length=256)
    name = vault.seal(frame, key, "data-1")
    return vault, key, tmp_path / name


HEADER = len(MAGIC) + 7 + 4
STRIDE = 256 + 16


def _segments(blob):
    body = blob[HEADER:]
    return blob[:HEADER], [body[i : i + STRIDE] for i in range(0, len(body), STRIDE)]


def test_many_segments_round_trip(sealed, frame):
    vault, key, path = sealed
    _, segments = _segments(path.read_bytes())
    assert len(segments) > 5 and all(len(s) == STRIDE for s in segments[:-1])
    assert vault.open(path.name, key, "data-1").equals(frame)
    with pytest.raises(VaultIntegrityError):
        vault.open(path.name, key, "data-2")  # the key id is bound in


@pytest.mark.parametrize("attack", ["swap", "drop_last", "cut_at_boundary", "append", "repeat",
                                    "segment_size"])
def test_segment_attacks_fail(sealed, attack):
    vault, key, path = sealed
    header, segments = _segments(path.read_bytes())
    if attack == "swap":
        segments[2], segments[3] = segments[3], segments[2]
    elif attack == "drop_last":
        segments.pop()
    elif attack == "cut_at_boundary":
        segments = segments[:4]
    elif attack == "append":
        segments.append(segments[1])
    elif attack == "repeat":
        segments.insert(1, segments[1])
    else:
        header = header[:-4] + (512).to_bytes(4, "big")
    path.write_bytes(header + b"".join(segments))
    with pytest.raises(VaultIntegrityError, match="failed authentication"):
        vault.open(path.name, key, "data-1")


def test_segment_size_is_bounded():
    from veil.vault import Vault

    with pytest.raises(ValueError, match="segment_size"):
        Vault(None, segment_size=8)
