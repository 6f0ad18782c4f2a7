"""Zero-knowledge proofs on secp256k1 (through coincurve): prove a fact, reveal nothing more.

Recipes, each a non-interactive proof bound to a caller ``context`` by a Fiat-Shamir transcript:

* :mod:`~veil.zk.schnorr` and :class:`LoginVerifier`: log in by proving you hold a secret key,
  without sending it; single-use nonces refuse replays.
* :mod:`~veil.zk.pedersen` and :mod:`~veil.zk.rangeproof`: commit to a number, then prove it lies
  in a range, e.g. "age >= 18" (:func:`prove_at_least`), without revealing it.
* :mod:`~veil.zk.membership`: prove a record is in a committed dataset (salted RFC 6962 Merkle
  tree) without revealing the other records.

Failed verification raises :class:`ProofError` (one message, whatever failed); malformed input
raises :class:`~veil.errors.InputError` saying what is wrong. The raw group and transcript
layers are :mod:`veil.zk.group` and :mod:`veil.zk.transcript` (hazardous: for new protocols).
"""

from veil.zk import schnorr
from veil.zk._errors import ProofError
from veil.zk.membership import (
    DatasetRoot,
    MembershipProof,
    MembershipTree,
    canonical_record,
    verify_membership,
)
from veil.zk.pedersen import Opening, commit, verify_opening
from veil.zk.rangeproof import (
    RangeProof,
    prove_at_least,
    prove_range,
    verify_at_least,
    verify_range,
)
from veil.zk.schnorr import KeyPair, SchnorrProof, keygen
from veil.zk.session import LoginVerifier, login_context

__all__ = [
    "DatasetRoot",
    "KeyPair",
    "LoginVerifier",
    "MembershipProof",
    "MembershipTree",
    "Opening",
    "ProofError",
    "RangeProof",
    "SchnorrProof",
    "canonical_record",
    "commit",
    "keygen",
    "login_context",
    "prove_at_least",
    "prove_range",
    "schnorr",
    "verify_at_least",
    "verify_membership",
    "verify_opening",
    "verify_range",
]
