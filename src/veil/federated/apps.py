"""The Flower apps: a ServerApp that runs the federation's rounds and a ClientApp per site.

Server: the strategy (FedAvg, FedProx or FedAdam) is wrapped, inside out, by the DP wrapper of
the privacy mode and by :class:`Guard`, which refuses malformed or oversized updates (shape,
non-finite values, L2 length of the update), fails a round clearly when fewer than
``min_sites`` sites remain, and records per-round and per-site metrics. The rounds run in
Flower's ``DefaultWorkflow``, with ``SecAggPlusWorkflow`` as the fit step when secure
aggregation is on. SecAgg+ halts a round quietly when too few sites stay; the guard turns that
into a :class:`~veil.errors.FederationError` instead of training on.

Client: one mod picks what the run needs, outermost first: ``secaggplus_mod`` (masks the
update), then ``fixedclipping_mod`` (central DP: clip before masking) or
:class:`~veil.federated.privacy.LocalDPMod` (local DP: clip and noise here, as the site's own
definition says).

The apps read the federation from the Python object (simulation) or, in a deployment, from the
run config (``federation``: the definition as JSON) and the SuperNode's node config (``site``:
which entry of ``sites`` this node is; the site's workspace and key file stay on its machine).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flwr.app import Context, Message
from flwr.client import NumPyClient
from flwr.client.mod import fixedclipping_mod, secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import (
    EvaluateRes,
    FitIns,
    FitRes,
    Parameters,
    Scalar,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.server import LegacyContext, ServerApp, ServerConfig
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAdam, FedAvg, FedProx, Strategy
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_PARAMS_RECORD
from flwr.serverapp import Grid

from veil.errors import FederationError
from veil.federated.config import Federation
from veil.federated.privacy import CentralDP, LocalDPMod, RecordDP, plan
from veil.federated.site import Learner, get_weights, load_site, model

__all__ = ["Guard", "Recorder", "client_app", "server_app"]


@dataclass
class Recorder:
    """What the server saw: per-round metrics and exclusions, the final weights, any error."""

    rounds: list[dict[str, Any]] = field(default_factory=list)
    weights: list[np.ndarray] | None = None
    error: BaseException | None = None
    seconds: float = 0.0
    history: list[list[np.ndarray]] | None = None  # every round's weights, when asked for


def _problem(update: list[np.ndarray], sent: list[np.ndarray], limit: float) -> str | None:
    """Why an update must not be aggregated, or None. ``sent`` is what the update is measured
    from: the global weights, or zeros when sites send gradient sums."""
    if len(update) != len(sent) or any(u.shape != s.shape for u, s in zip(update, sent,
                                                                        strict=False)):
        return "malformed: its weights do not have the global model's shapes"
    if not all(np.isfinite(u).all() for u in update):
        return "malformed: it holds NaN or infinite values"
    length = math.sqrt(sum(float(((u - s) ** 2).sum()) for u, s in zip(update, sent,
                                                                        strict=True)))
    if length > limit:
        return f"oversized: its update has L2 norm {length:.3g} > max_update_norm {limit:g}"
    return None


class Guard(Strategy):
    """Checks and records every round around an inner strategy (see the module docstring)."""

    def __init__(self, inner: Strategy, federation: Federation, recorder: Recorder) -> None:
        self.inner = inner
        self.federation = federation
        self.recorder = recorder
        self._sent: list[np.ndarray] = []
        self._started = 0.0

    def initialize_parameters(self, client_manager: Any) -> Parameters | None:
        return self.inner.initialize_parameters(client_manager)

    def configure_fit(self, server_round: int, parameters: Parameters, client_manager: Any
                      ) -> list[tuple[ClientProxy, FitIns]]:
        if len(self.recorder.rounds) != server_round - 1:
            raise FederationError(
                f"round {server_round - 1} did not aggregate: secure aggregation halted "
                "because too few sites stayed to rebuild the masks (each site needs "
                f"{self.federation.secure_aggregation.threshold} live share holders)")
        self._started = time.perf_counter()
        self._sent = parameters_to_ndarrays(parameters)
        return self.inner.configure_fit(server_round, parameters, client_manager)

    def aggregate_fit(self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
                      failures: list[Any]) -> tuple[Parameters | None, dict[str, Scalar]]:
        kept, excluded = [], []
        privacy = self.federation.privacy
        gradients = privacy.mode != "none" and privacy.unit == "record"
        for proxy, res in results:
            # a gradient sum is at most clipping_norm per row it covers
            why = _problem(parameters_to_ndarrays(res.parameters),
                           [np.zeros_like(s) for s in self._sent] if gradients else self._sent,
                           privacy.clipping_norm * float(res.metrics.get("rows", 0))
                           if gradients else self.federation.max_update_norm)
            if why is None:
                kept.append((proxy, res))
            else:
                excluded.append({"node": proxy.node_id, "reason": why})
        failed = [str(f if isinstance(f, BaseException) else f[1].status.message)
                  for f in failures]
        entry = {"round": server_round, "sites": len(kept), "excluded": excluded,
                 "failures": failed}
        self.recorder.rounds.append(entry)
        if len(kept) < self.federation.min_sites:
            reasons = "; ".join([e["reason"] for e in excluded] + failed) or "none answered"
            raise FederationError(
                f"round {server_round}: {len(kept)} usable update(s), fewer than min_sites "
                f"{self.federation.min_sites} ({reasons})")
        aggregated, metrics = self.inner.aggregate_fit(server_round, kept, failures)
        if aggregated is None:
            raise FederationError(f"round {server_round}: the strategy did not aggregate")
        entry["fit_seconds"] = time.perf_counter() - self._started
        if self.recorder.history is not None:
            self.recorder.history.append(parameters_to_ndarrays(aggregated))
        return aggregated, metrics

    def configure_evaluate(self, server_round: int, parameters: Parameters,
                           client_manager: Any) -> list[Any]:
        return self.inner.configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(self, server_round: int, results: list[tuple[ClientProxy,
                                                                        EvaluateRes]],
                           failures: list[Any]) -> tuple[float | None, dict[str, Scalar]]:
        entry = self.recorder.rounds[-1]
        per_site = {str(r.metrics["site"]): {"rows": r.num_examples, "loss": r.loss,
                                             **{k: v for k, v in r.metrics.items()
                                                if k != "site"}} for _, r in results}
        total = sum(s["rows"] for s in per_site.values()) or 1
        entry["per_site"] = per_site
        for metric in ("loss", "accuracy", "auc"):
            if per_site and all(metric in s for s in per_site.values()):
                entry[metric] = sum(s[metric] * s["rows"] for s in per_site.values()) / total
        entry["seconds"] = time.perf_counter() - self._started
        return entry.get("loss"), {}

    def evaluate(self, server_round: int, parameters: Parameters) -> None:
        return None


def _strategy(federation: Federation, recorder: Recorder) -> Strategy:
    initial = ndarrays_to_parameters(get_weights(model(federation)))
    common: dict[str, Any] = {
        "fraction_fit": 1.0, "fraction_evaluate": 1.0,
        "min_fit_clients": federation.min_sites, "min_evaluate_clients": federation.min_sites,
        "min_available_clients": federation.min_sites, "initial_parameters": initial}
    spend = plan(federation)
    inner: Strategy
    if spend.get("unit") == "record":
        adam = federation.strategy == "fedadam"  # the server's optimizer on the noisy mean
        inner = RecordDP(spend["noise_multiplier"], spend["clipping_norm"],
                         spend["sample_rate"], federation.server_lr if adam else federation.lr,
                         adam=adam, **common)
    elif federation.strategy == "fedprox":
        inner = FedProx(proximal_mu=federation.proximal_mu, **common)
    elif federation.strategy == "fedadam":
        inner = FedAdam(eta=federation.server_lr, eta_l=federation.lr, **common)
    else:
        inner = FedAvg(**common)
    if spend.get("unit") == "site" and spend["mode"] == "central":
        inner = CentralDP(inner, spend["noise_multiplier"], spend["clipping_norm"],
                          spend["cohort"])
    return Guard(inner, federation, recorder)  # local DP: the updates arrive noised


def _federation(context: Context, given: Federation | None) -> Federation:
    if given is not None:
        return given
    if "federation" not in context.run_config:
        raise FederationError("the run config carries no 'federation' definition")
    return Federation.from_dict(json.loads(str(context.run_config["federation"])))


def _wait_for_sites(grid: Grid, federation: Federation, timeout: float | None) -> int:
    """Wait until every site has connected or ``timeout`` passed (None: a simulation, whose
    nodes all register however slow the machine); refuse below min_sites."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        joined = len(list(grid.get_node_ids()))
        if joined >= len(federation.sites) or (deadline and time.monotonic() > deadline):
            break
        time.sleep(0.2)
    if joined < federation.min_sites:
        raise FederationError(f"{joined} of {len(federation.sites)} sites connected within "
                              f"{timeout:g} s, fewer than min_sites {federation.min_sites}")
    return joined


