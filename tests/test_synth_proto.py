"""veil.synth groundwork: coding, TVD, MST's privacy accounting and its utility."""

import math

import numpy as np
import polars as pl
import pytest

from veil.synth import (
    Binned,
    Categorical,
    Coded,
    decode,
    encode,
    fit_aim,
    fit_mst,
    independent,
    mean_tvd,
    rho_for,
    tvd,
    workload,
)


@pytest.fixture(scope="module")
def correlated() -> Coded:
    """a and b agree 90% of the time; c and d are independent noise."""
    rng = np.random.default_rng(7)
    n = 20_000
    a = rng.integers(0, 4, n)
    b = np.where(rng.random(n) < 0.9, a, rng.integers(0, 4, n))
    columns = {"a": a, "b": b, "c": rng.integers(0, 3, n), "d": rng.integers(0, 5, n)}
    return Coded(columns, {"a": 4, "b": 4, "c": 3, "d": 5})


@pytest.fixture(scope="module")
def fitted(correlated: Coded):
    np.random.seed(3)
    return fit_mst(correlated, 1.0, 1e-6, iters=500)


def test_discretize_round_trip() -> None:
    frame = pl.DataFrame({"age": [17.0, 25.0, 64.0, 99.0], "sex": ["f", "m", "m", "f"]})
    specs = {"age": Binned.uniform(0, 100, 10), "sex": Categorical(("f", "m"))}
    coded = encode(frame, specs)
    assert coded.domain == {"age": 10, "sex": 2}
    assert coded.columns["age"].tolist() == [1, 2, 6, 9]
    back = decode(coded, specs)
    assert back["sex"].to_list() == frame["sex"].to_list()
    assert back["age"].to_list() == [15.0, 25.0, 65.0, 95.0]
    assert encode(back, specs).columns["age"].tolist() == [1, 2, 6, 9]


def test_tvd_of_a_table_with_itself_is_zero(correlated: Coded) -> None:
    for ways in (1, 2, 3):
        assert mean_tvd(correlated, correlated, workload(correlated.attributes, ways)) == 0.0


def test_mst_keeps_a_strong_pair_better_than_independent(correlated: Coded, fitted) -> None:
    assert ("a", "b") in fitted.cliques or ("b", "a") in fitted.cliques
    synth = fitted.sample(correlated.rows)
    base = independent(correlated, rng=np.random.default_rng(1))
    pair = correlated.counts(("a", "b"))
    assert tvd(pair, synth.counts(("a", "b"))) < 0.05 < tvd(pair, base.counts(("a", "b")))


def test_mst_spends_exactly_the_requested_rho(fitted) -> None:
    rho = rho_for(1.0, 1e-6)
    assert fitted.rho == rho
    assert math.isclose(math.fsum(s.rho for s in fitted.spends), rho, rel_tol=1e-9)
    assert math.fsum(s.rho for s in fitted.spends) <= rho * (1 + 1e-12)
    # 4 one-way, 3 tree edges chosen, 3 two-way measurements.
    assert len(fitted.spends) == 10


def test_aim_spends_its_budget_and_beats_independent_on_3_way(correlated: Coded) -> None:
    rng = np.random.default_rng(11)
    a, b = correlated.columns["a"], correlated.columns["b"]
    c = np.where(rng.random(correlated.rows) < 0.8, (a + b) % 3, rng.integers(0, 3, len(a)))
    data = Coded({**correlated.columns, "c": c}, dict(correlated.domain))
    np.random.seed(5)
    fitted = fit_aim(data, 1.0, 1e-6, rounds=8, round_iters=100, final_iters=500)
    assert math.isclose(math.fsum(s.rho for s in fitted.spends), rho_for(1.0, 1e-6),
                        rel_tol=1e-9)
    three = workload(data.attributes, 3)
    synth = fitted.sample(data.rows)
    base = independent(data, rng=np.random.default_rng(2))
    assert mean_tvd(data, synth, three) < 0.5 * mean_tvd(data, base, three)
