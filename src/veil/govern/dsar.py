"""Data subject requests: access (GDPR Art. 15, CCPA right to know), erasure (Art. 17, CCPA
delete) and rectification (Art. 16).

**Finding a subject.** In every readable version of every dataset, by the version's subject-id
column compared as text (the integer 7 and the string "7" match). A release keeps that column
unless it was replaced: a Safe Harbor release's codes and a pseudonymized release's tokens lead
back to the subject through the release's sealed token map (code or token -> original value).
A release without a subject column (k-anonymous) or with tokenized ids and no map cannot be
searched; an erasure marks it stale instead.

**Access** exports the subject's rows in every version (JSON, and a CSV per dataset, 0600),
their consent history and the purposes that cover their data, and the artifacts derived from
versions that held them (:mod:`veil.govern.lineage`).

**Erasure**, one request id, dataset by dataset: the newest readable version's other rows are
re-sealed as a new version (a release's token map likewise, without the entries only the
subject's rows used), and every version that held the subject (with its map) is
crypto-shredded, in one transaction per dataset; the shredded files leave the vault after the
commit. The plan is read outside the write lock and checked again inside it: a dataset changed
meanwhile (a concurrent ingest) is planned again, so the ingest is neither lost nor left
holding the subject. Then the subject leaves every consent snapshot, and each artifact derived
from a version that held them is flagged: ``dp-bounded`` (a DP release, model or run: kept,
the person's influence bounded by its epsilon), ``stale`` (no DP guarantee: rebuild it from
the current versions, ``Session.retrain`` for a model) or ``erased`` (a release the subject
was removed from). The receipt carries the signed ledger's inclusion proof of the erasure
entry; a subject held nowhere gets a receipt saying so.

**Rectification** is a new version of a dataset with the subject's rows corrected.

Each request is a row of ``dsar_requests`` (bound to the ledger) that :func:`status` reads.
The catalog and the ledger hold the subject only as a keyed hash (HMAC-SHA256 under a key
derived from the workspace's first pseudonym key), never the id or any value.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from veil import __version__
from veil._atomic import atomic_write
from veil.access.scope import Scope
from veil.errors import (
    InputError,
    KeyDestroyedError,
    NotFoundError,
    SchemaError,
    WorkspaceBusyError,
)
from veil.govern import consent, lineage, purposes
from veil.keys.ring import PSEUDONYM_KEY_ID
from veil.workspace import binding
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Sealed, Store, extra_schema

__all__ = ["DP_BOUNDED", "ERASED", "STALE", "AccessReport", "DatasetErasure", "Flag",
           "Receipt", "Rectification", "RequestStatus", "access", "erase", "rectify",
           "status", "subject_hash"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS dsar_requests (
    request_id TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'erase', 'rectify')),
    subject    TEXT NOT NULL,  -- keyed hash of the subject id, never the id
    state      TEXT NOT NULL CHECK (state IN ('running', 'done')),
    created    TEXT NOT NULL,
    finished   TEXT,
    summary    TEXT NOT NULL   -- JSON: datasets, versions, artifacts; never values
);
CREATE TABLE IF NOT EXISTS dsar_flags (
    id         INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    artifact   TEXT NOT NULL,
    effect     TEXT NOT NULL CHECK (effect IN ('dp-bounded', 'stale', 'erased')),
    privacy    TEXT,           -- JSON: the DP guarantee bounding the subject's influence
    flagged    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dsar_flags_by_request ON dsar_flags(request_id);
"""
REQUESTS, FLAGS = "dsar_requests", "dsar_flags"
extra_schema(SCHEMA)
binding.guard_table(REQUESTS, "row")
binding.guard_table(FLAGS, "append")

DP_BOUNDED, STALE, ERASED = "dp-bounded", "stale", "erased"
_HASH_LABEL = "dsar-subject"
_ATTEMPTS = 3  # plans of one dataset before a request gives up on one that keeps changing
_T = TypeVar("_T")


