"""DP-SGD (Abadi et al. 2016): Poisson-sampled batches, per-example clipping, Gaussian noise.

Two engines, one guarantee:

* **Linear models and MLPs** (``nn.Linear`` layers with parameter-free layers between them):
  per-example clipping by book-keeping (Bu et al. 2022, "ghost clipping"). For a linear layer
  the gradient of one example is the outer product of its output gradient ``g`` and input
  ``a``, whose norm is ``|g| * |a|``; so one backward pass to the layer outputs gives every
  example's gradient norm without materialising any per-example gradient, and the *clipped*
  sum of gradients is one matrix product, ``(c * G)^T A``. A step costs about what a
  non-private step does (the bench measures it).
* **Anything else** (convolutions, embeddings...): Opacus' ``GradSampleModule`` and its
  per-sample hooks.

Both draw the noise with Opacus' sampler (``_generate_noise``, ``N(0, (sigma * C)^2)`` per
coordinate; ``secure_mode`` on request) and account with Opacus' accountants (PRV by default,
RDP on request). The noise multiplier ``sigma`` is calibrated before training so that the
planned steps spend exactly the target epsilon at the target delta (Opacus'
``get_noise_multiplier``); the accountant is stepped every step and training stops before it
would pass the target. Batches are Poisson samples (each example in with probability
``batch_size / n``, drawn with a generator seeded from the OS unless a seed is given for tests):
the subsampling the accountant assumes.
"""

from __future__ import annotations

import math
import secrets
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import torch
from opacus.accountants import create_accountant
from opacus.accountants.utils import get_noise_multiplier
from opacus.optimizers.optimizer import _generate_noise
from torch import nn

from veil.errors import InputError, PrivacyBudgetError

__all__ = ["TrainConfig", "TrainResult", "book_keeping_step", "calibrate", "clipped_gradients",
           "poisson_batch", "train_dp"]


@dataclass(frozen=True)
class TrainConfig:
    """What to spend and how to train."""

    epsilon: float
    delta: float
    epochs: int
    batch_size: int = 256
    max_grad_norm: float = 1.0
    lr: float = 0.1
    optimizer: Literal["sgd", "adam"] = "sgd"
    accountant: Literal["prv", "rdp"] = "prv"
    secure_mode: bool = False

    def check(self, rows: int) -> None:
        for name, value in (("epsilon", self.epsilon), ("max_grad_norm", self.max_grad_norm),
                            ("lr", self.lr)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    math.isfinite(value) and value > 0):
                raise InputError(f"{name} must be a positive finite number; got {value!r}")
        if not (isinstance(self.delta, int | float) and 0 < self.delta < 1):
            raise InputError(f"delta must be in (0, 1); got {self.delta!r}")
        if self.delta >= 1 / rows:
            raise InputError(f"delta {self.delta:g} is not below 1/n = {1 / rows:.3g}: that "
                             "would allow releasing a whole record")
        for name, value in (("epochs", self.epochs), ("batch_size", self.batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a whole number >= 1; got {value!r}")
        if self.batch_size > rows:
            raise InputError(f"batch_size {self.batch_size} is larger than the {rows} training "
                             "rows")
        if self.optimizer not in ("sgd", "adam") or self.accountant not in ("prv", "rdp"):
            raise InputError("optimizer must be 'sgd' or 'adam' and accountant 'prv' or 'rdp'")


@dataclass
class TrainResult:
    model: nn.Module
    epsilon: float  # spent, per the accountant
    delta: float
    noise_multiplier: float
    sample_rate: float
    steps: int
    accountant: str
    engine: str  # "book-keeping" or "opacus-ghost" / "opacus-hooks"
    epoch_seconds: list[float] = field(default_factory=list)


def _linear_only(model: nn.Module) -> list[nn.Linear] | None:
    """The model's linear layers if every parameter belongs to one, else None."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    owned = {id(p) for layer in layers for p in layer.parameters()}
    if not layers or any(id(p) not in owned for p in model.parameters()):
        return None
    return layers


def clipped_gradients(model: nn.Module, layers: Sequence[nn.Linear], x: torch.Tensor,
                      y: torch.Tensor, max_grad_norm: float) -> list[torch.Tensor]:
    """The sum over the batch of each example's gradient clipped to ``max_grad_norm`` (L2 over
    all parameters), one tensor per parameter of ``layers`` (weight, then bias), by
    book-keeping (see the module docstring). No noise."""
    inputs: list[torch.Tensor] = []
    outputs: list[torch.Tensor] = []

    def keep(_module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        inputs.append(args[0].detach())
        outputs.append(out)

    hooks = [layer.register_forward_hook(keep) for layer in layers]
    try:
        losses = nn.functional.cross_entropy(model(x), y, reduction="none")
    finally:
        for hook in hooks:
            hook.remove()
    grads = torch.autograd.grad(losses.sum(), outputs)
    squared = torch.zeros(len(x), dtype=losses.dtype)
    for layer, a, g in zip(layers, inputs, grads, strict=True):
        a_norm = a.pow(2).sum(dim=1)
        squared += g.pow(2).sum(dim=1) * (a_norm + (1.0 if layer.bias is not None else 0.0))
    scale = (max_grad_norm / (squared.sqrt() + 1e-6)).clamp(max=1.0)
    out = []
    for layer, a, g in zip(layers, inputs, grads, strict=True):
        weighted = g * scale[:, None]
        out.append(weighted.T @ a)
        if layer.bias is not None:
            out.append(weighted.sum(dim=0))
    return out


@contextmanager
def no_order_notice() -> Iterator[None]:
    """Drop Opacus' "Optimal order is the largest alpha" notice, and only it. It comes from
    Opacus' own searches: the noise search probes multipliers far from the answer, and PRV
    sizes its numeric domain with an RDP bound over fixed orders. The epsilon veil reports is
    a valid upper bound either way; passing more orders (up to 2**11) gave the same noise
    multipliers for the demo's budgets and added numpy overflow warnings at the large ones."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Optimal order is the (largest|smallest) alpha",
                                UserWarning)
        yield


