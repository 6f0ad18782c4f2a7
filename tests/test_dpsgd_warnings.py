"""DP-SGD accounting prints no Opacus notice about RDP orders (the demo used to show one)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from torch import nn

from veil.train.dpsgd import TrainConfig, calibrate, train_dp


@pytest.mark.parametrize("accountant", ["prv", "rdp"])
def test_accounting_shows_no_alpha_order_notice(accountant: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2_000, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    config = TrainConfig(epsilon=7.5, delta=1e-5, epochs=1, batch_size=64, accountant=accountant)
    calibrate.cache_clear()  # the notices come from the search, which a cached answer skips
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train_dp(nn.Linear(4, 2), x, y, config, seed=1)
    assert result.epsilon <= config.epsilon
    assert [str(w.message) for w in caught if "Optimal order" in str(w.message)] == []
