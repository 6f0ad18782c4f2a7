"""Joint statistics across organisations with MPyC: each party a process, only results revealed.

Recipes: :func:`joint` (count, sum, mean, variance, max, argmax, PSI cardinality, logistic
regression inference), with the fixed-point setting chosen by :func:`choose_precision` so that
no sum overflows and ``1/n`` is representable. Semi-honest, honest-majority model: see
:mod:`veil.mpc.launch`.
"""

from veil.mpc.launch import STATISTICS, Result, joint
from veil.mpc.precision import MAX_BIT_LENGTH, Precision, choose_precision

__all__ = ["MAX_BIT_LENGTH", "STATISTICS", "Precision", "Result", "choose_precision", "joint"]
