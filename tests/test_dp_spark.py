"""The Spark backend (PipelineDP contribution bounding, OpenDP noise) in Spark local mode: it
answers like the embedded backend, spends the same, bounds a person's rows, and checks a query
before Spark runs anything."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pyspark.sql import DataFrame, SparkSession

from veil.dp.execute import Settings, cost, run
from veil.dp.query import Query
from veil.dp.spark import _exact_moments, run_spark
from veil.errors import InputError

pytestmark = [
    pytest.mark.slow,
    # Spark 4's session start-up imports pyspark.testing, which warns about pandas 3; veil's
    # Spark path never touches pandas.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

CLINICS = ("A", "B", "C", "D", "E")
SETTINGS = Settings({"x": (0.0, 100.0)}, {"clinic": CLINICS})
SCALES = 12  # Laplace/Gaussian noise beyond 12 scales: below 1e-5 per value


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    before = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers import veil from this venv
    session = (SparkSession.builder.master("local[1]").appName("veil-test")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if before is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = before


def _table(rows: int = 2000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"pid": np.arange(rows), "clinic": rng.choice(CLINICS, rows),
                         "x": rng.uniform(0, 100, rows)})


def _to_spark(spark: SparkSession, frame: pl.DataFrame) -> DataFrame:
    return spark.createDataFrame(frame.rows(), schema="pid long, clinic string, x double")


def _values(frame: pl.DataFrame) -> dict[tuple[str, str], float]:
    return {(r["clinic"], r["statistic"]): r["value"] for r in frame.to_dicts()}


@pytest.mark.parametrize(("measure", "budget"), [("pure", {"epsilon": 4.0}),
                                                 ("zcdp", {"rho": 2.0})])
def test_count_sum_mean_per_clinic_agree_with_the_embedded_backend(
        spark: SparkSession, measure: str, budget: dict[str, float]) -> None:
    frame = _table()
    query = Query("patients").group_by("clinic").count().sum("x").mean("x")
    spend = cost(measure, budget.get("epsilon"), None, budget.get("rho"))
    released = run_spark(_to_spark(spark, frame), query, SETTINGS, "pid", measure=measure,
                         spend=spend)
    embedded = run(frame, query, SETTINGS, "pid", measure=measure, spend=spend)

    assert released.mechanisms == embedded.mechanisms  # same scales, same budget shares
    assert released.spent == embedded.spent
    assert released.frame.schema == embedded.frame.schema
    assert released.frame.select("clinic", "statistic").equals(
        embedded.frame.select("clinic", "statistic"))
    exact = frame.group_by("clinic").agg(pl.len().alias("n"), pl.col("x").sum().alias("s"))
    count_scale = released.mechanisms["count"]["scale"]
    sum_scale = released.mechanisms["sum_x"]["scale"]
    spark_values, embedded_values = _values(released.frame), _values(embedded.frame)
    for clinic, n, s in exact.iter_rows():
        tolerance = {"count": SCALES * count_scale, "sum_x": SCALES * sum_scale,
                     "mean_x": SCALES * (sum_scale + 100 * count_scale) / n}
        truth = {"count": n, "sum_x": s, "mean_x": s / n}
        for statistic, within in tolerance.items():
            value = spark_values[clinic, statistic]
            assert abs(value - truth[statistic]) <= within, (clinic, statistic)
            assert abs(value - embedded_values[clinic, statistic]) <= 2 * within


def test_parquet_path_with_where_variance_and_partition_selection(
        spark: SparkSession, tmp_path: Path) -> None:
    frame = _table(seed=1)
    path = tmp_path / "patients.parquet"
    frame.write_parquet(path)
    settings = Settings({"x": (0.0, 100.0)})  # clinic keys not public: partition selection
    query = Query("patients").where("x", ">=", 10).group_by("clinic").count().stddev("x")
    spend = cost("pure", 8.0, 1e-6, None)
    released = run_spark(path, query, settings, "pid", measure="pure", spend=spend,
                         spark=spark)
    embedded = run(frame, query, settings, "pid", measure="pure", spend=spend)

    assert released.mechanisms == embedded.mechanisms
    assert "partition selection" in released.mechanisms
    assert released.frame.select("clinic", "statistic").equals(
        embedded.frame.select("clinic", "statistic"))  # ~360 rows a clinic: all kept
    kept = frame.filter(pl.col("x") >= 10)
    exact = kept.group_by("clinic").agg(pl.len().alias("n"), pl.col("x").std(ddof=0))
    values = _values(released.frame)
    for clinic, n, stddev in exact.iter_rows():
        assert abs(values[clinic, "count"] - n) <= SCALES * released.mechanisms["count"]["scale"]
        assert abs(values[clinic, "stddev_x"] - stddev) < 3.0


def test_a_person_with_many_rows_contributes_at_most_max_rows_per_person(
        spark: SparkSession) -> None:
    others = [(i, CLINICS[i % 5], 80.0) for i in range(100)]
    heavy = [(999, CLINICS[j % 5], 20.0) for j in range(50)]
    data = spark.createDataFrame(others + heavy, schema="pid long, clinic string, x double")
    settings = Settings({"x": (0.0, 100.0)}, {"clinic": CLINICS}, max_rows_per_person=2)
    query = Query("t").group_by("clinic").count().sum("x")

    bounded = _exact_moments(data, query, settings, "pid", {"clinic": CLINICS})
    from_heavy = {key[0]: m[0] - 20 for key, m in bounded.items()}  # 20 others per clinic
    assert all(0 <= rows <= 2 for rows in from_heavy.values())
    assert sum(from_heavy.values()) == 2
    centred = sum(m[2] for m in bounded.values())  # sums are taken around the midpoint, 50
    assert centred == pytest.approx(100 * 30.0 + 2 * -30.0)

    ungrouped = _exact_moments(data, Query("t").count(), settings, "pid", {})
    assert ungrouped[()][0] == 102
    unbounded = _exact_moments(data, Query("t").count(), settings, None, {})
    assert unbounded[()][0] == 150  # without a subject id each row stands alone: it can tell


def test_a_bad_query_fails_before_spark_runs_anything(spark: SparkSession,
                                                      tmp_path: Path) -> None:
    data = _to_spark(spark, _table(50))
    path = tmp_path / "t.parquet"
    _table(50).write_parquet(path)
    spend = cost("pure", 1.0, None, None)
    context = spark.sparkContext
    context.setJobGroup("veil-bad-query", "validation only")
    try:
        with pytest.raises(InputError, match="unknown column"):
            run_spark(data, Query("t").sum("nope"), SETTINGS, "pid", measure="pure",
                      spend=spend)
        with pytest.raises(InputError, match="unknown column"):
            run_spark(path, Query("t").group_by("ward").count(), SETTINGS, "pid",
                      measure="pure", spend=spend, spark=spark)
        with pytest.raises(InputError, match="subject id"):
            run_spark(data, Query("t").count(), SETTINGS, "person", measure="pure",
                      spend=spend)
        with pytest.raises(InputError, match="not supported on the Spark backend"):
            run_spark(data, Query("t").median("x"), SETTINGS, "pid", measure="pure",
                      spend=spend)
        assert context.statusTracker().getJobIdsForGroup("veil-bad-query") == []
        data.count()  # a real job is seen in the same group: the check can tell
        assert context.statusTracker().getJobIdsForGroup("veil-bad-query")
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
