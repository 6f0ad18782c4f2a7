"""veil.federated: the definition, the guarantee and its accounting, the server's guard, and
real runs on Flower's simulation engine (SecAgg+, dropouts, faulty sites, budgets, ledgers)."""

from __future__ import annotations

import json
import math
import os
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
from scipy import stats

from _cli import veil as run_veil
from _federated import NoClients, Proxy, fit
from veil import Workspace
from veil.demo.data import generate_patients
from veil.demo.pipeline import BOUNDS
from veil.errors import FederationError, InputError, PrivacyBudgetError
from veil.federated import Federation, Privacy, SecureAggregation, Site, federate, load
from veil.federated.apps import Guard, Recorder
from veil.federated.privacy import (
    CentralDP,
    RecordDP,
    epsilon_spent,
    gaussian_noise,
    noise_multiplier,
    plan,
)
from veil.federated.run import simulate
from veil.federated.site import Learner, get_weights, load_site, model
from veil.keys import generate_key_file

FEATURES = [*BOUNDS, "sex"]


def _federation(sites: list[Site], **options) -> Federation:
    settings = {"name": "readmission", "sites": sites, "target": "readmitted_30d",
                "features": FEATURES, "bounds": BOUNDS, "categories": {"sex": ["F", "M"]},
                "rounds": 2, "min_rows": 50, "seed": 3,
                "secure_aggregation": SecureAggregation(enabled=False)} | options
    return Federation(**settings)


@pytest.fixture(scope="module")
def four_sites(tmp_path_factory: pytest.TempPathFactory, make_sites) -> list[Site]:
    return make_sites(tmp_path_factory.mktemp("sites"), 4)


def _entries(site: Site, action: str) -> list:
    with Workspace.open(site.workspace, key_file=site.key_file) as ws:
        return [e for e in ws.ledger.entries() if e.action == action]


# -- the definition ---------------------------------------------------------------------------
def test_toml_definition_round_trips(tmp_path: Path) -> None:
    (tmp_path / "fed.toml").write_text("""
name = "readmission"
target = "readmitted_30d"
features = ["age", "sex"]
rounds = 4
strategy = "fedprox"
[public]
bounds = { age = [18, 95] }
categories = { sex = ["F", "M"] }
[privacy]
mode = "central"
unit = "site"
epsilon = 3.0
delta = 1e-5
[secure_aggregation]
num_shares = 3
threshold = 2
[[sites]]
name = "a"
workspace = "sites/a"
dataset = "patients"
key_file = "a.key"
[[sites]]
name = "b"
workspace = "/abs/b"
dataset = "patients"
[[sites]]
name = "c"
workspace = "c"
dataset = "patients"
""")
    fed = load(tmp_path / "fed.toml")
    assert fed.strategy == "fedprox" and fed.rounds == 4 and fed.bounds["age"] == (18.0, 95.0)
    assert fed.sites[0].workspace == str(tmp_path / "sites/a")  # relative to the file
    assert fed.sites[1].workspace == "/abs/b" and fed.sites[1].key_file is None
    assert fed.privacy.unit == "site" and fed.secure_aggregation.num_shares == 3
    assert Federation.from_dict(fed.to_dict()) == fed


@pytest.mark.parametrize(("change", "message"), [
    ({"sites": []}, "at least two sites"),
    ({"features": ["age", "nope"]}, "public bounds or categories"),
    ({"strategy": "fedsgd"}, "strategy must be one of"),
    ({"rounds": 0}, "rounds must be a whole number"),
    ({"min_sites": 5}, "min_sites"),
    ({"privacy": Privacy("central", epsilon=0.0, delta=1e-5)}, "epsilon"),
    ({"privacy": Privacy("central", epsilon=1.0, delta=1.0)}, "delta"),
    ({"privacy": Privacy("local", epsilon=1.0, delta=1e-5, unit="record")}, "centrally"),
    ({"privacy": Privacy("central", epsilon=1.0, delta=1e-5, sample_rate=2.0)}, "sample_rate"),
    ({"privacy": Privacy("central", epsilon=1.0, delta=1e-5), "strategy": "fedprox"},
     "proximal term"),
    ({"secure_aggregation": SecureAggregation(num_shares=3, threshold=3)}, "threshold"),
    ({"secure_aggregation": SecureAggregation(num_shares=5, threshold=3)}, "exceeds"),
])
def test_bad_definitions_are_refused_with_the_reason(change: dict, message: str) -> None:
    sites = [Site("a", "wa", "d"), Site("b", "wb", "d"), Site("c", "wc", "d")]
    settings = {"sites": sites, "features": ["age", "sex"], "bounds": {"age": (18.0, 95.0)},
                "categories": {"sex": ["F", "M"]}} | change
    with pytest.raises(InputError, match=message):
        _federation(**settings).check()


