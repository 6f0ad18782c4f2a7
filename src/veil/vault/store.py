"""Encrypted columnar storage: each dataset version is Parquet sealed with segmented AES-256-GCM.

Why an envelope over the Parquet bytes rather than Parquet modular encryption: GCM here
authenticates the *whole* file (footer, page layout, row-group sizes and all), so any changed,
missing, reordered or appended byte fails with one error instead of possibly decoding to other
data, and nothing about the table's shape is visible on disk. The associated data binds every
segment to the file header and the data key id, so a file moved under another version's name
cannot be opened as that version. A read decrypts the whole version (it is fingerprinted whole).

Protocol (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár, 2015, as used by
Tink's streaming AEAD and by age; only ``cryptography``'s AES-256-GCM is used):

* header = ``MAGIC(8) || prefix(7, random) || segment_size(4, big-endian)``
* the Parquet bytes are cut into segments of ``segment_size`` bytes; the last one is shorter or
  equal, and never empty unless the whole plaintext is
* segment ``i`` = ``AESGCM(key).encrypt(prefix || i(4) || last(1), chunk, header || key_id)``
  where ``last`` is 1 for the final segment and 0 otherwise

The segment counter in the nonce stops reordering; the ``last`` flag stops truncation at a
segment boundary and appending. Each data key seals exactly one file, so nonces never repeat.
Segments let encryption and the file write run while Parquet is still being encoded, which
keeps sealed ingest close to the speed of writing plain Parquet.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterator, Sequence, Set
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import polars as pl
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veil._atomic import atomic_file
from veil._lock import file_lock
from veil.errors import VaultIntegrityError

MAGIC = b"VEILVLT1"
SEGMENT_SIZE = 1 << 20
_PREFIX = 7
_TAG = 16
_HEADER = len(MAGIC) + _PREFIX + 4
_SEGMENT_BOUNDS = (64, 1 << 26)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class _SealingWriter(io.RawIOBase):
    """A write-only stream that encrypts full segments as they fill and writes them out."""

    def __init__(self, sink: BinaryIO, key: bytes, key_id: str, segment_size: int) -> None:
        super().__init__()
        self._sink = sink
        self._aead = AESGCM(key)
        self._prefix = os.urandom(_PREFIX)
        self._size = segment_size
        header = MAGIC + self._prefix + segment_size.to_bytes(4, "big")
        self._aad = header + key_id.encode()
        self._pending = bytearray()
        self._index = 0
        sink.write(header)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._pending += data
        if len(self._pending) > self._size:  # keep >= 1 byte back: the last segment comes later
            done = (len(self._pending) - 1) // self._size * self._size
            with memoryview(self._pending) as view:
                for start in range(0, done, self._size):
                    self._seal(view[start : start + self._size], last=False)
            del self._pending[:done]
        return len(data)

    def _seal(self, chunk: memoryview | bytearray, *, last: bool) -> None:
        nonce = _nonce(self._prefix, self._index, last)
        self._sink.write(self._aead.encrypt(nonce, chunk, self._aad))
        self._index += 1

    def finish(self) -> None:
        self._seal(self._pending, last=True)
        self._pending = bytearray()


class Vault:
    """A directory of sealed version files, named by random ids (names reveal nothing)."""

    def __init__(self, root: Path, *, segment_size: int = SEGMENT_SIZE) -> None:
        if not _SEGMENT_BOUNDS[0] <= segment_size <= _SEGMENT_BOUNDS[1]:
            msg = f"segment_size must be within {_SEGMENT_BOUNDS}, got {segment_size}"
            raise ValueError(msg)
        self.root = root
        self.segment_size = segment_size

    def seal(self, frame: pl.DataFrame, key: bytes, key_id: str) -> str:
        """Encode ``frame`` as Parquet, encrypt and write it atomically; return the file name."""
        name = f"{uuid.uuid4().hex}.vlt"
        with atomic_file(self.root / name) as handle:
            writer = _SealingWriter(handle, key, key_id, self.segment_size)
            # Column statistics are of no use inside an opaque envelope (no predicate pushdown).
            frame.write_parquet(writer, compression="zstd", statistics=False)
            writer.finish()
        return name

    def open(self, name: str, key: bytes, key_id: str,
             columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Decrypt and decode a version (only ``columns``, if given: the whole file is still
        authenticated); any change to the file raises ``VaultIntegrityError``."""
        try:
            blob = (self.root / name).read_bytes()
        except FileNotFoundError:
            msg = f"vault file {name} is missing"
            raise VaultIntegrityError(msg) from None
        try:
            plain = _unseal(blob, key, key_id)
        except (InvalidTag, ValueError):
            msg = f"vault file {name} failed authentication"
            raise VaultIntegrityError(msg) from None
        return pl.read_parquet(io.BytesIO(plain), columns=None if columns is None
                               else list(columns))

    def discard(self, name: str) -> None:
        """Remove a file that no committed version refers to (an ingest that failed)."""
        (self.root / name).unlink(missing_ok=True)

    @contextmanager
    def pending(self) -> Iterator[None]:
        """Held (shared) from sealing a file until the catalog row that refers to it commits,
        so :meth:`collect` never takes a file that is about to be referenced."""
        with file_lock(self.root / ".lock", shared=True):
            yield

    def collect(self, referenced: Callable[[], Set[str]]) -> list[str]:
        """Delete sealed files outside ``referenced()`` (called once no write is pending) and
        temp files of interrupted writes; returns the names removed. Writers wait meanwhile."""
        removed = []
        with file_lock(self.root / ".lock"):
            keep = referenced()
            for item in sorted(self.root.iterdir()):
                orphan = item.suffix == ".vlt" and item.name not in keep
                interrupted = item.name.startswith(".") and item.name.endswith(".tmp")
                if item.is_file() and (orphan or interrupted):
                    item.unlink()
                    removed.append(item.name)
        return removed


def _unseal(blob: bytes, key: bytes, key_id: str) -> bytearray:
    """Decrypt every segment in order; raises ``InvalidTag`` or ``ValueError`` on any change."""
    header = blob[:_HEADER]
    if len(blob) < _HEADER + _TAG or not header.startswith(MAGIC):
        raise ValueError
    prefix = header[len(MAGIC) : len(MAGIC) + _PREFIX]
    size = int.from_bytes(header[-4:], "big")
    if not _SEGMENT_BOUNDS[0] <= size <= _SEGMENT_BOUNDS[1]:
        raise ValueError
    body = memoryview(blob)[_HEADER:]
    stride = size + _TAG
    count = -(-len(body) // stride)
    plain = bytearray(len(body) - count * _TAG)
    aead, aad = AESGCM(key), header + key_id.encode()
    with memoryview(plain) as out:
        for index in range(count):
            chunk = body[index * stride : (index + 1) * stride]
            if len(chunk) < _TAG:
                raise ValueError
            target = out[index * size : index * size + len(chunk) - _TAG]
            aead.decrypt_into(_nonce(prefix, index, index == count - 1), chunk, aad, target)
    return plain
