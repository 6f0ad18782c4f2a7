"""The workspace: catalog, vault, key ring and ledger in one directory, behind one door.

``Workspace`` loads on first use, so the capability modules the workspace is built from (and
that the access guard imports) can import ``veil.workspace.*`` without a cycle."""

from typing import Any

from veil.workspace.catalog import DatasetVersion
from veil.workspace.fingerprint import fingerprint

__all__ = ["DatasetVersion", "Workspace", "fingerprint"]


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from veil.workspace.workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'veil.workspace' has no attribute {name!r}")
