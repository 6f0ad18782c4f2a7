"""Run a :class:`~veil.dp.query.Query` on Spark, for tables that outgrow one machine.

The privacy unit, validation, budget split, sensitivities, noise and intervals are those of
:mod:`veil.dp.execute` (its helpers are shared, not copied), so one query spends the same budget
and reports the same ``mechanisms`` on both backends. Who does what:

* **Spark** (DataFrame API, on the cluster): reads the table, applies the WHERE predicates,
  drops rows outside the public keys (before bounding, as PipelineDP's own engine does, so a
  person's rows in other groups do not use up their bound; execute bounds first), clamps values
  to their declared bounds and projects each row to (person, group key, values).
* **PipelineDP** (its ``SparkRDDBackend``, on the cluster): per-person contribution bounding with
  ``SamplingPerPrivacyIdContributionBounder`` and ``max_contributions = max_rows_per_person``: at
  most that many rows per person over all groups, sampled. This is exactly execute's privacy
  unit (a count vector's L1 sensitivity is ``n``); the cross-/per-partition pair of bounds would
  let a person into ``n`` groups with ``n`` rows each, ``n * n`` rows. It then reduces each
  person's kept rows per group, and the groups over persons (``reduce_per_key``), to exact
  moments: row count, and per column the non-null count, sum and sum of squares of the clamped
  values less the bounds' midpoint (small numbers: the sums of squares stay exact in floats),
  turned back into plain sums for execute's ``_noisy``, which does the centring for the noise.
* **OpenDP** (:mod:`veil.dp.mechanisms`, on the driver): every bit of noise, including partition
  selection for keys that are not public. PipelineDP's ``DPEngine``, budget accountant and
  combiners' ``compute_metrics`` are never called, so it adds no noise of its own; its sampler
  uses Python's ``random`` only to choose which of a person's rows to keep, which the guarantee
  does not depend on.

Only one row of exact moments per group reaches the driver, and it never leaves this module.
Quantiles and histograms are not supported here yet. Needs classic Spark (not Spark Connect:
PipelineDP works on RDDs) with veil and pipeline-dp installed on the executors.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import polars as pl
import pyarrow.dataset as pads

try:
    import pipeline_dp
    from pipeline_dp import contribution_bounders
    from pipeline_dp.report_generator import ReportGenerator
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
except ImportError as error:  # pragma: no cover - depends on the installed extras
    msg = "the Spark backend needs the spark extra: pip install 'veil[spark]'"
    raise ImportError(msg) from error

from veil.dp.execute import (
    Cost,
    DPResult,
    Settings,
    _noisy,
    _Plan,
    _prepare,
    _public_grid,
    _result,
    _select,
    midpoint,
)
from veil.dp.mechanisms import Measure
from veil.dp.query import Aggregate, Query
from veil.errors import InputError

__all__ = ["run_spark"]

_UNSUPPORTED = ("quantile", "histogram")
_OPS: dict[str, Callable[[Column, Any], Column]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
    "in": lambda c, v: c.isin(list(v)), "not in": lambda c, v: ~c.isin(list(v)),
    "is null": lambda c, v: c.isNull(), "is not null": lambda c, v: c.isNotNull(),
}

Keys = Mapping[str, tuple[Any, ...] | None]
Moments = tuple[float, ...]  # rows, then per value column: non-null count, centred sum and
#                             sum of squares


def run_spark(source: DataFrame | str | os.PathLike[str], query: Query, settings: Settings,
              subject_id: str | None, *, measure: Measure, spend: Cost, alpha: float = 0.05,
              spark: SparkSession | None = None) -> DPResult:
    """Release ``query`` over a Spark DataFrame or a Parquet path, as :func:`execute.run` does.

    The query is checked against the source's schema before Spark runs anything, so a bad
    query costs neither budget nor a cluster job. ``spark`` reads a Parquet path (default: the
    active session); a DataFrame brings its own.
    """
    schema = _schema(source)
    keys, plan = _prepare(query, schema, settings, measure, spend, alpha)
    unsupported = sorted({a.kind.upper() for a in query.aggregates if a.kind in _UNSUPPORTED})
    if unsupported:
        raise InputError(f"{', '.join(unsupported)} not supported on the Spark backend yet; run "
                         "the query on the embedded backend (veil.dp.execute.run)")
    if subject_id is not None and subject_id not in schema:
        raise InputError(f"subject id column {subject_id!r} is not in dataset {query.dataset!r}")
    if isinstance(source, str | os.PathLike):
        session = spark or SparkSession.builder.getOrCreate()
        frame = session.read.parquet(os.fspath(source))
    else:
        frame = source
    moments = _exact_moments(frame, query, settings, subject_id, keys)
    grid = _grid(moments, query, keys, schema, plan)
    rows: list[dict[str, Any]] = []
    for aggregate in query.aggregates:
        exact = _exact(moments, grid, aggregate, query, settings)
        rows += _noisy(aggregate, grid, exact, settings, plan)
    return _result(rows, spend, plan, query.group)


def _schema(source: DataFrame | str | os.PathLike[str]) -> dict[str, pl.DataType]:
    """The source's columns as Polars types, read from metadata only (no Spark job)."""
    if isinstance(source, str | os.PathLike):
        try:
            arrow = pads.dataset(os.fspath(source), format="parquet").schema
        except (OSError, ValueError) as error:
            raise InputError(f"cannot read a Parquet table at {os.fspath(source)!r}: "
                             f"{error}") from error
        return dict(pl.from_arrow(arrow.empty_table()).schema)
    return {f.name: _polars_type(f.dataType) for f in source.schema.fields}


