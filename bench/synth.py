"""Synthetic data: veil's MST and AIM beside SmartNoise Synth's on the PGM benchmark's adult.

Data: ``../shared/data/adult_pgm`` (48,842 rows, 14 integer-coded columns and their domain;
read in place, never copied); skipped when absent. It is split 80/20 with a fixed seed into
``real_train`` (what every synthesizer is fitted on) and ``real_test`` (held out for TSTR).

Each synthesizer, at epsilon 1, delta 1e-9, draws as many rows as ``real_train`` holds:

* veil MST and AIM (``veil.synth.fit_mst`` / ``fit_aim``, mbi 2.0, OpenDP noise), fit timed by
  wall clock around the call, in this process;
* SmartNoise Synth 1.0.8 MST and AIM (its own venv, ``bench/peers/smartnoise_synth``; mbi 1.1),
  ``Synthesizer.fit`` timed inside the peer's process, which fits once and draws twice:
  ``round`` is SmartNoise's own ``sample()`` (mbi 1.1's ``synthetic_data(method="round")``,
  whose within-group value hand-out follows the row order and so invents correlations), and
  ``exact`` is ancestral sampling over the peer's own fitted model (see the peer's ``run.py``),
  the fair yardstick for what the peer's model knows;
* the independent-columns baseline (non-DP; real 1-way marginals) and, as the floor any
  synthesizer could hope for, one random half of ``real_train`` scored like a synthetic table
  (its TVD against ``real_train`` is sampling noise alone).

Scores: mean TVD over all 2-way and 3-way marginals against ``real_train``; TSTR
(``veil.synth.evaluate.tstr``: a gradient-boosted classifier of ``income>50K`` trained on the
table, scored on ``real_test``), with train-on-real as the reference. For SmartNoise's
MST samplers also ``*_vs_model_tvd_{cliques,pairs}``: the drawn rows against the peer's model
(its cliques; every pair of columns), which shows the round sampler matching the cliques but
not the pairs the model never measured.

Goals: AIM 2-way <= 0.041, 3-way <= 0.09, TSTR AUC >= 0.87; veil AIM fit <= 120 s and >= 5x
faster than SmartNoise's AIM; veil MST fit <= 0.25x SmartNoise's; veil MST at least as good as
the correctly sampled SmartNoise MST on 2-way, 3-way and TSTR AUC.

Run: ``python -m bench synth [--quick]`` or ``python -m bench.synth [--quick] [--skip-peer]
[--methods mst,aim]``. Quick (a smoke test; its figures say nothing about the goals): 10,000
rows, veil's estimation with fewer iterations (``QUICK_ITERS``), no SmartNoise AIM; SmartNoise's
MST alone still takes two to three minutes. Writes ``synth-quick.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from bench._common import goal, write_results
from bench.peers.venv import PeerError, run_peer
from veil.synth import Coded, evaluate, fit_aim, fit_mst, independent, mean_tvd, workload

DATA = Path(__file__).resolve().parents[2] / "shared/data/adult_pgm"
TARGET = "income>50K"
EPSILON, DELTA = 1.0, 1e-9
SEED = 0
QUICK_ROWS = 10_000
QUICK_ITERS = {"mst": {"iters": 500}, "aim": {"round_iters": 100, "final_iters": 500}}
METHODS = ("mst", "aim")
PEER = "smartnoise_synth"
PEER_SAMPLERS = ("round", "exact")
PEER_TIMEOUT = 3 * 3600.0
PEER_MODEL_TVD = ("mst",)  # sampler-vs-own-model check: minutes of variable elimination each


def load(rows: int | None = None) -> tuple[pl.DataFrame, dict[str, int]]:
    """The coded adult table (``rows`` of it drawn at random with the fixed seed) and its
    domain."""
    domain = json.loads((DATA / "adult-domain.json").read_text())
    frame = pl.read_csv(DATA / "adult.csv").select(list(domain))
    if rows is not None and rows < frame.height:
        frame = frame.sample(rows, seed=SEED)
    return frame, domain


def split(frame: pl.DataFrame, seed: int = SEED, test: float = 0.2
          ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(real_train, real_test)``: a fixed random 80/20 split of the rows."""
    order = np.random.default_rng(seed).permutation(frame.height)
    cut = frame.height - round(test * frame.height)
    return frame[order[:cut]], frame[order[cut:]]


