"""What the pages show, read from a session on a worker thread: descriptions only (catalog
records, budgets, model cards, ledger entries), never a personal value, except the raw-data page
whose rows the guard let through.

Each function takes the :class:`~veil.access.session.Session` of the request and returns plain
data for a template; a refusal raises the guard's :class:`~veil.errors.AccessDenied`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from veil.access.scope import ADMINISTRATION
from veil.access.session import Session
from veil.discover.entities import Category
from veil.dp.budget import Remaining
from veil.dp.sql import parse as parse_sql
from veil.errors import AccessDenied, IntegrityError, NotFoundError
from veil.govern import dsar
from veil.govern.lineage import RELEASE_SOURCES
from veil.ledger import SignedTreeHead
from veil.web import plots
from veil.workspace import Workspace
from veil.workspace.catalog import DatasetVersion

__all__ = ["PAGE_ROWS", "RISKS", "Budget", "budgets", "consent_history", "dataset", "dp_query",
           "frame", "kind", "ledger_page", "model_cards", "overview", "personal_data",
           "published_head", "query_form", "receipt", "releases", "rows", "utility_plots",
           "verification"]

# the risk measures a release page compares before and after (all between 0 and 1)
RISKS = {"prosecutor max": "prosecutor_max", "prosecutor avg": "prosecutor_average",
         "at risk": "records_at_risk", "journalist max": "journalist_max",
         "marketer": "marketer"}
_MAP_SOURCE = "token-map"


def frame(session: Session) -> dict[str, Any]:
    """What every page's header needs: who, for which purpose, and the purposes to pick."""
    now = datetime.now(UTC)
    live = [p.name for p in session.purposes.list() if not p.ended(now)]
    return {"principal": session.principal, "purpose": session.purpose,
            "purposes": [ADMINISTRATION, *live]}


def personal_data(record: DatasetVersion) -> list[tuple[str, list[str]]]:
    """The columns of each discovery category that names personal data, with what discovery
    took them for (``ssn (US_SSN)``); categories with no column are left out."""
    found: dict[str, list[str]] = {}
    for column in (record.classification or {}).get("columns", []):
        entity = f" ({column['entity']})" if column.get("entity") else ""
        found.setdefault(column.get("category", Category.OTHER), []).append(
            column["column"] + entity)
    wanted = (Category.DIRECT_IDENTIFIER, Category.QUASI_IDENTIFIER, Category.SENSITIVE)
    return [(c.replace("_", " ").lower(), found[c]) for c in wanted if c in found]


def kind(record: DatasetVersion) -> str:
    """``dataset`` (ingested), ``release`` (made from one) or ``token map`` (a reversible
    release's sealed map)."""
    source = record.provenance.get("source")
    if source == _MAP_SOURCE:
        return "token map"
    return "release" if source in RELEASE_SOURCES else "dataset"


@dataclass(frozen=True)
class Budget:
    """A privacy budget as the pages show it (``measure``: ε, or ρ for zCDP)."""

    dataset: str
    principal: str
    measure: str
    total: float
    left: float
    queries: int

    @classmethod
    def of(cls, remaining: Remaining) -> Budget:
        pure = remaining.budget.measure == "pure"
        field = "epsilon" if pure else "rho"
        return cls(remaining.dataset, remaining.principal, "ε" if pure else "ρ",
                   getattr(remaining.budget, field), getattr(remaining.left, field),
                   remaining.queries)

    @property
    def bar(self) -> Markup:
        return plots.budget_bar(self.left, self.total, measure=self.measure)


def budgets(session: Session, names: list[str]) -> list[Budget]:
    """The budgets of ``names`` that are set: each dataset's, then the principal's own."""
    found = []
    for name in names:
        for principal in (None, session.principal):
            try:
                found.append(Budget.of(session.budget(name, principal)))
            except NotFoundError:
                continue
    return found


