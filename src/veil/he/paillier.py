"""Additive encrypted aggregation with Paillier (python-paillier, gmpy2 when importable).

Each party encrypts its vector under the aggregator's public key; anyone adds ciphertexts;
only the key holder decrypts the total (and divides by the count for a mean). Keys are 3072
bits by default (about 128-bit security, NIST SP 800-57); 2048 (112-bit) is the floor.

Floats are fixed-point: every value is encoded with the same exponent, a multiple of
``2**-40``, so ciphertexts add with one modular multiplication and a sum of ``k`` values is
off by at most ``k * 2**-41`` plus one float64 rounding. Every vector carries the SHA-256
fingerprint of its key's modulus: adding across keys or decrypting with another key is
refused (phe would otherwise return garbage for the latter).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from phe import EncodedNumber, paillier, util
from phe.paillier import EncryptedNumber, PaillierPrivateKey, PaillierPublicKey

from veil.errors import InputError

__all__ = ["DEFAULT_BITS", "MIN_BITS", "PRECISION", "EncryptedVector", "Keypair", "aggregate",
           "decrypt_vector", "encrypt_sum_count", "encrypt_vector", "generate_keypair",
           "gmpy2_active", "key_id", "mean", "private_key_from_json", "private_key_to_json",
           "public_key_from_json", "public_key_to_json"]

DEFAULT_BITS = 3072
MIN_BITS = 2048
PRECISION = 2.0 ** -40
_EXPONENT = math.floor(math.log(PRECISION, EncodedNumber.BASE))  # phe's own rule


def gmpy2_active() -> bool:
    """Whether phe found gmpy2 (about 10x faster modular arithmetic)."""
    return bool(util.HAVE_GMP)


def key_id(public_key: PaillierPublicKey) -> str:
    """SHA-256 of the modulus: names a key without revealing anything new."""
    return hashlib.sha256(str(public_key.n).encode()).hexdigest()


@dataclass(frozen=True)
class Keypair:
    public: PaillierPublicKey
    private: PaillierPrivateKey

    @property
    def key_id(self) -> str:
        return key_id(self.public)


def generate_keypair(bits: int = DEFAULT_BITS) -> Keypair:
    """A fresh keypair; ``bits`` is the modulus size (3072 ~ 128-bit, 2048 ~ 112-bit)."""
    if bits < MIN_BITS:
        raise InputError(f"a Paillier modulus of {bits} bits is too weak; use at least "
                         f"{MIN_BITS} ({DEFAULT_BITS} for 128-bit security)")
    public, private = paillier.generate_paillier_keypair(n_length=bits)
    return Keypair(public, private)


@dataclass(frozen=True)
class EncryptedVector:
    """Ciphertexts of one vector (or of a sum of ``count`` vectors) under key ``key_id``."""

    key_id: str
    values: tuple[EncryptedNumber, ...]
    count: int = 1

    def __len__(self) -> int:
        return len(self.values)

    def __add__(self, other: EncryptedVector) -> EncryptedVector:
        return aggregate([self, other])

    def to_json(self) -> str:
        return json.dumps({"key_id": self.key_id, "count": self.count, "exponent": _EXPONENT,
                           "ciphertexts": [str(v.ciphertext(be_secure=False))
                                           for v in self.values]})

    @classmethod
    def from_json(cls, public_key: PaillierPublicKey, text: str | bytes) -> EncryptedVector:
        """Parse and bind to ``public_key``; refuses ciphertexts made under another key."""
        try:
            data: dict[str, Any] = json.loads(text)
            kid, count = str(data["key_id"]), int(data["count"])
            exponent = int(data["exponent"])
            raw = [int(c) for c in data["ciphertexts"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"malformed encrypted vector: {exc}") from None
        if kid != key_id(public_key):
            raise InputError("the encrypted vector was made under another Paillier key")
        if exponent != _EXPONENT or count < 1 or not raw:
            raise InputError("malformed encrypted vector: wrong encoding, count or length")
        nsq = public_key.nsquare
        if any(not 0 < c < nsq or math.gcd(c, public_key.n) != 1 for c in raw):
            raise InputError("malformed encrypted vector: a ciphertext is out of range")
        values = tuple(EncryptedNumber(public_key, c, _EXPONENT) for c in raw)
        return cls(kid, values, count)


def encrypt_vector(public_key: PaillierPublicKey, values: Iterable[float]) -> EncryptedVector:
    """Encrypt one party's contribution (fixed-point, ``PRECISION``)."""
    try:
        xs = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InputError("values must be numbers") from None
    if not xs:
        raise InputError("cannot encrypt an empty vector")
    if not all(math.isfinite(x) for x in xs):
        raise InputError("values contain NaN or infinity")
    try:
        enc = tuple(public_key.encrypt(x, precision=PRECISION) for x in xs)
    except ValueError as exc:  # the value overflows the plaintext space
        raise InputError(f"value too large for this key: {exc}") from None
    return EncryptedVector(key_id(public_key), enc, 1)


