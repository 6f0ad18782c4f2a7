"""Schnorr identification: prove you hold the secret behind a public key, without sending it.

Statement: "I know ``x`` with ``X = x·G``", bound to a caller ``context``.

Protocol (Schnorr 1991, made non-interactive with Fiat-Shamir, transcript ``veil.zk.schnorr``
version 1; see :mod:`veil.zk.transcript`):

* prover: ``k`` uniform in ``[1, n)``; ``R = k·G``;
  ``c = challenge(public X, context, R)``; ``s = k + c·x mod n``
* proof: ``(R, s)``, 65 bytes as ``R`` (33, compressed) ``|| s`` (32), plus a 2-byte header
* verifier: recompute ``c`` from ``(X, context, R)`` and accept iff ``s·G == R + c·X``

Zero knowledge: ``(R, s)`` can be simulated without ``x`` (pick ``s``, ``c``, set
``R = s·G - c·X``), so the proof teaches nothing about ``x``. Soundness: two valid answers to
different challenges for the same ``R`` reveal ``x``, so only its holder answers. Replay: the
context is hashed into ``c``; a login binds a server-issued single-use nonce (see
:class:`veil.zk.session.LoginVerifier`), so a recorded proof is worthless afterwards.

Strict decoding refuses ``s >= n`` and non-canonical ``R``, so a valid proof has exactly one
encoding (no malleability). A fresh ``k`` per proof is essential: reusing one with two
challenges reveals ``x``; ``k`` comes from ``secrets`` each time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from veil.errors import InputError
from veil.zk import _codec
from veil.zk._errors import fail
from veil.zk.group import G, N, Point, base_mul, decode_point, encode_scalar, random_scalar
from veil.zk.transcript import Transcript, require_context

__all__ = ["KeyPair", "SchnorrProof", "keygen", "prove", "verify"]

PROTOCOL = "veil.zk.schnorr"
VERSION = 1
_TAG = 0x01


@dataclass(frozen=True)
class KeyPair:
    """A secret scalar ``x`` in ``[1, n)`` and its public point ``X = x·G`` (secret not in repr)."""

    secret: int = field(repr=False)
    public: Point


def keygen() -> KeyPair:
    """A fresh identification key pair from the OS CSPRNG."""
    x = random_scalar()
    return KeyPair(secret=x, public=base_mul(x))


@dataclass(frozen=True)
class SchnorrProof:
    """``(R, s)``: the prover's commitment and response."""

    R: Point
    s: int

    def to_bytes(self) -> bytes:
        """``0x01 0x01 || R (33) || s (32)``: 67 bytes."""
        return _codec.header(_TAG) + self.R.to_bytes() + encode_scalar(self.s)

    @classmethod
    def from_bytes(cls, data: bytes) -> SchnorrProof:
        """Strictly parse :meth:`to_bytes` output; :class:`~veil.errors.InputError` if malformed."""
        reader = _codec.Reader(data, _TAG)
        proof = cls(R=reader.point("R"), s=reader.scalar("s"))
        reader.done()
        return proof

    def to_json(self) -> str:
        return _codec.to_json(_TAG, self.to_bytes())

    @classmethod
    def from_json(cls, document: str | bytes | Mapping[str, Any]) -> SchnorrProof:
        return cls.from_bytes(_codec.from_json(_TAG, document))


def _public(public: Point | bytes) -> Point:
    if isinstance(public, Point):
        if public.is_identity:
            raise InputError("the public key must not be the point at infinity")
        return public
    return decode_point(public, "public key")


def _challenge(public: Point, context: bytes, R: Point) -> int:
    t = Transcript(PROTOCOL, VERSION)
    t.absorb_point("public", public)
    t.absorb("context", context)
    t.absorb_point("R", R)
    return t.challenge("c")


def prove(secret: int, *, context: bytes) -> SchnorrProof:
    """Prove knowledge of ``secret`` for ``secret·G``, bound to ``context``."""
    if not isinstance(secret, int) or isinstance(secret, bool) or not 0 < secret < N:
        raise InputError("secret must be an int in [1, n); make one with keygen()")
    context = require_context(context)
    k = random_scalar()
    R = base_mul(k)
    c = _challenge(base_mul(secret), context, R)
    return SchnorrProof(R=R, s=(k + c * secret) % N)


def verify(public: Point | bytes, proof: SchnorrProof | bytes, *, context: bytes) -> None:
    """Return if ``proof`` shows knowledge of ``log_G public`` for ``context``; else raise.

    Raises :class:`~veil.zk.ProofError` when the proof does not verify (forged, for another key
    or context) and :class:`~veil.errors.InputError` when an input is malformed.
    """
    X = _public(public)
    context = require_context(context)
    if not isinstance(proof, SchnorrProof):
        proof = SchnorrProof.from_bytes(proof)
    if not isinstance(proof.R, Point) or not isinstance(proof.s, int):
        raise InputError("a SchnorrProof holds a Point R and an int s")
    if proof.R.is_identity or not 0 <= proof.s < N:
        raise fail()
    c = _challenge(X, context, proof.R)
    if G * proof.s != proof.R + X * c:
        raise fail()