# -- what requests return ------------------------------------------------------------------
@dataclass(frozen=True)
class Flag:
    """What an erasure implies for one artifact (see the module docstring for ``effect``);
    ``privacy`` is a DP artifact's guarantee, which bounds the erased person's influence."""

    request_id: str
    kind: str
    name: str
    id: str
    effect: str
    privacy: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class DatasetErasure:
    """One dataset an erasure changed: the subject's rows in its newest readable version,
    the versions made without them and those shredded (a release's token map included)."""

    dataset: str
    rows: int
    made: tuple[str, ...]
    shredded: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Receipt:
    """What an erasure did, with the inclusion proof of its ledger entry (``proof``: check it
    with :func:`veil.ledger.verify_inclusion` and the workspace's public key)."""

    request_id: str
    subject: str  # keyed hash
    held: bool
    datasets: tuple[DatasetErasure, ...]
    flags: tuple[Flag, ...]
    consent_snapshots: int
    proof: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Rectification:
    request_id: str
    version: str  # the new version's ref
    rows: int
    columns: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RequestStatus:
    request_id: str
    kind: str
    subject: str  # keyed hash
    state: str
    created: str
    finished: str | None
    summary: dict[str, Any]
    flags: tuple[Flag, ...]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AccessReport:
    """Everything held about one subject: their rows per dataset and version, consent events,
    the purposes covering their data, the artifacts derived from it, and the files written."""

    request_id: str
    subject: str
    rows: dict[str, dict[int, pl.DataFrame]]
    consents: tuple[consent.ConsentEvent, ...]
    purposes: tuple[purposes.Purpose, ...]
    artifacts: tuple[lineage.Artifact, ...]
    files: tuple[Path, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "subject": self.subject,
                "datasets": {name: {str(v): frame.to_dicts() for v, frame in versions.items()}
                             for name, versions in self.rows.items()},
                "consents": [dataclasses.asdict(e) for e in self.consents],
                "purposes": [p.to_dict() for p in self.purposes],
                "artifacts": [a.to_dict() for a in self.artifacts]}


# -- finding a subject ----------------------------------------------------------------------
def subject_hash(store: Store, subject: str | int) -> str:
    """The keyed hash a request logs in place of the subject id."""
    return consent._hash(store.ring.derive(PSEUDONYM_KEY_ID, _HASH_LABEL),
                         consent._subject_text(subject))


@dataclass(eq=False)
class _Found:
    """One readable version and the subject's rows in it (``rows`` None: it cannot be
    searched); a release's ``token_map`` is its map version with, as ``rows``, the entries
    that only the subject's rows use."""

    record: DatasetVersion
    frame: pl.DataFrame
    rows: pl.Series | None
    token_map: _Found | None = None

    @property
    def held(self) -> bool:
        return self.rows is not None and bool(self.rows.any())

    def theirs(self) -> pl.DataFrame:
        return self.frame.filter(self.rows)

    @cached_property
    def others(self) -> pl.DataFrame:
        """The rows that stay (computed once: a plan and its write both need them)."""
        return self.frame.filter(~self.rows) if self.rows is not None else self.frame


def _tokenized(record: DatasetVersion) -> dict[str, str]:
    """The columns a release replaced by tokens or codes, each with its token domain."""
    provenance = record.provenance
    if provenance.get("source") == "safe_harbor":
        return {provenance["subject_codes"]: provenance["subject_codes"]}
    if provenance.get("source") == "pseudonymize":
        return dict(provenance["domains"])
    return {}


def _live_map(store: Store, record: DatasetVersion) -> DatasetVersion | None:
    """The readable token map a release version links to, if any."""
    link = record.provenance.get("tokens")
    mapping = None if link is None else store.version(link["dataset"], link["version"])
    return None if mapping is None or mapping.destroyed else mapping


def _search(store: Store, record: DatasetVersion, text: str, *, whole: bool) -> _Found:
    """The subject's rows in a readable version (see the module docstring): ``whole`` reads
    every column (a version that may be re-sealed without them), else only the subject id
    and token columns (a version that can only be shredded)."""
    column, tokens = record.subject_id, _tokenized(record)
    frame = (store.open_version(record) if whole else store.open_columns(
        record, [c for c in dict.fromkeys([column, *tokens]) if c in record.schema]))
    mapping = _live_map(store, record)
    if column not in frame.columns or (column in tokens and mapping is None):
        return _Found(record, frame, None)
    token_map = None if mapping is None else store.open_version(mapping)
    ids = [text]
    if token_map is not None and column in tokens:
        ids = token_map.filter((pl.col("domain") == tokens[column])
                               & (pl.col("value") == text))["token"].to_list()
    found = _Found(record, frame, frame[column].cast(pl.String).is_in(ids).fill_null(False))
    if mapping is not None and token_map is not None:
        found.token_map = _Found(mapping, token_map, _only_theirs(found, token_map, tokens))
    return found


