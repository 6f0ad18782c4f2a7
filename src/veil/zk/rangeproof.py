"""Range proofs on Pedersen commitments: "the committed value is in [0, 2^k)", and "age >= 18".

Statement: for a public commitment ``C`` (see :mod:`veil.zk.pedersen`) and bit count ``k``, the
prover knows ``v, r`` with ``C = v·G + r·H`` and ``0 <= v < 2^k``.

Protocol (bit decomposition with CDS OR-proofs; transcript ``veil.zk.range`` version 1):

1. Bit commitments. Write ``v = Σ b_i·2^i``. Commit ``C_i = b_i·G + r_i·H`` with ``r_i``
   uniform for ``i < k-1`` and ``r_{k-1} = (r - Σ_{i<k-1} 2^i·r_i) · 2^{-(k-1)} mod n``, so
   ``Σ 2^i·C_i = v·G + r·H = C`` holds exactly. Any ``k-1`` of the ``C_i`` are uniform; they
   reveal nothing about ``v``.
2. Each ``C_i`` opens to 0 or 1: an OR of two Schnorr proofs of knowledge of ``log_H Y`` for
   ``Y_0 = C_i`` (bit 0) and ``Y_1 = C_i - G`` (bit 1), Cramer-Damgård-Schoenmakers style. For the
   true branch ``j``: ``A_j = t·H``; the other branch is simulated: pick ``e_{1-j}, z_{1-j}``,
   set ``A_{1-j} = z_{1-j}·H - e_{1-j}·Y_{1-j}``.
3. One challenge ``e = challenge(statement, context, C_0..C_{k-1}, A_{0,0}, A_{0,1}, ...)``.
   For each bit ``e_j = e - e_{1-j}`` and ``z_j = t + e_j·r_i``: the prover controls one of the
   two branch challenges, never both, so it can only answer a branch it knows ``log_H`` for.

Proof: ``k``, ``e`` and per bit ``(C_i, e_{i,0}, z_{i,0}, z_{i,1})``;
bytes ``0x02 0x01 || k (1) || e (32) || k × (C_i (33) || e0 (32) || z0 (32) || z1 (32))``, so
``3 + 32 + 129·k`` bytes (1,067 for ``k = 8``).

Verification: ``e_{i,1} = e - e_{i,0}``; ``A_{i,b} = z_{i,b}·H - e_{i,b}·Y_{i,b}``; accept iff
the recomputed challenge equals ``e`` and ``Σ 2^i·C_i == C``.

"At least" (:func:`prove_at_least`): ``v >= t`` is proved as ``v - t`` in ``[0, 2^k)`` on
``C - t·G`` (which opens to ``v - t`` with the same ``r``), the transcript binding the original
``C``, ``t`` and ``k``. It therefore proves ``t <= v < t + 2^k``: with the default ``k = 7`` and
``t = 18``, ages 18..145 can be proved, and a value above the window cannot (choose ``k`` to cover
every value you may need to prove about).

The prover refuses a false statement (:class:`~veil.errors.InputError`); were it to try anyway,
the OR-proofs and the recombination check make the proof fail except with probability ~2^-256.
The true/simulated branch depends on the secret bit; the two take the same group operations but
not strictly constant time (see :mod:`veil.zk.group`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from veil.errors import InputError
from veil.zk import _codec
from veil.zk._errors import fail
from veil.zk.group import IDENTITY, G, H, N, Point, encode_scalar, random_scalar
from veil.zk.pedersen import Opening
from veil.zk.transcript import Transcript, require_context

__all__ = [
    "AGE_CONTEXT",
    "AGE_TYPE",
    "DEFAULT_AGE_BITS",
    "MAX_BITS",
    "RangeProof",
    "proof_size",
    "prove_at_least",
    "prove_range",
    "verify_at_least",
    "verify_range",
]

PROTOCOL = "veil.zk.range"
VERSION = 1
_TAG = 0x02
MAX_BITS = 64
"""Largest ``k`` accepted: ranges up to 2^64 (proof size and time grow linearly in ``k``)."""
DEFAULT_AGE_BITS = 7
"""Default window for :func:`prove_at_least`: ``t <= v < t + 128`` (18..145 for an age check)."""
AGE_TYPE = "veil.zk.age-proof"
"""The ``type`` of an age-proof document (``veil zk prove-age``, ``POST /zk/verify-age``)."""
AGE_CONTEXT = "veil.zk.age/cli"
"""Default context of an age proof; a verifier should pass its own fresh one."""
_NEG_G = -G


@dataclass(frozen=True)
class RangeProof:
    """Bit commitments, the shared challenge and each bit's OR-proof responses."""

    bits: int
    challenge: int
    commitments: tuple[Point, ...]
    e0: tuple[int, ...]
    z0: tuple[int, ...]
    z1: tuple[int, ...]

    def to_bytes(self) -> bytes:
        """See the module docstring for the layout."""
        parts = [_codec.header(_TAG), bytes((self.bits,)), encode_scalar(self.challenge)]
        for c, e0, z0, z1 in zip(self.commitments, self.e0, self.z0, self.z1, strict=True):
            parts += [c.to_bytes(), encode_scalar(e0), encode_scalar(z0), encode_scalar(z1)]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> RangeProof:
        """Strictly parse :meth:`to_bytes` output; :class:`~veil.errors.InputError` if malformed."""
        reader = _codec.Reader(data, _TAG)
        bits = reader.uint(1, "bit count")
        if not 1 <= bits <= MAX_BITS:
            raise InputError(f"range proof bit count must be in [1, {MAX_BITS}], got {bits}")
        challenge = reader.scalar("challenge")
        cs, e0s, z0s, z1s = [], [], [], []
        for i in range(bits):
            cs.append(reader.point(f"bit commitment {i}"))
            e0s.append(reader.scalar(f"bit {i} e0"))
            z0s.append(reader.scalar(f"bit {i} z0"))
            z1s.append(reader.scalar(f"bit {i} z1"))
        reader.done()
        return cls(bits, challenge, tuple(cs), tuple(e0s), tuple(z0s), tuple(z1s))

    def to_json(self) -> str:
        return _codec.to_json(_TAG, self.to_bytes())

    @classmethod
    def from_json(cls, document: str | bytes | Mapping[str, Any]) -> RangeProof:
        return cls.from_bytes(_codec.from_json(_TAG, document))


