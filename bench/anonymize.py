"""Anonymize: veil's optimal k-anonymity / l-diversity beside ARX's figures and anjana.

Data: ``../shared/data/adult_arx`` (30,162 rows; its ARX hierarchies; quasi-identifiers sex,
age, race, marital-status, education, native-country, workclass, occupation; salary-class the
sensitive attribute); skipped when absent. ARX cannot run here (no JVM): its optimal levels,
Loss and median ``anonymize()`` times were measured on this machine kind and are read from the
table in ``../shared/data/README.md`` at run time, never typed in.

For each configuration of that table:

1. veil's ``anonymize()`` (optimal full-domain search, ARX's Loss metric, the same suppression
   limit): median wall time of 5 runs of the call (encoding, search, generalization and the
   independent check: a verified release, as ARX's ``anonymize()`` gives its result), of the
   search alone, and of the utility and risk report measured afterwards; its Loss, levels,
   suppressed records and classes.
2. anjana (greedy full-domain generalization; its own venv, ``bench/peers/anjana``): the time of
   its call, and the Loss of its release computed from the release file by
   :func:`loss_of_release` (ARX's definition, applied to the released cells).
3. pycanon (same peer venv) measures k and distinct l of both tools' releases independently.

Goals: veil's Loss no worse than ARX's (to ARX's four printed decimals), at most 2x ARX's
time, and both faster and at least as good as anjana; every release passes pycanon.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench._common import goal, write_results
from bench.peers.venv import PeerError, run_peer
from veil.anonymize.encoding import encode
from veil.anonymize.hierarchy import Hierarchy
from veil.anonymize.lattice import search
from veil.anonymize.models import DistinctLDiversity, KAnonymity
from veil.anonymize.objective import objective
from veil.anonymize.release import anonymize

DATA = Path(__file__).resolve().parents[2] / "shared/data/adult_arx"
README = DATA.parent / "README.md"
QI = ("sex", "age", "race", "marital-status", "education", "native-country", "workclass",
      "occupation")
SENSITIVE = "salary-class"
_ROW = re.compile(r"^\|\s*(k=\d+(?:, distinct l=\d+)?)\s*\|\s*(\d+)%\s*\|\s*(\d+) ms\s*\|"
                  r"\s*([\d ]+)\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|")


def arx_reference() -> list[dict[str, Any]]:
    """ARX's measured rows from the data README: model, limit, ms, levels, Loss..."""
    rows = []
    for line in README.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line.strip())
        if match:
            model, supp, ms, levels, loss, suppressed, classes = match.groups()
            k = int(re.search(r"k=(\d+)", model).group(1))  # type: ignore[union-attr]
            l_match = re.search(r"l=(\d+)", model)
            rows.append({"k": k, "l": int(l_match.group(1)) if l_match else None,
                         "suppression": int(supp) / 100, "ms": float(ms),
                         "levels": tuple(int(x) for x in levels.split()), "loss": float(loss),
                         "suppressed": int(suppressed), "classes": int(classes)})
    return rows


def _tag(row: dict[str, Any]) -> str:
    diversity = f"_l{row['l']}" if row["l"] else ""
    return f"k{row['k']}{diversity}_s{round(row['suppression'] * 100)}"


def loss_of_release(released: pl.DataFrame, records: int, hierarchies: dict[str, Hierarchy]
                    ) -> float:
    """ARX's Loss (gs-factor 0.5, geometric mean) of a release, from its cells alone: a cell's
    loss is the share of the domain its value covers; each missing (suppressed) record counts 1
    on every attribute; per attribute rescaled so raw is 0 and everything hidden 1."""
    suppressed = records - released.height
    losses = []
    for name in QI:
        hierarchy = hierarchies[name]
        size = len(hierarchy.rows)
        share: dict[str, float] = {}
        for level in range(hierarchy.height + 1):
            column = hierarchy.level(level)
            for value in set(column):
                share.setdefault(value, column.count(value) / size)
        cells = released[name].cast(pl.String).to_list()
        total = sum(share[c] for c in cells) + suppressed
        low = records / size
        losses.append(max((total - low) / (records - low), 0.0))
    return float(np.prod([1 + x for x in losses]) ** (1 / len(losses)) - 1)


