"""Membership inference: was this person in the model's training data?

Four attacks, from weakest to strongest assumptions:

* **loss**: members tend to have lower loss (Yeom et al. 2018); score = minus the loss.
* **LiRA offline** (Carlini et al. 2022): references trained on rows the target never saw give,
  per candidate, a Gaussian of the logit-scaled confidence ``phi = log(p_y / (1 - p_y))`` of a
  model that did not train on it; score = how far into that Gaussian's upper tail the
  target's ``phi`` lies. Never trains on the target's members.
* **LiRA online**: references trained on random halves of members and non-members alike, so
  each candidate has an IN and an OUT Gaussian; score = their log-likelihood ratio.
* **RMIA** (Zarifzadeh et al. 2024): the target's probability of the true label relative to
  its average over references, ``Pr(x|theta) / Pr(x)``, compared with the same ratio of
  population rows ``z``; score = the share of ``z`` it beats by ``gamma``. With OUT references
  only, ``Pr(x) = ((1 + a) Pr_out(x) + (1 - a)) / 2`` stands in for the missing IN half.

Per-candidate Gaussians use each candidate's own variance when every candidate has at least
``_PER_EXAMPLE`` references on that side, else the variance pooled over all candidates (the
paper's "fixed variance", better with few references) -- one rule for all candidates, and
offline every candidate is scored from the same number of OUT references (members, OUT of all
of them, use a random half): a rule that differed between members and non-members would
separate them by itself. The references are trained batched (:mod:`veil.attacks.references`),
the way the target was trained (its :class:`Recipe`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm

from veil.attacks.metrics import LOW_FPR, Roc, dp_tpr_bound, roc
from veil.attacks.references import Recipe, train_references
from veil.errors import InputError

__all__ = ["METHODS", "MembershipResult", "confidence", "lira", "loss_scores", "membership",
           "rmia"]

METHODS = ("loss", "lira-offline", "lira-online", "rmia")
_PER_EXAMPLE = 8
_FLOOR = 1e-3  # the smallest standard deviation a Gaussian fit may have


def _true(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``values[..., i, labels[i]]`` for every row ``i``."""
    index = np.broadcast_to(labels[:, None], (*values.shape[:-1], 1))
    return np.take_along_axis(values, index, axis=-1)[..., 0]


