"""The site side: a Flower client that trains on one workspace's rows and sends only weights.

A site opens its own workspace (its key never leaves it), reads its dataset under the
federation's purpose (an audited read in its ledger), keeps one row per person, and holds out
a share for its own metrics. Before its first update of a run leaves, it debits the run's
privacy cost from its own budget (:meth:`veil.Workspace.join_federation`); a site whose budget
cannot pay, or that has fewer than ``min_rows`` training rows, refuses, and the server counts
it out of the round. Rows are read once per process and run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import torch
from flwr.client import NumPyClient
from torch import nn

from veil.errors import FederationError
from veil.federated.config import Federation, Site
from veil.train.features import Encoding
from veil.train.model import build

__all__ = ["Learner", "SiteData", "encoding", "get_weights", "load_site", "set_weights",
           "split"]


def encoding(federation: Federation) -> Encoding:
    """The one encoding every site uses: built from the federation's public facts only."""
    return Encoding({c: federation.bounds[c] for c in federation.features
                     if c in federation.bounds},
                    {c: list(federation.categories[c]) for c in federation.features
                     if c not in federation.bounds},
                    federation.target, list(federation.classes), list(federation.features))


def model(federation: Federation) -> nn.Module:
    """The federation's model with the same initial weights everywhere; the seed is set on a
    forked RNG, so local shuffles stay random from round to round."""
    enc = encoding(federation)
    with torch.random.fork_rng():
        torch.manual_seed(0 if federation.seed is None else federation.seed)
        return build(federation.model, enc.width, len(enc.classes), federation.hidden)


def get_weights(module: nn.Module) -> list[np.ndarray]:
    return [v.detach().cpu().numpy().copy() for v in module.state_dict().values()]


def set_weights(module: nn.Module, weights: list[np.ndarray]) -> None:
    state = module.state_dict()
    if len(weights) != len(state):
        raise FederationError(f"expected {len(state)} weight arrays, got {len(weights)}")
    for (name, current), new in zip(state.items(), weights, strict=True):
        if tuple(np.shape(new)) != tuple(current.shape):
            raise FederationError(f"weights {name!r} have shape {np.shape(new)}, expected "
                                  f"{tuple(current.shape)}")
        state[name] = torch.from_numpy(np.asarray(new, dtype=np.float32).copy())
    module.load_state_dict(state)


@dataclass(frozen=True)
class SiteData:
    name: str
    x: np.ndarray
    y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    dataset: str
    version: int
    fingerprint: str


_CACHE: dict[tuple[str, str, str], SiteData] = {}


