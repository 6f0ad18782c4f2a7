"""veil: learn from sensitive personal data without exposing the people in it."""

__version__ = "0.1.0"

from veil.errors import VeilError
from veil.workspace import DatasetVersion, Workspace

__all__ = ["DatasetVersion", "VeilError", "Workspace", "__version__"]
