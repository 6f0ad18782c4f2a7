"""The MPyC programs each party runs; every one reveals only its documented output.

Each program takes the started runtime ``mpc``, this party's checked input and the chosen
:class:`~veil.mpc.precision.Precision`, and returns this party's output (JSON-ready).

What is revealed besides the output:

* count, sum, mean, variance, max, argmax: nothing. Each party pre-aggregates in plaintext
  (its count, exact fixed-point sum and sum of squares, or its maximum) and secret-shares only
  those, so row counts per party stay secret; the division by the total count is a secure
  division by a *secret* divisor, which is why the precision rule reserves bits for ``1/n``.
* ``mean_elementwise``: every value is secret-shared as a secure array (MPyC ``np_sum``), the
  per-party row counts are public. Kept to compare with MPyC's usual style and its cost.
* psi_cardinality: the size of every party's (de-duplicated) id set, and the cardinality.
* logreg: party 0's model size ``d`` and each hospital's row count; each hospital alone learns
  its own patients' scores (the logit, from which the exact sigmoid is taken in plaintext: it
  is a bijection, so this reveals nothing more than the probability).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

from veil.errors import InputError
from veil.mpc._inputs import id_hashes
from veil.mpc.precision import Precision

Program = Callable[[Any, np.ndarray, Precision], Coroutine[Any, Any, Any]]


def _fixed_point_sums(x: np.ndarray, f: int) -> tuple[int, int]:
    """Exact ``sum(round(x * 2**f))`` and ``sum(round(x * 2**f)**2) >> f`` as Python ints."""
    q = np.round(x.astype(np.float64).ravel() * 2.0**f)  # exact: scaling by 2**f is exact
    qi = [int(v) for v in q.tolist()]
    s1 = sum(qi)
    s2 = sum(v * v for v in qi) >> f
    return s1, s2


async def _shared_totals(mpc: Any, x: np.ndarray, p: Precision) -> tuple[Any, Any, Any]:
    """Secret totals (rows, sum, sum of squares) over all parties as SecFxp numbers."""
    sf = mpc.SecFxp(p.bit_length, p.frac_bits)
    s1, s2 = _fixed_point_sums(x, p.frac_bits)
    # Two inputs, not one list: MPyC gives every element of an input list the ``integral``
    # flag of its first element, and an integral-flagged fraction is silently mis-multiplied.
    rows = mpc.input(sf(len(x)))
    sums = mpc.input([sf(sf.field(s1), integral=False), sf(sf.field(s2), integral=False)])
    return mpc.sum(rows), mpc.sum([part[0] for part in sums]), mpc.sum([part[1] for part in sums])


async def count(mpc: Any, x: np.ndarray, p: Precision) -> int:
    si = mpc.SecInt(p.integer_bits + 1)
    total = mpc.sum(mpc.input(si(len(x))))
    return int(await mpc.output(total))


async def total(mpc: Any, x: np.ndarray, p: Precision) -> float:
    _, s1, _ = await _shared_totals(mpc, x, p)
    return float(await mpc.output(s1))


async def mean(mpc: Any, x: np.ndarray, p: Precision) -> float:
    n, s1, _ = await _shared_totals(mpc, x, p)
    return float(await mpc.output(s1 / n))


async def variance(mpc: Any, x: np.ndarray, p: Precision) -> float:
    """Sample variance (divisor ``n - 1``); every party holds at least one row, so ``n >= 2``."""
    n, s1, s2 = await _shared_totals(mpc, x, p)
    centred = s2 - (s1 / n) * s1
    return max(0.0, float(await mpc.output(centred / (n - 1))))


async def mean_elementwise(mpc: Any, x: np.ndarray, p: Precision) -> float:
    """Mean over secure arrays with public row counts, multiplying by the public ``1/n``."""
    sf = mpc.SecFxp(p.bit_length, p.frac_bits)
    sizes = await _public_sizes(mpc, [len(x)])
    arrays = [mpc.input(_fixed_array(sf, x) if i == mpc.pid
                        else sf.array(None, shape=(rows[0],)), senders=i)
              for i, rows in enumerate(sizes)]
    grand = mpc.sum([mpc.np_sum(a) for a in arrays])
    n = sum(rows[0] for rows in sizes)
    return float(await mpc.output(grand / n))


async def maximum(mpc: Any, x: np.ndarray, p: Precision) -> float:
    sf = mpc.SecFxp(p.bit_length, p.frac_bits)
    shared = mpc.input(sf(float(x.max())))
    return float(await mpc.output(mpc.max(shared)))


async def argmax(mpc: Any, x: np.ndarray, p: Precision) -> int:
    """Index of the party holding the largest number (lowest index on ties); nothing else."""
    sf = mpc.SecFxp(p.bit_length, p.frac_bits)
    shared = mpc.input(sf(float(x.ravel()[0])))
    index, _ = mpc.argmax(shared)
    return int(await mpc.output(index))


async def psi_cardinality(mpc: Any, x: np.ndarray, p: Precision) -> int:
    """|A_0 ∩ ... ∩ A_{m-1}| by a secure sort of all hashed ids: an id held by every party
    shows up as a run of ``m`` equal neighbours, so the count of ``s[j] == s[j+m-1]`` is the
    answer (each set is de-duplicated first, so no run is longer than ``m``)."""
    si = mpc.SecInt(64)
    mine = id_hashes(x)
    sizes = await _public_sizes(mpc, [len(mine)])
    arrays = [mpc.input(si.array(mine) if i == mpc.pid else si.array(None, shape=(rows[0],)),
                        senders=i)
              for i, rows in enumerate(sizes)]
    m = len(mpc.parties)
    s = mpc.np_sort(mpc.np_concatenate(arrays))
    if s.shape[0] < m:
        return 0
    hits = mpc.np_equal(s[: s.shape[0] - m + 1], s[m - 1:])
    return int(await mpc.output(mpc.np_sum(hits)))


async def logreg(mpc: Any, x: np.ndarray, p: Precision) -> list[float] | None:
    """Party 0 secret-shares the model ``(w, b)``; each hospital ``i >= 1`` secret-shares its
    features ``X_i`` and alone receives ``sigmoid(X_i @ w + b)`` for its own rows."""
    sf = mpc.SecFxp(p.bit_length, p.frac_bits)
    mine = [x.shape[0], x.shape[1]] if x.ndim == 2 else [1, x.shape[0]]
    shapes = await _public_sizes(mpc, mine)
    d = shapes[0][1] - 1
    bad = [i for i, (_, cols) in enumerate(shapes[1:], start=1) if cols != d]
    if bad:
        msg = f"parties {bad} hold features whose width differs from the model's d={d}"
        raise InputError(msg)
    model = mpc.input(_fixed_array(sf, x) if mpc.pid == 0
                      else sf.array(None, shape=(d + 1,)), senders=0)
    w, b = model[:d], model[d]
    mine_out = None
    for i, (rows, _) in enumerate(shapes[1:], start=1):
        feats = mpc.input(_fixed_array(sf, x) if mpc.pid == i
                          else sf.array(None, shape=(rows, d)), senders=i)
        logits = await mpc.output(feats @ w + b, receivers=i)
        if mpc.pid == i:
            mine_out = (1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))).tolist()
    return mine_out


def _fixed_array(sf: Any, x: np.ndarray) -> Any:
    """``x`` as a secure fixed-point array that is never flagged integral. MPyC infers the flag
    from the sender's values (all whole numbers: integral) while the receivers cannot know it,
    so an integer-valued model or feature matrix made the parties run different protocols and
    wait for each other forever."""
    return sf.array(x.astype(np.float64), integral=False)


async def _public_sizes(mpc: Any, mine: list[int]) -> list[list[int]]:
    """Every party's (public) sizes, opened to all; these are leaks the callers document."""
    si = mpc.SecInt(64)
    shared = mpc.input([si(v) for v in mine])
    opened = await mpc.output([v for part in shared for v in part])
    k = len(mine)
    return [[int(v) for v in opened[i * k:(i + 1) * k]] for i in range(len(shared))]