def _veil(frame: pl.DataFrame, hierarchies: dict[str, Hierarchy], row: dict[str, Any],
          repeat: int) -> dict[str, Any]:
    kwargs = {"k": row["k"], "l": row["l"], "suppression_limit": row["suppression"],
              "hierarchies": hierarchies}
    sensitive = [SENSITIVE] if row["l"] else []

    def search_only() -> Any:
        encoded = encode(frame, QI, hierarchies, sensitive)
        models: list[Any] = [KAnonymity(row["k"])]
        if row["l"]:
            models.append(DistinctLDiversity(SENSITIVE, row["l"]))
        for model in models:
            model.prepare(encoded)
        return search(encoded, models, objective("loss").prepare(encoded), row["suppression"])

    whole, alone, report = [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        release = anonymize(frame, QI, sensitive, seed=0, **kwargs)
        whole.append(time.perf_counter() - started)
        started = time.perf_counter()
        release.to_dict()  # utility and risk before and after, measured on first use
        report.append(time.perf_counter() - started)
        started = time.perf_counter()
        optimum = search_only()
        alone.append(time.perf_counter() - started)
    return {"release": release, "seconds": statistics.median(whole),
            "report_seconds": statistics.median(report),
            "search_seconds": statistics.median(alone), "checked": optimum.checked,
            "nodes": optimum.nodes}


def _pycanon(released: pl.DataFrame, folder: Path, name: str) -> dict[str, Any]:
    path = folder / f"{name}.csv"
    released.select(*QI, SENSITIVE).write_csv(path, separator=";")
    return run_peer("anjana", "check", "--release", path, "--qi", ",".join(QI),
                    "--sensitive", SENSITIVE)


def _mondrian_beside_optimal(frame: pl.DataFrame, hierarchies: dict[str, Hierarchy]
                             ) -> dict[str, float]:
    """k=5 without suppression: full-domain generalization against Mondrian's local recoding
    (age numeric), by information loss and by how well salary-class can still be learnt."""
    numeric = frame.with_columns(pl.col("age").cast(pl.Int64))
    out: dict[str, float] = {}
    for name, data, algorithm in (("optimal", frame, "optimal"),
                                  ("mondrian", numeric, "mondrian")):
        started = time.perf_counter()
        release = anonymize(data, QI, k=5, hierarchies=hierarchies, algorithm=algorithm,
                            seed=0)
        out[f"k5_{name}_ms"] = (time.perf_counter() - started) * 1e3
        out[f"k5_{name}_ncp"] = release.utility.ncp
        out[f"k5_{name}_classes"] = release.achieved.classes
        accuracy = release.accuracy(SENSITIVE)
        out[f"k5_{name}_accuracy"] = accuracy["release"]  # type: ignore[assignment]
        out["original_accuracy"] = accuracy["original"]  # type: ignore[assignment]
    return out


def main(quick: bool = False) -> dict:
    if not DATA.exists():
        print(f"anonymize: no data at {DATA}; skipped")
        return {}
    frame = pl.read_csv(DATA / "adult.csv", separator=";", infer_schema=False)
    hierarchies = {c: Hierarchy.read_csv(DATA / f"adult_hierarchy_{c}.csv", c) for c in QI}
    reference = arx_reference()
    if quick:
        reference = [r for r in reference if r["k"] == 5 and r["l"] is None]
    figures: dict[str, float] = {"rows": frame.height}
    goals = []
    with tempfile.TemporaryDirectory(prefix="veil-bench-anonymize-") as scratch:
        folder = Path(scratch)
        for row in reference:
            tag = _tag(row)
            veil = _veil(frame, hierarchies, row, 2 if quick else 5)
            release = veil["release"]
            figures |= {
                f"{tag}_veil_ms": veil["seconds"] * 1e3,
                f"{tag}_veil_search_ms": veil["search_seconds"] * 1e3,
                f"{tag}_veil_report_ms": veil["report_seconds"] * 1e3,
                f"{tag}_veil_nodes_checked": veil["checked"],
                f"{tag}_lattice_nodes": veil["nodes"],
                f"{tag}_arx_ms": row["ms"],
                f"{tag}_veil_loss": release.score,
                f"{tag}_veil_loss_from_cells": loss_of_release(release.frame, frame.height,
                                                               hierarchies),
                f"{tag}_arx_loss": row["loss"],
                f"{tag}_veil_suppressed": release.suppressed,
                f"{tag}_arx_suppressed": row["suppressed"],
                f"{tag}_veil_classes": release.achieved.classes,
                f"{tag}_arx_classes": row["classes"],
                f"{tag}_veil_same_levels_as_arx": float(
                    tuple(release.levels[c] for c in QI) == row["levels"]),  # type: ignore[index]
            }
            print(f"{tag}: veil levels {[release.levels[c] for c in QI]}, "  # type: ignore[index]
                  f"ARX {list(row['levels'])}")
            goals.append(goal(f"{tag}_loss_veil_minus_arx",
                              round(release.score, 4) - row["loss"], "<= 0"))  # type: ignore[arg-type]
            goals.append(goal(f"{tag}_time_veil_over_arx", veil["seconds"] * 1e3 / row["ms"],
                              "<= 2"))
            try:
                checked = _pycanon(release.frame, folder, f"veil_{tag}")
                peer = run_peer(
                    "anjana", "anonymize", "--data", DATA / "adult.csv", "--hierarchies", DATA,
                    "--qi", ",".join(QI), "--sensitive", SENSITIVE, "--k", row["k"],
                    *(("--l", row["l"]) if row["l"] else ()),
                    "--supp", row["suppression"] * 100, "--out", folder / f"anjana_{tag}.csv")
            except PeerError as exc:
                print(f"{tag}: the anjana/pycanon peer is unavailable: {exc}")
                continue
            figures[f"{tag}_pycanon_k_veil"] = checked["k"]
            figures[f"{tag}_pycanon_l_veil"] = checked["l"]
            goals.append(goal(f"{tag}_pycanon_k_veil_minus_k", checked["k"] - row["k"], ">= 0"))
            if row["l"]:
                goals.append(goal(f"{tag}_pycanon_l_veil_minus_l", checked["l"] - row["l"],
                                  ">= 0"))
            if peer.get("error"):
                print(f"{tag}: anjana failed: {peer['error']}")
                continue
            theirs = pl.read_csv(folder / f"anjana_{tag}.csv", separator=";",
                                 infer_schema=False)
            their_check = _pycanon(theirs, folder, f"anjana_checked_{tag}")
            their_loss = loss_of_release(theirs, frame.height, hierarchies)
            figures |= {f"{tag}_anjana_ms": peer["seconds"] * 1e3,
                        f"{tag}_anjana_loss": their_loss,
                        f"{tag}_anjana_suppressed": peer["suppressed"],
                        f"{tag}_pycanon_k_anjana": their_check["k"]}
            goals.append(goal(f"{tag}_time_anjana_over_veil",
                              peer["seconds"] / veil["seconds"], ">= 5"))
            goals.append(goal(f"{tag}_loss_anjana_minus_veil",
                              their_loss - release.score, ">= 0"))  # type: ignore[operator]
    figures |= _mondrian_beside_optimal(frame, hierarchies)
    write_results("anonymize", figures, goals, quick=quick)
    return {"figures": figures, "goals": goals}
