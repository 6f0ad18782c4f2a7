"""veil.mpc: joint statistics equal plaintext, the precision rule holds, failures are loud."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from veil.errors import FederationError, InputError
from veil.mpc import Precision, choose_precision, joint
from veil.mpc.launch import free_ports, party_command, run_commands

B = (0.0, 100.0)
RTOL = 2.0**-20  # documented: about 2**-(resolution_bits - 2) relative, resolution_bits = 24


def _parts(n_parties: int, rows: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(*B, rows + 7 * i) for i in range(n_parties)]


def _run(stat: str, inputs: list, **kw: object):
    kw.setdefault("bounds", B)
    return joint(stat, inputs, accept_semi_honest=True, timeout=30, **kw)


@pytest.mark.parametrize("n_parties", [3, 5])
def test_mean_and_variance_equal_plaintext(n_parties: int) -> None:
    parts = _parts(n_parties, 400)
    pooled = np.concatenate(parts)
    mean = _run("mean", parts)
    assert mean.parties == n_parties
    assert mean.value == pytest.approx(pooled.mean(), rel=RTOL)
    var = _run("variance", parts)
    assert var.value == pytest.approx(pooled.var(ddof=1), rel=RTOL)


def test_count_sum_max_argmax_three_parties() -> None:
    parts = _parts(3, 300, seed=1)
    pooled = np.concatenate(parts)
    assert _run("count", parts).value == len(pooled)
    assert _run("sum", parts).value == pytest.approx(pooled.sum(), rel=RTOL)
    assert _run("max", parts).value == pytest.approx(pooled.max(), abs=2.0**-20)
    scalars = [np.array([40.5]), np.array([77.25]), np.array([12.0])]
    assert _run("argmax", scalars).value == 1


@pytest.mark.parametrize("n_parties", [3, 5])
def test_psi_cardinality_counts_the_common_ids(n_parties: int) -> None:
    sets = [np.array([f"id{k}" for k in range(5 * i, 5 * i + 40)]) for i in range(n_parties)]
    expected = len(set.intersection(*(set(s.tolist()) for s in sets)))
    dup = np.concatenate([sets[0], sets[0][:5]])  # duplicates inside one set count once
    assert _run("psi_cardinality", [dup, *sets[1:]]).value == expected > 0


def test_logreg_inference_matches_plaintext() -> None:
    rng = np.random.default_rng(2)
    w, b = np.array([0.8, -1.5, 0.3]), 0.25
    hospitals = [rng.uniform(-3, 3, (20, 3)), rng.uniform(-3, 3, (15, 3))]
    res = _run("logreg", [np.append(w, b), *hospitals], bounds=(-3.0, 3.0))
    for got, x in zip(res.value, hospitals, strict=True):
        want = 1 / (1 + np.exp(-(x @ w + b)))
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert res.outputs[0] is None  # the model owner learns no scores


def test_precision_rule_makes_1_over_n_representable() -> None:
    p = choose_precision("mean", max_rows=131072, bounds=B)
    assert 2.0**-p.frac_bits * 131072 <= 2.0**-24  # 1/n keeps 24 significant bits
    assert p.integer_bits >= np.log2(131072 * 100)  # the sum cannot overflow
    with pytest.raises(InputError, match="no fixed-point setting fits"):
        choose_precision("variance", max_rows=2**40, bounds=(-1e70, 1e70))


@pytest.mark.slow
def test_mean_of_100k_values_right_where_secfxp_64_16_is_wrong() -> None:
    rng = np.random.default_rng(3)
    pooled = rng.uniform(*B, 100_000)
    parts = np.array_split(pooled, 3)
    veil = _run("mean_elementwise", parts)
    assert veil.value == pytest.approx(pooled.mean(), rel=RTOL)
    assert _run("mean", parts).value == pytest.approx(pooled.mean(), rel=RTOL)
    naive = _run("mean_elementwise", parts, precision=Precision(64, 16),
                 allow_unsafe_precision=True)
    assert abs(naive.value - pooled.mean()) > 10  # 1/100000 rounds to 2**-16: about 76
    with pytest.raises(InputError, match="allow_unsafe_precision"):
        _run("mean", parts, precision=Precision(64, 16))


def test_silent_party_makes_the_others_fail_within_the_timeout(tmp_path: Path) -> None:
    peers = [f"127.0.0.1:{p}" for p in free_ports(3)]
    commands = []
    for i in range(2):
        path = tmp_path / f"p{i}.npy"
        np.save(path, np.arange(5.0))
        commands.append(party_command(i, peers, "mean", str(path), B, 64, timeout=3.0))
    commands.append([sys.executable, "-c", "import time; time.sleep(60)"])  # never answers
    start = time.perf_counter()
    with pytest.raises(FederationError, match=r"did not answer|no result"):
        run_commands(commands, deadline=20.0)
    assert time.perf_counter() - start < 15  # the parties' own 3 s watchdog, plus start-up


@pytest.mark.parametrize(("bad", "match"), [
    (np.array([1.0, np.nan]), "NaN"),
    (np.array([1.0, 250.0]), "outside the declared bounds"),
    (np.array(["a", "b"]), "int or float"),
    (np.array([True, False]), "int or float"),
    (np.array([]), "empty"),
    ([1.0, 2.0], "numpy array"),
])
def test_malformed_inputs_are_refused(bad: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        _run("mean", [np.array([1.0, 2.0]), bad, np.array([3.0])])


def test_a_party_refusing_its_file_fails_everyone_fast(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.npy", tmp_path / "bad.npy"
    np.save(good, np.array([1.0, 2.0]))
    np.save(bad, np.array([1.0, np.inf]))
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"party 1: .*NaN or infinite"):
        _run("sum", [good, bad, good], max_rows=16)
    assert time.perf_counter() - start < 15


def test_semi_honest_model_must_be_accepted_by_name() -> None:
    with pytest.raises(InputError, match="accept_semi_honest=True"):
        joint("mean", _parts(3, 5), bounds=B)
