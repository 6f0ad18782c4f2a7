"""The one verification-failure type of ``veil.zk``.

A proof that is well formed but does not verify (forged, replayed, altered, made for another
statement or context) raises :class:`ProofError` with one fixed message, never saying which
check failed: a failing check would otherwise teach a forger which part to fix. Malformed input
(wrong lengths, points off the curve, scalars >= n) is a caller mistake and gets a precise
:class:`~veil.errors.InputError` instead.

It subclasses the ledger's :class:`~veil.ledger.InvalidProof` (code ``integrity.proof``), so
one ``except InvalidProof`` catches every failed proof in veil, ledger or zero-knowledge.
"""

from __future__ import annotations

from veil.errors import IntegrityError
from veil.ledger.proofs import InvalidProof

__all__ = ["ProofError"]


class ProofError(InvalidProof):
    """A zero-knowledge proof or membership proof failed verification (code ``integrity.proof``)."""

    def __init__(self) -> None:
        IntegrityError.__init__(self, "the proof does not verify")


def fail() -> ProofError:
    """The single error every failed check raises (same message whatever failed)."""
    return ProofError()
