"""Wrap a 256-bit key for a recipient under hybrid post-quantum key encapsulation.

A recipient (another workspace, a key escrow, a federation site) publishes a hybrid public key:
X25519 (RFC 7748) and ML-KEM-768 (FIPS 203), both from ``cryptography``; nothing here is a new
primitive. A share is secure while *either* KEM holds: X25519 against today's attackers,
ML-KEM against a future quantum one that records shares now and decrypts them later.

Protocol (version 1; every integer big-endian)::

    header = "VEILSHR1" || recipient key id (16) || sender id (16)
             || len(context) (2) || context || eph X25519 public (32) || ML-KEM ciphertext (1088)
    ss_M, ct_M = ML-KEM-768.Encaps(recipient ek)
    ss_X       = X25519(eph private, recipient X25519 public)
    okm        = HKDF-SHA256(salt = none,
                             ikm  = ss_M || ss_X || ct_M || eph public || recipient X25519 public
                                    || recipient key id,
                             info = "veil-share-v1 X25519+ML-KEM-768" || context, length 44)
    share  = header || AES-256-GCM(key = okm[:32], nonce = okm[32:]).encrypt(data key, aad=header)

Why this combiner (the X-Wing and HPKE hybrid constructions): both shared secrets go into one
KDF, so the output stays pseudorandom if either is; both ciphertexts and the recipient's keys
go in too (the ML-KEM encapsulation key through the key id, a hash over it), so a ciphertext
cannot be swapped or re-targeted at another key without changing the wrapping key. X-Wing
leaves ct_M out because ML-KEM already binds it; hashing it too costs 1 KiB of SHA-256 and
keeps the argument independent of that property. The context (what is shared: dataset,
version, fingerprint...) is in the KDF info and, with the whole header, in the GCM associated
data: a share relabelled for another version or another recipient fails. Key and nonce are
fresh per share (fresh ephemeral secrets), so the nonce can be derived. The recipient key id is
the first 16 bytes of SHA-256 over the raw public key (X25519 public || ML-KEM ek).

Opening a share fails with one :class:`~veil.errors.InvalidShare` (no reason given) for a wrong
recipient key, any changed, missing or added byte, or a malformed share. The header is not
secret (key ids and context travel in the clear), and a share is not signed: the sender id
(in veil, the first 16 bytes of SHA-256 over the sending workspace's Ed25519 ledger key) is for
the recipient's records and proves nothing: as in HPKE's base mode, anyone holding the public
key can make a share.

Key files: the public key is ``"VEILRPK1" || X25519 public (32) || ML-KEM ek (1184)``; the
private key ``"VEILRSK1" || X25519 private (32) || ML-KEM seed d||z (64)``, written 0600 and,
like a master key file (``veil keys generate``), not sealed under a passphrase: keep it apart.
Both parse strictly: exact magic, exact length, keys the libraries accept.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil._atomic import atomic_write
from veil.errors import InputError, InvalidShare

__all__ = ["ALGORITHM", "KEY_ID_BYTES", "RecipientKey", "RecipientPublicKey", "Unwrapped",
           "new_recipient", "unwrap", "wrap"]

ALGORITHM = "X25519+ML-KEM-768/HKDF-SHA256/AES-256-GCM"
KEY_ID_BYTES = 16
PUBLIC_MAGIC, PRIVATE_MAGIC, SHARE_MAGIC = b"VEILRPK1", b"VEILRSK1", b"VEILSHR1"
_LABEL = b"veil-share-v1 X25519+ML-KEM-768"
_X25519, _EK, _SEED, _CT = 32, 1184, 64, 1088
_KEY, _NONCE, _TAG = 32, 12, 16
_MAX_CONTEXT = 4096
_FIXED = len(SHARE_MAGIC) + 2 * KEY_ID_BYTES + 2  # before the context
PUBLIC_FILE, PRIVATE_FILE = "recipient.pub", "recipient.key"


@dataclass(frozen=True)
class RecipientPublicKey:
    """The part a recipient publishes: an X25519 key and an ML-KEM-768 encapsulation key."""

    x25519: X25519PublicKey
    mlkem: MLKEM768PublicKey

    @property
    def raw(self) -> bytes:
        return self.x25519.public_bytes_raw() + self.mlkem.public_bytes_raw()

    @property
    def key_id(self) -> str:
        """Hex of the first 16 bytes of SHA-256 over :attr:`raw`."""
        return hashlib.sha256(self.raw).digest()[:KEY_ID_BYTES].hex()

    def to_bytes(self) -> bytes:
        return PUBLIC_MAGIC + self.raw

    @classmethod
    def from_bytes(cls, data: bytes, *, origin: str = "the data") -> RecipientPublicKey:
        if len(data) != len(PUBLIC_MAGIC) + _X25519 + _EK or not data.startswith(PUBLIC_MAGIC):
            raise InputError(f"{origin} is not a veil recipient public key (expected "
                             f"{PUBLIC_MAGIC.decode()}, {len(PUBLIC_MAGIC) + _X25519 + _EK} "
                             "bytes; make one with `veil keys recipient new`)")
        body = data[len(PUBLIC_MAGIC):]
        try:
            return cls(X25519PublicKey.from_public_bytes(body[:_X25519]),
                       MLKEM768PublicKey.from_public_bytes(body[_X25519:]))
        except ValueError:
            raise InputError(f"{origin} holds an invalid ML-KEM-768 or X25519 key") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RecipientPublicKey:
        return cls.from_bytes(_read(Path(path), "recipient public key"), origin=str(path))


@dataclass(frozen=True)
class RecipientKey:
    """A recipient's private key: opens shares made for its :attr:`public` key."""

    x25519: X25519PrivateKey = field(repr=False)
    mlkem: MLKEM768PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> RecipientKey:
        return cls(X25519PrivateKey.generate(), MLKEM768PrivateKey.generate())

    @property
    def public(self) -> RecipientPublicKey:
        return RecipientPublicKey(self.x25519.public_key(), self.mlkem.public_key())

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def to_bytes(self) -> bytes:
        return PRIVATE_MAGIC + self.x25519.private_bytes_raw() + self.mlkem.private_bytes_raw()

    @classmethod
    def from_bytes(cls, data: bytes, *, origin: str = "the data") -> RecipientKey:
        if len(data) != len(PRIVATE_MAGIC) + _X25519 + _SEED or not data.startswith(
                PRIVATE_MAGIC):
            raise InputError(f"{origin} is not a veil recipient private key (expected "
                             f"{PRIVATE_MAGIC.decode()}, {len(PRIVATE_MAGIC) + _X25519 + _SEED} "
                             "bytes)")
        body = data[len(PRIVATE_MAGIC):]
        return cls(X25519PrivateKey.from_private_bytes(body[:_X25519]),
                   MLKEM768PrivateKey.from_seed_bytes(body[_X25519:]))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RecipientKey:
        return cls.from_bytes(_read(Path(path), "recipient private key"), origin=str(path))


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} file {path} does not exist") from None
    except OSError as exc:
        raise InputError(f"{what} file {path} cannot be read: {exc.strerror}") from None


