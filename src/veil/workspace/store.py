"""What a workspace holds, and the plumbing every capability shares.

A :class:`Store` owns the catalog connection, the key ring, the vault and the ledger: write
transactions that commit only when the ledger still extends its anchors, audited log entries
(the actor and purpose come from a guard-made :class:`~veil.access.scope.Scope`, never from a
caller's string), sealing frames into the vault and registering them as versions, and opening a
version after checking its row against the ledger. It is not a public API: sessions
(:mod:`veil.access.session`) reach it only after the guard decided the call.

Layout of a workspace directory::

    veil.db            SQLite catalog (WAL): datasets, versions, wrapped keys, ledger, tree nodes
    vault/             one AES-256-GCM sealed Parquet file per dataset version
    ledger-head.json   the newest signed tree head, written after each commit (an anchor)
    ledger.pub         the ledger's public key (Ed25519 + ML-DSA-65, hex) for third parties

Directories are 0700 and files 0600 whatever the umask. Catalog rows that a guarantee depends on
(budgets, spends, DP settings, versions, models, policies) are bound to ledger entries
(:mod:`veil.workspace.binding`), and the signed head is anchored outside the catalog
(:mod:`veil.ledger.anchor`): hand edits and rollbacks are refused before anything is used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from veil import __version__
from veil._atomic import atomic_write
from veil.access.scope import Scope
from veil.discover.entities import Category
from veil.discover.hipaa import safe_harbor_report
from veil.discover.table import TableScan, scan_table
from veil.dp import budget as dp_budget
from veil.errors import (
    InputError,
    InvalidNameError,
    KeyDestroyedError,
    NotFoundError,
    VaultIntegrityError,
    WorkspaceBusyError,
    WorkspaceError,
)
from veil.keys import KeyRing, KeySource, MasterKey
from veil.keys.ring import SCHEMA as KEYS_SCHEMA
from veil.ledger import Ledger, Record
from veil.ledger.log import SCHEMA as LEDGER_SCHEMA
from veil.train.registry import SCHEMA as MODELS_SCHEMA
from veil.vault import Vault
from veil.workspace import binding
from veil.workspace.catalog import SCHEMA as CATALOG_SCHEMA
from veil.workspace.catalog import VERSION_COLUMNS, DatasetVersion
from veil.workspace.fingerprint import fingerprint

__all__ = ["CLASSIFY_SAMPLE", "ENV_LOCK_TIMEOUT", "ENV_WITNESS", "FORMAT", "Sealed", "Store",
           "check_name", "extra_schema", "summary"]

FORMAT = 2  # 2: guarded rows bound to the ledger; a format-1 workspace is migrated on open
ENV_WITNESS = "VEIL_WITNESS"  # witness directories for this process, os.pathsep-separated
ENV_LOCK_TIMEOUT = "VEIL_LOCK_TIMEOUT"  # seconds to queue for the write lock (default 120)
CLASSIFY_SAMPLE = 2_000  # rows the ingest-time scan reads; `veil scan --full` does every cell
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
Sealed = tuple[str, str, bytes, str, TableScan | None]  # file, key id, key, fingerprint, scan
_SCHEMAS: list[str] = []  # tables of capabilities built on the store (see extra_schema)
T = TypeVar("T")


def extra_schema(sql: str) -> None:
    """Register a capability's tables (``CREATE ... IF NOT EXISTS``): every workspace made or
    opened from now on has them, so packages add tables without the store importing them."""
    if sql not in _SCHEMAS:
        _SCHEMAS.append(sql)


def check_name(name: object, what: str) -> None:
    """Datasets, releases, models and principals share one naming rule (catalog keys)."""
    if not isinstance(name, str) or not _NAME.match(name):
        msg = (f"{what} name {name!r} is not allowed; use 1-64 letters, digits, '_', '.' or "
               "'-', starting with a letter")
        raise InvalidNameError(msg)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _lock_timeout() -> float:
    text = os.environ.get(ENV_LOCK_TIMEOUT, "120")
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise InputError(f"{ENV_LOCK_TIMEOUT} must be a number of seconds > 0; got {text!r}")
    return value


def _connect(db: Path) -> sqlite3.Connection:
    """Writers queue on SQLite's lock for up to ``VEIL_LOCK_TIMEOUT`` seconds; WAL for
    concurrent readers; FULL sync so a committed audit entry survives power loss."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=_lock_timeout())
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _begin(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``: take the write lock now, or fail with a clear error after the wait."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        raise WorkspaceBusyError(
            f"another process held the workspace's write lock for more than "
            f"{_lock_timeout():g} s; nothing was written. Try again, or wait longer by "
            f"setting {ENV_LOCK_TIMEOUT}") from None


