"""Run a :class:`~veil.dp.query.Query` under differential privacy on a Polars frame.

Privacy unit: one person (the dataset's subject id) added or removed, with at most
``max_rows_per_person`` rows each (more are dropped at random before anything is computed), and
numeric values clamped to their declared bounds. Hence per released vector:

* counts: L1 (and L2) sensitivity ``n`` (one person's rows, however they spread over groups);
* sums: ``n * max(|lower|, |upper|)``;
* mean = noisy sum / noisy count; variance and standard deviation from noisy sums of squares,
  sums and counts, all taken around the bounds' midpoint (sensitivity ``n * (upper - lower) /
  2``, squared for the squares); quantiles by OpenDP's exponential mechanism over a grid of
  the bounds.

The budget of a query is split evenly over its noisy parts. Grouping keys are public when
the query or the dataset's settings list them (every listed key is released, missing ones as
noisy zeros); otherwise they are released by partition selection: a key appears only if its
noisy count clears ``n + b * ln(n / (2 delta))`` (b the count noise scale), so a key held by
one person alone is released with probability at most ``delta``. All noise is OpenDP's
(:mod:`veil.dp.mechanisms`); the exact aggregates never leave this module.
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from veil.dp.mechanisms import Measure, Noise, noise, private_quantile
from veil.dp.query import Aggregate, Predicate, Query
from veil.errors import InputError

__all__ = ["Cost", "DPResult", "Settings", "cost", "run"]

_PARTS = {"count": 1, "sum": 1, "mean": 2, "variance": 3, "stddev": 3, "quantile": 1,
          "histogram": 1}
_NEEDS_BOUNDS = {"sum", "mean", "variance", "stddev", "quantile"}
# The smallest spends a query may ask for: below them the noise drowns any answer, and at the
# tiniest floats its scale (sensitivity / budget share) overflows to infinity.
MIN_EPSILON, MIN_RHO = 1e-6, 1e-12
# Python types a public key of a column may have, by the column's type family (None: null).
_KEY_TYPES: dict[str, tuple[str, tuple[type, ...]]] = {
    "String": ("text", (str,)),
    "Categorical": ("text", (str,)),
    "Enum": ("text", (str,)),
    "Boolean": ("True or False", (bool,)),
    **dict.fromkeys([f"{s}Int{b}" for s in ("", "U") for b in (8, 16, 32, 64, 128)],
                    ("whole numbers", (int,))),
    "Float32": ("numbers", (int, float)),
    "Float64": ("numbers", (int, float)),
}


@dataclass(frozen=True)
class Settings:
    """A dataset's DP settings: value bounds, public keys and the contribution bound."""

    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    public_keys: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    max_rows_per_person: int = 1

    def __post_init__(self) -> None:
        n = self.max_rows_per_person
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"max_rows_per_person must be a whole number >= 1; got {n!r}")
        for column, pair in self.bounds.items():
            lower, upper = pair
            if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
                raise InputError(f"bounds of {column!r} must be finite with lower < upper; "
                                 f"got {pair!r}")

    def check(self, schema: Mapping[str, Any]) -> None:
        """Refuse public keys a query could not group by: each is null or of its column's type
        in ``schema`` (dtype names as the catalog stores them, or Polars dtypes). Columns
        ``schema`` lacks are left to queries, which refuse unknown columns by name."""
        for column, keys in self.public_keys.items():
            if column not in schema:
                continue
            dtype = str(schema[column])
            what, types = _KEY_TYPES.get(dtype.split("(")[0], ("", ()))
            if not types:
                raise InputError(f"public keys of {column!r} need a text, integer, float or "
                                 f"Boolean column; {column!r} is {dtype}")
            wrong = [k for k in keys if k is not None and (
                not isinstance(k, types) or (isinstance(k, bool) and bool not in types))]
            if wrong:
                found = sorted({type(k).__name__ for k in wrong})
                raise InputError(f"public keys of {column!r} must be {what}, as the column is "
                                 f"{dtype}; {len(wrong)} of {len(keys)} are {found}")

    @staticmethod
    def keys_from_text(column: str, dtype: str, texts: Sequence[str]) -> list[Any]:
        """Public keys typed on a command line, read as ``column``'s type ``dtype``."""
        kind = _KEY_TYPES.get(dtype.split("(")[0], ("text", (str,)))[1][-1]
        read: Callable[[str], Any] = {
            str: str, int: int, float: float,
            bool: lambda t: {"true": True, "false": False}[t.lower()]}[kind]
        try:
            return [read(t) for t in texts]
        except (KeyError, ValueError):
            raise InputError(f"public keys of {column!r} must be of its type {dtype}; "
                             f"{len(texts)} given, not all readable as one") from None

    def to_dict(self) -> dict[str, Any]:
        return {"bounds": {c: list(b) for c, b in self.bounds.items()},
                "public_keys": {c: list(k) for c, k in self.public_keys.items()},
                "max_rows_per_person": self.max_rows_per_person}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        return cls({c: (float(b[0]), float(b[1])) for c, b in data.get("bounds", {}).items()},
                   {c: tuple(k) for c, k in data.get("public_keys", {}).items()},
                   int(data.get("max_rows_per_person", 1)))


