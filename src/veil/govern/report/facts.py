"""Everything a report may say, read from the catalog and the ledger in one snapshot.

Nothing here opens the vault or unwraps a data key: dataset versions are described by their
catalog rows (schema, rows, classification scan, provenance with k and risk), models by their
registry metadata, consent by the keyed hashes and counts in ``consent_events``, requests by
their summaries. Personal values never reach a report because they are never read.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from veil.discover.entities import Category, Entity
from veil.discover.hipaa import SafeHarborReport, safe_harbor_report
from veil.discover.table import ColumnFinding, TableScan
from veil.govern import model_use
from veil.govern import purposes as purpose_registry
from veil.govern.ai_act import IntendedUse
from veil.govern.purposes import Purpose
from veil.govern.retention import Retention
from veil.keys.inventory import KeyInfo
from veil.keys.inventory import inventory as key_inventory
from veil.ledger import Entry, SignedTreeHead
from veil.workspace import audit
from veil.workspace.catalog import VERSION_COLUMNS, DatasetVersion
from veil.workspace.store import Store

__all__ = ["RELEASES", "ConsentState", "Facts", "Request", "gather"]

# provenance sources of a release
RELEASES = ("anonymize", "pseudonymize", "safe_harbor", "synthesize")
_TIME_TEXT = "%Y-%m-%dT%H:%M:%S.%f+00:00"  # how consent_events stores times (sorts as text)


@dataclass(frozen=True)
class ConsentState:
    """One purpose's consent now: subjects whose latest event in force is a "given" or a
    "withdrawn", and all events recorded (counts of keyed hashes, never ids)."""

    purpose: str
    given: int
    withdrawn: int
    events: int
    notices: dict[str, int]  # events per version of the privacy notice shown


@dataclass(frozen=True)
class Request:
    """A data subject request as its catalog row describes it (the subject is a keyed hash)."""

    request_id: str
    kind: str
    state: str
    created: datetime
    finished: datetime | None
    summary: dict[str, Any]

    @property
    def days(self) -> float | None:
        """Turnaround in days, once done."""
        if self.finished is None:
            return None
        return (self.finished - self.created).total_seconds() / 86_400


@dataclass
class Facts:
    """A workspace described at one signed ledger head (see :func:`gather`)."""

    workspace: str
    now: datetime
    head: SignedTreeHead
    public_key: bytes
    verified: int  # entries verified, with every bound catalog row, before reading
    entries: list[Entry]
    versions: list[DatasetVersion]
    models: list[dict[str, Any]]
    attacks: list[dict[str, Any]]
    purposes: list[Purpose]
    consent: dict[str, ConsentState]
    retention: dict[str, Retention]
    requests: list[Request]
    flags: list[dict[str, Any]]
    budgets: list[dict[str, Any]]
    spends: list[dict[str, Any]]
    principals: list[dict[str, Any]]
    tokens: list[dict[str, Any]]
    keys: list[dict[str, Any]]
    rules: list[tuple[str, ...]]
    uses: dict[str, IntendedUse] = field(default_factory=dict)
    inventory: list[KeyInfo] = field(default_factory=list)  # keys and their quantum exposure

    # -- the ledger --------------------------------------------------------------------------
    @cached_property
    def _by_action(self) -> dict[str, list[Entry]]:
        """Entries per action, oldest first (one pass; rules look entries up many times)."""
        found: dict[str, list[Entry]] = {}
        for entry in self.entries:
            found.setdefault(entry.action, []).append(entry)
        return found

    @cached_property
    def _binds(self) -> dict[tuple[str, str], list[tuple[Entry, dict[str, Any]]]]:
        """Entries per (bind kind, bound name), oldest first, each with its parsed bind."""
        found: dict[tuple[str, str], list[tuple[Entry, dict[str, Any]]]] = {}
        for entry in self.entries:
            bind = entry.parameters.get("bind")
            if isinstance(bind, dict):
                found.setdefault((bind.get("kind"), bind.get("name")), []).append((entry, bind))
        return found

    def find(self, action: str, resource: str | None = None) -> Entry | None:
        """The newest entry of ``action`` (on ``resource``)."""
        return next((e for e in reversed(self._by_action.get(action, []))
                     if resource is None or e.resource == resource), None)

    def of(self, *actions: str) -> list[Entry]:
        """Entries whose action is one of ``actions`` or starts with one ending in ``.``."""
        return [e for e in self.entries if any(
            e.action == a or (a.endswith(".") and e.action.startswith(a)) for a in actions)]

    def bound(self, kind: str, name: str, **match: Any) -> Entry | None:
        """The newest entry whose ``bind`` is of ``kind`` on ``name`` and holds ``match``."""
        return next((entry for entry, bind in reversed(self._binds.get((kind, name), []))
                     if all(bind.get(k) == v for k, v in match.items())), None)

    # -- datasets ----------------------------------------------------------------------------
    def live(self) -> list[DatasetVersion]:
        """Versions not crypto-shredded."""
        return [v for v in self.versions if v.destroyed is None]

    def newest(self) -> dict[str, DatasetVersion]:
        """Each dataset's newest live version."""
        found: dict[str, DatasetVersion] = {}
        for record in self.live():
            if record.dataset not in found or record.version > found[record.dataset].version:
                found[record.dataset] = record
        return found

    def raw(self) -> list[DatasetVersion]:
        """Newest live versions holding data as collected (not a release, not a token map)."""
        return [r for r in self.newest().values() if kind_of(r) == "raw"]

    def releases(self) -> list[DatasetVersion]:
        """Every live release version."""
        return [r for r in self.live() if kind_of(r) in RELEASES]

    def version_entry(self, record: DatasetVersion) -> Entry | None:
        return self.bound("version", record.dataset, version=record.version)

    def model_entry(self, name: str, version: int) -> Entry | None:
        return self.bound("model", name, version=version)

    def attacks_on(self, kind: str, name: str, version: int | str | None = None
                   ) -> list[dict[str, Any]]:
        return [a for a in self.attacks if a["artifact_kind"] == kind and a["artifact"] == name
                and (version is None or a["artifact_id"] == str(version))]

    def attack_entry(self, result_id: int) -> Entry | None:
        """The ``attack.*`` entry whose append bind covers stored result ``result_id``."""
        return next((entry for entry, bind in self._binds.get(("append", "attack_results:log"), [])
                     if bind["first"] <= result_id <= bind["last"]), None)

    def spent(self, dataset: str, principal: str = "*") -> float:
        """Epsilon spent on ``dataset`` by ``principal`` (``*``: by everyone)."""
        return sum(x["epsilon"] for x in self.spends if x["dataset"] == dataset
                   and principal in ("*", x["principal"]))

    def held(self, purpose: Purpose) -> int:
        """Rows of the newest versions of ``purpose``'s datasets (the largest): the subjects
        its consent should cover, one row each."""
        newest = self.newest()
        return max((newest[d].rows for d in purpose.datasets if d in newest), default=0)


