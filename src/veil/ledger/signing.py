"""Hybrid signatures on tree heads: Ed25519 and ML-DSA-65 over the same bytes.

A forged tree head would let whoever holds it rewrite history auditors already keep, and audit
trails of health and bank records must stay trustworthy for decades: longer than Ed25519 may
resist a quantum computer. So every head signed since a workspace's switch carries two
signatures, both from ``cryptography`` (Ed25519, RFC 8032; ML-DSA-65, FIPS 204), over

    ``"veil-sth-v2/ed25519+ml-dsa-65\\0" || size (8, big-endian) || root (32) || time``

(ML-DSA with the FIPS 204 context string ``veil-sth``), and a head is accepted only when both
verify: a forger must break both schemes. Heads signed before the switch carry Ed25519 alone
over the v1 message and stay valid as they were. The label names both algorithms, so an Ed25519
signature made for a hybrid head does not verify as a classical one: stripping the ML-DSA
signature breaks the head rather than downgrading it.

The public :class:`LedgerKey` an auditor keeps binds the switch point: ``ed25519 (32) ||
classical_until (8, big-endian) || ml-dsa-65 (1952)``. A head over more than
``classical_until`` entries must carry both signatures, so a classical-only head made after the
switch (by someone who can forge Ed25519) is refused. A bare 32-byte key is a pre-switch key:
it checks the classical signature and says so. :attr:`Policy.CLASSICAL` lets an auditor without
ML-DSA support check Ed25519 alone; the :class:`Assurance` returned says which was checked.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey, MLDSA65PublicKey

__all__ = ["ED25519_SIZE", "ML_DSA_SIZE", "Assurance", "HeadSigner", "LedgerKey", "Policy",
           "message"]

ED25519_SIZE = 32
ML_DSA_SIZE = 1952  # an ML-DSA-65 public key (FIPS 204, table 2)
_NO_SWITCH = 2**63 - 1  # a classical key: no switch known, every head may be classical
_V1 = b"veil-sth-v1"
_V2 = b"veil-sth-v2/ed25519+ml-dsa-65\0"
ML_DSA_CONTEXT = b"veil-sth"


class Policy(enum.Enum):
    """What a verifier demands of a head signed after the switch."""

    HYBRID = "hybrid"  # both signatures (the default)
    CLASSICAL = "classical"  # Ed25519 alone: for an auditor without ML-DSA, who must say so


class Assurance(enum.Enum):
    """What a successful check rests on."""

    HYBRID = "Ed25519 + ML-DSA-65"
    CLASSICAL = "Ed25519 only"


def message(size: int, root: bytes, time: str, *, hybrid: bool) -> bytes:
    """The bytes a head's signatures cover (v1 for classical heads, v2 for hybrid ones)."""
    return (_V2 if hybrid else _V1) + size.to_bytes(8, "big") + root + time.encode()


@dataclass(frozen=True)
class LedgerKey:
    """A ledger's public key: Ed25519, and from ``classical_until`` on, ML-DSA-65 too."""

    ed25519: bytes
    ml_dsa: bytes | None = None
    classical_until: int = _NO_SWITCH

    @classmethod
    def from_bytes(cls, raw: bytes) -> LedgerKey:
        """Parse a bare Ed25519 key (32 bytes) or a hybrid one (32 + 8 + 1952); else ValueError."""
        if len(raw) == ED25519_SIZE:
            return cls(bytes(raw))
        if len(raw) == ED25519_SIZE + 8 + ML_DSA_SIZE:
            return cls(bytes(raw[:ED25519_SIZE]), bytes(raw[ED25519_SIZE + 8:]),
                       int.from_bytes(raw[ED25519_SIZE:ED25519_SIZE + 8], "big"))
        msg = (f"a ledger public key is {ED25519_SIZE} bytes (Ed25519) or "
               f"{ED25519_SIZE + 8 + ML_DSA_SIZE} (Ed25519 + ML-DSA-65); got {len(raw)}")
        raise ValueError(msg)

    @classmethod
    def of(cls, key: LedgerKey | bytes) -> LedgerKey:
        return key if isinstance(key, LedgerKey) else cls.from_bytes(key)

    def to_bytes(self) -> bytes:
        if self.ml_dsa is None:
            return self.ed25519
        return self.ed25519 + self.classical_until.to_bytes(8, "big") + self.ml_dsa

    @property
    def hybrid(self) -> bool:
        return self.ml_dsa is not None

    @functools.lru_cache(maxsize=256)  # noqa: B019 - keys are few, small and immutable
    def check(self, size: int, root: bytes, time: str, signature: bytes,
              ml_dsa_signature: bytes | None, policy: Policy = Policy.HYBRID) -> Assurance | None:
        """The assurance a head with these fields has under ``policy``, or None if it fails.

        Remembered per key and head: a commit checks the anchored heads it just published,
        and every bound-row lookup the current head, so the same pair comes back again and
        again, and a pure function of immutable bytes may answer from memory."""
        hybrid = ml_dsa_signature is not None
        if not hybrid and size > self.classical_until:
            return None  # a classical head after the switch: a downgrade
        data = message(size, root, time, hybrid=hybrid)
        try:
            Ed25519PublicKey.from_public_bytes(self.ed25519).verify(signature, data)
            if not hybrid or policy is Policy.CLASSICAL:
                return Assurance.CLASSICAL
            if self.ml_dsa is None:
                return None  # a hybrid head, and a key that cannot check its second half
            MLDSA65PublicKey.from_public_bytes(self.ml_dsa).verify(
                ml_dsa_signature, data, ML_DSA_CONTEXT)
        except (InvalidSignature, ValueError):
            return None
        return Assurance.HYBRID


@dataclass(frozen=True)
class HeadSigner:
    """The private half: Ed25519 always, ML-DSA-65 once the workspace has switched."""

    ed25519: Ed25519PrivateKey
    ml_dsa: MLDSA65PrivateKey | None = None

    def sign(self, size: int, root: bytes, time: str) -> tuple[bytes, bytes | None]:
        """(Ed25519 signature, ML-DSA-65 signature or None) over the head's message."""
        data = message(size, root, time, hybrid=self.ml_dsa is not None)
        pq = None if self.ml_dsa is None else self.ml_dsa.sign(data, ML_DSA_CONTEXT)
        return self.ed25519.sign(data), pq

    def public(self, classical_until: int) -> LedgerKey:
        ed = self.ed25519.public_key().public_bytes_raw()
        if self.ml_dsa is None:
            return LedgerKey(ed)
        return LedgerKey(ed, self.ml_dsa.public_key().public_bytes_raw(), classical_until)
