"""DP queries: veil's ``Workspace.query`` beside plain Polars and SmartNoise SQL.

The demo patients (1,000,000 and 10,000,000 rows, seed 7; quick: 100,000), the columns the
queries read (all three tools get the same narrow table), get five queries:
a count, a mean, and a count, a sum and a mean per clinic (clinics public). For each:

* plain Polars on the in-memory frame, no privacy (the floor: "the limit is 1x");
* veil: ``ws.query`` on a workspace holding the table (ingested once, decrypted on the first
  query of the session, as a service would), epsilon 1 per query, every run a real release
  (budget check and debit, ledger entry, noise, intervals); a different ``alpha`` each run keeps
  the release cache out of it;
* SmartNoise SQL 1.0 (its own venv, ``bench/peers/smartnoise``), the same SQL and bounds,
  epsilon 1 per *query* (``--budget query``: split evenly over its statistics, as veil does),
  timing ``reader.execute`` only (its reader set-up, which copies the table into SQLite, is not
  counted).

Times are medians per query; ratios use the sum over the five queries. Accuracy is the mean
absolute error against the exact answer, over all runs and groups; the goal averages the
veil/SmartNoise error ratio over the queries.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench._common import goal, write_results
from bench.peers.venv import PeerError, run_peer
from veil.demo.data import generate_patients
from veil.keys import generate_key_file
from veil.workspace import Workspace

EPSILON = 1.0
BOUNDS = {"glucose_mg_dl": (40.0, 450.0), "systolic_bp": (60.0, 250.0),
          "cholesterol_mg_dl": (80.0, 400.0)}
QUERIES: dict[str, tuple[str, Callable[[pl.DataFrame], pl.DataFrame]]] = {
    "count": ("SELECT COUNT(*) FROM patients", lambda f: f.select(pl.len())),
    "mean": ("SELECT AVG(glucose_mg_dl) FROM patients",
             lambda f: f.select(pl.col("glucose_mg_dl").mean())),
    "count_by_clinic": ("SELECT clinic_id, COUNT(*) FROM patients GROUP BY clinic_id",
                        lambda f: f.group_by("clinic_id").agg(pl.len())),
    "sum_by_clinic": ("SELECT clinic_id, SUM(systolic_bp) FROM patients GROUP BY clinic_id",
                      lambda f: f.group_by("clinic_id").agg(pl.col("systolic_bp").sum())),
    "mean_by_clinic": ("SELECT clinic_id, AVG(cholesterol_mg_dl) FROM patients GROUP BY "
                       "clinic_id",
                       lambda f: f.group_by("clinic_id").agg(pl.col("cholesterol_mg_dl").mean())),
}


def _exact(frame: pl.DataFrame, plain: Callable[[pl.DataFrame], pl.DataFrame]
           ) -> dict[Any, float]:
    """The exact answer keyed by clinic (None when not grouped)."""
    out = plain(frame)
    if "clinic_id" in out.columns:
        return {row[0]: float(row[1]) for row in out.iter_rows()}
    return {None: float(out.row(0)[0])}


def _median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs) * 1e3


def _veil(ws: Workspace, sql: str, truth: dict[Any, float], repeat: int) -> tuple[float, float]:
    errors, runs = [], []
    for i in range(repeat):
        started = time.perf_counter()
        result = ws.query(sql, epsilon=EPSILON, alpha=0.05 + i * 1e-9)
        runs.append(time.perf_counter() - started)
        for row in result.frame.iter_rows(named=True):
            errors.append(abs(row["value"] - truth[row.get("clinic_id")]))
    return statistics.median(runs) * 1e3, float(np.mean(errors))


def _smartnoise(path: Path, sql: str, truth: dict[Any, float], repeat: int
                ) -> tuple[float, float]:
    found = run_peer("smartnoise", "query", "--data", path, "--sql", sql, "--epsilon", EPSILON,
                     "--budget", "query", "--repeat", repeat, timeout=3600)
    if found.get("error"):
        raise PeerError(found["error"])
    errors = []
    for rows in found["results"]:
        for row in rows:
            key = row[0] if len(row) > 1 else None
            errors.append(abs(float(row[-1]) - truth[key]))
    return statistics.median(found["seconds"]) * 1e3, float(np.mean(errors))


def _size(rows: int, folder: Path, repeat: int, peer_repeat: int) -> tuple[dict, list]:
    frame = generate_patients(rows, seed=7).select("patient_id", "clinic_id", *BOUNDS)
    data = folder / f"patients_{rows}.parquet"
    frame.write_parquet(data)
    key = folder / "bench.key"
    if not key.exists():
        generate_key_file(key)
    figures: dict[str, float] = {}
    tag = f"{rows // 1_000_000}m" if rows >= 1_000_000 else f"{rows // 1000}k"
    with Workspace.create(folder / f"ws_{rows}", key_file=key) as ws:
        ws.ingest(frame, "patients", subject_id="patient_id", classify=False)
        ws.dp_settings("patients", bounds=BOUNDS,
                       public_keys={"clinic_id": sorted(frame["clinic_id"].unique())})
        ws.set_budget("patients", epsilon=1e9)
        started = time.perf_counter()
        ws.query("SELECT COUNT(*) FROM patients WHERE systolic_bp > 0", epsilon=EPSILON)
        figures[f"{tag}_veil_first_query_ms"] = (time.perf_counter() - started) * 1e3
        totals = {"plain": 0.0, "veil": 0.0, "smartnoise": 0.0}
        ratios = []
        for name, (sql, plain) in QUERIES.items():
            truth = _exact(frame, plain)
            plain_ms = _median_ms(lambda plain=plain: plain(frame), repeat)
            veil_ms, veil_error = _veil(ws, sql, truth, repeat)
            figures |= {f"{tag}_{name}_plain_ms": plain_ms, f"{tag}_{name}_veil_ms": veil_ms,
                        f"{tag}_{name}_veil_mae": veil_error}
            totals["plain"] += plain_ms
            totals["veil"] += veil_ms
            try:
                peer_ms, peer_error = _smartnoise(data, sql, truth, peer_repeat)
            except PeerError as exc:
                print(f"{tag} {name}: SmartNoise unavailable: {exc}")
                totals["smartnoise"] = float("nan")
                continue
            figures |= {f"{tag}_{name}_smartnoise_ms": peer_ms,
                        f"{tag}_{name}_smartnoise_mae": peer_error}
            totals["smartnoise"] += peer_ms
            ratios.append(veil_error / peer_error)
            print(f"{tag} {name}: plain {plain_ms:.2f} ms, veil {veil_ms:.2f} ms "
                  f"(error {veil_error:.4g}), SmartNoise {peer_ms:.1f} ms "
                  f"(error {peer_error:.4g})")
    figures |= {f"{tag}_{k}_total_ms": v for k, v in totals.items()}
    goals = [goal(f"{tag}_veil_over_plain_polars", totals["veil"] / totals["plain"], "<= 2")]
    if ratios:
        goals += [goal(f"{tag}_smartnoise_over_veil", totals["smartnoise"] / totals["veil"],
                       ">= 10"),
                  goal(f"{tag}_mae_veil_over_smartnoise_mean", float(np.mean(ratios)), "<= 1")]
    return figures, goals


def main(quick: bool = False) -> dict:
    sizes = [(100_000, 10, 5)] if quick else [(1_000_000, 40, 40), (10_000_000, 20, 10)]
    figures: dict[str, float] = {}
    goals: list = []
    with tempfile.TemporaryDirectory(prefix="veil-bench-dp-") as scratch:
        for rows, repeat, peer_repeat in sizes:
            found, met = _size(rows, Path(scratch), repeat, peer_repeat)
            figures |= found
            goals += met
    write_results("dp_query", figures, goals, quick=quick)
    return {"figures": figures, "goals": goals}
