"""One representation of a differentially private query, and the Python builder for it.

The SQL front end (:mod:`veil.dp.sql`) and :class:`Query`'s builder methods both produce this
form; the executor only ever sees it. It can hold nothing that is not a DP-safe aggregate:
aggregates over one dataset, simple predicates on its columns, and grouping by columns whose
keys are public or released under DP (partition selection).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from veil.errors import InputError

__all__ = ["AGGREGATES", "Aggregate", "Predicate", "Query"]

AGGREGATES = ("count", "sum", "mean", "variance", "stddev", "quantile", "histogram")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null")
Kind = Literal["count", "sum", "mean", "variance", "stddev", "quantile", "histogram"]


@dataclass(frozen=True)
class Aggregate:
    """One released statistic; ``column`` is None for COUNT(*)."""

    kind: Kind
    column: str | None = None
    alias: str | None = None
    quantile: float | None = None  # for kind "quantile" (0.5: the median)
    edges: tuple[float, ...] | None = None  # for a numeric histogram: bin edges

    def __post_init__(self) -> None:
        if self.kind not in AGGREGATES:
            raise InputError(f"unknown aggregate {self.kind!r}; veil releases {list(AGGREGATES)}")
        if self.column is None and self.kind != "count":
            raise InputError(f"{self.kind.upper()} needs a column")
        if self.kind == "quantile" and (self.quantile is None or not 0 < self.quantile < 1):
            raise InputError(f"a quantile must be strictly between 0 and 1; got {self.quantile!r}")
        if self.kind == "histogram" and self.edges is not None and (
                len(self.edges) < 2 or list(self.edges) != sorted(set(self.edges))):
            raise InputError("histogram edges must be at least two increasing numbers")

    @property
    def name(self) -> str:
        if self.alias:
            return self.alias
        if self.kind == "quantile":
            return f"quantile_{self.quantile:g}_{self.column}"
        return f"{self.kind}_{self.column}" if self.column else self.kind


@dataclass(frozen=True)
class Predicate:
    """``column <op> value``; predicates of a query are ANDed (a filter is public code)."""

    column: str
    op: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise InputError(f"unsupported comparison {self.op!r}; use one of {list(OPERATORS)}")
        if self.op in ("in", "not in"):
            if not isinstance(self.value, list | tuple) or not self.value:
                raise InputError(f"{self.op.upper()} needs a non-empty list of values")
            object.__setattr__(self, "value", tuple(self.value))
        elif self.op in ("is null", "is not null"):
            object.__setattr__(self, "value", None)
        elif isinstance(self.value, float) and not math.isfinite(self.value):
            raise InputError(f"cannot compare {self.column!r} with {self.value!r}")


@dataclass(frozen=True)
class Query:
    """Aggregates over one dataset, with optional filters and grouping.

    Build it fluently: ``Query("patients").where("age", ">=", 18).group_by("clinic_id")
    .count().mean("glucose_mg_dl")``, or parse SQL with :func:`veil.dp.sql.parse`.
    ``keys`` gives the public key set of grouping columns; grouping columns without one have
    their keys released under DP (partition selection, which needs a delta > 0).
    """

    dataset: str
    aggregates: tuple[Aggregate, ...] = ()
    predicates: tuple[Predicate, ...] = ()
    group: tuple[str, ...] = ()
    keys: tuple[tuple[str, tuple[Any, ...]], ...] = field(default=())

    # ---- builder

    def _add(self, aggregate: Aggregate) -> Query:
        names = {a.name for a in self.aggregates}
        if aggregate.name in names:
            raise InputError(f"two aggregates are both named {aggregate.name!r}; give an alias")
        return replace(self, aggregates=(*self.aggregates, aggregate))

    def count(self, column: str | None = None, *, alias: str | None = None) -> Query:
        return self._add(Aggregate("count", column, alias))

    def sum(self, column: str, *, alias: str | None = None) -> Query:
        return self._add(Aggregate("sum", column, alias))

    def mean(self, column: str, *, alias: str | None = None) -> Query:
        return self._add(Aggregate("mean", column, alias))

    def variance(self, column: str, *, alias: str | None = None) -> Query:
        return self._add(Aggregate("variance", column, alias))

    def stddev(self, column: str, *, alias: str | None = None) -> Query:
        return self._add(Aggregate("stddev", column, alias))

    def quantile(self, column: str, q: float, *, alias: str | None = None) -> Query:
        return self._add(Aggregate("quantile", column, alias, quantile=q))

    def median(self, column: str, *, alias: str | None = None) -> Query:
        return self.quantile(column, 0.5, alias=alias or f"median_{column}")

    def histogram(self, column: str, edges: Sequence[float] | None = None, *,
                  alias: str | None = None) -> Query:
        """Counts per value of ``column`` (its public keys), or per bin of ``edges``."""
        return self._add(Aggregate("histogram", column, alias,
                                   edges=tuple(float(e) for e in edges) if edges else None))

    def where(self, column: str, op: str, value: Any = None) -> Query:
        return replace(self, predicates=(*self.predicates, Predicate(column, op.lower(), value)))

    def group_by(self, *columns: str, keys: dict[str, Sequence[Any]] | None = None) -> Query:
        known = dict(self.keys)
        for column, values in (keys or {}).items():
            if column not in columns:
                raise InputError(f"keys given for {column!r}, which is not grouped by")
            if not values:
                raise InputError(f"the public keys of {column!r} are empty")
            known[column] = tuple(values)
        return replace(self, group=(*self.group, *columns), keys=tuple(sorted(known.items())))

    # ---- identity

    def columns(self) -> list[str]:
        """Every column the query reads: aggregated, filtered or grouped by (what the guard
        decides on)."""
        named = [a.column for a in self.aggregates if a.column is not None]
        named += [p.column for p in self.predicates] + list(self.group)
        return list(dict.fromkeys(named))

    def public_keys(self, column: str) -> tuple[Any, ...] | None:
        return dict(self.keys).get(column)

    def canonical(self) -> str:
        """A stable text of the query: equal queries, equal text (the release cache key)."""
        return json.dumps(asdict(self), sort_keys=True, default=str, separators=(",", ":"))

    def shape(self, mask: Callable[[Any], str]) -> str:
        """:meth:`canonical` with every literal a filter compares against replaced by
        ``mask(literal)``: the text that may be stored and logged (a filter such as
        ``ssn = '...'`` holds a person's value; a keyed ``mask`` keeps equal literals linkable
        without revealing them)."""
        def masked(p: Predicate) -> Predicate:
            if isinstance(p.value, tuple):
                return replace(p, value=tuple(mask(v) for v in p.value))
            return p if p.value is None else replace(p, value=mask(p.value))

        return replace(self, predicates=tuple(map(masked, self.predicates))).canonical()

    def fingerprint(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()
