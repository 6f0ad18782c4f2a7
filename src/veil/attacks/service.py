"""Attacks run from inside a workspace, against its registered artifacts, with its ground truth.

The workspace knows what an outside attacker must guess: which rows trained a model (sealed
with its weights, :class:`veil.train.model.Split`), which person each release row stands for,
the true values behind query answers. Each attack here reads that truth, runs the attacker's
side with only the attacker's view, and records the outcome with the artifact: one row in
``attack_results`` (what the model card and the release's report show) and one ledger entry
binding it, holding the parameters and scores, never a member list or a person's value.
Each function runs after the guard decided the call and takes its
:class:`~veil.access.scope.Scope`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from veil.access.scope import Scope
from veil.errors import InputError
from veil.govern.lineage import Source
from veil.workspace import binding
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Store, extra_schema

__all__ = ["KINDS", "MECHANISMS", "TABLE", "attribute", "audit", "linkage", "membership",
           "reconstruction", "record_result", "release_truth", "results", "settings"]

KINDS = ("membership", "attribute", "linkage", "reconstruction", "audit")
_SETTINGS: dict[str, dict[str, Any]] = {
    "membership": {"methods": ("loss", "lira-offline", "lira-online", "rmia"),
                   "references": 64, "evaluate": None, "seed": 0, "bootstrap": 200,
                   "progress": None},
    "attribute": {"sensitive": None, "mode": "attribute", "bins": 10},
    "linkage": {"quasi_identifiers": None, "share": 1.0, "seed": 0, "matching": "covering"},
    "reconstruction": {"secret": None, "people": 500, "queries": 1000,
                       "epsilon_per_query": 0.01, "seed": 0},
}
_REQUIRED = ("sensitive", "secret")


def settings(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """An attack's parameters: its defaults updated by ``given``, unknown names refused."""
    defaults = _SETTINGS[kind]
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise InputError(f"unknown parameter(s) {unknown} for a {kind} attack; it takes "
                         f"{sorted(defaults)}")
    chosen = defaults | given
    missing = [k for k, v in chosen.items() if v is None and k in _REQUIRED]
    if missing:
        raise InputError(f"a {kind} attack needs {missing}")
    return chosen

SCHEMA = """
CREATE TABLE IF NOT EXISTS attack_results (
    id             INTEGER PRIMARY KEY,
    attack         TEXT NOT NULL,
    artifact_kind  TEXT NOT NULL,
    artifact       TEXT NOT NULL,
    artifact_id    TEXT NOT NULL,
    principal      TEXT NOT NULL,
    result         TEXT NOT NULL,
    recorded       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attack_results_by_artifact
    ON attack_results(artifact_kind, artifact, artifact_id);
"""
TABLE = "attack_results"
extra_schema(SCHEMA)
binding.guard_table(TABLE, "append")


