"""Dinur-Nissim reconstruction: exact subset sums give the secret column back; the same
attacker through a workspace's DP queries, on a budget of epsilon 1, learns next to nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from veil import Workspace
from veil.attacks.reconstruction import attack, reconstruct, through_workspace
from veil.errors import InputError, PrivacyBudgetError
from veil.keys import MasterKey

PEOPLE = 500


@pytest.fixture
def workspace(tmp_path: Path):
    rng = np.random.default_rng(7)
    frame = pl.DataFrame({"pid": np.arange(1, PEOPLE + 1),
                          "secret": (rng.random(PEOPLE) < 0.5).astype(np.int64),
                          "flag": rng.random(PEOPLE) < 0.5})
    with Workspace.create(tmp_path / "ws", master_key=MasterKey(os.urandom(32))) as ws:
        ws.ingest(frame, "people", subject_id="pid", classify=False)
        yield ws


def test_exact_answers_give_the_column_back_and_dp_answers_do_not(workspace) -> None:
    truth = workspace.read("people", columns=["secret"])["secret"].to_numpy()

    exact = attack(lambda subset: float(truth[subset].sum()), PEOPLE, queries=2 * PEOPLE,
                   seed=1, truth=truth)
    assert exact.queries_answered == 2 * PEOPLE and exact.stopped == "queries"
    assert exact.recovered_share >= 0.95

    workspace.dp_settings("people", bounds={"secret": (0, 1)})
    workspace.set_budget("people", epsilon=1.0)
    private = through_workspace(workspace, "people", "secret", "pid", queries=1_000,
                                epsilon_per_query=0.01, seed=1)
    assert (private.queries_asked, private.queries_answered) == (101, 100)
    assert private.stopped == "refused" and private.epsilon_spent == pytest.approx(1.0)
    assert workspace.budget("people").left.epsilon == pytest.approx(0.0, abs=1e-9)
    assert private.recovered_share <= 0.60
    assert exact.baseline_share == private.baseline_share < 0.6
    json.dumps(private.to_dict())


def test_counts_answer_when_the_secret_has_no_bounds(workspace) -> None:
    workspace.set_budget("people", epsilon=1.0)
    frame = workspace.read("people", columns=["pid", "flag"])
    result = through_workspace(workspace, "people", "flag", "pid", queries=4,
                               epsilon_per_query=0.2, seed=2, ids=frame["pid"].to_list(),
                               truth=frame["flag"].to_numpy())
    assert (result.queries_answered, result.stopped) == (4, "queries")
    assert result.epsilon_spent == pytest.approx(0.8)
    queries = [e for e in workspace.ledger.entries() if e.action == "dp.query"]
    assert len(queries) == 4
    assert "mac:" in queries[0].params  # the ids asked for are logged as MACs, not values


def test_reconstruct_solves_the_linear_program() -> None:
    rng = np.random.default_rng(0)
    bits = (rng.random(60) < 0.3).astype(np.int8)
    subsets = rng.random((120, 60)) < 0.5
    assert np.array_equal(reconstruct(subsets, subsets @ bits), bits)
    noisy = subsets @ bits + rng.normal(0, 0.3, 120)
    assert (reconstruct(subsets, noisy) == bits).mean() >= 0.95
    assert np.array_equal(reconstruct(np.zeros((0, 5), dtype=bool), np.zeros(0)),
                          np.zeros(5, dtype=np.int8))
    with pytest.raises(InputError, match=r"\(q, n\)"):
        reconstruct(subsets, noisy[:-1])
    with pytest.raises(InputError, match="finite"):
        reconstruct(subsets, np.full(120, np.nan))


def test_the_attacker_stops_when_refused_and_never_sees_the_truth() -> None:
    truth = np.array([1, 0, 1, 1, 0, 0, 1, 0] * 5)
    seen: list[np.ndarray] = []

    def budgeted(subset: np.ndarray) -> float:
        if len(seen) == 30:
            raise PrivacyBudgetError("0.1 asked, 0 left")
        seen.append(subset)
        return float(truth[subset].sum())

    result = attack(budgeted, 40, queries=100, seed=5, truth=truth)
    assert (result.queries_asked, result.queries_answered, result.stopped) == (31, 30, "refused")
    stopped = attack(lambda subset: None, 40, queries=10, seed=5, truth=truth)
    assert (stopped.queries_asked, stopped.queries_answered) == (1, 0)
    assert stopped.recovered_share == 0.5 == stopped.baseline_share  # all-zero guess
    with pytest.raises(InputError, match="one bit per person"):
        attack(budgeted, 41, queries=1, truth=truth)
    with pytest.raises(InputError, match="bits"):
        attack(budgeted, 40, queries=1, truth=truth * 2)