def _only_theirs(found: _Found, token_map: pl.DataFrame, columns: Mapping[str, str]
                 ) -> pl.Series:
    """The map entries whose token appears in the subject's rows and in no other row."""
    mine, others = found.theirs(), found.others
    used = pl.concat([mine[c] for c in columns]).drop_nulls().unique().implode()
    shared = pl.concat([others[c].filter(others[c].is_in(used)) for c in columns]).implode()
    return token_map["token"].is_in(used) & ~token_map["token"].is_in(shared)


def _searchable(store: Store) -> list[str]:
    """Every dataset but token maps (a map is searched with the release it belongs to)."""
    return [name for name in store.dataset_names()
            if store.version(name).provenance.get("source") != "token-map"]


# -- requests -------------------------------------------------------------------------------
def _write_request(store: Store, scope: Scope, stamp: str, request_id: str, kind: str,
                   subject: str, state: str, summary: dict[str, Any]) -> None:
    """Insert or move a request's row and log ``govern.dsar.<kind>`` binding it (the summary
    holds ids, versions and counts, never values)."""
    store.conn.execute(
        f"INSERT INTO {REQUESTS}(request_id, kind, subject, state, created, finished, "  # noqa: S608
        "summary) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(request_id) DO UPDATE SET "
        "state = excluded.state, finished = excluded.finished, summary = excluded.summary",
        (request_id, kind, subject, state, stamp, stamp if state == "done" else None,
         json.dumps(summary, sort_keys=True)))
    store.log(stamp, scope, f"govern.dsar.{kind}", request_id, subject=subject, state=state,
              **summary, bind=binding.bind_table_row(store.conn, REQUESTS, request_id))


def _new_request() -> str:
    return f"dsar-{uuid.uuid4().hex}"


class _Moved(Exception):
    """A dataset changed between its plan and the write lock (raised to roll back, never out)."""


def _settled(attempt: Callable[[], _T], dataset: str) -> _T:
    """``attempt()`` again while ``dataset`` keeps changing under it, up to :data:`_ATTEMPTS`."""
    for _ in range(_ATTEMPTS):
        try:
            return attempt()
        except _Moved:
            continue
    raise WorkspaceBusyError(f"dataset {dataset!r} changed {_ATTEMPTS} times while this request "
                             "read it (concurrent writes); it was left as it was. Run the "
                             "request again")


def _state(store: Store, dataset: str) -> dict[str, list[tuple[int, str | None]]]:
    """What a plan of ``dataset`` rests on: its versions and those of its token maps."""
    versions = store.versions(dataset)
    names = [dataset, *sorted({v.provenance["tokens"]["dataset"] for v in versions
                               if "tokens" in v.provenance})]
    return {n: [(v.version, v.destroyed) for v in store.versions(n)] for n in names}


def _replace(store: Store, scope: Scope, stamp: str, request_id: str, record: DatasetVersion,
             sealed: Sealed, frame: pl.DataFrame, **extra: Any) -> DatasetVersion:
    """Register ``frame`` as the next version of ``record``'s dataset, made by a request from
    ``record`` (its provenance kept, so a release stays a release), with its ledger entry."""
    provenance = record.provenance | extra | {
        "veil": __version__, "actor": scope.principal, "purpose": scope.purpose,
        "dsar": {"request": request_id, "replaces": record.ref}}
    version = store.add_version(record.dataset, sealed, frame, record.subject_id, provenance,
                                stamp)
    store.log(stamp, scope, "govern.dsar.version", f"{record.dataset}@{version}",
              request=request_id, replaces=record.ref, rows=frame.height,
              fingerprint=sealed[3], key_id=sealed[1],
              bind=binding.bind_version(store.conn, record.dataset, version))
    return store.version(record.dataset, version)


# -- erasure --------------------------------------------------------------------------------
@dataclass
class _Plan:
    """One dataset's erasure: the state it rests on, its newest readable version searched, the
    versions that held the subject (to shred, with their maps) and those that cannot be
    searched."""

    dataset: str
    state: dict[str, list[tuple[int, str | None]]]
    newest: _Found | None = None
    held: list[DatasetVersion] = field(default_factory=list)
    shred: list[DatasetVersion] = field(default_factory=list)
    unsearchable: list[DatasetVersion] = field(default_factory=list)


