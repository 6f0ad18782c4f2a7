"""Lineage: which dataset versions every artifact came from, as one graph in the catalog.

An edge says "artifact (``kind``, ``name``, ``id``) was computed from version ``version`` of
``dataset``". Erasure needs it to find what a person's data flowed into (a release of a
release, a DP query on a pseudonymized copy), and an auditor to answer "what came from this?"
without opening any data. The kinds, and what identifies each artifact:

=============  ==========================  =====================================================
kind           name                        id
=============  ==========================  =====================================================
release        the release dataset         its version (pseudonymized, Safe Harbor, k-anonymous)
token_map      the ``X.tokens`` dataset    its version (a reversible release's map)
dp_release     the dataset queried         the spend's cache key (a MAC, never the query)
model          the model                   its version (DP-SGD, or a federation's global model)
federated_run  the run                     the ledger seq of the site's ``federated.*`` entry
computation    the action (``zk.commit``)  the ledger seq of the HE / MPC / ZK event
=============  ==========================  =====================================================

A federated model's sources are versions in the sites' own workspaces: their edges carry the
site as ``origin`` (what the registration knows), and queries about this workspace's datasets
skip them. A DP artifact's edges carry its guarantee (``privacy``: epsilon, delta or rho), so
an erasure can state how far the erased person's influence on it is bounded.

Edges are written in the transaction that makes the artifact, by :func:`record`, as one
``lineage.record`` ledger entry whose ``append`` bind covers the rows (hand edits fail
``verify``). A workspace made before lineage existed is backfilled once, on the first query,
from what its catalog and ledger already say (release provenance, models, DP spends, federated
and HE/MPC/ZK entries), logged as ``lineage.backfill``. Edges hold names, versions and ids,
never personal values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from veil.access.scope import Scope
from veil.workspace import binding
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Store, extra_schema

__all__ = ["DATASET_KINDS", "KINDS", "RELEASE_SOURCES", "Artifact", "Lineage", "Source",
           "derived_from", "guarantee", "model_sources", "of", "record", "source_in",
           "sources_of", "successors"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS lineage_edges (
    id       INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,
    name     TEXT NOT NULL,
    artifact TEXT NOT NULL,
    dataset  TEXT NOT NULL,
    version  INTEGER NOT NULL,
    origin   TEXT,
    privacy  TEXT,
    recorded TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lineage_by_source ON lineage_edges(dataset, version);
CREATE INDEX IF NOT EXISTS lineage_by_artifact ON lineage_edges(kind, name, artifact);
"""
TABLE = "lineage_edges"
extra_schema(SCHEMA)
binding.guard_table(TABLE, "append")

KINDS = ("release", "token_map", "dp_release", "model", "federated_run", "computation")
DATASET_KINDS = frozenset({"release", "token_map"})  # artifacts that are dataset versions
RELEASE_SOURCES = frozenset({"pseudonymize", "safe_harbor", "anonymize"})  # provenance sources
_FEDERATED = ("federated.train", "federated.spend")
_BACKFILLED = "lineage_backfilled"  # meta key: set once the backfill ran
_REF = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}@[0-9]+")  # a dataset version's ref


@dataclass(frozen=True)
class Source:
    """A dataset version an artifact was computed from (``origin``: the federation site whose
    workspace holds it; None for this workspace)."""

    dataset: str
    version: int
    origin: str | None = None

    @classmethod
    def of(cls, record: DatasetVersion) -> Source:
        return cls(record.dataset, record.version)

    @classmethod
    def parse(cls, ref: str) -> Source:
        """The version a reference like ``patients@3`` (:attr:`DatasetVersion.ref`) names."""
        name, _, version = ref.rpartition("@")
        return cls(name, int(version))

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}" + (f" ({self.origin})" if self.origin else "")

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "version": self.version, "origin": self.origin}


@dataclass(frozen=True)
class Artifact:
    """Something computed from dataset versions: what it is, its DP guarantee (None: it has
    none) and the versions it came from."""

    kind: str
    name: str
    id: str
    privacy: Mapping[str, float] | None
    sources: tuple[Source, ...]

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.name, self.id

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.name}@{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "id": self.id,
                "privacy": None if self.privacy is None else dict(self.privacy),
                "sources": [s.to_dict() for s in self.sources]}


@dataclass(frozen=True)
class Lineage:
    """What a name came from and what was made from it: the artifacts called ``name`` (each
    release or model version with its sources; a dataset's DP releases carry its name) and,
    when ``name`` is a dataset, every artifact derived from any of its versions,
    transitively."""

    name: str
    artifacts: tuple[Artifact, ...]
    derived: tuple[Artifact, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "artifacts": [a.to_dict() for a in self.artifacts],
                "derived": [a.to_dict() for a in self.derived]}


