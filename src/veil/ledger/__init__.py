"""Tamper-evident audit ledger: hash chain, RFC 6962 Merkle tree, Ed25519-signed tree heads.

Third parties check proofs with :func:`verify_inclusion` and :func:`verify_consistency`, given only
the ledger's public key (``veil audit pubkey``).
"""

from veil.ledger.entry import Entry
from veil.ledger.log import Ledger, Record, Verification
from veil.ledger.proofs import (
    ConsistencyProof,
    InclusionProof,
    InvalidProof,
    SignedTreeHead,
    proof_from_dict,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "ConsistencyProof",
    "Entry",
    "InclusionProof",
    "InvalidProof",
    "Ledger",
    "Record",
    "SignedTreeHead",
    "Verification",
    "proof_from_dict",
    "verify_consistency",
    "verify_inclusion",
]