def test_malformed_toml_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("name = [unclosed")
    with pytest.raises(InputError, match="not valid TOML"):
        load(tmp_path / "bad.toml")
    (tmp_path / "odd.toml").write_text('name = "x"\ncolour = "red"\n')
    with pytest.raises(InputError, match="malformed federation definition"):
        load(tmp_path / "odd.toml")
    with pytest.raises(InputError, match="no federation definition"):
        load(tmp_path / "missing.toml")


# -- the guarantee ----------------------------------------------------------------------------
@pytest.mark.parametrize(("epsilon", "rounds"), [(0.5, 5), (3.0, 20), (8.0, 100)])
def test_site_level_multiplier_spends_exactly_epsilon(epsilon: float, rounds: int) -> None:
    z = noise_multiplier(epsilon, 1e-5, rounds)
    assert epsilon_spent(z, rounds, 1e-5) == pytest.approx(epsilon, rel=1e-6)
    assert epsilon_spent(z, rounds, 1e-5) <= epsilon  # never more
    assert epsilon_spent(z * 1.1, rounds, 1e-5) < epsilon  # more noise, less spent


def test_site_level_accounting_matches_dp_accounting() -> None:
    """Independent check: dp-accounting's PLD accountant on the same Gaussian rounds."""
    dp_accounting = pytest.importorskip("dp_accounting")
    z, rounds, delta = noise_multiplier(2.0, 1e-5, 10), 10, 1e-5
    accountant = dp_accounting.pld.PLDAccountant()
    accountant.compose(dp_accounting.GaussianDpEvent(z), rounds)
    assert accountant.get_epsilon(delta) == pytest.approx(2.0, rel=0.01)


def test_record_level_plan_is_dp_sgds_calibration() -> None:
    from opacus.accountants import PRVAccountant

    fed = _federation([Site("a", "a", "d"), Site("b", "b", "d")], rounds=30,
                      privacy=Privacy("central", epsilon=3.0, delta=1e-5, sample_rate=0.2))
    spend = plan(fed)
    accountant = PRVAccountant()
    for _ in range(30):
        accountant.step(noise_multiplier=spend["noise_multiplier"], sample_rate=0.2)
    assert accountant.get_epsilon(delta=1e-5) == pytest.approx(3.0, abs=0.05)
    assert spend["unit"] == "record" and spend["rho"] is None
    with pytest.raises(PrivacyBudgetError, match="too small"):
        plan(_federation([Site("a", "a", "d"), Site("b", "b", "d")], rounds=20,
                         privacy=Privacy("central", epsilon=1e-3, delta=1e-9, sample_rate=0.5)))


def test_gaussian_noise_has_the_asked_scale() -> None:
    noisy = gaussian_noise([np.zeros(20_000, np.float32)], 0.7)[0]
    assert noisy.dtype == np.float32
    assert stats.kstest(noisy / 0.7, "norm").pvalue > 1e-3


def test_central_dp_divides_by_the_cohort_and_survives_dropouts() -> None:
    from flwr.server.strategy import FedAvg

    wrapper = CentralDP(FedAvg(), z=2.0, clipping_norm=0.5, cohort=4)
    wrapper.configure_fit(1, ndarrays_to_parameters([np.zeros(50_000, np.float32)]),
                          NoClients())
    results = [(Proxy(i), fit([np.full(50_000, 1.0, np.float32)])) for i in range(3)]
    aggregated, metrics = wrapper.aggregate_fit(1, results, [RuntimeError("site 4 dropped")])
    values = parameters_to_ndarrays(aggregated)[0]  # a dropout no longer voids the round ...
    assert values.mean() == pytest.approx(0.75, abs=0.01)  # ... it shrinks the step to 3/4
    assert values.std() == pytest.approx(2.0 * 0.5 / 4, rel=0.03)
    assert metrics["central_noise_std"] == pytest.approx(0.25)


