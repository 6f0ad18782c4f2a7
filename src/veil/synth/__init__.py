"""Differentially private synthetic tables (groundwork: pure algorithms, no workspace wiring).

``discretize`` codes a table from public bins and categories; ``mst`` fits MST under
(epsilon, delta)-DP with every bit of noise from OpenDP (``measure``); ``baseline`` and
``evaluate`` say whether the result kept more structure than independent columns would.
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
