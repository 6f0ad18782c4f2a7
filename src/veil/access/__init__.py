"""Access to a workspace: principals and their credentials, the policy, the guard and the
sessions every capability is reached through.

Names load on first use: the workspace's own modules import ``veil.access.scope`` while the
session is still being built on top of them."""

from typing import Any

__all__ = ["AccessDenied", "Identities", "Operation", "Policy", "Rule", "Scope", "Session"]

_HOMES = {"Identities": "veil.access.identity", "Operation": "veil.access.policy",
          "Policy": "veil.access.policy", "Rule": "veil.access.policy",
          "Scope": "veil.access.scope", "Session": "veil.access.session",
          "AccessDenied": "veil.errors"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'veil.access' has no attribute {name!r}")