def test_record_dp_steps_on_the_noisy_total() -> None:
    weights = [np.ones((2, 3), np.float32), np.zeros(2, np.float32)]
    strategy = RecordDP(z=0.0, clipping_norm=1.0, sample_rate=0.5, lr=2.0)
    strategy.configure_fit(1, ndarrays_to_parameters(weights), NoClients())
    sums = [[np.full((2, 3), 3.0, np.float32), np.ones(2, np.float32)],
            [np.full((2, 3), 1.0, np.float32), np.ones(2, np.float32)]]
    results = [(Proxy(i), fit(s, rows=40)) for i, s in enumerate(sums)]
    stepped, _ = strategy.aggregate_fit(1, results, [])
    w, b = parameters_to_ndarrays(stepped)
    # total gradient 4 (weights) and 2 (bias); step 2 / (0.5 * 80 rows) = 0.05 per unit
    assert np.allclose(w, 1 - 0.05 * 4) and np.allclose(b, -0.05 * 2)


def test_guard_excludes_malformed_and_oversized_updates_and_fails_below_min_sites() -> None:
    from flwr.server.strategy import FedAvg

    fed = _federation([Site(c, c, "d") for c in "abcd"], min_sites=2, max_update_norm=10.0)
    recorder = Recorder()
    guard = Guard(FedAvg(), fed, recorder)
    sent = [np.zeros((2, 2), np.float32), np.zeros(2, np.float32)]
    guard.configure_fit(1, ndarrays_to_parameters(sent), NoClients())
    good = [np.ones((2, 2), np.float32), np.ones(2, np.float32)]
    results = [(Proxy(1), fit(good)), (Proxy(2), fit(good)),
               (Proxy(3), fit([np.ones((3, 2), np.float32), np.ones(2, np.float32)])),
               (Proxy(4), fit([np.full((2, 2), np.nan, np.float32), np.ones(2, np.float32)])),
               (Proxy(5), fit([np.full((2, 2), 1e3, np.float32), np.ones(2, np.float32)]))]
    aggregated, _ = guard.aggregate_fit(1, results, [])
    assert np.allclose(parameters_to_ndarrays(aggregated)[0], 1.0)
    reasons = {e["node"]: e["reason"] for e in recorder.rounds[0]["excluded"]}
    assert set(reasons) == {3, 4, 5}
    assert "shapes" in reasons[3] and "NaN" in reasons[4] and "oversized" in reasons[5]
    guard.configure_fit(2, aggregated, NoClients())
    with pytest.raises(FederationError, match="fewer than min_sites 2"):
        guard.aggregate_fit(2, results[2:] + results[:1], [])


def test_guard_turns_a_halted_secure_aggregation_round_into_an_error() -> None:
    from flwr.server.strategy import FedAvg

    fed = _federation([Site(c, c, "d") for c in "abc"])
    guard = Guard(FedAvg(), fed, Recorder())
    sent = ndarrays_to_parameters([np.zeros(2, np.float32)])
    guard.configure_fit(1, sent, NoClients())
    with pytest.raises(FederationError, match="round 1 did not aggregate"):
        guard.configure_fit(2, sent, NoClients())  # round 1 never reached aggregate_fit