@dataclass(frozen=True)
class Cost:
    """What a query spends: (epsilon, delta) for a pure/approximate budget, rho for zCDP."""

    epsilon: float = 0.0
    delta: float = 0.0
    rho: float = 0.0


def cost(measure: Measure, epsilon: float | None, delta: float | None, rho: float | None
         ) -> Cost:
    """Validate the spend a caller asks for (fails closed on anything odd)."""
    def number(name: str, value: float | None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise InputError(f"{name} must be a finite number; got {value!r}")
        return float(value)

    if measure == "pure":
        if rho is not None:
            raise InputError("this dataset's budget is in (epsilon, delta); do not pass rho")
        eps = number("epsilon", epsilon)
        if eps < MIN_EPSILON:
            raise InputError(f"epsilon must be > 0, and at least {MIN_EPSILON:g} (below it the "
                             f"noise drowns any answer); got {eps:g}")
        dlt = number("delta", 0.0 if delta is None else delta)
        if not 0 <= dlt < 1:
            raise InputError(f"delta must be in [0, 1); got {dlt}")
        return Cost(epsilon=eps, delta=dlt)
    if epsilon is not None or delta is not None:
        raise InputError("this dataset's budget is zCDP; pass rho, not epsilon/delta")
    value = number("rho", rho)
    if value < MIN_RHO:
        raise InputError(f"rho must be > 0, and at least {MIN_RHO:g} (below it the noise "
                         f"drowns any answer); got {value:g}")
    return Cost(rho=value)


@dataclass(frozen=True)
class DPResult:
    """Released statistics, one row per group and statistic, with an interval at ``alpha``."""

    frame: pl.DataFrame  # group columns, statistic, value, ci_low, ci_high
    spent: Cost
    alpha: float
    mechanisms: dict[str, dict[str, Any]]  # per statistic: distribution, scale, budget share
    remaining: dict[str, Any] | None = None  # the dataset's budget after this release
    cached: bool = False  # an identical earlier release, returned again at no cost

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.frame.to_dicts(), "alpha": self.alpha,
                "spent": self.spent.__dict__, "mechanisms": self.mechanisms}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **extra: Any) -> DPResult:
        return cls(pl.DataFrame(data["rows"]), Cost(**data["spent"]), data["alpha"],
                   data["mechanisms"], **extra)


# -- validation ----------------------------------------------------------------------------------


