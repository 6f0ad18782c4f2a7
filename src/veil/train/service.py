"""DP-SGD training and the model registry inside a workspace.

Each function runs after the guard decided the call and takes its
:class:`~veil.access.scope.Scope`: the spend is charged to the authenticated principal, the
rows are only those of people the purpose may use, and every step is a ledger entry.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from veil.access.scope import Scope
from veil.dp import budget as dp_budget
from veil.dp import service as dp_service
from veil.dp.execute import Cost
from veil.errors import InputError, NotFoundError, VaultIntegrityError
from veil.govern import lineage
from veil.train.features import Encoding, encoding_for
from veil.train.registry import card as model_card
from veil.workspace import binding
from veil.workspace.catalog import DatasetVersion
from veil.workspace.fingerprint import fingerprint
from veil.workspace.store import Store, check_name

if TYPE_CHECKING:
    from veil.train.model import Model, Split

__all__ = ["ROW", "join_federation", "load", "models", "register", "retraining", "train",
           "weights"]

ROW = "__veil_row"  # a row's position in its stored version, kept through the split


def train(store: Store, scope: Scope, record: DatasetVersion, *, target: str,
          features: Sequence[str], epsilon: float, delta: float, model: str | Any, name: str,
          epochs: int, batch_size: int, max_grad_norm: float, lr: float, optimizer: str,
          holdout: float, seed: int | None) -> Model:
    """Train a classifier with DP-SGD (see :mod:`veil.train.dpsgd`), spending ``epsilon`` /
    ``delta`` from the dataset's budget, and register it (encrypted, with its guarantee and
    model card) as model ``name``.

    Everything that can be refused is refused before the budget is touched: unknown or
    unencodable columns, a one-class target, NaNs, a batch larger than the data, an epsilon
    too small for even one step. Each person contributes one row (chosen at random), so the
    per-example guarantee of DP-SGD is a per-person one."""
    import torch  # torch and Opacus load only when a model is trained or used

    from veil.train.dpsgd import TrainConfig, calibrate, train_dp
    from veil.train.model import Split, build

    settings = dp_service.settings(store, record.dataset)
    frame, left_out = scope.filter(store.cached(record)[0].with_row_index(ROW),
                                   record.subject_id)
    encoding = encoding_for(frame.schema, settings, target, features)
    if not 0 < holdout < 1:
        raise InputError(f"holdout must be a share in (0, 1); got {holdout}")
    rows = frame
    if record.subject_id in frame.columns:
        order = pl.int_range(pl.len()).shuffle(seed=secrets.randbits(63) if seed is None
                                               else seed)
        rows = frame.filter(order.over(record.subject_id) == 0)
    rows = rows.sample(fraction=1.0, shuffle=True, seed=seed)
    cut = int(rows.height * (1 - holdout))
    every_x, every_y = encoding.features(rows), encoding.labels(rows)  # all checked now
    x, y, test_x, test_y = every_x[:cut], every_y[:cut], every_x[cut:], every_y[cut:]
    if len(np.unique(y)) < 2:
        raise InputError(f"the training rows hold one class of {target!r}; nothing to learn")
    config = TrainConfig(epsilon=epsilon, delta=delta, epochs=epochs, batch_size=batch_size,
                         max_grad_norm=max_grad_norm, lr=lr, optimizer=optimizer)
    calibrate(config, len(x))
    architecture = model if isinstance(model, str) else type(model).__name__
    module = build(model, encoding.width, len(encoding.classes)) if isinstance(
        model, str) else model
    if dp_budget.remaining(store.conn, record.dataset).budget.measure != "pure":
        raise InputError("DP-SGD spends (epsilon, delta); this dataset's budget is zCDP")
    spend = Cost(epsilon=float(epsilon), delta=float(delta))
    check_name(name, "model")
    request = {"target": target, "features": list(features), "architecture": architecture,
               "epochs": epochs, "batch_size": batch_size}
    with store.transaction() as now:
        binding.check_dataset(store.conn, record.dataset)
        key = f"train-{uuid.uuid4().hex}"
        left = dp_budget.debit(store.conn, record.dataset, record.version, scope.principal,
                               json.dumps({"train": name} | request, sort_keys=True), key,
                               spend, {"model": name}, now)
        store.log(now, scope, "model.train", record.ref, model=name, spent=spend.__dict__,
                  remaining=left.left.__dict__, bind=binding.bind_spend(store.conn, key),
                  **scope.left_out(left_out))
    trained = train_dp(module, x, y, config, seed=seed)
    with torch.no_grad():
        predicted = trained.model(torch.from_numpy(test_x))
    accuracy = float((predicted.argmax(dim=1).numpy() == test_y).mean())
    meta = {"name": name, "dataset": record.dataset, "dataset_version": record.version,
            "fingerprint": record.fingerprint, "architecture": architecture,
            "encoding": encoding.to_dict(), "actor": scope.principal, "purpose": scope.purpose,
            "privacy": {"epsilon": trained.epsilon, "delta": delta,
                        "accountant": trained.accountant, "max_grad_norm": max_grad_norm,
                        "noise_multiplier": trained.noise_multiplier,
                        "sample_rate": trained.sample_rate, "steps": trained.steps,
                        "engine": trained.engine, "target_epsilon": epsilon},
            "metrics": {"accuracy": accuracy, "rows": len(test_y),
                        "train_rows": len(x), "epoch_seconds": trained.epoch_seconds},
            "training": config.__dict__ | {"target": target, "features": list(features),
                                           "holdout": holdout}}
    positions = rows[ROW].to_numpy()
    return register(store, scope, name, trained.model, encoding, meta, record,
                    Split(positions[:cut], positions[cut:]))


def join_federation(store: Store, scope: Scope, record: DatasetVersion, *, run: str,
                    epsilon: float | None, delta: float | None, rho: float | None,
                    details: dict[str, Any]) -> DatasetVersion:
    """Record that ``record`` trains in federated run ``run`` (its updates leave this site),
    debiting its DP budget once per run before the first update leaves: (epsilon, delta) from
    an (epsilon, delta) budget, ``rho`` from a zCDP one (a run of Gaussian rounds has both). A
    repeated call for the same run costs nothing; ``epsilon`` None is a run without a DP
    guarantee, logged as such."""
    key = f"federated:{run}"
    with store.transaction() as now:
        if epsilon is None:
            if store.ledger.find("federated.train", record.ref, run=run) is None:
                store.log(now, scope, "federated.train", record.ref, run=run, privacy="none",
                          **details)
                _record_run(store, scope, now, record, run, None)
        elif dp_budget.cached(store.conn, key) is None:
            binding.check_dataset(store.conn, record.dataset)
            zcdp = dp_budget.remaining(store.conn, record.dataset).budget.measure == "zcdp"
            if zcdp and rho is None:
                raise InputError(f"this run spends (epsilon, delta) and {record.dataset!r} has a "
                                 "zCDP budget; give it an (epsilon, delta) budget")
            spend = Cost(rho=float(rho)) if zcdp else Cost(
                epsilon=float(epsilon), delta=float(delta or 0.0))
            left = dp_budget.debit(store.conn, record.dataset, record.version, scope.principal,
                                   json.dumps({"federated": run}), key, spend, details, now)
            store.log(now, scope, "federated.spend", record.ref, run=run, spent=spend.__dict__,
                      remaining=left.left.__dict__, **details,
                      bind=binding.bind_spend(store.conn, key))
            _record_run(store, scope, now, record, run, lineage.guarantee(spend.__dict__))
    return record


def _record_run(store: Store, scope: Scope, stamp: str, record: DatasetVersion, run: str,
                privacy: dict[str, float] | None) -> None:
    """The run as an artifact of the site's version, identified by the entry just logged."""
    lineage.record(store, scope, stamp, lineage.Artifact(
        "federated_run", run, str(store.ledger.size), privacy, (lineage.Source.of(record),)))


