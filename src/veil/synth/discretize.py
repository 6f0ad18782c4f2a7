"""Tables to integer codes and back, from public metadata only.

The synthesizers work on integer-coded columns with a known domain size per column. The bins
and category lists must be public (given by the caller, never read off the data): a domain
derived from the data would itself leak, and would differ between neighbouring tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from veil.errors import InputError

__all__ = ["Binned", "Categorical", "Coded", "Spec", "decode", "encode"]


@dataclass(frozen=True)
class Binned:
    """A numeric column cut at public ``edges`` (ascending); values outside are clamped.
    ``whole``: the column holds whole numbers, so values drawn back are whole too."""

    edges: tuple[float, ...]
    whole: bool = False

    def __post_init__(self) -> None:
        if len(self.edges) < 2 or bool(np.any(np.diff(self.edges) <= 0)):
            raise InputError("bin edges must be at least two strictly ascending numbers")

    @classmethod
    def uniform(cls, lower: float, upper: float, bins: int, *, whole: bool = False) -> Binned:
        """``bins`` equal-width bins over the public range [lower, upper]."""
        if bins < 1 or not upper > lower:
            raise InputError("uniform bins need bins >= 1 and upper > lower")
        return cls(tuple(float(x) for x in np.linspace(lower, upper, bins + 1)), whole)

    @property
    def size(self) -> int:
        return len(self.edges) - 1

    def encode(self, values: pl.Series) -> np.ndarray:
        x = values.cast(pl.Float64).to_numpy()
        if np.isnan(x).any():
            raise InputError(f"column {values.name!r} has NaN values, which have no bin")
        # Clamping (not dropping) keeps one row per record, so the table's size is unchanged.
        return np.searchsorted(np.asarray(self.edges[1:-1]), x, side="right")

    def decode(self, codes: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Bin midpoints, or with ``rng`` a value drawn uniformly within each code's bin (a
        whole number for a ``whole`` column), which encodes back to the same code."""
        edges = np.asarray(self.edges)
        low, high = edges[:-1][codes], edges[1:][codes]
        if rng is None:
            middle = (low + high) / 2
            return np.round(middle) if self.whole else middle
        if not self.whole:
            return low + rng.random(len(codes)) * (high - low)
        first = np.ceil(low)
        last = np.where(codes == self.size - 1, np.floor(high), np.ceil(high) - 1)
        drawn = first + np.floor(rng.random(len(codes)) * (last - first + 1))
        return np.where(last >= first, drawn, np.round((low + high) / 2))


@dataclass(frozen=True)
class Categorical:
    """A column over a public list of categories; anything else is an input error."""

    categories: tuple[object, ...]

    def __post_init__(self) -> None:
        if not self.categories or len(set(self.categories)) != len(self.categories):
            raise InputError("categories must be a non-empty list without repeats")

    @property
    def size(self) -> int:
        return len(self.categories)

    def encode(self, values: pl.Series) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.categories)}
        codes = np.fromiter((index.get(v, -1) for v in values.to_list()), np.int64, len(values))
        if (codes < 0).any():
            raise InputError(f"column {values.name!r} has values outside its public categories")
        return codes

    def decode(self, codes: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return np.asarray(self.categories, dtype=object)[codes]


Spec = Binned | Categorical


@dataclass(frozen=True)
class Coded:
    """Integer-coded columns, each in ``range(domain[name])``."""

    columns: Mapping[str, np.ndarray]
    domain: Mapping[str, int]

    def __post_init__(self) -> None:
        if set(self.columns) != set(self.domain):
            raise InputError("coded columns and domain must name the same attributes")
        lengths = {len(v) for v in self.columns.values()}
        if len(lengths) > 1:
            raise InputError("coded columns must have equal lengths")
        for name, col in self.columns.items():
            if len(col) and (col.min() < 0 or col.max() >= self.domain[name]):
                raise InputError(f"codes of {name!r} fall outside its domain")

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(self.domain)

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def counts(self, clique: Sequence[str]) -> np.ndarray:
        """The flattened contingency table (marginal counts) over ``clique``."""
        shape = tuple(self.domain[a] for a in clique)
        flat = np.ravel_multi_index(tuple(self.columns[a] for a in clique), shape)
        return np.bincount(flat, minlength=int(np.prod(shape))).astype(np.float64)

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, domain: Mapping[str, int]) -> Coded:
        """A frame that is already integer-coded (such as the PGM benchmark tables)."""
        return cls({a: frame[a].to_numpy().astype(np.int64) for a in domain}, dict(domain))


def encode(frame: pl.DataFrame, specs: Mapping[str, Spec]) -> Coded:
    """Code every column named in ``specs``; nulls are refused, having no public code."""
    columns = {}
    for name, spec in specs.items():
        series = frame[name]
        nullable = isinstance(spec, Categorical) and None in spec.categories
        if series.null_count() and not nullable:
            raise InputError(f"column {name!r} has nulls; give them a category first")
        columns[name] = spec.encode(series)
    return Coded(columns, {name: spec.size for name, spec in specs.items()})


def decode(coded: Coded, specs: Mapping[str, Spec], *,
           rng: np.random.Generator | None = None) -> pl.DataFrame:
    """Values back from codes: categories, or for numeric columns bin midpoints (or, with
    ``rng``, values drawn within the bins)."""
    return pl.DataFrame({name: spec.decode(coded.columns[name], rng).tolist()
                         for name, spec in specs.items()})
