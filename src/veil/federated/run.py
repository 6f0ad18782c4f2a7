"""Run a federation and register its global model: ``federate(definition, workspace=ws)``.

Engines: ``simulation`` runs every site as a virtual SuperNode under Flower's simulation
engine (Ray) on this machine, each ClientApp opening its own site's workspace; ``deployment``
starts a SuperLink and one SuperNode process per site with TLS (:mod:`veil.federated.deploy`).
The global model is registered in the coordinator's workspace like a DP-SGD model: encrypted,
with its guarantee, per-site provenance (dataset versions and fingerprints), per-round metrics
and a model card. Metrics are computed by each site on its held-out rows and are not DP.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from veil.errors import FederationError
from veil.federated.apps import Recorder, client_app, server_app
from veil.federated.config import Federation
from veil.federated.privacy import plan as privacy_plan

__all__ = ["FederationResult", "Source", "federate", "simulate"]

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")


@dataclass(frozen=True)
class Source:
    """What a federated model learnt from, in the registry's terms."""

    dataset: str
    version: int
    fingerprint: str

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"


@dataclass
class FederationResult:
    federation: Federation
    rounds: list[dict[str, Any]]
    weights: list[np.ndarray]
    privacy: dict[str, Any]
    seconds: float
    model: Any = None  # the registered veil.train.model.Model, when a workspace was given

    @property
    def accuracy(self) -> float | None:
        return self.rounds[-1].get("accuracy") if self.rounds else None

    @property
    def auc(self) -> float | None:
        return self.rounds[-1].get("auc") if self.rounds else None


def simulate(federation: Federation, *, client: Any = None, cpus: int | None = None,
             history: bool = False, verbose: bool = False) -> Recorder:
    """Run ``federation`` on Flower's simulation engine; ``client`` replaces the sites'
    ClientApp (tests use it to play a faulty site); ``history`` keeps every round's weights."""
    from flwr.simulation import run_simulation

    recorder = Recorder(history=[] if history else None)
    cpus = cpus or os.cpu_count() or 1
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    # Ray runs its workers (here: the simulated sites) at niceness 15, which starves them on a
    # busy machine (a few % of a CPU beside one busy process); they are this run's own work
    os.environ.setdefault("RAY_worker_niceness", "0")
    flower = logging.getLogger("flwr")
    level = flower.level
    if not verbose:  # Flower's per-round INFO and its deprecation notice for run_simulation
        flower.setLevel(logging.ERROR)
    try:
        run_simulation(server_app=server_app(federation, recorder, simulated=True),
                       client_app=client if client is not None else client_app(federation),
                       num_supernodes=len(federation.sites),
                       backend_config={"client_resources": {"num_cpus": 1},
                                       "init_args": {"num_cpus": cpus,
                                                     "include_dashboard": False,
                                                     "log_to_driver": verbose,
                                                     "logging_level": logging.ERROR}},
                       verbose_logging=verbose)
    finally:
        flower.setLevel(level)
    return recorder


def federate(federation: Federation, *, workspace: Any = None, name: str | None = None,
             engine: Literal["simulation", "deployment"] = "simulation",
             **engine_options: Any) -> FederationResult:
    """Train ``federation`` and, given the coordinator's ``workspace`` (a session: its
    principal and purpose are logged), register the global model as ``name`` (default: the
    federation's name). Raises FederationError when the run cannot complete (too few sites, a
    halted round) with nothing registered."""
    federation.check()
    plan = privacy_plan(federation)  # refuses an impossible epsilon before any site is asked
    if engine == "simulation":
        recorder = simulate(federation, **engine_options)
    elif engine == "deployment":
        from veil.federated.deploy import deploy

        recorder = deploy(federation, workspace=workspace, **engine_options)
    else:
        raise FederationError(f"engine must be 'simulation' or 'deployment'; got {engine!r}")
    if recorder.error is not None:
        if isinstance(recorder.error, FederationError):
            raise recorder.error
        raise FederationError(f"the federated run failed: {recorder.error!r}") from (
            recorder.error)
    if recorder.weights is None:
        raise FederationError("the federated run ended without a global model")
    result = FederationResult(federation, recorder.rounds, recorder.weights, plan,
                              recorder.seconds)
    if workspace is not None:
        result.model = register(workspace, result, name or federation.name)
    return result


def register(workspace: Any, result: FederationResult, name: str) -> Any:
    """Register the global model with per-site provenance: the dataset version and
    fingerprint each site reported with its metrics (never rows; the coordinator needs no
    site's key)."""
    from veil.federated.site import encoding, model, set_weights

    fed = result.federation
    reported: dict[str, dict[str, Any]] = {}
    for entry in result.rounds:  # the newest report of every site that evaluated
        reported |= entry.get("per_site", {})
    sites = [{"site": site, "dataset": m["dataset"], "version": int(m["version"]),
              "fingerprint": m["fingerprint"], "held_out_rows": m["rows"]}
             for site, m in sorted(reported.items())]
    joined = "|".join(f"{s['site']}:{s['fingerprint']}" for s in sites)
    source = Source(f"federation:{fed.name}", 1, hashlib.sha256(joined.encode()).hexdigest())
    module = model(fed)
    set_weights(module, result.weights)
    last = result.rounds[-1]
    privacy = result.privacy or {"mode": "none"}
    meta = {"name": name, "dataset": source.dataset, "dataset_version": source.version,
            "fingerprint": source.fingerprint, "architecture": fed.model,
            "encoding": encoding(fed).to_dict(), "actor": workspace.principal,
            "purpose": workspace.purpose,
            "privacy": privacy,
            "metrics": {k: last[k] for k in ("accuracy", "auc", "loss") if k in last},
            "federation": {"definition": _public(fed), "sites": sites, "rounds": result.rounds,
                           "seconds": result.seconds}}
    return workspace.register_model(name, module, encoding(fed), meta, source=source)


def _public(federation: Federation) -> dict[str, Any]:
    """The definition without where the sites keep their keys."""
    data = federation.to_dict()
    for site in data["sites"]:
        site.pop("key_file", None)
    return data
