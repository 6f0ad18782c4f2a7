"""Quasi-identifier risk: how many rows a combination of quasi-identifiers singles out.

For every combination of 1..``max_combination`` quasi-identifier columns, the share of scanned
rows whose combination of values is unique. At most ``MAX_QI_COMBINATIONS`` combinations are
evaluated, taking the highest-cardinality columns first (they make the riskiest combinations);
``TableScan.qi_truncated`` says when the cap bit. On a sample, a record unique in the
population is unique in the sample too, so the sample's unique share over-states the
population's: read it as an upper bound.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

__all__ = ["MAX_QI_COMBINATIONS", "QiRisk", "qi_risk"]

MAX_QI_COMBINATIONS = 256
"""Quasi-identifier combinations evaluated at most (see the module docstring)."""


@dataclass(frozen=True)
class QiRisk:
    """Share of scanned rows unique on ``columns``, and how many classes those values form."""

    columns: tuple[str, ...]
    unique_share: float
    classes: int

    def to_dict(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "unique_share": self.unique_share,
                "classes": self.classes}


def qi_risk(
    frame: pl.DataFrame, columns: Sequence[str], *, max_combination: int = 3,
    limit: int = MAX_QI_COMBINATIONS,
) -> tuple[list[QiRisk], bool]:
    """Unique share of every combination of 1..``max_combination`` of ``columns`` on ``frame``,
    worst first, and whether ``limit`` cut the enumeration short."""
    if not columns or frame.height == 0 or max_combination < 1:
        return [], False
    # Dense integer codes: one cheap pass per column, then every group_by is over integers.
    codes = frame.select(pl.col(c).rank("dense").fill_null(0).alias(c) for c in columns)
    order = sorted(columns, key=lambda c: (-codes[c].max(), columns.index(c)))  # type: ignore[operator]
    combos: list[tuple[str, ...]] = []
    truncated = False
    for size in range(1, min(max_combination, len(order)) + 1):
        for combo in itertools.combinations(order, size):
            if len(combos) >= limit:
                truncated = True
                break
            combos.append(combo)
    risks = []
    rows = frame.height
    for combo in combos:
        sizes = codes.group_by(list(combo)).len()["len"]
        risks.append(QiRisk(combo, float((sizes == 1).sum() / rows), len(sizes)))
    risks.sort(key=lambda r: (-r.unique_share, len(r.columns), r.columns))
    return risks, truncated
