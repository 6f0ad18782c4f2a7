"""Consent: per subject and purpose, given or withdrawn, when, from which source, under which
version of the notice; and the row filter that keeps only the subjects whose consent is in force.

**History** is append-only (``consent_events``). The subject id is personal data, so the catalog
holds only its keyed hash: HMAC-SHA256 under a key derived from the workspace's first pseudonym
key (stable across pseudonym epochs, never written down). Each recording is one ledger entry
(counts and purposes, never ids) whose ``append`` bind covers exactly the rows it added, so an
edited, deleted or inserted row fails verification.

**Filtering** needs the ids themselves. Each purpose has a snapshot in the vault: sealed Parquet
with every event of that purpose (subject id as text, given or withdrawn, ``at``, event id),
so the state at any moment can be answered, not only the latest. Every change writes a new
snapshot under a fresh data key and crypto-shreds the superseded one in the same transaction,
so an id removed by :func:`forget` does not linger in an old file. ``consent_snapshots`` points
at the current snapshot; its row is bound to the ledger and checked before every use. The
decrypted snapshot is cached per store. The filter is one hash look-up per id in Polars, and its
mask is kept with the id column it was computed for: reading the same version again under the
same consent state costs one exact comparison of that column instead.
Snapshots sit in ``vault/consent/``, apart from the dataset versions that ``veil gc``
collects; orphans of an interrupted write there are collected before the next write.

Events take effect at their ``at`` (when the subject said so), so a back-dated withdrawal
changes what a filter for a past moment keeps; nothing that already ran is undone (DP budgets
are not refunded). Subjects are compared as text: the integer 7 and the string "7" match.

The filter's cost is measured by ``python -m bench govern`` (consent section).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
import polars as pl

from veil.access.scope import Scope
from veil.errors import InputError, MalformedSourceError, NotFoundError, SchemaError
from veil.govern import purposes
from veil.keys import KeyRing
from veil.keys.ring import PSEUDONYM_KEY_ID
from veil.vault import Vault
from veil.workspace import binding
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Store, extra_schema

__all__ = ["COLUMNS", "ConsentEvent", "ConsentFilter", "ConsentReport", "filter_for", "forget",
           "history", "import_file", "record"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_events (
    id       INTEGER PRIMARY KEY,
    subject  TEXT NOT NULL,  -- HMAC-SHA256 of the subject id (hex), never the id
    purpose  TEXT NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('given', 'withdrawn')),
    at       TEXT NOT NULL,
    source   TEXT NOT NULL,
    notice   TEXT NOT NULL,
    recorded TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_by_subject ON consent_events(subject, purpose);
CREATE TABLE IF NOT EXISTS consent_snapshots (
    purpose TEXT PRIMARY KEY,
    file    TEXT NOT NULL,
    key_id  TEXT NOT NULL REFERENCES keys(key_id),
    events  INTEGER NOT NULL,
    updated TEXT NOT NULL
);
"""
EVENTS, SNAPSHOTS = "consent_events", "consent_snapshots"
extra_schema(SCHEMA)
binding.guard_table(EVENTS, "append")
binding.guard_table(SNAPSHOTS, "row")

COLUMNS = ("subject", "purpose", "state", "at", "source", "notice")  # what an event holds
STATES = ("given", "withdrawn")
_HASH_LABEL = "consent-subject"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_TEXT = "%Y-%m-%dT%H:%M:%S%.6f%:z"  # fixed width, so the text sorts as the time does
_SNAPSHOT_COLUMNS = ("subject", "given", "at", "seq")  # text, bool, UTC time, event id


@dataclass(frozen=True)
class ConsentEvent:
    """One recorded statement of a subject about one purpose."""

    subject: str
    purpose: str
    state: str
    at: str
    source: str
    notice: str
    recorded: str


@dataclass(frozen=True)
class ConsentReport:
    """What a recording did: events and distinct subjects, events per purpose, and per
    purpose how many subjects the newest versions of its datasets do not hold (kept anyway:
    consent may arrive before the data does)."""

    events: int
    subjects: int
    purposes: dict[str, int]
    unknown: dict[str, int]


