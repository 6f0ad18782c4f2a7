"""Computing on data nobody can see: HE, MPC and ZK beside plaintext, one run.

Three parts, each in its own module (run separately with ``python -m bench crypto_compute``):

* ``bench/_crypto_he.py``: CKKS encrypted inference (TenSEAL) of a logistic model and of a small
  MLP with a quadratic activation, beside plaintext torch on the same rows: samples/s, latency
  per stage, maximum probability error on every row; Paillier (phe, gmpy2) operations/s.
* ``bench/_crypto_mpc.py``: a secure mean of 100,000 values across 3 MPyC parties (separate
  processes over localhost TCP) beside ``numpy.mean``, the precision veil chose, and the wrong
  answer of a fixed-point setting that cannot represent 1/n.
* ``bench/_crypto_zk.py``: Schnorr identification, Pedersen range proofs (age >= 18) and Merkle
  membership over 100,000 records: prove/verify times and sizes; forged proofs refused.

Figures of all three go into ``bench/results/crypto_compute.json``, prefixed ``he_``,
``mpc_``, ``zk_``.
"""

from __future__ import annotations

from typing import Any

from bench import _crypto_he, _crypto_mpc, _crypto_zk
from bench._common import write_results


def main(quick: bool = False) -> dict[str, Any]:
    figures: dict[str, float] = {}
    goals: list[dict[str, Any]] = []
    for prefix, part in (("he", _crypto_he), ("mpc", _crypto_mpc), ("zk", _crypto_zk)):
        found, met = part.run(quick)
        figures |= {name if name.startswith(f"{prefix}_") else f"{prefix}_{name}": value
                    for name, value in found.items()}
        goals += [{**g, "name": f"{prefix}: {g['name']}"} for g in met]
    write_results("crypto_compute", figures, goals, quick=quick)
    return {"figures": figures, "goals": goals}
