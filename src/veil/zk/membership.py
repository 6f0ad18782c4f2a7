"""Merkle membership: prove a record is in a committed dataset, revealing nothing about the others.

Statement: the record ``m`` (with its salt) is leaf ``index`` of the dataset whose published
commitment is :class:`DatasetRoot` ``(root, size)``.

Construction. The tree is RFC 6962's, built with :mod:`veil.ledger.merkle` (leaf hash
``SHA-256(0x00 || data)``, node hash ``SHA-256(0x01 || left || right)``, its split rule for odd
sizes, its audit paths and verifier), so leaves and interior nodes stay in separate domains.
Each leaf's data is a salted commitment to one record::

    data = "veil.zk/membership/leaf/v1" || salt (32 random bytes) || canonical record bytes

The tag and the salt have fixed lengths, so the encoding is injective. With a fresh 256-bit salt
per record, a leaf hash (and every node above it) is independent of the record's content to
anyone without the salt: a proof's path shows its sibling hashes, which reveal nothing about
the other records beyond how many there are (``size``) and the proved record's position.

Proof: ``(index, size, path)``; bytes ``0x03 0x01 || index (8) || size (8) || count (1) ||
path (32 each)``. Verification: rebuild the leaf hash from ``(record, salt)``, then RFC 9162
§2.1.3.2 from it along the path must end at the published root, with ``size`` equal to the
published size. The holder of a record needs its salt (from :meth:`MembershipTree.salt`); the
dataset owner keeps the salts of everyone else.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from veil.errors import InputError
from veil.ledger.merkle import (
    HASH_SIZE,
    inclusion_path,
    leaf_hash,
    node_hash,
    root,
    verify_inclusion,
)
from veil.zk import _codec
from veil.zk._errors import fail

__all__ = [
    "SALT_SIZE",
    "DatasetRoot",
    "MembershipProof",
    "MembershipTree",
    "canonical_record",
    "record_leaf",
    "verify_membership",
]

SALT_SIZE = 32
"""Bytes of random salt per record: 256 bits, so a leaf cannot be guessed from candidate records."""

_LEAF_TAG = b"veil.zk/membership/leaf/v1"
_TAG = 0x03
_MAX_SIZE = 1 << 63

Record = bytes | str | Mapping[str, Any]
"""A record: raw bytes, text (UTF-8) or a JSON object (canonical JSON, sorted keys)."""


def canonical_record(record: Record) -> bytes:
    """The bytes a record commits to: bytes as is, text as UTF-8, a mapping as canonical JSON
    (sorted keys, no whitespace, UTF-8, no NaN), so equal records always hash the same."""
    if isinstance(record, bytes | bytearray):
        return bytes(record)
    if isinstance(record, str):
        return record.encode()
    if isinstance(record, Mapping):
        try:
            text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InputError(f"a mapping record must be JSON-serializable: {exc}") from None
        return text.encode()
    raise InputError(f"a record must be bytes, str or a mapping, got {type(record).__name__}")


def _salt(salt: bytes) -> bytes:
    if not isinstance(salt, bytes | bytearray) or len(salt) != SALT_SIZE:
        got = len(salt) if isinstance(salt, bytes | bytearray) else type(salt).__name__
        raise InputError(f"a salt is {SALT_SIZE} bytes, got {got}")
    return bytes(salt)


def record_leaf(record: Record, salt: bytes) -> bytes:
    """The RFC 6962 leaf hash of a salted record (see the module docstring)."""
    return leaf_hash(_LEAF_TAG + _salt(salt) + canonical_record(record))


@dataclass(frozen=True)
class DatasetRoot:
    """The public commitment to a dataset: Merkle root and record count. Publish or sign this."""

    root: bytes
    size: int

    def __post_init__(self) -> None:
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise InputError(f"a dataset root is {HASH_SIZE} bytes")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not (
                0 <= self.size < _MAX_SIZE):
            raise InputError(f"dataset size must be an int in [0, 2**63), got {self.size!r}")


@dataclass(frozen=True)
class MembershipProof:
    """Leaf position, tree size and the RFC 6962 audit path (leaf side first)."""

    index: int
    size: int
    path: tuple[bytes, ...]

    def to_bytes(self) -> bytes:
        """See the module docstring for the layout."""
        if not 0 <= self.index < self.size < _MAX_SIZE or len(self.path) > 255:
            raise InputError("membership proof has an index, size or path out of range")
        return (_codec.header(_TAG) + self.index.to_bytes(8, "big") + self.size.to_bytes(8, "big")
                + bytes((len(self.path),)) + b"".join(self.path))

    @classmethod
    def from_bytes(cls, data: bytes) -> MembershipProof:
        """Strictly parse :meth:`to_bytes` output; :class:`~veil.errors.InputError` if malformed."""
        reader = _codec.Reader(data, _TAG)
        index = reader.uint(8, "index")
        size = reader.uint(8, "size")
        if not index < size < _MAX_SIZE:
            raise InputError(f"membership proof index {index} is outside a tree of size {size}")
        count = reader.uint(1, "path length")
        path = tuple(reader.take(HASH_SIZE, f"path hash {i}") for i in range(count))
        reader.done()
        return cls(index, size, path)

    def to_json(self) -> str:
        return _codec.to_json(_TAG, self.to_bytes())

    @classmethod
    def from_json(cls, document: str | bytes | Mapping[str, Any]) -> MembershipProof:
        return cls.from_bytes(_codec.from_json(_TAG, document))


class MembershipTree:
    """The dataset owner's side: salted leaves, every complete subtree hash, and the salts.

    Holds ``2·size`` hashes and ``size`` salts (about 10 MB for 100,000 records); records
    themselves are not kept.
    """

    __slots__ = ("_levels", "_salts")

    def __init__(self, levels: list[list[bytes]], salts: list[bytes]) -> None:
        self._levels = levels
        self._salts = salts

    @classmethod
    def build(cls, records: Iterable[Record], *,
              salts: Sequence[bytes] | None = None) -> MembershipTree:
        """Salt and hash every record, then hash each level of complete aligned subtrees.

        Fresh salts come from ``secrets``; pass ``salts`` only to rebuild a tree you built before.
        """
        records = list(records)
        if salts is None:
            salts = [secrets.token_bytes(SALT_SIZE) for _ in records]
        elif len(salts) != len(records):
            raise InputError(f"got {len(salts)} salts for {len(records)} records")
        salt_list = [_salt(s) for s in salts]
        level = [record_leaf(r, s) for r, s in zip(records, salt_list, strict=True)]
        levels = [level]
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            levels.append(level)
        return cls(levels, salt_list)

    def _lookup(self, level: int, index: int) -> bytes:
        return self._levels[level][index]

    @property
    def size(self) -> int:
        return len(self._salts)

    @property
    def root(self) -> DatasetRoot:
        """The commitment to publish (RFC 6962 MTH and the record count)."""
        return DatasetRoot(root(self._lookup, self.size), self.size)

    def salt(self, index: int) -> bytes:
        """The salt of record ``index``: hand it to that record's holder, and to no one else."""
        return self._salts[self._index(index)]

    def prove(self, index: int) -> MembershipProof:
        """The membership proof for record ``index``."""
        index = self._index(index)
        path = inclusion_path(self._lookup, index, self.size)
        return MembershipProof(index, self.size, tuple(path))

    def _index(self, index: int) -> int:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.size:
            raise InputError(f"record index must be in [0, {self.size}), got {index!r}")
        return index


def verify_membership(dataset: DatasetRoot, record: Record, salt: bytes,
                      proof: MembershipProof | bytes) -> None:
    """Return if ``proof`` shows ``(record, salt)`` is in the dataset committed by ``dataset``.

    Raises :class:`~veil.zk.ProofError` when it is not (another record, salt, index, size or
    root) and :class:`~veil.errors.InputError` for malformed input.
    """
    if not isinstance(dataset, DatasetRoot):
        raise InputError(f"dataset must be a DatasetRoot, got {type(dataset).__name__}")
    leaf = record_leaf(record, salt)
    if not isinstance(proof, MembershipProof):
        proof = MembershipProof.from_bytes(proof)
    if proof.size != dataset.size:
        raise fail()
    if not verify_inclusion(leaf, proof.index, proof.size, list(proof.path), dataset.root):
        raise fail()
