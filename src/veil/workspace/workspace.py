"""``Workspace``: the one door to personal data. Every operation names an actor and a purpose,
and every operation that touches data appends a signed ledger entry in the same transaction.

Layout of a workspace directory::

    veil.db            SQLite catalog (WAL): datasets, versions, wrapped keys, ledger, tree nodes
    vault/             one AES-256-GCM sealed Parquet file per dataset version
    ledger-head.json   the newest signed tree head, written after each commit (an anchor)
    ledger.pub         the ledger's Ed25519 public key (raw, hex) for third-party verification

Directories are 0700 and files 0600 whatever the umask. Catalog rows that a guarantee depends on
(budgets, spends, DP settings, versions, models) are bound to ledger entries
(:mod:`veil.workspace.binding`), and the signed head is anchored outside the catalog
(:mod:`veil.ledger.anchor`): hand edits and rollbacks are refused before anything is used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import sqlite3
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from veil import __version__
from veil._atomic import atomic_write
from veil.anonymize.plan import plan_release
from veil.anonymize.release import Release, anonymize, check_request
from veil.anonymize.safe_harbor import safe_harbor
from veil.anonymize.tokens import assign_codes, lookup, token_domains, tokenize
from veil.discover.entities import Category
from veil.discover.hipaa import safe_harbor_report
from veil.discover.redact import Pseudonymizer
from veil.discover.table import TableScan, scan_table
from veil.dp import budget as dp_budget
from veil.dp.execute import Cost, DPResult, Settings, cost, run
from veil.dp.query import Query
from veil.dp.sql import parse as parse_sql
from veil.errors import (
    BoundStateError,
    InputError,
    InvalidNameError,
    KeyDestroyedError,
    NotFoundError,
    SchemaError,
    VaultIntegrityError,
    WorkspaceBusyError,
    WorkspaceError,
)
from veil.keys import KeyRing, KeySource, MasterKey
from veil.keys import tls as tls_certs
from veil.keys.ring import SCHEMA as KEYS_SCHEMA
from veil.keys.ring import pseudonym_key_id
from veil.ledger import Ledger, Record, SignedTreeHead, Verification
from veil.ledger.log import SCHEMA as LEDGER_SCHEMA
from veil.train.features import Encoding, encoding_for
from veil.train.registry import SCHEMA as MODELS_SCHEMA
from veil.train.registry import card as model_card
from veil.vault import Vault
from veil.workspace import binding, sources
from veil.workspace.catalog import SCHEMA as CATALOG_SCHEMA
from veil.workspace.catalog import VERSION_COLUMNS, DatasetVersion
from veil.workspace.fingerprint import fingerprint

if TYPE_CHECKING:
    from veil.train.model import Model

DEFAULT_ACTOR = "local"
DEFAULT_PURPOSE = "operations"
FORMAT = 2  # 2: guarded rows bound to the ledger; a format-1 workspace is migrated on open
ENV_WITNESS = "VEIL_WITNESS"  # witness directories for this process, os.pathsep-separated
ENV_LOCK_TIMEOUT = "VEIL_LOCK_TIMEOUT"  # seconds to queue for the write lock (default 120)
CLASSIFY_SAMPLE = 2_000  # rows the ingest-time scan reads; `veil scan --full` does every cell
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
Sealed = tuple[str, str, bytes, str, TableScan | None]  # file, key id, key, fingerprint, scan


def _check_name(name: object, what: str) -> None:
    """Datasets, releases and models share one naming rule (they become catalog keys)."""
    if not isinstance(name, str) or not _NAME.match(name):
        msg = (f"{what} name {name!r} is not allowed; use 1-64 letters, digits, '_', '.' or "
               "'-', starting with a letter")
        raise InvalidNameError(msg)


def _now() -> str:
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
    """Writers queue on SQLite's lock for up to ``VEIL_LOCK_TIMEOUT`` seconds."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=_lock_timeout())
    try:
        _configure(conn)
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
        if item.is_file():
            item.chmod(0o600)


def _configure(conn: sqlite3.Connection) -> None:
    """WAL for concurrent readers; FULL sync so a committed audit entry survives power loss."""
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