class _Kept:
    """The subjects whose consent is in force under one state of a purpose, and the masks of
    the subject columns already filtered with it: reading the same version again costs one
    exact comparison of its id column (~1 ms a million rows), not another hash look-up of
    every id (~120 ms)."""

    def __init__(self, subjects: pl.Series) -> None:
        self.subjects = subjects
        self._seen: list[tuple[pl.Series, pl.Series]] = []

    def mask(self, ids: pl.Series) -> pl.Series:
        for seen, mask in self._seen:
            if seen.dtype == ids.dtype and seen.len() == ids.len() and seen.equals(ids):
                return mask
        text = ids if ids.dtype == pl.String else ids.cast(pl.String)
        mask = text.is_in(self.subjects.implode())
        self._seen = [(ids, mask), *self._seen[:1]]
        return mask


@dataclass(frozen=True, eq=False)
class ConsentFilter:
    """Keeps the rows of the subjects whose consent for ``purpose`` was in force at one moment
    (a :class:`veil.access.scope.RowFilter`)."""

    purpose: str
    state: str  # changes whenever another event takes effect for this purpose
    _kept: _Kept = field(repr=False)

    def __call__(self, frame: pl.DataFrame, subject_id: str) -> pl.DataFrame:
        return frame.filter(self._kept.mask(frame[subject_id]))


# -- the snapshot of one purpose, decrypted and cached per store ------------------------------
class _Snapshot:
    """Every event of a purpose ordered by (at, id), and who is in at a given moment."""

    def __init__(self, key_id: str, events: pl.DataFrame) -> None:
        self.key_id = key_id
        self.events = events
        self._micros = events["at"].dt.epoch("us").to_numpy()
        self._given: dict[int, _Kept] = {}

    def effective(self, at: datetime) -> int:
        """How many events took effect by ``at``."""
        micros = (at - _EPOCH) // timedelta(microseconds=1)
        return int(np.searchsorted(self._micros, micros, side="right"))

    def given(self, count: int) -> _Kept:
        """The subjects whose latest of the first ``count`` events is a "given"."""
        if count not in self._given:
            if len(self._given) >= 4:
                self._given.clear()
            latest = self.events.head(count).unique("subject", keep="last")
            self._given[count] = _Kept(latest.filter(pl.col("given"))["subject"])
        return self._given[count]


@dataclass
class _Cache:
    snapshots: dict[str, _Snapshot] = field(default_factory=dict)  # purpose -> current
    subjects: dict[str, pl.DataFrame] = field(default_factory=dict)  # version file -> ids


_CACHES: WeakKeyDictionary[Store, _Cache] = WeakKeyDictionary()


def _cache(store: Store) -> _Cache:
    return _CACHES.setdefault(store, _Cache())


def _vault(store: Store) -> Vault:
    root = store.vault.root / "consent"
    root.mkdir(mode=0o700, exist_ok=True)
    return Vault(root)


def _snapshot(store: Store, purpose: str) -> _Snapshot | None:
    """The purpose's current snapshot (None before its first event), its row checked
    against the ledger."""
    binding.check_table_row(store.conn, store.ledger, SNAPSHOTS, purpose)
    row = store.conn.execute(f"SELECT file, key_id FROM {SNAPSHOTS} WHERE purpose = ?",  # noqa: S608
                             (purpose,)).fetchone()
    if row is None:
        return None
    cached = _cache(store).snapshots.get(purpose)
    if cached is None or cached.key_id != row[1]:
        events = _vault(store).open(row[0], store.ring.data_key(row[1]), row[1])
        cached = _cache(store).snapshots[purpose] = _Snapshot(row[1], events)
    return cached