def server_app(federation: Federation | None = None, recorder: Recorder | None = None, *,
               join_timeout: float = 60.0, simulated: bool = False) -> ServerApp:
    """The ServerApp; ``recorder`` receives the metrics and the final weights. ``simulated``:
    every site is a local actor that always answers (an error is an answer), so nothing waits
    on a clock; a deployment waits ``join_timeout`` for sites and the secure-aggregation
    timeout for each stage."""
    app = ServerApp()
    record = recorder if recorder is not None else Recorder()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        started = time.perf_counter()
        try:
            fed = _federation(context, federation)
            _wait_for_sites(grid, fed, None if simulated else float(
                context.run_config.get("join-timeout", join_timeout)))
            legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=fed.rounds),
                                   strategy=_strategy(fed, record))
            fit = _secure(fed, simulated) if fed.secure_aggregation.enabled else None
            DefaultWorkflow(fit_workflow=fit)(grid, legacy)
            if len(record.rounds) != fed.rounds:
                raise FederationError(
                    f"round {len(record.rounds) + 1} did not aggregate: secure aggregation "
                    "halted because too few sites stayed to rebuild the masks")
            arrays = legacy.state.array_records[MAIN_PARAMS_RECORD]
            record.weights = [a.numpy() for a in arrays.values()]
        except BaseException as exc:  # handed to the caller, who raises it
            record.error = exc
        finally:
            record.seconds = time.perf_counter() - started
        _publish(context, record)

    return app


