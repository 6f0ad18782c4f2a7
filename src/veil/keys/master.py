"""Where the master key comes from: a passphrase (Argon2id), a key file, or ``VEIL_MASTER_KEY``.

The master key is a key-encryption key only: it wraps data keys and the ledger signing key and
is never written anywhere. A passphrase is stretched with Argon2id (RFC 9106); its salt and cost
parameters live in the catalog beside the wrapped keys so the same passphrase reopens the ring.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw

from veil._atomic import atomic_write
from veil.errors import InputError, MasterKeyUnavailableError

KEY_SIZE = 32
ENV_MASTER_KEY = "VEIL_MASTER_KEY"
ENV_PASSPHRASE = "VEIL_PASSPHRASE"  # noqa: S105 - a variable name, not a secret


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters; defaults follow RFC 9106's second recommended option (64 MiB)."""

    salt: str  # hex
    time_cost: int = 3
    memory_cost: int = 64 * 1024  # KiB
    parallelism: int = 4

    @classmethod
    def fresh(cls) -> Argon2Params:
        return cls(salt=secrets.token_hex(16))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class MasterKey:
    """A 256-bit key-encryption key and how it was obtained (``kdf`` is None for raw keys)."""

    key: bytes
    kdf: Argon2Params | None = None

    def __post_init__(self) -> None:
        if len(self.key) != KEY_SIZE:
            msg = f"a master key must be {KEY_SIZE} bytes, got {len(self.key)}"
            raise InputError(msg)

    def __repr__(self) -> str:  # never print key bytes
        return f"MasterKey(kdf={'argon2id' if self.kdf else 'raw'})"

    @classmethod
    def from_passphrase(cls, passphrase: str, params: Argon2Params) -> MasterKey:
        if not passphrase:
            raise InputError("the passphrase is empty; give a non-empty passphrase")
        key = hash_secret_raw(
            passphrase.encode("utf-8"),
            bytes.fromhex(params.salt),
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            hash_len=KEY_SIZE,
            type=Type.ID,
        )
        return cls(key, params)

    @classmethod
    def from_encoded(cls, text: str, *, origin: str) -> MasterKey:
        """Decode a base64 key as found in a key file or the environment."""
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            msg = f"{origin} does not hold a base64-encoded key; make one with `veil keys generate`"
            raise InputError(msg) from None
        if len(key) != KEY_SIZE:
            msg = f"{origin} holds {len(key)} bytes; a master key is {KEY_SIZE} bytes"
            raise InputError(msg)
        return cls(key)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MasterKey:
        path = Path(path)
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            msg = f"key file {path} does not exist"
            raise MasterKeyUnavailableError(msg) from None
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"key file {path} cannot be read: {exc}"
            raise MasterKeyUnavailableError(msg) from None
        return cls.from_encoded(text, origin=f"key file {path}")


def generate_key_file(path: str | os.PathLike[str]) -> Path:
    """Write a fresh random master key (base64, mode 0600); refuse to overwrite an existing one.

    A missing folder is refused, not created: a mistyped path would otherwise leave the key
    that opens a workspace in a folder nobody meant to make, with whatever access it gets."""
    path = Path(path)
    if path.exists():
        msg = f"{path} already exists; refusing to overwrite a key file"
        raise InputError(msg)
    if not path.parent.is_dir():
        msg = (f"folder {path.parent} does not exist; create it first (readable only by you: "
               f"mkdir -m 700 {path.parent}) or choose another path")
        raise InputError(msg)
    try:
        atomic_write(path, base64.b64encode(secrets.token_bytes(KEY_SIZE)) + b"\n", mode=0o600)
    except OSError as exc:
        msg = f"cannot write key file {path}: {exc.strerror}"
        raise InputError(msg) from None
    return path


@dataclass(frozen=True)
class KeySource:
    """What the caller offered to unlock a workspace; resolved against its stored KDF params."""

    passphrase: str | None = None
    key_file: Path | None = None
    master_key: MasterKey | None = None

    @classmethod
    def from_env(cls, *, passphrase: str | None = None, key_file: str | None = None) -> KeySource:
        """Explicit arguments first, then ``VEIL_MASTER_KEY``, then ``VEIL_PASSPHRASE``."""
        if passphrase is not None or key_file is not None:
            return cls(passphrase=passphrase, key_file=Path(key_file) if key_file else None)
        if env_key := os.environ.get(ENV_MASTER_KEY):
            return cls(master_key=MasterKey.from_encoded(env_key, origin=ENV_MASTER_KEY))
        return cls(passphrase=os.environ.get(ENV_PASSPHRASE))

    def resolve(self, stored: Argon2Params | None) -> MasterKey:
        """Derive the master key; ``stored`` is None when creating a new ring."""
        given = [x is not None for x in (self.passphrase, self.key_file, self.master_key)]
        if sum(given) > 1:
            raise InputError("give one of passphrase, key file or master key, not several")
        if self.master_key is not None:
            return self.master_key
        if self.key_file is not None:
            return MasterKey.from_file(self.key_file)
        if self.passphrase is not None:
            return MasterKey.from_passphrase(self.passphrase, stored or Argon2Params.fresh())
        msg = (
            "no master key: pass a passphrase or key file, or set "
            f"{ENV_MASTER_KEY} or {ENV_PASSPHRASE}"
        )
        raise MasterKeyUnavailableError(msg)