def _plan(store: Store, dataset: str, text: str) -> _Plan:
    plan = _Plan(dataset, _state(store, dataset))
    live = [v for v in store.versions(dataset) if v.destroyed is None]
    for record in live:
        found = _search(store, record, text, whole=record is live[-1])
        if record is live[-1]:
            plan.newest = found  # the others' frames are dropped as the loop goes on
        if found.rows is None:
            plan.unsearchable.append(record)
        elif found.held:
            plan.held.append(record)
            plan.shred += [record] + ([] if found.token_map is None
                                      else [found.token_map.record])
    return plan


def _apply(store: Store, scope: Scope, request_id: str, plan: _Plan) -> DatasetErasure:
    """Erase the subject from one dataset in one transaction (see the module docstring)."""
    newest = plan.newest
    assert newest is not None  # a plan that holds the subject searched a version
    parts: list[tuple[pl.DataFrame, bool]] = []
    if newest.held:  # else only older versions held the subject: nothing to re-seal
        parts.append((newest.others, True))
        if newest.token_map is not None:
            parts.append((newest.token_map.others, False))
    replaced: list[tuple[DatasetVersion, DatasetVersion]] = []
    with store.sealing(*parts) as sealed, store.transaction() as stamp:
        if _state(store, plan.dataset) != plan.state:
            raise _Moved
        link: dict[str, Any] = {}
        if newest.held and newest.token_map is not None:
            old_map = newest.token_map.record
            new_map = _replace(store, scope, stamp, request_id, old_map, sealed[1], parts[1][0])
            replaced.append((old_map, new_map))
            link = {"tokens": {"dataset": new_map.dataset, "version": new_map.version}}
        if newest.held:
            replaced.append((newest.record, _replace(store, scope, stamp, request_id,
                                                     newest.record, sealed[0], parts[0][0],
                                                     **link)))
            lineage.successors(store, scope, stamp, [(o, n.version) for o, n in replaced])
        for record in plan.shred:
            store.ring.destroy(record.key_id, stamp)
            store.conn.execute("UPDATE versions SET destroyed = ? WHERE file = ?",
                               (stamp, record.file))
            store.log(stamp, scope, "govern.dsar.shred", record.ref, request=request_id,
                      key_id=record.key_id, fingerprint=record.fingerprint,
                      bind=binding.bind_destroy(record.dataset, record.version))
    for record in plan.shred:
        store.vault.discard(record.file)
        store.frames.pop(record.file, None)  # no decrypted copy stays in this process either
    rows = int(newest.rows.sum()) if newest.rows is not None else 0
    return DatasetErasure(plan.dataset, rows, tuple(n.ref for _, n in replaced),
                          tuple(r.ref for r in plan.shred))


def _erase_dataset(store: Store, scope: Scope, request_id: str, dataset: str,
                   text: str) -> tuple[_Plan, DatasetErasure | None]:
    def attempt() -> tuple[_Plan, DatasetErasure | None]:
        plan = _plan(store, dataset, text)
        return plan, (_apply(store, scope, request_id, plan) if plan.held else None)

    return _settled(attempt, dataset)


def _flags(store: Store, request_id: str, plans: list[_Plan],
           made: set[str]) -> list[Flag]:
    """What the erasure implies for every artifact derived from a version that held the
    subject (see :class:`Flag`); the versions this request made are not flagged."""
    flags = {("release", r.dataset, str(r.version)): Flag(
        request_id, "release", r.dataset, str(r.version), ERASED)
        for p in plans for r in p.held if r.provenance.get("source") in lineage.RELEASE_SOURCES}
    unsearchable = {r.ref for p in plans for r in p.unsearchable}
    for plan in plans:
        for record in plan.held:
            for artifact in lineage.derived_from(store, record.dataset, record.version):
                ref = f"{artifact.name}@{artifact.id}"
                if artifact.key in flags or ref in made:
                    continue
                if artifact.kind in lineage.DATASET_KINDS:
                    if artifact.kind == "release" and ref in unsearchable:
                        flags[artifact.key] = Flag(request_id, artifact.kind, artifact.name,
                                                   artifact.id, STALE)
                    continue  # a map goes with its release; a searched release was handled
                privacy = None if artifact.privacy is None else dict(artifact.privacy)
                flags[artifact.key] = Flag(request_id, artifact.kind, artifact.name,
                                           artifact.id, DP_BOUNDED if privacy else STALE,
                                           privacy)
    return [flags[key] for key in sorted(flags)]