def _check(query: Query, schema: Mapping[str, pl.DataType], settings: Settings, measure: Measure,
           spend: Cost) -> dict[str, tuple[Any, ...] | None]:
    """Everything that can be wrong with a query before it costs anything; returns the key
    set of each grouping column (None: to be released by partition selection)."""
    named = [a.column for a in query.aggregates if a.column] + list(query.group) + [
        p.column for p in query.predicates]
    unknown = sorted({c for c in named if c not in schema})
    if unknown:
        raise InputError(f"unknown column(s) {unknown} in dataset {query.dataset!r}")
    for aggregate in query.aggregates:
        column = aggregate.column
        if column is None or aggregate.kind == "count":
            continue
        numeric = schema[column].is_numeric() or schema[column] == pl.Boolean
        if aggregate.kind != "histogram" and not numeric:
            raise InputError(f"{aggregate.kind.upper()}({column}) needs a numeric column; "
                             f"{column!r} is {schema[column]}")
        if aggregate.kind in _NEEDS_BOUNDS and column not in settings.bounds:
            msg = (f"{aggregate.kind.upper()}({column}) needs bounds for {column!r}: declare "
                   "them in the dataset's DP settings (bounds={...}) or estimate them under DP "
                   "(Workspace.estimate_bounds); values are clamped to them")
            raise InputError(msg)
        if aggregate.kind == "histogram" and aggregate.edges is None and not (
                query.public_keys(column) or column in settings.public_keys):
            raise InputError(f"HISTOGRAM({column}) needs bin edges or public keys for {column!r}")
        if aggregate.kind == "histogram" and aggregate.edges is not None and not numeric:
            raise InputError(f"histogram edges need a numeric column; {column!r} is "
                             f"{schema[column]}")
    for predicate in query.predicates:
        _check_predicate(predicate, schema[predicate.column])
    keys = {c: query.public_keys(c) or settings.public_keys.get(c) for c in query.group}
    if any(k is None for k in keys.values()):
        if measure != "pure" or spend.delta <= 0:
            secret = [c for c, k in keys.items() if k is None]
            msg = (f"grouping by {secret} without public keys releases the keys themselves, "
                   "which needs an (epsilon, delta) budget and delta > 0; or declare the keys "
                   "public")
            raise InputError(msg)
        if any(a.kind in ("quantile", "histogram") for a in query.aggregates):
            raise InputError("quantiles and histograms by group need public keys")
    return keys


def _check_predicate(predicate: Predicate, dtype: pl.DataType) -> None:
    values = predicate.value if isinstance(predicate.value, tuple) else (predicate.value,)
    if predicate.op in ("is null", "is not null"):
        return
    for value in values:
        numeric_value = isinstance(value, int | float) and not isinstance(value, bool)
        if dtype.is_numeric() and not numeric_value:
            raise InputError(f"{predicate.column!r} is numeric; cannot compare it with "
                             f"{value!r}")
        if dtype in (pl.String, pl.Categorical) and not isinstance(value, str):
            raise InputError(f"{predicate.column!r} holds text; compare it with a quoted "
                             f"string, not {value!r}")


# -- execution -----------------------------------------------------------------------------------


def _filter(frame: pl.DataFrame, predicates: Sequence[Predicate]) -> pl.DataFrame:
    exprs = []
    for p in predicates:
        column = pl.col(p.column)
        exprs.append({
            "=": lambda c, v: c == v, "!=": lambda c, v: c != v, "<": lambda c, v: c < v,
            "<=": lambda c, v: c <= v, ">": lambda c, v: c > v, ">=": lambda c, v: c >= v,
            "in": lambda c, v: c.is_in(list(v)), "not in": lambda c, v: ~c.is_in(list(v)),
            "is null": lambda c, v: c.is_null(), "is not null": lambda c, v: c.is_not_null(),
        }[p.op](column, p.value))
    return frame.filter(*exprs) if exprs else frame


