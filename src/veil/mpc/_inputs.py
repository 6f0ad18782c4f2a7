"""Checking one party's private input before it is secret-shared.

A value outside the declared bounds would silently break the precision rule (sums could wrap),
and NaN or infinity has no fixed-point form, so both are refused here, locally, before any
share leaves the party. Each message names the party's own problem only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from veil.errors import InputError, MalformedSourceError


def load(path: str | Path) -> np.ndarray:
    """Read a ``.npy`` file without unpickling (object arrays are refused)."""
    try:
        return np.load(Path(path), allow_pickle=False)
    except FileNotFoundError:
        msg = f"input file {str(path)!r} does not exist"
        raise InputError(msg) from None
    except (ValueError, OSError, EOFError) as exc:
        msg = f"input file {str(path)!r} is not a readable .npy array without pickles: {exc}"
        raise MalformedSourceError(msg) from None


def check(values: object, statistic: str, *, party: int, bounds: tuple[float, float],
          max_rows: int) -> np.ndarray:
    """Return ``values`` as a checked array for ``statistic`` or raise :class:`InputError`.

    Numeric statistics need finite int/float values within ``bounds`` (bools are refused);
    ``psi_cardinality`` needs a 1-D array of ints or strings; ``logreg`` needs the model
    (``d`` weights then the bias) from party 0 and an ``(n, d)`` feature matrix from the others.
    """
    who = f"party {party}"
    if not isinstance(values, np.ndarray):
        msg = f"{who}: input must be a numpy array, got {type(values).__name__}"
        raise InputError(msg)
    if values.size == 0:
        msg = f"{who}: input is empty; every party must contribute at least one value"
        raise InputError(msg)
    if statistic == "psi_cardinality":
        if values.ndim != 1 or values.dtype.kind not in "iuU":
            msg = (f"{who}: psi_cardinality needs a 1-D array of ints or strings, got "
                   f"{values.ndim}-D {values.dtype}")
            raise InputError(msg)
    else:
        _check_numeric(values, statistic, party, bounds)
    rows = values.shape[0]
    if rows > max_rows:
        msg = f"{who}: {rows} rows exceed the declared max_rows={max_rows}"
        raise InputError(msg)
    return values


def _check_numeric(values: np.ndarray, statistic: str, party: int,
                   bounds: tuple[float, float]) -> None:
    who = f"party {party}"
    if values.dtype.kind not in "iuf":
        msg = f"{who}: {statistic} needs int or float values, got dtype {values.dtype}"
        raise InputError(msg)
    want = 2 if statistic == "logreg" and party != 0 else 1
    if values.ndim != want:
        msg = f"{who}: {statistic} needs a {want}-D array, got shape {values.shape}"
        raise InputError(msg)
    if statistic == "argmax" and values.size != 1:
        msg = f"{who}: argmax compares one number per party, got {values.size}"
        raise InputError(msg)
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        msg = f"{who}: input holds NaN or infinite values; remove or impute them first"
        raise InputError(msg)
    lo, hi = bounds
    if (values < lo).any() or (values > hi).any():
        outside = int(((values < lo) | (values > hi)).sum())  # a count; never the values
        msg = (f"{who}: {outside} value(s) fall outside the declared bounds {bounds}; clip "
               f"them or declare wider bounds")
        raise InputError(msg)


def id_hashes(ids: np.ndarray) -> np.ndarray:
    """Distinct 62-bit hashes of the string form of each id (``5`` and ``"5"`` match).

    A hash is needed only to fit ids into a secure integer; secrecy comes from secret sharing,
    so it is unkeyed. Collisions among ``N`` ids happen with probability about ``N**2 / 2**63``.
    """
    out = {int.from_bytes(hashlib.blake2b(str(v).encode(), digest_size=8).digest(), "big") >> 2
           for v in ids.tolist()}
    return np.array(sorted(out), dtype=np.int64)
