"""Fiat-Shamir transcripts: turn an interactive proof into one message, bound to its context.

A challenge is a hash of *everything* the verifier would have seen before sending it, so the
prover cannot pick commitments after knowing the challenge, and a proof made for one statement,
protocol or context does not verify for another. Encoding (SHA-256, one running hash)::

    SHA-256( "veil.zk/transcript/v1"
             || item("protocol", name) || item("version", u32)
             || item(label, data) ...          # statement, context, commitments, in order
             || item("challenge", label) || item("counter", u32) )

    item(label, data) = u32(len(label)) || label || u64(len(data)) || data   (big-endian)

Length prefixes make the absorption injective: no two different sequences of (label, data)
items hash the same bytes, so moving a boundary between fields cannot forge a transcript. The
challenge is the digest read as a big-endian integer, rejected and re-drawn with the next
counter while >= n (uniform in ``[0, n)``, no modular bias). Each challenge is absorbed back,
so later challenges depend on earlier ones.

Always absorb a **context** that names the verifier and the session (audience, a fresh nonce the
verifier issued, a purpose): that is what stops a proof from being replayed elsewhere.
"""

from __future__ import annotations

import hashlib

from veil.errors import InputError
from veil.zk.group import N, Point

__all__ = ["DOMAIN", "Transcript", "require_context"]

DOMAIN = b"veil.zk/transcript/v1"
"""First bytes of every transcript: separates veil's challenges from every other use of SHA-256."""


def _item(label: bytes, data: bytes) -> bytes:
    return len(label).to_bytes(4, "big") + label + len(data).to_bytes(8, "big") + data


class Transcript:
    """A running Fiat-Shamir hash for one proof of one protocol version."""

    __slots__ = ("_hash",)

    def __init__(self, protocol: str, version: int = 1) -> None:
        if not isinstance(protocol, str) or not protocol:
            raise InputError("a transcript needs a non-empty protocol name")
        if not isinstance(version, int) or not 0 <= version < 1 << 32:
            raise InputError(f"protocol version must be an int in [0, 2**32), got {version!r}")
        self._hash = hashlib.sha256(DOMAIN)
        self.absorb("protocol", protocol.encode())
        self.absorb("version", version.to_bytes(4, "big"))

    def absorb(self, label: str, data: bytes) -> None:
        """Append one labelled, length-prefixed item."""
        if not isinstance(data, bytes | bytearray):
            raise InputError(f"transcript item {label!r} must be bytes, got {type(data).__name__}")
        self._hash.update(_item(label.encode(), bytes(data)))

    def absorb_point(self, label: str, point: Point) -> None:
        """Append a point's canonical encoding (the point at infinity is refused)."""
        self.absorb(label, point.to_bytes())

    def absorb_int(self, label: str, value: int) -> None:
        """Append a non-negative integer below 2**64 (sizes, bit counts, thresholds)."""
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 64:
            raise InputError(f"transcript int {label!r} must be in [0, 2**64), got {value!r}")
        self.absorb(label, value.to_bytes(8, "big"))

    def challenge(self, label: str) -> int:
        """A uniform scalar in ``[0, n)`` derived from everything absorbed so far."""
        for counter in range(1 << 16):
            h = self._hash.copy()
            h.update(_item(b"challenge", label.encode()))
            h.update(_item(b"counter", counter.to_bytes(4, "big")))
            value = int.from_bytes(h.digest(), "big")
            if value < N:
                self.absorb("challenge:" + label, value.to_bytes(32, "big"))
                return value
        raise AssertionError("no challenge below n after 65536 draws")  # probability ~2**-8e6


def require_context(context: bytes) -> bytes:
    """Check a proof context: non-empty bytes naming the verifier and session."""
    if not isinstance(context, bytes | bytearray):
        raise InputError(
            f"context must be bytes (audience, nonce, session), got {type(context).__name__}")
    if not context:
        raise InputError("context must not be empty: bind the verifier's nonce or session so "
                         "the proof cannot be replayed elsewhere")
    return bytes(context)