def _bound_contributions(frame: pl.DataFrame, subject_id: str, n: int,
                         most_rows: int | None) -> pl.DataFrame:
    """At most ``n`` rows per person, chosen at random; a no-op when no one has more (known
    from ``most_rows``, the dataset's largest per-person row count, computed once)."""
    if most_rows is not None and most_rows <= n:
        return frame
    order = pl.int_range(pl.len()).shuffle(seed=secrets.randbits(63))
    return frame.filter(order.over(subject_id) < n)


@dataclass
class _Plan:
    measure: Measure
    share: float  # epsilon or rho per noisy part
    delta: float
    rows: int  # max rows per person
    alpha: float
    mechanisms: dict[str, dict[str, Any]] = field(default_factory=dict)

    def noise(self, integer: bool, sensitivity: float) -> Noise:
        return noise(self.measure, integer, float(sensitivity), self.share)


def run(frame: pl.DataFrame, query: Query, settings: Settings, subject_id: str | None, *,
        measure: Measure, spend: Cost, alpha: float = 0.05,
        most_rows: int | None = None, ranges: Mapping[str, tuple[float, float]] | None = None
        ) -> DPResult:
    """Release ``query`` over ``frame`` spending ``spend`` (see the module docstring).

    ``most_rows`` (largest rows per person) and ``ranges`` (each column's min and max) are
    cached facts about the frame that let clamping and contribution bounding be skipped when
    they would change nothing; they are never released.
    """
    keys, plan = _prepare(query, frame.schema, settings, measure, spend, alpha)
    data = _filter(frame, query.predicates)
    if subject_id is not None:
        data = _bound_contributions(data, subject_id, plan.rows, most_rows)
    clamp = _clamps(query, settings, ranges or {})
    grid = _grid(data, query, keys, plan)
    rows: list[dict[str, Any]] = []
    for aggregate in query.aggregates:
        rows += _release(data, grid, aggregate, settings, clamp, plan)
    return _result(rows, spend, plan, query.group)


def _prepare(query: Query, schema: Mapping[str, pl.DataType], settings: Settings,
             measure: Measure, spend: Cost, alpha: float
             ) -> tuple[dict[str, tuple[Any, ...] | None], _Plan]:
    """Validate and split the budget evenly over the noisy parts (shared by every backend,
    so one query spends the same on each)."""
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1); got {alpha}")
    keys = _check(query, schema, settings, measure, spend)
    parts = sum(_PARTS[a.kind] for a in query.aggregates)
    released_keys = any(k is None for k in keys.values())
    parts += int(released_keys)
    total = spend.epsilon if measure == "pure" else spend.rho
    return keys, _Plan(measure, total / parts, spend.delta, settings.max_rows_per_person, alpha)


