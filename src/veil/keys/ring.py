"""The key ring: per-version data keys and the ledger signing keys, wrapped under the master key.

Envelope scheme (composed from ``cryptography``'s AES-256-GCM, no new primitive):
``wrapped = nonce(12) || AESGCM(master).encrypt(nonce, key, aad="veil-key-v1|" + key_id)``.
The key id in the associated data stops a wrapped key from being moved to another id. A check
value (a constant sealed the same way) tells a wrong master key apart from a corrupt ring.
Rotation re-wraps every live key under a new master key in the caller's transaction; data files
are untouched. Destroying a key deletes its wrapped bytes with ``secure_delete`` on, so the data
it protected is gone for good (crypto-shredding).

The ledger signs heads with two keys (:mod:`veil.ledger.signing`): Ed25519 (``ledger-signing``)
and ML-DSA-65 (``ledger-signing-ml-dsa``, its 32-byte FIPS 204 seed). A workspace made before
the hybrid heads has only the first; :meth:`KeyRing.add_ml_dsa_key` adds the second when the
ledger switches.

The pseudonym (HMAC) key has epochs: epoch 1 is ``pseudonym``, later ones ``pseudonym-<n>``.
:meth:`KeyRing.add_pseudonym_epoch` starts a new one for new tokens; earlier epochs stay in the
ring, wrapped, so new data can still be tokenized to link with an old release.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from veil.errors import (
    InputError,
    IntegrityError,
    KeyDestroyedError,
    NotFoundError,
    WrongMasterKeyError,
)
from veil.keys.master import Argon2Params, MasterKey

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    key_id    TEXT PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind IN ('data', 'signing', 'pseudonym')),
    wrapped   BLOB,
    created   TEXT NOT NULL,
    destroyed TEXT
);
"""
_NONCE = 12
_CHECK_ID = "master-check"
_CHECK_PLAINTEXT = b"veil master key check v1"
SIGNING_KEY_ID = "ledger-signing"
ML_DSA_KEY_ID = "ledger-signing-ml-dsa"
TLS_CA_KEY_ID = "federation-ca"  # kind 'signing': it signs certificates, never ledger heads
PSEUDONYM_KEY_ID = "pseudonym"


def pseudonym_key_id(epoch: int) -> str:
    """The ring's key id for pseudonym key ``epoch`` (1 is the key every workspace starts with)."""
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        msg = f"a pseudonym key epoch is a whole number >= 1; got {epoch!r}"
        raise InputError(msg)
    return PSEUDONYM_KEY_ID if epoch == 1 else f"{PSEUDONYM_KEY_ID}-{epoch}"


def _pseudonym_epoch(key_id: str) -> int:
    return 1 if key_id == PSEUDONYM_KEY_ID else int(key_id.rsplit("-", 1)[1])


def _wrap(master: MasterKey, key_id: str, key: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(master.key).encrypt(nonce, key, f"veil-key-v1|{key_id}".encode())


def _unwrap(master: MasterKey, key_id: str, wrapped: bytes) -> bytes:
    aad = f"veil-key-v1|{key_id}".encode()
    return AESGCM(master.key).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], aad)