def register(store: Store, scope: Scope, name: str, module: Any, encoding: Encoding,
             meta: dict[str, Any], record: DatasetVersion, split: Split | None = None) -> Model:
    """Seal a model's weights (with its training ``split``, when veil trained it) and register
    it as the next version of ``name``, with its guarantee, metrics, model card and the dataset
    version it learnt from."""
    from veil.train.model import Model, pack

    check_name(name, "model")
    with store.sealing((pack(module, split), False)) as (sealed,), store.transaction() as now:
        version = 1 + store.conn.execute(
            "SELECT COALESCE(MAX(version), 0) FROM models WHERE name = ?", (name,)).fetchone()[0]
        meta |= {"version": version, "created": now}
        meta["card_markdown"], meta["card_html"] = model_card(meta)
        store.ring.add_data_key(sealed[1], sealed[2], now)
        store.conn.execute(
            "INSERT INTO models(name, version, file, key_id, dataset, dataset_version, "
            "fingerprint, meta, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, version, sealed[0], sealed[1], record.dataset, record.version,
             record.fingerprint, json.dumps(meta, default=str), now))
        store.log(now, scope, "model.register", f"{name}@{version}", privacy=meta["privacy"],
                  metrics=meta["metrics"], dataset=record.ref, weights=sealed[3],
                  bind=binding.bind_model(store.conn, name, version, sealed[3]))
        lineage.record(store, scope, now, lineage.Artifact(
            "model", name, str(version), lineage.guarantee(meta["privacy"]),
            lineage.model_sources(meta, record.dataset, record.version)))
    return Model(name, version, module, encoding, meta)


