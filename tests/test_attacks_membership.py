"""Membership inference: the metrics, the batched references, and the attacks' power.

The attacks must find members of a model that memorised them (an over-fit MLP), find
nothing in a model that never saw anyone (its output does not depend on membership), and the
references trained at once must be R independent trainings, not one blended model.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from veil.attacks.membership import METHODS, confidence, lira, loss_scores, membership
from veil.attacks.metrics import dp_tpr_bound, roc
from veil.attacks.references import Recipe, layers_of, train_references
from veil.errors import InputError


def _data(rows: int = 1200, width: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, width)).astype(np.float32)
    y = ((x @ rng.normal(size=width) + rng.normal(size=rows) * 3) > 0).astype(np.int64)
    return x, y


def test_the_dp_ceiling_is_the_tradeoff_curve_of_epsilon_delta() -> None:
    assert dp_tpr_bound(0.01, 1.0, 0.0) == pytest.approx(math.e * 0.01)
    assert dp_tpr_bound(0.01, 0.0, 0.0) == pytest.approx(0.01)  # no leakage: chance
    assert dp_tpr_bound(0.5, 1.0, 0.0) == pytest.approx(1 - math.exp(-1) * 0.5)
    assert dp_tpr_bound(0.001, 50.0, 0.0) == 1.0


def test_roc_figures_and_their_intervals() -> None:
    rng = np.random.default_rng(1)
    separated = roc(rng.normal(5, 1, 500), rng.normal(0, 1, 500), bootstrap=50)
    assert separated.auc > 0.99 and separated.tpr[0.01] > 0.9
    same = roc(rng.normal(0, 1, 2000), rng.normal(0, 1, 2000), bootstrap=100)
    low, high = same.intervals["auc"]
    assert low < 0.5 < high and high - low < 0.08
    # the rate at 0.1 % FPR is the best TPR at FPR <= 0.001: one false positive of 2000 allowed
    members, others = np.array([3.0, 2.0, -0.5]), np.concatenate([[2.5], np.zeros(1999)])
    assert roc(members, others, bootstrap=2).tpr[0.001] == pytest.approx(2 / 3)
    with pytest.raises(InputError, match="finite"):
        roc(np.array([np.nan, 1.0]), np.array([0.0, 1.0]))


def test_references_trained_at_once_never_mix() -> None:
    """Model 0's weights do not depend on what model 1 trains on: the stack is independent
    trainings (same seed, same row counts, different rows for model 1)."""
    x, y = _data(300)
    recipe = Recipe((20, 16, 2), epochs=3, batch_size=32, lr=1e-2)
    first = np.zeros((2, 300), bool)
    first[0, :100], first[1, 100:200] = True, True
    second = first.copy()
    second[1] = False
    second[1, 200:] = True
    a = train_references(x, y, first, recipe, seed=4)
    b = train_references(x, y, second, recipe, seed=4)
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        assert np.allclose(wa[0].numpy(), wb[0].numpy(), atol=1e-6)
        assert not np.allclose(wa[1].numpy(), wb[1].numpy())


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_reference_fits_its_own_rows_better_than_the_others(precision: str) -> None:
    x, y = _data(400)
    inclusion = np.zeros((4, 400), bool)
    for r in range(4):
        inclusion[r, r * 100:(r + 1) * 100] = True
    recipe = Recipe((20, 64, 2), 40, 50, 1e-2, precision=precision)
    models = train_references(x, y, inclusion, recipe, seed=0)
    conf = confidence(models.logits(x).astype(np.float64), y)
    assert (conf[inclusion].mean() - conf[~inclusion].mean()) > 1.0


def test_layers_are_copied_from_linear_relu_models_only() -> None:
    from torch import nn

    assert layers_of(nn.Linear(5, 2)) == (5, 2)
    assert layers_of(nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))) == (5, 8, 3)
    with pytest.raises(InputError, match="Linear/ReLU"):
        layers_of(nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)))


def _overfit_target(x: np.ndarray, y: np.ndarray, members: int, recipe: Recipe):
    inclusion = np.zeros((1, len(x)), bool)
    inclusion[0, :members] = True
    target = train_references(x, y, inclusion, recipe, seed=99)
    return lambda rows: target.logits(rows)[0]


def test_the_attacks_find_the_members_of_an_overfit_model() -> None:
    x, y = _data(1000)
    recipe = Recipe((20, 64, 2), epochs=40, batch_size=50, lr=3e-3)
    target = _overfit_target(x, y, 500, recipe)
    found = membership(target, recipe, (x[:500], y[:500]), (x[500:], y[500:]),
                       references=16, bootstrap=50, seed=1)
    assert set(found.rocs) == set(METHODS) and found.references == 16
    for method in ("lira-offline", "lira-online", "rmia"):
        assert found.rocs[method].intervals["auc"][0] > 0.52, method
    # the per-example calibration of LiRA beats the plain loss threshold
    assert found.rocs["lira-online"].auc > found.rocs["loss"].auc
    assert found.within_bound is None  # no guarantee claimed, nothing to check
    claimed = dataclasses.replace(found, epsilon=0.05, delta=0.0)  # a claim it cannot keep
    assert claimed.within_bound is False


def test_a_model_that_never_saw_anyone_gives_nothing_away() -> None:
    x, y = _data(1200)
    weights = np.random.default_rng(5).normal(size=(20, 2)) * 0.3
    found = membership(lambda rows: rows @ weights, Recipe((20, 16, 2), 5, 64, 0.5, "sgd"),
                       (x[:600], y[:600]), (x[600:], y[600:]), references=16, bootstrap=20,
                       seed=2, epsilon=1.0, delta=1e-5)
    for method, curve in found.rocs.items():
        assert abs(curve.auc - 0.5) < 0.06, method
    assert found.within_bound  # the ceiling at epsilon 1 holds for a model leaking nothing


def test_confident_rows_keep_distinct_scores() -> None:
    """Margins far past float rounding (an over-fit model's) still rank: no tie at log p = 0."""
    logits = np.array([[150.0, 0.0], [60.0, 0.0], [40.0, 0.0], [3.0, 0.0]])
    scores = loss_scores(logits, np.zeros(4, np.int64))
    assert (np.diff(scores) < 0).all() and scores[0] < 0
    assert scores[3] == pytest.approx(-np.log1p(np.exp(-3.0)))


def test_lira_online_scores_by_the_likelihood_ratio_of_in_and_out() -> None:
    references = np.array([[0.0], [0.2], [4.0], [4.2]])
    inclusion = np.array([[False], [False], [True], [True]])
    high = lira(np.array([4.1]), references, ~inclusion, inclusion)
    low = lira(np.array([0.1]), references, ~inclusion, inclusion)
    assert high[0] > 0 > low[0]


def test_bad_requests_are_refused() -> None:
    x, y = _data(100)
    with pytest.raises(InputError, match="unknown membership attack"):
        membership(lambda r: r[:, :2], None, (x, y), (x, y), methods=["shadow"])
    with pytest.raises(InputError, match="recipe"):
        membership(lambda r: r[:, :2], None, (x, y), (x, y), methods=["lira-online"])
    with pytest.raises(InputError, match="cannot evaluate"):
        membership(lambda r: r[:, :2], None, (x[:50], y[:50]), (x, y), methods=["loss"],
                   evaluate=80)
