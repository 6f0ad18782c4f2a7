"""veil.synth groundwork: coding, TVD, MST/AIM privacy accounting, utility, the numpy
estimator against mbi's, seeded sampling and progress reports."""

import itertools
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
    return fit_mst(correlated, 1.0, 1e-6, iters=500)


@pytest.fixture(scope="module")
def triple(correlated: Coded) -> Coded:
    """``correlated`` with c mostly (a + b) mod 3: a 3-way dependence."""
    rng = np.random.default_rng(11)
    a, b = correlated.columns["a"], correlated.columns["b"]
    c = np.where(rng.random(correlated.rows) < 0.8, (a + b) % 3, rng.integers(0, 3, len(a)))
    return Coded({**correlated.columns, "c": c}, dict(correlated.domain))


@pytest.fixture(scope="module")
def aim_run(triple: Coded):
    shares: list[float] = []
    model = fit_aim(triple, 1.0, 1e-6, rounds=8, round_iters=100, final_iters=300,
                    progress=shares.append)
    return model, shares


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


def test_mst_progress_rises_to_one(correlated: Coded) -> None:
    shares: list[float] = []
    fit_mst(correlated, 1.0, 1e-6, iters=50, progress=shares.append)
    assert len(shares) >= 3 and shares == sorted(shares) and shares[-1] == 1.0
    assert 0 < shares[0] < 1


def test_aim_spends_its_budget_and_beats_independent_on_3_way(triple: Coded, aim_run) -> None:
    fitted, _ = aim_run
    spent = math.fsum(s.rho for s in fitted.spends)
    assert fitted.rho == rho_for(1.0, 1e-6)
    assert math.isclose(spent, fitted.rho, rel_tol=1e-9)
    three = workload(triple.attributes, 3)
    synth = fitted.sample(triple.rows, seed=5)
    base = independent(triple, rng=np.random.default_rng(2))
    assert mean_tvd(triple, synth, three) < 0.5 * mean_tvd(triple, base, three)


def test_aim_recovers_a_strong_pair(correlated: Coded) -> None:
    fitted = fit_aim(correlated, 1.0, 1e-6, rounds=8, round_iters=100, final_iters=300)
    assert any({"a", "b"} <= set(c) for c in fitted.cliques)
    synth = fitted.sample(correlated.rows, seed=1)
    base = independent(correlated, rng=np.random.default_rng(1))
    pair = correlated.counts(("a", "b"))
    assert tvd(pair, synth.counts(("a", "b"))) < 0.05 < tvd(pair, base.counts(("a", "b")))


def test_aim_progress_reports_the_spent_share(aim_run) -> None:
    fitted, shares = aim_run
    assert shares == sorted(shares) and shares[-1] == 1.0
    assert len(shares) == len(fitted.cliques) + 2  # after 1-way, each round, and the end
    assert math.isclose(shares[-2], 1.0, rel_tol=1e-9)  # the last round spends what is left
    assert all(0 < s <= 1 for s in shares)


@pytest.mark.parametrize("which", ["mst", "aim"])
def test_seeded_sampling_is_reproducible(which: str, fitted, aim_run) -> None:
    model = fitted if which == "mst" else aim_run[0]
    np.random.seed(123)
    expected_next = np.random.random()
    np.random.seed(123)
    first = model.sample(500, seed=42)
    assert np.random.random() == expected_next  # the caller's global stream is untouched
    again, other = model.sample(500, seed=42), model.sample(500, seed=43)
    assert all(np.array_equal(first.columns[a], again.columns[a]) for a in first.attributes)
    assert any(not np.array_equal(first.columns[a], other.columns[a])
               for a in first.attributes)


@pytest.mark.parametrize("which", ["mst", "aim"])
def test_sampler_reproduces_the_model_marginals(which: str, fitted, aim_run,
                                                correlated: Coded) -> None:
    """The rows sampled must carry the fitted model's own marginals on its cliques (a broken
    sampler, like smartnoise-synth's, would not)."""
    model = fitted if which == "mst" else aim_run[0]
    synth = model.compress(model.sample(correlated.rows, seed=0))
    gaps = [tvd(synth.counts(c), model.marginal(c)) for c in model.model.cliques]
    assert len(gaps) >= 2 and max(gaps) < 0.02 and float(np.mean(gaps)) < 0.01


def test_numpy_estimator_matches_mbi_mirror_descent() -> None:
    from veil.synth._pgm import estimate, mbi

    pgm = mbi()
    rng = np.random.default_rng(0)
    domain = pgm.Domain(("a", "b", "c", "d"), (4, 3, 5, 2))
    cliques = [("a",), ("b",), ("c",), ("d",), ("b", "a"), ("c", "b", "d"), ("a", "d")]
    measurements = [pgm.LinearMeasurement(rng.uniform(50, 200, domain.size(c)), c,
                                           stddev=float(rng.uniform(1, 4))) for c in cliques]
    ours, _ = estimate(domain, measurements, iters=100)  # mbi runs whole blocks of 50
    theirs = pgm.estimation.MirrorDescent().estimate(domain, measurements, iters=100)
    for c in cliques:
        assert np.allclose(np.asarray(ours.project(c).datavector()),
                           np.asarray(theirs.project(c).datavector()), rtol=1e-8, atol=1e-8)


def test_calibrated_marginals_and_model_size_match_mbi() -> None:
    from veil.synth._pgm import Calibrated, estimate, mbi
    from veil.synth.aim import _model_mb

    pgm = mbi()
    rng = np.random.default_rng(1)
    sizes = {"a": 3, "b": 4, "c": 2, "d": 5, "e": 3}
    domain = pgm.Domain(tuple(sizes), tuple(sizes.values()))
    cliques = [("a", "b"), ("b", "c"), ("c", "d", "e"), ("a",), ("e",)]
    measurements = [pgm.LinearMeasurement(rng.uniform(20, 90, domain.size(c)), c, stddev=2.0)
                    for c in cliques]
    model, _ = estimate(domain, measurements, iters=50)
    cal = Calibrated(model)
    potentials = model.potentials
    axis = {a: i for i, a in enumerate(sizes)}
    operands: list = []
    for c in potentials.cliques:
        operands += [np.exp(np.asarray(potentials[c].values)), [axis[a] for a in c]]
    for query in [("a", "e"), ("d", "b"), ("e", "a", "c"), ("b",), ("c", "b")]:
        joint = np.einsum(*operands, [axis[a] for a in query]).ravel()
        assert np.allclose(cal.marginal(query), joint * float(model.total) / joint.sum())
    attrs = list(sizes)
    for _ in range(60):
        picked = [tuple(rng.choice(attrs, int(rng.integers(1, 4)), replace=False))
                  for _ in range(int(rng.integers(0, 6)))]
        assert math.isclose(_model_mb(sizes, picked),
                            pgm.junction_tree.hypothetical_model_size(domain, picked))
    chain = list(itertools.pairwise(attrs))  # a spanning tree of pairs
    assert math.isclose(_model_mb(sizes, chain),
                        pgm.junction_tree.hypothetical_model_size(domain, chain))