def split(frame: pl.DataFrame, subject_id: str, federation: Federation
          ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A site's (training, held-out) rows: one row per person (the unit DP protects), shuffled
    with the federation's seed, ``holdout`` of them held out."""
    if subject_id in frame.columns:
        order = pl.int_range(pl.len()).shuffle(seed=federation.seed)
        frame = frame.filter(order.over(subject_id) == 0)
    frame = frame.sample(fraction=1.0, shuffle=True, seed=federation.seed)
    cut = int(frame.height * (1 - federation.holdout))
    return frame[:cut], frame[cut:]


def load_site(site: Site, federation: Federation, *, run: str, epsilon: float | None,
              delta: float | None, rho: float | None, details: dict[str, Any]) -> SiteData:
    """Open the site's workspace, pay for the run and read its training rows (once per run)."""
    from veil.workspace import Workspace

    key = (site.workspace, site.dataset, run)
    if key in _CACHE:
        return _CACHE[key]
    enc = encoding(federation)
    with Workspace.open(site.workspace, key_file=site.key_file) as owner:
        ws = owner.for_purpose(f"federated:{federation.name}")
        record = ws.version(site.dataset)
        columns = [*federation.features, federation.target]
        frame = ws.read(site.dataset, columns=[*columns, record.subject_id]
                        if record.subject_id in record.schema else columns)
        train, test = split(frame, record.subject_id, federation)
        if train.height < federation.min_rows:
            raise FederationError(f"site {site.name!r} has {train.height} training rows, fewer "
                                  f"than the federation's min_rows {federation.min_rows}; it "
                                  "sits out")
        x, y, test_x, test_y = (enc.features(train), enc.labels(train), enc.features(test),
                                enc.labels(test))
        ws.join_federation(site.dataset, run=run, epsilon=epsilon, delta=delta, rho=rho,
                           details=details)
    data = SiteData(site.name, *(np.array(a) for a in (x, y, test_x, test_y)), site.dataset,
                    record.version, record.fingerprint)  # writable copies, as torch wants
    _CACHE[key] = data
    return data


class Learner(NumPyClient):
    """Local training and held-out evaluation. Without record-level DP: SGD for
    ``local_epochs`` (FedProx adds its proximal term) and the new weights go back. With it:
    one Poisson batch, each row's gradient clipped, and the sum goes back (the server adds
    the noise; see :mod:`veil.federated.privacy`)."""

    def __init__(self, data: SiteData, federation: Federation, *, weight_cap: int | None,
                 max_batch: int) -> None:
        self.data = data
        self.federation = federation
        self.module = model(federation)
        self.weight_cap = weight_cap
        self.max_batch = max_batch
        privacy = federation.privacy
        self.record_dp = privacy.mode != "none" and privacy.unit == "record"
        self.uniform = privacy.mode != "none"  # DP: every site weighs the same

    def _weight(self) -> int:
        rows = 1 if self.uniform else len(self.data.y)
        return min(rows, self.weight_cap) if self.weight_cap else rows

    def fit(self, parameters: list[np.ndarray], config: dict[str, Any]
            ) -> tuple[list[np.ndarray], int, dict[str, Any]]:
        set_weights(self.module, parameters)
        if self.record_dp:
            return self._clipped_sum()
        start = [p.detach().clone() for p in self.module.parameters()]
        mu = float(config.get("proximal_mu", 0.0))
        fed = self.federation
        optimizer = torch.optim.SGD(self.module.parameters(), lr=fed.lr)
        x, y = torch.from_numpy(self.data.x), torch.from_numpy(self.data.y)
        self.module.train()
        total = 0.0
        for _ in range(fed.local_epochs):
            for batch in torch.randperm(len(x)).split(fed.batch_size):
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(self.module(x[batch]), y[batch])
                if mu > 0:  # FedProx: stay near the global weights
                    loss = loss + mu / 2 * sum(((p - s) ** 2).sum() for p, s in
                                               zip(self.module.parameters(), start, strict=True))
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
        return get_weights(self.module), self._weight(), {
            "site": self.data.name, "rows": len(x),
            "train_loss": total / (len(x) * fed.local_epochs)}

    def _clipped_sum(self) -> tuple[list[np.ndarray], int, dict[str, Any]]:
        from veil.train.dpsgd import clipped_gradients, poisson_batch

        rows = len(self.data.y)
        rate = self.federation.privacy.sample_rate
        generator = torch.Generator()
        generator.manual_seed(secrets.randbits(63))
        chosen = poisson_batch(rows, rate, generator)
        if len(chosen) > self.max_batch:
            raise FederationError(f"site {self.data.name!r}: a batch of {len(chosen)} rows "
                                  f"exceeds {self.max_batch}; lower the sample rate")
        layers = [m for m in self.module.modules() if isinstance(m, nn.Linear)]
        if len(chosen):
            sums = clipped_gradients(self.module, layers, torch.from_numpy(self.data.x[chosen]),
                                     torch.from_numpy(self.data.y[chosen]),
                                     self.federation.privacy.clipping_norm)
            out = [t.detach().numpy() for t in sums]
        else:  # an empty Poisson batch contributes zeros, never a skipped reply
            out = [np.zeros_like(w) for w in get_weights(self.module)]
        return out, 1, {"site": self.data.name, "rows": rows}

    def evaluate(self, parameters: list[np.ndarray], config: dict[str, Any]
                 ) -> tuple[float, int, dict[str, Any]]:
        from sklearn.metrics import roc_auc_score

        set_weights(self.module, parameters)
        self.module.eval()
        with torch.no_grad():
            logits = self.module(torch.from_numpy(self.data.test_x))
            loss = float(nn.functional.cross_entropy(logits, torch.from_numpy(self.data.test_y)))
            proba = torch.softmax(logits, dim=1).numpy()
        y = self.data.test_y
        metrics: dict[str, Any] = {  # provenance travels with the metrics: no key needed
            "site": self.data.name, "dataset": self.data.dataset, "version": self.data.version,
            "fingerprint": self.data.fingerprint,
            "accuracy": float((proba.argmax(axis=1) == y).mean())}
        if proba.shape[1] == 2 and len(np.unique(y)) == 2:
            metrics["auc"] = float(roc_auc_score(y, proba[:, 1]))
        return loss, len(y), metrics