def _polars_type(spark: T.DataType) -> pl.DataType:
    """The Polars type standing for a Spark column's type in validation and key grids."""
    if isinstance(spark, T.DecimalType):
        return pl.Decimal(spark.precision, spark.scale)
    return {
        T.BooleanType: pl.Boolean(), T.ByteType: pl.Int8(), T.ShortType: pl.Int16(),
        T.IntegerType: pl.Int32(), T.LongType: pl.Int64(), T.FloatType: pl.Float32(),
        T.DoubleType: pl.Float64(), T.StringType: pl.String(), T.CharType: pl.String(),
        T.VarcharType: pl.String(), T.DateType: pl.Date(), T.BinaryType: pl.Binary(),
        T.TimestampType: pl.Datetime("us", "UTC"), T.TimestampNTZType: pl.Datetime("us"),
    }.get(type(spark), pl.Object())


def _value_columns(query: Query) -> list[str]:
    """The columns whose moments are aggregated, in the order of the moments."""
    return sorted({a.column for a in query.aggregates if a.column is not None})


def _exact_moments(frame: DataFrame, query: Query, settings: Settings, subject_id: str | None,
                   keys: Keys) -> dict[tuple[Any, ...], Moments]:
    """Exact moments per group after PipelineDP's contribution bounding, before any noise.

    Grouped by the query's columns (the empty tuple when not grouped); only groups with rows
    appear.
    """
    condition = [_OPS[p.op](F.col(p.column), p.value) for p in query.predicates]
    condition += [_in_keys(c, k) for c, k in keys.items() if k is not None]
    for clause in condition:
        frame = frame.filter(clause)
    values = [_value(c, query, settings) for c in _value_columns(query)]
    width = len(query.group)
    person = F.col(subject_id) if subject_id is not None else F.lit(None)
    rdd = frame.select(person, *(F.col(c) for c in query.group), *values).rdd
    backend = pipeline_dp.SparkRDDBackend(rdd.context)
    rows = backend.map(rdd, partial(_split, width), "Split into (person, group, values)")
    if subject_id is None:  # execute bounds nothing either: each row stands alone
        grouped = backend.map_tuple(rows, lambda _, key, value: (key, _moments([value])),
                                    "Moments per row")
    else:
        params = pipeline_dp.AggregateParams(metrics=[],
                                             max_contributions=settings.max_rows_per_person)
        bounder = contribution_bounders.SamplingPerPrivacyIdContributionBounder()
        bounded = bounder.bound_contributions(rows, params, backend,
                                              ReportGenerator(None, "run_spark"), _moments)
        grouped = backend.map_tuple(bounded, lambda person_key, acc: (person_key[1], acc),
                                    "Drop the person")
    return dict(backend.reduce_per_key(grouped, _add, "Moments per group").collect())


