"""Plain weights the server evaluates on ciphertexts, taken from a torch or registered model.

CKKS adds and multiplies, nothing else, so a model is accepted only when its arithmetic is
exactly a polynomial: a linear layer (logistic/softmax regression; the exact sigmoid or
softmax runs on the client after decryption), or Linear -> :class:`PolyActivation` -> Linear.
A ReLU MLP is refused unless the caller opts in to a polynomial stand-in
(``relu_bound=``): it then computes a *different* function, whose error veil cannot bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from veil.errors import InputError

__all__ = ["PlainModel", "PolyActivation", "plain_model", "relu_polynomial"]


class PolyActivation(nn.Module):
    """``c0 + c1*x + c2*x**2``: an activation CKKS evaluates exactly (train with it)."""

    def __init__(self, coeffs: Sequence[float] = (0.0, 0.5, 0.25)) -> None:
        super().__init__()
        if not 1 <= len(coeffs) <= 3:
            raise InputError(f"PolyActivation takes 1 to 3 coefficients (degree <= 2), got "
                             f"{list(coeffs)}")
        self.coeffs = tuple(float(c) for c in coeffs) + (0.0,) * (3 - len(coeffs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c0, c1, c2 = self.coeffs
        return c0 + c1 * x + c2 * x * x

    def extra_repr(self) -> str:
        return f"coeffs={self.coeffs}"


@dataclass(frozen=True)
class PlainModel:
    """``logits = W2 @ act(W1 @ x + b1) + b2``, or ``W1 @ x + b1`` without a hidden layer.

    Weights are float64 arrays shaped (out, in) as in torch; ``activation`` holds (c0, c1, c2).
    """

    w1: np.ndarray
    b1: np.ndarray
    activation: tuple[float, float, float] | None = None
    w2: np.ndarray | None = None
    b2: np.ndarray | None = None

    @property
    def inputs(self) -> int:
        return int(self.w1.shape[1])

    @property
    def classes(self) -> int:
        return int((self.w2 if self.w2 is not None else self.w1).shape[0])

    @property
    def depth(self) -> int:
        """Sequential ciphertext multiplications (rescales) the circuit needs.

        One per linear layer; a quadratic activation adds one (the activation's coefficients
        are folded into the output layer, so they cost nothing).
        """
        if self.activation is None:
            return 1
        return 3 if self.activation[2] != 0.0 else 2

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The same arithmetic in float64, for reference."""
        z = x @ self.w1.T + self.b1
        if self.activation is None:
            return z
        c0, c1, c2 = self.activation
        return (c0 + c1 * z + c2 * z * z) @ self.w2.T + self.b2  # type: ignore[union-attr]


def relu_polynomial(bound: float) -> tuple[float, float, float]:
    """Least-squares quadratic to ReLU on [-bound, bound] (wrong outside it, approximate in it)."""
    if not bound > 0:
        raise InputError(f"relu_bound must be positive, got {bound}")
    xs = np.linspace(-bound, bound, 2001)
    c2, c1, c0 = np.polyfit(xs, np.maximum(xs, 0.0), 2)
    return float(c0), float(c1), float(c2)


def _linear(layer: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(layer, nn.Linear):
        raise InputError(f"expected an nn.Linear layer, got {type(layer).__name__}")
    weight = layer.weight.detach().to(torch.float64).numpy().copy()
    bias = (layer.bias.detach().to(torch.float64).numpy().copy() if layer.bias is not None
            else np.zeros(weight.shape[0]))
    return weight, bias


def plain_model(model: object, *, relu_bound: float | None = None) -> PlainModel:
    """The plain weights of a :class:`PlainModel`, torch module or registered veil ``Model``.

    ``relu_bound`` opts in to replacing ReLU by :func:`relu_polynomial` (an approximation).
    """
    if isinstance(model, PlainModel):
        return model
    module = getattr(model, "module", model)  # veil.train.model.Model carries .module
    if isinstance(module, nn.Linear):
        return PlainModel(*_linear(module))
    if isinstance(module, nn.Sequential) and len(module) == 3:
        first, act, last = module
        if isinstance(act, PolyActivation):
            coeffs = act.coeffs
        elif isinstance(act, nn.ReLU):
            if relu_bound is None:
                raise InputError("CKKS cannot evaluate ReLU; train the MLP with "
                                 "veil.he.PolyActivation, or pass relu_bound= to accept a "
                                 "quadratic approximation (a different model)")
            coeffs = relu_polynomial(relu_bound)
        else:
            raise InputError(f"unsupported activation {type(act).__name__}; use "
                             "veil.he.PolyActivation")
        w1, b1 = _linear(first)
        w2, b2 = _linear(last)
        if w2.shape[1] != w1.shape[0]:
            raise InputError(f"layer widths do not chain: {w1.shape} then {w2.shape}")
        return PlainModel(w1, b1, coeffs, w2, b2)
    raise InputError(f"encrypted inference supports nn.Linear or Sequential(Linear, activation, "
                     f"Linear), got {type(module).__name__}")
