"""Choosing MPyC number types from public facts: the row bound, the value bounds, the resolution.

MPyC's ``SecFxp(l, f)`` keeps ``f`` fractional bits in an ``l``-bit signed number and *silently*
wraps or rounds when a result does not fit: ``SecFxp(64, 16)`` turns the mean of 100,000 values
(true mean 49.96) into 76.2, because ``1/100000 < 2**-16`` rounds to ``2**-16``. veil therefore
never lets a caller pick ``l`` and ``f`` by hand (unless they opt in by name); it derives them:

* ``f = ceil(log2(max_rows)) + resolution_bits`` when the program divides by a secret count
  (mean, variance), so ``1/n`` keeps ``resolution_bits`` significant bits for every ``n`` up to
  ``max_rows``; otherwise ``f = resolution_bits``. Inputs are quantised to ``2**-f``.
* ``integer_bits = ceil(log2(max_rows * B**degree + 1)) + 1`` with ``B = max(|lo|, |hi|, 1)`` and
  ``degree`` 2 for variance (sums of squares), ``d`` for a ``d``-term dot product: no sum can
  overflow, whatever the (in-bounds) data.
* ``l = max(integer_bits + f, 2 * f)`` when dividing (MPyC's reciprocal needs ``l`` of about
  ``2f``), else ``integer_bits + f``.
* If ``l > MAX_BIT_LENGTH`` no setting fits: veil refuses (narrow the bounds or the row bound).

The error of a mean or variance is then at most about ``2**-(resolution_bits - 2)`` relative to
the result plus ``2**-f`` absolute; tests check it against plaintext.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from veil.errors import InputError

MAX_BIT_LENGTH = 512
DEFAULT_RESOLUTION_BITS = 24

#: statistic -> (degree of the largest sum, divides by a secret count)
_SHAPE: dict[str, tuple[int, bool]] = {
    "count": (0, False),
    "sum": (1, False),
    "mean": (1, True),
    "mean_elementwise": (1, True),
    "variance": (2, True),
    "max": (1, False),
    "argmax": (1, False),
    "psi_cardinality": (0, False),
    "logreg": (2, False),
}


@dataclass(frozen=True)
class Precision:
    """An MPyC fixed-point setting: ``bit_length`` bits in all, ``frac_bits`` of them fractional."""

    bit_length: int
    frac_bits: int

    @property
    def integer_bits(self) -> int:
        return self.bit_length - self.frac_bits


def choose_precision(statistic: str, *, max_rows: int, bounds: tuple[float, float],
                     resolution_bits: int = DEFAULT_RESOLUTION_BITS,
                     terms: int = 1) -> Precision:
    """The smallest setting under the module's rule; ``terms`` is the dot-product length (logreg).

    Raises :class:`~veil.errors.InputError` when no setting of at most ``MAX_BIT_LENGTH`` fits.
    """
    if statistic not in _SHAPE:
        msg = f"unknown statistic {statistic!r}; expected one of {sorted(_SHAPE)}"
        raise InputError(msg)
    if not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 1:
        msg = f"max_rows must be a positive int, got {max_rows!r}"
        raise InputError(msg)
    if not 1 <= resolution_bits <= 128:
        msg = f"resolution_bits must be in [1, 128], got {resolution_bits!r}"
        raise InputError(msg)
    lo, hi = check_bounds(bounds)
    degree, divides = _SHAPE[statistic]
    big = max(abs(lo), abs(hi), 1.0)
    if statistic == "logreg":
        # |x . w + b| <= (terms + 1) * B**2 for features and coefficients within the bounds
        magnitude = (terms + 1) * big**2
    else:
        magnitude = max_rows * big**degree if degree else float(max_rows)
    integer_bits = math.ceil(math.log2(magnitude + 1)) + 1
    frac_bits = resolution_bits + (math.ceil(math.log2(max_rows)) if divides else 0)
    bit_length = integer_bits + frac_bits
    if divides:
        bit_length = max(bit_length, 2 * frac_bits)
    if bit_length > MAX_BIT_LENGTH:
        msg = (f"no fixed-point setting fits {statistic} over {max_rows} rows with bounds "
               f"{bounds} at {resolution_bits} bits of resolution: it needs {bit_length} bits, "
               f"more than {MAX_BIT_LENGTH}; narrow the bounds or lower max_rows")
        raise InputError(msg)
    return Precision(bit_length, frac_bits)


def check_bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    """Declared public value bounds ``(lo, hi)``: finite numbers with ``lo <= hi``."""
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        msg = f"bounds must be a pair of numbers (lo, hi), got {bounds!r}"
        raise InputError(msg) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        msg = f"bounds must be finite with lo <= hi, got {bounds!r}"
        raise InputError(msg)
    return lo, hi