# -- the site ---------------------------------------------------------------------------------
def test_site_pays_once_per_run_and_refuses_without_budget(tmp_path: Path, make_sites) -> None:
    sites = make_sites(tmp_path, 2, budget={"epsilon": 4.0, "delta": 1e-4})
    fed = _federation(sites, privacy=Privacy("central", epsilon=3.0, delta=1e-5))
    spend = plan(fed)
    for _ in range(2):  # the same run asks twice: one debit
        load_site(sites[0], fed, run="r1", epsilon=3.0, delta=1e-5, rho=None, details={})
    with Workspace.open(sites[0].workspace, key_file=sites[0].key_file) as ws:
        assert ws.budget("patients").spent.epsilon == pytest.approx(3.0)
        before = ws.ledger.size
    with pytest.raises(PrivacyBudgetError, match="exhausted"):
        load_site(sites[0], fed, run="r2", epsilon=3.0, delta=1e-5, rho=None, details={})
    with Workspace.open(sites[0].workspace, key_file=sites[0].key_file) as ws:
        assert ws.budget("patients").spent.epsilon == pytest.approx(3.0)
        assert ws.ledger.size == before + 1  # the read is logged, nothing was spent
    assert spend["epsilon"] == 3.0


def test_site_with_too_few_rows_sits_out(tmp_path: Path, make_sites) -> None:
    sites = make_sites(tmp_path, 2, rows=300)
    fed = _federation(sites, min_rows=1_000)
    with pytest.raises(FederationError, match="fewer than the federation's min_rows"):
        load_site(sites[0], fed, run="r", epsilon=None, delta=None, rho=None, details={})


def test_fedprox_keeps_a_site_near_the_global_model(tmp_path: Path, make_sites) -> None:
    from veil.federated.apps import _strategy

    sites = make_sites(tmp_path, 2)
    fed = _federation(sites, strategy="fedprox", proximal_mu=0.5, local_epochs=2)
    guard = _strategy(fed, Recorder())
    assert type(guard.inner).__name__ == "FedProx" and guard.inner.proximal_mu == 0.5
    assert type(_strategy(_federation(sites, strategy="fedadam"), Recorder()).inner
                ).__name__ == "FedAdam"
    data = load_site(sites[0], fed, run="r", epsilon=None, delta=None, rho=None, details={})
    start = get_weights(model(fed))

    def moved(mu: float) -> float:
        """Distance from the global weights, summed over three fixed batch orders (the same
        orders for every mu): one order alone makes the ratio range 0.17-0.52."""
        total = 0.0
        for seed in range(3):
            torch.manual_seed(seed)
            weights, _, _ = Learner(data, fed, weight_cap=None, max_batch=8_192).fit(
                start, {"proximal_mu": mu})
            total += math.sqrt(sum(float(((w - s) ** 2).sum())
                                   for w, s in zip(weights, start, strict=True)))
        return total

    assert moved(2.0) < 0.5 * moved(0.0)  # mu * lr = 1: the proximal pull is strong
    assert len(_entries(sites[0], "federated.train")) == 1  # logged once per run


def test_record_level_site_sends_a_clipped_sum(tmp_path: Path, make_sites) -> None:
    sites = make_sites(tmp_path, 2)
    fed = _federation(sites, privacy=Privacy("central", epsilon=3.0, delta=1e-5,
                                             clipping_norm=0.1, sample_rate=0.5))
    data = load_site(sites[0], fed, run="r", epsilon=3.0, delta=1e-5, rho=None, details={})
    learner = Learner(data, fed, weight_cap=None, max_batch=8_192)
    sums, weight, metrics = learner.fit(get_weights(model(fed)), {})
    norm = math.sqrt(sum(float((s ** 2).sum()) for s in sums))
    assert weight == 1 and metrics["rows"] == len(data.y)
    assert 0 < norm <= 0.1 * len(data.y) * 0.8  # at most C per row of a ~half batch
    assert [s.shape for s in sums] == [w.shape for w in get_weights(model(fed))]


