"""secp256k1 group helpers: scalars mod n, points through coincurve, generators G and H.

.. warning::
   This is a "Hazardous Materials" module: raw group arithmetic for the protocols in
   ``veil.zk``. Use :mod:`veil.zk.schnorr`, :mod:`veil.zk.rangeproof` and
   :mod:`veil.zk.membership` unless you are building and reviewing a new protocol.

Nothing here implements curve arithmetic: every point operation is one libsecp256k1 call made
through coincurve (``PublicKey.combine_keys`` adds, ``PublicKey.multiply`` and ``PrivateKey``
multiply, negation multiplies by ``n - 1``, ``PublicKey(bytes)`` validates encodings). This
module only adds what coincurve leaves out: the point at infinity (coincurve cannot hold it,
yet sums such as ``P + (-P)`` and products by ``0 mod n`` produce it), canonical encodings and
strict decoding with messages that say what was wrong.

Side channels. ``s * G`` goes through ``PrivateKey`` (libsecp256k1's constant-time ``ecmult_gen``);
``s * P`` for any other point uses ``secp256k1_ec_pubkey_tweak_mul``, which libsecp256k1 runs in
variable time, and scalar arithmetic uses Python integers, which are not constant-time either.
Provers are meant to run on the prover's own device; do not expose them as a timing oracle.
"""

from __future__ import annotations

import hashlib
import secrets

from coincurve import PrivateKey, PublicKey

from veil.errors import InputError

__all__ = [
    "H_DOMAIN",
    "IDENTITY",
    "POINT_SIZE",
    "SCALAR_SIZE",
    "G",
    "H",
    "N",
    "Point",
    "base_mul",
    "decode_point",
    "decode_scalar",
    "encode_scalar",
    "hash_to_point",
    "random_scalar",
]

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""Order of the secp256k1 group (SEC 2 §2.4.1): scalars live in ``Z/NZ``."""

SCALAR_SIZE = 32
"""Bytes in a canonical scalar: big-endian, strictly below :data:`N`."""

POINT_SIZE = 33
"""Bytes in a canonical point: SEC 1 compressed form (``0x02``/``0x03`` then x)."""

H_DOMAIN = b"veil.zk/secp256k1/H/v1"
"""Domain tag hashed into the x-coordinate candidates for :data:`H`."""


class Point:
    """An element of secp256k1: a coincurve ``PublicKey``, or the point at infinity.

    Immutable and hashable; ``+``, ``-`` (binary and unary) and ``*`` by an ``int`` (reduced
    mod n) are the group operations. Equality compares canonical encodings.
    """

    __slots__ = ("_enc", "_key")

    def __init__(self, key: PublicKey | None) -> None:
        self._key = key
        self._enc = b"" if key is None else key.format(compressed=True)

    @property
    def is_identity(self) -> bool:
        """Whether this is the point at infinity (the group's neutral element)."""
        return self._key is None

    def to_bytes(self) -> bytes:
        """The 33-byte compressed SEC 1 encoding; the point at infinity has none."""
        if self._key is None:
            raise InputError("the point at infinity has no encoding; no proof may contain it")
        return self._enc

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "point") -> Point:
        """Strictly decode a compressed point (see :func:`decode_point`)."""
        return decode_point(data, what)

    def __add__(self, other: Point) -> Point:
        if not isinstance(other, Point):
            return NotImplemented
        if self._key is None:
            return other
        if other._key is None:
            return self
        try:
            return Point(PublicKey.combine_keys([self._key, other._key]))
        except ValueError:
            # libsecp256k1 refuses exactly one sum of two valid points: P + (-P) = infinity.
            return IDENTITY

    def __neg__(self) -> Point:
        return self * (N - 1)

    def __sub__(self, other: Point) -> Point:
        if not isinstance(other, Point):
            return NotImplemented
        return self + (-other)

    def __mul__(self, scalar: int) -> Point:
        if not isinstance(scalar, int) or isinstance(scalar, bool):
            return NotImplemented
        s = scalar % N
        if s == 0 or self._key is None:
            return IDENTITY
        if self is G:
            return base_mul(s)
        return Point(self._key.multiply(s.to_bytes(SCALAR_SIZE, "big")))

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        return self._enc == other._enc

    def __hash__(self) -> int:
        return hash(self._enc)

    def __repr__(self) -> str:
        return "Point(infinity)" if self._key is None else f"Point({self._enc.hex()})"


