"""The wire format of encrypted batches and scores: a JSON header plus ciphertext blobs.

TenSEAL decrypts a ciphertext under the wrong context into plausible-looking garbage and
cannot tell, so every envelope names the SHA-256 fingerprint of the public context it was
made under, and both ends compare it before touching the ciphertexts. A SHA-256 digest over
the blobs catches corruption in transit; it is not a MAC: an active server can always return
wrong (but well-formed) scores, since HE gives confidentiality, not verifiable computation.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any

from veil.errors import InputError, IntegrityError
from veil.he.params import Params

__all__ = ["EncryptedBatch", "fingerprint"]

_MAGIC = b"VEILCKKS1\n"
_LAYOUTS = ("columns", "rows")


def fingerprint(public_context: bytes) -> str:
    """Names a CKKS context by its serialized public part."""
    return hashlib.sha256(public_context).hexdigest()


@dataclass(frozen=True)
class EncryptedBatch:
    """Ciphertexts plus what a receiver needs to check them before use.

    ``kind`` is ``"batch"`` (client -> server: ``width`` features) or ``"scores"`` (server ->
    client: ``width`` logits per row). In the ``"columns"`` layout blob ``c * width + j``
    holds column ``j`` of row chunk ``c`` (up to ``params.slots`` rows); in ``"rows"`` each
    row's values are split over ``ceil(width / slots)`` consecutive blobs (scores: one).
    """

    kind: str
    layout: str
    fingerprint: str
    params: Params
    rows: int
    width: int
    blobs: tuple[bytes, ...]

    @property
    def row_chunks(self) -> int:
        return -(-self.rows // self.params.slots)

    @property
    def width_chunks(self) -> int:
        return -(-self.width // self.params.slots)

    def expected_blobs(self) -> int:
        if self.layout == "columns":
            return self.row_chunks * self.width
        return self.rows * (self.width_chunks if self.kind == "batch" else 1)

    def to_bytes(self) -> bytes:
        header = {"kind": self.kind, "layout": self.layout, "fingerprint": self.fingerprint,
                  "params": self.params.to_dict(), "rows": self.rows, "width": self.width,
                  "lengths": [len(b) for b in self.blobs],
                  "digest": _digest(self.blobs)}
        head = json.dumps(header, separators=(",", ":")).encode()
        return b"".join((_MAGIC, struct.pack(">I", len(head)), head, *self.blobs))

    @classmethod
    def from_bytes(cls, data: bytes, *, kind: str) -> EncryptedBatch:
        """Parse and check shape and digest; ``kind`` is what the caller expects."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InputError(f"expected the bytes of an encrypted {kind}, got "
                             f"{type(data).__name__}")
        data = bytes(data)
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 4:
            raise InputError(f"not a veil encrypted {kind} (bad magic)")
        (size,) = struct.unpack_from(">I", data, len(_MAGIC))
        start = len(_MAGIC) + 4
        try:
            header: dict[str, Any] = json.loads(data[start:start + size])
            lengths = [int(n) for n in header["lengths"]]
            batch = cls(str(header["kind"]), str(header["layout"]), str(header["fingerprint"]),
                        Params.from_dict(header["params"]), int(header["rows"]),
                        int(header["width"]), ())
            digest = str(header["digest"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"malformed encrypted {kind} header: {exc}") from None
        if batch.kind != kind:
            raise InputError(f"expected an encrypted {kind}, got an encrypted {batch.kind}")
        if batch.layout not in _LAYOUTS or batch.rows < 1 or batch.width < 1 or any(
                n < 1 for n in lengths):
            raise InputError(f"malformed encrypted {kind} header")
        offset, blobs = start + size, []
        for n in lengths:
            blobs.append(data[offset:offset + n])
            offset += n
        if offset != len(data) or len(blobs) != batch.expected_blobs():
            raise IntegrityError(f"the encrypted {kind} is truncated or padded")
        if _digest(blobs) != digest:
            raise IntegrityError(f"the encrypted {kind} fails its digest check")
        return cls(batch.kind, batch.layout, batch.fingerprint, batch.params, batch.rows,
                   batch.width, tuple(blobs))


def _digest(blobs: tuple[bytes, ...] | list[bytes]) -> str:
    h = hashlib.sha256()
    for blob in blobs:
        h.update(struct.pack(">Q", len(blob)))
        h.update(blob)
    return h.hexdigest()