class KeyRing:
    """Wrapped keys in the catalog; every method runs inside the caller's SQLite transaction."""

    def __init__(self, conn: sqlite3.Connection, master: MasterKey) -> None:
        self._conn = conn
        self._master = master
        self._ml_dsa: tuple[bytes, MLDSA65PrivateKey] | None = None

    # -- set-up -------------------------------------------------------------------------------
    @classmethod
    def initialise(cls, conn: sqlite3.Connection, master: MasterKey, now: str) -> KeyRing:
        """Fill a new catalog's ring (tables from ``SCHEMA``): check value, KDF params, the
        ledger signing key and the pseudonym (HMAC) key."""
        ring = cls(conn, master)
        ring._store_master_meta(master)
        signing = Ed25519PrivateKey.generate().private_bytes_raw()
        ring._insert(SIGNING_KEY_ID, "signing", signing, now)
        ring.add_ml_dsa_key(now)
        ring._insert(PSEUDONYM_KEY_ID, "pseudonym", os.urandom(32), now)
        return ring

    @classmethod
    def unlock(
        cls, conn: sqlite3.Connection, resolve: Callable[[Argon2Params | None], MasterKey]
    ) -> KeyRing:
        """Derive the master key with the stored KDF params and prove it with the check value."""
        params = cls.stored_kdf(conn)
        master = resolve(params)
        check = conn.execute("SELECT value FROM meta WHERE key = ?", (_CHECK_ID,)).fetchone()
        if check is None:
            raise IntegrityError("the catalog has no master-key check value")
        try:
            ok = _unwrap(master, _CHECK_ID, check[0]) == _CHECK_PLAINTEXT
        except InvalidTag:
            ok = False
        if not ok:
            msg = "the passphrase or key does not open this workspace"
            raise WrongMasterKeyError(msg)
        return cls(conn, master)

    @staticmethod
    def stored_kdf(conn: sqlite3.Connection) -> Argon2Params | None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'kdf'").fetchone()
        if row is None or row[0] in (None, b"null", "null"):
            return None
        return Argon2Params(**json.loads(row[0]))

    def _store_master_meta(self, master: MasterKey) -> None:
        kdf = json.dumps(master.kdf.to_dict() if master.kdf else None)
        self._conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('kdf', ?)", (kdf,))
        self._conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            (_CHECK_ID, _wrap(master, _CHECK_ID, _CHECK_PLAINTEXT)),
        )

    # -- data keys ----------------------------------------------------------------------------
    def _insert(self, key_id: str, kind: str, key: bytes, now: str) -> None:
        self._conn.execute(
            "INSERT INTO keys(key_id, kind, wrapped, created) VALUES (?, ?, ?, ?)",
            (key_id, kind, _wrap(self._master, key_id, key), now),
        )

    @staticmethod
    def generate_data_key() -> bytes:
        """A fresh AES-256 key, to seal one vault file and then be added (wrapped) to the ring."""
        return AESGCM.generate_key(bit_length=256)

    def add_data_key(self, key_id: str, key: bytes, now: str) -> None:
        self._insert(key_id, "data", key, now)

    @property
    def master(self) -> MasterKey:
        """The unlocked master key (for a process that serves the workspace from many
        threads, each opening it with this key instead of asking for it again)."""
        return self._master

    def data_key(self, key_id: str) -> bytes:
        return self._get(key_id)

    def derive(self, key_id: str, label: str) -> bytes:
        """A 256-bit key for one use of ``key_id``'s data key (HKDF-SHA256, ``label`` as info):
        what it keys dies with the data key, so crypto-shredding a version also makes its
        derived MACs unlinkable."""
        return HKDF(hashes.SHA256(), 32, salt=None, info=f"veil-derive-v1|{label}".encode()
                    ).derive(self._get(key_id))

    def _get(self, key_id: str) -> bytes:
        row = self._conn.execute(
            "SELECT wrapped, destroyed FROM keys WHERE key_id = ?", (key_id,)
        ).fetchone()
        if row is None:
            msg = f"key {key_id} is not in the key ring"
            raise NotFoundError(msg)
        if row[1] is not None:
            msg = f"key {key_id} was destroyed on {row[1]}; the data it protected is unreadable"
            raise KeyDestroyedError(msg)
        try:
            return _unwrap(self._master, key_id, row[0])
        except InvalidTag:
            msg = f"wrapped key {key_id} fails authentication"
            raise IntegrityError(msg) from None

    def destroy(self, key_id: str, now: str) -> None:
        """Crypto-shred: forget the wrapped key bytes; SQLite overwrites the freed page."""
        self._get(key_id)  # raises if unknown or already destroyed
        self._conn.execute("PRAGMA secure_delete = ON")
        self._conn.execute(
            "UPDATE keys SET wrapped = NULL, destroyed = ? WHERE key_id = ?", (now, key_id)
        )

    # -- signing keys -------------------------------------------------------------------------
    def signing_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self._get(SIGNING_KEY_ID))

    def public_key_bytes(self) -> bytes:
        return self.signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def ml_dsa_key(self) -> MLDSA65PrivateKey | None:
        """The ledger's ML-DSA-65 key, or None in a workspace that has not switched yet.

        Expanding the seed costs more than an Ed25519 signature, so the key is kept while its
        wrapped bytes are unchanged (a rolled-back switch or a rotation shows as a change)."""
        row = self._conn.execute("SELECT wrapped FROM keys WHERE key_id = ?",
                                 (ML_DSA_KEY_ID,)).fetchone()
        if row is None:
            return None
        if self._ml_dsa is None or self._ml_dsa[0] != row[0]:
            self._ml_dsa = (row[0], MLDSA65PrivateKey.from_seed_bytes(self._get(ML_DSA_KEY_ID)))
        return self._ml_dsa[1]

    def add_ml_dsa_key(self, now: str) -> MLDSA65PrivateKey:
        """Make and wrap the ledger's ML-DSA-65 key (once: a second call fails on the key id)."""
        key = MLDSA65PrivateKey.generate()
        self._insert(ML_DSA_KEY_ID, "signing", key.private_bytes_raw(), now)
        return key

    def tls_ca_key(self, now: str) -> tuple[bytes, str]:
        """The federation CA's private key (PKCS#8 DER) and when it was made; made (P-256) and
        wrapped on first use. It is rotated with the ring and never written out."""
        row = self._conn.execute("SELECT created FROM keys WHERE key_id = ?",
                                 (TLS_CA_KEY_ID,)).fetchone()
        if row is None:
            from veil.keys.tls import key_to_der, new_key

            self._insert(TLS_CA_KEY_ID, "signing", key_to_der(new_key()), now)
            return self._get(TLS_CA_KEY_ID), now
        return self._get(TLS_CA_KEY_ID), row[0]

    def pseudonym_key(self, epoch: int | None = None) -> bytes:
        """The HMAC key for stable pseudonyms of ``epoch`` (default: the current one). Master-key
        rotation re-wraps it but never changes it; :meth:`add_pseudonym_epoch` adds a new one."""
        return self._get(pseudonym_key_id(self.pseudonym_epoch() if epoch is None else epoch))

    def pseudonym_epoch(self) -> int:
        """The current (newest) pseudonym key epoch."""
        rows = self._conn.execute("SELECT key_id FROM keys WHERE kind = 'pseudonym'").fetchall()
        return max(_pseudonym_epoch(key_id) for (key_id,) in rows)

    def add_pseudonym_epoch(self, now: str) -> int:
        """Start a new pseudonym key epoch with a fresh random key; returns its number."""
        epoch = self.pseudonym_epoch() + 1
        self._insert(pseudonym_key_id(epoch), "pseudonym", os.urandom(32), now)
        return epoch

    # -- secrets kept outside the ring ----------------------------------------------------------
    def wrap_secret(self, label: str, secret: bytes) -> bytes:
        """Seal a secret another table stores (a TOTP seed) under the master key; ``label``
        (e.g. ``totp:alice``) is bound in the associated data, so sealed bytes cannot be moved
        to another row. Its owner re-wraps it on rotation (``Identities.rewrap``)."""
        return _wrap(self._master, f"secret|{label}", secret)

    def unwrap_secret(self, label: str, wrapped: bytes) -> bytes:
        try:
            return _unwrap(self._master, f"secret|{label}", wrapped)
        except InvalidTag:
            msg = f"wrapped secret {label} fails authentication"
            raise IntegrityError(msg) from None

    # -- rotation -----------------------------------------------------------------------------
    def rotate(self, new_master: MasterKey) -> int:
        """Re-wrap every live key under ``new_master``; returns how many keys were re-wrapped."""
        rows = self._conn.execute(
            "SELECT key_id FROM keys WHERE destroyed IS NULL ORDER BY key_id"
        ).fetchall()
        rewrapped = [(_wrap(new_master, kid, self._get(kid)), kid) for (kid,) in rows]
        self._conn.execute("PRAGMA secure_delete = ON")
        self._conn.executemany("UPDATE keys SET wrapped = ? WHERE key_id = ?", rewrapped)
        self._master = new_master
        self._store_master_meta(new_master)
        return len(rewrapped)