# Per-site weights under SecAgg+ are capped here (the quantized weight must stay below the
# workflow's max_weight); with DP every site weighs 1.
_WEIGHT_CAP = 100_000
# Record-level DP sends gradient sums of up to this many rows' clipped gradients per site and
# round: SecAgg+ quantizes within +-(clipping_norm * this) on 2^24 levels (error 1e-4 of the
# clipping norm per coordinate, far under the noise) and sums at most 2^32 / 2^24 = 256 sites.
_MAX_BATCH = 8_192


def _secure(fed: Federation, simulated: bool) -> SecAggPlusWorkflow:
    sa, privacy = fed.secure_aggregation, fed.privacy
    gradients = privacy.mode != "none" and privacy.unit == "record"
    return SecAggPlusWorkflow(
        num_shares=sa.num_shares, reconstruction_threshold=sa.threshold,
        max_weight=1.0 if privacy.mode != "none" else float(_WEIGHT_CAP),
        clipping_range=privacy.clipping_norm * _MAX_BATCH if gradients else sa.clipping_range,
        quantization_range=2**24 if gradients else sa.quantization_range,
        timeout=None if simulated else sa.timeout)


def _publish(context: Context, record: Recorder) -> None:
    """In a deployment, hand the result to the caller through the file the run config names."""
    path = context.run_config.get("result-path")
    if path:
        from veil.federated.deploy import write_result

        write_result(str(path), record)


def client_app(federation: Federation | None = None,
               wrap: Callable[[int, Learner], NumPyClient] | None = None) -> ClientApp:
    """The ClientApp every site runs; ``federation`` None reads it from the run config.
    ``wrap(site_index, learner)`` may replace a site's learner (tests play faulty sites)."""

    def client_fn(context: Context) -> Any:
        fed = _federation(context, federation)
        index = int(context.node_config.get("site", context.node_config.get("partition-id",
                                                                             -1)))
        if not 0 <= index < len(fed.sites):
            raise FederationError(f"this node is site {index}, not one of the "
                                  f"{len(fed.sites)} sites")
        spend = plan(fed)
        details = {"federation": fed.name, "rounds": fed.rounds, "site": fed.sites[index].name,
                   **{k: v for k, v in spend.items() if k in (
                       "mode", "unit", "noise_multiplier", "clipping_norm", "sample_rate",
                       "cohort", "accountant")}}
        data = load_site(fed.sites[index], fed, run=f"{fed.name}:{context.run_id}",
                         epsilon=spend.get("epsilon"), delta=spend.get("delta"),
                         rho=spend.get("rho"), details=details)
        learner = Learner(data, fed, weight_cap=_WEIGHT_CAP if fed.secure_aggregation.enabled
                          else None, max_batch=_MAX_BATCH)
        return (wrap(index, learner) if wrap is not None else learner).to_client()

    def mods(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
        fed = _federation(ctxt, federation)
        chain: list[Any] = []
        if fed.secure_aggregation.enabled:
            chain.append(secaggplus_mod)
        if fed.privacy.mode == "central" and fed.privacy.unit == "site":
            chain.append(fixedclipping_mod)
        elif fed.privacy.mode == "local":
            spend = plan(fed)
            chain.append(LocalDPMod(spend["clipping_norm"],
                                    spend["noise_multiplier"] * spend["clipping_norm"]))
        for mod in reversed(chain):
            call_next = _wrap(mod, call_next)
        return call_next(msg, ctxt)

    return ClientApp(client_fn=client_fn, mods=[mods])


def _wrap(mod: Any, call_next: ClientAppCallable) -> ClientAppCallable:
    return lambda msg, ctxt: mod(msg, ctxt, call_next)