def _private(path: Path) -> None:
    """Owner-only access to a workspace made by an older veil or under a loose umask."""
    for item in (path, path / "vault"):
        if item.is_dir():
            item.chmod(0o700)
    for item in (*path.iterdir(), *(path / "vault").iterdir()):
        with contextlib.suppress(FileNotFoundError):  # a temp file renamed meanwhile
            if item.is_file():
                item.chmod(0o600)


def _witnesses(conn: sqlite3.Connection, extra: Sequence[str | os.PathLike[str]]
               ) -> list[tuple[Path, bool]]:
    """(directory, required): the configured witnesses (their files must exist), then those
    named for this session (written on first use)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'witnesses'").fetchone()
    named = [*map(os.fspath, extra),
             *(p for p in os.environ.get(ENV_WITNESS, "").split(os.pathsep) if p)]
    return ([(Path(p).resolve(), False) for p in named]
            + [(Path(p), True) for p in (json.loads(row[0]) if row else [])])


def key_source(passphrase: str | None, key_file: str | os.PathLike[str] | None,
               master_key: MasterKey | None) -> KeySource:
    if master_key is not None:
        return KeySource(master_key=master_key)
    return KeySource.from_env(passphrase=passphrase,
                              key_file=os.fspath(key_file) if key_file else None)


def summary(scan: TableScan | None) -> dict[str, Any] | None:
    """Column names per category and the Safe Harbor identifier kinds present: no values."""
    if scan is None:
        return None
    by_category = {str(c): scan.by_category(c) for c in Category if c is not Category.OTHER}
    return by_category | {"safe_harbor": [str(i) for i in safe_harbor_report(scan).present]}


class Store:
    """A workspace's catalog, key ring, vault and ledger (see the module docstring)."""

    CATALOG = "veil.db"
    HEAD = "ledger-head.json"
    PUBLIC_KEY = "ledger.pub"

    def __init__(self, path: Path, conn: sqlite3.Connection, ring: KeyRing,
                 witnesses: Sequence[tuple[Path, bool]] = ()) -> None:
        self.path = path
        self.conn = conn
        self.ring = ring
        self.vault = Vault(path / "vault")
        self.ledger = Ledger(conn, ring, path / self.HEAD, witnesses,
                             key_file=path / self.PUBLIC_KEY)
        # decrypted versions kept for DP queries and training, with facts that skip no-op work
        self.frames: OrderedDict[str, tuple[pl.DataFrame, int | None,
                                            dict[str, tuple[float, float]]]] = OrderedDict()

    # -- lifecycle ----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, master: MasterKey,
               setup: Callable[[sqlite3.Connection], dict[str, Any]] | None = None) -> Path:
        """Make a new workspace beside ``path`` and rename it into place, so a crash never
        leaves a half-made workspace under that name. ``setup`` fills the new catalog in the
        creating transaction; what it returns joins the ``workspace.create`` entry."""
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            msg = f"{path} already exists and is not an empty directory"
            raise WorkspaceError(msg)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.creating-{uuid.uuid4().hex[:8]}")
        try:
            staging.mkdir(mode=0o700)
            (staging / "vault").mkdir(mode=0o700)
            # SQLite gives the -wal and -shm files the catalog's own mode
            os.close(os.open(staging / cls.CATALOG, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            conn = _connect(staging / cls.CATALOG)
            conn.executescript(CATALOG_SCHEMA + KEYS_SCHEMA + LEDGER_SCHEMA + dp_budget.SCHEMA
                               + MODELS_SCHEMA + "".join(_SCHEMAS))
            stamp = now()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO meta(key, value) VALUES ('format', ?)", (FORMAT,))
            ring = KeyRing.initialise(conn, master, stamp)
            ledger = Ledger(conn, ring, staging / cls.HEAD)
            extra = setup(conn) if setup is not None else {}
            ledger.append(Record("owner", "workspace.create", "workspace", "administration",
                                 {"format": FORMAT, "veil": __version__,
                                  "kdf": "argon2id" if master.kdf else "raw", **extra}),
                          now=stamp)
            conn.execute("COMMIT")
            ledger.publish_head()
            atomic_write(staging / cls.PUBLIC_KEY, ledger.key.to_bytes().hex().encode() + b"\n")
            conn.close()
            if path.exists():
                path.rmdir()
            staging.rename(path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return path

    @classmethod
    def open(cls, path: Path, source: KeySource, *, check_ledger: bool,
             witness: Sequence[str | os.PathLike[str]]) -> Store:
        db = path / cls.CATALOG
        if not db.is_file():
            msg = f"no veil workspace at {path} (create one with `veil init`)"
            raise NotFoundError(msg)
        try:
            conn = _connect(db)
        except sqlite3.DatabaseError as exc:
            msg = f"{db} is not a readable veil catalog: {exc}"
            raise WorkspaceError(msg) from None
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if row is None or int(row[0]) not in (1, FORMAT):
                msg = f"{path} has an unknown workspace format {row and row[0]!r}"
                raise WorkspaceError(msg)
            ring = KeyRing.unlock(conn, source.resolve)
            # workspaces made by an earlier veil gain tables and indexes
            conn.executescript(LEDGER_SCHEMA + dp_budget.SCHEMA + MODELS_SCHEMA
                               + "".join(_SCHEMAS))
            store = cls(path, conn, ring, _witnesses(conn, witness))
            _private(path)
            if check_ledger:
                store.ledger.check_head()
                if int(row[0]) < FORMAT:
                    store._bind_existing()
        except sqlite3.DatabaseError as exc:
            conn.close()
            msg = f"{db} is not a readable veil catalog: {exc}"
            raise WorkspaceError(msg) from None
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        self.conn.close()

    def format(self) -> int:
        return int(self.conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()[0])

    def _bind_existing(self) -> None:
        """Migrate a format-1 workspace: bind its guarded rows as they are (trust on first use,
        logged as ``catalog.bind`` entries with ``adopted``)."""
        with self.transaction() as stamp:
            self.ledger.append_many(binding.adopt(self.conn), now=stamp)
            self.conn.execute("UPDATE meta SET value = ? WHERE key = 'format'", (FORMAT,))

    # -- transactions and the ledger ---------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[str]:
        """One write transaction (``BEGIN IMMEDIATE``: concurrent writers queue, never interleave).
        It commits only if the ledger still extends every anchored head; the head is published
        to the anchors only after the commit succeeds. Yields the transaction's timestamp."""
        _begin(self.conn)
        try:
            yield now()
            self.ledger.check_anchors()
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        try:
            self.ledger.publish_head()
        except OSError as exc:  # committed already; a stale head file only weakens, never breaks
            warnings.warn(f"could not publish the ledger head: {exc}", stacklevel=3)

    def log(self, stamp: str, scope: Scope, action: str, resource: str, **params: Any) -> None:
        """Append one entry for ``scope``'s principal and purpose, inside a transaction."""
        self.ledger.append(Record(scope.principal, action, resource, scope.purpose, params),
                           now=stamp)

    def checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it, so erased key bytes leave the WAL."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- datasets and versions ---------------------------------------------------------------
    def dataset_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM datasets ORDER BY name")]

    def versions(self, name: str) -> list[DatasetVersion]:
        rows = self.conn.execute(
            f"SELECT {VERSION_COLUMNS} FROM versions v JOIN datasets d USING (dataset_id) "  # noqa: S608
            "WHERE d.name = ? ORDER BY v.version",
            (name,),
        ).fetchall()
        if not rows:
            msg = f"dataset {name!r} does not exist; known datasets: {self.dataset_names()}"
            raise NotFoundError(msg)
        return [DatasetVersion.from_row(r) for r in rows]

    def version(self, name: str, version: int | None = None) -> DatasetVersion:
        """A version's record; the newest one when ``version`` is None."""
        known = self.versions(name)
        if version is None:
            return known[-1]
        for v in known:
            if v.version == version:
                return v
        msg = f"dataset {name!r} has no version {version}; versions are 1..{known[-1].version}"
        raise NotFoundError(msg)

    @contextmanager
    def sealing(self, *frames: tuple[pl.DataFrame, bool]) -> Iterator[list[Sealed]]:
        """Seal ``(frame, classify)`` pairs for the caller to register in a transaction inside
        this block. The vault's pending lock is held throughout (``gc`` waits), and on any
        failure the sealed files are discarded."""
        sealed: list[Sealed] = []
        with self.vault.pending():
            try:
                for frame, classify in frames:
                    sealed.append(self._seal(frame, classify=classify))
                yield sealed
            except BaseException:
                for part in sealed:
                    self.vault.discard(part[0])
                raise

    def _seal(self, frame: pl.DataFrame, *, classify: bool) -> Sealed:
        """Encrypt ``frame`` under a fresh data key while fingerprinting (and classifying) it:
        (vault file, key id, key, fingerprint, scan). Nothing is registered yet."""
        key_id = f"data-{uuid.uuid4().hex}"
        key = KeyRing.generate_data_key()
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending = pool.submit(fingerprint, frame)
            scanning = pool.submit(scan_table, frame, sample=CLASSIFY_SAMPLE) if classify else None
            file = self.vault.seal(frame, key, key_id)
        try:
            return file, key_id, key, pending.result(), scanning.result() if scanning else None
        except BaseException:
            self.vault.discard(file)
            raise

    def add_version(self, name: str, sealed: Sealed, frame: pl.DataFrame, subject_id: str,
                    provenance: dict[str, Any], stamp: str) -> int:
        """Register a sealed frame as the next version of ``name``; inside a transaction."""
        file, key_id, key, digest, scan = sealed
        self.ring.add_data_key(key_id, key, stamp)
        row = self.conn.execute("SELECT dataset_id FROM datasets WHERE name = ?",
                                (name,)).fetchone()
        dataset_id = row[0] if row else self.conn.execute(
            "INSERT INTO datasets(name, created) VALUES (?, ?)", (name, stamp)).lastrowid
        version = 1 + self.conn.execute(
            "SELECT COALESCE(MAX(version), 0) FROM versions WHERE dataset_id = ?", (dataset_id,),
        ).fetchone()[0]
        schema = {c: str(t) for c, t in frame.schema.items()}
        self.conn.execute(
            "INSERT INTO versions(dataset_id, version, file, key_id, schema, rows, subject_id, "
            "fingerprint, provenance, classification, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (dataset_id, version, file, key_id, json.dumps(schema), frame.height, subject_id,
             digest, json.dumps(provenance), json.dumps(scan.to_dict()) if scan else None, stamp),
        )
        return version

    def open_version(self, record: DatasetVersion) -> pl.DataFrame:
        """Check a version's row against its ledger registration, decrypt it and re-check its
        fingerprint; the caller logs the use."""
        return self.open_then(record, lambda frame: frame)

    def open_then(self, record: DatasetVersion, then: Callable[[pl.DataFrame], T]) -> T:
        """:meth:`open_version`, with ``then`` (a row filter) run on the decrypted frame while
        its fingerprint is recomputed (both release the GIL); its result is returned only once
        the fingerprint matched."""
        if record.destroyed:
            msg = f"{record.ref} was crypto-shredded on {record.destroyed}; it cannot be read"
            raise KeyDestroyedError(msg)
        binding.check_row(self.conn, self.ledger, "version", record.dataset, record.version)
        frame = self.vault.open(record.file, self.ring.data_key(record.key_id), record.key_id)
        with ThreadPoolExecutor(max_workers=1) as pool:
            digest = pool.submit(fingerprint, frame)
            result = then(frame)
            if digest.result() != record.fingerprint:
                msg = f"{record.ref} does not match its recorded fingerprint"
                raise VaultIntegrityError(msg)
        return result

    def open_columns(self, record: DatasetVersion, columns: Sequence[str]) -> pl.DataFrame:
        """Some columns of a version, to search it (a data-subject request): its row is
        checked against the ledger and AES-GCM authenticates every byte of the file, but the
        whole-frame fingerprint is not recomputed (the caller logs the use)."""
        if record.destroyed:
            msg = f"{record.ref} was crypto-shredded on {record.destroyed}; it cannot be read"
            raise KeyDestroyedError(msg)
        binding.check_row(self.conn, self.ledger, "version", record.dataset, record.version)
        return self.vault.open(record.file, self.ring.data_key(record.key_id), record.key_id,
                               columns)

    def cached(self, record: DatasetVersion) -> tuple[
            pl.DataFrame, int | None, dict[str, tuple[float, float]]]:
        """A version decrypted once per session for DP work (re-checked against its ledger
        registration and fingerprint), with its largest rows-per-person count and numeric
        ranges; short vocabularies (clinics, sexes) held as categories (grouping ~2x faster)."""
        if record.file in self.frames:
            self.frames.move_to_end(record.file)
            return self.frames[record.file]
        frame = self.open_version(record)
        most = (int(frame[record.subject_id].value_counts()["count"].max())  # type: ignore[arg-type]
                if record.subject_id in frame.columns and frame.height else None)
        sample = frame.head(10_000)
        frame = frame.with_columns(pl.col(c).cast(pl.Categorical) for c, t in frame.schema.items()
                                   if t == pl.String and c != record.subject_id
                                   and sample[c].n_unique() <= 256)
        numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
        extremes = frame.select([pl.col(c).min().alias(f"lo_{c}") for c in numeric]
                                + [pl.col(c).max().alias(f"hi_{c}") for c in numeric])
        ranges = {c: (float(extremes[f"lo_{c}"][0]), float(extremes[f"hi_{c}"][0]))
                  for c in numeric if extremes[f"lo_{c}"][0] is not None}
        self.frames[record.file] = (frame, most, ranges)
        while len(self.frames) > 2:
            self.frames.popitem(last=False)
        return self.frames[record.file]
