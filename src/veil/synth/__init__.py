"""Differentially private synthetic tables (see ``docs/synth.md``).

``discretize`` codes a table from public bins and categories; ``mst`` and ``aim`` fit MST and
AIM under (epsilon, delta)-DP with every bit of noise from OpenDP (``measure``); ``baseline``
is the non-private floor; ``evaluate`` and ``report`` say what a synthetic table kept of the
real one and how close it came to the people in it; ``service`` makes synthetic releases inside
a workspace (``Session.synthesize``, ``Session.evaluate_synthetic``).
"""

from veil.synth._pgm import PGMModel
from veil.synth.aim import fit_aim
from veil.synth.baseline import independent
from veil.synth.discretize import Binned, Categorical, Coded, decode, encode
from veil.synth.evaluate import mean_tvd, tvd, workload
from veil.synth.measure import Accountant, Spend, rho_for
from veil.synth.mst import fit_mst

__all__ = ["Accountant", "Binned", "Categorical", "Coded", "PGMModel", "Spend", "decode",
           "encode", "fit_aim", "fit_mst", "independent", "mean_tvd", "rho_for", "tvd", "workload"]
