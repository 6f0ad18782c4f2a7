"""Attack veil's own outputs and measure the leakage against the guarantee they claim.

* :mod:`~veil.attacks.membership`: loss threshold, LiRA offline/online and RMIA, with
  reference models trained many at once (:mod:`~veil.attacks.references`) and ROC figures
  with bootstrap intervals (:mod:`~veil.attacks.metrics`);
* :mod:`~veil.attacks.attribute`: attribute inference and model inversion;
* :mod:`~veil.attacks.linkage`: re-identification of releases by joining a public register;
* :mod:`~veil.attacks.reconstruction`: Dinur-Nissim reconstruction from subset counts;
* :mod:`~veil.attacks.audit`: empirical epsilon lower bounds of veil's DP mechanisms.

``Session.attack`` runs them against registered artifacts with the workspace's ground truth
and records each result with the artifact and in the ledger (:mod:`~veil.attacks.service`).
The submodules load on first use: most need torch or scipy, and opening a workspace must not
wait for them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["attribute", "audit", "linkage", "membership", "metrics", "reconstruction",
           "references"]


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"veil.attacks.{name}")
    raise AttributeError(f"module 'veil.attacks' has no attribute {name!r}")