IDENTITY = Point(None)
"""The point at infinity: ``P + IDENTITY == P``; never encoded, never decoded."""


def base_mul(scalar: int) -> Point:
    """``scalar * G`` through ``PrivateKey`` (constant-time in libsecp256k1)."""
    s = scalar % N
    if s == 0:
        return IDENTITY
    return Point(PrivateKey(s.to_bytes(SCALAR_SIZE, "big")).public_key)


G = Point(PrivateKey((1).to_bytes(SCALAR_SIZE, "big")).public_key)
"""The standard secp256k1 generator (SEC 2 §2.4.1), as ``1 * G``."""


def hash_to_point(domain: bytes) -> Point:
    """A point nobody knows the discrete log of, by try-and-increment.

    For counter = 0, 1, 2, ...: ``x = SHA-256(domain || counter as 4 bytes big-endian)`` and the
    candidate is the compressed encoding ``0x02 || x`` (even y); the first one coincurve accepts
    as a curve point wins. About half of all x are on the curve, so a few tries suffice. The
    point is fixed by public hashing alone: no scalar was ever chosen, so finding ``log_G`` of it
    is as hard as the discrete-log problem itself ("nothing up my sleeve").
    """
    for counter in range(1 << 16):
        x = hashlib.sha256(domain + counter.to_bytes(4, "big")).digest()
        try:
            return Point(PublicKey(b"\x02" + x))
        except ValueError:
            continue
    raise AssertionError("no curve point after 65536 tries")  # probability 2**-65536


H = hash_to_point(H_DOMAIN)
"""Second Pedersen generator, ``hash_to_point(H_DOMAIN)``: nobody knows ``log_G H``, which is
what makes Pedersen commitments ``vG + rH`` binding."""


def random_scalar() -> int:
    """A uniform scalar in ``[1, n)`` from ``secrets`` (the OS CSPRNG); never zero."""
    return secrets.randbelow(N - 1) + 1


def encode_scalar(scalar: int) -> bytes:
    """32 bytes big-endian; the scalar must already be reduced (``0 <= scalar < n``)."""
    if not isinstance(scalar, int) or isinstance(scalar, bool) or not 0 <= scalar < N:
        raise InputError(f"a scalar must be an int in [0, n), got {scalar!r}")
    return scalar.to_bytes(SCALAR_SIZE, "big")


def decode_scalar(data: bytes, what: str = "scalar") -> int:
    """Strictly decode a 32-byte big-endian scalar; values >= n are not canonical and refused
    (accepting ``s + n`` for ``s`` would make every proof malleable)."""
    if not isinstance(data, bytes | bytearray):
        raise InputError(f"{what} must be bytes, got {type(data).__name__}")
    if len(data) != SCALAR_SIZE:
        raise InputError(f"{what} must be {SCALAR_SIZE} bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    if value >= N:
        raise InputError(f"{what} is not canonical: it is >= the group order n")
    return value


def decode_point(data: bytes, what: str = "point") -> Point:
    """Strictly decode a 33-byte compressed point.

    Refuses other lengths (including 65-byte uncompressed keys: one encoding per point), prefixes
    other than ``0x02``/``0x03``, x-coordinates >= p and x with no curve point (coincurve's
    parser), so every accepted encoding is the canonical one of a point other than infinity.
    """
    if not isinstance(data, bytes | bytearray):
        raise InputError(f"{what} must be bytes, got {type(data).__name__}")
    if len(data) != POINT_SIZE:
        raise InputError(f"{what} must be a {POINT_SIZE}-byte compressed point, got {len(data)}")
    if data[0] not in (2, 3):
        raise InputError(f"{what} must start with 0x02 or 0x03, got 0x{data[0]:02x}")
    try:
        point = Point(PublicKey(bytes(data)))
    except ValueError:
        raise InputError(f"{what} is not a point on secp256k1") from None
    if point._enc != data:  # pragma: no cover - libsecp256k1 already refuses x >= p
        raise InputError(f"{what} is not a canonical encoding")
    return point