def record_result(store: Store, scope: Scope, attack: str, artifact: tuple[str, str, str],
           result: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """Store ``result`` for ``artifact`` (kind, name, id) and log ``summary`` (parameters and
    scores) in one transaction; returns the stored result with its id."""
    with store.transaction() as now:
        row = store.conn.execute(
            f"INSERT INTO {TABLE}(attack, artifact_kind, artifact, artifact_id, principal, "  # noqa: S608
            "result, recorded) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (attack, *artifact, scope.principal, json.dumps(result, default=float), now)
        ).lastrowid
        store.log(now, scope, f"attack.{attack}", f"{artifact[0]} {artifact[1]}@{artifact[2]}",
                  **summary, bind=binding.bind_appended(store.conn, TABLE, row, row))
    return {"id": row, "attack": attack, "artifact_kind": artifact[0], "artifact": artifact[1],
            "artifact_id": artifact[2], "principal": scope.principal, "recorded": now,
            "result": result}


def results(store: Store, artifact_kind: str | None = None, artifact: str | None = None,
            artifact_id: str | None = None) -> list[dict[str, Any]]:
    """Recorded attack results, oldest first, optionally for one artifact."""
    rows = store.conn.execute(
        f"SELECT id, attack, artifact_kind, artifact, artifact_id, principal, result, "  # noqa: S608
        f"recorded FROM {TABLE} WHERE (? IS NULL OR artifact_kind = ?) AND (? IS NULL OR "
        "artifact = ?) AND (? IS NULL OR artifact_id = ?) ORDER BY id",
        (artifact_kind, artifact_kind, artifact, artifact, artifact_id, artifact_id))
    keys = ("id", "attack", "artifact_kind", "artifact", "artifact_id", "principal", "result",
            "recorded")
    return [dict(zip(keys, (*r[:6], json.loads(r[6]), r[7]), strict=True)) for r in rows]


def _training_rows(store: Store, scope: Scope, name: str, version: int) -> tuple[
        Any, Any, Any, Any]:
    """The loaded model, its training split's member and held-out rows (frames of the version
    it learnt from), and its description; refused for a model without a kept split."""
    from veil.train import service as train_service

    model = train_service.load(store, scope, name, version)
    split, meta = model.split, model.meta
    if split is None:
        raise InputError(f"model {name}@{version} was not trained here by veil (or before veil "
                         "kept training splits), so the workspace does not know its members; "
                         "membership and attribute attacks need that ground truth")
    source = store.version(meta["dataset"], meta["dataset_version"])
    frame = store.cached(source)[0]
    return model, frame[split.members], frame[split.held_out], meta


def _guarantee(meta: dict[str, Any]) -> tuple[float | None, float | None]:
    privacy = meta.get("privacy") or {}
    if privacy.get("mode") == "none" or "epsilon" not in privacy:
        return None, None
    return float(privacy["epsilon"]), float(privacy.get("delta") or 0.0)


def membership(store: Store, scope: Scope, name: str, version: int, *,
               methods: Sequence[str], references: int, evaluate: int | None, seed: int,
               bootstrap: int, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Membership inference against model ``name``@``version`` (see
    :func:`veil.attacks.membership.membership`), its references trained like it was."""
    import torch

    from veil.attacks.membership import membership as attack
    from veil.attacks.plot import roc_svg
    from veil.attacks.references import Recipe, layers_of

    model, members, held_out, meta = _training_rows(store, scope, name, version)
    encoding, training = model.encoding, meta.get("training", {})
    recipe = Recipe(layers_of(model.module), int(training.get("epochs", 5)),
                    int(training.get("batch_size", 256)), float(training.get("lr", 0.1)),
                    training.get("optimizer", "sgd"))

    def query(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model.module(torch.from_numpy(x)).numpy()

    epsilon, delta = _guarantee(meta)
    found = attack(query, recipe, (encoding.features(members), encoding.labels(members)),
                   (encoding.features(held_out), encoding.labels(held_out)), methods=methods,
                   references=references, evaluate=evaluate, epsilon=epsilon, delta=delta,
                   bootstrap=bootstrap, seed=seed, progress=progress)
    result = found.to_dict() | {"plot": roc_svg(
        {m: r.curve for m, r in found.rocs.items()}, f"Membership inference: {name} v{version}",
        epsilon=epsilon, delta=delta or 0.0)}
    summary = {"methods": list(methods), "references": found.references, "seed": seed,
               "auc": {m: round(r.auc, 4) for m, r in found.rocs.items()},
               "tpr_at_1pct": {m: r.tpr[0.01] for m, r in found.rocs.items()},
               "tpr_at_0.1pct": {m: r.tpr[0.001] for m, r in found.rocs.items()},
               "members": found.rocs[methods[0]].members, "within_bound": found.within_bound}
    return record_result(store, scope, "membership", ("model", name, str(version)), result, summary)


def attribute(store: Store, scope: Scope, name: str, version: int, *, sensitive: str,
              mode: str, bins: int) -> dict[str, Any]:
    """Attribute inference or model inversion of input ``sensitive`` of model ``name``@
    ``version`` (see :func:`veil.attacks.attribute.attribute_inference`)."""
    from veil.attacks.attribute import attribute_inference

    model, members, held_out, _ = _training_rows(store, scope, name, version)
    # half the held-out rows are the attacker's population (prior, inversion's averages), the
    # other half the non-members attacked: the prior never comes from the rows it is tried on
    found = attribute_inference(model.predict_proba, model.encoding, sensitive, members,
                                held_out[1::2], mode=mode, bins=bins,
                                population=held_out[::2])
    result = found.to_dict()
    return record_result(store, scope, "attribute", ("model", name, str(version)), result,
                  {"mode": mode, "sensitive": sensitive, "advantage": found.advantage,
                   "rows": found.rows})


def release_truth(record: DatasetVersion, view: pl.DataFrame, source: pl.DataFrame,
                  subject_id: str, quasi_identifiers: Sequence[str],
                  token_map: pl.DataFrame | None) -> list[Any]:
    """Who each row of ``view`` (``record`` as stored) is, from the workspace's own records: a
    k-anonymous release traced back to its ``source`` rows, a Safe Harbor release's subject
    codes decoded with its ``token_map``, raw data's own subject ids."""
    from veil.attacks.linkage import decode, retrace

    how = record.provenance.get("source")
    if how == "anonymize":
        return retrace(view, source, quasi_identifiers, subject_id)
    if how == "safe_harbor":
        assert token_map is not None
        return decode(view[record.subject_id], token_map)
    if how is None or how == "ingest" or subject_id in view.columns:
        return view[subject_id].to_list()
    raise InputError(f"{record.ref} is a {how} release; a linkage attack runs on raw data, a "
                     "k-anonymous release or a Safe Harbor release")


def linkage(store: Store, scope: Scope, record: DatasetVersion, view: pl.DataFrame,
            source: pl.DataFrame, subject_id: str, token_map: pl.DataFrame | None, *,
            quasi_identifiers: Sequence[str] | None, share: float, seed: int,
            matching: str) -> dict[str, Any]:
    """Link a register of ``share`` of the people in ``source`` (their subject ids and raw
    quasi-identifiers) to ``view``, the stored ``record`` as a reader gets it (see
    :func:`veil.attacks.linkage.link`); a k-anonymous release is checked against 1/k."""
    from veil.anonymize.plan import plan_release
    from veil.attacks.linkage import auxiliary, link

    if quasi_identifiers is None:  # the release's own, else what discovery classified
        parent = record.provenance.get("from")
        found = None if parent is None else Source.parse(parent)
        origin = record if found is None else store.version(found.dataset, found.version)
        quasi_identifiers = record.provenance.get("quasi_identifiers") or plan_release(
            list(source.columns), origin.classification, subject_id).quasi_identifiers
    qi = [c for c in quasi_identifiers if c in view.columns]
    if not qi:
        raise InputError(f"none of the quasi-identifiers {list(quasi_identifiers)} is in "
                         f"{record.ref}; name the ones the release keeps")
    truth = release_truth(record, view, source, subject_id, qi, token_map)
    achieved = record.provenance.get("achieved") or {}
    k = achieved.get("k") if record.provenance.get("source") == "anonymize" else None
    found = link(view.drop(record.subject_id) if record.subject_id in view.columns else view,
                 auxiliary(source, qi, subject_id, share=share, seed=seed), qi, truth,
                 matching=matching, k=k)
    kind = "dataset" if "from" not in record.provenance else "release"
    return record_result(store, scope, "linkage", (kind, record.dataset, str(record.version)),
                         found.to_dict(), {"quasi_identifiers": qi, "share": share, "k": k,
                                           "rate": found.rate,
                                           "within_bound": found.within_bound})


def reconstruction(session: Any, store: Store, scope: Scope, record: DatasetVersion, *,
                   secret: str, people: int, queries: int, epsilon_per_query: float,
                   seed: int) -> dict[str, Any]:
    """Dinur-Nissim against ``record``'s secret bit column ``secret`` for its first ``people``
    subjects, twice on the same people: with ``2 * people`` exact subset sums (what an
    unprotected query interface answers) and with up to ``queries`` of ``session``'s DP
    queries (the same first subsets), which spend the dataset's budget as any analyst's would
    (see :mod:`veil.attacks.reconstruction`)."""
    from veil.attacks.reconstruction import attack, through_workspace

    frame = session.read(record.dataset, record.version,
                         columns=[record.subject_id, secret]).head(people)
    ids = frame[record.subject_id].to_list()
    truth = frame[secret].cast(pl.Int64).to_numpy()
    exact = attack(lambda subset: float(truth[subset].sum()), len(ids),  # answers all 2n
                   queries=2 * len(ids), seed=seed, truth=truth)
    private = through_workspace(session, record.dataset, secret, record.subject_id,
                                queries=queries, epsilon_per_query=epsilon_per_query,
                                seed=seed, ids=ids, truth=truth)
    result = {"secret": secret, "without_noise": exact.to_dict(),
              "through_dp_queries": private.to_dict()}
    return record_result(store, scope, "reconstruction",
                         ("dataset", record.dataset, str(record.version)), result,
                         {"secret": secret, "people": len(ids),
                          "epsilon_per_query": epsilon_per_query,
                          "recovered_without_noise": exact.recovered_share,
                          "recovered_through_dp": private.recovered_share,
                          "queries_answered": private.queries_answered,
                          "epsilon_spent": private.epsilon_spent})


MECHANISMS = ("query", "dpsgd", "dpsgd-multi-run", "federated", "synth")


def _auditor(mechanism: str) -> Callable[..., Any]:
    from veil.attacks import audit as audits

    found = {"query": audits.audit_query, "dpsgd": audits.audit_dpsgd_one_run,
             "dpsgd-multi-run": audits.audit_dpsgd_multi_run,
             "federated": audits.audit_federated, "synth": audits.audit_synth}.get(mechanism)
    if found is None:
        raise InputError(f"unknown DP mechanism {mechanism!r}; audits exist for "
                         f"{list(MECHANISMS)}")
    return found


def audit(store: Store, scope: Scope, mechanism: str, params: dict[str, Any]) -> dict[str, Any]:
    """An empirical epsilon audit of one of veil's DP mechanisms as this installation runs it
    (see :mod:`veil.attacks.audit`): its lower bound must not exceed the claimed epsilon."""
    import inspect

    from veil import __version__

    run = _auditor(mechanism)
    accepted = {n for n, p in inspect.signature(run).parameters.items()
                if p.kind is not inspect.Parameter.VAR_KEYWORD and n != "mechanism"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise InputError(f"unknown parameter(s) {unknown} for the {mechanism} audit; it takes "
                         f"{sorted(accepted)}")
    found = run(**params)
    return record_result(store, scope, "audit", ("mechanism", mechanism, __version__),
                         found.to_dict(), {"claimed_epsilon": found.claimed_epsilon,
                                           "delta": found.delta,
                                           "lower_bound": found.lower_bound,
                                           "passed": found.passed,
                                           "samples": found.samples} | {
                             k: v for k, v in params.items() if k != "seed"})