def erase(store: Store, scope: Scope, subject: str | int) -> Receipt:
    """Erase one subject from the workspace (see the module docstring) and return the
    receipt. A dataset that keeps changing under the erasure raises
    :class:`~veil.errors.WorkspaceBusyError`, leaving it untouched and the request running
    (the datasets before it are done; run the erasure again to finish)."""
    text = consent._subject_text(subject)
    hashed = subject_hash(store, text)
    request_id = _new_request()
    with store.transaction() as stamp:
        _write_request(store, scope, stamp, request_id, "erase", hashed, "running", {})
    plans, done = [], []
    for dataset in _searchable(store):
        plan, erased = _erase_dataset(store, scope, request_id, dataset, text)
        plans.append(plan)
        if erased is not None:
            done.append(erased)
    snapshots = consent.forget(store, scope, text)
    flags = _flags(store, request_id, plans, {ref for d in done for ref in d.made})
    summary = {"held": bool(done) or snapshots > 0, "consent_snapshots": snapshots,
               "datasets": [d.to_dict() for d in done],
               "flagged": [{"kind": f.kind, "name": f.name, "id": f.id, "effect": f.effect}
                           for f in flags]}
    with store.transaction() as stamp:
        if flags:
            first = 1 + store.conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {FLAGS}"  # noqa: S608
                                           ).fetchone()[0]
            store.conn.executemany(
                f"INSERT INTO {FLAGS}(request_id, kind, name, artifact, effect, privacy, "  # noqa: S608
                "flagged) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(f.request_id, f.kind, f.name, f.id, f.effect,
                  None if f.privacy is None else json.dumps(f.privacy, sort_keys=True), stamp)
                 for f in flags])
            store.log(stamp, scope, "govern.dsar.flag", request_id, flags=len(flags),
                      bind=binding.bind_appended(store.conn, FLAGS, first,
                                                 first + len(flags) - 1))
        _write_request(store, scope, stamp, request_id, "erase", hashed, "done", summary)
        seq = store.ledger.size
    store.checkpoint()  # the shredded keys' bytes leave the WAL
    return Receipt(request_id, hashed, summary["held"], tuple(done), tuple(flags), snapshots,
                   store.ledger.prove_inclusion(seq).to_dict())


# -- access ---------------------------------------------------------------------------------
def access(store: Store, scope: Scope, subject: str | int, *,
           out_dir: str | Path | None = None) -> AccessReport:
    """Everything held about one subject (see :class:`AccessReport`); with ``out_dir``, also
    written there as ``<request>.json`` and ``<request>-<dataset>.csv`` (owner-only files).
    Logged with the subject's keyed hash."""
    text = consent._subject_text(subject)
    folder = None if out_dir is None else Path(out_dir)
    if folder is not None and not folder.is_dir():
        raise NotFoundError(f"no directory {folder} to write the access export to")
    rows: dict[str, dict[int, pl.DataFrame]] = {}
    held: list[DatasetVersion] = []
    for dataset in _searchable(store):
        for record in store.versions(dataset):
            found = None if record.destroyed else _search(store, record, text, whole=True)
            if found is None or not found.held:
                continue
            held.append(record)
            for part in (found, found.token_map):
                if part is not None and part.held:
                    rows.setdefault(part.record.dataset, {})[part.record.version] = part.theirs()
    events = consent.history(store, scope, text)
    named = {e.purpose for e in events}
    covering = tuple(p for p in purposes.all(store) if p.name in named or set(p.datasets) & set(
        rows))
    artifacts = {a.key: a for r in held for a in lineage.derived_from(store, r.dataset,
                                                                      r.version)}
    report = AccessReport(_new_request(), text, rows, tuple(events), covering,
                          tuple(artifacts[k] for k in sorted(artifacts)))
    files = () if folder is None else _export(report, folder)
    with store.transaction() as stamp:
        _write_request(store, scope, stamp, report.request_id, "access",
                       subject_hash(store, text), "done",
                       {"datasets": {n: sorted(v) for n, v in rows.items()},
                        "rows": sum(f.height for v in rows.values() for f in v.values()),
                        "consents": len(events), "artifacts": len(artifacts),
                        "files": [f.name for f in files]})
    return dataclasses.replace(report, files=files)


def _export(report: AccessReport, folder: Path) -> tuple[Path, ...]:
    """The report as JSON and one CSV per dataset (every version, ``dataset_version`` first)."""
    written = [folder / f"{report.request_id}.json"]
    atomic_write(written[0], json.dumps(report.to_dict(), indent=2, default=str).encode())
    for dataset, versions in sorted(report.rows.items()):
        table = pl.concat([frame.select(pl.lit(version).alias("dataset_version"), pl.all())
                           for version, frame in sorted(versions.items())],
                          how="diagonal_relaxed")
        written.append(folder / f"{report.request_id}-{dataset}.csv")
        atomic_write(written[-1], table.write_csv().encode())
    return tuple(written)