def kind_of(record: DatasetVersion) -> str:
    """raw, a release source (anonymize, pseudonymize, safe_harbor, synthesize) or
    token-map."""
    source = record.provenance.get("source")
    return source if source in (*RELEASES, "token-map") else "raw"


def categories(record: DatasetVersion) -> dict[str, list[str]]:
    """Columns per discovery category from the ingest-time scan (empty when unscanned)."""
    found: dict[str, list[str]] = {}
    for column in (record.classification or {}).get("columns", []):
        found.setdefault(column["category"], []).append(column["column"])
    return found


def special(record: DatasetVersion) -> bool:
    """Holds special-category data (GDPR Art. 9: health, ethnicity, ...): sensitive columns."""
    return bool(categories(record).get(str(Category.SENSITIVE)))


def safe_harbor(record: DatasetVersion) -> SafeHarborReport | None:
    """The 18 Safe Harbor identifier kinds present in ``record``, from its classification scan
    (no data read); None when the version was not scanned."""
    scan = record.classification
    if not scan:
        return None
    columns = [ColumnFinding(c["column"], Category(c["category"]),
                             Entity(c["entity"]) if c.get("entity") else None,
                             float(c.get("confidence", 0.0)), c.get("evidence") or {})
               for c in scan.get("columns", [])]
    return safe_harbor_report(TableScan(columns, [], scan.get("rows"),
                                        int(scan.get("scanned_rows") or 0), 0.0))


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _rows(store: Store, sql: str, *args: Any) -> Iterator[tuple[Any, ...]]:
    yield from store.conn.execute(sql, args)


def _consent(store: Store, now: datetime) -> dict[str, ConsentState]:
    """Per purpose, each subject hash's latest event that has taken effect by ``now``."""
    states: dict[str, Counter[str]] = {}
    for purpose, state, count in _rows(store, """
            SELECT purpose, state, COUNT(*) FROM (
                SELECT purpose, state, ROW_NUMBER() OVER (
                    PARTITION BY subject, purpose ORDER BY at DESC, id DESC) AS newest
                FROM consent_events WHERE at <= ?) WHERE newest = 1
            GROUP BY purpose, state""", now.strftime(_TIME_TEXT)):
        states.setdefault(purpose, Counter())[state] = count
    notices: dict[str, dict[str, int]] = {}
    for purpose, notice, count in _rows(store, "SELECT purpose, notice, COUNT(*) FROM "
                                               "consent_events GROUP BY purpose, notice"):
        notices.setdefault(purpose, {})[notice] = count
    return {p: ConsentState(p, states.get(p, Counter())["given"],
                            states.get(p, Counter())["withdrawn"], sum(n.values()), n)
            for p, n in notices.items()}