def _veil(method: str, train: Coded, quick: bool) -> dict[str, Any]:
    fit: Any = fit_mst if method == "mst" else fit_aim
    started = time.perf_counter()
    fitted = fit(train, EPSILON, DELTA, **(QUICK_ITERS[method] if quick else {}))
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    table = fitted.sample(train.rows, seed=SEED)
    return {"table": table, "fit_seconds": fit_seconds,
            "sample_seconds": time.perf_counter() - started,
            "cliques": [list(c) for c in fitted.cliques]}


def _peer(method: str, train_csv: Path, domain: dict[str, int], rows: int, folder: Path
          ) -> dict[str, Any]:
    """SmartNoise's fit (timed in its process) and one table per sampler."""
    outputs = {s: str(folder / f"peer_{method}_{s}.csv") for s in PEER_SAMPLERS}
    request = {"data": str(train_csv), "domain": domain, "method": method, "epsilon": EPSILON,
               "delta": DELTA, "rows": rows, "seed": SEED, "outputs": outputs,
               "model_tvd": method in PEER_MODEL_TVD}
    path = folder / f"peer_{method}.json"
    path.write_text(json.dumps(request))
    started = time.perf_counter()
    found = run_peer(PEER, path, timeout=PEER_TIMEOUT)
    found["wall_seconds"] = time.perf_counter() - started
    found["tables"] = {s: Coded.from_frame(pl.read_csv(p), domain) for s, p in outputs.items()}
    return found


def _score(name: str, table: Coded, train: Coded, test: Coded, ways: dict[int, list]
           ) -> dict[str, float]:
    scored = evaluate.tstr(table, train, test, TARGET, seed=SEED).to_dict()
    return {f"{name}_tvd_2way": mean_tvd(train, table, ways[2]),
            f"{name}_tvd_3way": mean_tvd(train, table, ways[3]),
            f"{name}_tstr_accuracy": scored["synthetic"]["accuracy"],
            f"{name}_tstr_auc": scored["synthetic"]["auc"],
            "real_tstr_accuracy": scored["real"]["accuracy"],
            "real_tstr_auc": scored["real"]["auc"]}


def _table(figures: dict[str, float], names: Sequence[str], title: str) -> None:
    table = Table(title=title)
    for col in ("table", "fit s", "sample s", "2-way TVD", "3-way TVD", "TSTR acc", "TSTR AUC"):
        table.add_column(col, justify="left" if col == "table" else "right")

    def cell(key: str, fmt: str) -> str:
        value = figures.get(key)
        return "-" if value is None else format(value, fmt)

    for name in names:
        table.add_row(name, cell(f"{name}_fit_seconds", ".1f"),
                      cell(f"{name}_sample_seconds", ".2f"), cell(f"{name}_tvd_2way", ".4f"),
                      cell(f"{name}_tvd_3way", ".4f"), cell(f"{name}_tstr_accuracy", ".4f"),
                      cell(f"{name}_tstr_auc", ".4f"))
    table.add_row("train on real", "", "", "", "", cell("real_tstr_accuracy", ".4f"),
                  cell("real_tstr_auc", ".4f"))
    Console().print(table)


def _goals(figures: dict[str, float]) -> list[dict[str, Any]]:
    def have(*keys: str) -> bool:
        return all(k in figures for k in keys)

    goals = []
    if have("veil_aim_tvd_2way"):
        goals += [goal("veil_aim_tvd_2way", figures["veil_aim_tvd_2way"], "<= 0.041"),
                  goal("veil_aim_tvd_3way", figures["veil_aim_tvd_3way"], "<= 0.09"),
                  goal("veil_aim_tstr_auc", figures["veil_aim_tstr_auc"], ">= 0.87"),
                  goal("veil_aim_fit_seconds", figures["veil_aim_fit_seconds"], "<= 120")]
    if have("veil_aim_fit_seconds", "peer_aim_fit_seconds"):
        goals.append(goal("peer_aim_fit_over_veil_aim_fit",
                          figures["peer_aim_fit_seconds"] / figures["veil_aim_fit_seconds"],
                          ">= 5"))
    if have("veil_mst_fit_seconds", "peer_mst_fit_seconds"):
        goals.append(goal("veil_mst_fit_over_peer_mst_fit",
                          figures["veil_mst_fit_seconds"] / figures["peer_mst_fit_seconds"],
                          "<= 0.25"))
    if have("veil_mst_tvd_2way", "peer_mst_exact_tvd_2way"):
        goals += [goal("veil_mst_minus_peer_mst_exact_tvd_2way",
                       figures["veil_mst_tvd_2way"] - figures["peer_mst_exact_tvd_2way"], "<= 0"),
                  goal("veil_mst_minus_peer_mst_exact_tvd_3way",
                       figures["veil_mst_tvd_3way"] - figures["peer_mst_exact_tvd_3way"], "<= 0"),
                  goal("veil_mst_minus_peer_mst_exact_tstr_auc",
                       figures["veil_mst_tstr_auc"] - figures["peer_mst_exact_tstr_auc"], ">= 0")]
    return goals