def proof_size(bits: int) -> int:
    """Bytes in a serialized range proof of ``bits`` bits."""
    return 3 + 32 + 129 * bits


def _check_bits(bits: int) -> int:
    if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= MAX_BITS:
        raise InputError(f"bits must be an int in [1, {MAX_BITS}], got {bits!r}")
    return bits


def _check_threshold(threshold: int) -> int:
    if not isinstance(threshold, int) or isinstance(threshold, bool) or not 0 <= threshold < 2**64:
        raise InputError(f"threshold must be an int in [0, 2**64), got {threshold!r}")
    return threshold


def _commitment(commitment: Point | bytes) -> Point:
    if isinstance(commitment, Point):
        if commitment.is_identity:
            raise InputError("the commitment must not be the point at infinity")
        return commitment
    return Point.from_bytes(commitment, "commitment")


def _range_transcript(commitment: Point, bits: int, context: bytes) -> Transcript:
    t = Transcript(PROTOCOL, VERSION)
    t.absorb("statement", b"range")
    t.absorb_point("commitment", commitment)
    t.absorb_int("bits", bits)
    t.absorb("context", context)
    return t


def _at_least_transcript(commitment: Point, threshold: int, bits: int, context: bytes
                         ) -> Transcript:
    t = Transcript(PROTOCOL, VERSION)
    t.absorb("statement", b"at-least")
    t.absorb_point("commitment", commitment)
    t.absorb_int("threshold", threshold)
    t.absorb_int("bits", bits)
    t.absorb("context", context)
    return t


def _prove_bits(t: Transcript, value: int, blinding: int, bits: int) -> RangeProof:
    """Steps 1-3 of the module docstring for ``value·G + blinding·H``."""
    if not 0 <= value < 1 << bits:
        raise InputError(f"the committed value is outside the {bits}-bit range; "
                         "there is no true statement to prove")
    b = [(value >> i) & 1 for i in range(bits)]
    inv_top = pow(1 << (bits - 1), -1, N)
    while True:
        r = [random_scalar() for _ in range(bits - 1)]
        last = (blinding - sum(r_i << i for i, r_i in enumerate(r))) * inv_top % N
        if last:
            r.append(last)
            break
    cs = [G * b_i + H * r_i for b_i, r_i in zip(b, r, strict=True)]
    nonces, sims = [], []
    for c in cs:
        t.absorb_point("C", c)
    for b_i, c in zip(b, cs, strict=True):
        k, e_sim, z_sim = random_scalar(), random_scalar(), random_scalar()
        y_other = c + _NEG_G if b_i == 0 else c  # the branch the prover cannot open
        a_real = H * k
        a_sim = H * z_sim - y_other * e_sim
        if a_sim.is_identity:  # probability ~2^-256; the verifier refuses infinity
            raise InputError("degenerate random draw; prove again")
        a0, a1 = (a_real, a_sim) if b_i == 0 else (a_sim, a_real)
        t.absorb_point("A0", a0)
        t.absorb_point("A1", a1)
        nonces.append(k)
        sims.append((e_sim, z_sim))
    e = t.challenge("e")
    e0s, z0s, z1s = [], [], []
    for b_i, r_i, k, (e_sim, z_sim) in zip(b, r, nonces, sims, strict=True):
        e_real = (e - e_sim) % N
        z_real = (k + e_real * r_i) % N
        if b_i == 0:
            e0s.append(e_real)
            z0s.append(z_real)
            z1s.append(z_sim)
        else:
            e0s.append(e_sim)
            z0s.append(z_sim)
            z1s.append(z_real)
    return RangeProof(bits, e, tuple(cs), tuple(e0s), tuple(z0s), tuple(z1s))