def guarantee(privacy: Mapping[str, Any]) -> dict[str, float] | None:
    """The DP guarantee in a spend or a model's privacy record (its positive epsilon, delta and
    rho); None when it has none (a federated run without DP, ``{"mode": "none"}``)."""
    if privacy.get("mode") == "none":
        return None
    found = {k: float(v) for k in ("epsilon", "delta", "rho")
             if isinstance(v := privacy.get(k), int | float) and not isinstance(v, bool)
             and v > 0}
    return found if "epsilon" in found or "rho" in found else None


def model_sources(meta: Mapping[str, Any], dataset: str, version: int) -> tuple[Source, ...]:
    """A model's sources: the version it was trained on, or for a federation's global model the
    version each site reported (in the sites' workspaces)."""
    federation = meta.get("federation")
    if federation is None:
        return (Source(dataset, version),)
    return tuple(Source(s["dataset"], int(s["version"]), s["site"])
                 for s in federation["sites"])


def source_in(store: Store, resource: str) -> Source | None:
    """The dataset version a ledger resource names (``patients@3``), if this workspace has it."""
    if not _REF.fullmatch(resource):
        return None
    source = Source.parse(resource)
    found = store.conn.execute(
        "SELECT 1 FROM versions v JOIN datasets d USING (dataset_id) WHERE d.name = ? AND "
        "v.version = ?", (source.dataset, source.version)).fetchone()
    return source if found else None


# -- writing --------------------------------------------------------------------------------
def _insert(store: Store, stamp: str, artifacts: Iterable[Artifact]) -> tuple[int, int]:
    """Append the edges of ``artifacts``; the (first, last) ids written (last < first: none)."""
    first = 1 + store.conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {TABLE}").fetchone()[0]  # noqa: S608
    rows = [(a.kind, a.name, a.id, s.dataset, s.version, s.origin,
             None if a.privacy is None else json.dumps(dict(a.privacy), sort_keys=True), stamp)
            for a in artifacts for s in a.sources]
    store.conn.executemany(
        f"INSERT INTO {TABLE}(kind, name, artifact, dataset, version, origin, privacy, "  # noqa: S608
        "recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return first, first + len(rows) - 1


def record(store: Store, scope: Scope, stamp: str, *artifacts: Artifact) -> None:
    """Record where ``artifacts`` came from, inside the transaction that makes them: one
    ``lineage.record`` entry binding the edges."""
    if unknown := sorted({a.kind for a in artifacts} - set(KINDS)):
        raise ValueError(f"unknown lineage kind(s) {unknown}; kinds are {list(KINDS)}")
    first, last = _insert(store, stamp, artifacts)
    if last >= first:
        store.log(stamp, scope, "lineage.record", ", ".join(a.ref for a in artifacts),
                  artifacts=[{"kind": a.kind, "name": a.name, "id": a.id,
                              "sources": [s.ref for s in a.sources]} for a in artifacts],
                  bind=binding.bind_appended(store.conn, TABLE, first, last))


def successors(store: Store, scope: Scope, stamp: str,
               replaced: Iterable[tuple[DatasetVersion, int]]) -> None:
    """Give each new version that replaces an artifact version (an erasure re-sealing a release
    without one person) the sources of the version it replaces, inside the caller's
    transaction."""
    made = []
    for old, version in replaced:
        made += [Artifact(a.kind, a.name, str(version), a.privacy, a.sources)
                 for a in _artifacts(store, "kind IN ('release', 'token_map') AND name = ? "
                                     "AND artifact = ?", (old.dataset, str(old.version)))]
    if made:
        record(store, scope, stamp, *made)


# -- reading --------------------------------------------------------------------------------
def _artifacts(store: Store, where: str, args: tuple[Any, ...]) -> list[Artifact]:
    """The artifacts with an edge matching ``where``, each with all its sources."""
    rows = store.conn.execute(
        f"SELECT kind, name, artifact, dataset, version, origin, privacy FROM {TABLE} "  # noqa: S608
        f"WHERE (kind, name, artifact) IN (SELECT kind, name, artifact FROM {TABLE} "
        f"WHERE {where}) ORDER BY id", args).fetchall()
    grouped: dict[tuple[str, str, str], tuple[str | None, list[Source]]] = {}
    for kind, name, artifact, dataset, version, origin, privacy in rows:
        grouped.setdefault((kind, name, artifact), (privacy, []))[1].append(
            Source(dataset, version, origin))
    return [Artifact(*key, None if privacy is None else json.loads(privacy), tuple(sources))
            for key, (privacy, sources) in grouped.items()]


def derived_from(store: Store, dataset: str, version: int | None = None) -> list[Artifact]:
    """Every artifact whose sources include ``dataset`` (version ``version``, or any), directly
    or through artifacts that are themselves dataset versions (a release of a release)."""
    _backfill(store)
    found: dict[tuple[str, str, str], Artifact] = {}
    frontier: list[tuple[str, int | None]] = [(dataset, version)]
    seen: set[tuple[str, int | None]] = set()
    while frontier:
        name, number = frontier.pop()
        if (name, number) in seen:
            continue
        seen.add((name, number))
        for artifact in _artifacts(store, "origin IS NULL AND dataset = ? AND (? IS NULL OR "
                                   "version = ?)", (name, number, number)):
            if artifact.key not in found:
                found[artifact.key] = artifact
                if artifact.kind in DATASET_KINDS:
                    frontier.append((artifact.name, int(artifact.id)))
    return list(found.values())


def sources_of(store: Store, kind: str, name: str, id: str | int) -> list[Source]:
    """The dataset versions artifact (``kind``, ``name``, ``id``) came from: its own sources
    first, then theirs where a source is itself an artifact (a release of a release)."""
    _backfill(store)
    found: list[Source] = []
    frontier = [(kind, name, str(id))]
    while frontier:
        for artifact in _artifacts(store, "kind = ? AND name = ? AND artifact = ?",
                                   frontier.pop(0)):
            for source in artifact.sources:
                if source not in found:
                    found.append(source)
                    frontier += [(k, source.dataset, str(source.version))
                                 for k in sorted(DATASET_KINDS) if source.origin is None]
    return found


def of(store: Store, name: str) -> Lineage:
    """The lineage of a dataset, release or model ``name`` (see :class:`Lineage`)."""
    _backfill(store)
    derived = derived_from(store, name) if name in store.dataset_names() else []
    return Lineage(name, tuple(_artifacts(store, "name = ?", (name,))), tuple(derived))


# -- the backfill of a workspace made before lineage ------------------------------------------
def _backfill(store: Store) -> None:
    """Once per workspace: the edges its catalog and ledger already imply (see the module
    docstring), for artifacts that have none; logged even when there is nothing to add."""
    done = "SELECT 1 FROM meta WHERE key = ?"
    if store.conn.execute(done, (_BACKFILLED,)).fetchone():
        return
    with store.transaction() as stamp:
        if store.conn.execute(done, (_BACKFILLED,)).fetchone():
            return  # another process ran it first
        known = set(store.conn.execute(f"SELECT kind, name, artifact FROM {TABLE}"))  # noqa: S608
        missing = [a for a in _implied(store) if a.key not in known]
        first, last = _insert(store, stamp, missing)
        store.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (_BACKFILLED, stamp))
        bound = {"bind": binding.bind_appended(store.conn, TABLE, first, last)} if (
            last >= first) else {}
        store.log(stamp, Scope("veil", "migration"), "lineage.backfill", "lineage",
                  artifacts=len(missing), edges=last - first + 1, **bound)


