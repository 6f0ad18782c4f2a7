"""Empirical epsilon audits: statistically valid lower bounds on the epsilon veil's DP releases
spend, measured on the functions the product calls, against the epsilon its accountant claims.

A bound above the claim is a bug (in the calibration, the accountant or the noise); a bound
far below it says only that the audit lacked power, never that the claim is loose.

**Two worlds** (Jagielski et al. 2020; Nasr et al. 2021): many releases on each of two
neighbouring inputs, and a threshold distinguisher ``output > t`` or ``output <= t``.
(epsilon, delta)-DP says ``P[S | one] <= e^epsilon P[S | other] + delta`` for every event ``S``,
so ``log((P[S | one] - delta) / P[S | other])`` is a lower bound on epsilon wherever it is
positive. The threshold and direction are chosen on the first half of each sample and the
bound is computed on the second half with Clopper-Pearson intervals (each one-sided at half
the error, so the bound holds with the asked confidence): a mechanism that keeps its claim
gives a bound above the claim with probability at most ``1 - confidence``.
:func:`audit_query`, :func:`audit_dpsgd_multi_run` and :func:`audit_federated` work this way.

**One run** (Steinke, Nasr & Jagielski 2023, "Privacy auditing with one (1) training run"):
``m`` canaries, each included independently with probability 1/2, one training run, a guess
"in" for the ``k`` highest scores and "out" for the ``k`` lowest, abstention on the rest; the
number of correct guesses is then bounded by their Theorem 3 (:func:`one_run_lower_bound`).
:func:`audit_dpsgd_one_run` works this way. With ``m`` canaries no audit of this kind can
show much more than ``log(m)``, whatever the mechanism.

Every claim comes from the accountant the product itself uses (OpenDP's privacy maps for
queries, Opacus' for DP-SGD, veil's mu-GDP composition for federated rounds), never from the
audit.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from opacus.accountants import create_accountant
from scipy.optimize import brentq
from scipy.stats import beta, binom
from torch import nn

from veil.dp.mechanisms import Measure, Noise, noise, opendp
from veil.errors import InputError
from veil.train.dpsgd import (
    TrainConfig,
    book_keeping_step,
    calibrate,
    no_order_notice,
    poisson_batch,
    train_dp,
)

__all__ = ["AuditResult", "audit_dpsgd_multi_run", "audit_dpsgd_one_run", "audit_federated",
           "audit_query", "audit_synth", "central_dp_round", "epsilon_lower_bound",
           "one_run_lower_bound"]


@dataclass(frozen=True)
class AuditResult:
    """What one audit measured against what the mechanism claims; ``to_dict`` is what the
    ledger records."""

    mechanism: str
    claimed_epsilon: float  # from the product's own accountant, at ``delta``
    delta: float
    lower_bound: float  # holds with probability ``confidence``
    confidence: float
    samples: int  # releases per world (two-world audits) or canaries (one-run audit)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """How much of the claim the audit showed: near 1, the claim is tight and the audit
        strong; above 1, the claim is broken."""
        return self.lower_bound / self.claimed_epsilon

    @property
    def passed(self) -> bool:
        return self.lower_bound <= self.claimed_epsilon

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "passed": self.passed}


# -- the two bounds -----------------------------------------------------------------------
def _bound(hits: np.ndarray, misses: np.ndarray, n: int, delta: float,
           alpha: float) -> np.ndarray:
    """log((lower CP bound of hits/n - delta) / upper CP bound of misses/n), elementwise."""
    low = np.where(hits > 0, beta.ppf(alpha, np.maximum(hits, 1), n - hits + 1), 0.0)
    high = np.where(misses < n, beta.ppf(1 - alpha, misses + 1, np.maximum(n - misses, 1)),
                    1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(low > delta, np.log((low - delta) / high), -np.inf)


def _events(one: np.ndarray, other: np.ndarray, thresholds: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Counts of ``x > t`` and ``x <= t`` per threshold, in both samples: for each of the four
    (event, which sample is 'one') pairs, the hits in 'one' and in 'other'."""
    above_one = len(one) - np.searchsorted(np.sort(one), thresholds, side="right")
    above_other = len(other) - np.searchsorted(np.sort(other), thresholds, side="right")
    hits = np.stack([above_one, len(one) - above_one, above_other, len(other) - above_other])
    misses = np.stack([above_other, len(other) - above_other, above_one, len(one) - above_one])
    return hits, misses


