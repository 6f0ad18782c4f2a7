"""Encrypted columnar storage: each dataset version is one AES-256-GCM envelope over Parquet.

Why an envelope over the Parquet bytes rather than Parquet modular encryption: GCM here
authenticates the *whole* file (footer, page layout, row-group sizes and all), so any changed or
missing byte fails with one error instead of possibly decoding to other data, and nothing about
the table's shape is visible on disk. The associated data binds the file to its data key id, so a
file moved under another version's name cannot be opened as that version. The cost is that a read
decrypts the whole version even when it needs a few columns; versions are immutable and read
whole to re-check their fingerprint anyway.

File layout: ``MAGIC(8) || nonce(12) || AESGCM(key).encrypt(nonce, parquet, MAGIC || key_id)``.
Each data key seals exactly one file, so a random nonce can never repeat under a key.
"""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import polars as pl
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veil._atomic import atomic_write
from veil.errors import VaultIntegrityError

MAGIC = b"VEILVLT1"
_NONCE = 12
_TAG = 16


class Vault:
    """A directory of sealed version files, named by random ids (names reveal nothing)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def seal(self, frame: pl.DataFrame, key: bytes, key_id: str) -> str:
        """Encode ``frame`` as Parquet, encrypt and write it atomically; return the file name."""
        buffer = io.BytesIO()
        # Column statistics are of no use inside an opaque envelope (no predicate pushdown).
        frame.write_parquet(buffer, compression="zstd", statistics=False)
        plain = buffer.getbuffer()
        nonce = os.urandom(_NONCE)
        head = len(MAGIC) + _NONCE
        sealed = bytearray(head + len(plain) + _TAG)  # one buffer: no copy of the ciphertext
        sealed[:head] = MAGIC + nonce
        AESGCM(key).encrypt_into(nonce, plain, MAGIC + key_id.encode(), memoryview(sealed)[head:])
        del plain
        name = f"{uuid.uuid4().hex}.vlt"
        atomic_write(self.root / name, sealed)
        return name

    def open(self, name: str, key: bytes, key_id: str) -> pl.DataFrame:
        """Decrypt and decode a version; any change to the file raises ``VaultIntegrityError``."""
        path = self.root / name
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            msg = f"vault file {name} is missing"
            raise VaultIntegrityError(msg) from None
        if len(blob) < len(MAGIC) + _NONCE + _TAG or not blob.startswith(MAGIC):
            msg = f"vault file {name} failed authentication"
            raise VaultIntegrityError(msg)
        nonce = blob[len(MAGIC) : len(MAGIC) + _NONCE]
        try:
            plain = AESGCM(key).decrypt(
                nonce, memoryview(blob)[len(MAGIC) + _NONCE :], MAGIC + key_id.encode()
            )
        except InvalidTag:
            msg = f"vault file {name} failed authentication"
            raise VaultIntegrityError(msg) from None
        return pl.read_parquet(io.BytesIO(plain))

    def discard(self, name: str) -> None:
        """Remove a file that no committed version refers to (an ingest that failed)."""
        (self.root / name).unlink(missing_ok=True)
