"""Encrypted, atomically written storage for dataset versions."""

from veil.vault.store import Vault

__all__ = ["Vault"]