def epsilon_lower_bound(one: np.ndarray, other: np.ndarray, delta: float, *,
                        confidence: float = 0.95) -> float:
    """A lower bound on epsilon, at ``confidence``, from scalar outputs of a mechanism on two
    neighbouring inputs (equal numbers of independent samples); 0.0 when nothing is found."""
    one, other = np.asarray(one, np.float64), np.asarray(other, np.float64)
    n = min(len(one), len(other)) // 2
    alpha = (1 - confidence) / 2
    pooled = np.concatenate([one[:n], other[:n]])
    thresholds = np.quantile(pooled, np.linspace(0.0005, 0.9995, 1999))
    hits, misses = _events(one[:n], other[:n], thresholds)
    best = np.unravel_index(np.argmax(_bound(hits, misses, n, delta, alpha)), hits.shape)
    hits, misses = _events(one[n:2 * n], other[n:2 * n], thresholds[best[1]:best[1] + 1])
    found = float(_bound(hits[best[0]], misses[best[0]], n, delta, alpha)[0])
    return max(found, 0.0) if math.isfinite(found) else 0.0


def _one_run_p_value(canaries: int, guesses: int, correct: int, epsilon: float,
                     delta: float) -> float:
    """Steinke et al.'s Theorem 3: for an (epsilon, delta)-DP run,
    ``P[W >= v] <= f(v) + 2 m delta max_i (f(v - i) - f(v)) / i`` where ``W`` counts correct
    guesses and ``f(u) = P[Binomial(r, e^eps / (1 + e^eps)) >= u]``; ``i`` runs to ``v``
    (beyond it the numerator stops growing)."""
    if correct == 0:
        return 1.0
    q = 1 / (1 + math.exp(-epsilon))
    tail = float(binom.sf(correct - 1, guesses, q))
    shortfall = np.arange(1, correct + 1)
    between = np.cumsum(binom.pmf(correct - shortfall, guesses, q))
    return min(1.0, tail + 2 * canaries * delta * float(np.max(between / shortfall)))


def one_run_lower_bound(canaries: int, guesses: int, correct: int, delta: float, *,
                        confidence: float = 0.95) -> float:
    """The largest epsilon that ``correct`` right guesses out of ``guesses`` (the rest of the
    ``canaries`` abstained) rule out at ``confidence`` for an (epsilon, delta)-DP run: the
    smallest epsilon whose Theorem 3 p-value reaches ``1 - confidence``. 0.0 when even
    epsilon 0 explains them."""
    if not 0 <= correct <= guesses <= canaries:
        raise InputError(f"need 0 <= correct ({correct}) <= guesses ({guesses}) <= canaries "
                         f"({canaries})")
    level = 1 - confidence

    def excess(epsilon: float) -> float:
        return _one_run_p_value(canaries, guesses, correct, epsilon, delta) - level

    if excess(0.0) >= 0:
        return 0.0
    high = 1.0
    while excess(high) < 0:
        high *= 2
    return float(brentq(excess, 0.0, high, xtol=1e-9))


# -- DP queries ---------------------------------------------------------------------------
def _query_claim(reference: Noise, delta: float) -> float:
    """The epsilon OpenDP's own privacy map states for the measurement veil builds: epsilon
    for Laplace; for Gaussian, its rho converted to (epsilon, delta) by OpenDP's
    ``make_zCDP_to_approxDP`` (valid for any rho-zCDP release, so looser than the exact
    Gaussian curve)."""
    measurement = reference._measurement  # the measurement veil calibrated and runs
    d_in = int(reference.sensitivity) if reference.integer else reference.sensitivity
    if reference.measure == "pure":
        return float(measurement.map(d_in))
    dp = opendp()
    approx = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(measurement), delta)
    return float(approx.map(d_in)[0])


