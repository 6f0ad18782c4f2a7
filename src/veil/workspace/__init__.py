"""The workspace: catalog, vault, key ring and ledger in one directory, behind one API."""

from veil.workspace.catalog import DatasetVersion
from veil.workspace.fingerprint import fingerprint
from veil.workspace.workspace import DEFAULT_ACTOR, DEFAULT_PURPOSE, Workspace

__all__ = ["DEFAULT_ACTOR", "DEFAULT_PURPOSE", "DatasetVersion", "Workspace", "fingerprint"]
