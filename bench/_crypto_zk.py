"""Zero-knowledge proofs (``veil.zk``): Schnorr login, range proofs, Merkle membership costs.

Part of the crypto benchmark: :func:`run` returns ``(figures, goals)``. Measured in one run:

1. Schnorr identification: prove and verify (ms per proof), proof size.
2. Range proofs: an 8-bit ``prove_range`` and the 7-bit "age >= 18" ``prove_at_least``, prove
   and verify (ms per proof) and proof size in bytes.
3. Merkle membership over 100,000 salted records (10,000 with ``quick``): build time (s),
   prove and verify (µs per proof), proof size.

Goals are sanity checks recomputed from this run: honest proofs verify and forgeries (wrong
secret, other context, stronger claim, wrong record) are refused, one check each,
and per-proof costs stay interactive (a login or an age check well under a request's budget).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench._common import goal, timed
from veil.zk import (
    MembershipTree,
    ProofError,
    commit,
    keygen,
    prove_at_least,
    prove_range,
    schnorr,
    verify_at_least,
    verify_membership,
    verify_range,
)

CONTEXT = b"bench|veil.zk|session-0"


def _per_op(fn: Callable[[], Any], count: int, repeat: int = 3) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` batches of ``count`` calls."""
    def batch() -> None:
        for _ in range(count):
            fn()
    return timed(batch, repeat).median / count


def _refused(fn: Callable[[], Any]) -> bool:
    try:
        fn()
    except ProofError:
        return True
    return False


def _accepted(fn: Callable[[], Any]) -> bool:
    return not _refused(fn)


def _schnorr(quick: bool, figures: dict[str, float]) -> dict[str, bool]:
    key, other = keygen(), keygen()
    count = 50 if quick else 300
    proof = schnorr.prove(key.secret, context=CONTEXT)
    figures["schnorr_prove_ms"] = _per_op(
        lambda: schnorr.prove(key.secret, context=CONTEXT), count) * 1e3
    figures["schnorr_verify_ms"] = _per_op(
        lambda: schnorr.verify(key.public, proof, context=CONTEXT), count) * 1e3
    figures["schnorr_proof_bytes"] = len(proof.to_bytes())
    return {
        "schnorr_honest": _accepted(
            lambda: schnorr.verify(key.public, proof.to_bytes(), context=CONTEXT)),
        "schnorr_forged": _refused(lambda: schnorr.verify(
            key.public, schnorr.prove(other.secret, context=CONTEXT), context=CONTEXT)),
        "schnorr_replayed": _refused(lambda: schnorr.verify(
            key.public, proof, context=CONTEXT + b"-other")),
    }


def _range(quick: bool, figures: dict[str, float]) -> dict[str, bool]:
    count = 10 if quick else 50
    commitment, opening = commit(200)
    proof = prove_range(opening, bits=8, context=CONTEXT)
    figures["range8_prove_ms"] = _per_op(
        lambda: prove_range(opening, bits=8, context=CONTEXT), count) * 1e3
    figures["range8_verify_ms"] = _per_op(
        lambda: verify_range(commitment, proof, bits=8, context=CONTEXT), count) * 1e3
    figures["range8_proof_bytes"] = len(proof.to_bytes())

    age_c, age_o = commit(34)
    age_proof = prove_at_least(age_o, 18, context=CONTEXT)
    figures["age18_prove_ms"] = _per_op(
        lambda: prove_at_least(age_o, 18, context=CONTEXT), count) * 1e3
    figures["age18_verify_ms"] = _per_op(
        lambda: verify_at_least(age_c, 18, age_proof, context=CONTEXT), count) * 1e3
    figures["age18_proof_bytes"] = len(age_proof.to_bytes())
    return {
        "age_honest": _accepted(
            lambda: verify_at_least(age_c, 18, age_proof.to_bytes(), context=CONTEXT)),
        "age_stronger_claim": _refused(
            lambda: verify_at_least(age_c, 35, age_proof, context=CONTEXT)),
    }


def _merkle(quick: bool, figures: dict[str, float]) -> dict[str, bool]:
    size = 10_000 if quick else 100_000
    records = [{"id": i, "cohort": f"c{i % 17}", "zip": f"{10000 + i % 9000}"}
               for i in range(size)]
    start = time.perf_counter()
    tree = MembershipTree.build(records)
    figures["merkle_records"] = size
    figures["merkle_build_s"] = time.perf_counter() - start
    root = tree.root
    index = size // 3
    proof, salt = tree.prove(index), tree.salt(index)
    count = 500 if quick else 2000
    figures["merkle_prove_us"] = _per_op(lambda: tree.prove(index), count) * 1e6
    figures["merkle_verify_us"] = _per_op(
        lambda: verify_membership(root, records[index], salt, proof), count) * 1e6
    figures["merkle_proof_bytes"] = len(proof.to_bytes())
    return {
        "merkle_honest": _accepted(
            lambda: verify_membership(root, records[index], salt, proof.to_bytes())),
        "merkle_wrong_record": _refused(
            lambda: verify_membership(root, records[index + 1], salt, proof)),
    }


def run(quick: bool) -> tuple[dict[str, float], list[dict]]:
    """Measure ``veil.zk``; returns ``(figures, goals)``, goals recomputed from the figures."""
    figures: dict[str, float] = {}
    checks: dict[str, bool] = {}
    for part in (_schnorr, _range, _merkle):
        checks |= part(quick, figures)
    figures["checks_passed"] = sum(checks.values())
    figures["checks_run"] = len(checks)
    goals = [
        goal("honest proofs verify, forgeries refused (fraction of checks)",
             figures["checks_passed"] / figures["checks_run"], ">= 1"),
        goal("Schnorr verify (ms)", figures["schnorr_verify_ms"], "<= 5"),
        goal("age >= 18 verify (ms)", figures["age18_verify_ms"], "<= 50"),
        goal("Merkle verify over 100k records (µs)" if not quick
             else "Merkle verify over 10k records (µs)", figures["merkle_verify_us"], "<= 1000"),
    ]
    return figures, goals