@lru_cache(maxsize=64)
def calibrate(config: TrainConfig, rows: int) -> tuple[float, float, int]:
    """(noise multiplier, sample rate, steps per epoch) that spend ``config.epsilon`` over the
    planned steps; refuses an epsilon too small for them before anything is spent. Cached:
    the PRV search takes about a second and the workspace asks before the trainer does."""
    config.check(rows)
    sample_rate = config.batch_size / rows
    steps_per_epoch = max(1, round(1 / sample_rate))
    steps = steps_per_epoch * config.epochs
    try:
        with no_order_notice():
            sigma = get_noise_multiplier(target_epsilon=config.epsilon,
                                         target_delta=config.delta, sample_rate=sample_rate,
                                         steps=steps, accountant=config.accountant)
    except ValueError as exc:
        raise PrivacyBudgetError(f"epsilon {config.epsilon:g} is too small for {steps} steps "
                                 f"at sample rate {sample_rate:.3g}: {exc}") from None
    return float(sigma), sample_rate, steps_per_epoch


def poisson_batch(rows: int, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Indices of a Poisson sample: each of ``rows`` in with probability ``rate``, drawn as
    geometric gaps between chosen rows (exactly the distribution of one coin per row)."""
    expected = rows * rate
    size = int(expected + 6 * math.sqrt(expected) + 16)
    positions = torch.empty(0, dtype=torch.float64)
    last = -1.0
    while last < rows:
        gaps = torch.empty(size, dtype=torch.float64).geometric_(rate, generator=generator)
        more = last + torch.cumsum(gaps, dim=0)
        positions = torch.cat([positions, more])
        last = float(more[-1])
    return positions[positions < rows].long()


def _generator(seed: int | None) -> torch.Generator:
    generator = torch.Generator()
    generator.manual_seed(secrets.randbits(63) if seed is None else seed)
    return generator


def train_dp(model: nn.Module, x: np.ndarray, y: np.ndarray, config: TrainConfig, *,
             seed: int | None = None) -> TrainResult:
    """Train ``model`` (logits out, cross-entropy) with DP-SGD to ``config.epsilon``."""
    rows = len(x)
    if rows == 0 or len(y) != rows:
        raise InputError(f"features ({rows} rows) and labels ({len(y)}) must match and not "
                         "be empty")
    features = torch.as_tensor(np.array(x, dtype=np.float32))
    labels = torch.as_tensor(np.array(y, dtype=np.int64))
    if not torch.isfinite(features).all():
        raise InputError("the features hold NaN or infinite values; impute or drop them first")
    sigma, sample_rate, steps_per_epoch = calibrate(config, rows)
    accountant = create_accountant(config.accountant)
    generator = _generator(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = (torch.optim.SGD(params, lr=config.lr) if config.optimizer == "sgd"
                 else torch.optim.Adam(params, lr=config.lr))
    layers = _linear_only(model)
    if layers is None:
        step, engine = _opacus_step(model, optimizer, features, labels, config, sigma,
                                    sample_rate, generator), "opacus-hooks"
    else:
        step, engine = book_keeping_step(model, layers, optimizer, features, labels, config,
                                          sigma, sample_rate, generator), "book-keeping"
    result = TrainResult(model, 0.0, config.delta, sigma, sample_rate, 0, config.accountant,
                         engine)
    model.train()
    for _ in range(config.epochs):
        started = time.perf_counter()
        for _ in range(steps_per_epoch):
            step(poisson_batch(rows, sample_rate, generator))
            accountant.step(noise_multiplier=sigma, sample_rate=sample_rate)
            result.steps += 1
        result.epoch_seconds.append(time.perf_counter() - started)
    with no_order_notice():
        result.epsilon = float(accountant.get_epsilon(delta=config.delta))
    model.eval()
    return result


Step = Callable[[torch.Tensor], None]  # one DP-SGD update from the rows of a Poisson batch


def book_keeping_step(model: nn.Module, layers: list[nn.Linear],
                       optimizer: torch.optim.Optimizer, features: torch.Tensor,
                       labels: torch.Tensor, config: TrainConfig, sigma: float,
                       sample_rate: float, generator: torch.Generator) -> Step:
    """The book-keeping engine's DP-SGD step for one Poisson batch (clipped sum, Opacus'
    noise, the optimizer's step): what ``train_dp`` runs, and what audits run to measure it."""
    ordered = [p for layer in layers for p in (layer.weight, layer.bias) if p is not None]
    sizes = [p.numel() for p in ordered]
    expected = sample_rate * len(features)

    def step(chosen: torch.Tensor) -> None:
        if len(chosen):
            sums = clipped_gradients(model, layers, features[chosen], labels[chosen],
                                     config.max_grad_norm)
        else:  # an empty Poisson batch still takes a (noise-only) step
            sums = [torch.zeros_like(p) for p in ordered]
        flat = torch.cat([total.reshape(-1) for total in sums])
        noisy = flat + _generate_noise(sigma * config.max_grad_norm, flat, generator,
                                       config.secure_mode)
        for param, grad in zip(ordered, noisy.split(sizes), strict=True):
            param.grad = grad.view_as(param) / expected
        optimizer.step()

    return step


def _opacus_step(model: nn.Module, optimizer: torch.optim.Optimizer, features: torch.Tensor,
                 labels: torch.Tensor, config: TrainConfig, sigma: float, sample_rate: float,
                 generator: torch.Generator) -> Step:
    """Opacus' per-sample machinery for models book-keeping does not cover. The module is
    wrapped in place (hooks on its layers), so the caller keeps training ``model``."""
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    wrapped = GradSampleModule(model)
    private = DPOptimizer(optimizer, noise_multiplier=sigma, max_grad_norm=config.max_grad_norm,
                          expected_batch_size=round(sample_rate * len(features)),
                          generator=generator, secure_mode=config.secure_mode)

    def step(chosen: torch.Tensor) -> None:
        private.zero_grad()
        if len(chosen):
            loss = nn.functional.cross_entropy(wrapped(features[chosen]), labels[chosen])
            loss.backward()
        else:  # an empty Poisson batch still takes a (noise-only) step
            for p in wrapped.parameters():
                p.grad_sample = torch.zeros((0, *p.shape))
        private.step()

    return step