def new_recipient(directory: str | os.PathLike[str]) -> tuple[Path, Path, RecipientKey]:
    """Write a fresh ``recipient.pub`` and ``recipient.key`` (0600) into ``directory`` (made
    0700 if missing, its parent must exist); an existing key file is never overwritten."""
    folder = Path(directory)
    public, private = folder / PUBLIC_FILE, folder / PRIVATE_FILE
    for path in (public, private):
        if path.exists():
            raise InputError(f"{path} already exists; refusing to overwrite a recipient key")
    if not folder.parent.is_dir():
        raise InputError(f"folder {folder.parent} does not exist; create it first")
    folder.mkdir(mode=0o700, exist_ok=True)
    key = RecipientKey.generate()
    atomic_write(private, key.to_bytes(), mode=0o600)
    atomic_write(public, key.public.to_bytes(), mode=0o644)
    return public, private, key


@dataclass(frozen=True)
class Unwrapped:
    """An opened share: its context, the key, and the ids its header names (hex)."""

    context: bytes
    key: bytes = field(repr=False)
    sender: str
    recipient: str


def _derive(ss_m: bytes, ss_x: bytes, ct_m: bytes, eph: bytes, recipient_x: bytes,
            recipient_id: bytes, context: bytes) -> tuple[bytes, bytes]:
    """The wrapping key and nonce (see the module docstring for why these inputs)."""
    okm = HKDF(hashes.SHA256(), _KEY + _NONCE, salt=None, info=_LABEL + context).derive(
        ss_m + ss_x + ct_m + eph + recipient_x + recipient_id)
    return okm[:_KEY], okm[_KEY:]