def _verify_bits(t: Transcript, target: Point, proof: RangeProof | bytes, bits: int) -> None:
    if not isinstance(proof, RangeProof):
        proof = RangeProof.from_bytes(proof)
    if proof.bits != bits or not all(
            len(x) == bits for x in (proof.commitments, proof.e0, proof.z0, proof.z1)):
        raise fail()
    scalars = (proof.challenge, *proof.e0, *proof.z0, *proof.z1)
    if not all(isinstance(s, int) and 0 <= s < N for s in scalars):
        raise fail()
    if not all(isinstance(c, Point) and not c.is_identity for c in proof.commitments):
        raise fail()
    for c in proof.commitments:
        t.absorb_point("C", c)
    e = proof.challenge
    for c, e0, z0, z1 in zip(proof.commitments, proof.e0, proof.z0, proof.z1, strict=True):
        e1 = (e - e0) % N
        a0 = H * z0 - c * e0
        a1 = H * z1 - (c + _NEG_G) * e1
        if a0.is_identity or a1.is_identity:
            raise fail()
        t.absorb_point("A0", a0)
        t.absorb_point("A1", a1)
    if t.challenge("e") != e:
        raise fail()
    total = IDENTITY
    for c in reversed(proof.commitments):  # Horner: Σ 2^i·C_i
        total = total + total + c
    if total != target:
        raise fail()


def prove_range(opening: Opening, *, bits: int, context: bytes) -> RangeProof:
    """Prove ``opening.value`` is in ``[0, 2^bits)`` for ``opening.commitment``."""
    _check_bits(bits)
    context = require_context(context)
    t = _range_transcript(opening.commitment, bits, context)
    return _prove_bits(t, opening.value, opening.blinding, bits)


def verify_range(commitment: Point | bytes, proof: RangeProof | bytes, *, bits: int,
                 context: bytes) -> None:
    """Return if ``proof`` shows ``commitment`` holds a value in ``[0, 2^bits)``; else raise
    :class:`~veil.zk.ProofError` (or :class:`~veil.errors.InputError` for malformed input)."""
    _check_bits(bits)
    context = require_context(context)
    c = _commitment(commitment)
    _verify_bits(_range_transcript(c, bits, context), c, proof, bits)


def prove_at_least(opening: Opening, threshold: int, *, bits: int = DEFAULT_AGE_BITS,
                   context: bytes) -> RangeProof:
    """Prove ``threshold <= opening.value < threshold + 2^bits`` without revealing the value.

    Refuses (:class:`~veil.errors.InputError`) when the value is below the threshold or beyond
    the window: a 17-year-old gets no proof of "at least 18".
    """
    _check_bits(bits)
    _check_threshold(threshold)
    context = require_context(context)
    commitment = opening.commitment
    t = _at_least_transcript(commitment, threshold, bits, context)
    if opening.value < threshold:
        raise InputError("the committed value is below the threshold; there is no true "
                         "statement to prove")
    if opening.value - threshold >= 1 << bits:
        raise InputError(f"the committed value is outside the window threshold + [0, 2**{bits}); "
                         "pass a larger bits to prove it")
    return _prove_bits(t, opening.value - threshold, opening.blinding, bits)


def verify_at_least(commitment: Point | bytes, threshold: int, proof: RangeProof | bytes, *,
                    bits: int = DEFAULT_AGE_BITS, context: bytes) -> None:
    """Return if ``proof`` shows ``commitment`` holds ``v`` with ``threshold <= v < threshold +
    2^bits``; else raise :class:`~veil.zk.ProofError` (:class:`~veil.errors.InputError` for
    malformed input)."""
    _check_bits(bits)
    _check_threshold(threshold)
    context = require_context(context)
    c = _commitment(commitment)
    t = _at_least_transcript(c, threshold, bits, context)
    _verify_bits(t, c - G * threshold, proof, bits)
