"""scikit-learn-style DP classifiers for tabular users, and the privacy-utility sweep.

:class:`DPClassifier` trains with :func:`veil.train.dpsgd.train_dp` on a numeric matrix the
caller has already scaled with *public* bounds (any scaling fitted on the private data would
leak outside the guarantee, so none happens here). Outside a workspace nothing is budgeted:
``epsilon_`` says what one fit spent; inside one, use ``Workspace.train``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from veil.errors import InputError
from veil.train.dpsgd import TrainConfig, train_dp
from veil.train.model import build

__all__ = ["DPClassifier", "sweep"]


class DPClassifier:
    """``fit`` / ``predict`` / ``predict_proba`` with DP-SGD (logistic regression or an MLP)."""

    def __init__(self, *, epsilon: float, delta: float, model: str = "logreg", epochs: int = 5,
                 batch_size: int = 256, max_grad_norm: float = 1.0, lr: float = 0.5,
                 optimizer: str = "sgd", seed: int | None = None) -> None:
        self.epsilon, self.delta, self.model, self.epochs = epsilon, delta, model, epochs
        self.batch_size, self.max_grad_norm, self.lr = batch_size, max_grad_norm, lr
        self.optimizer, self.seed = optimizer, seed

    def fit(self, x: Any, y: Any) -> DPClassifier:
        features = _numeric(x)
        labels = np.asarray(y)
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise InputError(f"the label has one class {self.classes_.tolist()}; nothing to learn")
        index = np.searchsorted(self.classes_, labels)
        self.module_ = build(self.model, features.shape[1], len(self.classes_))
        config = TrainConfig(epsilon=self.epsilon, delta=self.delta, epochs=self.epochs,
                             batch_size=self.batch_size, max_grad_norm=self.max_grad_norm,
                             lr=self.lr, optimizer=self.optimizer)  # type: ignore[arg-type]
        result = train_dp(self.module_, features, index, config, seed=self.seed)
        self.epsilon_, self.noise_multiplier_, self.steps_ = (result.epsilon,
                                                              result.noise_multiplier,
                                                              result.steps)
        return self

    def predict_proba(self, x: Any) -> np.ndarray:
        import torch

        if not hasattr(self, "module_"):
            raise InputError("fit the classifier first")
        with torch.no_grad():
            logits = self.module_(torch.from_numpy(_numeric(x)))
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, x: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(x).argmax(axis=1)]

    def score(self, x: Any, y: Any) -> float:
        return float((self.predict(x) == np.asarray(y)).mean())


def _numeric(x: Any) -> np.ndarray:
    matrix = np.asarray(x.to_numpy() if hasattr(x, "to_numpy") else x)
    if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.number):
        raise InputError("features must be a 2-D numeric matrix; encode text columns first "
                         "(veil.train.features does it with public categories)")
    matrix = matrix.astype(np.float32)
    if not np.isfinite(matrix).all():
        raise InputError("the features hold NaN or infinite values; impute or drop them")
    return matrix


def sweep(x_train: Any, y_train: Any, x_test: Any, y_test: Any, epsilons: Sequence[float], *,
          delta: float, plot: str | Path | None = None, **settings: Any) -> dict[float, float]:
    """Test accuracy of a :class:`DPClassifier` at each epsilon (and with ``plot``, a PNG of
    accuracy against epsilon)."""
    accuracy = {float(e): DPClassifier(epsilon=e, delta=delta, **settings)
                .fit(x_train, y_train).score(x_test, y_test) for e in epsilons}
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(figsize=(5, 3.5))
        axes.plot(list(accuracy), list(accuracy.values()), marker="o")
        axes.set_xscale("log")
        axes.minorticks_off()
        axes.set_xticks(list(accuracy), [f"{e:g}" for e in accuracy])
        axes.set_xlabel(f"epsilon (delta {delta:g})")
        axes.set_ylabel("test accuracy")
        axes.set_title("privacy-utility trade-off (DP-SGD)")
        axes.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(plot, dpi=120)
        plt.close(figure)
    return accuracy