def audit_query(measure: Measure = "pure", budget: float = 1.0, *, integer: bool = True,
                sensitivity: float = 1.0, delta: float = 1e-5, samples: int = 200_000,
                confidence: float = 0.95, mechanism: Noise | None = None) -> AuditResult:
    """Audit the noise a DP query adds: ``veil.dp.mechanisms.noise(measure, integer,
    sensitivity, budget)``, the call a count or sum makes, run ``samples`` times on each of
    two neighbouring inputs (an aggregate of 0 and one of ``sensitivity``).

    ``budget`` is epsilon (``"pure"``: Laplace, audited at delta 0) or rho (``"zcdp"``:
    Gaussian, whose claim is stated at ``delta``). Releases are drawn as one long vector of
    identical values: OpenDP adds i.i.d. noise per coordinate (its ``MakeNoise`` maps a
    sampler over the vector), so each coordinate is an independent release. The noise comes
    from the OS's generator (OpenDP cannot be seeded): results vary run to run.
    ``mechanism`` audits another :class:`Noise` (a test's deliberately broken copy) against
    the same claim.
    """
    if samples < 2:
        raise InputError(f"an audit needs at least 2 releases per world; got {samples}")
    reference = noise(measure, integer, float(sensitivity), budget)
    audited = mechanism or reference
    at = 0.0 if measure == "pure" else delta
    claim = _query_claim(reference, at)
    one = np.asarray(audited([0] * samples), np.float64)
    other = np.asarray(audited([reference.sensitivity] * samples), np.float64)
    return AuditResult(
        mechanism=f"query: {reference.distribution}", claimed_epsilon=claim, delta=at,
        lower_bound=epsilon_lower_bound(one, other, at, confidence=confidence),
        confidence=confidence, samples=samples,
        details={"measure": measure, "budget": float(budget),
                 "sensitivity": reference.sensitivity, "scale": float(audited.scale),
                 "claimed_scale": float(reference.scale),
                 "accountant": "OpenDP privacy map" + (
                     "" if measure == "pure" else " (zCDP to approx-DP conversion)")})


# -- DP synthetic data -----------------------------------------------------------------------
def audit_synth(rho: float = 0.01, *, delta: float = 1e-5, samples: int = 200_000,
                confidence: float = 0.95) -> AuditResult:
    """Audit one measurement step of the synthesizers (MST, AIM): the
    :class:`veil.synth.measure.Accountant`'s Gaussian on a marginal's count vector, spending
    ``rho``, run on counts of 0 and of 1 (one person added to a cell). OpenDP's noise is
    i.i.d. per cell, so each cell of one long count vector is an independent release. The
    claim is the Accountant's recorded spend (OpenDP's privacy map) converted to
    (epsilon, ``delta``) by OpenDP's ``make_zCDP_to_approxDP``."""
    from veil.synth.measure import Accountant

    if samples < 2:
        raise InputError(f"an audit needs at least 2 releases per world; got {samples}")
    accountant = Accountant(2 * rho)
    one, _ = accountant.gaussian(np.zeros(samples), rho, "audit: counts of 0")
    other, _ = accountant.gaussian(np.ones(samples), rho, "audit: counts of 1")
    spend = accountant.spends[0]
    dp = opendp()
    gaussian = dp.m.make_gaussian(dp.atom_domain(T=float, nan=False),
                                  dp.absolute_distance(T=float), scale=spend.scale)
    claim = float(dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(gaussian), delta).map(1.0)[0])
    return AuditResult(
        mechanism="synth: Gaussian marginal measurement", claimed_epsilon=claim, delta=delta,
        lower_bound=epsilon_lower_bound(one, other, delta, confidence=confidence),
        confidence=confidence, samples=samples,
        details={"rho": spend.rho, "scale": spend.scale,
                 "accountant": "OpenDP privacy map (zCDP to approx-DP conversion)"})


# -- DP-SGD ---------------------------------------------------------------------------------
_CANARY_VALUE = 10.0  # a canary row's one nonzero feature
_LR = 1e-3  # small, so the model stays where every canary's gradient is clipped (see below)


def _dirac_rows(included: np.ndarray, columns: int) -> np.ndarray:
    """Canary ``j`` is the row ``10 e_j`` with label 0; under a bias-free two-class linear
    model its gradient is ``(softmax - onehot) x = 10 (-p1, p1)`` in column ``j`` alone, a
    fixed direction ``(-1, 1) / sqrt 2`` in parameter space whose norm ``10 sqrt(2) p1``
    exceeds the clipping norm while ``p1`` stays near 1/2 (the small learning rate keeps it
    there), so DP-SGD adds exactly ``C`` along it: a Dirac gradient canary. An absent canary
    is a blank row, whose gradient is 0: the sum of clipped gradients is the one without it,
    and the rows, sample rate and noise multiplier (public in the accounting) do not change."""
    rows = np.zeros((len(included), columns), np.float32)
    chosen = np.flatnonzero(included)
    rows[chosen, chosen] = _CANARY_VALUE
    return rows


