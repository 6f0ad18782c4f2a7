"""The embedded DP executor: noise of the configured scale, intervals that hold, bounded
contributions, partition selection, and validation before anything is spent."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from veil.dp.execute import Settings, cost, run
from veil.dp.mechanisms import noise
from veil.dp.query import Query
from veil.errors import InputError

SETTINGS = Settings({"x": (0.0, 10.0)}, {"g": ("a", "b", "c")})


def _table(rows: int = 300, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"pid": np.arange(rows), "g": rng.choice(["a", "b", "c"], rows),
                         "x": rng.uniform(0, 10, rows), "k": rng.choice(["p", "q"], rows)})


def _draws(query: Query, frame: pl.DataFrame, n: int, measure: str = "pure", **spend) -> list:
    spent = cost(measure, spend.get("epsilon"), spend.get("delta"), spend.get("rho"))
    return [run(frame, query, SETTINGS, "pid", measure=measure, spend=spent, most_rows=1)
            for _ in range(n)]


def test_laplace_noise_on_a_sum_has_the_configured_scale() -> None:
    """Kolmogorov-Smirnov: the released sum minus the exact sum is Laplace(10 / epsilon)."""
    frame = _table()
    exact = float(frame["x"].sum())
    draws = _draws(Query("t").sum("x"), frame, 1500, epsilon=0.5)
    errors = np.array([d.frame["value"][0] - exact for d in draws])
    assert draws[0].mechanisms["sum_x"]["scale"] == pytest.approx(10 / 0.5)
    assert stats.kstest(errors, stats.laplace(scale=20.0).cdf).pvalue > 1e-3
    assert stats.kstest(errors, stats.laplace(scale=30.0).cdf).pvalue < 1e-3  # it can tell


def test_gaussian_noise_under_zcdp_has_the_configured_scale() -> None:
    frame = _table()
    exact = float(frame["x"].sum())
    draws = _draws(Query("t").sum("x"), frame, 1500, "zcdp", rho=0.125)
    sigma = 10 / math.sqrt(2 * 0.125)  # rho = (sensitivity / sigma)^2 / 2
    assert draws[0].mechanisms["sum_x"]["scale"] == pytest.approx(sigma)
    errors = np.array([d.frame["value"][0] - exact for d in draws])
    assert stats.kstest(errors, stats.norm(scale=sigma).cdf).pvalue > 1e-3


def test_intervals_cover_the_truth_at_least_one_minus_alpha() -> None:
    frame = _table()
    truth = {"count": frame.height, "mean_x": float(frame["x"].mean()),
             "stddev_x": float(frame["x"].std(ddof=0))}
    query = Query("t").count().mean("x").stddev("x")
    hits = {name: 0 for name in truth}
    draws = _draws(query, frame, 400, epsilon=1.0)
    for draw in draws:
        for row in draw.frame.iter_rows(named=True):
            hits[row["statistic"]] += row["ci_low"] <= truth[row["statistic"]] <= row["ci_high"]
    for name, hit in hits.items():
        # one-sided binomial test of "coverage >= 0.95": a fixed cut such as 0.93 fails ~3 % of
        # honest runs per statistic at 400 draws; this fails at most 1 in 10^4, and a 0.90 coverage
        # (360 of 400 hits) is still refused (p ~ 3e-5)
        coverage = stats.binomtest(hit, len(draws), 0.95, alternative="less")
        assert coverage.pvalue > 1e-4, (name, hit, len(draws))


def test_counts_are_discrete_and_the_accuracy_is_opendps() -> None:
    import opendp.prelude as dp

    mechanism = noise("pure", True, 1.0, 0.5)
    assert mechanism.scale == pytest.approx(2.0)
    assert mechanism.accuracy(0.05) == pytest.approx(
        dp.discrete_laplacian_scale_to_accuracy(2.0, 0.05))
    assert all(isinstance(v, int) for v in mechanism([5, 6, 7]))


def test_public_keys_release_every_key_even_empty_ones() -> None:
    frame = _table().filter(pl.col("g") != "c")
    result = _draws(Query("t").group_by("g").count(), frame, 1, epsilon=1.0)[0]
    assert result.frame["g"].to_list() == ["a", "b", "c"]


def test_one_person_with_many_rows_counts_at_most_max_rows() -> None:
    base = _table(200)
    heavy = pl.DataFrame({"pid": [7] * 500, "g": ["a"] * 500, "x": [10.0] * 500,
                          "k": ["p"] * 500})
    frame = pl.concat([base, heavy])
    settings = Settings({"x": (0.0, 10.0)}, {}, max_rows_per_person=2)
    spent = cost("pure", 50.0, None, None)  # little noise: the bound itself is visible
    counts = [run(frame, Query("t").count(), settings, "pid", measure="pure",
                  spend=spent).frame["value"][0] for _ in range(20)]
    assert abs(np.mean(counts) - (200 + 1)) < 3  # person 7: 1 base row + at most 2 - 1 more
    assert run(frame, Query("t").count(), settings, "pid", measure="pure",
               spend=spent).mechanisms["count"]["sensitivity"] == 2


def test_partition_selection_hides_rare_keys_and_needs_delta() -> None:
    rng = np.random.default_rng(3)
    frame = pl.DataFrame({"pid": np.arange(2001), "city": ["big"] * 2000 + ["lonely"],
                          "x": rng.uniform(0, 10, 2001)})
    query = Query("t").group_by("city").count()
    released = [set(d.frame["city"].to_list())
                for d in _draws(query, frame, 200, epsilon=1.0, delta=1e-6)]
    assert all(keys == {"big"} for keys in released)
    with pytest.raises(InputError, match="delta > 0"):
        _draws(query, frame, 1, epsilon=1.0)
    nobody = _draws(query.where("x", ">", 100.0), frame, 1, epsilon=1.0, delta=1e-6)[0].frame
    assert nobody.is_empty() and nobody.columns == ["city", "statistic", "value", "ci_low",
                                                     "ci_high"]


@pytest.mark.parametrize(("query", "why"), [
    (Query("t").sum("nope"), "unknown column"),
    (Query("t").sum("k"), "numeric"),
    (Query("t").mean("pid"), "needs bounds"),
    (Query("t").where("x", "=", "ten").count(), "numeric"),
    (Query("t").where("k", "=", 3).count(), "quoted string"),
    (Query("t").histogram("k"), "edges or public keys"),
    (Query("t").group_by("k").median("x"), "need public keys"),
])
def test_bad_queries_fail_before_any_noise(query, why) -> None:
    with pytest.raises(InputError, match=why):
        _draws(query, _table(), 1, epsilon=1.0, delta=1e-6)


@pytest.mark.parametrize(("spend", "why"), [
    ({"epsilon": 0}, "epsilon must be > 0"),
    ({"epsilon": -1}, "epsilon must be > 0"),
    ({"epsilon": float("nan")}, "finite"),
    ({"epsilon": float("inf")}, "finite"),
    ({"epsilon": 1, "delta": 1.0}, r"delta must be in \[0, 1\)"),
    ({"epsilon": 1, "delta": -0.1}, r"delta must be in \[0, 1\)"),
    ({"epsilon": "1"}, "finite number"),
    ({"rho": 1}, "do not pass rho"),
])
def test_bad_spends_are_refused(spend, why) -> None:
    with pytest.raises(InputError, match=why):
        cost("pure", spend.get("epsilon"), spend.get("delta"), spend.get("rho"))


def test_histograms_quantiles_and_variance() -> None:
    frame = _table(2000)
    result = _draws(Query("t").histogram("x", [0, 5, 10]).median("x").variance("x"), frame,
                    1, epsilon=30.0)[0].frame
    bins = result.filter(pl.col("statistic") == "histogram_x")
    assert bins["bin"].to_list() == ["[0, 5)", "[5, 10]"]
    assert abs(bins["value"].sum() - 2000) < 20
    median = result.filter(pl.col("statistic") == "median_x")["value"][0]
    assert abs(median - float(frame["x"].median())) < 0.5
    variance = result.filter(pl.col("statistic") == "variance_x")["value"][0]
    assert abs(variance - float(frame["x"].var(ddof=0))) < 1.0