def encrypt_sum_count(key: PaillierPublicKey, values: pl.Series) -> EncryptedVector:
    """A party's contribution: the encrypted (sum, count) of a numeric column without nulls
    or NaN (the aggregate's mean is the total sum over the total count)."""
    if not values.dtype.is_numeric():
        raise InputError(f"column {values.name!r} is {values.dtype}, not numeric")
    numbers = values.cast(pl.Float64)
    if numbers.null_count() or numbers.is_nan().any():
        raise InputError(f"column {values.name!r} holds nulls or NaN; impute or drop them")
    return encrypt_vector(key, [float(numbers.sum()), float(len(numbers))])


def aggregate(vectors: Sequence[EncryptedVector]) -> EncryptedVector:
    """The element-wise encrypted sum of several parties' vectors (same key, same length)."""
    if not vectors:
        raise InputError("nothing to aggregate")
    first = vectors[0]
    for v in vectors[1:]:
        if v.key_id != first.key_id:
            raise InputError("cannot add vectors encrypted under different Paillier keys")
        if len(v) != len(first):
            raise InputError(f"cannot add vectors of lengths {len(first)} and {len(v)}")
    totals = list(first.values)
    for v in vectors[1:]:
        totals = [a + b for a, b in zip(totals, v.values, strict=True)]
    return EncryptedVector(first.key_id, tuple(totals), sum(v.count for v in vectors))


def decrypt_vector(private_key: PaillierPrivateKey, vector: EncryptedVector) -> np.ndarray:
    """The plaintext (sum) vector; refuses a vector under another key instead of returning
    garbage."""
    if vector.key_id != key_id(private_key.public_key):
        raise InputError("this private key does not belong to the key the vector was "
                         "encrypted under")
    return np.array([private_key.decrypt(v) for v in vector.values], dtype=np.float64)


def mean(private_key: PaillierPrivateKey, vector: EncryptedVector) -> np.ndarray:
    """The element-wise mean of the ``vector.count`` contributions summed into ``vector``
    (divided after decryption, in float64)."""
    return decrypt_vector(private_key, vector) / vector.count


def public_key_to_json(public_key: PaillierPublicKey) -> str:
    return json.dumps({"n": str(public_key.n), "key_id": key_id(public_key)})


def public_key_from_json(text: str | bytes) -> PaillierPublicKey:
    """Parse a public key; refuses a modulus that is malformed or below ``MIN_BITS``."""
    try:
        data = json.loads(text)
        n = int(data["n"])
        claimed = data.get("key_id")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"malformed Paillier public key: {exc}") from None
    if n.bit_length() < MIN_BITS or n % 2 == 0:
        raise InputError(f"a Paillier public key needs an odd modulus of at least {MIN_BITS} "
                         "bits")
    public_key = PaillierPublicKey(n)
    if claimed is not None and claimed != key_id(public_key):
        raise InputError("the Paillier public key's key_id does not match its modulus")
    return public_key


def private_key_to_json(private_key: PaillierPrivateKey) -> str:
    """The key holder's secret (its primes); keep the file it goes to private (0600)."""
    return json.dumps({"p": str(private_key.p), "q": str(private_key.q),
                       "key_id": key_id(private_key.public_key)})


def private_key_from_json(text: str | bytes) -> PaillierPrivateKey:
    """Parse a private key written by :func:`private_key_to_json`; refuses primes that do not
    make a modulus of at least ``MIN_BITS`` or do not match the recorded key id."""
    try:
        data = json.loads(text)
        p, q, claimed = int(data["p"]), int(data["q"]), str(data["key_id"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"malformed Paillier private key: {exc}") from None
    public_key = PaillierPublicKey(p * q)
    if (p * q).bit_length() < MIN_BITS or p == q or claimed != key_id(public_key):
        raise InputError("the Paillier private key is malformed or does not match its key id")
    return PaillierPrivateKey(public_key, p, q)