def _dirac_model(columns: int) -> nn.Linear:
    model = nn.Linear(columns, 2, bias=False)
    nn.init.zeros_(model.weight)
    return model


def _movement(model: nn.Linear) -> np.ndarray:
    """Each column's movement along ``(1, -1) / sqrt 2``, the descent direction of its
    canary's gradient (the model starts at 0)."""
    weight = model.weight.detach().double().numpy()
    return (weight[0] - weight[1]) / math.sqrt(2)


@contextmanager
def _quiet_accounting() -> Iterator[None]:
    """Opacus' accountants at a sample rate near 1 evaluate ``log(1 - q)`` branches that
    numpy warns about (the results are finite and used); silence those and the order notice."""
    with no_order_notice(), np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        yield


@contextmanager
def _one_thread() -> Iterator[None]:
    """Torch's intra-op threads cost far more than they save on a three-feature model: beside
    other busy processes each tiny operation waited milliseconds for them (about 30 ms per
    run with two threads on a loaded 2-core machine, 0.7 ms with one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _guess_grid(canaries: int) -> list[int]:
    return sorted({max(1, canaries // d) for d in (100, 50, 20, 10, 5)})


def audit_dpsgd_one_run(*, epsilon: float = 8.0, delta: float = 1e-5, canaries: int = 2000,
                        epochs: int = 1, max_grad_norm: float = 1.0,
                        accountant: Literal["prv", "rdp"] = "prv",
                        guesses: Sequence[int] | None = None, confidence: float = 0.95,
                        seed: int | None = None) -> AuditResult:
    """One run of veil's DP-SGD (:func:`veil.train.dpsgd.train_dp`, unchanged) on ``canaries``
    white-box Dirac gradient canaries (see ``_dirac_rows``), each in with probability 1/2;
    score = the model's movement along each canary's direction.

    Every row is in almost every batch (batch size ``canaries - 1``: DP-SGD's Poisson sampler
    needs a rate below 1), so the final model is close to the Gaussian mechanism the
    accountant charges for, the best case for an audit that sees only the final model. Each
    ``k`` in ``guesses`` (``k`` "in" and ``k`` "out" guesses; default: 1% to 20% of the
    canaries) is tried at confidence ``1 - (1 - confidence) / len(guesses)`` and the best
    bound is kept (a union bound, so the result holds at ``confidence``).

    At (8, 1e-5) it shows about 2.4 (2,000 canaries) to 3.3 (5,000; the rows are dense, so
    memory grows as ``canaries^2``): 0.3-0.4 of the claim, near what the theorem can give
    for a Gaussian release at these sizes, since its ``2 m delta`` term grows with ``m``.
    """
    if canaries < 4:
        raise InputError(f"a one-run audit needs at least 4 canaries; got {canaries}")
    ks = list(guesses or _guess_grid(canaries))
    if any(not 1 <= k <= canaries // 2 for k in ks):
        raise InputError(f"each number of guesses must be between 1 and {canaries // 2}")
    rng = np.random.default_rng(seed)
    included = rng.random(canaries) < 0.5
    config = TrainConfig(epsilon=epsilon, delta=delta, epochs=epochs,
                         batch_size=canaries - 1, max_grad_norm=max_grad_norm, lr=_LR,
                         accountant=accountant)
    model = _dirac_model(canaries)
    with _quiet_accounting():
        run = train_dp(model, _dirac_rows(included, canaries),
                       np.zeros(canaries, np.int64), config,
                       seed=int(rng.integers(2**63 - 1)))
    order = np.argsort(_movement(model), kind="stable")
    each = 1 - (1 - confidence) / len(ks)
    found = []
    for k in ks:
        correct = int(included[order[-k:]].sum() + (~included[order[:k]]).sum())
        found.append((one_run_lower_bound(canaries, 2 * k, correct, delta, confidence=each),
                      k, correct))
    bound, k, correct = max(found)
    return AuditResult(
        mechanism="DP-SGD (one run, white-box Dirac gradient canaries)",
        claimed_epsilon=run.epsilon, delta=delta, lower_bound=bound, confidence=confidence,
        samples=canaries,
        details={"included": int(included.sum()), "guesses": 2 * k, "correct": correct,
                 "tried": [2 * k for k in ks], "noise_multiplier": run.noise_multiplier,
                 "sample_rate": run.sample_rate, "steps": run.steps,
                 "accountant": run.accountant, "engine": run.engine})


def audit_dpsgd_multi_run(*, epsilon: float = 2.0, delta: float = 0.01, runs: int = 3000,
                          rows: int = 16, epochs: int = 1, max_grad_norm: float = 1.0,
                          accountant: Literal["prv", "rdp"] = "prv", confidence: float = 0.95,
                          seed: int | None = None) -> AuditResult:
    """``runs`` trainings of a small model (``rows - 1`` fixed background rows plus one Dirac
    canary or a blank row, see ``_dirac_rows``) in each world, each with its own seed;
    score = the movement along the canary's direction; :func:`epsilon_lower_bound`.

    Each run is veil's own DP-SGD step (book-keeping clipping, Opacus' noise, Poisson
    batches) at the noise multiplier, sample rate and steps ``calibrate`` gives for the
    configuration; the claim is that configuration's epsilon from Opacus' accountant, stepped
    as ``train_dp`` steps it. ``train_dp`` itself is not called per run because it asks the
    accountant for the epsilon after every run (a tenth of a second each), the same answer
    every time.

    ``runs`` per world can only show events of probability above about ``10 / runs``, so the
    default configuration is stated at delta 0.01, where a few thousand runs have power: at
    (2, 0.01) they show about 0.9, and 2.9 for a step with half the noise. At delta 1e-5
    that bug would need about 10^5 runs per world (about a millisecond each) to show.
    """
    if runs < 2 or rows < 2:
        raise InputError(f"need at least 2 runs and 2 rows; got {runs} runs, {rows} rows")
    rng = np.random.default_rng(seed)
    background = np.zeros((rows - 1, 3), np.float32)
    background[:, 1:] = rng.normal(size=(rows - 1, 2))
    labels = torch.as_tensor(np.append(rng.integers(0, 2, rows - 1), 0))
    config = TrainConfig(epsilon=epsilon, delta=delta, epochs=epochs, batch_size=rows - 1,
                         max_grad_norm=max_grad_norm, lr=_LR, accountant=accountant)
    with _quiet_accounting():
        sigma, rate, per_epoch = calibrate(config, rows)
        ledger = create_accountant(accountant)
        for _ in range(per_epoch * epochs):
            ledger.step(noise_multiplier=sigma, sample_rate=rate)
        claim = float(ledger.get_epsilon(delta=delta))
    scores: dict[bool, list[float]] = {True: [], False: []}
    seeds = rng.integers(2**63 - 1, size=(2, runs))
    with _one_thread():
        for world, world_seeds in zip((True, False), seeds, strict=True):
            features = torch.as_tensor(np.vstack([background,
                                                  _dirac_rows(np.array([world]), 3)]))
            for run_seed in world_seeds:
                model = _dirac_model(3)
                generator = torch.Generator().manual_seed(int(run_seed))
                optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
                step = book_keeping_step(model, [model], optimizer, features, labels, config,
                                          sigma, rate, generator)
                for _ in range(per_epoch * epochs):
                    step(poisson_batch(rows, rate, generator))
                scores[world].append(float(_movement(model)[0]))
    return AuditResult(
        mechanism="DP-SGD (multi-run, white-box Dirac gradient canary)",
        claimed_epsilon=claim, delta=delta,
        lower_bound=epsilon_lower_bound(np.array(scores[True]), np.array(scores[False]),
                                        delta, confidence=confidence),
        confidence=confidence, samples=runs,
        details={"rows": rows, "noise_multiplier": sigma, "sample_rate": rate,
                 "steps": per_epoch * epochs, "accountant": accountant})


# -- federated ------------------------------------------------------------------------------
@contextmanager
def _torch_seeded(seed: int | None) -> Iterator[None]:
    """Torch's global generator (the federated noise draws from it, through Opacus' sampler)
    seeded for the block and restored after: the audit neither depends on nor disturbs the
    caller's state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(secrets.randbits(63) if seed is None else seed)
        yield