class _Rewrite:
    """Writes new snapshots inside the caller's transaction; see :func:`_rewriting`."""

    def __init__(self, store: Store, vault: Vault) -> None:
        self.store, self.vault = store, vault
        self.written: list[str] = []
        self.replaced: list[str] = []
        self.fresh: dict[str, _Snapshot] = {}

    def __call__(self, stamp: str, scope: Scope, purpose: str, events: pl.DataFrame) -> None:
        store = self.store
        old = store.conn.execute(f"SELECT file, key_id FROM {SNAPSHOTS} WHERE purpose = ?",  # noqa: S608
                                 (purpose,)).fetchone()
        events = events.sort("at", "seq")
        key_id, key = f"data-{uuid.uuid4().hex}", KeyRing.generate_data_key()
        file = self.vault.seal(events, key, key_id)
        self.written.append(file)
        store.ring.add_data_key(key_id, key, stamp)
        store.conn.execute(
            f"INSERT OR REPLACE INTO {SNAPSHOTS}(purpose, file, key_id, events, updated) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?)", (purpose, file, key_id, events.height, stamp))
        if old is not None:
            store.ring.destroy(old[1], stamp)
            self.replaced.append(old[0])
        store.log(stamp, scope, "govern.consent.snapshot", purpose, events=events.height,
                  subjects=events["subject"].n_unique(), key_id=key_id,
                  shredded=None if old is None else old[1],
                  bind=binding.bind_table_row(store.conn, SNAPSHOTS, purpose))
        self.fresh[purpose] = _Snapshot(key_id, events)


@contextmanager
def _rewriting(store: Store) -> Iterator[_Rewrite]:
    """Snapshot rewrites for one transaction opened inside this block: new files are discarded
    if it fails; after it commits the superseded files go and the WAL is folded, so no
    shredded key's bytes stay on disk."""
    vault = _vault(store)
    vault.collect(lambda: {r[0] for r in store.conn.execute(f"SELECT file FROM {SNAPSHOTS}")})  # noqa: S608
    rewrite = _Rewrite(store, vault)
    with vault.pending():
        try:
            yield rewrite
        except BaseException:
            for file in rewrite.written:
                vault.discard(file)
            raise
    for file in rewrite.replaced:
        vault.discard(file)
    _cache(store).snapshots.update(rewrite.fresh)
    store.checkpoint()


# -- reading what a caller hands in ------------------------------------------------------------
def _rows(mask: pl.Series) -> str:
    where = mask.arg_true()
    return f"row(s) {where.head(5).to_list()}{' ...' if len(where) > 5 else ''} ({len(where)})"


def _subject_text(subject: object) -> str:
    """A subject id as the text it is compared by (text, or a whole number written out)."""
    if isinstance(subject, str) or (isinstance(subject, int) and not isinstance(subject, bool)):
        return str(subject)
    raise InputError(f"a subject id is text or a whole number, not a {type(subject).__name__}")


def _times(column: pl.Series) -> pl.Series:
    """``at`` as UTC microseconds: aware datetimes, dates (midnight UTC) or ISO 8601 text."""
    dtype = column.dtype
    if dtype == pl.Date:
        return column.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            raise SchemaError("column 'at' holds times without a UTC offset; give aware times "
                              "or ISO 8601 text with an offset")
        return column.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if dtype not in (pl.String, pl.Null):
        raise SchemaError(f"column 'at' must be times, dates or ISO 8601 text, not {dtype}")
    parsed: dict[str, datetime] = {}
    for text in column.drop_nulls().unique().to_list():
        try:
            parsed[text] = purposes.instant(text)
        except InputError:
            raise SchemaError(f"column 'at' {_rows(column == text)} is not an ISO 8601 date or "
                              "a time with a UTC offset") from None
    return column.replace_strict(parsed, default=None, return_dtype=pl.Datetime("us", "UTC"))


def _cell(column: str, value: object) -> str | None:
    """One field of an event given as a mapping, as the text a file would hold."""
    if value is None:
        return None
    if column == "subject":
        return _subject_text(value)
    return value.isoformat() if isinstance(value, date) else str(value)