def wrap(key: bytes, recipient: RecipientPublicKey, context: bytes, *, sender: bytes) -> bytes:
    """Wrap the 32-byte ``key`` for ``recipient``, bound to ``context`` (at most 4096 bytes)
    and naming ``sender`` (a 16-byte id of the sending workspace)."""
    if len(key) != _KEY:
        raise InputError(f"only a 256-bit key can be shared; got {len(key)} bytes")
    if len(sender) != KEY_ID_BYTES:
        raise InputError(f"a sender id is {KEY_ID_BYTES} bytes; got {len(sender)}")
    if len(context) > _MAX_CONTEXT:
        raise InputError(f"a share context is at most {_MAX_CONTEXT} bytes; got {len(context)}")
    recipient_id = bytes.fromhex(recipient.key_id)
    ephemeral = X25519PrivateKey.generate()
    eph = ephemeral.public_key().public_bytes_raw()
    ss_x = ephemeral.exchange(recipient.x25519)
    ss_m, ct_m = recipient.mlkem.encapsulate()
    header = (SHARE_MAGIC + recipient_id + sender + len(context).to_bytes(2, "big") + context
              + eph + ct_m)
    wrapping, nonce = _derive(ss_m, ss_x, ct_m, eph, recipient.x25519.public_bytes_raw(),
                              recipient_id, context)
    return header + AESGCM(wrapping).encrypt(nonce, key, header)


def unwrap(share: bytes, recipient: RecipientKey) -> Unwrapped:
    """Open a share made for ``recipient``; :class:`~veil.errors.InvalidShare` on anything
    wrong (the same error, whatever the cause)."""
    try:
        return _unwrap(share, recipient)
    except (InvalidTag, ValueError):
        raise InvalidShare from None


def _unwrap(share: bytes, recipient: RecipientKey) -> Unwrapped:
    if len(share) < _FIXED or not share.startswith(SHARE_MAGIC):
        raise ValueError
    at = len(SHARE_MAGIC)
    recipient_id, sender = share[at:at + KEY_ID_BYTES], share[at + KEY_ID_BYTES:_FIXED - 2]
    size = int.from_bytes(share[_FIXED - 2:_FIXED], "big")
    end = _FIXED + size + _X25519 + _CT
    public = recipient.public
    if (size > _MAX_CONTEXT or len(share) != end + _KEY + _TAG
            or recipient_id != bytes.fromhex(public.key_id)):
        raise ValueError
    context = share[_FIXED:_FIXED + size]
    eph, ct_m = share[_FIXED + size:end - _CT], share[end - _CT:end]
    ss_x = recipient.x25519.exchange(X25519PublicKey.from_public_bytes(eph))
    ss_m = recipient.mlkem.decapsulate(ct_m)
    wrapping, nonce = _derive(ss_m, ss_x, ct_m, eph, public.x25519.public_bytes_raw(),
                              recipient_id, context)
    key = AESGCM(wrapping).decrypt(nonce, share[end:], share[:end])
    return Unwrapped(context, key, sender.hex(), recipient_id.hex())