def loss_scores(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Minus the cross-entropy loss of each row, ``log p_y = -log(1 + e^-phi)`` from the
    logit-scaled confidence: higher for rows the model fits better. (``z_y - logsumexp(z)``
    rounds to exactly 0 once the margin passes ~37, tying every confident row at the top.)"""
    return -np.logaddexp(0.0, -confidence(logits, labels))


def confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The logit-scaled confidence ``log p_y - log(1 - p_y)`` of each row, computed from the
    logits without rounding ``p_y`` to 1 (``z_y - logsumexp`` of the other logits)."""
    others = np.where(np.arange(logits.shape[-1]) == labels[:, None], -np.inf, logits)
    return _true(logits, labels) - logsumexp(others, axis=-1)


def _fit(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-candidate mean and standard deviation of ``values`` (references x candidates) over
    the references ``mask`` marks; the pooled deviation for all when any has too few."""
    count = mask.sum(axis=0)
    if not count.all():
        raise InputError("every candidate needs at least one reference on each side")
    mean = (values * mask).sum(axis=0) / count
    var = ((values - mean) ** 2 * mask).sum(axis=0) / np.maximum(count - 1, 1)
    std = np.sqrt(var) if count.min() >= _PER_EXAMPLE else np.full_like(
        mean, np.sqrt(var[count > 1].mean()) if (count > 1).any() else 1.0)
    return mean, np.maximum(std, _FLOOR)


def lira(target: np.ndarray, references: np.ndarray, outside: np.ndarray,
         inside: np.ndarray | None = None) -> np.ndarray:
    """LiRA scores from logit-scaled confidences: the target's (candidates) and the
    references' (references x candidates). ``outside`` marks the references that did not train
    on a candidate; ``inside`` (online only) those that did."""
    mean_out, std_out = _fit(references, outside)
    if inside is None:
        return norm.logcdf((target - mean_out) / std_out)
    mean_in, std_in = _fit(references, inside)
    return (norm.logpdf(target, mean_in, std_in) - norm.logpdf(target, mean_out, std_out))


def rmia(target: np.ndarray, references: np.ndarray, outside: np.ndarray,
         population: np.ndarray, *, a: float = 0.3, gamma: float = 1.0) -> np.ndarray:
    """Offline RMIA scores from the target's log-probability of the true label (candidates;
    in logs, so confident rows do not tie at 1) and the references' probabilities
    (references x candidates), from the ``outside`` references of each candidate;
    ``population`` indexes the candidates used as ``z`` (non-members)."""
    mean_out = (references * outside).sum(axis=0) / np.maximum(outside.sum(axis=0), 1)
    prior = ((1 + a) * mean_out + (1 - a)) / 2
    ratio = target - np.log(np.maximum(prior, 1e-300))
    beaten = np.sort(ratio[population])
    return np.searchsorted(beaten, ratio - np.log(gamma), side="left") / len(beaten)


@dataclass(frozen=True)
class MembershipResult:
    """Each attack's ROC, how the attack was set up, and what DP allows (if the model has it)."""

    rocs: dict[str, Roc]
    references: int
    reference_seconds: float  # wall time spent training all references (informative only)
    recipe: Recipe | None
    epsilon: float | None = None
    delta: float | None = None

    def bound(self, fpr: float) -> float | None:
        """The DP ceiling on the true-positive rate at ``fpr``; None without a guarantee."""
        if self.epsilon is None:
            return None
        return dp_tpr_bound(fpr, self.epsilon, self.delta or 0.0)

    @property
    def within_bound(self) -> bool | None:
        """Whether every attack's TPR at 1 % FPR is consistent with the DP ceiling: the low
        end of its bootstrap interval does not exceed it. (The point estimate alone would
        fail an honest model by chance: at 600 non-members, 1 % FPR rests on 6 of them.)"""
        if self.epsilon is None:
            return None
        ceiling = self.bound(0.01)
        return all(r.intervals["tpr@0.01"][0] <= ceiling for r in self.rocs.values())

    def to_dict(self) -> dict[str, Any]:
        return {"attacks": {m: r.to_dict() for m, r in self.rocs.items()},
                "references": self.references,
                "reference_seconds": round(self.reference_seconds, 3),
                "recipe": None if self.recipe is None else self.recipe.__dict__,
                "epsilon": self.epsilon, "delta": self.delta,
                "dp_bound": None if self.epsilon is None else {
                    str(a): self.bound(a) for a in LOW_FPR},
                "within_bound": self.within_bound}


def _halves(count: int, rows: int, rng: np.random.Generator) -> np.ndarray:
    """References x rows, each row in exactly half of the references (rounded), at random."""
    order = np.argsort(rng.random((count, rows)), axis=0)
    return order < (count + 1) // 2


def membership(target: Callable[[np.ndarray], np.ndarray], recipe: Recipe | None,
               members: tuple[np.ndarray, np.ndarray],
               non_members: tuple[np.ndarray, np.ndarray], *,
               methods: Sequence[str] = METHODS, references: int = 64,
               evaluate: int | None = None, epsilon: float | None = None,
               delta: float | None = None, bootstrap: int = 200, seed: int = 0,
               progress: Callable[[str], None] | None = None) -> MembershipResult:
    """Run the membership attacks ``methods`` against ``target`` (a function from a feature
    matrix to logits: query access only) on ``evaluate`` members and as many non-members
    (default: as many as both sides allow). RMIA's population ``z`` is the non-members not
    evaluated when there are at least 100, else all non-members.

    ``members`` and ``non_members`` are (features, class indices) of rows the target did and
    did not train on: the ground truth the workspace holds. Offline references train on halves
    of the non-members only; online ones on halves of the evaluated members and all non-members.
    ``epsilon``/``delta`` is the target's claimed guarantee, to check the rates against."""
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise InputError(f"unknown membership attack(s) {unknown}; choose from {list(METHODS)}")
    needs_references = any(m != "loss" for m in methods)
    if needs_references and (recipe is None or references < 2):
        raise InputError("LiRA and RMIA need a training recipe and at least 2 references")
    rng = np.random.default_rng(seed)
    (xm, ym), (xn, yn) = members, non_members
    size = evaluate or min(len(xm), len(xn))
    if size < 2 or size > len(xm) or size > len(xn):
        raise InputError(f"cannot evaluate {size} members and non-members with {len(xm)} "
                         f"members and {len(xn)} non-members")
    picked = rng.choice(len(xm), size, replace=False)
    shuffled = rng.permutation(len(xn))
    x = np.concatenate([xm[picked], xn[shuffled]])
    y = np.concatenate([ym[picked], yn[shuffled]])
    is_member = np.arange(len(x)) < size
    scored = np.arange(2 * size)  # the evaluated members, then as many non-members
    rest = np.arange(2 * size, len(x))
    population = rest if len(rest) >= 100 else np.arange(size, len(x))
    logits = np.asarray(target(x), np.float64)
    scores: dict[str, np.ndarray] = {}
    if "loss" in methods:
        scores["loss"] = loss_scores(logits, y)
    seconds = 0.0
    for online in (False, True):
        wanted = [m for m in methods if m != "loss" and (m == "lira-online") == online]
        if not wanted:
            continue
        assert recipe is not None
        inclusion = np.zeros((references, len(x)), bool)
        pool = np.arange(len(x)) if online else np.arange(size, len(x))
        inclusion[:, pool] = _halves(references, len(pool), rng)
        outside = ~inclusion
        if not online:  # members are OUT of every reference: score them from half, as the rest
            outside[:, :size] = _halves(references, size, rng)
        if progress:
            progress(f"training {references} {'online' if online else 'offline'} references")
        start = time.perf_counter()
        trained = train_references(x, y, inclusion, recipe, seed=int(rng.integers(2**31)))
        seconds += time.perf_counter() - start
        ref_logits = trained.logits(x).astype(np.float64)
        for method in wanted:
            if method.startswith("lira"):
                scores[method] = lira(confidence(logits, y), confidence(ref_logits, y),
                                      outside, inclusion if online else None)
            else:
                scores[method] = rmia(loss_scores(logits, y),
                                      np.exp(loss_scores(ref_logits, y)), outside, population)
    rocs = {m: roc(scores[m][scored][is_member[scored]], scores[m][scored][~is_member[scored]],
                   bootstrap=bootstrap, seed=seed) for m in methods}
    return MembershipResult(rocs, references if needs_references else 0, seconds,
                            recipe if needs_references else None, epsilon, delta)
