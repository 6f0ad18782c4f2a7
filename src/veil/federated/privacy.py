"""Differential privacy for federated rounds: per record (DP-SGD across sites) or per site.

**Record level** (:class:`RecordDP`, the default): each round is one DP-SGD step over the
pooled rows. Every site draws a Poisson batch of its rows at rate ``q``, clips each row's
gradient to ``C`` (veil's book-keeping clipping from :mod:`veil.train.dpsgd`) and sends the sum,
masked by SecAgg+; the server adds ``N(0, (z C)^2)`` once to the total and takes a step of
``lr * total / (q * rows)`` (row counts are public, as in Opacus). Poisson sampling at every
site with the same ``q`` is Poisson sampling of the union, so the run is accounted exactly
like DP-SGD, with Opacus' PRV accountant over ``rounds`` steps.

**Site level**: one site's whole contribution is the unit. Each round a site's update (its
new weights minus the global ones) is clipped to L2 norm ``C`` (Flower's
``fixedclipping_mod`` in central mode, :func:`local_dp_mod` in local mode) and every site
counts with weight 1, so adding or removing one site moves the average of ``m`` updates by at
most ``C / m``. Noise is Gaussian:

- **central**: the server adds ``N(0, (z C / m)^2)`` per coordinate to the average, where ``m``
  is ``min_sites``, the smallest cohort that may complete a round (more sites only means more
  noise than needed); with SecAgg+ it only ever holds the sum.
- **local**: every site adds ``N(0, (z C)^2)`` to its own clipped update before it leaves.

Either way each round is a Gaussian mechanism with noise multiplier ``z``, and ``T`` rounds
(every site in every round, no subsampling) compose exactly to one Gaussian mechanism with
multiplier ``z / sqrt(T)``: mu-GDP with ``mu = sqrt(T) / z`` (Dong, Roth & Su 2019), whose
(epsilon, delta) curve is known in closed form. :func:`noise_multiplier` inverts it. The
guarantee protects every person at a site too (they are part of its contribution), so each
site debits (epsilon, delta) from its own budget and ledger before its first update leaves.

The noise is drawn with Opacus' Gaussian sampler (as in :mod:`veil.train.dpsgd`), not with
numpy's generator that Flower's wrappers use; Flower's wrapper also drops a whole round when any
site fails, which would make secure aggregation's dropout tolerance useless, so
:class:`CentralDP` keeps Flower's clipping hand-off and replaces only the aggregation step.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
from flwr.app import Context, Message
from flwr.app.message_type import MessageType
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import (
    FitRes,
    Parameters,
    Scalar,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.compat.common import recorddict_compat as compat
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import DifferentialPrivacyClientSideFixedClipping, FedAvg, Strategy
from flwr.supercore.differential_privacy import KEY_CLIPPING_NORM, compute_clip_model_update
from scipy.optimize import brentq
from scipy.stats import norm

from veil.errors import FederationError, PrivacyBudgetError
from veil.federated.config import Federation

__all__ = ["CentralDP", "LocalDP", "RecordDP", "epsilon_spent", "gaussian_noise",
           "local_dp_mod", "noise_multiplier", "plan"]

KEY_NOISE = "veil-local-noise-std"


def _delta(epsilon: float, mu: float) -> float:
    """delta(epsilon) of mu-GDP: Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2)."""
    return float(norm.cdf(-epsilon / mu + mu / 2)
                 - math.exp(epsilon + norm.logcdf(-epsilon / mu - mu / 2)))


def epsilon_spent(z: float, rounds: int, delta: float) -> float:
    """The smallest epsilon that ``rounds`` Gaussian rounds at multiplier ``z`` meet at
    ``delta``."""
    mu = math.sqrt(rounds) / z
    if _delta(0.0, mu) <= delta:
        return 0.0
    return float(brentq(lambda e: _delta(e, mu) - delta, 0.0, 1e4, xtol=1e-12))


@lru_cache(maxsize=256)
def noise_multiplier(epsilon: float, delta: float, rounds: int) -> float:
    """The multiplier ``z`` whose ``rounds`` Gaussian rounds spend exactly (epsilon, delta)."""
    if not (epsilon > 0 and 0 < delta < 1 and rounds >= 1):
        raise PrivacyBudgetError(f"cannot calibrate noise for epsilon {epsilon}, delta {delta} "
                                 f"and {rounds} rounds")
    # delta(epsilon; mu) grows with mu = sqrt(T)/z, so solve for the mu that meets delta.
    mu = brentq(lambda m: _delta(epsilon, m) - delta, 1e-6, 1e3, xtol=1e-14)
    return math.sqrt(rounds) / mu * (1 + 1e-9)  # a hair more noise, never less


_MAX_Z = 50.0


@lru_cache(maxsize=256)
def _subsampled_multiplier(epsilon: float, delta: float, rate: float, rounds: int) -> float:
    """DP-SGD's calibration (Opacus, PRV accountant); cached: every site asks every round.
    A budget that would need a noise multiplier above ``_MAX_Z`` is refused at once (the
    RDP bound there is cheap and never below PRV's epsilon), not after Opacus' long search."""
    from opacus.accountants import RDPAccountant
    from opacus.accountants.utils import get_noise_multiplier

    bound = RDPAccountant()
    bound.history = [(_MAX_Z, rate, rounds)]
    # RDP's "optimal order is the largest alpha" notice (PRV bounds its domain with RDP too)
    # only says a bound could be tighter; the epsilon reported comes from PRV
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Optimal order is the largest alpha")
        if bound.get_epsilon(delta) > epsilon:
            raise PrivacyBudgetError(f"epsilon {epsilon:g} is too small for {rounds} rounds "
                                     f"at sample rate {rate:g}: it needs a noise multiplier "
                                     f"above {_MAX_Z:g}, which would drown every update")
        try:
            return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta,
                                              sample_rate=rate, steps=rounds,
                                              accountant="prv"))
        except ValueError as exc:
            raise PrivacyBudgetError(f"epsilon {epsilon:g} is too small for {rounds} rounds "
                                     f"at sample rate {rate:g}: {exc}") from None


def plan(federation: Federation) -> dict[str, Any]:
    """What the run spends per site: noise multiplier z and (epsilon, delta); at site level
    also the zCDP rho of its Gaussian rounds (``rounds / (2 z^2)``). Empty without DP; an
    epsilon too small for the rounds is refused here, before any site is asked."""
    p = federation.privacy
    if p.mode == "none":
        return {}
    epsilon, delta = float(p.epsilon or 0), float(p.delta or 0)
    common = {"mode": p.mode, "unit": p.unit, "epsilon": epsilon, "delta": delta,
              "clipping_norm": p.clipping_norm, "rounds": federation.rounds}
    if p.unit == "record":
        z = _subsampled_multiplier(epsilon, delta, p.sample_rate, federation.rounds)
        return {**common, "noise_multiplier": z, "sample_rate": p.sample_rate,
                "accountant": "PRV (Opacus), Poisson-subsampled Gaussian", "rho": None}
    z = noise_multiplier(epsilon, delta, federation.rounds)
    return {**common, "noise_multiplier": z, "rho": federation.rounds / (2 * z * z),
            "accountant": "exact Gaussian composition (mu-GDP)"}


def gaussian_noise(arrays: list[np.ndarray], std: float) -> list[np.ndarray]:
    """``arrays`` plus N(0, std^2) per coordinate, drawn by Opacus' sampler."""
    import torch
    from opacus.optimizers.optimizer import _generate_noise

    out = []
    for array in arrays:
        reference = torch.from_numpy(np.asarray(array, dtype=np.float64))
        out.append((reference + _generate_noise(std, reference)).numpy().astype(array.dtype))
    return out


class CentralDP(DifferentialPrivacyClientSideFixedClipping):
    """Flower's client-side-clipping wrapper (it sends ``C`` to ``fixedclipping_mod``) with
    the aggregation step replaced: rounds survive dropouts down to ``min_sites`` (the server's
    guard refuses a round below it) and the noise, calibrated to ``min_sites``, comes from
    Opacus' sampler."""

    def __init__(self, strategy: Strategy, z: float, clipping_norm: float,
                 min_sites: int) -> None:
        super().__init__(strategy, z, clipping_norm, min_sites)
        self.std = z * clipping_norm / min_sites

    def aggregate_fit(
        self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
        failures: list[tuple[ClientProxy, FitRes] | BaseException],
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        aggregated, metrics = self.strategy.aggregate_fit(server_round, results, failures)
        if aggregated is None:
            return None, metrics
        noisy = gaussian_noise(parameters_to_ndarrays(aggregated), self.std)
        return ndarrays_to_parameters(noisy), {**metrics, "central_noise_std": self.std}


def local_dp_mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
    """Clip this site's update to the ``C`` the server sent and add N(0, (z C)^2) here, before
    the update leaves the site (and before SecAgg+ masks it: put this mod after
    ``secaggplus_mod``). The server sends ``C`` and ``z C`` in the fit config."""
    if msg.metadata.message_type != MessageType.TRAIN:
        return call_next(msg, ctxt)
    fit_ins = compat.recorddict_to_fitins(msg.content, keep_input=True)
    if KEY_CLIPPING_NORM not in fit_ins.config or KEY_NOISE not in fit_ins.config:
        raise FederationError("local DP needs the clipping norm and noise from the server")
    clipping_norm = float(fit_ins.config[KEY_CLIPPING_NORM])
    std = float(fit_ins.config[KEY_NOISE])
    sent = parameters_to_ndarrays(fit_ins.parameters)
    out_msg = call_next(msg, ctxt)
    if out_msg.has_error():
        return out_msg
    fit_res = compat.recorddict_to_fitres(out_msg.content, keep_input=True)
    mine = parameters_to_ndarrays(fit_res.parameters)
    compute_clip_model_update(mine, sent, clipping_norm)
    fit_res.parameters = ndarrays_to_parameters(gaussian_noise(mine, std))
    out_msg.content = compat.fitres_to_recorddict(fit_res, keep_input=True)
    return out_msg


class LocalDP(DifferentialPrivacyClientSideFixedClipping):
    """Sends ``C`` and the per-site noise ``z C`` to :func:`local_dp_mod`; aggregates plainly
    (the updates arrive noised)."""

    def __init__(self, strategy: Strategy, z: float, clipping_norm: float,
                 min_sites: int) -> None:
        super().__init__(strategy, z, clipping_norm, min_sites)
        self.std = z * clipping_norm

    def configure_fit(self, server_round: int, parameters: Parameters,
                      client_manager: Any) -> list[Any]:
        plan = super().configure_fit(server_round, parameters, client_manager)
        for _, fit_ins in plan:
            fit_ins.config[KEY_NOISE] = self.std
        return plan

    def aggregate_fit(
        self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
        failures: list[tuple[ClientProxy, FitRes] | BaseException],
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        return self.strategy.aggregate_fit(server_round, results, failures)


class RecordDP(FedAvg):
    """Server side of record-level DP: sites send clipped gradient sums (weight 1 each, so
    the average times the number of sites is the total, whether SecAgg+ or the server summed
    it); add ``N(0, (z C)^2)`` to the total and hand ``total / (q * rows)`` to a torch
    optimizer as the gradient: SGD, or Adam (``adam``), which converges in far fewer rounds
    and, being post-processing of the noisy gradient, costs no privacy."""

    def __init__(self, z: float, clipping_norm: float, sample_rate: float, lr: float, *,
                 adam: bool = False, **fedavg: Any) -> None:
        super().__init__(**fedavg)
        self.std = z * clipping_norm
        self.sample_rate = sample_rate
        self.lr = lr
        self.adam = adam
        self._params: list[Any] = []
        self._optimizer: Any = None

    def configure_fit(self, server_round: int, parameters: Parameters,
                      client_manager: Any) -> list[Any]:
        import torch

        current = parameters_to_ndarrays(parameters)
        if self._optimizer is None:
            self._params = [torch.nn.Parameter(torch.from_numpy(np.array(w, np.float32)))
                            for w in current]
            kind = torch.optim.Adam if self.adam else torch.optim.SGD
            self._optimizer = kind(self._params, lr=self.lr)
        with torch.no_grad():
            for param, w in zip(self._params, current, strict=True):
                param.copy_(torch.from_numpy(np.array(w, np.float32)))
        return super().configure_fit(server_round, parameters, client_manager)

    def aggregate_fit(
        self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
        failures: list[tuple[ClientProxy, FitRes] | BaseException],
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        import torch

        mean, _ = super().aggregate_fit(server_round, results, failures)
        if mean is None:
            return None, {}
        rows = sum(int(res.metrics["rows"]) for _, res in results)
        total = [g * len(results) for g in parameters_to_ndarrays(mean)]
        noisy = gaussian_noise(total, self.std)
        for param, g in zip(self._params, noisy, strict=True):
            param.grad = torch.from_numpy(np.array(g / (self.sample_rate * rows), np.float32))
        self._optimizer.step()
        stepped = [p.detach().numpy().copy() for p in self._params]
        return ndarrays_to_parameters(stepped), {"noise_std": self.std, "rows": rows}