# -- real runs (Flower simulation engine) ------------------------------------------------------
@pytest.mark.slow
def test_secure_aggregation_with_record_level_dp_trains_registers_and_debits(
        four_sites: list[Site], tmp_path: Path) -> None:
    fed = _federation(four_sites, rounds=3, lr=5.0,
                      privacy=Privacy("central", epsilon=2.0, delta=1e-5, sample_rate=0.3),
                      secure_aggregation=SecureAggregation(num_shares=3, threshold=2))
    with Workspace.create(tmp_path / "coord", key_file=generate_key_file(
            tmp_path / "coord.key")) as coordinator:
        result = federate(fed, workspace=coordinator, cpus=2)
        assert [r["round"] for r in result.rounds] == [1, 2, 3]
        assert all(r["sites"] == 4 and not r["excluded"] for r in result.rounds)
        assert set(result.rounds[-1]["per_site"]) == {s.name for s in four_sites}
        assert 0.5 < result.accuracy <= 1 and 0 <= result.auc <= 1
        meta = coordinator.models()[0]
        assert meta["privacy"]["epsilon"] == 2.0 and meta["privacy"]["unit"] == "record"
        fingerprints = {s["site"]: s["fingerprint"] for s in meta["federation"]["sites"]}
        assert "key_file" not in str(meta["federation"]["definition"])
        loaded = coordinator.model("readmission")
        assert loaded.predict_proba(generate_patients(50, seed=2)).shape == (50, 2)
    for site in four_sites:
        spends = _entries(site, "federated.spend")
        assert len(spends) == 1 and json.loads(spends[0].params)["spent"]["epsilon"] == 2.0
        with Workspace.open(site.workspace, key_file=site.key_file) as ws:
            assert ws.version("patients").fingerprint == fingerprints[site.name]


class _Faulty:
    """A site that misbehaves in ``fit`` in one of several ways."""

    def __init__(self, learner: Learner, fault: str) -> None:
        self.learner, self.fault = learner, fault

    def to_client(self):
        from flwr.client import NumPyClient

        learner, fault = self.learner, self.fault

        class Client(NumPyClient):
            def fit(self, parameters, config):
                weights, n, metrics = learner.fit(parameters, config)
                if fault == "crash":
                    raise ConnectionError("the site went away")
                if fault == "malformed":
                    return [w[:1] for w in weights], n, metrics
                return [w + 1e4 for w in weights], n, metrics  # oversized

            def evaluate(self, parameters, config):
                return learner.evaluate(parameters, config)

        return Client().to_client()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["local", "central"])
def test_secure_aggregation_tolerates_a_dropout_mid_round(tmp_path: Path, make_sites,
                                                           mode: str) -> None:
    from veil.federated.apps import client_app

    four_sites = make_sites(tmp_path, 4)  # each mode pays epsilon 8 from budgets of its own
    # site-level DP under SecAgg+: each site clips (and in local mode noises) its own update;
    # in central mode the server noises the unmasked sum and divides by the 4 sites
    fed = _federation(four_sites, rounds=2,
                      privacy=Privacy(mode, epsilon=8.0, delta=1e-5, unit="site"),
                      secure_aggregation=SecureAggregation(num_shares=3, threshold=2))
    faulty = client_app(fed, wrap=lambda i, learner: _Faulty(learner, "crash")
                        if i == 1 else learner)
    recorder = simulate(fed, client=faulty, cpus=2)
    assert recorder.error is None, recorder.error
    # the site dropped after the keys were shared: its masks were rebuilt from the shares
    assert [r["sites"] for r in recorder.rounds] == [3, 3]
    assert all(r["failures"] for r in recorder.rounds)
    for site in four_sites[:1] + four_sites[2:]:  # the three that trained paid for the run
        assert json.loads(_entries(site, "federated.spend")[-1].params)["unit"] == "site"


class _Niceness:
    """An honest site that writes the niceness its process runs at to ``path``."""

    def __init__(self, learner: Learner, path: Path) -> None:
        self.learner, self.path = learner, path

    def to_client(self):
        self.path.write_text(str(os.nice(0)))
        return self.learner.to_client()


@pytest.mark.slow
def test_faulty_updates_are_excluded_and_too_few_sites_fail_clearly(
        four_sites: list[Site], tmp_path: Path) -> None:
    from veil.federated.apps import client_app

    faults = {1: "malformed", 2: "oversized"}
    niceness = tmp_path / "niceness"
    fed = _federation(four_sites, rounds=1, min_sites=2)
    recorder = simulate(fed, client=client_app(fed, wrap=lambda i, learner: _Faulty(
        learner, faults[i]) if i in faults else _Niceness(learner, niceness) if i == 0
        else learner), cpus=2)
    assert recorder.error is None, recorder.error
    reasons = sorted(e["reason"].split(":")[0] for e in recorder.rounds[0]["excluded"])
    assert reasons == ["malformed", "oversized"] and recorder.rounds[0]["sites"] == 2
    # the simulated sites run at this process's priority, not Ray's default niceness 15
    assert int(niceness.read_text()) == os.nice(0)

    fed = _federation(four_sites, rounds=1, min_sites=3)
    with pytest.raises(FederationError, match="fewer than min_sites 3"):
        federate(fed, client=client_app(fed, wrap=lambda i, learner: _Faulty(
            learner, faults[i]) if i in faults else learner), cpus=2)


