"""MPC part of the crypto-compute benchmark: secure mean of 100,000 values across 3 parties.

Each party is its own process on localhost TCP (``veil.mpc.joint``), values uniform on the
public bounds [0, 100], split evenly over the 3 parties. Figures:

* ``mpc_mean_s``: wall seconds of one ``joint("mean")`` call *including* process start-up
  (3 interpreters, MPyC import, TCP connect); ``mpc_mean_compute_s``: the slowest party's
  seconds from "all connected" to the output, *excluding* start-up. veil's mean pre-aggregates
  each party's rows in plaintext and secret-shares only (count, sum), then divides by the
  secret total count.
* ``mpc_mean_elementwise_*``: the same mean with every value secret-shared as an MPyC secure
  array and ``np_sum`` (MPyC's usual style; per-party row counts public), with veil's precision.
* ``plaintext_mean_s``: ``numpy.mean`` over the pooled values; ratios are secure / plaintext.
* ``naive_secfxp64_16_mean``: the elementwise mean forced to ``SecFxp(64, 16)`` (opted in with
  ``allow_unsafe_precision``): 1/100000 rounds to 2**-16, so it comes out near 76.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench._common import goal
from veil.mpc import Precision, joint

N, PARTIES, BOUNDS = 100_000, 3, (0.0, 100.0)


def run(quick: bool) -> tuple[dict[str, float], list[dict[str, Any]]]:
    rng = np.random.default_rng(7)
    pooled = rng.uniform(*BOUNDS, N)
    parts = np.array_split(pooled, PARTIES)
    repeat = 1 if quick else 3

    plain = []
    for _ in range(5):
        start = time.perf_counter()
        truth = float(np.mean(pooled))
        plain.append(time.perf_counter() - start)

    def best(statistic: str, **kw: Any) -> Any:
        runs = [joint(statistic, parts, bounds=BOUNDS, accept_semi_honest=True, timeout=120,
                      **kw) for _ in range(repeat)]
        return min(runs, key=lambda r: r.seconds), min(r.compute_seconds for r in runs)

    veil, veil_compute = best("mean")
    elem, elem_compute = best("mean_elementwise")
    naive = joint("mean_elementwise", parts, bounds=BOUNDS, accept_semi_honest=True,
                  timeout=120, precision=Precision(64, 16), allow_unsafe_precision=True)
    plain_s = min(plain)
    figures = {
        "mpc_mean_s": veil.seconds,
        "mpc_mean_compute_s": veil_compute,
        "mpc_mean_elementwise_s": elem.seconds,
        "mpc_mean_elementwise_compute_s": elem_compute,
        "plaintext_mean_s": plain_s,
        "mpc_mean_over_plaintext": veil.seconds / plain_s,
        "mpc_mean_compute_over_plaintext": veil_compute / plain_s,
        "mpc_mean_abs_error": abs(veil.value - truth),
        "mpc_mean_elementwise_abs_error": abs(elem.value - truth),
        "mpc_precision_bit_length": veil.precision.bit_length,
        "mpc_precision_frac_bits": veil.precision.frac_bits,
        "naive_secfxp64_16_mean": naive.value,
        "naive_secfxp64_16_abs_error": abs(naive.value - truth),
        "plaintext_mean": truth,
    }
    goals = [
        goal("MPC mean of 100k values, 3 parties, compute seconds", veil_compute, "<= 0.18"),
        goal("MPC mean of 100k values, 3 parties, seconds with start-up", veil.seconds, "<= 5"),
        goal("MPC mean absolute error vs plaintext", figures["mpc_mean_abs_error"], "<= 1e-4"),
        goal("MPC elementwise mean absolute error vs plaintext",
             figures["mpc_mean_elementwise_abs_error"], "<= 1e-4"),
    ]
    return figures, goals
