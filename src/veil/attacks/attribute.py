"""Attribute inference and model inversion: what a model gives away about a sensitive input.

The attacker knows a person's label and, for **attribute inference**, their other inputs
(Fredrikson et al. 2014; Yeom et al. 2018): for every value ``v`` the sensitive input can take
they ask the model for ``p(label | other inputs, v)`` and guess the ``v`` maximising
``prior(v) * p(label | ...)``. For **model inversion** they know only the label (Fredrikson et al.
2015): the other inputs are averaged over a population sample, so one guess serves everyone
with that label. Numeric inputs are guessed as one of ``bins`` equal bins of their declared
bounds.

Success is balanced accuracy (mean per-value recall) minus that of the best guess from the
population prior alone (always its most common value: ``1 / values`` present), on members and on
non-members apart: a model that only learnt the population's correlations helps the attacker
equally on both; a gap between them is what the model memorised about its members.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from veil.errors import InputError
from veil.train.features import Encoding

__all__ = ["AttributeResult", "attribute_inference"]

MODES = ("attribute", "inversion")


def _candidates(encoding: Encoding, column: str, bins: int
                ) -> tuple[list[Any], Callable[[pl.Series], np.ndarray]]:
    """The values to try and a function giving each true value's candidate index."""
    if column in encoding.categorical:
        values = list(encoding.categorical[column])
        index = {str(v): i for i, v in enumerate(values)}
        return values, lambda s: np.array([index.get(str(v), -1) for v in s.to_list()])
    lower, upper = encoding.numeric[column]
    edges = np.linspace(lower, upper, bins + 1)
    middles = list((edges[:-1] + edges[1:]) / 2)
    return middles, lambda s: np.clip(np.searchsorted(edges, s.cast(pl.Float64).to_numpy(),
                                                      side="right") - 1, 0, bins - 1)


def _balanced_accuracy(truth: np.ndarray, guess: np.ndarray, values: int) -> float:
    """Mean recall over the values present in ``truth``."""
    present = [v for v in range(values) if (truth == v).any()]
    return float(np.mean([(guess[truth == v] == v).mean() for v in present]))


@dataclass(frozen=True)
class AttributeResult:
    """Balanced accuracy of the guesses and the advantage over the prior, per group."""

    mode: str
    sensitive: str
    values: int
    prior_accuracy: dict[str, float]  # group -> balanced accuracy of the prior's mode
    accuracy: dict[str, float]  # "members" / "non_members" -> balanced accuracy
    rows: dict[str, int]

    @property
    def advantage(self) -> dict[str, float]:
        return {g: a - self.prior_accuracy[g] for g, a in self.accuracy.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "sensitive": self.sensitive, "values": self.values,
                "prior_accuracy": self.prior_accuracy, "accuracy": self.accuracy,
                "advantage": self.advantage, "rows": self.rows}


def _likelihoods(predict_proba: Callable[[pl.DataFrame], np.ndarray], frame: pl.DataFrame,
                 labels: np.ndarray, column: str, values: list[Any]) -> np.ndarray:
    """rows x values: the model's probability of each row's label with ``column`` set to each
    candidate value."""
    dtype = frame.schema[column]
    out = np.empty((frame.height, len(values)))
    for j, value in enumerate(values):
        probs = predict_proba(frame.with_columns(pl.lit(value).cast(dtype).alias(column)))
        out[:, j] = probs[np.arange(frame.height), labels]
    return out


def attribute_inference(predict_proba: Callable[[pl.DataFrame], np.ndarray],
                        encoding: Encoding, sensitive: str, members: pl.DataFrame,
                        non_members: pl.DataFrame, *, mode: str = "attribute", bins: int = 10,
                        population: pl.DataFrame | None = None) -> AttributeResult:
    """Infer ``sensitive`` for every row of ``members`` and ``non_members`` (frames with the
    model's features and target) from the model's ``predict_proba``; the prior (and, for
    inversion, the population the other inputs are averaged over) comes from ``population``
    (default: the non-members), never from the rows attacked."""
    if mode not in MODES:
        raise InputError(f"mode must be one of {list(MODES)}; got {mode!r}")
    if sensitive not in encoding.order:
        raise InputError(f"{sensitive!r} is not an input of this model; its inputs are "
                         f"{encoding.order}")
    values, index_of = _candidates(encoding, sensitive, bins)
    population = non_members if population is None else population
    known = index_of(population[sensitive])
    prior = np.bincount(known[known >= 0], minlength=len(values)) + 1.0  # Laplace smoothing
    prior /= prior.sum()
    accuracy, prior_accuracy, rows = {}, {}, {}
    if mode == "inversion":
        table = np.stack([_likelihoods(predict_proba, population, np.full(
            population.height, c), sensitive, values).mean(axis=0)
            for c in range(len(encoding.classes))]) * prior  # classes x values
    for group, frame in (("members", members), ("non_members", non_members)):
        labels = encoding.labels(frame)
        truth = index_of(frame[sensitive])
        if mode == "attribute":
            guess = np.argmax(_likelihoods(predict_proba, frame, labels, sensitive, values)
                              * prior, axis=1)
        else:
            guess = table.argmax(axis=1)[labels]
        keep = truth >= 0
        accuracy[group] = _balanced_accuracy(truth[keep], guess[keep], len(values))
        prior_accuracy[group] = _balanced_accuracy(
            truth[keep], np.full(keep.sum(), prior.argmax()), len(values))
        rows[group] = int(keep.sum())
    return AttributeResult(mode, sensitive, len(values), prior_accuracy, accuracy, rows)