def _result(rows: list[dict[str, Any]], spend: Cost, plan: _Plan,
            group: Sequence[str] = ()) -> DPResult:
    """The released rows as a frame; with no rows (partition selection kept no group) still
    the columns a caller expects."""
    numbers = {"value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64}
    if not rows:
        frame = pl.DataFrame(schema={**dict.fromkeys(group, pl.String), "statistic": pl.String,
                                     **numbers})
    else:
        frame = pl.DataFrame(rows, schema_overrides=numbers, strict=False)
    return DPResult(frame, spend, plan.alpha, plan.mechanisms)


def _clamps(query: Query, settings: Settings, ranges: Mapping[str, tuple[float, float]]
            ) -> dict[str, pl.Expr]:
    """The clamped form of every bounded column used (plain when its range already fits)."""
    out = {}
    for column in {a.column for a in query.aggregates if a.column in settings.bounds}:
        assert column is not None
        lower, upper = settings.bounds[column]
        seen = ranges.get(column)
        expr = pl.col(column)
        if seen is None or seen[0] < lower or seen[1] > upper:
            expr = expr.cast(pl.Float64).clip(lower, upper)
        out[column] = expr
    return out


def _grid(data: pl.DataFrame, query: Query, keys: Mapping[str, tuple[Any, ...] | None],
          plan: _Plan) -> pl.DataFrame | None:
    """The groups to release: every public key combination, or the keys that survive
    partition selection (None when the query is not grouped)."""
    if not query.group:
        return None
    if all(k is not None for k in keys.values()):
        return _public_grid(query.group, keys, data.schema)
    return _select(data.group_by(query.group).agg(pl.len().alias("_n")), query.group, plan)


def _public_grid(group: Sequence[str], keys: Mapping[str, tuple[Any, ...] | None],
                 schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Every combination of the grouping columns' public keys."""
    combos = list(itertools.product(*(keys[c] or () for c in group)))
    columns = list(zip(*combos, strict=True)) if combos else [[] for _ in group]
    return pl.DataFrame({c: list(v) for c, v in zip(group, columns, strict=True)},
                        schema={c: schema[c] for c in group})


def _select(counts: pl.DataFrame, group: Sequence[str], plan: _Plan) -> pl.DataFrame:
    """Partition selection over the groups' bounded row counts (column ``_n``)."""
    threshold_noise = plan.noise(True, plan.rows)
    noisy = threshold_noise(counts["_n"].to_list())
    scale = threshold_noise.scale
    threshold = plan.rows + scale * math.log(plan.rows / (2 * plan.delta))
    kept = counts.filter(pl.Series(noisy, dtype=pl.Int64) >= threshold).drop("_n")
    plan.mechanisms["partition selection"] = {
        "distribution": threshold_noise.distribution, "scale": scale, "threshold": threshold,
        "budget": plan.share, "delta": plan.delta}
    return kept.sort(list(group))


def _by_group(data: pl.DataFrame, grid: pl.DataFrame | None, exprs: list[pl.Expr]
              ) -> pl.DataFrame:
    """Exact aggregates, one row per group of ``grid`` (zeros where a group has no rows)."""
    if grid is None:
        return data.select(exprs)
    found = data.group_by(grid.columns).agg(exprs)
    return grid.join(found, on=grid.columns, how="left", nulls_equal=True).fill_null(0)


def _release(data: pl.DataFrame, grid: pl.DataFrame | None, aggregate: Aggregate,
             settings: Settings, clamp: Mapping[str, pl.Expr], plan: _Plan
             ) -> list[dict[str, Any]]:
    kind, column = aggregate.kind, aggregate.column
    if kind == "histogram":
        return _histogram(data, grid, aggregate, settings, plan)
    if kind == "quantile":
        return _quantile(data, grid, aggregate, settings, plan)
    # Only the plain aggregations each statistic needs, in Polars' fast grouped paths: a cast
    # inside an aggregation, or COUNT(col) beside a SUM, makes a grouped query ~2.5x slower.
    # Null counts are O(1) in Polars, so COUNT(col) of a column without nulls is a row count.
    counted = pl.len() if column is None or data[column].null_count() == 0 else (
        pl.col(column).count())
    if kind == "count":
        exprs = [counted.alias("n")]
    else:
        assert column is not None
        value = clamp[column]
        exprs = [value.sum().alias("s")]
        if kind != "sum":
            exprs.append(counted.alias("n"))
        if kind in ("variance", "stddev"):
            exprs.append(value.cast(pl.Float64).pow(2).sum().alias("s2"))
    exact = _by_group(data, grid, exprs)
    keys = exact.select(grid.columns) if grid is not None else None
    return _noisy(aggregate, keys, exact, settings, plan)


def _noisy(aggregate: Aggregate, keys: pl.DataFrame | None, exact: pl.DataFrame,
           settings: Settings, plan: _Plan) -> list[dict[str, Any]]:
    """Noise and intervals for a count, sum, mean, variance or standard deviation, from its
    exact bounded parts per group (columns ``n``, ``s``, ``s2``; whichever it needs).

    A mean, variance or standard deviation is computed around the bounds' midpoint ``c``: the
    sums are shifted to those of ``x - c`` and ``(x - c)^2`` (exactly, from ``n``, ``s`` and
    ``s2``) before noise, so one person moves them by at most half the bounds' width (squared),
    not by the largest magnitude: less noise for the same budget (for glucose bounded to
    [40, 450]: 205 instead of 450)."""
    kind, column = aggregate.kind, aggregate.column
    count_noise = plan.noise(True, plan.rows)
    if kind == "count":
        counts = count_noise(exact["n"].to_list())
        half = count_noise.accuracy(plan.alpha)
        values = [max(c, 0) for c in counts]
        plan.mechanisms[aggregate.name] = _describe(count_noise, plan)
        return _rows(aggregate, keys, values, [max(c - half, 0) for c in counts],
                     [c + half for c in counts])
    assert column is not None
    lower, upper = settings.bounds[column]
    centre = midpoint((lower, upper))
    magnitude = max(abs(lower), abs(upper)) if kind == "sum" else (upper - lower) / 2
    sum_noise = plan.noise(False, plan.rows * magnitude)
    raw = exact["s"].cast(pl.Float64).to_numpy()
    n = exact["n"].to_numpy() if kind != "sum" else None
    sums = sum_noise((raw if n is None else raw - centre * n).tolist())
    if kind == "sum":
        half = sum_noise.accuracy(plan.alpha)
        plan.mechanisms[aggregate.name] = _describe(sum_noise, plan)
        return _rows(aggregate, keys, sums, [s - half for s in sums], [s + half for s in sums])
    counts = count_noise(exact["n"].to_list())
    parts = 2 if kind == "mean" else 3
    a_count = count_noise.accuracy(plan.alpha / parts)
    a_sum = sum_noise.accuracy(plan.alpha / parts)
    plan.mechanisms[aggregate.name] = {"sum": _describe(sum_noise, plan),
                                       "count": _describe(count_noise, plan)}
    # the mean of x - c, in [lower - c, upper - c]
    means = [_ratio(s, c, a_sum, a_count, lower - centre, upper - centre)
             for s, c in zip(sums, counts, strict=True)]
    if kind == "mean":
        return _rows(aggregate, keys, *([v + centre for v in part]
                                        for part in zip(*means, strict=True)))
    square_noise = plan.noise(False, plan.rows * magnitude * magnitude)
    assert n is not None
    squares = square_noise((exact["s2"].to_numpy() - 2 * centre * raw + centre**2 * n).tolist())
    plan.mechanisms[aggregate.name]["sum of squares"] = _describe(square_noise, plan)
    a_square = square_noise.accuracy(plan.alpha / parts)
    spread = ((upper - lower) / 2) ** 2
    out = []
    for (mean, mean_low, mean_high), s2, c in zip(means, squares, counts, strict=True):
        low_sq = 0.0 if mean_low <= 0 <= mean_high else min(mean_low ** 2, mean_high ** 2)
        high_sq = max(mean_low ** 2, mean_high ** 2)
        second, second_low, second_high = _ratio(s2, c, a_square, a_count, 0.0,
                                                 magnitude * magnitude)  # of (x - c)^2
        variance = min(max(second - mean * mean, 0.0), spread)
        var_low = min(max(second_low - high_sq, 0.0), spread)
        var_high = min(max(second_high - low_sq, 0.0), spread)
        if kind == "stddev":
            variance, var_low, var_high = (math.sqrt(variance), math.sqrt(var_low),
                                           math.sqrt(var_high))
        out.append((variance, var_low, var_high))
    return _rows(aggregate, keys, *zip(*out, strict=True))


def midpoint(bounds: tuple[float, float]) -> float:
    """The centre that means and variances are computed around (see :func:`_noisy`)."""
    return (bounds[0] + bounds[1]) / 2


def _ratio(total: float, count: float, a_total: float, a_count: float, lower: float,
           upper: float) -> tuple[float, float, float]:
    """A noisy ratio clamped to its possible range, with the interval that the two noise
    intervals imply (the whole range when the count could be zero)."""
    value = min(max(total / count, lower), upper) if count > 0 else (lower + upper) / 2
    if count - a_count <= 0:
        return value, lower, upper
    candidates = [(total + d) / (count + e) for d in (-a_total, a_total)
                  for e in (-a_count, a_count)]
    return value, max(min(candidates), lower), min(max(candidates), upper)


def _histogram(data: pl.DataFrame, grid: pl.DataFrame | None, aggregate: Aggregate,
               settings: Settings, plan: _Plan) -> list[dict[str, Any]]:
    column = aggregate.column
    assert column is not None
    if grid is not None:
        raise InputError("histograms are not grouped; group by the column instead")
    if aggregate.edges is not None:
        edges = aggregate.edges
        labels = [f"[{edges[i]:g}, {edges[i + 1]:g}{']' if i == len(edges) - 2 else ')'}"
                  for i in range(len(edges) - 1)]
        values = data[column].drop_nulls().cast(pl.Float64).clip(edges[0], edges[-1]).to_numpy()
        bins = np.clip(np.searchsorted(np.array(edges), values, side="right") - 1, 0,
                       len(edges) - 2)
        exact = np.bincount(bins, minlength=len(edges) - 1).tolist()
        keys = pl.DataFrame({"bin": labels})
    else:
        public = settings.public_keys.get(column)
        assert public is not None
        keys = pl.DataFrame({column: list(public)}, schema={column: data.schema[column]})
        found = data.group_by(column).agg(pl.len().alias("n"))
        exact = keys.join(found, on=column, how="left").fill_null(0)["n"].to_list()
    count_noise = plan.noise(True, plan.rows)
    counts = count_noise(exact)
    half = count_noise.accuracy(plan.alpha)
    plan.mechanisms[aggregate.name] = _describe(count_noise, plan)
    return _rows(aggregate, keys, [max(c, 0) for c in counts], [max(c - half, 0) for c in counts],
                 [c + half for c in counts])


def _quantile(data: pl.DataFrame, grid: pl.DataFrame | None, aggregate: Aggregate,
              settings: Settings, plan: _Plan) -> list[dict[str, Any]]:
    column = aggregate.column
    assert column is not None and aggregate.quantile is not None
    bounds = settings.bounds[column]
    groups = [data] if grid is None else [
        data.join(row, on=grid.columns, how="semi") for row in grid.iter_slices(1)]
    values, scale = [], 0.0
    for part in groups:
        released, scale = private_quantile(
            part[column].drop_nulls().to_numpy(), aggregate.quantile, bounds,
            measure=plan.measure, rows_per_person=plan.rows, budget=plan.share)
        values.append(released)
    plan.mechanisms[aggregate.name] = {
        "distribution": "exponential mechanism (OpenDP make_private_quantile)",
        "scale": scale, "budget": plan.share, "candidates": 257}
    none = [None] * len(values)
    return _rows(aggregate, grid, values, none, none)


def _describe(mechanism: Noise, plan: _Plan) -> dict[str, Any]:
    return {"distribution": mechanism.distribution, "scale": mechanism.scale,
            "sensitivity": mechanism.sensitivity, "budget": plan.share,
            "accuracy": mechanism.accuracy(plan.alpha)}


def _rows(aggregate: Aggregate, keys: pl.DataFrame | None, values: Sequence[Any],
          lows: Sequence[Any], highs: Sequence[Any]) -> list[dict[str, Any]]:
    groups = keys.to_dicts() if keys is not None else [{}] * len(values)
    return [{**g, "statistic": aggregate.name, "value": v, "ci_low": lo, "ci_high": hi}
            for g, v, lo, hi in zip(groups, values, lows, highs, strict=True)]