class Workspace:
    """A directory holding personal data encrypted at rest, its catalog and its audit ledger.

    Open one with :meth:`create` or :meth:`open`; the master key comes from ``passphrase``,
    ``key_file`` or ``master_key``, or else from ``VEIL_MASTER_KEY`` / ``VEIL_PASSPHRASE``.
    """

    CATALOG = "veil.db"
    HEAD = "ledger-head.json"
    PUBLIC_KEY = "ledger.pub"

    def __init__(self, path: Path, conn: sqlite3.Connection, ring: KeyRing,
                 witnesses: Sequence[tuple[Path, bool]] = ()) -> None:
        self.path = path
        self._conn = conn
        self._ring = ring
        self._vault = Vault(path / "vault")
        self.ledger = Ledger(conn, ring.signing_key(), path / self.HEAD, witnesses)
        # decrypted versions kept for DP queries, with facts used to skip no-op work
        self._frames: OrderedDict[str, tuple[pl.DataFrame, int | None,
                                             dict[str, tuple[float, float]]]] = OrderedDict()

    # -- lifecycle ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        passphrase: str | None = None,
        key_file: str | os.PathLike[str] | None = None,
        master_key: MasterKey | None = None,
        actor: str = DEFAULT_ACTOR,
        purpose: str = "administration",
    ) -> Workspace:
        """Make a new workspace. It is built beside ``path`` and renamed into place, so a crash
        never leaves a half-made workspace under that name."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            msg = f"{path} already exists and is not an empty directory"
            raise WorkspaceError(msg)
        source = _key_source(passphrase, key_file, master_key)
        master = source.resolve(None)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.creating-{uuid.uuid4().hex[:8]}")
        try:
            staging.mkdir(mode=0o700)
            (staging / "vault").mkdir(mode=0o700)
            # SQLite gives the -wal and -shm files the catalog's own mode
            os.close(os.open(staging / cls.CATALOG, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            conn = _connect(staging / cls.CATALOG)
            conn.executescript(CATALOG_SCHEMA + KEYS_SCHEMA + LEDGER_SCHEMA + dp_budget.SCHEMA
                               + MODELS_SCHEMA)
            now = _now()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO meta(key, value) VALUES ('format', ?)", (FORMAT,))
            ring = KeyRing.initialise(conn, master, now)
            ledger = Ledger(conn, ring.signing_key(), staging / cls.HEAD)
            ledger.append(Record(actor, "workspace.create", "workspace", purpose,
                                 {"format": FORMAT, "veil": __version__,
                                  "kdf": "argon2id" if master.kdf else "raw"}), now=now)
            conn.execute("COMMIT")
            ledger.publish_head()
            atomic_write(staging / cls.PUBLIC_KEY, ledger.public_key.hex().encode() + b"\n")
            conn.close()
            if path.exists():
                path.rmdir()
            staging.rename(path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls.open(path, master_key=master)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        passphrase: str | None = None,
        key_file: str | os.PathLike[str] | None = None,
        master_key: MasterKey | None = None,
        check_ledger: bool = True,
        witness: Sequence[str | os.PathLike[str]] = (),
    ) -> Workspace:
        """Open and unlock a workspace.

        ``check_ledger`` (on by default) refuses a workspace whose signed ledger head does not
        match its entries or whose catalog is behind an anchored head (rolled back); turn it
        off only to audit or recover one. ``witness`` (and ``VEIL_WITNESS``) name witness
        directories to check and publish to in this session besides the configured ones
        (:meth:`add_witness`): naming one from outside guards against a catalog rolled back to
        before the witness was configured."""
        path = Path(path)
        db = path / cls.CATALOG
        if not db.is_file():
            msg = f"no veil workspace at {path} (create one with `veil init`)"
            raise NotFoundError(msg)
        conn = sqlite3.connect(db, isolation_level=None, timeout=_lock_timeout())
        try:
            _configure(conn)
            row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if row is None or int(row[0]) not in (1, FORMAT):
                msg = f"{path} has an unknown workspace format {row and row[0]!r}"
                raise WorkspaceError(msg)
            ring = KeyRing.unlock(conn, _key_source(passphrase, key_file, master_key).resolve)
            # workspaces made by an earlier veil gain tables and indexes
            conn.executescript(LEDGER_SCHEMA + dp_budget.SCHEMA + MODELS_SCHEMA)
            workspace = cls(path, conn, ring, _witnesses(conn, witness))
            _private(path)
            if check_ledger:
                workspace.ledger.check_head()
                if int(row[0]) < FORMAT:
                    workspace._bind_existing()
        except sqlite3.DatabaseError as exc:
            conn.close()
            msg = f"{db} is not a readable veil catalog: {exc}"
            raise WorkspaceError(msg) from None
        except BaseException:
            conn.close()
            raise
        return workspace

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _bind_existing(self) -> None:
        """Migrate a format-1 workspace: bind its guarded rows as they are (trust on first use,
        logged as ``catalog.bind`` entries with ``adopted``)."""
        with self._transaction() as now:
            self.ledger.append_many(binding.adopt(self._conn), now=now)
            self._conn.execute("UPDATE meta SET value = ? WHERE key = 'format'", (FORMAT,))

    @contextmanager
    def _transaction(self) -> Iterator[str]:
        """One write transaction (``BEGIN IMMEDIATE``: concurrent writers queue, never interleave).
        It commits only if the ledger still extends every anchored head; the head is published
        to the anchors only after the commit succeeds."""
        _begin(self._conn)
        try:
            yield _now()
            self.ledger.check_anchors()
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        try:
            self.ledger.publish_head()
        except OSError as exc:  # committed already; a stale head file only weakens, never breaks
            warnings.warn(f"could not publish the ledger head: {exc}", stacklevel=3)

    def _log(self, now: str, actor: str, action: str, resource: str, purpose: str,
             **params: Any) -> None:
        self.ledger.append(Record(actor, action, resource, purpose, params), now=now)

    # -- datasets -----------------------------------------------------------------------------
    def ingest(
        self,
        source: sources.Source,
        name: str,
        *,
        subject_id: str,
        actor: str = DEFAULT_ACTOR,
        purpose: str = DEFAULT_PURPOSE,
        format: str | None = None,
        schema_overrides: Mapping[str, pl.DataType] | None = None,
        classify: bool = True,
    ) -> DatasetVersion:
        """Validate, fingerprint, encrypt and register ``source`` as the next version of ``name``.

        With ``classify`` (the default) a sampled :func:`veil.discover.scan_table` runs too; its
        findings are stored with the version and summarised in the ledger entry.

        Everything is checked before anything is written; the vault file is written atomically
        before the catalog transaction, so a crash leaves at worst an unreferenced sealed file.
        """
        _check_name(name, "dataset")
        frame, provenance = sources.load(source, format=format, schema_overrides=schema_overrides,
                                         subject_id=subject_id)
        sources.check_subject_id(frame, subject_id, provenance.get("file", provenance["source"]))
        with self._sealing((frame, classify)) as (sealed,), self._transaction() as now:
            provenance |= {"veil": __version__, "actor": actor, "purpose": purpose}
            version = self._add_version(name, sealed, frame, subject_id, provenance, now)
            self._log(now, actor, "dataset.ingest", f"{name}@{version}", purpose,
                      rows=frame.height, columns=frame.width, subject_id=subject_id,
                      fingerprint=sealed[3], key_id=sealed[1], source=provenance,
                      classification=_summary(sealed[4]),
                      bind=binding.bind_version(self._conn, name, version))
        return self.version(name, version)

    def _dataset_id(self, name: str, *, create_at: str) -> int:
        row = self._conn.execute("SELECT dataset_id FROM datasets WHERE name = ?",
                                 (name,)).fetchone()
        if row:
            return row[0]
        cursor = self._conn.execute("INSERT INTO datasets(name, created) VALUES (?, ?)",
                                    (name, create_at))
        return cursor.lastrowid  # type: ignore[return-value]

    def versions(self, name: str) -> list[DatasetVersion]:
        rows = self._conn.execute(
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

    def dataset_names(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM datasets ORDER BY name")]

    def datasets(self) -> list[DatasetVersion]:
        """The newest version of every dataset."""
        return [self.version(name) for name in self.dataset_names()]

    def read(
        self,
        name: str,
        version: int | None = None,
        columns: Sequence[str] | None = None,
        *,
        actor: str = DEFAULT_ACTOR,
        purpose: str = DEFAULT_PURPOSE,
    ) -> pl.DataFrame:
        """Decrypt a version, re-check its fingerprint, log the access and return the frame."""
        record = self.version(name, version)
        wanted = list(columns) if columns is not None else list(record.schema)
        missing = [c for c in wanted if c not in record.schema]
        if missing:
            msg = f"{record.ref} has no column(s) {missing}; columns are {list(record.schema)}"
            raise SchemaError(msg)
        frame = self._open(record)
        with self._transaction() as now:
            self._log(now, actor, "dataset.read", record.ref, purpose, columns=wanted,
                      fingerprint=record.fingerprint)
        return frame.select(wanted)

    def destroy(self, name: str, version: int, *, actor: str = DEFAULT_ACTOR,
                purpose: str = DEFAULT_PURPOSE) -> DatasetVersion:
        """Crypto-shred one version: its data key is erased, so its sealed bytes are noise."""
        record = self.version(name, version)
        with self._transaction() as now:
            self._ring.destroy(record.key_id, now)
            self._conn.execute(
                "UPDATE versions SET destroyed = ? WHERE file = ?", (now, record.file)
            )
            self._log(now, actor, "dataset.destroy", record.ref, purpose, key_id=record.key_id,
                      fingerprint=record.fingerprint,
                      bind=binding.bind_destroy(record.dataset, record.version))
        self._vault.discard(record.file)
        self._checkpoint()
        return self.version(name, version)

    # -- pseudonymized and Safe Harbor releases ----------------------------------------------
    def pseudonymize(
        self,
        name: str,
        columns: Sequence[str],
        *,
        version: int | None = None,
        reversible: bool = False,
        output: str | None = None,
        domains: Mapping[str, str] | None = None,
        epoch: int | None = None,
        actor: str = DEFAULT_ACTOR,
        purpose: str = DEFAULT_PURPOSE,
    ) -> DatasetVersion:
        """Store a copy of ``name`` with ``columns`` replaced by keyed tokens as dataset
        ``output`` (default ``{name}.pseudonymized``); see :mod:`veil.anonymize.tokens`.

        Tokens use the pseudonym key of ``epoch`` (default: the current one; an older epoch
        links new data to an old release). With ``reversible`` the token -> value map is sealed
        in the vault as dataset ``{output}.tokens`` in the same transaction, for
        :meth:`reidentify`; crypto-shredding that map version makes the release irreversible.
        """
        record = self.version(name, version)
        target = f"{name}.pseudonymized" if output is None else output
        self._check_release_names(record, target, with_map=reversible)
        token_domains(columns, list(record.schema), domains)  # refuse before reading anything
        epoch = self._ring.pseudonym_epoch() if epoch is None else epoch
        pseudonymizer = Pseudonymizer(self._ring.pseudonym_key(epoch))
        frame = self.read(name, record.version, actor=actor, purpose=purpose)
        done = tokenize(frame, columns, pseudonymizer, domains=domains)
        provenance = {"source": "pseudonymize", "from": record.ref, "columns": list(done.domains),
                      "domains": done.domains, "pseudonym_key": pseudonym_key_id(epoch),
                      "epoch": epoch, "reversible": bool(reversible)}
        return self._store_release(done.frame, target, record.subject_id, provenance,
                                   "dataset.pseudonymize", done.token_map if reversible else None,
                                   actor=actor, purpose=purpose)

    def safe_harbor(
        self,
        name: str,
        *,
        version: int | None = None,
        output: str | None = None,
        reference_year: int | None = None,
        actor: str = DEFAULT_ACTOR,
        purpose: str = DEFAULT_PURPOSE,
    ) -> DatasetVersion:
        """Store the HIPAA Safe Harbor release of ``name`` as dataset ``output`` (default
        ``{name}.safe_harbor``); see :func:`veil.anonymize.safe_harbor.safe_harbor`.

        The subject-id column always becomes random codes, the re-identification code 45 CFR
        164.514(c) allows (not derived from the person); the code -> subject map is sealed as
        ``{output}.tokens`` in the same transaction, so :meth:`reidentify` and erasure can
        still reach a subject. Every other column gets the transform.
        """
        record = self.version(name, version)
        target = f"{name}.safe_harbor" if output is None else output
        self._check_release_names(record, target, with_map=True)
        frame = self.read(name, record.version, actor=actor, purpose=purpose)
        codes = assign_codes(frame, record.subject_id)
        release = safe_harbor(frame.drop(record.subject_id), reference_year=reference_year)
        result = release.frame.insert_column(0, codes.frame[record.subject_id])
        provenance = {"source": "safe_harbor", "from": record.ref,
                      "subject_codes": record.subject_id} | release.to_dict()
        return self._store_release(result, target, record.subject_id, provenance,
                                   "dataset.safe_harbor", codes.token_map, actor=actor,
                                   purpose=purpose)

    def anonymize(
        self,
        name: str,
        quasi_identifiers: Sequence[str] | None = None,
        sensitive: Sequence[str] | None = None,
        *,
        version: int | None = None,
        keep: Sequence[str] | None = None,
        output: str | None = None,
        actor: str = DEFAULT_ACTOR,
        purpose: str = DEFAULT_PURPOSE,
        **settings: Any,
    ) -> tuple[Release, DatasetVersion]:
        """Store a release of ``name`` that meets k-anonymity, l-diversity and/or t-closeness
        as dataset ``output`` (default ``{name}.anonymized``). ``settings`` are those of
        :func:`veil.anonymize.anonymize` (``k``, ``l``, ``t``, ``hierarchies``,
        ``suppression_limit``, ``algorithm``, ``metric``...).

        Quasi-identifiers and sensitive attributes default to the discovery classification's;
        direct identifiers, the subject id and unclassified columns are left out (see
        :mod:`veil.anonymize.plan`), unless ``keep`` names what to release unchanged. The
        release carries no subject ids. Its models, levels, utility and risk before and after
        go into its provenance and the ledger entry.
        """
        record = self.version(name, version)
        target = f"{name}.anonymized" if output is None else output
        self._check_release_names(record, target, with_map=False)
        plan = plan_release(list(record.schema), record.classification, record.subject_id,
                            quasi_identifiers=quasi_identifiers, sensitive=sensitive, keep=keep)
        check_request(plan.columns, record.rows, plan.sensitive, settings)  # before any read
        frame = self.read(name, record.version, plan.columns, actor=actor, purpose=purpose)
        release = anonymize(frame, plan.quasi_identifiers, plan.sensitive,
                            entities=plan.entities, **settings)
        provenance = {"source": "anonymize", "from": record.ref, "dropped": list(plan.dropped),
                      "kept": list(plan.kept)} | release.to_dict()
        stored = self._store_release(release.frame, target, "", provenance, "dataset.anonymize",
                                     None, actor=actor, purpose=purpose)
        return release, stored

    def reidentify(
        self,
        name: str,
        tokens: Sequence[str],
        *,
        version: int | None = None,
        actor: str = DEFAULT_ACTOR,
        purpose: str = DEFAULT_PURPOSE,
    ) -> dict[str, str]:
        """The original values behind ``tokens`` of a reversible release (newest version unless
        ``version``). Needs a stated ``purpose``; logs how many tokens, never the values."""
        if not isinstance(purpose, str) or not purpose.strip() or purpose == DEFAULT_PURPOSE:
            msg = (f"re-identification needs a stated purpose, not {purpose!r}: say why, e.g. "
                   "purpose='adverse event follow-up, case 42'")
            raise InputError(msg)
        record = self.version(name, version)
        link = record.provenance.get("tokens")
        if link is None:
            why = ("was made without reversible=True, so no token map was kept"
                   if record.provenance.get("source") == "pseudonymize"
                   else "is not a reversible pseudonymized release")
            msg = f"{record.ref} {why}; its tokens cannot be re-identified"
            raise InputError(msg)
        mapping = self.version(link["dataset"], link["version"])
        found = lookup(self._open(mapping), tokens)
        with self._transaction() as now:
            self._log(now, actor, "pseudonym.reidentify", record.ref, purpose, tokens=len(found),
                      token_map=mapping.ref)
        return found

    def _check_release_names(self, source: DatasetVersion, target: str, *,
                             with_map: bool) -> None:
        """A release goes to a new name, and its token map only where a token map lives."""
        names = [target, f"{target}.tokens"] if with_map else [target]
        for name in names:
            _check_name(name, "release")
        if target == source.dataset:
            msg = f"a release of {source.dataset!r} needs another name; pass output="
            raise InvalidNameError(msg)
        known = set(self.dataset_names())
        for name, want_map in zip(names, (False, True), strict=False):
            if name not in known:
                continue
            is_map = self.version(name).provenance.get("source") == "token-map"
            if is_map != want_map:
                msg = (f"dataset {name!r} already exists and is "
                       f"{'a token map' if is_map else 'not a token map'}; choose another output")
                raise InvalidNameError(msg)

    def _store_release(
        self, frame: pl.DataFrame, target: str, subject_id: str, provenance: dict[str, Any],
        action: str, token_map: pl.DataFrame | None, *, actor: str, purpose: str,
    ) -> DatasetVersion:
        """Seal a derived frame (and its token map), then register both with their ledger
        entries in one transaction; on failure the sealed files are discarded."""
        parts = [(frame, True)] + ([] if token_map is None else [(token_map, False)])
        with self._sealing(*parts) as sealed, self._transaction() as now:
            base = {"veil": __version__, "actor": actor, "purpose": purpose}
            if token_map is not None:
                map_name = f"{target}.tokens"
                map_version = self._add_version(
                    map_name, sealed[1], token_map, "token",
                    base | {"source": "token-map", "for": target, "from": provenance["from"]},
                    now)
                provenance = provenance | {"tokens": {"dataset": map_name,
                                                      "version": map_version}}
                self._log(now, actor, "pseudonym.map", f"{map_name}@{map_version}", purpose,
                          rows=token_map.height, fingerprint=sealed[1][3],
                          key_id=sealed[1][1], release=target,
                          bind=binding.bind_version(self._conn, map_name, map_version))
            version = self._add_version(target, sealed[0], frame, subject_id,
                                        provenance | base, now)
            self._log(now, actor, action, f"{target}@{version}", purpose, rows=frame.height,
                      columns=frame.width, subject_id=subject_id, fingerprint=sealed[0][3],
                      key_id=sealed[0][1], source=provenance,
                      classification=_summary(sealed[0][4]),
                      bind=binding.bind_version(self._conn, target, version))
        return self.version(target, version)

    @contextmanager
    def _sealing(self, *frames: tuple[pl.DataFrame, bool]) -> Iterator[list[Sealed]]:
        """Seal ``(frame, classify)`` pairs for the caller to register in a transaction inside
        this block. The vault's pending lock is held throughout (``gc`` waits), and on any
        failure the sealed files are discarded."""
        sealed: list[Sealed] = []
        with self._vault.pending():
            try:
                for frame, classify in frames:
                    sealed.append(self._seal(frame, classify=classify))
                yield sealed
            except BaseException:
                for part in sealed:
                    self._vault.discard(part[0])
                raise

    def _seal(self, frame: pl.DataFrame, *, classify: bool) -> Sealed:
        """Encrypt ``frame`` under a fresh data key while fingerprinting (and classifying) it:
        (vault file, key id, key, fingerprint, scan). Nothing is registered yet."""
        key_id = f"data-{uuid.uuid4().hex}"
        key = KeyRing.generate_data_key()
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending = pool.submit(fingerprint, frame)
            scanning = pool.submit(scan_table, frame, sample=CLASSIFY_SAMPLE) if classify else None
            file = self._vault.seal(frame, key, key_id)
        try:
            return file, key_id, key, pending.result(), scanning.result() if scanning else None
        except BaseException:
            self._vault.discard(file)
            raise

    def _add_version(self, name: str, sealed: Sealed, frame: pl.DataFrame, subject_id: str,
                     provenance: dict[str, Any], now: str) -> int:
        """Register a sealed frame as the next version of ``name``; inside a transaction."""
        file, key_id, key, digest, scan = sealed
        self._ring.add_data_key(key_id, key, now)
        dataset_id = self._dataset_id(name, create_at=now)
        version = 1 + self._conn.execute(
            "SELECT COALESCE(MAX(version), 0) FROM versions WHERE dataset_id = ?", (dataset_id,),
        ).fetchone()[0]
        schema = {c: str(t) for c, t in frame.schema.items()}
        self._conn.execute(
            "INSERT INTO versions(dataset_id, version, file, key_id, schema, rows, subject_id, "
            "fingerprint, provenance, classification, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (dataset_id, version, file, key_id, json.dumps(schema), frame.height, subject_id,
             digest, json.dumps(provenance), json.dumps(scan.to_dict()) if scan else None, now),
        )
        return version

    def _open(self, record: DatasetVersion) -> pl.DataFrame:
        """Check a version's row against its ledger registration, decrypt it and re-check its
        fingerprint; the caller logs the use."""
        if record.destroyed:
            msg = f"{record.ref} was crypto-shredded on {record.destroyed}; it cannot be read"
            raise KeyDestroyedError(msg)
        binding.check_row(self._conn, self.ledger, "version", record.dataset, record.version)
        frame = self._vault.open(record.file, self._ring.data_key(record.key_id), record.key_id)
        if fingerprint(frame) != record.fingerprint:
            msg = f"{record.ref} does not match its recorded fingerprint"
            raise VaultIntegrityError(msg)
        return frame

    # -- differentially private queries -----------------------------------------------------
    def dp_settings(
        self,
        name: str,
        *,
        bounds: Mapping[str, tuple[float, float]] | None = None,
        public_keys: Mapping[str, Sequence[Any]] | None = None,
        max_rows_per_person: int | None = None,
        actor: str = DEFAULT_ACTOR,
        purpose: str = "administration",
    ) -> Settings:
        """A dataset's DP settings; with arguments, update them (merged, logged): value
        bounds (values are clamped to them), public grouping keys, and the most rows one
        person may contribute (more are dropped at random)."""
        record = self.version(name)
        row = self._conn.execute("SELECT settings FROM dp_settings WHERE dataset = ?",
                                 (name,)).fetchone()
        current = Settings.from_dict(json.loads(row[0])) if row else Settings()
        if bounds is None and public_keys is None and max_rows_per_person is None:
            return current
        unknown = sorted((set(bounds or {}) | set(public_keys or {})) - set(record.schema))
        if unknown:
            raise InputError(f"unknown column(s) {unknown} in dataset {name!r}")
        new_bounds = {c: (float(b[0]), float(b[1])) for c, b in (bounds or {}).items()}
        updated = Settings(
            {**current.bounds, **new_bounds},
            {**current.public_keys, **{c: tuple(k) for c, k in (public_keys or {}).items()}},
            current.max_rows_per_person if max_rows_per_person is None else max_rows_per_person)
        updated.check(record.schema)
        with self._transaction() as now:
            self._conn.execute(
                "INSERT INTO dp_settings(dataset, settings, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(dataset) DO UPDATE SET settings = excluded.settings, "
                "updated = excluded.updated", (name, json.dumps(updated.to_dict()), now))
            self._log(now, actor, "dp.settings", name, purpose, **updated.to_dict(),
                      bind=binding.bind_settings(self._conn, name))
        return updated

    def set_budget(
        self,
        name: str,
        *,
        epsilon: float | None = None,
        delta: float | None = None,
        rho: float | None = None,
        principal: str | None = None,
        actor: str = DEFAULT_ACTOR,
        purpose: str = "administration",
    ) -> dp_budget.Remaining:
        """Set the privacy budget of a dataset (or of one principal on it): (epsilon, delta)
        or zCDP rho; see :mod:`veil.dp.budget`."""
        self.version(name)
        who = dp_budget.ALL if principal is None else principal
        with self._transaction() as now:
            binding.check_dataset(self._conn, name)
            made = dp_budget.set_budget(self._conn, name, who, epsilon=epsilon, delta=delta,
                                        rho=rho, now=now)
            self._log(now, actor, "dp.budget.set", name, purpose, principal=who,
                      **made.__dict__, bind=binding.bind_budget(self._conn, name, who))
        return dp_budget.remaining(self._conn, name, who)

    def budget(self, name: str, principal: str | None = None) -> dp_budget.Remaining:
        """A dataset's (or a principal's) budget, spent and left, as the ledger backs it."""
        binding.check_dataset(self._conn, name)
        return dp_budget.remaining(self._conn, name,
                                   dp_budget.ALL if principal is None else principal)

    def query(
        self,
        query: str | Query,
        *,
        epsilon: float | None = None,
        delta: float | None = None,
        rho: float | None = None,
        alpha: float = 0.05,
        version: int | None = None,
        actor: str = DEFAULT_ACTOR,
        purpose: str = DEFAULT_PURPOSE,
    ) -> DPResult:
        """Answer a DP query (SQL text or a :class:`~veil.dp.query.Query`) with intervals at
        ``alpha``, spending ``epsilon``/``delta`` (or ``rho``) from the dataset's budget and
        the actor's own one. The spend is checked and recorded with the result in one
        transaction before the answer is returned; an identical earlier request (same query,
        version, spend, alpha and settings) is answered from its release at no cost."""
        if isinstance(query, str):
            query = parse_sql(query)
        elif not isinstance(query, Query):
            raise InputError(f"a query is SQL text or a veil.dp.Query; got {type(query).__name__}")
        return self._answer(query, self.dp_settings(query.dataset), epsilon=epsilon,
                            delta=delta, rho=rho, alpha=alpha, version=version, actor=actor,
                            purpose=purpose)

    def estimate_bounds(
        self,
        name: str,
        column: str,
        *,
        within: tuple[float, float],
        epsilon: float | None = None,
        rho: float | None = None,
        quantiles: tuple[float, float] = (0.05, 0.95),
        actor: str = DEFAULT_ACTOR,
        purpose: str = DEFAULT_PURPOSE,
    ) -> tuple[float, float]:
        """Estimate a column's bounds under DP (two quantiles of the values clamped to the
        generous range ``within``, spending ``epsilon`` or ``rho`` from the budget like any
        query) and declare them in the dataset's settings, for the queries that need them."""
        low, high = quantiles
        query = Query(name).quantile(column, low, alias="lower").quantile(
            column, high, alias="upper")
        current = self.dp_settings(name)
        trial = Settings({**current.bounds, column: (float(within[0]), float(within[1]))},
                         current.public_keys, current.max_rows_per_person)
        result = self._answer(query, trial, epsilon=epsilon, delta=None, rho=rho, alpha=0.05,
                              version=None, actor=actor, purpose=purpose)
        found = dict(zip(result.frame["statistic"], result.frame["value"], strict=True))
        lower, upper = float(found["lower"]), float(found["upper"])
        if not lower < upper:  # the data sit in one grid cell: widen by one cell
            step = (within[1] - within[0]) / 256
            lower, upper = lower - step, upper + step
        self.dp_settings(name, bounds={column: (lower, upper)}, actor=actor, purpose=purpose)
        return lower, upper

    def _answer(self, query: Query, settings: Settings, *, epsilon: float | None,
                delta: float | None, rho: float | None, alpha: float, version: int | None,
                actor: str, purpose: str) -> DPResult:
        """Check, compute, then debit and release in one transaction.

        The noisy answer is computed before the write lock is taken (nothing leaves until the
        debit commits), so concurrent queries queue only for the debit; the loser of a race
        between identical requests receives the winner's release, at no cost. Literals in the
        query never reach the catalog or the ledger: both hold its shape with each literal
        replaced by a MAC under a key derived from the version's data key, which dies with the
        version when it is crypto-shredded; the cache key is a MAC under the same key."""
        record = self.version(query.dataset, version)
        if record.destroyed:
            raise KeyDestroyedError(f"{record.ref} was crypto-shredded; it cannot be queried")
        binding.check_dataset(self._conn, query.dataset)
        measure = dp_budget.remaining(self._conn, query.dataset).budget.measure
        spend = cost(measure, epsilon, delta, rho)
        secret = self._ring.derive(record.key_id, "dp-query")
        key = _mac(secret, [query.canonical(), record.ref, record.fingerprint, spend.__dict__,
                            alpha, settings.to_dict()])
        shape = query.shape(lambda literal: f"mac:{_mac(secret, literal)[:32]}")
        result = None
        if dp_budget.cached(self._conn, key) is None:
            dp_budget.check(self._conn, query.dataset, actor, spend)  # refuse before any work
            frame, most_rows, ranges = self._dp_frame(record)
            result = run(frame, query, settings, record.subject_id or None, measure=measure,
                         spend=spend, alpha=alpha, most_rows=most_rows, ranges=ranges)
        with self._transaction() as now:
            binding.check_dataset(self._conn, query.dataset)
            earlier = dp_budget.cached(self._conn, key)
            if earlier is None and result is not None:
                left = dp_budget.debit(self._conn, query.dataset, record.version, actor, shape,
                                       key, spend, result.to_dict(), now)
                self._log(now, actor, "dp.query", record.ref, purpose, query=shape,
                          spent=spend.__dict__, remaining=left.left.__dict__, alpha=alpha,
                          mechanisms=result.mechanisms,
                          bind=binding.bind_spend(self._conn, key))
            elif earlier is not None:
                self._log(now, actor, "dp.query.cached", record.ref, purpose, query=shape,
                          cache_key=key)
        if earlier is not None:
            overall = dp_budget.remaining(self._conn, query.dataset)
            return DPResult.from_dict(earlier, remaining=overall.to_dict(), cached=True)
        if result is None:  # cached when checked, gone when debited: the catalog was edited
            raise BoundStateError(f"the release cache of {query.dataset!r} changed "
                                          "under a query; the catalog was edited")
        return DPResult(result.frame, spend, alpha, result.mechanisms, left.to_dict())

    def _dp_frame(self, record: DatasetVersion) -> tuple[
            pl.DataFrame, int | None, dict[str, tuple[float, float]]]:
        """A version decrypted once per session for queries (re-checked against its
        fingerprint), with its largest rows-per-person count and numeric ranges."""
        if record.file in self._frames:
            self._frames.move_to_end(record.file)
            return self._frames[record.file]
        frame = self._open(record)
        most = (int(frame[record.subject_id].value_counts()["count"].max())  # type: ignore[arg-type]
                if record.subject_id in frame.columns and frame.height else None)
        # short vocabularies (clinics, sexes) held as categories: grouping is ~2x faster
        sample = frame.head(10_000)
        frame = frame.with_columns(pl.col(c).cast(pl.Categorical) for c, t in frame.schema.items()
                                   if t == pl.String and c != record.subject_id
                                   and sample[c].n_unique() <= 256)
        numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
        extremes = frame.select([pl.col(c).min().alias(f"lo_{c}") for c in numeric]
                                + [pl.col(c).max().alias(f"hi_{c}") for c in numeric])
        ranges = {c: (float(extremes[f"lo_{c}"][0]), float(extremes[f"hi_{c}"][0]))
                  for c in numeric if extremes[f"lo_{c}"][0] is not None}
        self._frames[record.file] = (frame, most, ranges)
        while len(self._frames) > 2:
            self._frames.popitem(last=False)
        return self._frames[record.file]

    # -- DP model training and the model registry ---------------------------------------------
    def train(
        self,
        dataset: str,
        *,
        target: str,
        features: Sequence[str],
        epsilon: float,
        delta: float,
        model: str | Any = "mlp",
        name: str | None = None,
        epochs: int = 5,
        batch_size: int = 256,
        max_grad_norm: float = 1.0,
        lr: float = 0.1,
        optimizer: str = "sgd",
        holdout: float = 0.2,
        seed: int | None = None,
        actor: str = DEFAULT_ACTOR,
        purpose: str = DEFAULT_PURPOSE,
    ) -> Model:
        """Train a classifier with DP-SGD (see :mod:`veil.train.dpsgd`), spending
        ``epsilon``/``delta`` from the dataset's budget, and register it (encrypted, with its
        guarantee and model card) as model ``name`` (default ``{dataset}.{target}``).

        Everything that can be refused is refused before the budget is touched: unknown or
        unencodable columns, a one-class target, NaNs, a batch larger than the data, an epsilon
        too small for even one step. Each person contributes one row (chosen at random), so
        the per-example guarantee of DP-SGD is a per-person one."""
        import torch  # torch and Opacus load only when a model is trained or used

        from veil.train.dpsgd import TrainConfig, calibrate, train_dp
        from veil.train.model import build

        record = self.version(dataset)
        settings = self.dp_settings(dataset)
        frame, _, _ = self._dp_frame(record)
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
        overall = dp_budget.remaining(self._conn, dataset)
        if overall.budget.measure != "pure":
            raise InputError("DP-SGD spends (epsilon, delta); this dataset's budget is zCDP")
        spend = Cost(epsilon=float(epsilon), delta=float(delta))
        model_name = name or f"{dataset}.{target}"
        _check_name(model_name, "model")
        request = json.dumps({"train": model_name, "target": target, "features": list(features),
                              "architecture": architecture, "epochs": epochs,
                              "batch_size": batch_size}, sort_keys=True)
        with self._transaction() as now:
            binding.check_dataset(self._conn, dataset)
            key = f"train-{uuid.uuid4().hex}"
            left = dp_budget.debit(self._conn, dataset, record.version, actor, request, key,
                                   spend, {"model": model_name}, now)
            self._log(now, actor, "model.train", record.ref, purpose, model=model_name,
                      spent=spend.__dict__, remaining=left.left.__dict__,
                      bind=binding.bind_spend(self._conn, key))
        trained = train_dp(module, x, y, config, seed=seed)
        with torch.no_grad():
            predicted = trained.model(torch.from_numpy(test_x))
        accuracy = float((predicted.argmax(dim=1).numpy() == test_y).mean())
        meta = {"name": model_name, "dataset": dataset, "dataset_version": record.version,
                "fingerprint": record.fingerprint, "architecture": architecture,
                "encoding": encoding.to_dict(), "actor": actor, "purpose": purpose,
                "privacy": {"epsilon": trained.epsilon, "delta": delta,
                            "accountant": trained.accountant, "max_grad_norm": max_grad_norm,
                            "noise_multiplier": trained.noise_multiplier,
                            "sample_rate": trained.sample_rate, "steps": trained.steps,
                            "engine": trained.engine, "target_epsilon": epsilon},
                "metrics": {"accuracy": accuracy, "rows": len(test_y),
                            "train_rows": len(x), "epoch_seconds": trained.epoch_seconds},
                "training": config.__dict__}
        return self._register(model_name, trained.model, encoding, meta, record, actor, purpose)

    def join_federation(self, dataset: str, *, run: str, epsilon: float | None,
                        delta: float | None, rho: float | None, details: dict[str, Any],
                        actor: str = DEFAULT_ACTOR,
                        purpose: str = DEFAULT_PURPOSE) -> DatasetVersion:
        """Record that ``dataset`` trains in federated run ``run`` (its updates leave this
        site), debiting its DP budget once per run before the first update leaves: (epsilon,
        delta) from an (epsilon, delta) budget, ``rho`` from a zCDP one (a run of Gaussian
        rounds has both). A repeated call for the same run costs nothing; ``epsilon`` None is
        a run without a DP guarantee, logged as such. Returns the version that trains."""
        record = self.version(dataset)
        key = f"federated:{run}"
        with self._transaction() as now:
            if epsilon is None:
                if self.ledger.find("federated.train", record.ref, run=run) is None:
                    self._log(now, actor, "federated.train", record.ref, purpose, run=run,
                              privacy="none", **details)
            elif dp_budget.cached(self._conn, key) is None:
                binding.check_dataset(self._conn, dataset)
                zcdp = dp_budget.remaining(self._conn, dataset).budget.measure == "zcdp"
                if zcdp and rho is None:
                    raise InputError(f"this run spends (epsilon, delta) and {dataset!r} has a "
                                     "zCDP budget; give it an (epsilon, delta) budget")
                spend = Cost(rho=float(rho)) if zcdp else Cost(
                    epsilon=float(epsilon), delta=float(delta or 0.0))
                left = dp_budget.debit(self._conn, dataset, record.version, actor,
                                       json.dumps({"federated": run}), key, spend, details, now)
                self._log(now, actor, "federated.spend", record.ref, purpose, run=run,
                          spent=spend.__dict__, remaining=left.left.__dict__, **details,
                          bind=binding.bind_spend(self._conn, key))
        return record

    def register_model(self, name: str, module: Any, encoding: Encoding, meta: dict[str, Any],
                       *, source: Any, actor: str = DEFAULT_ACTOR,
                       purpose: str = DEFAULT_PURPOSE) -> Model:
        """Register a model trained elsewhere (a federation's global model): ``source`` names
        what it learnt from (``dataset``, ``version``, ``fingerprint`` and ``ref``)."""
        _check_name(name, "model")
        return self._register(name, module, encoding, meta, source, actor, purpose)

    def _register(self, name: str, module: Any, encoding: Encoding, meta: dict[str, Any],
                  record: DatasetVersion, actor: str, purpose: str) -> Model:
        from veil.train.model import Model, pack

        with self._sealing((pack(module), False)) as (sealed,), self._transaction() as now:
            version = 1 + self._conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM models WHERE name = ?",
                (name,)).fetchone()[0]
            meta |= {"version": version, "created": now}
            meta["card_markdown"], meta["card_html"] = model_card(meta)
            self._ring.add_data_key(sealed[1], sealed[2], now)
            self._conn.execute(
                "INSERT INTO models(name, version, file, key_id, dataset, dataset_version, "
                "fingerprint, meta, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, version, sealed[0], sealed[1], record.dataset, record.version,
                 record.fingerprint, json.dumps(meta, default=str), now))
            self._log(now, actor, "model.register", f"{name}@{version}", purpose,
                      privacy=meta["privacy"], metrics=meta["metrics"],
                      dataset=record.ref, weights=sealed[3],
                      bind=binding.bind_model(self._conn, name, version, sealed[3]))
        return Model(name, version, module, encoding, meta)

    def models(self) -> list[dict[str, Any]]:
        """Every registered model version's description (no weights)."""
        return [json.loads(r[0]) for r in self._conn.execute(
            "SELECT meta FROM models ORDER BY name, version")]

    def model(self, name: str, version: int | None = None, *, module: Any = None,
              actor: str = DEFAULT_ACTOR, purpose: str = DEFAULT_PURPOSE) -> Model:
        """Load a registered model (logged). A model trained from a custom torch module needs
        a fresh instance of it as ``module``; weights are loaded without running code. The
        catalog row must equal its ledger registration and the weights its fingerprint there,
        so a row pointed at another model's weights, or an edited guarantee, is refused."""
        from veil.train.model import Model, build, unpack

        row = self._conn.execute(
            "SELECT version, file, key_id, meta FROM models WHERE name = ? AND "
            "(? IS NULL OR version = ?) ORDER BY version DESC LIMIT 1",
            (name, version, version)).fetchone()
        if row is None:
            known = sorted({m["name"] for m in self.models()})
            raise NotFoundError(f"no model {name!r}" + (f" version {version}" if version else "")
                                + f"; registered models: {known}")
        found, file, key_id, text = row
        registered = binding.check_row(self._conn, self.ledger, "model", name, found)
        meta = json.loads(text)
        encoding = Encoding.from_dict(meta["encoding"])
        if module is None:
            module = build(meta["architecture"], encoding.width, len(encoding.classes))
        weights = self._vault.open(file, self._ring.data_key(key_id), key_id)
        if fingerprint(weights) != registered["weights"]:
            raise VaultIntegrityError(f"the weights of model {name}@{found} do not match their "
                                      "registered fingerprint")
        with self._transaction() as now:
            self._log(now, actor, "model.load", f"{name}@{found}", purpose)
        return Model(name, found, unpack(weights, module), encoding, meta)

    # -- keys and audit -----------------------------------------------------------------------
    def rotate_keys(
        self,
        *,
        passphrase: str | None = None,
        key_file: str | os.PathLike[str] | None = None,
        master_key: MasterKey | None = None,
        actor: str = DEFAULT_ACTOR,
        purpose: str = "administration",
    ) -> int:
        """Re-wrap every key under a new master key (data files stay as they are)."""
        new_master = KeySource(passphrase, Path(key_file) if key_file else None,
                               master_key).resolve(None)
        with self._transaction() as now:
            count = self._ring.rotate(new_master)
            self._log(now, actor, "keys.rotate", "keyring", purpose, keys=count,
                      kdf="argon2id" if new_master.kdf else "raw")
        self._checkpoint()
        return count

    def pseudonymizer(self, *, actor: str = DEFAULT_ACTOR,
                      purpose: str = DEFAULT_PURPOSE) -> Pseudonymizer:
        """Keyed, stable tokens for this workspace (same value, same token); the use is logged."""
        with self._transaction() as now:
            self._log(now, actor, "keys.use", "pseudonym-key", purpose)
        return Pseudonymizer(self._ring.pseudonym_key())

    def rotate_pseudonym_key(self, *, actor: str = DEFAULT_ACTOR,
                             purpose: str = "administration") -> int:
        """Start a new pseudonym key epoch and return its number: tokens made from now on differ
        from earlier ones. Earlier keys stay in the ring (wrapped), so ``pseudonymize(epoch=)``
        can still link new data to an old release; token maps need no key and keep working."""
        with self._transaction() as now:
            epoch = self._ring.add_pseudonym_epoch(now)
            self._log(now, actor, "keys.rotate_pseudonym", "pseudonym-key", purpose, epoch=epoch,
                      key_id=pseudonym_key_id(epoch))
        return epoch

    def record(self, action: str, resource: str, *, actor: str = DEFAULT_ACTOR,
               purpose: str = DEFAULT_PURPOSE, **params: Any) -> int:
        """Append one audited event (a computation on encrypted or secret-shared data, a proof
        checked) with its parameters and results, never raw personal values; returns its
        ledger sequence number."""
        if not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+", action):
            raise InputError(f"an action is dotted lower-case words like 'he.score'; got "
                             f"{action!r}")
        with self._transaction() as now:
            self._log(now, actor, action, resource, purpose, **params)
        return self.ledger.size

    def issue_tls(self, directory: str | os.PathLike[str], *,
                  hosts: Sequence[str] = ("127.0.0.1", "localhost"),
                  days: int = tls_certs.SERVER_DAYS, actor: str = DEFAULT_ACTOR,
                  purpose: str = "federation") -> tls_certs.TlsFiles:
        """Write ``ca.crt``, ``server.pem`` and ``server.key`` (0600) for a SuperLink on
        ``hosts`` into ``directory``, signed by this workspace's federation CA. The CA key is
        made on first use and stays wrapped in the key ring; ``ca.crt`` is the same every time,
        so sites pin it once. The issue is logged (serial, fingerprints, hosts; no key bytes)."""
        with self._transaction() as now:
            der, created = self._ring.tls_ca_key(now)
            files = tls_certs.issue(directory, tls_certs.key_from_der(der),
                                    created=datetime.fromisoformat(created), hosts=hosts,
                                    days=days)
            self._log(now, actor, "tls.issue", "federation-ca", purpose, **files.facts())
        return files

    def _checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it, so erased key bytes leave the WAL."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def verify(self, trusted: Sequence[SignedTreeHead] = ()) -> Verification:
        """Full verification in one snapshot: the ledger against its signed, anchored and
        ``trusted`` heads (:meth:`veil.ledger.Ledger.verify`), then every budget, spend, DP
        setting, version and model row against the ledger entries that bind it."""
        anchored = [head for _, head in self.ledger.anchors.heads()]  # before the snapshot
        self._conn.execute("BEGIN")
        try:
            result = self.ledger.verify([*anchored, *trusted], anchors=False)
            bound = binding.verify(self._conn) if self._format() >= FORMAT else 0
        finally:
            self._conn.execute("COMMIT")
        return dataclasses.replace(result, bound=bound)

    def _format(self) -> int:
        return int(self._conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()[0])

    def recover(self, *, actor: str = DEFAULT_ACTOR, purpose: str = "administration"
                ) -> list[dict[str, Any]]:
        """The owner's way out of a rolled-back catalog (open it with ``check_ledger=False``):
        the catalog's own ledger and bindings must verify in full; every anchored head it does
        not extend is kept aside as ``*.abandoned-*.json`` and the ledger records it. What was
        logged and spent behind those heads is gone from this catalog, so re-check budgets
        (the abandoned heads say how many entries were lost). Prefer restoring the newest
        ``veil.db`` from a backup; this is for when there is none."""
        self.ledger.verify(anchors=False)
        binding.verify(self._conn)
        size = self.ledger.size
        stale = [(a, h) for a, h in self.ledger.anchors.heads(missing_ok=True)
                 if h.size > size or self.ledger.root_at(h.size) != h.root]
        if not stale:
            raise InputError("nothing to recover: every anchored head is a prefix of this "
                             "catalog's ledger")
        kept = self.ledger.anchors.abandon(stale)
        abandoned = [{"anchor": a.label, "head": h.to_dict(), "kept_as": Path(k).name,
                      "entries_lost": max(h.size - size, 0)}
                     for (a, h), k in zip(stale, kept, strict=True)]
        with self._transaction() as now:
            self._log(now, actor, "ledger.recover", "ledger", purpose, catalog_size=size,
                      abandoned=abandoned)
        return abandoned

    def witnesses(self) -> list[str]:
        """The witness directories this workspace publishes its head to (configured ones)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'witnesses'").fetchone()
        return json.loads(row[0]) if row else []

    def add_witness(self, directory: str | os.PathLike[str], *, actor: str = DEFAULT_ACTOR,
                    purpose: str = "administration") -> Path:
        """Publish the signed head to ``directory`` too (another disk, a folder an auditor
        owns) from now on, and refuse to open this workspace while that copy is ahead of the
        catalog or missing. The head is written there before the configuration commits."""
        folder = Path(directory).resolve()
        if not folder.is_dir():
            raise InputError(f"witness directory {folder} does not exist")
        listed = self.witnesses()
        if str(folder) in listed:
            raise InputError(f"{folder} is already a witness of this workspace")
        self.ledger.anchors.add(folder, self.ledger.head())
        with self._transaction() as now:
            self._conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('witnesses', ?)",
                               (json.dumps([*listed, str(folder)]),))
            self._log(now, actor, "ledger.witness.add", "ledger", purpose, directory=str(folder))
        return folder

    def remove_witness(self, directory: str | os.PathLike[str], *, actor: str = DEFAULT_ACTOR,
                       purpose: str = "administration") -> None:
        """Stop publishing to a witness (its file stays where it is, as evidence)."""
        folder = str(Path(directory).resolve())
        listed = self.witnesses()
        if folder not in listed:
            raise InputError(f"{folder} is not a witness of this workspace; witnesses: {listed}")
        self.ledger.anchors.remove(Path(folder))  # a missing witness must not block this
        with self._transaction() as now:
            self._conn.execute("UPDATE meta SET value = ? WHERE key = 'witnesses'",
                               (json.dumps([w for w in listed if w != folder]),))
            self._log(now, actor, "ledger.witness.remove", "ledger", purpose, directory=folder)

    def gc(self, *, actor: str = DEFAULT_ACTOR, purpose: str = "administration") -> list[str]:
        """Delete vault files no live version or model refers to: left by a crash between
        sealing and committing, or between crypto-shredding and removing the file, and temp
        files of interrupted writes. Safe beside concurrent ingests: they hold the vault's
        pending lock from sealing to commit, and this waits for it. Logged when it removes
        something."""
        def referenced() -> set[str]:
            rows = self._conn.execute("SELECT file FROM versions WHERE destroyed IS NULL "
                                      "UNION SELECT file FROM models")
            return {r[0] for r in rows}

        removed = self._vault.collect(referenced)
        if removed:
            with self._transaction() as now:
                self._log(now, actor, "vault.gc", "vault", purpose, files=len(removed))
        return removed


def _mac(key: bytes, value: Any) -> str:
    """HMAC-SHA256 of a value's canonical JSON, hex."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _witnesses(conn: sqlite3.Connection, extra: Sequence[str | os.PathLike[str]]
               ) -> list[tuple[Path, bool]]:
    """(directory, required): the configured witnesses (their files must exist), then those
    named for this session (written on first use)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'witnesses'").fetchone()
    named = [*map(os.fspath, extra),
             *(p for p in os.environ.get(ENV_WITNESS, "").split(os.pathsep) if p)]
    return ([(Path(p).resolve(), False) for p in named]
            + [(Path(p), True) for p in (json.loads(row[0]) if row else [])])


def _summary(scan: TableScan | None) -> dict[str, Any] | None:
    """Column names per category and the Safe Harbor identifier kinds present: no values."""
    if scan is None:
        return None
    by_category = {str(c): scan.by_category(c) for c in Category if c is not Category.OTHER}
    return by_category | {"safe_harbor": [str(i) for i in safe_harbor_report(scan).present]}


def _key_source(passphrase: str | None, key_file: str | os.PathLike[str] | None,
                master_key: MasterKey | None) -> KeySource:
    if master_key is not None:
        return KeySource(master_key=master_key)
    return KeySource.from_env(passphrase=passphrase,
                              key_file=os.fspath(key_file) if key_file else None)
