"""Reference (shadow) models for membership attacks, dozens trained at once as one batched model.

LiRA and RMIA compare a target model's confidence on a person with the confidences of models
trained the same way with and without that person. Training each reference separately costs
one full training run apiece; here ``R`` multi-layer perceptrons of one architecture live as
stacked weight tensors (``R x inputs x outputs`` per layer) and one ``torch.baddbmm`` per layer
runs all of them on their own mini-batches in one step. The models stay independent: each
reads only its own rows, its loss is its own mean, and Adam / SGD update every weight on its own
gradient, so the stack is ``R`` ordinary trainings sharing the Python loop and the kernels.

``inclusion[r, i]`` says whether reference ``r`` trains on candidate ``i``; the attack draws it
(each candidate in about half of the references) and keeps it to split IN from OUT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import numpy as np
import torch
from torch import nn

from veil.errors import InputError

__all__ = ["Recipe", "ReferenceModels", "layers_of", "train_references"]


def layers_of(module: nn.Module) -> tuple[int, ...]:
    """The widths ``(inputs, hidden..., classes)`` of a logistic regression (``nn.Linear``) or an
    MLP (``nn.Sequential`` of ``nn.Linear`` layers with ``nn.ReLU`` between them): the
    architectures references can copy."""
    parts = list(module) if isinstance(module, nn.Sequential) else [module]
    linear = [p for p in parts if isinstance(p, nn.Linear)]
    shape_ok = bool(linear) and all(
        isinstance(p, nn.Linear) == (i % 2 == 0) and (i % 2 == 0 or isinstance(p, nn.ReLU))
        for i, p in enumerate(parts)) and len(parts) == 2 * len(linear) - 1
    if not shape_ok:
        raise InputError("reference models copy a logistic regression or a Linear/ReLU MLP; "
                         f"got {type(module).__name__}")
    return (linear[0].in_features, *(p.out_features for p in linear))


@dataclass(frozen=True)
class Recipe:
    """How the target was trained, so the references are trained the same way."""

    layers: tuple[int, ...]  # (inputs, hidden..., classes)
    epochs: int
    batch_size: int
    lr: float
    optimizer: Literal["sgd", "adam"] = "adam"
    # "bf16": matrix products in bfloat16 (weights and optimizer state stay float32); ~1.7x
    # faster where the CPU has bfloat16 instructions, slower where it has not
    precision: Literal["fp32", "bf16"] = "fp32"


@dataclass
class ReferenceModels:
    """``R`` trained models as stacked weights; ``logits`` scores every one of them at once."""

    weights: list[torch.Tensor]  # per layer: R x in x out
    biases: list[torch.Tensor]  # per layer: R x 1 x out

    @property
    def count(self) -> int:
        return self.weights[0].shape[0]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: R x batch x inputs (each model its own rows) or batch x inputs (shared)."""
        if x.dim() == 2:
            x = x.expand(self.count, *x.shape)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < len(self.weights) - 1:
                x = torch.relu(x)
        return x

    def logits(self, x: np.ndarray, *, chunk: int = 4096) -> np.ndarray:
        """Every model's logits on the rows of ``x``: R x rows x classes."""
        with torch.no_grad():
            rows = torch.from_numpy(np.ascontiguousarray(x, np.float32))
            return torch.cat([self._forward(rows[i:i + chunk])
                              for i in range(0, len(rows), chunk)], dim=1).numpy()


def _init(layers: Sequence[int], count: int, generator: torch.Generator
          ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """PyTorch's default ``nn.Linear`` initialisation, drawn for each of ``count`` models."""
    weights, biases = [], []
    for fan_in, fan_out in pairwise(layers):
        bound = 1 / math.sqrt(fan_in)
        weights.append(((torch.rand(count, fan_in, fan_out, generator=generator) * 2 - 1)
                        * bound).requires_grad_())
        biases.append(((torch.rand(count, 1, fan_out, generator=generator) * 2 - 1)
                       * bound).requires_grad_())
    return weights, biases


def _batches(inclusion: np.ndarray, batch_size: int, rng: np.random.Generator
             ) -> torch.Tensor:
    """One epoch's row indices: steps x R x batch, each model walking a fresh permutation of
    its own rows (a model with fewer rows than the longest wraps around its permutation)."""
    members = [np.flatnonzero(row) for row in inclusion]
    steps = max(1, math.ceil(max(len(m) for m in members) / batch_size))
    order = np.stack([np.resize(rng.permutation(m), steps * batch_size) for m in members])
    return torch.from_numpy(order.reshape(len(members), steps, batch_size).transpose(1, 0, 2)
                            .copy())


def train_references(x: np.ndarray, y: np.ndarray, inclusion: np.ndarray, recipe: Recipe, *,
                     seed: int = 0) -> ReferenceModels:
    """Train ``len(inclusion)`` models of ``recipe`` at once, model ``r`` on the rows ``i`` with
    ``inclusion[r, i]`` (cross-entropy, ``recipe.optimizer``, ``recipe.epochs`` passes over
    its rows in mini-batches of ``recipe.batch_size``)."""
    inclusion = np.asarray(inclusion, bool)
    if inclusion.ndim != 2 or inclusion.shape[1] != len(x) or len(x) != len(y):
        raise InputError("inclusion must be references x rows, for rows x and labels y")
    if not inclusion.any(axis=1).all():
        raise InputError("every reference model needs at least one row to train on")
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    weights, biases = _init(recipe.layers, len(inclusion), generator)
    params = [*weights, *biases]
    # fused: one kernel updates every stacked weight (the per-tensor loop costs ~3x more here)
    optimizer = (torch.optim.Adam(params, lr=recipe.lr, fused=True) if recipe.optimizer == "adam"
                 else torch.optim.SGD(params, lr=recipe.lr, fused=True))
    models = ReferenceModels(weights, biases)
    features = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    labels = torch.from_numpy(np.asarray(y, np.int64))
    classes = recipe.layers[-1]
    for _ in range(recipe.epochs):
        for index in _batches(inclusion, recipe.batch_size, rng):
            with torch.autocast("cpu", dtype=torch.bfloat16,
                                enabled=recipe.precision == "bf16"):
                logits = models._forward(features[index]).float()
            # each model's mean loss, summed: the models' gradients never mix
            loss = nn.functional.cross_entropy(logits.reshape(-1, classes),
                                               labels[index].reshape(-1), reduction="sum")
            optimizer.zero_grad(set_to_none=True)
            (loss / index.shape[1]).backward()
            optimizer.step()
    for p in params:
        p.requires_grad_(False)
    return models
