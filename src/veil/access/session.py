"""``Session``: who acts, for which purpose, and every capability they may reach.

Every method that touches data, keys, budgets or policies asks the guard first
(:mod:`veil.access.guard`) and hands the capability the :class:`~veil.access.scope.Scope` the
guard made; nothing here takes a free-text actor. The ledger's actor and the DP budget's
principal are the session's authenticated principal. Methods that return only descriptions
(dataset versions, budgets, model cards; never personal values) are listed in
:data:`Session.METADATA` and need no right beyond an authenticated session.

The owner's session is the :class:`~veil.workspace.Workspace` itself (the master-key holder);
``ws.login(user, password, totp)`` and ``ws.session(token)`` give a user's.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from veil.access.admin import Policies, Users
from veil.access.guard import Guard, Identity, bind_principal
from veil.access.policy import Operation
from veil.access.scope import ADMINISTRATION, Scope
from veil.anonymize import workflow
from veil.anonymize.release import Release
from veil.attacks import service as attacks
from veil.discover.redact import Pseudonymizer
from veil.dp import budget as dp_budget
from veil.dp import service as dp_service
from veil.dp.execute import DPResult, Settings
from veil.dp.query import Query
from veil.dp.sql import parse as parse_sql
from veil.errors import InputError
from veil.govern import lineage as lineage_graph
from veil.govern import model_use
from veil.govern.ai_act import IntendedUse
from veil.govern.registry import Consents, Purposes, Requests, RetentionRules
from veil.govern.report import compute as report_compute
from veil.govern.report import policy as report_policy
from veil.govern.report.model import Report
from veil.keys import KeyRing, KeySource, MasterKey, admin, inventory
from veil.keys import tls as tls_certs
from veil.keys.share import RecipientKey, RecipientPublicKey
from veil.ledger import Ledger, SignedTreeHead, Verification
from veil.synth import service as synth_service
from veil.train import service as train_service
from veil.train.features import Encoding
from veil.workspace import audit, datasets, sharing, sources
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Store

if TYPE_CHECKING:
    from veil.synth.evaluate import Evaluation
    from veil.train.model import Model

__all__ = ["Session"]

# provenance sources of releases
_RELEASES = ("pseudonymize", "safe_harbor", "anonymize", synth_service.SOURCE)


class Session:
    """A principal acting for a purpose on one workspace (see the module docstring)."""

    METADATA: ClassVar[frozenset[str]] = frozenset({
        "path", "principal", "purpose", "versions", "version", "dataset_names", "datasets",
        "budget", "models", "witnesses", "for_purpose", "step_up", "users",
        "policy", "purposes", "consent", "retention", "requests",
        "authorize"})  # authorize needs no right: it asks the guard about another call

    def __init__(self, store: Store, guard: Guard, identity: Identity,
                 purpose: str = ADMINISTRATION) -> None:
        if not isinstance(purpose, str) or not purpose.strip():
            raise InputError(f"a purpose is a non-empty name; got {purpose!r}")
        self._store = store
        self._guard = guard
        self._identity = identity
        self._purpose = purpose

    # -- who and why ---------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self._store.path

    @property
    def principal(self) -> str:
        return self._identity.name

    @property
    def purpose(self) -> str:
        return self._purpose

    def for_purpose(self, purpose: str) -> Session:
        """The same principal acting for ``purpose`` (checked on every call, not here)."""
        return Session(self._store, self._guard, self._identity, purpose)

    def step_up(self, totp: str) -> Session:
        """This session with a fresh second factor (a raw read of direct identifiers needs
        one from the last few minutes); a wrong or reused code counts towards the lockout."""
        if self._identity.owner:
            return self
        now = datetime.now(UTC)
        with self._store.transaction() as stamp:
            outcome = self._guard.identities.step_up(self.principal, totp, now=now)
            self._store.log(stamp, Scope(self.principal, self._purpose), "access.step_up",
                            self.principal, ok=outcome.error is None, reason=outcome.reason)
        outcome.require()
        return Session(self._store, self._guard,
                       dataclasses.replace(self._identity, mfa_at=now), self._purpose)

    @property
    def users(self) -> Users:
        """Principals, credentials and API tokens (a ``policy_admin`` right)."""
        return Users(self)

    @property
    def policy(self) -> Policies:
        """Policy lines and role assignments (a ``policy_admin`` right)."""
        return Policies(self)

    @property
    def purposes(self) -> Purposes:
        """The purpose registry (changing it is a ``govern`` right)."""
        return Purposes(self)

    @property
    def consent(self) -> Consents:
        """The consent registry (a ``consent`` right)."""
        return Consents(self)

    @property
    def retention(self) -> RetentionRules:
        """Retention rules and their enforcement (a ``govern`` right)."""
        return RetentionRules(self)

    @property
    def requests(self) -> Requests:
        """Data subject requests: access, erasure, rectification (a ``dsar`` right)."""
        return Requests(self)

    def lineage(self, name: str) -> lineage_graph.Lineage:
        """What dataset, release or model ``name`` came from and what was derived from it (an
        ``audit`` right); see :func:`veil.govern.lineage.of`."""
        self._allow(Operation.AUDIT)
        return lineage_graph.of(self._store, name)

    def authorize(self, operation: Operation, *, dataset: str | None = None,
                  columns: Sequence[str] = ()) -> None:
        """Ask the guard now what a call will ask when it runs (a refusal is logged and
        raised), so the service refuses long work before queueing it; the work asks again."""
        record = None if dataset is None else self._store.version(dataset)
        self._allow(operation, record=record, dataset=dataset, columns=columns)

    def _allow(self, operation: Operation, *, record: DatasetVersion | None = None,
               dataset: str | None = None, columns: Sequence[str] = ()) -> Scope:
        return self._guard.check(self._identity, self._purpose, operation, record=record,
                                 dataset=dataset, columns=columns)

    @property
    def ledger(self) -> Ledger:
        """The audit ledger (entries, proofs, heads): an ``audit`` right."""
        self._allow(Operation.AUDIT)
        return self._store.ledger

    # -- datasets ------------------------------------------------------------------------------
    def ingest(self, source: sources.Source, name: str, *, subject_id: str,
               format: str | None = None,
               schema_overrides: Mapping[str, pl.DataType] | None = None,
               classify: bool = True) -> DatasetVersion:
        """Register ``source`` as the next version of ``name`` (see
        :func:`veil.workspace.datasets.ingest`)."""
        scope = self._allow(Operation.INGEST, dataset=name)
        return datasets.ingest(self._store, scope, source, name, subject_id=subject_id,
                               format=format, schema_overrides=schema_overrides,
                               classify=classify)

    def versions(self, name: str) -> list[DatasetVersion]:
        return self._store.versions(name)

    def version(self, name: str, version: int | None = None) -> DatasetVersion:
        """A version's record; the newest one when ``version`` is None."""
        return self._store.version(name, version)

    def dataset_names(self) -> list[str]:
        return self._store.dataset_names()

    def datasets(self) -> list[DatasetVersion]:
        """The newest version of every dataset."""
        return [self._store.version(name) for name in self._store.dataset_names()]

    def read(self, name: str, version: int | None = None,
             columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Decrypt a version (a ``raw_read``, or a ``pseudonymized_read`` of a release) and
        return ``columns`` (default: all that the purpose allows), with only the rows of
        people the purpose may use; logged."""
        record = self._store.version(name, version)
        if columns is None:
            columns = self._default_columns(record)
        wanted = datasets.check_columns(record, columns)
        released = record.provenance.get("source") in _RELEASES
        scope = self._allow(Operation.PSEUDONYMIZED_READ if released else Operation.RAW_READ,
                            record=record, columns=wanted)
        return datasets.read(self._store, scope, record, wanted)

    def _default_columns(self, record: DatasetVersion) -> list[str]:
        """Every column, or those a registered purpose allows (minimization by default)."""
        registered = self._guard.purpose(self._purpose)
        return list(record.schema) if registered is None else registered.columns(record)

    def destroy(self, name: str, version: int) -> DatasetVersion:
        """Crypto-shred one version: its data key is erased, so its sealed bytes are noise."""
        record = self._store.version(name, version)
        scope = self._allow(Operation.KEY_ADMIN, record=record)
        return datasets.destroy(self._store, scope, record)

    # -- releases ------------------------------------------------------------------------------
    def pseudonymize(self, name: str, columns: Sequence[str], *, version: int | None = None,
                     reversible: bool = False, output: str | None = None,
                     domains: Mapping[str, str] | None = None,
                     epoch: int | None = None) -> DatasetVersion:
        """Store a copy with ``columns`` replaced by keyed tokens as ``output`` (default
        ``{name}.pseudonymized``); see :func:`veil.anonymize.workflow.pseudonymize`."""
        record = self._store.version(name, version)
        scope = self._allow(Operation.RELEASE, record=record, columns=list(record.schema))
        return workflow.pseudonymize(self._store, scope, record, columns,
                                     target=output or f"{name}.pseudonymized",
                                     reversible=reversible, domains=domains, epoch=epoch)

    def safe_harbor(self, name: str, *, version: int | None = None, output: str | None = None,
                    reference_year: int | None = None) -> DatasetVersion:
        """Store the HIPAA Safe Harbor release as ``output`` (default ``{name}.safe_harbor``);
        see :func:`veil.anonymize.workflow.safe_harbor_release`."""
        record = self._store.version(name, version)
        scope = self._allow(Operation.RELEASE, record=record, columns=list(record.schema))
        return workflow.safe_harbor_release(self._store, scope, record,
                                            target=output or f"{name}.safe_harbor",
                                            reference_year=reference_year)

    def anonymize(self, name: str, quasi_identifiers: Sequence[str] | None = None,
                  sensitive: Sequence[str] | None = None, *, version: int | None = None,
                  keep: Sequence[str] | None = None, output: str | None = None,
                  **settings: Any) -> tuple[Release, DatasetVersion]:
        """Store a k-anonymous / l-diverse / t-close release as ``output`` (default
        ``{name}.anonymized``); ``settings`` are :func:`veil.anonymize.anonymize`'s. The
        arguments are checked before the guard is asked or anything is read."""
        record = self._store.version(name, version)
        chosen = workflow.plan(record, quasi_identifiers, sensitive, keep, settings)
        scope = self._allow(Operation.RELEASE, record=record, columns=chosen.columns)
        return workflow.anonymize_release(self._store, scope, record, chosen,
                                          target=output or f"{name}.anonymized",
                                          settings=settings)

    def reidentify(self, name: str, tokens: Sequence[str], *,
                   version: int | None = None) -> dict[str, str]:
        """The original values behind ``tokens`` of a reversible release: needs a stated
        purpose (not ``administration``) that allows it; logs how many tokens, never values."""
        if self._purpose == ADMINISTRATION:
            msg = ("re-identification needs a stated purpose, not 'administration': say why, "
                   "e.g. ws.for_purpose('adverse event follow-up, case 42')")
            raise InputError(msg)
        record = self._store.version(name, version)
        workflow.reidentify_source(self._store, record)  # refuse what is not reversible first
        scope = self._guard.check(self._identity, self._purpose, Operation.REIDENTIFY,
                                  record=record, columns=(), identifying=True)
        return workflow.reidentify(self._store, scope, record, tokens)

    def pseudonymizer(self) -> Pseudonymizer:
        """Keyed, stable tokens for this workspace (for redacting free text); logged."""
        return admin.pseudonymizer(self._store, self._allow(Operation.RELEASE))

    # -- differentially private queries --------------------------------------------------------
    def dp_settings(self, name: str, *, bounds: Mapping[str, tuple[float, float]] | None = None,
                    public_keys: Mapping[str, Sequence[Any]] | None = None,
                    max_rows_per_person: int | None = None) -> Settings:
        """A dataset's DP settings; with arguments, update them (a ``budget_admin`` right)."""
        if bounds is None and public_keys is None and max_rows_per_person is None:
            return dp_service.settings(self._store, name)
        scope = self._allow(Operation.BUDGET_ADMIN, record=self._store.version(name))
        return dp_service.update_settings(self._store, scope, name, bounds=bounds,
                                          public_keys=public_keys,
                                          max_rows_per_person=max_rows_per_person)

    def set_budget(self, name: str, *, epsilon: float | None = None, delta: float | None = None,
                   rho: float | None = None, principal: str | None = None
                   ) -> dp_budget.Remaining:
        """Set the privacy budget of a dataset (or of one principal on it)."""
        scope = self._allow(Operation.BUDGET_ADMIN, record=self._store.version(name))
        if principal is not None:
            self._guard.known_principal(principal)
        return dp_service.set_budget(self._store, scope, name, epsilon=epsilon, delta=delta,
                                     rho=rho, principal=principal or dp_budget.ALL)

    def budget(self, name: str, principal: str | None = None) -> dp_budget.Remaining:
        """A dataset's (or a principal's) budget, spent and left, as the ledger backs it."""
        return dp_service.budget(self._store, name, principal or dp_budget.ALL)

    def query(self, query: str | Query, *, epsilon: float | None = None,
              delta: float | None = None, rho: float | None = None, alpha: float = 0.05,
              version: int | None = None) -> DPResult:
        """Answer a DP query (SQL text or a :class:`~veil.dp.query.Query`) with intervals at
        ``alpha``, spending from the dataset's budget and the principal's own one; an
        identical earlier request is answered from its release at no cost."""
        if isinstance(query, str):
            query = parse_sql(query)
        elif not isinstance(query, Query):
            raise InputError(f"a query is SQL text or a veil.dp.Query; got {type(query).__name__}")
        record = self._store.version(query.dataset, version)
        scope = self._allow(Operation.DP_QUERY, record=record,
                            columns=[c for c in query.columns() if c in record.schema])
        return dp_service.answer(self._store, scope, query, record,
                                 dp_service.settings(self._store, query.dataset),
                                 epsilon=epsilon, delta=delta, rho=rho, alpha=alpha)

    def estimate_bounds(self, name: str, column: str, *, within: tuple[float, float],
                        epsilon: float | None = None, rho: float | None = None,
                        quantiles: tuple[float, float] = (0.05, 0.95)) -> tuple[float, float]:
        """Estimate a column's bounds under DP and declare them in the dataset's settings (a
        DP query that needs a ``budget_admin`` right too)."""
        record = self._store.version(name)
        self._allow(Operation.BUDGET_ADMIN, record=record)
        scope = self._allow(Operation.DP_QUERY, record=record, columns=[column])
        return dp_service.estimate_bounds(self._store, scope, record, column, within=within,
                                          epsilon=epsilon, rho=rho, quantiles=quantiles)

    # -- DP training and models ----------------------------------------------------------------
    def train(self, dataset: str, *, target: str, features: Sequence[str], epsilon: float,
              delta: float, model: str | Any = "mlp", name: str | None = None,
              epochs: int = 5, batch_size: int = 256, max_grad_norm: float = 1.0,
              lr: float = 0.1, optimizer: str = "sgd", holdout: float = 0.2,
              seed: int | None = None) -> Model:
        """Train a classifier with DP-SGD on ``features`` to predict ``target`` and register
        it as ``name`` (default ``{dataset}.{target}``); see :func:`veil.train.service.train`."""
        record = self._store.version(dataset)
        columns = datasets.check_columns(record, [*features, target])
        scope = self._allow(Operation.DP_TRAIN, record=record, columns=columns)
        return train_service.train(
            self._store, scope, record, target=target, features=features, epsilon=epsilon,
            delta=delta, model=model, name=name or f"{dataset}.{target}", epochs=epochs,
            batch_size=batch_size, max_grad_norm=max_grad_norm, lr=lr, optimizer=optimizer,
            holdout=holdout, seed=seed)

    # -- DP synthetic data ---------------------------------------------------------------------
    def synthesize(self, name: str, *, epsilon: float, delta: float, method: str = "aim",
                   rows: int | None = None, columns: Sequence[str] | None = None,
                   bins: int = 16, holdout: float = 0.2, output: str | None = None,
                   version: int | None = None, seed: int | None = None,
                   progress: Callable[[float], None] | None = None
                   ) -> synth_service.Synthetic:
        """Make a DP synthetic copy of ``columns`` (default: every column the purpose allows
        but the subject id) with AIM or MST, spending (epsilon, delta) from the dataset's
        budget, and store it as release ``output`` (default ``{name}.synthetic``); see
        :mod:`veil.synth.service`. ``progress`` gets the share of the budget measured so far."""
        record = self._store.version(name, version)
        if columns is None:
            columns = [c for c in self._default_columns(record) if c != record.subject_id]
        wanted = datasets.check_columns(record, columns)
        scope = self._allow(Operation.DP_SYNTH, record=record, columns=wanted)
        return synth_service.synthesize(
            self._store, scope, record, dp_service.settings(self._store, name), columns=wanted,
            epsilon=epsilon, delta=delta, method=method, rows=rows, bins=bins, holdout=holdout,
            target=output or f"{name}.synthetic", seed=seed, progress=progress)

    def evaluate_synthetic(self, name: str, *, version: int | None = None,
                           target: str | None = None,
                           workload: Sequence[Sequence[str]] | None = None) -> Evaluation:
        """Compare synthetic release ``name`` with the real rows it was fitted on and those
        held out (marginals, correlations, train-on-synthetic accuracy, closeness, copies and
        a membership attack). Reads real data, so it needs the ``dp_synth`` right on the
        source that making the release needed; the result is not DP and is logged."""
        record = self._store.version(name, version)
        if record.provenance.get("source") != synth_service.SOURCE:
            raise InputError(f"{record.ref} is not a synthetic release")
        origin = lineage_graph.Source.parse(record.provenance["from"])
        source = self._store.version(origin.dataset, origin.version)
        scope = self._allow(Operation.DP_SYNTH, record=source,
                            columns=datasets.check_columns(source, record.provenance["columns"]))
        return synth_service.evaluate(self._store, scope, record, source, target=target,
                                      workload=workload)

    def join_federation(self, dataset: str, *, run: str, epsilon: float | None,
                        delta: float | None, rho: float | None,
                        details: dict[str, Any]) -> DatasetVersion:
        """Record that ``dataset`` trains in federated run ``run``, debiting its budget once
        per run before the first update leaves; see :func:`veil.train.service.join_federation`."""
        record = self._store.version(dataset)
        scope = self._allow(Operation.FEDERATE, record=record)
        return train_service.join_federation(self._store, scope, record, run=run,
                                             epsilon=epsilon, delta=delta, rho=rho,
                                             details=details)

    def register_model(self, name: str, module: Any, encoding: Encoding, meta: dict[str, Any],
                       *, source: Any) -> Model:
        """Register a model trained elsewhere (a federation's global model): ``source`` names
        what it learnt from (``dataset``, ``version``, ``fingerprint`` and ``ref``). A
        ``federate`` right on that dataset, or on the workspace when the source is no dataset
        here (a federation's sites)."""
        here = source.dataset in self._store.dataset_names()
        scope = self._allow(Operation.FEDERATE, dataset=source.dataset if here else None)
        return train_service.register(self._store, scope, name, module, encoding, meta, source)

    def retrain(self, name: str) -> Model:
        """Train model ``name`` again from the newest version of its dataset with its recorded
        settings, spending the budget again (a ``dp_train`` right on that dataset): what an
        erasure marked stale is rebuilt without the erased person. A federated model is
        refused (run its federation again); see :func:`veil.train.service.retraining`."""
        record, settings = train_service.retraining(self._store, name)
        columns = datasets.check_columns(record, [*settings["features"], settings["target"]])
        scope = self._allow(Operation.DP_TRAIN, record=record, columns=columns)
        return train_service.train(self._store, scope, record, **settings)

    def models(self) -> list[dict[str, Any]]:
        """Every registered model version's description (no weights)."""
        return train_service.models(self._store)

    def model(self, name: str, version: int | None = None, *, module: Any = None) -> Model:
        """Load a registered model (a ``model_use`` right on the dataset it learnt from)."""
        found = train_service.version_of(self._store, name, version)
        dataset = self._store.conn.execute(
            "SELECT dataset FROM models WHERE name = ? AND version = ?",
            (name, found)).fetchone()[0]
        scope = self._allow(Operation.MODEL_USE, dataset=dataset)
        return train_service.load(self._store, scope, name, found, module)

    # -- attacks on our own outputs ------------------------------------------------------------
    def attack(self, artifact: str, *, kind: str, version: int | None = None,
               **params: Any) -> dict[str, Any]:
        """Attack ``artifact`` the way an adversary would, with the workspace's ground truth to
        score it, and record the result with the artifact and in the ledger (see
        :mod:`veil.attacks.service`). ``kind``: ``membership`` or ``attribute`` (a model
        name), ``linkage`` (a release), ``reconstruction`` (a dataset, through DP queries) or
        ``audit`` (a DP mechanism: ``query``, ``dpsgd`` or ``federated``). Attacking a model
        reads the rows it learnt from: a ``raw_read`` right on its dataset and ``model_use``."""
        if kind in ("membership", "attribute"):
            return self._attack_model(artifact, kind, version, params)
        if kind == "linkage":
            return self._attack_release(artifact, version, params)
        if kind == "reconstruction":
            record = self._store.version(artifact, version)
            chosen = attacks.settings(kind, params)
            scope = self._allow(Operation.RAW_READ, record=record,
                                columns=[record.subject_id, chosen["secret"]])
            return attacks.reconstruction(self, self._store, scope, record, **chosen)
        if kind == "audit":
            return attacks.audit(self._store, self._allow(Operation.AUDIT), artifact, params)
        raise InputError(f"unknown attack kind {kind!r}; kinds are {list(attacks.KINDS)}")

    def _attack_model(self, name: str, kind: str, version: int | None,
                      params: dict[str, Any]) -> dict[str, Any]:
        found = train_service.version_of(self._store, name, version)
        (text,) = self._store.conn.execute(
            "SELECT meta FROM models WHERE name = ? AND version = ?", (name, found)).fetchone()
        meta = json.loads(text)
        source = self._store.version(meta["dataset"], meta["dataset_version"])
        columns = [*meta["encoding"]["order"], meta["encoding"]["target"]]
        self._allow(Operation.MODEL_USE, record=source)
        scope = self._allow(Operation.RAW_READ, record=source, columns=columns)
        run = attacks.membership if kind == "membership" else attacks.attribute
        return run(self._store, scope, name, found, **attacks.settings(kind, params))

    def _attack_release(self, name: str, version: int | None,
                        params: dict[str, Any]) -> dict[str, Any]:
        """Linkage against a release (or raw data): the reader's view of it, and the raw
        source and token map that say who each row is (a ``raw_read`` right on the source)."""
        record = self._store.version(name, version)
        chosen = attacks.settings("linkage", params)
        source_ref = record.provenance.get("from")
        parent = None if source_ref is None else lineage_graph.Source.parse(source_ref)
        origin = record if parent is None else self._store.version(parent.dataset,
                                                                   parent.version)
        view = self.read(name, record.version)
        source = self.read(origin.dataset, origin.version)
        link = record.provenance.get("tokens")
        token_map = (self.read(link["dataset"], link["version"])
                     if record.provenance.get("source") == "safe_harbor" else None)
        scope = self._allow(Operation.RAW_READ, record=origin, columns=list(source.columns))
        return attacks.linkage(self._store, scope, record, view, source, origin.subject_id,
                               token_map, **chosen)

    def attacks(self, artifact: str | None = None) -> list[dict[str, Any]]:
        """The attack results recorded (against ``artifact``, a model, release, dataset or
        mechanism name, when given), oldest first."""
        self._allow(Operation.AUDIT)
        return attacks.results(self._store, artifact=artifact)

    # -- governance reports ----------------------------------------------------------------------
    def declare_use(self, model: str, use: IntendedUse | Mapping[str, Any]) -> IntendedUse:
        """Declare what registered model ``model`` is for (EU AI Act: domain, who it concerns,
        whether a person decides); a ``govern`` right. See :mod:`veil.govern.model_use`."""
        made = use if isinstance(use, IntendedUse) else IntendedUse.from_dict(use)
        return model_use.declare(self._store, self._allow(Operation.GOVERN), model, made)

    def report(self, kind: str, *, policy: str | os.PathLike[str] | None = None) -> Report:
        """The ``kind`` report (risk, gdpr, ccpa, hipaa or ai-act) computed from the catalog
        and the ledger, judged by the TOML ``policy`` file (the shipped one by default); an
        ``audit`` right. It reads no data and needs no data key; making it is logged."""
        scope = self._allow(Operation.AUDIT)
        made = report_compute.build(self._store, kind, report_policy.load(policy))
        with self._store.transaction() as stamp:
            self._store.log(stamp, scope, "govern.report", kind, head=made.head["size"],
                            policy=made.policy["sha256"], findings=len(made.findings()),
                            cells=len(made.matrix))
        return made

    # -- keys ----------------------------------------------------------------------------------
    def key_inventory(self) -> list[inventory.KeyInfo]:
        """Every key the workspace holds and every algorithm its operations use, each with its
        quantum exposure (see :mod:`veil.keys.inventory`): an ``audit`` right, since it holds
        names, kinds and dates only, never key bytes."""
        self._allow(Operation.AUDIT)
        return inventory.inventory(self._store)

    def rotate_keys(self, *, passphrase: str | None = None,
                    key_file: str | os.PathLike[str] | None = None,
                    master_key: MasterKey | None = None) -> int:
        """Re-wrap every key under a new master key (data files stay as they are)."""
        scope = self._allow(Operation.KEY_ADMIN)
        new_master = KeySource(passphrase, Path(key_file) if key_file else None,
                               master_key).resolve(None)
        identities = self._guard.identities

        def reseal(new: KeyRing) -> list[dict[str, Any]]:
            names = identities.rewrap(self._store.ring.unwrap_secret, new.wrap_secret)
            return [bind_principal(identities, name) for name in names]

        return admin.rotate_master(self._store, scope, new_master, reseal)

    def rotate_pseudonym_key(self) -> int:
        """Start a new pseudonym key epoch; see :func:`veil.keys.admin.rotate_pseudonym_key`."""
        return admin.rotate_pseudonym_key(self._store, self._allow(Operation.KEY_ADMIN))

    def issue_tls(self, directory: str | os.PathLike[str], *,
                  hosts: Sequence[str] = ("127.0.0.1", "localhost"),
                  days: int = tls_certs.SERVER_DAYS) -> tls_certs.TlsFiles:
        """A server certificate from the workspace's CA; see :func:`veil.keys.admin.issue_tls`."""
        return admin.issue_tls(self._store, self._allow(Operation.KEY_ADMIN), directory,
                               hosts=hosts, days=days)

    def share_key(self, name: str, version: int, recipient: RecipientPublicKey) -> bytes:
        """A bundle giving ``recipient`` this one version (its data key, wrapped with hybrid
        X25519 + ML-KEM-768, and its sealed file): a ``key_admin`` right over every column,
        since the recipient reads them all. See :mod:`veil.workspace.sharing`."""
        record = self._store.version(name, version)
        scope = self._allow(Operation.KEY_ADMIN, record=record, columns=list(record.schema))
        return sharing.share(self._store, scope, record, recipient)

    def accept_share(self, bundle: bytes, recipient: RecipientKey, *,
                     name: str | None = None) -> DatasetVersion:
        """Import a share bundle made for ``recipient`` as the next version of ``name`` (by
        default the shared dataset's name): an ``ingest`` right. Destroying that version
        crypto-shreds the copy; see :mod:`veil.workspace.sharing`."""
        incoming = sharing.open_bundle(bundle, recipient)
        target = incoming.offer.dataset if name is None else name
        scope = self._allow(Operation.INGEST, dataset=target)
        return sharing.accept(self._store, scope, incoming, target)

    # -- audit and integrity -------------------------------------------------------------------
    def record(self, action: str, resource: str, **params: Any) -> int:
        """Log a computation on encrypted or secret-shared data, or a proof (an ``he_mpc``
        right); see :func:`veil.workspace.audit.record`."""
        dataset = resource.split("@")[0] if resource.split("@")[0] in (
            self._store.dataset_names()) else None
        scope = self._allow(Operation.HE_MPC, dataset=dataset)
        return audit.record(self._store, scope, action, resource, **params)

    def verify(self, trusted: Sequence[SignedTreeHead] = ()) -> Verification:
        """Full verification of the ledger and of every catalog row it binds."""
        self._allow(Operation.AUDIT)
        return audit.verify(self._store, trusted)

    def recover(self) -> list[dict[str, Any]]:
        """Accept a rolled-back catalog (the owner's last resort); see
        :func:`veil.workspace.audit.recover`."""
        return audit.recover(self._store, self._allow(Operation.KEY_ADMIN))

    def witnesses(self) -> list[str]:
        return audit.witnesses(self._store)

    def add_witness(self, directory: str | os.PathLike[str]) -> Path:
        """Publish the signed head to ``directory`` too; see
        :func:`veil.workspace.audit.add_witness`."""
        return audit.add_witness(self._store, self._allow(Operation.KEY_ADMIN), directory)

    def remove_witness(self, directory: str | os.PathLike[str]) -> None:
        audit.remove_witness(self._store, self._allow(Operation.KEY_ADMIN), directory)

    def gc(self) -> list[str]:
        """Delete vault files no version or model refers to; see
        :func:`veil.workspace.audit.collect_garbage`."""
        return audit.collect_garbage(self._store, self._allow(Operation.KEY_ADMIN))