def models(store: Store) -> list[dict[str, Any]]:
    """Every registered model version's description (no weights), its card showing the
    attacks recorded against it since registration."""
    from veil.attacks import service as attacks

    found = []
    for (text,) in store.conn.execute("SELECT meta FROM models ORDER BY name, version"):
        meta = json.loads(text)
        leakage = attacks.results(store, "model", meta["name"], str(meta["version"]))
        if leakage:
            meta["card_markdown"], meta["card_html"] = model_card(meta, leakage)
        found.append(meta)
    return found


def retraining(store: Store, name: str) -> tuple[DatasetVersion, dict[str, Any]]:
    """The newest version of the dataset model ``name`` learnt from and the :func:`train`
    arguments it was trained with (a fresh random seed), for training it again; refused for
    a model veil did not train here (a federation's, or one from a custom module)."""
    from veil.train.model import ARCHITECTURES

    (text,) = store.conn.execute("SELECT meta FROM models WHERE name = ? AND version = ?",
                                 (name, version_of(store, name, None))).fetchone()
    meta = json.loads(text)
    if "federation" in meta:
        raise InputError(f"model {name!r} is a federation's global model; it cannot be "
                         "retrained from one workspace: run the federation again")
    training = meta.get("training")
    if training is None or meta.get("architecture") not in ARCHITECTURES:
        raise InputError(f"model {name!r} was not trained by veil from a built-in "
                         f"architecture {list(ARCHITECTURES)}; train it again with "
                         "Session.train and its module")
    settings = {k: training[k] for k in ("target", "features", "epsilon", "delta", "epochs",
                                         "batch_size", "max_grad_norm", "lr", "optimizer",
                                         "holdout")}
    return store.version(meta["dataset"]), settings | {
        "model": meta["architecture"], "name": name, "seed": None}


def version_of(store: Store, name: str, version: int | None) -> int:
    """The newest version of model ``name`` (or ``version``, checked to exist)."""
    row = store.conn.execute(
        "SELECT version FROM models WHERE name = ? AND (? IS NULL OR version = ?) "
        "ORDER BY version DESC LIMIT 1", (name, version, version)).fetchone()
    if row is None:
        known = sorted({m["name"] for m in models(store)})
        raise NotFoundError(f"no model {name!r}" + (f" version {version}" if version else "")
                            + f"; registered models: {known}")
    return int(row[0])


def load(store: Store, scope: Scope, name: str, version: int, module: Any = None) -> Model:
    """Load a registered model (logged). A model trained from a custom torch module needs a
    fresh instance of it as ``module``; weights are loaded without running code. The catalog
    row must equal its ledger registration and the weights its fingerprint there, so a row
    pointed at another model's weights, or an edited guarantee, is refused."""
    from veil.train.model import Model, build, split_of, unpack

    sealed, meta = weights(store, name, version)
    encoding = Encoding.from_dict(meta["encoding"])
    if module is None:
        module = build(meta["architecture"], encoding.width, len(encoding.classes))
    with store.transaction() as now:
        store.log(now, scope, "model.load", f"{name}@{version}")
    return Model(name, version, unpack(sealed, module), encoding, meta, split_of(sealed))


def weights(store: Store, name: str, version: int) -> tuple[pl.DataFrame, dict[str, Any]]:
    """A model's sealed frame (weights, and split when kept) and its description, after its
    catalog row is checked against its ledger registration and the frame against its
    registered fingerprint. Not logged: the caller logs the use."""
    file, key_id, text = store.conn.execute(
        "SELECT file, key_id, meta FROM models WHERE name = ? AND version = ?",
        (name, version)).fetchone()
    registered = binding.check_row(store.conn, store.ledger, "model", name, version)
    sealed = store.vault.open(file, store.ring.data_key(key_id), key_id)
    if fingerprint(sealed) != registered["weights"]:
        raise VaultIntegrityError(f"the weights of model {name}@{version} do not match their "
                                  "registered fingerprint")
    return sealed, json.loads(text)
