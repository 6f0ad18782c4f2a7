"""A table reduced to what anonymization needs: integer codes and counts.

Rows that agree on every quasi-identifier and sensitive value are collapsed into one distinct
row with a count, so a search step costs as much as the table has distinct combinations
(18,109 for the 30,162 rows of Adult), not rows. For a node of the generalization lattice
(one level per quasi-identifier) :meth:`Encoded.partition` groups the distinct rows into
equivalence classes with their sizes and, per sensitive attribute, value histograms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import polars as pl

from veil.anonymize.hierarchy import Hierarchy, as_strings
from veil.errors import HierarchyError, InputError

__all__ = ["Encoded", "Partition", "encode"]


@dataclass(frozen=True)
class Partition:
    """Equivalence classes of some rows.

    ``group[i]`` is the class of row ``i`` (a distinct row of the table), ``counts[i]`` the
    records it stands for and ``sensitive[name] = (codes, width)`` its sensitive values;
    ``sizes[c]`` is the records in class ``c`` and ``histogram(name)[c, s]`` those of class
    ``c`` with sensitive value ``s`` (computed when a model first asks: k-anonymity never
    does).
    """

    group: np.ndarray
    sizes: np.ndarray
    counts: np.ndarray
    sensitive: Mapping[str, tuple[np.ndarray, int]]
    _hist: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, group: np.ndarray, classes: int, counts: np.ndarray,
           sensitive: Mapping[str, tuple[np.ndarray, int]]) -> Partition:
        sizes = np.bincount(group, weights=counts, minlength=classes).astype(np.int64)
        return cls(group, sizes, counts, sensitive)

    @property
    def classes(self) -> int:
        return len(self.sizes)

    def histogram(self, name: str) -> np.ndarray:
        if name not in self._hist:
            codes, width = self.sensitive[name]
            flat = np.bincount(self.group * width + codes, weights=self.counts,
                               minlength=self.classes * width)
            self._hist[name] = flat.astype(np.int64).reshape(self.classes, width)
        return self._hist[name]


@dataclass(frozen=True)
class Encoded:
    """The distinct rows of a table as codes (see the module docstring)."""

    quasi_identifiers: tuple[str, ...]
    hierarchies: tuple[Hierarchy, ...]
    codes: np.ndarray  # (m, d) raw-value codes (rows of each hierarchy)
    counts: np.ndarray  # (m,) records per distinct row
    sensitive: Mapping[str, np.ndarray]  # name -> (m,) value codes
    sensitive_values: Mapping[str, tuple[str, ...]]  # name -> the value of each code
    row_of: np.ndarray  # (n,) the distinct row of each record of the table
    row_codes: tuple[tuple[np.ndarray, ...], ...]  # [attribute][level] code of each row
    level_sizes: tuple[tuple[int, ...], ...]  # [attribute][level] number of codes

    @property
    def records(self) -> int:
        return int(self.counts.sum())

    @property
    def heights(self) -> tuple[int, ...]:
        return tuple(h.height for h in self.hierarchies)

    def partition(self, levels: Sequence[int]) -> Partition:
        """Group the distinct rows by their values generalized to ``levels``."""
        columns = [self.row_codes[j][level] for j, level in enumerate(levels)]
        radix = [self.level_sizes[j][level] for j, level in enumerate(levels)]
        if math.prod(radix) < 2 ** 62:
            key = np.zeros(len(self.counts), dtype=np.int64)
            for width, column in zip(radix, columns, strict=True):
                key *= width
                key += column
            group, uniq = pd.factorize(key)  # hashing: about 3x faster than a sort here
            classes = len(uniq)
        else:  # too many combinations for one integer key: group the code rows themselves
            _, group = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)
            classes = int(group.max()) + 1
        return Partition.of(group.reshape(-1).astype(np.int64, copy=False), classes,
                            self.counts, self.sensitive_codes())

    def sensitive_codes(self, rows: np.ndarray | None = None
                        ) -> dict[str, tuple[np.ndarray, int]]:
        """Per sensitive attribute, the codes of the distinct rows (or of ``rows``) and the
        number of values, as :class:`Partition` takes them."""
        return {name: (codes if rows is None else codes[rows],
                       len(self.sensitive_values[name]))
                for name, codes in self.sensitive.items()}

    def sensitive_totals(self, name: str) -> np.ndarray:
        """Records per value of a sensitive attribute over the whole table."""
        return np.bincount(self.sensitive[name], weights=self.counts,
                           minlength=len(self.sensitive_values[name])).astype(np.int64)


def encode(frame: pl.DataFrame, quasi_identifiers: Sequence[str],
           hierarchies: Mapping[str, Hierarchy], sensitive: Sequence[str] = ()) -> Encoded:
    """Codes for ``frame``; every quasi-identifier needs a hierarchy that covers its values."""
    qi = tuple(quasi_identifiers)
    _check_columns(frame, qi, sensitive)
    missing = [c for c in qi if c not in hierarchies]
    if missing:
        raise HierarchyError(f"no hierarchy for quasi-identifier(s) {missing}")
    hs = tuple(hierarchies[c] for c in qi)
    columns = {f"q{j}": pl.Series(h.codes(frame[c])) for j, (c, h) in enumerate(zip(qi, hs,
                                                                                     strict=True))}
    values: dict[str, tuple[str, ...]] = {}
    for j, name in enumerate(sensitive):
        strings = as_strings(frame[name]).fill_null("<null>")
        physical = strings.cast(pl.Categorical)
        values[name] = tuple(physical.cat.get_categories().to_list())
        columns[f"s{j}"] = physical.to_physical().cast(pl.Int64)
    table = pl.DataFrame(columns)
    grouped = table.group_by(list(columns)).len("n").with_row_index("distinct")
    row_of = table.join(grouped.select(*columns, "distinct"), on=list(columns), how="left",
                        maintain_order="left")["distinct"].to_numpy().astype(np.int64)
    codes = np.stack([grouped[f"q{j}"].to_numpy() for j in range(len(qi))], axis=1) if qi else (
        np.zeros((grouped.height, 0), dtype=np.int32))
    sens = {name: grouped[f"s{j}"].to_numpy().astype(np.int64)
            for j, name in enumerate(sensitive)}
    codes = codes.astype(np.int64)
    maps = tuple(tuple(h.level_codes()) for h in hs)
    rows = tuple(tuple(m[codes[:, j]].astype(np.int64) for m in levels)
                 for j, levels in enumerate(maps))
    sizes = tuple(tuple(int(m.max()) + 1 for m in levels) for levels in maps)
    return Encoded(qi, hs, codes, grouped["n"].to_numpy().astype(np.int64), sens, values,
                   row_of, rows, sizes)


def _check_columns(frame: pl.DataFrame, qi: Sequence[str], sensitive: Sequence[str]) -> None:
    if not isinstance(frame, pl.DataFrame):
        raise InputError(f"anonymization needs a polars DataFrame; got {type(frame).__name__}")
    if frame.height == 0:
        raise InputError("cannot anonymize an empty table")
    if not qi:
        raise InputError("name at least one quasi-identifier")
    unknown = [c for c in (*qi, *sensitive) if c not in frame.columns]
    if unknown:
        msg = f"unknown column(s) {unknown}; the table has {frame.columns}"
        raise InputError(msg)
    if len(set(qi)) != len(qi) or len(set(sensitive)) != len(sensitive):
        raise InputError("a column is named twice")
    both = sorted(set(qi) & set(sensitive))
    if both:
        raise InputError(f"column(s) {both} cannot be quasi-identifier and sensitive at once")