def published_head(session: Session) -> dict[str, Any] | None:
    """The signed ledger head the workspace publishes beside its catalog (public, as witnesses
    get it) and whether its signature checks with the workspace's ledger key."""
    head_file, key_file = session.path / Workspace.HEAD, session.path / Workspace.PUBLIC_KEY
    if not head_file.exists():
        return None
    head = SignedTreeHead.from_dict(json.loads(head_file.read_text()))
    valid = head.is_valid(bytes.fromhex(key_file.read_text().strip()))
    return head.to_dict() | {"valid": valid}


def releases(session: Session) -> list[dict[str, Any]]:
    """Every release version, newest first, with what it achieved and, for a k-anonymous
    one, the risk measures before and after with their chart."""
    found = []
    for name in session.dataset_names():
        for record in reversed(session.versions(name)):
            provenance = record.provenance
            if provenance.get("source") not in RELEASE_SOURCES:
                continue
            view = {"record": record, "source": provenance["source"],
                    "from": provenance.get("from")}
            if "risk_after" in provenance:
                before = {k: provenance["risk_before"][v] for k, v in RISKS.items()}
                after = {k: provenance["risk_after"][v] for k, v in RISKS.items()}
                view |= {"k": provenance["achieved"]["k"], "before": before, "after": after,
                         "chart": plots.risk_chart(before, after),
                         "models": provenance.get("models", []),
                         "quasi_identifiers": provenance.get("quasi_identifiers", []),
                         "suppressed": provenance.get("suppressed", 0),
                         "ncp": provenance.get("utility", {}).get("ncp")}
            found.append(view)
    return found


def model_cards(session: Session) -> list[dict[str, Any]]:
    """Every registered model version's card (no weights), newest first."""
    return sorted(session.models(), key=lambda m: m.get("created", ""), reverse=True)


def utility_plots(cards: list[dict[str, Any]]) -> dict[str, Markup]:
    """Per dataset, epsilon against held-out accuracy of the models trained on it."""
    points: dict[str, list[tuple[float, float, str]]] = {}
    for card in cards:
        epsilon = card.get("privacy", {}).get("epsilon")
        accuracy = card.get("metrics", {}).get("accuracy")
        if epsilon is not None and accuracy is not None:
            points.setdefault(card["dataset"], []).append(
                (epsilon, accuracy, f"{card['name']} v{card['version']}"))
    return {dataset: plots.scatter(found, x_label="epsilon", y_label="accuracy")
            for dataset, found in sorted(points.items())}


def receipt(session: Session, request_id: str) -> dict[str, Any]:
    """An erasure's receipt (:class:`veil.govern.dsar.Receipt`'s shape) from its request row,
    with the inclusion proof of the ledger entry that closed it in the current signed head."""
    status = session.requests.status(request_id)
    if status.kind != "erase" or status.state != "done":
        raise NotFoundError(f"{request_id!r} is not a finished erasure")
    ledger = session.ledger
    entry = ledger.find("govern.dsar.erase", request_id, state="done")
    if entry is None:
        raise NotFoundError(f"the ledger holds no finished erasure {request_id!r}")
    summary = status.summary
    made = dsar.Receipt(
        request_id, status.subject, summary["held"],
        tuple(dsar.DatasetErasure(d["dataset"], d["rows"], tuple(d["made"]),
                                  tuple(d["shredded"])) for d in summary["datasets"]),
        status.flags, summary["consent_snapshots"],
        ledger.prove_inclusion(entry.seq).to_dict())
    return made.to_dict()