def _value(column: str, query: Query, settings: Settings) -> Column:
    """A column clamped to its bounds and centred on their midpoint where a sum needs it, else
    0.0 where not null (a count needs only that)."""
    value = F.col(column)
    summed = any(a.column == column and a.kind != "count" for a in query.aggregates)
    if not summed:
        return F.when(value.isNotNull(), F.lit(0.0))
    lower, upper = settings.bounds[column]
    clamped = F.least(F.greatest(value.cast("double"), F.lit(lower)), F.lit(upper))
    centred = clamped - F.lit(midpoint((lower, upper)))
    return F.when(value.isNotNull(), centred)  # greatest/least skip nulls: keep them null


def _in_keys(column: str, keys: Iterable[Any]) -> Column:
    """Rows whose ``column`` is one of ``keys`` (a None key matches nulls, as in execute)."""
    values = list(keys)
    present = [k for k in values if k is not None]
    inside = F.col(column).isin(present) if present else F.lit(False)
    return inside | F.col(column).isNull() if None in values else inside


def _split(width: int, row: Sequence[Any]) -> tuple[Any, tuple[Any, ...], tuple[Any, ...]]:
    return row[0], tuple(row[1:1 + width]), tuple(row[1 + width:])


def _moments(values: Sequence[Sequence[float | None]]) -> Moments:
    """Exact moments of some rows' values (PipelineDP's ``aggregate_fn``)."""
    out: list[float] = [len(values)]
    for column in zip(*values, strict=True):
        present = [v for v in column if v is not None]
        out += [len(present), sum(present), sum(v * v for v in present)]
    return tuple(out)


def _add(left: Moments, right: Moments) -> Moments:
    return tuple(a + b for a, b in zip(left, right, strict=True))


def _grid(moments: Mapping[tuple[Any, ...], Moments], query: Query, keys: Keys,
          schema: Mapping[str, pl.DataType], plan: _Plan) -> pl.DataFrame | None:
    """The groups to release, as execute chooses them (None when not grouped)."""
    if not query.group:
        return None
    if all(k is not None for k in keys.values()):
        return _public_grid(query.group, keys, schema)
    counts = pl.DataFrame([(*key, int(m[0])) for key, m in moments.items()], orient="row",
                          schema={**{c: schema[c] for c in query.group}, "_n": pl.Int64})
    return _select(counts, query.group, plan)


def _exact(moments: Mapping[tuple[Any, ...], Moments], grid: pl.DataFrame | None,
           aggregate: Aggregate, query: Query, settings: Settings) -> pl.DataFrame:
    """One aggregate's exact parts per group of ``grid`` (zeros for groups without rows), in
    the columns :func:`execute._noisy` reads: ``n``, ``s``, ``s2``."""
    columns = _value_columns(query)
    groups = [()] if grid is None else grid.rows()
    zeros = (0,) * (1 + 3 * len(columns))
    found = [moments.get(tuple(g), zeros) for g in groups]
    if aggregate.column is None:
        return pl.DataFrame({"n": [int(m[0]) for m in found]})
    at = 1 + 3 * columns.index(aggregate.column)
    c = midpoint(settings.bounds[aggregate.column])  # back from centred to plain sums
    return pl.DataFrame({"n": [int(m[at]) for m in found],
                         "s": [float(m[at + 1] + m[at] * c) for m in found],
                         "s2": [float(m[at + 2] + 2 * c * m[at + 1] + c * c * m[at])
                                for m in found]})
