"""Differential privacy for federated rounds: per record (DP-SGD across sites) or per site.

**Record level** (:class:`RecordDP`, the default): each round is one DP-SGD step over the
pooled rows. Every site draws a Poisson batch of its rows at rate ``q``, clips each row's
gradient to ``C`` (veil's book-keeping clipping from :mod:`veil.train.dpsgd`) and sends the sum,
masked by SecAgg+; the server adds ``N(0, (z C)^2)`` once to the total and takes a step of
``lr * total / (q * rows)``, ``rows`` being the training rows of the sites that answered. Row
counts are public, as in Opacus (its expected batch size is ``q * len(dataset)``), and the
noise goes on the total before the division, so whichever sites answer, one row moves the
released gradient by at most ``C / (q * rows)`` under noise ``z C / (q * rows)``: ratio ``z``.
Poisson sampling at every site with the same ``q`` is Poisson sampling of the union, so the
run is accounted exactly like DP-SGD, with Opacus' PRV accountant over ``rounds`` steps.

**Site level**: one site's whole contribution is the unit: the guarantee compares a run in
which a site contributes its update with one in which it contributes nothing (a site that is
absent, or has no data, adds nothing to the sum; replacing a site's data is two such steps).
Each round a site's update (its new weights minus the global ones) is clipped to L2 norm
``C`` (Flower's ``fixedclipping_mod`` in central mode, :class:`LocalDPMod` in local mode).
Noise is Gaussian:

- **central** (:class:`CentralDP`): the server adds ``N(0, (z C)^2)`` per coordinate to the
  *sum* of the clipped updates and divides by the cohort ``D``, the number of sites in the
  definition, fixed before the run: DP-FedAvg's fixed-denominator estimator (McMahan et al.
  2018) with every site invited every round. One site moves the sum by at most ``C``, so the
  release moves by at most ``C / D`` under noise ``z C / D`` whoever answered. Dividing by the
  number of sites that answered (the plain mean) is not the same: that count changes with the
  site, and one update ``-C`` among ``m`` at ``+C`` moves the mean by ``2 C / (m + 1)``, up to
  twice ``C / m``. Fewer answers than ``D`` (dropouts, down to ``min_sites``) shrink the step
  by ``answers / D`` instead; more than ``D`` can only be a site answering twice, and the round
  is refused. The server does not trim a round to a fixed number of answers either: choosing
  which to keep lets one site displace another, a swap that moves the sum by ``2 C``.
- **local** (:class:`LocalDPMod`): every site adds ``N(0, (z C)^2)`` to its own clipped update
  before it leaves, with ``C`` and ``z`` from the definition it paid for, never from the
  server's fit config. The message alone is the Gaussian mechanism, so whatever the server
  does with it (the mean, FedAdam's step) is post-processing.

Either way each round is a Gaussian mechanism with noise multiplier ``z``, and ``T`` rounds
(every site in every round, no subsampling) compose exactly to one Gaussian mechanism with
multiplier ``z / sqrt(T)``: mu-GDP with ``mu = sqrt(T) / z`` (Dong, Roth & Su 2019), whose
(epsilon, delta) curve is known in closed form. :func:`noise_multiplier` inverts it. The
guarantee protects every person at a site too (they are part of its contribution), so each
site debits (epsilon, delta) from its own budget and ledger before its first update leaves.

The noise is drawn with Opacus' Gaussian sampler (as in :mod:`veil.train.dpsgd`), not with
numpy's generator that Flower's wrappers use; Flower's wrapper also drops a whole round when any
site fails, which would make secure aggregation's dropout tolerance useless, and adds its noise
to the inner strategy's output (after FedAdam's step, whose sensitivity is not ``C / D``), so
:class:`CentralDP` keeps Flower's clipping hand-off and replaces the aggregation step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from flwr.app import Context, Message
from flwr.app.message_type import MessageType
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import (
    Code,
    FitRes,
    Parameters,
    Scalar,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.compat.common import recorddict_compat as compat
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import DifferentialPrivacyClientSideFixedClipping, FedAvg, Strategy
from scipy.optimize import brentq
from scipy.stats import norm

from veil.errors import FederationError, PrivacyBudgetError
from veil.federated.config import Federation

__all__ = ["CentralDP", "LocalDPMod", "RecordDP", "epsilon_spent", "gaussian_noise",
           "local_release", "noise_multiplier", "noisy_average", "plan"]


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

    from veil.train.dpsgd import no_order_notice

    bound = RDPAccountant()
    bound.history = [(_MAX_Z, rate, rounds)]
    with no_order_notice():  # the epsilon reported comes from PRV
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
    also the zCDP rho of its Gaussian rounds (``rounds / (2 z^2)``) and, in central mode, the
    fixed denominator ``cohort`` of every round's release. Empty without DP; an
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
    cohort = {"cohort": len(federation.sites)} if p.mode == "central" else {}
    return {**common, "noise_multiplier": z, "rho": federation.rounds / (2 * z * z), **cohort,
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


def noisy_average(updates: Sequence[list[np.ndarray]], std: float, denominator: float
                  ) -> list[np.ndarray]:
    """(sum of ``updates`` + N(0, std^2) per coordinate) / ``denominator``, in float64. With
    ``denominator`` fixed before the round, adding or removing one update of L2 norm at most
    ``C`` moves the result by at most ``C / denominator`` under noise ``std / denominator``,
    however many updates came (see the module docstring)."""
    total = [sum(np.asarray(a, np.float64) for a in layer) for layer in zip(*updates,
                                                                            strict=True)]
    return [a / denominator for a in gaussian_noise(total, std)]


def _parameters(results: list[tuple[ClientProxy, FitRes]]) -> list[list[np.ndarray]]:
    """Every answer's arrays. Under SecAgg+ every answer carries the mean of all (the workflow
    hands the unmasked mean to each), so these always sum to the sum of the answers."""
    return [parameters_to_ndarrays(res.parameters) for _, res in results]


class CentralDP(DifferentialPrivacyClientSideFixedClipping):
    """Flower's client-side-clipping wrapper (it sends ``C`` to ``fixedclipping_mod``) with
    the aggregation replaced by a fixed-denominator release: N(0, (z C)^2) from Opacus'
    sampler on the sum of the clipped updates, divided by ``cohort``. The inner strategy gets
    that noisy update as the one result of the round (FedAvg applies it, FedAdam steps on
    it), so its step is post-processing. Rounds survive dropouts down to ``min_sites``."""

    def __init__(self, strategy: Strategy, z: float, clipping_norm: float,
                 cohort: int) -> None:
        super().__init__(strategy, z, clipping_norm, cohort)
        self.std = z * clipping_norm
        self.cohort = cohort
        self._global: list[np.ndarray] = []

    def configure_fit(self, server_round: int, parameters: Parameters,
                      client_manager: Any) -> list[Any]:
        self._global = parameters_to_ndarrays(parameters)
        return super().configure_fit(server_round, parameters, client_manager)

    def aggregate_fit(
        self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
        failures: list[tuple[ClientProxy, FitRes] | BaseException],
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        if not results:
            return None, {}
        if len(results) > self.cohort:
            raise FederationError(f"round {server_round}: {len(results)} updates for a cohort "
                                  f"of {self.cohort} sites; a site that answers twice counts "
                                  "twice, beyond what the noise covers")
        updates = [[w - g for w, g in zip(weights, self._global, strict=True)]
                   for weights in _parameters(results)]
        step = noisy_average(updates, self.std, self.cohort)
        released = [(g + s).astype(g.dtype) for g, s in zip(self._global, step, strict=True)]
        noisy = FitRes(Status(Code.OK, ""), ndarrays_to_parameters(released), 1, {})
        aggregated, metrics = self.strategy.aggregate_fit(
            server_round, [(results[0][0], noisy)], failures)
        return aggregated, {**metrics, "central_noise_std": self.std / self.cohort}


def _clipped(update: list[np.ndarray], clipping_norm: float) -> list[np.ndarray]:
    """``update`` scaled to L2 norm at most ``clipping_norm`` (a zero update stays zero; Flower's
    ``compute_clip_model_update`` divides by its norm)."""
    norm = math.sqrt(sum(float(np.square(u).sum()) for u in update))
    return [u * min(1.0, clipping_norm / norm) for u in update] if norm > 0 else update


def local_release(new: list[np.ndarray], sent: list[np.ndarray], clipping_norm: float,
                  std: float) -> list[np.ndarray]:
    """What a site sends in local mode: ``sent`` plus its update (``new`` minus ``sent``)
    clipped to ``clipping_norm``, plus N(0, std^2) per coordinate from Opacus' sampler."""
    update = _clipped([np.asarray(n, np.float64) - s for n, s in zip(new, sent, strict=True)],
                      clipping_norm)
    return [(s + u).astype(np.asarray(n).dtype) for n, s, u in
            zip(new, sent, gaussian_noise(update, std), strict=True)]


