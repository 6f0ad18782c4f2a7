"""veil: learn from sensitive personal data without exposing the people in it."""

from typing import Any

__version__ = "0.1.0"

from veil.errors import VeilError

__all__ = ["DatasetVersion", "VeilError", "Workspace", "__version__"]


def __getattr__(name: str) -> Any:
    """``Workspace`` and ``DatasetVersion`` load on first use: a party of a multi-party
    computation or a Flower ClientApp that imports ``veil.mpc`` or ``veil.errors`` need not
    wait for the workspace stack."""
    if name in ("Workspace", "DatasetVersion"):
        from veil import workspace

        return getattr(workspace, name)
    raise AttributeError(f"module 'veil' has no attribute {name!r}")