# -- rectification --------------------------------------------------------------------------
def _corrections(record: DatasetVersion, changes: object) -> list[str]:
    """The columns ``changes`` corrects, checked against the version (values are checked
    against the column types once the version is read)."""
    if not isinstance(changes, Mapping) or not changes:
        raise InputError("changes map column names to corrected values, e.g. "
                         "{'email': 'new@example.org'}")
    unknown = [c for c in changes if c not in record.schema]
    if unknown:
        raise SchemaError(f"{record.ref} has no column(s) {unknown}; columns are "
                          f"{list(record.schema)}")
    if record.subject_id in changes:
        raise InputError(f"the subject-id column {record.subject_id!r} cannot be rectified; "
                         "erase the subject and ingest the corrected rows instead")
    return list(changes)


def _typed(record: DatasetVersion, frame: pl.DataFrame, changes: Mapping[str, Any]
           ) -> list[pl.Expr]:
    """Each corrected value as a literal of its column's type (refused, naming the column and
    the value's type, never the value)."""
    values = []
    for column, value in changes.items():
        dtype = frame.schema[column]
        try:
            typed = pl.Series(column, [value], dtype=dtype, strict=True)
        except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
            raise SchemaError(f"column {column!r} of {record.ref} holds {dtype} values; the "
                              f"corrected value given is a {type(value).__name__}") from None
        values.append(pl.lit(typed).first().alias(column))
    return values


def rectify(store: Store, scope: Scope, subject: str | int, dataset: str,
            changes: Mapping[str, Any]) -> Rectification:
    """A new version of ``dataset`` with the subject's rows corrected (``changes``: column ->
    value of the column's type); logged with the columns, never the values."""
    text = consent._subject_text(subject)

    def attempt() -> Rectification:
        record = store.version(dataset)
        if record.provenance.get("source") in lineage.RELEASE_SOURCES | {"token-map"}:
            raise InputError(f"{record.ref} is a release; rectify the dataset it was made "
                             "from and make the release again")
        if record.destroyed:
            raise KeyDestroyedError(f"the newest version {record.ref} was crypto-shredded; "
                                    "there is nothing to rectify")
        columns = _corrections(record, changes)
        found = _search(store, record, text, whole=True)
        if not found.held:
            raise NotFoundError(f"{record.ref} holds no rows of this subject; nothing was "
                                "changed")
        fixed = found.frame.with_columns(
            pl.when(found.rows).then(value).otherwise(pl.col(value.meta.output_name()))
            for value in _typed(record, found.frame, changes))
        request_id = _new_request()
        with store.sealing((fixed, True)) as (sealed,), store.transaction() as stamp:
            if store.version(dataset) != record:
                raise _Moved
            made = _replace(store, scope, stamp, request_id, record, sealed, fixed)
            rows = int(found.rows.sum()) if found.rows is not None else 0
            _write_request(store, scope, stamp, request_id, "rectify",
                           subject_hash(store, text), "done",
                           {"version": made.ref, "rows": rows, "columns": columns})
        return Rectification(request_id, made.ref, rows, tuple(columns))

    return _settled(attempt, dataset)


# -- status ---------------------------------------------------------------------------------
def status(store: Store, request_id: str) -> RequestStatus:
    """A request's state and summary, and the artifacts an erasure flagged; the row is checked
    against its ledger entry first."""
    if not isinstance(request_id, str) or not request_id:
        raise InputError(f"a request id is text like 'dsar-…'; got {request_id!r}")
    binding.check_table_row(store.conn, store.ledger, REQUESTS, request_id)
    row = store.conn.execute(
        f"SELECT kind, subject, state, created, finished, summary FROM {REQUESTS} "  # noqa: S608
        "WHERE request_id = ?", (request_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no data subject request {request_id!r} in this workspace")
    kind, subject, state, created, finished, summary = row
    flags = tuple(Flag(request_id, k, n, a, e, None if p is None else json.loads(p))
                  for k, n, a, e, p in store.conn.execute(
                      f"SELECT kind, name, artifact, effect, privacy FROM {FLAGS} "  # noqa: S608
                      "WHERE request_id = ? ORDER BY id", (request_id,)))
    return RequestStatus(request_id, kind, subject, state, created, finished,
                         json.loads(summary), flags)