class LocalDPMod:
    """Local DP on the client (put it after ``secaggplus_mod``, so the update is noised before
    it is masked): each update is clipped to ``clipping_norm`` and noised with ``std`` (``z C``
    from the definition the site paid for; the server has no say) before it leaves."""

    def __init__(self, clipping_norm: float, std: float) -> None:
        self.clipping_norm = clipping_norm
        self.std = std

    def __call__(self, msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
        if msg.metadata.message_type != MessageType.TRAIN:
            return call_next(msg, ctxt)
        sent = parameters_to_ndarrays(compat.recorddict_to_fitins(msg.content,
                                                                  keep_input=True).parameters)
        out_msg = call_next(msg, ctxt)
        if out_msg.has_error():
            return out_msg
        fit_res = compat.recorddict_to_fitres(out_msg.content, keep_input=True)
        fit_res.parameters = ndarrays_to_parameters(local_release(
            parameters_to_ndarrays(fit_res.parameters), sent, self.clipping_norm, self.std))
        out_msg.content = compat.fitres_to_recorddict(fit_res, keep_input=True)
        return out_msg


class RecordDP(FedAvg):
    """Server side of record-level DP: sites send clipped gradient sums; add ``N(0, (z C)^2)``
    to their total and hand ``total / (q * rows)`` (:func:`noisy_average`) to a torch
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

        if not results:
            return None, {}
        rows = sum(int(res.metrics["rows"]) for _, res in results)
        gradient = noisy_average(_parameters(results), self.std, self.sample_rate * rows)
        for param, g in zip(self._params, gradient, strict=True):
            param.grad = torch.from_numpy(np.array(g, np.float32))
        self._optimizer.step()
        stepped = [p.detach().numpy().copy() for p in self._params]
        return ndarrays_to_parameters(stepped), {"noise_std": self.std, "rows": rows}