def _events(events: pl.DataFrame | Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Validate events into subject (text), purpose, given, at (UTC), source, notice."""
    if not isinstance(events, pl.DataFrame):
        rows = list(events)
        odd = [i for i, r in enumerate(rows)
               if not isinstance(r, Mapping) or set(r) != set(COLUMNS)]
        if odd:
            raise InputError(f"each event is a mapping with exactly the keys {list(COLUMNS)}; "
                             f"row(s) {odd[:5]} ({len(odd)}) are not")
        events = pl.DataFrame({c: [_cell(c, r[c]) for r in rows] for c in COLUMNS},
                              schema=dict.fromkeys(COLUMNS, pl.String))
    if events.height == 0:
        raise InputError("no consent events were given")
    extra = sorted(set(events.columns) - set(COLUMNS))
    missing = [c for c in COLUMNS if c not in events.columns]
    if extra or missing:
        raise SchemaError(f"consent events have the columns {list(COLUMNS)}; missing {missing}, "
                          f"unexpected {extra}")
    subject = events["subject"]
    if not (subject.dtype == pl.String or subject.dtype.is_integer() or subject.dtype == pl.Null):
        raise SchemaError(f"column 'subject' must be text or whole numbers, not {subject.dtype}")
    frame = events.select(
        pl.col("subject").cast(pl.String),
        *(pl.col(c).cast(pl.String) for c in ("purpose", "source", "notice")),
        pl.col("state").cast(pl.String).str.to_lowercase(),
        at=_times(events["at"]))
    for column in COLUMNS:
        nulls = frame[column].is_null()
        if nulls.any():
            raise SchemaError(f"column {column!r} is empty in {_rows(nulls)}")
    bad = ~frame["state"].is_in(STATES)
    if bad.any():
        raise SchemaError(f"column 'state' must be one of {list(STATES)}; {_rows(bad)} are not")
    return frame.with_columns(given=pl.col("state") == "given").drop("state")


def _subject_key(store: Store) -> bytes:
    return store.ring.derive(PSEUDONYM_KEY_ID, _HASH_LABEL)


def _hash(key: bytes, subject: str) -> str:
    return hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()


def _registered(store: Store, names: Sequence[str]) -> list[purposes.Purpose]:
    """The purposes named, each checked; every unknown one is named in a single refusal."""
    known = {p.name: p for p in purposes.all(store)}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise NotFoundError(f"consent names unregistered purpose(s) {unknown}; registered "
                            f"purposes: {sorted(known)}")
    return [known[n] for n in names]


def _known_subjects(store: Store, record: DatasetVersion) -> pl.DataFrame:
    """The distinct subject ids (text) of a version, cached per store."""
    cache = _cache(store).subjects
    if record.file not in cache:
        frame = store.open_version(record)
        cache[record.file] = frame.select(
            pl.col(record.subject_id).cast(pl.String).alias("subject")).unique()
        while len(cache) > 4:
            cache.pop(next(iter(cache)))
    return cache[record.file]


def _unknown(store: Store, purpose: purposes.Purpose, subjects: pl.Series) -> int:
    """How many of ``subjects`` the newest live versions of the purpose's datasets lack."""
    left = subjects.unique().to_frame("subject")
    for name in purpose.datasets:
        record = store.version(name)
        if record.destroyed is None and record.subject_id:  # releases hold no subject ids
            left = left.join(_known_subjects(store, record), on="subject", how="anti")
    return left.height


# -- the API ---------------------------------------------------------------------------------
def record(store: Store, scope: Scope,
           events: pl.DataFrame | Sequence[Mapping[str, Any]]) -> ConsentReport:
    """Record consent events (``subject``, ``purpose``, ``state`` given/withdrawn, ``at``,
    ``source``, ``notice``), all or none. Unknown purposes are refused; subjects the purpose's
    datasets do not hold are kept and counted in the report."""
    return _record(store, scope, _events(events), {})


def import_file(store: Store, scope: Scope, path: str | Path) -> ConsentReport:
    """Record the events in a CSV (every cell read as text, so ids keep leading zeros) or
    Parquet file; the ledger entry names the file and its SHA-256."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"no consent file at {path}")
    kind = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path.name}: give a .csv or .parquet file of consent events")
    try:
        frame = (pl.read_csv(path, infer_schema=False) if kind == "csv"
                 else pl.read_parquet(path))
    except (pl.exceptions.PolarsError, OSError) as exc:  # their messages may quote cells
        raise MalformedSourceError(f"{path.name} is not a readable {kind} file "
                                   f"({type(exc).__name__})") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return _record(store, scope, _events(frame), {"file": path.name, "sha256": digest})


def _record(store: Store, scope: Scope, frame: pl.DataFrame,
            origin: dict[str, str]) -> ConsentReport:
    names = sorted(frame["purpose"].unique().to_list())
    named = _registered(store, names)
    by_purpose = {p.name: frame.filter(pl.col("purpose") == p.name) for p in named}
    unknown = {p.name: _unknown(store, p, by_purpose[p.name]["subject"]) for p in named}
    key = _subject_key(store)
    subjects = frame["subject"].unique()
    hashed = pl.DataFrame({"subject": subjects,
                           "hash": [_hash(key, s) for s in subjects.to_list()]})
    with _rewriting(store) as rewrite, store.transaction() as now:
        first = 1 + store.conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {EVENTS}").fetchone()[0]  # noqa: S608
        frame = frame.with_columns(seq=pl.int_range(first, first + frame.height, dtype=pl.Int64))
        rows = frame.join(hashed, on="subject", how="left", maintain_order="left").select(
            "seq", "hash", "purpose",
            pl.when("given").then(pl.lit("given")).otherwise(pl.lit("withdrawn")).alias("state"),
            pl.col("at").dt.to_string(_TIME_TEXT), "source", "notice", recorded=pl.lit(now))
        store.conn.executemany(
            f"INSERT INTO {EVENTS}(id, subject, purpose, state, at, source, notice, recorded) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows.iter_rows())
        for name in names:
            current = _snapshot(store, name)
            added = frame.filter(pl.col("purpose") == name).select(_SNAPSHOT_COLUMNS)
            rewrite(now, scope, name, added if current is None
                    else pl.concat([current.events, added]))
        store.log(now, scope, "govern.consent.record", "consent", events=frame.height,
                  subjects=hashed.height, purposes={n: f.height for n, f in by_purpose.items()},
                  withdrawn=int((~frame["given"]).sum()), unknown_subjects=unknown, **origin,
                  bind=binding.bind_appended(store.conn, EVENTS, first,
                                             first + frame.height - 1))
    return ConsentReport(frame.height, hashed.height,
                         {n: f.height for n, f in by_purpose.items()}, unknown)


def filter_for(store: Store, purpose: str, *, at: datetime | date | str) -> ConsentFilter:
    """The row filter of ``purpose`` at ``at``: keeps the subjects whose latest event for it
    that had taken effect by then is a "given" (none before any consent is recorded)."""
    purposes.get(store, purpose)
    when = purposes.instant(at)
    snapshot = _snapshot(store, purpose)
    if snapshot is None:
        count, key_id, kept = 0, "none", _Kept(pl.Series("subject", [], pl.String))
    else:
        count, key_id = snapshot.effective(when), snapshot.key_id
        kept = snapshot.given(count)
    state = hashlib.sha256(f"consent|{purpose}|{key_id}|{count}".encode()).hexdigest()[:32]
    return ConsentFilter(purpose, state, kept)


def history(store: Store, scope: Scope, subject: str | int,
            purpose: str | None = None) -> list[ConsentEvent]:
    """Every recorded event of one subject (for one purpose, or all), in the order they took
    effect; the look-up is logged (counts only)."""
    if purpose is not None:
        purposes.get(store, purpose)
    text = _subject_text(subject)
    rows = store.conn.execute(
        f"SELECT purpose, state, at, source, notice, recorded FROM {EVENTS} "  # noqa: S608
        "WHERE subject = ? AND (? IS NULL OR purpose = ?) ORDER BY at, id",
        (_hash(_subject_key(store), text), purpose, purpose)).fetchall()
    with store.transaction() as now:
        store.log(now, scope, "govern.consent.history", "consent", events=len(rows),
                  purpose=purpose)
    return [ConsentEvent(text, *row) for row in rows]


def forget(store: Store, scope: Scope, subject: str | int) -> int:
    """Erasure: remove the subject from every purpose's snapshot (the superseded snapshots'
    keys are shredded); the keyed-hash history stays as the record of what was consented.
    Returns how many snapshots held the subject; logged without the id."""
    text = _subject_text(subject)
    with _rewriting(store) as rewrite, store.transaction() as now:
        changed = 0
        for (name,) in store.conn.execute(
                f"SELECT purpose FROM {SNAPSHOTS} ORDER BY purpose").fetchall():  # noqa: S608
            current = _snapshot(store, name)
            assert current is not None  # the row was just listed
            kept = current.events.filter(pl.col("subject") != text)
            if kept.height < current.events.height:
                rewrite(now, scope, name, kept)
                changed += 1
        store.log(now, scope, "govern.consent.forget", "consent", snapshots=changed)
    return changed