class _NoClients:
    """A client manager with nobody connected: ``configure_fit`` only records the weights."""

    def num_available(self) -> int:
        return 0

    def sample(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []


class _Site:
    """The one thing a strategy reads from a client proxy here."""

    def __init__(self, node_id: int) -> None:
        self.node_id = node_id


def central_dp_round(signs: Sequence[float], direction: np.ndarray, cohort: int, z: float,
                     clipping_norm: float, strategy: Any = None) -> np.ndarray:
    """The global weights :class:`veil.federated.privacy.CentralDP` (around ``strategy``,
    FedAvg by default) releases after one round from weights 0.1, when the sites that answer
    send updates ``sign * clipping_norm * direction`` (clipping happens on the sites; these
    are already within it when ``direction`` has norm 1). Its noise comes from torch's global
    generator: seed it first for a reproducible release."""
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import FedAvg

    from veil.federated.privacy import CentralDP

    # FedAvg logs a warning per round without a metrics aggregator; the audit has no metrics
    wrapper = CentralDP(strategy or FedAvg(fit_metrics_aggregation_fn=lambda _: {}), z,
                        clipping_norm, cohort)
    start = np.full(len(direction), 0.1, np.float32)
    wrapper.configure_fit(1, ndarrays_to_parameters([start]), _NoClients())
    step = clipping_norm * np.asarray(direction, np.float64)
    results = [(_Site(i), FitRes(Status(Code.OK, ""), ndarrays_to_parameters(
        [(start + s * step).astype(np.float32)]), 1, {})) for i, s in enumerate(signs)]
    aggregated, _ = wrapper.aggregate_fit(1, results, [])
    return parameters_to_ndarrays(aggregated)[0].astype(np.float64)


def audit_federated(mode: Literal["central", "local"] = "central", *, epsilon: float = 1.0,
                    delta: float = 1e-5, clipping_norm: float = 0.5, sites: int = 10,
                    samples: int | None = None, confidence: float = 0.95,
                    seed: int | None = None) -> AuditResult:
    """Audit one site-level DP round calibrated by ``noise_multiplier(epsilon, delta, 1)``.

    * ``central``: ``sites`` sites at ``+C`` against the same plus one at ``-C`` (cohort
      ``sites + 1``), through :func:`central_dp_round`. The aggregation works coordinate by
      coordinate, so a model of ``samples`` coordinates (default 10^6) is that many
      independent releases per world.
    * ``local``: the message :func:`veil.federated.privacy.local_release` sends for an update
      ``+C`` against the null update, ``samples`` calls per world (default 20,000; clipping is
      over the whole update, so they cannot be batched).

    The claim is veil's mu-GDP accountant (``epsilon_spent``) for that multiplier.
    """
    from veil.federated.privacy import epsilon_spent, local_release, noise_multiplier

    if mode not in ("central", "local"):
        raise InputError(f"mode must be 'central' or 'local'; got {mode!r}")
    count = samples or (1_000_000 if mode == "central" else 20_000)
    if count < 2:
        raise InputError(f"an audit needs at least 2 releases per world; got {count}")
    z = noise_multiplier(epsilon, delta, 1)
    c = clipping_norm
    with _torch_seeded(seed):
        if mode == "central":
            ones = np.ones(count)
            one = central_dp_round([1.0] * sites, ones, sites + 1, z, c)
            other = central_dp_round([1.0] * sites + [-1.0], ones, sites + 1, z, c)
        else:
            zero = [np.zeros(1, np.float32)]
            one = np.array([local_release([np.array([c], np.float32)], zero, c, z * c)[0][0]
                            for _ in range(count)], np.float64)
            other = np.array([local_release(zero, zero, c, z * c)[0][0]
                              for _ in range(count)], np.float64)
    return AuditResult(
        mechanism=f"federated: site-level {mode} DP round", claimed_epsilon=epsilon_spent(
            z, 1, delta), delta=delta,
        lower_bound=epsilon_lower_bound(one, other, delta, confidence=confidence),
        confidence=confidence, samples=count,
        details={"mode": mode, "noise_multiplier": z, "clipping_norm": c,
                 **({"sites": sites, "cohort": sites + 1} if mode == "central" else {}),
                 "accountant": "exact Gaussian composition (mu-GDP)"})
