"""Tamper-evident audit ledger: hash chain, RFC 6962 Merkle tree, hybrid-signed tree heads
(Ed25519 + ML-DSA-65, :mod:`veil.ledger.signing`).

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
    Switch,
    proof_from_dict,
    verify_consistency,
    verify_inclusion,
)
from veil.ledger.signing import Assurance, LedgerKey, Policy

__all__ = [
    "Assurance",
    "ConsistencyProof",
    "Entry",
    "InclusionProof",
    "InvalidProof",
    "Ledger",
    "LedgerKey",
    "Policy",
    "Record",
    "SignedTreeHead",
    "Switch",
    "Verification",
    "proof_from_dict",
    "verify_consistency",
    "verify_inclusion",
]
