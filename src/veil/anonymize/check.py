"""Check a release against its privacy models from the released table alone.

This is deliberately separate from the search: it groups the *released strings* with Polars
(not the search's integer codes), so a bug in encoding, pruning or suppression cannot hide
itself. The release path runs it on every release and refuses to return one that fails, and
the property tests run it on random tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from veil.anonymize.hierarchy import Hierarchy, as_strings
from veil.anonymize.models import (
    DistinctLDiversity,
    EntropyLDiversity,
    KAnonymity,
    PrivacyModel,
    TCloseness,
    emd_equal,
    emd_hierarchical,
    memberships,
)

__all__ = ["Achieved", "achieved"]


@dataclass(frozen=True)
class Achieved:
    """What a released table achieves: the smallest class, and per sensitive attribute the
    smallest distinct and entropy l and the largest t."""

    records: int
    classes: int
    k: int
    l_distinct: dict[str, int]
    l_entropy: dict[str, float]
    t: dict[str, float]

    def meets(self, model: PrivacyModel) -> bool:
        if self.records == 0:
            return True  # an empty release discloses nothing about anyone
        if isinstance(model, KAnonymity):
            return self.k >= model.k
        if isinstance(model, DistinctLDiversity):
            return self.l_distinct[model.attribute] >= model.l
        if isinstance(model, EntropyLDiversity):
            return self.l_entropy[model.attribute] >= model.l - 1e-9
        if isinstance(model, TCloseness):
            return self.t[model.attribute] <= model.t + 1e-9
        raise TypeError(f"no independent check for {type(model).__name__}")

    def to_dict(self) -> dict[str, object]:
        return {"records": self.records, "classes": self.classes, "k": self.k,
                "l_distinct": self.l_distinct, "l_entropy": self.l_entropy, "t": self.t}


def achieved(released: pl.DataFrame, quasi_identifiers: Sequence[str],
             sensitive: Sequence[str] = (), *, reference: pl.DataFrame | None = None,
             hierarchies: Mapping[str, Hierarchy] | None = None) -> Achieved:
    """Measure ``released`` (suppressed records already removed).

    t is measured against each sensitive attribute's distribution in ``reference`` (the
    original table; the release itself when None), with the hierarchical ground distance when
    ``hierarchies`` has one for that attribute, else the equal distance.
    """
    qi = list(quasi_identifiers)
    if released.height == 0:
        return Achieved(0, 0, 0, dict.fromkeys(sensitive, 0), dict.fromkeys(sensitive, 0.0),
                        dict.fromkeys(sensitive, 0.0))
    keyed = released.with_columns(pl.col(c).cast(pl.String) for c in (*qi, *sensitive))
    sizes = keyed.group_by(qi).len("n")
    l_distinct, l_entropy, t = {}, {}, {}
    for name in sensitive:
        counts = keyed.group_by([*qi, name]).len("n")
        per_class = counts.group_by(qi).agg(
            distinct=pl.len(),
            entropy=-((pl.col("n") / pl.col("n").sum())
                      * (pl.col("n") / pl.col("n").sum()).log()).sum())
        l_distinct[name] = int(per_class["distinct"].min())  # type: ignore[arg-type]
        l_entropy[name] = float(math.exp(per_class["entropy"].min()))  # type: ignore[arg-type]
        t[name] = _largest_t(counts, qi, name, reference if reference is not None else released,
                             (hierarchies or {}).get(name))
    return Achieved(released.height, sizes.height, int(sizes["n"].min()),  # type: ignore[arg-type]
                    l_distinct, l_entropy, t)


def _largest_t(counts: pl.DataFrame, qi: list[str], name: str, reference: pl.DataFrame,
               hierarchy: Hierarchy | None) -> float:
    values = as_strings(reference[name]).fill_null("<null>")
    domain = values.unique().sort().to_list()
    position = {v: i for i, v in enumerate(domain)}
    total = values.value_counts()
    q = np.zeros(len(domain))
    q[[position[v] for v in total[name].to_list()]] = total["count"].to_numpy()
    q /= q.sum()
    classes = counts.with_columns(pl.struct(qi).rank("dense").alias("_class") - 1)
    matrix = np.zeros((int(classes["_class"].max()) + 1, len(domain)))  # type: ignore[arg-type]
    columns = [position.get(v, -1) for v in classes[name].to_list()]
    if min(columns) < 0:
        return 1.0  # a released value the reference never holds: as far as can be
    np.add.at(matrix, (classes["_class"].to_numpy(), columns), classes["n"].to_numpy())
    p = matrix / matrix.sum(axis=1, keepdims=True)
    if hierarchy is None:
        return float(emd_equal(p, q).max())
    return float(emd_hierarchical(p, q, memberships(hierarchy, tuple(domain))).max())
