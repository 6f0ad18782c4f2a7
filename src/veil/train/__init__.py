"""Models trained with differential privacy (DP-SGD), budgeted and registered with their guarantee.

``Workspace.train`` trains from a stored dataset, spending from its privacy budget, and stores
the model encrypted with a model card; ``Workspace.model`` loads it. ``DPClassifier`` and
``sweep`` serve tabular users outside a workspace. torch and Opacus load on first use.
"""

from veil.train.features import Encoding, encoding_for

__all__ = ["Encoding", "encoding_for"]
