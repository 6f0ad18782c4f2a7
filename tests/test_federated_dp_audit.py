"""Federated DP, measured rather than read: how far one site (or one row) moves what the server
releases, against the bound the noise is calibrated to, and an empirical audit (threshold
distinguisher, Clopper-Pearson) of the epsilon the releases spend, central and local.

The site-level neighbours are a run in which a site contributes its clipped update and one in
which it contributes nothing (see :mod:`veil.federated.privacy`). Every release goes through
the function the server (or the site) calls, never a simulation, so these run in seconds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from flwr.app import Context, Message, Metadata, RecordDict
from flwr.app.message_type import MessageType
from flwr.common import FitIns, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.compat.common import recorddict_compat as compat
from flwr.server.strategy import FedAdam, FedAvg
from flwr.supercore.differential_privacy import KEY_CLIPPING_NORM

from _federated import NoClients, Proxy, fit
from veil.attacks.audit import audit_federated, central_dp_round
from veil.errors import FederationError
from veil.federated import Federation, Privacy, Site
from veil.federated.privacy import (
    CentralDP,
    LocalDPMod,
    RecordDP,
    local_release,
    noise_multiplier,
    plan,
)
from veil.train.registry import card

C = 0.5  # the clipping norm
DELTA = 1e-5
CLAIM = 1.0  # epsilon of the audited round
Z = noise_multiplier(CLAIM, DELTA, 1)  # one round spending exactly (CLAIM, DELTA)
DIRECTION = np.array([3.0, 4.0]) / 5.0  # a unit vector: every update below has norm C


def _central(signs: list[float], cohort: int, seed: int, strategy=None) -> np.ndarray:
    """The global weights CentralDP releases (the audit's own round, from global weights 0.1)
    when the sites that answer send clipped updates ``sign * C`` along ``DIRECTION``, with
    Opacus' sampler seeded with ``seed``."""
    torch.manual_seed(seed)
    return central_dp_round(signs, DIRECTION, cohort, Z, C, strategy)


# -- central: one site moves the release by at most C / cohort ------------------------------
@pytest.mark.parametrize(("answering", "cohort"), [(2, 3), (9, 10), (3, 10)])
def test_one_site_moves_the_central_release_by_at_most_c_over_the_cohort(
        answering: int, cohort: int) -> None:
    """Same noise seed in both worlds, so the difference is the signal alone. The plain mean
    fails this: adding an update -C to ``answering`` updates +C moves it by
    2C / (answering + 1), twice C / cohort and more."""
    bound = C / cohort
    base = _central([1.0] * answering, cohort, seed=7)
    added = _central([1.0] * answering + [-1.0], cohort, seed=7)
    removed = _central([1.0] * (answering - 1), cohort, seed=7)
    for neighbour in (added, removed):
        assert np.linalg.norm(neighbour - base) <= bound + 1e-6
    assert np.linalg.norm(added - base) == pytest.approx(bound, abs=1e-6)  # the bound is met


def test_a_round_with_more_updates_than_the_cohort_is_refused() -> None:
    with pytest.raises(FederationError, match="cohort of 3 sites"):
        _central([1.0] * 4, cohort=3, seed=0)


def test_secure_aggregation_hand_off_releases_the_same() -> None:
    """Under SecAgg+ every answer carries the mean of all; the release must not change."""
    plain = _central([1.0, -1.0, 1.0], cohort=4, seed=3)
    mean = (0.1 + C * DIRECTION / 3).astype(np.float32)
    wrapper = CentralDP(FedAvg(), Z, C, 4)
    wrapper.configure_fit(1, ndarrays_to_parameters([np.full(2, 0.1, np.float32)]), NoClients())
    torch.manual_seed(3)
    masked, _ = wrapper.aggregate_fit(1, [(Proxy(i), fit([mean])) for i in range(3)], [])
    assert np.allclose(parameters_to_ndarrays(masked)[0], plain, atol=1e-6)


def test_the_server_optimizer_steps_on_the_noisy_release() -> None:
    """FedAdam takes the noised update as its one result: its step is post-processing (noise
    added after Adam's step would be calibrated to the wrong sensitivity)."""
    start = [np.full(2, 0.1, np.float32)]
    adam = dict(initial_parameters=ndarrays_to_parameters(start), eta=0.3, eta_l=0.1)
    noised = _central([1.0, 1.0], cohort=3, seed=5)
    stepped = _central([1.0, 1.0], cohort=3, seed=5, strategy=FedAdam(**adam))
    reference = FedAdam(**adam)
    expected, _ = reference.aggregate_fit(1, [(Proxy(0), fit([noised.astype(np.float32)]))], [])
    assert np.allclose(stepped, parameters_to_ndarrays(expected)[0], atol=1e-6)


def test_central_audit_finds_no_more_epsilon_than_claimed() -> None:
    """A million releases per world (one per coordinate) of a round calibrated to (1, 1e-5):
    10 sites at +C against the same plus one at -C, cohort 11. Fixed seed. Over other seeds
    the bound ranged 0.57-0.76, so both asserts hold with a wide margin; the lower one says
    the audit has power (the old mean-based release gives a bound near 1.7 here)."""
    result = audit_federated("central", epsilon=CLAIM, delta=DELTA, clipping_norm=C, sites=10,
                             samples=1_000_000, seed=1)
    assert result.claimed_epsilon <= CLAIM
    assert 0.4 < result.lower_bound <= result.claimed_epsilon


# -- local: each message moves by at most C, whatever the server asks ------------------------
def _local(update: np.ndarray, seed: int) -> np.ndarray:
    torch.manual_seed(seed)
    return local_release([update.astype(np.float32)], [np.zeros_like(update, np.float32)],
                         C, Z * C)[0].astype(np.float64)


def test_one_site_moves_its_local_message_by_at_most_c() -> None:
    """Its update (longer than C, so clipped) against the null update of no data."""
    update = 3 * C * DIRECTION
    moved = _local(update, seed=4) - _local(np.zeros(2), seed=4)
    assert np.linalg.norm(moved) == pytest.approx(C, abs=1e-6)
    assert np.allclose(moved / C, DIRECTION, atol=1e-6)


def test_local_audit_finds_no_more_epsilon_than_claimed() -> None:
    """20,000 messages per world, each one call of the site's release (clipping is over the
    whole update, so they cannot be batched): an update +C against the null update. Fixed
    seed; over other seeds the bound ranged 0-0.6, far under the claim (20,000 samples are
    too few to show more at this noise; the exact check is the test above). The server only
    ever sees these messages (or their SecAgg+ sum), so anything it computes keeps it."""
    result = audit_federated("local", epsilon=CLAIM, delta=DELTA, clipping_norm=C,
                             samples=20_000, seed=11)
    assert result.lower_bound <= result.claimed_epsilon


def test_the_local_mod_ignores_the_servers_clipping_and_noise() -> None:
    """A server that asks for a huge clipping norm (and sends no noise) still gets an update
    clipped to the site's C and noised with the site's z C."""
    sent = [np.zeros(50_000, np.float32)]
    instruction = Message(content=compat.fitins_to_recorddict(
        FitIns(ndarrays_to_parameters(sent), {KEY_CLIPPING_NORM: 1e9}), keep_input=True),
        metadata=Metadata(run_id=1, message_id="", src_node_id=0, dst_node_id=1,
                          reply_to_message_id="", group_id="", created_at=0.0, ttl=60.0,
                          message_type=MessageType.TRAIN))
    update = np.zeros(50_000, np.float32)
    update[0] = 100.0

    def train(msg: Message, ctxt: Context) -> Message:
        return Message(content=compat.fitres_to_recorddict(fit([update]), keep_input=True),
                       reply_to=msg)

    reply = LocalDPMod(C, Z * C)(instruction, Context(1, 1, {}, RecordDict(), {}), train)
    released = parameters_to_ndarrays(compat.recorddict_to_fitres(reply.content, True)
                                      .parameters)[0]
    assert released[1:].std() == pytest.approx(Z * C, rel=0.03)
    assert abs(released[0] - C) < 6 * Z * C  # clipped to C, not 100


# -- record level: one row moves the step by at most C / (q rows), whoever answers -----------
@pytest.mark.parametrize("answering", [2, 3])
def test_one_row_moves_the_record_level_gradient_by_c_over_q_rows(answering: int) -> None:
    """Same noise seed; rows are public (80 per site here). The noise, added to the total
    before the division, scales with the same denominator: the ratio is z for any cohort."""
    start = [np.zeros(2, np.float32)]

    def step(extra: float) -> np.ndarray:
        strategy = RecordDP(z=Z, clipping_norm=C, sample_rate=0.25, lr=1.0)
        strategy.configure_fit(1, ndarrays_to_parameters(start), NoClients())
        sums = [np.full(2, 0.2, np.float32) for _ in range(answering)]
        sums[0] = (sums[0] + extra * C * DIRECTION).astype(np.float32)
        torch.manual_seed(9)
        stepped, metrics = strategy.aggregate_fit(
            1, [(Proxy(i), fit([s], rows=80)) for i, s in enumerate(sums)], [])
        assert metrics["noise_std"] / C == pytest.approx(Z)
        return parameters_to_ndarrays(stepped)[0].astype(np.float64)

    moved = np.linalg.norm(step(1.0) - step(0.0))  # SGD, lr 1: the step is the gradient
    assert moved == pytest.approx(C / (0.25 * 80 * answering), rel=1e-5)


# -- the model card states it ----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["central", "local"])
def test_model_card_states_the_site_level_guarantee(mode: str) -> None:
    fed = Federation(name="f", sites=[Site(c, c, "d") for c in "abc"], target="y",
                     features=["x"], bounds={"x": (0.0, 1.0)}, rounds=5,
                     privacy=Privacy(mode, epsilon=2.0, delta=1e-5, clipping_norm=C,
                                     unit="site"))
    spend = plan(fed)
    meta = {"name": "m", "version": 1, "dataset": "federation:f", "fingerprint": "0" * 64,
            "encoding": {"target": "y", "classes": [0, 1], "order": ["x"]},
            "architecture": "logreg", "metrics": {"accuracy": 0.5}, "actor": "a",
            "purpose": "p", "created": "now", "privacy": spend,
            "federation": {"definition": fed.to_dict(), "rounds": [{}] * 5, "sites": []}}
    markdown, _ = card(meta)
    z = f"{spend['noise_multiplier']:.4g}"
    assert "one site: its whole contribution" in markdown
    assert "(2, 1e-05)-DP for every site over 5 rounds" in markdown
    assert "exact Gaussian composition (mu-GDP)" in markdown
    assert f"L2 norm {C:g}" in markdown and f"noise multiplier {z}, 5 rounds" in markdown
    if mode == "central":
        assert spend["cohort"] == 3 and "fixed cohort of 3 sites" in markdown
    else:
        assert "cohort" not in spend and "before it leaves" in markdown
    assert math.isclose(spend["rho"], 5 / (2 * spend["noise_multiplier"] ** 2))
