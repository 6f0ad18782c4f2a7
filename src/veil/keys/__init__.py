"""Key management: master key sources, the wrapped key ring, rotation and crypto-shredding."""

from veil.keys.master import (
    ENV_MASTER_KEY,
    ENV_PASSPHRASE,
    Argon2Params,
    KeySource,
    MasterKey,
    generate_key_file,
)
from veil.keys.ring import KeyRing

__all__ = [
    "ENV_MASTER_KEY",
    "ENV_PASSPHRASE",
    "Argon2Params",
    "KeyRing",
    "KeySource",
    "MasterKey",
    "generate_key_file",
]
