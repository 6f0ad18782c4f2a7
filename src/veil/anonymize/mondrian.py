"""Mondrian: multidimensional local recoding (LeFevre, DeWitt and Ramakrishnan, ICDE 2006).

Full-domain generalization coarsens a value the same way in every record; Mondrian instead
cuts the table recursively, each time at the median of the attribute with the widest
normalised range in the current part, and keeps a cut only when both halves still meet every
privacy model (strict partitioning: the halves do not overlap). Each final part is released
with the smallest description that covers it: a numeric attribute as ``[lo, hi]`` (or the value
when the part holds one), any other attribute as its lowest common ancestor in the hierarchy.
Parts are small (k to 2k-1 records for k-anonymity), so far less information is lost than
with one generalization level for the whole column; the price is that cells of one column
are no longer comparable across records.

Attributes are ordered for cutting by their numeric value when the column is numeric and
otherwise by their path in the hierarchy, so siblings stay together and a cut rarely forces
a coarse common ancestor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from veil.anonymize.encoding import Encoded, Partition
from veil.anonymize.hierarchy import TOP
from veil.anonymize.lattice import failing_classes
from veil.anonymize.models import PrivacyModel
from veil.errors import PrivacyModelError

__all__ = ["MondrianResult", "mondrian"]


@dataclass(frozen=True)
class MondrianResult:
    """Which part each distinct row ends in, and the released value of each part."""

    part_of: np.ndarray  # (m,) part of each distinct row
    cells: list[tuple[str, ...]]  # per part, the released value of each quasi-identifier


def _ranks(encoded: Encoded, numeric: Sequence[bool]) -> list[np.ndarray]:
    """Per attribute, the cutting order of each raw code (see the module docstring)."""
    ranks = []
    for hierarchy, is_number in zip(encoded.hierarchies, numeric, strict=True):
        if is_number:
            keys = [float(v) for v in hierarchy.values]
            order = np.argsort(np.array(keys), kind="stable")
        else:
            paths = [tuple(reversed(row)) for row in hierarchy.rows]
            order = np.array(sorted(range(len(paths)), key=paths.__getitem__))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        ranks.append(rank)
    return ranks


def mondrian(encoded: Encoded, models: Sequence[PrivacyModel], numeric: Sequence[bool]
             ) -> MondrianResult:
    """Cut the table into parts that each meet ``models`` (see the module docstring).

    ``numeric[j]`` says whether quasi-identifier ``j`` is released as a numeric interval.
    Raises :class:`PrivacyModelError` when even the whole table fails the models.
    """
    whole = Partition.of(np.zeros(len(encoded.counts), dtype=np.int64), 1, encoded.counts,
                         encoded.sensitive_codes())
    if failing_classes(whole, models).any():
        described = ", ".join(str(m.describe()) for m in models)
        raise PrivacyModelError(f"the whole table does not meet {described}; "
                                "no release can")
    ranks = [rank[encoded.codes[:, j]] for j, rank in enumerate(_ranks(encoded, numeric))]
    spans = np.array([max(int(r.max()) - int(r.min()), 1) for r in ranks], dtype=float)
    part_of = np.zeros(len(encoded.counts), dtype=np.int64)
    finished: list[np.ndarray] = []
    todo = [np.arange(len(encoded.counts))]
    while todo:
        rows = todo.pop()
        halves = _cut(encoded, models, ranks, spans, rows)
        if halves is None:
            finished.append(rows)
        else:
            todo.extend(halves)
    cells = []
    for part, rows in enumerate(finished):
        part_of[rows] = part
        cells.append(tuple(_describe(encoded, j, rows, numeric[j])
                           for j in range(len(encoded.hierarchies))))
    return MondrianResult(part_of, cells)


def _cut(encoded: Encoded, models: Sequence[PrivacyModel], ranks: list[np.ndarray],
         spans: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The median cut of ``rows`` on the widest attribute that leaves two acceptable halves."""
    widths = np.array([(int(r[rows].max()) - int(r[rows].min())) / s
                       for r, s in zip(ranks, spans, strict=True)])
    counts = encoded.counts[rows]
    for j in np.argsort(-widths, kind="stable"):
        if widths[j] == 0:
            break
        values = ranks[j][rows]
        order = np.argsort(values, kind="stable")
        cumulative = np.cumsum(counts[order])
        middle = np.searchsorted(cumulative, cumulative[-1] / 2)
        split = values[order][middle]
        left = values <= split
        if left.all():  # the median value reaches the top: cut just below it instead
            left = values < split
        if not left.any():
            continue
        halves = Partition.of(left.astype(np.int64) ^ 1, 2, counts,
                              encoded.sensitive_codes(rows))
        if not failing_classes(halves, models).any():
            return rows[left], rows[~left]
    return None


def _describe(encoded: Encoded, j: int, rows: np.ndarray, is_number: bool) -> str:
    hierarchy = encoded.hierarchies[j]
    present = np.unique(encoded.codes[rows, j])
    if len(present) == 1:
        return hierarchy.rows[int(present[0])][0]
    if is_number:
        numbers = [float(hierarchy.rows[int(c)][0]) for c in present]
        return f"[{_number(min(numbers))}, {_number(max(numbers))}]"
    for level in range(1, hierarchy.height + 1):
        above = {hierarchy.rows[int(c)][level] for c in present}
        if len(above) == 1:
            return above.pop()
    return TOP


def _number(x: float) -> str:
    return str(int(x)) if x.is_integer() else f"{x:g}"


def numeric_columns(frame: pl.DataFrame, quasi_identifiers: Sequence[str]) -> list[bool]:
    """Which quasi-identifiers Mondrian releases as intervals: the numeric columns."""
    return [frame.schema[c].is_numeric() for c in quasi_identifiers]