PROGRAMS: dict[str, Program] = {
    "count": count,
    "sum": total,
    "mean": mean,
    "variance": variance,
    "mean_elementwise": mean_elementwise,
    "max": maximum,
    "argmax": argmax,
    "psi_cardinality": psi_cardinality,
    "logreg": logreg,
}


FLOOR_SECONDS = 300.0
"""Start-up and connecting, on any machine: interpreters, imports, peers started by hand."""
# (seconds allowed per unit, units for max_rows n and model width d) per statistic, allowing
# about 50 times what a 2-core machine needs when idle; the others do constant work per party.
_WORK: dict[str, tuple[float, Callable[[int, int], int]]] = {
    "psi_cardinality": (1e-3, lambda n, d: n * math.ceil(math.log2(n)) ** 2),  # secure sort
    "logreg": (1e-3, lambda n, d: n * d),  # fixed-point products
    "mean_elementwise": (2e-5, lambda n, d: n),  # shares of every value
}


def default_timeout(statistic: str, *, max_rows: int, parties: int, terms: int = 1) -> float:
    """How long a party waits for a result before it gives up on a silent peer.

    Derived from the work, never a fixed guess: each party handles every other party's shares,
    so the work grows with ``parties**2`` times a statistic's units (see ``_WORK``), on top of
    :data:`FLOOR_SECONDS`.
    """
    rate, units = _WORK.get(statistic, (0.0, lambda n, d: 0))
    return FLOOR_SECONDS + rate * units(max(max_rows, 2), terms) * parties**2