def ledger_page(session: Session, page: int, per_page: int) -> dict[str, Any]:
    """Page ``page`` (1: the newest) of the ledger's entries, newest first."""
    ledger = session.ledger
    size = ledger.size
    pages = max(1, -(-size // per_page))
    page = min(max(page, 1), pages)
    stop = size - (page - 1) * per_page + 1
    entries = list(ledger.entries(max(1, stop - per_page), stop))[::-1]
    return {"entries": entries, "page": page, "pages": pages, "size": size}


def overview(session: Session) -> dict[str, Any]:
    """Every dataset's newest version with what personal data it holds, the budgets of the
    ingested ones, and the published ledger head."""
    records = session.datasets()
    return {"datasets": [{"record": r, "kind": kind(r), "versions": len(session.versions(
                r.dataset)), "personal": personal_data(r)} for r in records],
            "budgets": budgets(session, [r.dataset for r in records if kind(r) == "dataset"]),
            "head": published_head(session)}


def dataset(session: Session, name: str) -> dict[str, Any]:
    """One dataset: its newest version's classification (findings with their evidence), every
    version, its retention rule and budgets, and its lineage when the guard allows the caller
    to read it (the refusal's reason otherwise: the rest of the page needs no right)."""
    record = session.version(name)
    try:
        lineage, lineage_refused = session.lineage(name), None
    except AccessDenied as exc:
        lineage, lineage_refused = None, exc.message
    return {"record": record, "kind": kind(record), "versions": session.versions(name)[::-1],
            "findings": (record.classification or {}).get("columns", []),
            "personal": personal_data(record), "retention": session.retention.get(name),
            "budgets": budgets(session, [name]), "lineage": lineage,
            "lineage_refused": lineage_refused}


PAGE_ROWS = 50  # rows the raw-data page shows at a time


def rows(session: Session, name: str, version: int | None, offset: int) -> dict[str, Any]:
    """A window of a version's rows as the guard let them through (a raw read, or a
    pseudonymized read of a release; logged): the one view that shows personal values."""
    record = session.version(name, version)
    frame = session.read(name, record.version)
    return {"record": record, "columns": frame.columns, "total": frame.height,
            "rows": frame.slice(offset, PAGE_ROWS).rows(), "offset": offset,
            "limit": PAGE_ROWS}


_STATS = ("statistic", "value", "ci_low", "ci_high")


def query_form(session: Session) -> dict[str, Any]:
    """What the query form starts from: the budgets of the ingested datasets, and an example."""
    names = [r.dataset for r in session.datasets() if kind(r) == "dataset"]
    return {"budgets": budgets(session, names), "epsilon": 1.0,
            # a text to start from in the form (a dataset name is a checked name), never run
            "sql": f"SELECT COUNT(*) FROM {names[0]}" if names else ""}  # noqa: S608


def dp_query(session: Session, sql: str, epsilon: float) -> dict[str, Any]:
    """Answer ``sql`` with DP: the released values with their intervals, what it cost, and
    each budget of the dataset before and after."""
    name = parse_sql(sql).dataset
    before = budgets(session, [name])
    result = session.query(sql, epsilon=epsilon)
    after = {(b.dataset, b.principal): b for b in budgets(session, [name])}
    groups = [c for c in result.frame.columns if c not in _STATS]
    answers = []
    for row in result.frame.iter_rows(named=True):
        value, low, high = row["value"], row["ci_low"], row["ci_high"]
        numeric = all(isinstance(v, int | float) for v in (value, low, high))
        answers.append({"group": ", ".join(f"{g} = {row[g]}" for g in groups),
                        "statistic": row["statistic"], "value": value, "low": low,
                        "high": high, "plot": plots.interval(value, low, high) if numeric
                        else None})
    return {"answers": answers, "grouped": bool(groups), "spent": result.spent,
            "alpha": result.alpha, "cached": result.cached,
            "budget_change": [(b, after[(b.dataset, b.principal)]) for b in before]}


def consent_history(session: Session, subject: str, purpose: str | None) -> dict[str, Any]:
    """A subject's consent events (for one purpose or all), without the subject's id."""
    events = session.consent.history(subject, purpose)
    return {"events": [{k: getattr(e, k) for k in ("purpose", "state", "at", "source",
                                                     "notice", "recorded")} for e in events]}


def verification(session: Session) -> dict[str, Any]:
    """A full verification of the ledger and of the catalog rows it binds, now; a failure
    is an answer here (what failed), not an error page."""
    try:
        done = session.verify()
    except IntegrityError as exc:
        return {"valid": False, "message": exc.message}
    return {"valid": True, "entries": done.entries, "nodes": done.nodes, "heads": done.heads,
            "bound": done.bound, "root": done.root.hex()}
