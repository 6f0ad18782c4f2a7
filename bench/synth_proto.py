"""MST (or AIM) on the PGM benchmark's adult table: fit time and marginal TVD vs baselines.

Run: PYTHONPATH=src python bench/synth_proto.py [--method mst|aim] [--epsilon 1] [--delta 1e-9]
The table is read in place from /work/shared/data/adult_pgm (never copied).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import polars as pl

from veil.synth import Coded, fit_aim, fit_mst, independent, mean_tvd, tvd, workload

DATA = Path("/work/shared/data/adult_pgm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-9)
    parser.add_argument("--method", choices=("mst", "aim"), default="mst")
    parser.add_argument("--iters", type=int, default=2000, help="final model fit iterations")
    parser.add_argument("--rounds", type=int, default=None, help="AIM's initial round count")
    parser.add_argument("--round-iters", type=int, default=500, help="AIM's per-round fit")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    domain = json.loads((DATA / "adult-domain.json").read_text())
    real = Coded.from_frame(pl.read_csv(DATA / "adult.csv"), domain)
    two, three = workload(real.attributes, 2), workload(real.attributes, 3)
    np.random.seed(args.seed)  # private-pgm's sampler draws from numpy's global generator

    if args.method == "mst":
        fitted = fit_mst(real, args.epsilon, args.delta, iters=args.iters)
    else:
        fitted = fit_aim(real, args.epsilon, args.delta, rounds=args.rounds,
                         round_iters=args.round_iters, final_iters=args.iters)
    start = time.perf_counter()
    synth = fitted.sample(real.rows)
    sample_seconds = time.perf_counter() - start
    base = independent(real, rng=np.random.default_rng(args.seed))

    # The sampler must reproduce the model it samples: compare on the model's own cliques.
    compressed = fitted.compress(synth)
    cliques = [tuple(c) for c in fitted.model.cliques]
    sampler_gap = float(np.mean([tvd(compressed.counts(c), fitted.marginal(c))
                                 for c in cliques]))

    report = {
        "method": args.method, "epsilon": args.epsilon, "delta": args.delta, "rho": fitted.rho,
        "rho_spent": math.fsum(s.rho for s in fitted.spends), "rows": real.rows,
        "iters": args.iters, "fit_seconds": round(fitted.fit_seconds, 2),
        "sample_seconds": round(sample_seconds, 2),
        "compressed_domain": fitted.model.domain.config,
        "cliques": fitted.cliques,
        "synth_tvd": {"2-way": mean_tvd(real, synth, two), "3-way": mean_tvd(real, synth, three)},
        "independent_tvd": {"2-way": mean_tvd(real, base, two),
                            "3-way": mean_tvd(real, base, three)},
        "sampler_vs_model_tvd_on_cliques": sampler_gap,
    }
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