def run(quick: bool = False, skip_peer: bool = False, methods: Sequence[str] = METHODS
        ) -> dict:
    if not DATA.exists():
        print(f"synth: no data at {DATA}; skipped")
        return {}
    frame, domain = load(QUICK_ROWS if quick else None)
    train_frame, test_frame = split(frame)
    train, test = Coded.from_frame(train_frame, domain), Coded.from_frame(test_frame, domain)
    ways = {k: workload(train.attributes, k) for k in (2, 3)}
    figures: dict[str, float] = {"train_rows": train.rows, "test_rows": test.rows,
                                 "epsilon": EPSILON, "delta": DELTA}
    names: list[str] = []

    def scored(name: str, table: Coded) -> None:
        names.append(name)
        figures.update(_score(name, table, train, test, ways))

    scored("independent", independent(train, rng=np.random.default_rng(SEED)))
    half = np.random.default_rng(SEED + 1).permutation(train.rows)[: train.rows // 2]
    scored("real_half", Coded({a: c[half] for a, c in train.columns.items()}, dict(domain)))

    for method in methods:
        found = _veil(method, train, quick)
        figures[f"veil_{method}_fit_seconds"] = found["fit_seconds"]
        figures[f"veil_{method}_sample_seconds"] = found["sample_seconds"]
        figures[f"veil_{method}_cliques"] = len(found["cliques"])
        scored(f"veil_{method}", found["table"])
        print(f"veil {method}: fit {found['fit_seconds']:.1f} s, cliques {found['cliques']}")

    peer_methods = [] if skip_peer else [m for m in methods if not (quick and m == "aim")]
    with tempfile.TemporaryDirectory(prefix="veil-bench-synth-") as scratch:
        folder = Path(scratch)
        train_csv = folder / "real_train.csv"
        train_frame.write_csv(train_csv)
        for method in peer_methods:
            try:
                found = _peer(method, train_csv, domain, train.rows, folder)
            except PeerError as exc:
                print(f"synth: SmartNoise {method} unavailable: {exc}")
                continue
            figures[f"peer_{method}_fit_seconds"] = found["fit_seconds"]
            figures[f"peer_{method}_cliques"] = len(found["cliques"])
            for sampler, table in found["tables"].items():
                name = f"peer_{method}_{sampler}"
                drawn = found["samplers"][sampler]
                figures[f"{name}_sample_seconds"] = drawn["sample_seconds"]
                for part, value in (drawn.get("model_tvd") or {}).items():  # vs its own model
                    figures[f"{name}_vs_model_tvd_{part}"] = value
                figures[f"{name}_fit_seconds"] = found["fit_seconds"]
                scored(name, table)
            print(f"SmartNoise {method} ({found['versions']}): fit {found['fit_seconds']:.1f} s "
                  f"(process {found['wall_seconds']:.1f} s), cliques {found['cliques']}")

    for method in methods:
        if f"peer_{method}_fit_seconds" in figures:
            ratio = figures[f"veil_{method}_fit_seconds"] / figures[f"peer_{method}_fit_seconds"]
            figures[f"veil_{method}_fit_over_peer"] = ratio
            print(f"fit time, veil {method.upper()} / SmartNoise {method.upper()}: {ratio:.3f}")
    _table(figures, names, "synth" + (" (quick)" if quick else ""))
    goals = _goals(figures)
    write_results("synth", figures, goals, quick=quick)
    return {"figures": figures, "goals": goals}


def main(quick: bool = False) -> dict:
    """``python -m bench synth [--quick]``: every method, with the peer."""
    return run(quick=quick)


def _cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.synth", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ROWS:,} rows, no SmartNoise AIM; writes synth-quick.json")
    parser.add_argument("--skip-peer", action="store_true", help="veil and the baselines only")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated subset of mst,aim (default both)")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods or set(methods) - set(METHODS):
        parser.error(f"--methods takes a comma-separated subset of {','.join(METHODS)}")
    run(quick=args.quick, skip_peer=args.skip_peer, methods=methods)


if __name__ == "__main__":
    _cli()
