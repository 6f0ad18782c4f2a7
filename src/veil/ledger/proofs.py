"""Signed tree heads and the proofs a third party checks with nothing but the public key.

A signed tree head (STH) commits to the first ``size`` entries: Ed25519 and ML-DSA-65 over
``size || root || time`` (heads from before a workspace's switch: Ed25519 alone; the messages,
the key format and the downgrade rule are in :mod:`veil.ledger.signing`). An auditor who keeps
the heads they were shown can later demand a consistency proof that the log only grew, and an
inclusion proof that a given entry is in it (RFC 6962 section 2.1, verified per RFC 9162).
Failed checks raise :class:`InvalidProof` and never say which check failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from veil.errors import IntegrityError
from veil.ledger import merkle
from veil.ledger.entry import Entry
from veil.ledger.signing import Assurance, HeadSigner, LedgerKey, Policy


class InvalidProof(IntegrityError):
    """A signature, inclusion or consistency proof did not verify."""

    code = "integrity.proof"

    def __init__(self) -> None:
        super().__init__("the proof does not verify against this public key")


PublicKey = LedgerKey | bytes
"""A :class:`LedgerKey` or its bytes (``veil audit pubkey``): a bare Ed25519 key or a hybrid one."""


@dataclass(frozen=True)
class SignedTreeHead:
    size: int
    root: bytes
    time: str
    signature: bytes  # Ed25519
    ml_dsa_signature: bytes | None = None  # ML-DSA-65; None on heads from before the switch

    @classmethod
    def sign(cls, signer: HeadSigner, size: int, root: bytes, time: str) -> SignedTreeHead:
        return cls(size, root, time, *signer.sign(size, root, time))

    def verify(self, public_key: PublicKey, policy: Policy = Policy.HYBRID) -> Assurance:
        """What this head's signatures establish under ``policy``; raises :class:`InvalidProof`
        (saying nothing of which check failed) if they do not verify."""
        try:
            key = LedgerKey.of(public_key)
        except ValueError:
            raise InvalidProof from None
        found = key.check(self.size, self.root, self.time, self.signature,
                          self.ml_dsa_signature, policy)
        if found is None:
            raise InvalidProof
        return found

    def is_valid(self, public_key: PublicKey, policy: Policy = Policy.HYBRID) -> bool:
        try:
            self.verify(public_key, policy)
        except InvalidProof:
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        found = {"size": self.size, "root": self.root.hex(), "time": self.time,
                 "signature": self.signature.hex()}
        if self.ml_dsa_signature is not None:
            found["ml_dsa_signature"] = self.ml_dsa_signature.hex()
        return found

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignedTreeHead:
        try:
            pq = data.get("ml_dsa_signature")
            return cls(int(data["size"]), bytes.fromhex(data["root"]), str(data["time"]),
                       bytes.fromhex(data["signature"]),
                       None if pq is None else bytes.fromhex(pq))
        except (KeyError, TypeError, ValueError, AttributeError):
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


def verify_inclusion(proof: InclusionProof, public_key: PublicKey,
                     policy: Policy = Policy.HYBRID) -> Assurance:
    """Check the head's signatures, the entry's own hash and its audit path; raise if any fails.
    Returns what the head's signatures established (see :class:`Policy`)."""
    entry = proof.entry
    assurance = proof.head.verify(public_key, policy)
    ok = (
        entry.computed_hash() == entry.entry_hash
        and merkle.verify_inclusion(entry.entry_hash, entry.seq - 1, proof.head.size,
                                    proof.path, proof.head.root)
    )
    if not ok:
        raise InvalidProof
    return assurance


def verify_consistency(
    proof: ConsistencyProof, public_key: PublicKey, *, trusted_old_root: bytes | None = None,
    policy: Policy = Policy.HYBRID,
) -> Assurance:
    """Check that the signed head extends the old tree. Pass the root you recorded earlier as
    ``trusted_old_root``; without it the proof only shows consistency with ``proof.old_root``."""
    assurance = proof.head.verify(public_key, policy)
    ok = (
        (trusted_old_root is None or trusted_old_root == proof.old_root)
        and merkle.verify_consistency(proof.old_size, proof.head.size, proof.old_root,
                                      proof.head.root, proof.path)
    )
    if not ok:
        raise InvalidProof
    return assurance


@dataclass(frozen=True)
class Switch:
    """Where a workspace moved to hybrid heads: its last classical head and the proof that the
    first hybrid head extends it, so the classical history is anchored under both signatures."""

    classical: SignedTreeHead
    proof: ConsistencyProof

    def verify(self, public_key: PublicKey) -> None:
        """Raise :class:`InvalidProof` unless the classical head is valid, is the one the key
        names as its last (``classical_until``) and the hybrid head extends it."""
        try:
            key = LedgerKey.of(public_key)
        except ValueError:
            raise InvalidProof from None
        self.classical.verify(key)
        if (self.classical.ml_dsa_signature is not None
                or key.classical_until != self.classical.size
                or self.proof.old_size != self.classical.size):
            raise InvalidProof
        verify_consistency(self.proof, key, trusted_old_root=self.classical.root)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "switch", "classical": self.classical.to_dict(),
                "proof": self.proof.to_dict()}
