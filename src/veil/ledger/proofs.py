"""Signed tree heads and the proofs a third party checks with nothing but the public key.

A signed tree head (STH) commits to the first ``size`` entries: Ed25519 over
``"veil-sth-v1" || size (8 bytes, big-endian) || root (32) || time (UTF-8)``. An auditor who keeps
the heads they were shown can later demand a consistency proof that the log only grew, and an
inclusion proof that a given entry is in it (RFC 6962 section 2.1, verified per RFC 9162).
Failed checks raise :class:`InvalidProof` and never say which check failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from veil.errors import IntegrityError
from veil.ledger import merkle
from veil.ledger.entry import Entry


class InvalidProof(IntegrityError):
    """A signature, inclusion or consistency proof did not verify."""

    code = "integrity.proof"

    def __init__(self) -> None:
        super().__init__("the proof does not verify against this public key")


def _sth_message(size: int, root: bytes, time: str) -> bytes:
    return b"veil-sth-v1" + size.to_bytes(8, "big") + root + time.encode()


@dataclass(frozen=True)
class SignedTreeHead:
    size: int
    root: bytes
    time: str
    signature: bytes

    @classmethod
    def sign(cls, key: Ed25519PrivateKey, size: int, root: bytes, time: str) -> SignedTreeHead:
        return cls(size, root, time, key.sign(_sth_message(size, root, time)))

    def is_valid(self, public_key: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(
                self.signature, _sth_message(self.size, self.root, self.time)
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "root": self.root.hex(), "time": self.time,
                "signature": self.signature.hex()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignedTreeHead:
        try:
            return cls(int(data["size"]), bytes.fromhex(data["root"]), str(data["time"]),
                       bytes.fromhex(data["signature"]))
        except (KeyError, TypeError, ValueError):
            raise InvalidProof from None


@dataclass(frozen=True)
class InclusionProof:
    """Entry ``entry.seq`` (leaf ``seq - 1``) is in the tree that ``head`` signs."""

    head: SignedTreeHead
    entry: Entry
    path: list[bytes]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "inclusion", "head": self.head.to_dict(), "entry": self.entry.to_dict(),
                "path": [h.hex() for h in self.path]}


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``old_size`` entries with root ``old_root`` is a prefix of ``head``'s tree."""

    old_size: int
    old_root: bytes
    head: SignedTreeHead
    path: list[bytes]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "consistency", "old_size": self.old_size, "old_root": self.old_root.hex(),
                "head": self.head.to_dict(), "path": [h.hex() for h in self.path]}


def proof_from_dict(data: dict[str, Any]) -> InclusionProof | ConsistencyProof:
    """Parse a proof as written by ``to_dict`` (for example by ``veil audit prove --json``)."""
    try:
        path = [bytes.fromhex(h) for h in data["path"]]
        head = SignedTreeHead.from_dict(data["head"])
        if data["kind"] == "inclusion":
            return InclusionProof(head, Entry.from_dict(data["entry"]), path)
        if data["kind"] == "consistency":
            return ConsistencyProof(int(data["old_size"]), bytes.fromhex(data["old_root"]),
                                    head, path)
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    raise InvalidProof


def verify_inclusion(proof: InclusionProof, public_key: bytes) -> None:
    """Check the head's signature, the entry's own hash and its audit path; raise if any fails."""
    entry = proof.entry
    ok = (
        proof.head.is_valid(public_key)
        and entry.computed_hash() == entry.entry_hash
        and merkle.verify_inclusion(entry.entry_hash, entry.seq - 1, proof.head.size,
                                    proof.path, proof.head.root)
    )
    if not ok:
        raise InvalidProof


def verify_consistency(
    proof: ConsistencyProof, public_key: bytes, *, trusted_old_root: bytes | None = None
) -> None:
    """Check that the signed head extends the old tree. Pass the root you recorded earlier as
    ``trusted_old_root``; without it the proof only shows consistency with ``proof.old_root``."""
    ok = (
        proof.head.is_valid(public_key)
        and (trusted_old_root is None or trusted_old_root == proof.old_root)
        and merkle.verify_consistency(proof.old_size, proof.head.size, proof.old_root,
                                      proof.head.root, proof.path)
    )
    if not ok:
        raise InvalidProof