def _models(store: Store) -> list[dict[str, Any]]:
    """Registry metadata without the cards (rendered text) or the encoding's value lists."""
    found = []
    for (text,) in _rows(store, "SELECT meta FROM models ORDER BY name, version"):
        meta = json.loads(text)
        for key in ("card_markdown", "card_html", "encoding"):
            meta.pop(key, None)
        found.append(meta)
    return found


def _attacks(store: Store) -> list[dict[str, Any]]:
    """Attack results, their bulky parts (ROC curves, plots, per-row data) left out."""
    keys = ("id", "attack", "artifact_kind", "artifact", "artifact_id", "principal", "result",
            "recorded")
    found = []
    for row in _rows(store, f"SELECT {', '.join(keys)} FROM attack_results ORDER BY id"):  # noqa: S608
        item = dict(zip(keys, row, strict=True))
        result = json.loads(item["result"])
        result.pop("plot", None)
        for attack in (result.get("attacks") or {}).values():
            attack.pop("curve", None)
        item["result"] = result
        found.append(item)
    return found


def gather(store: Store, *, now: datetime | None = None) -> Facts:
    """Verify the ledger and every bound row, then read every fact in one read snapshot.

    A workspace that does not verify gets no report (the error names what was edited): a
    report's findings would otherwise rest on rows nobody can vouch for."""
    verified = audit.verify(store).entries
    uses = model_use.declared(store)
    when = now or datetime.now(UTC)
    store.conn.execute("BEGIN")
    try:
        head = store.ledger.head()
        assert head is not None  # a workspace is made with its first signed head
        entries = list(store.ledger.entries(1, head.size + 1))
        versions = [DatasetVersion.from_row(r) for r in _rows(
            store, f"SELECT {VERSION_COLUMNS} FROM versions v JOIN datasets d "  # noqa: S608
                   "USING (dataset_id) ORDER BY d.name, v.version")]
        facts = Facts(
            workspace=store.path.name, now=when, head=head,
            public_key=store.ledger.key.to_bytes(), verified=verified,
            entries=entries, versions=versions, models=_models(store),
            attacks=_attacks(store), purposes=purpose_registry.all(store),
            consent=_consent(store, when),
            retention={d: Retention(**json.loads(p)) for d, p in _rows(
                store, "SELECT dataset, policy FROM retention_policies")},
            requests=[Request(i, k, s, datetime.fromisoformat(c), _time(f), json.loads(m))
                      for i, k, s, c, f, m in _rows(
                          store, "SELECT request_id, kind, state, created, finished, summary "
                                 "FROM dsar_requests ORDER BY created")],
            flags=[{"request_id": r, "kind": k, "name": n, "artifact": a, "effect": e}
                   for r, k, n, a, e in _rows(
                       store, "SELECT request_id, kind, name, artifact, effect FROM dsar_flags "
                              "ORDER BY id")],
            budgets=[{"dataset": d, "principal": p, "epsilon": e, "delta": dl, "updated": u}
                     for d, p, e, dl, u in _rows(
                         store, "SELECT dataset, principal, epsilon, delta, updated "
                                "FROM dp_budgets ORDER BY dataset, principal")],
            spends=[{"id": i, "dataset": d, "version": v, "principal": p, "epsilon": e,
                     "delta": dl, "created": c, "key": key}
                    for i, d, v, p, e, dl, c, key in _rows(
                        store, "SELECT id, dataset, version, principal, epsilon, delta, "
                               "created, cache_key FROM dp_spends ORDER BY created, id")],
            principals=[{"name": n, "kind": k, "mfa": t is not None, "created": c,
                         "disabled": d}
                        for n, k, t, c, d in _rows(
                            store, "SELECT name, kind, totp_wrapped, created, disabled "
                                   "FROM principals ORDER BY name")],
            tokens=[{"token_id": i, "principal": p, "kind": k, "expires": x, "revoked": r}
                    for i, p, k, x, r in _rows(
                        store, "SELECT token_id, principal, kind, expires, revoked "
                               "FROM api_tokens")],
            keys=[{"key_id": i, "kind": k, "created": c, "destroyed": d}
                  for i, k, c, d in _rows(
                      store, "SELECT key_id, kind, created, destroyed FROM keys")],
            rules=list(_rows(store, "SELECT ptype, v0, v1, v2, v3, v4, v5, v6 "
                                    "FROM access_rules ORDER BY ptype, v0, v1, v2")),
            uses=uses,
            inventory=key_inventory(store),
        )
    finally:
        store.conn.execute("COMMIT")
    return facts