def test_an_impossible_epsilon_is_refused_before_any_site_is_asked(
        four_sites: list[Site]) -> None:
    fed = _federation(four_sites, rounds=20, privacy=Privacy(
        "central", epsilon=1e-3, delta=1e-9, sample_rate=0.5))
    before = len(_entries(four_sites[0], "federated.spend"))
    with pytest.raises(PrivacyBudgetError):
        federate(fed)
    assert len(_entries(four_sites[0], "federated.spend")) == before


# -- the command ------------------------------------------------------------------------------
veil = partial(run_veil, check=False)  # the tests read the exit codes themselves


def test_cli_checks_a_definition_and_issues_tls(tmp_path: Path) -> None:
    (tmp_path / "fed.toml").write_text("""
name = "readmission"
target = "readmitted_30d"
features = ["age"]
rounds = 20
[public]
bounds = { age = [18, 95] }
[privacy]
mode = "central"
epsilon = 3.0
delta = 1e-5
sample_rate = 0.2
[[sites]]
name = "a"
workspace = "a"
dataset = "patients"
[[sites]]
name = "b"
workspace = "b"
dataset = "patients"
[[sites]]
name = "c"
workspace = "c"
dataset = "patients"
""")
    checked = veil("federate", "check", "fed.toml", "--json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    spend = json.loads(checked.stdout)["privacy"]
    assert spend["epsilon"] == 3.0 and spend["unit"] == "record" and spend["noise_multiplier"] > 1
    (tmp_path / "bad.toml").write_text('name = "x"\nsites = []\n')
    refused = veil("federate", "check", "bad.toml", cwd=tmp_path)
    assert refused.returncode == 2 and "malformed federation definition" in refused.stderr

    assert veil("-w", "ws", "init", "--new-key-file", "k.key", cwd=tmp_path).returncode == 0
    issued = veil("-w", "ws", "--key-file", "k.key", "federate", "tls", "certs", "--host",
                   "127.0.0.1", cwd=tmp_path)
    assert issued.returncode == 0, issued.stderr
    assert {p.name for p in (tmp_path / "certs").iterdir()} == {"ca.crt", "server.pem",
                                                                 "server.key"}
    assert "127.0.0.1" in issued.stdout


@pytest.mark.slow
def test_cli_runs_a_federation_and_registers_its_model(tmp_path: Path, make_sites, run) -> None:
    (tmp_path / "sites").mkdir()
    sites = make_sites(tmp_path / "sites", 3, rows=900)
    entries = "".join(f'[[sites]]\nname = "{s.name}"\nworkspace = "{s.workspace}"\n'
                      f'dataset = "patients"\nkey_file = "{s.key_file}"\n' for s in sites)
    (tmp_path / "fed.toml").write_text(f"""
name = "readmission"
target = "readmitted_30d"
features = ["bmi", "sex"]
rounds = 2
min_rows = 50
[public]
bounds = {{ bmi = [10, 70] }}
categories = {{ sex = ["F", "M"] }}
[privacy]
mode = "central"
epsilon = 2.0
delta = 1e-5
sample_rate = 0.5
[secure_aggregation]
num_shares = 3
threshold = 2
{entries}""")
    run("-w", "coord", "init", "--new-key-file", "coord.key")
    done = json.loads(run("-w", "coord", "--key-file", "coord.key", "federate", "run",
                          "fed.toml", "--json").stdout)
    assert [r["round"] for r in done["rounds"]] == [1, 2]
    assert done["privacy"]["epsilon"] == 2.0 and done["model"] == "readmission@1"
    card = run("-w", "coord", "--key-file", "coord.key", "models", "card", "readmission").stdout
    assert "SecAgg+" in card and "DP for every person" in card