def _implied(store: Store) -> Iterator[Artifact]:
    """The artifacts the catalog and ledger describe, with their sources."""
    conn = store.conn
    for name, version, text in conn.execute(
            "SELECT d.name, v.version, v.provenance FROM versions v JOIN datasets d "
            "USING (dataset_id) ORDER BY d.name, v.version").fetchall():
        provenance = json.loads(text)
        kind = ("release" if provenance.get("source") in RELEASE_SOURCES
                else "token_map" if provenance.get("source") == "token-map" else None)
        parent = source_in(store, str(provenance.get("from", "")))
        if kind is not None and parent is not None:
            yield Artifact(kind, name, str(version), None, (parent,))
    for name, version, dataset, dataset_version, text in conn.execute(
            "SELECT name, version, dataset, dataset_version, meta FROM models "
            "ORDER BY name, version").fetchall():
        meta = json.loads(text)
        yield Artifact("model", name, str(version), guarantee(meta.get("privacy", {})),
                       model_sources(meta, dataset, dataset_version))
    for dataset, version, key, epsilon, delta, rho in conn.execute(
            "SELECT dataset, version, cache_key, epsilon, delta, rho FROM dp_spends "
            "WHERE cache_key NOT LIKE 'train-%' AND cache_key NOT LIKE 'federated:%' "
            "ORDER BY id").fetchall():
        yield Artifact("dp_release", dataset, key,
                       guarantee({"epsilon": epsilon, "delta": delta, "rho": rho}),
                       (Source(dataset, version),))
    for seq, action, resource, text in conn.execute(
            "SELECT seq, action, resource, params FROM ledger WHERE action IN (?, ?) OR "
            "action LIKE 'he.%' OR action LIKE 'mpc.%' OR action LIKE 'zk.%' ORDER BY seq",
            _FEDERATED).fetchall():
        source = source_in(store, resource)
        if source is None:
            continue
        params = json.loads(text)
        if action in _FEDERATED:
            yield Artifact("federated_run", str(params.get("run")), str(seq),
                           guarantee(params.get("spent", {})), (source,))
        else:  # an HE, MPC or ZK event (see veil.workspace.audit.record)
            yield Artifact("computation", action, str(seq), None, (source,))
