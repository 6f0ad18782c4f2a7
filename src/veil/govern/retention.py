"""Retention: how long a dataset's versions and rows may be kept, and the run that enforces it.

A policy per dataset (``retention_policies``, each row bound to its ledger entry) combines:

* ``keep_versions_days``: a version created more than N days ago is crypto-shredded, except the
  newest readable one;
* ``date_column`` + ``keep_rows_days``: a row whose date is more than N days old may not stay in
  any readable version. The newest is rewritten as a new version without those rows, and every
  readable version that still holds one is shredded (a row with no date is kept: nothing says
  it is old);
* ``until_purpose``: once that purpose has ended, every version is shredded, the newest too.

:func:`enforce` plans every dataset first (refusing bad input before anything changes), then
moves one dataset per transaction: its new version and the shredding of every version it
replaces commit together, so a run killed at any point leaves each dataset either fully moved or
untouched; the shredded files leave the vault only after the commit (a crash in between leaves
only noise under destroyed keys, which ``veil gc`` removes). Each action is a ledger entry
(``govern.retention.rows``, ``govern.retention.shred``). A second run with the same ``now``
finds nothing to do and writes nothing, so it is safe to run from cron; runs that overlap skip a
dataset the other one moved. A dry run plans and reports, and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from veil import __version__
from veil.access.scope import Scope
from veil.errors import InputError, SchemaError
from veil.govern import purposes
from veil.workspace import binding
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Store, extra_schema

__all__ = ["DatasetRetention", "Retention", "RetentionReport", "enforce", "get_policy",
           "set_policy"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS retention_policies (
    dataset TEXT PRIMARY KEY,
    policy  TEXT NOT NULL,
    updated TEXT NOT NULL
);
"""
TABLE = "retention_policies"
extra_schema(SCHEMA)
binding.guard_table(TABLE, "row")


def _days(value: object, what: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InputError(f"{what} is a whole number of days >= 0 or None; got {value!r}")


@dataclass(frozen=True)
class Retention:
    """How long one dataset's data may be kept (see the module docstring)."""

    keep_versions_days: int | None = None
    date_column: str | None = None
    keep_rows_days: int | None = None
    until_purpose: str | None = None

    def __post_init__(self) -> None:
        _days(self.keep_versions_days, "keep_versions_days")
        _days(self.keep_rows_days, "keep_rows_days")
        if (self.date_column is None) != (self.keep_rows_days is None):
            raise InputError("keeping rows by date needs both date_column and keep_rows_days")
        if self.keep_versions_days is None and self.keep_rows_days is None and (
                self.until_purpose is None):
            raise InputError("a retention policy sets keep_versions_days, date_column with "
                             "keep_rows_days, or until_purpose; to drop a policy set None")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DatasetRetention:
    """What goes from one dataset: rows past their date (kept out of a new version made from
    ``source``) and the versions shredded, with why."""

    dataset: str
    expired_rows: int = 0
    source: int | None = None  # the version the new one is made from, without expired rows
    new_version: int | None = None  # None in a dry run (it would be the next number)
    shredded: tuple[int, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetentionReport:
    now: str
    dry_run: bool
    datasets: tuple[DatasetRetention, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Plan:
    dataset: str
    versions: list[tuple[int, str | None]]  # the dataset's state when planned
    # the newest version, to copy without rows whose date column is before the cutoff
    rewrite: tuple[DatasetVersion, str, datetime] | None = None
    expired_rows: int = 0
    shred: dict[int, DatasetVersion] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    def report(self, new_version: int | None = None) -> DatasetRetention:
        return DatasetRetention(self.dataset, self.expired_rows,
                                None if self.rewrite is None else self.rewrite[0].version,
                                new_version, tuple(sorted(self.shred)), tuple(self.reasons))


class _Moved(Exception):
    """Another run changed the dataset since it was planned (raised to roll back, never out)."""


# -- policies --------------------------------------------------------------------------------
def set_policy(store: Store, scope: Scope, dataset: str, policy: Retention | None) -> None:
    """Set (or with None drop) the retention policy of ``dataset``; logged and bound."""
    record = store.version(dataset)
    if policy is not None:
        _check(store, record, policy)
    with store.transaction() as now:
        if policy is None:
            store.conn.execute(f"DELETE FROM {TABLE} WHERE dataset = ?", (dataset,))  # noqa: S608
        else:
            store.conn.execute(f"INSERT OR REPLACE INTO {TABLE}(dataset, policy, updated) "  # noqa: S608
                               "VALUES (?, ?, ?)", (dataset, json.dumps(policy.to_dict()), now))
        store.log(now, scope, "govern.retention.set", dataset,
                  policy=None if policy is None else policy.to_dict(),
                  bind=binding.bind_table_row(store.conn, TABLE, dataset))


def _check(store: Store, record: DatasetVersion, policy: Retention) -> None:
    if policy.date_column is not None:
        kind = record.schema.get(policy.date_column)
        if kind is None or not kind.startswith("Date"):
            raise SchemaError(f"date_column {policy.date_column!r} of {record.ref} must be a "
                              f"date or datetime column; it is {kind or 'missing'}")
    if policy.until_purpose is not None:
        purpose = purposes.get(store, policy.until_purpose)
        if record.dataset not in purpose.datasets:
            raise InputError(f"purpose {purpose.name!r} does not use {record.dataset!r}; keep "
                             f"it until the end of a purpose that does")


def get_policy(store: Store, dataset: str) -> Retention | None:
    """The dataset's policy (None when it has none), checked against its ledger entry."""
    binding.check_table_row(store.conn, store.ledger, TABLE, dataset)
    row = store.conn.execute(f"SELECT policy FROM {TABLE} WHERE dataset = ?",  # noqa: S608
                             (dataset,)).fetchone()
    return None if row is None else Retention(**json.loads(row[0]))


# -- planning --------------------------------------------------------------------------------
def _expired(store: Store, record: DatasetVersion, column: str, cutoff: datetime
             ) -> tuple[pl.DataFrame, pl.Series]:
    """A version's rows and which are dated before ``cutoff`` (naive datetimes read as UTC; a
    row with no date is not expired)."""
    frame = store.open_version(record)
    dtype, values = frame.schema.get(column), pl.col(column)
    if dtype == pl.Date:
        test = values < cutoff.date()
    elif isinstance(dtype, pl.Datetime):
        utc = (values.dt.replace_time_zone("UTC") if dtype.time_zone is None
               else values.dt.convert_time_zone("UTC"))
        test = utc < pl.lit(cutoff)
    else:
        raise SchemaError(f"date_column {column!r} of {record.ref} is {dtype or 'missing'}; it "
                          "must be a date or datetime column (fix the data or the policy)")
    return frame, frame.select(test.fill_null(False)).to_series()


def _plan(store: Store, dataset: str, policy: Retention, now: datetime) -> _Plan:
    versions = store.versions(dataset)
    plan = _Plan(dataset, [(v.version, v.destroyed) for v in versions])
    live = [v for v in versions if v.destroyed is None]
    if not live:
        return plan
    if policy.until_purpose is not None:
        purpose = purposes.get(store, policy.until_purpose)
        if purpose.ended(now):
            plan.shred = {v.version: v for v in live}
            plan.reasons.append(f"purpose {purpose.name!r} ended on {purpose.ends}")
            return plan
    if policy.keep_versions_days is not None:
        cutoff = now - timedelta(days=policy.keep_versions_days)
        old = {v.version: v for v in live[:-1] if purposes.instant(v.created) < cutoff}
        if old:
            plan.shred |= old
            plan.reasons.append(f"{len(old)} version(s) older than "
                                f"{policy.keep_versions_days} days")
    if policy.date_column is not None and policy.keep_rows_days is not None:
        rule = policy.date_column, now - timedelta(days=policy.keep_rows_days)
        expired = _expired(store, live[-1], *rule)[1]
        if expired.any():
            plan.rewrite, plan.expired_rows = (live[-1], *rule), int(expired.sum())
            plan.shred[live[-1].version] = live[-1]
        holding = {v.version: v for v in live[:-1] if v.version not in plan.shred
                   and _expired(store, v, *rule)[1].any()}
        plan.shred |= holding
        if expired.any() or holding:
            plan.reasons.append(f"rows whose {policy.date_column!r} is more than "
                                f"{policy.keep_rows_days} days old")
    return plan


# -- enforcing ------------------------------------------------------------------------------
def _apply(store: Store, scope: Scope, plan: _Plan) -> int | None:
    """Move one dataset in one transaction; returns its new version (None when it only
    shreds). Raises :class:`_Moved` when another run got there first."""
    rewritten = None
    if plan.rewrite is not None:  # read again here, so plans stay small
        frame, expired = _expired(store, *plan.rewrite)
        rewritten = plan.rewrite[0], frame.filter(~expired)
    with store.sealing(*([] if rewritten is None else [(rewritten[1], True)])) as sealed, \
            store.transaction() as stamp:
        current = [(v.version, v.destroyed) for v in store.versions(plan.dataset)]
        if current != plan.versions:
            raise _Moved
        version = None
        if rewritten is not None:
            source, kept = rewritten
            provenance = {"source": "retention", "from": source.ref,
                          "expired_rows": plan.expired_rows, "veil": __version__,
                          "actor": scope.principal, "purpose": scope.purpose}
            version = store.add_version(plan.dataset, sealed[0], kept, source.subject_id,
                                        provenance, stamp)
            store.log(stamp, scope, "govern.retention.rows", f"{plan.dataset}@{version}",
                      source=source.ref, expired_rows=plan.expired_rows, rows=kept.height,
                      fingerprint=sealed[0][3], key_id=sealed[0][1],
                      bind=binding.bind_version(store.conn, plan.dataset, version))
        for record in plan.shred.values():
            store.ring.destroy(record.key_id, stamp)
            store.conn.execute("UPDATE versions SET destroyed = ? WHERE file = ?",
                               (stamp, record.file))
            store.log(stamp, scope, "govern.retention.shred", record.ref, key_id=record.key_id,
                      fingerprint=record.fingerprint, reasons=plan.reasons,
                      bind=binding.bind_destroy(plan.dataset, record.version))
    for record in plan.shred.values():
        store.vault.discard(record.file)
    return version


def enforce(store: Store, scope: Scope, *, now: datetime | date | str, dry_run: bool = False,
            progress: Callable[[DatasetRetention], None] | None = None) -> RetentionReport:
    """Apply every dataset's policy as of ``now`` (see the module docstring). ``progress`` is
    called after each dataset is committed (a progress bar, a cron log)."""
    when = purposes.instant(now)
    names = [r[0] for r in store.conn.execute(f"SELECT dataset FROM {TABLE} ORDER BY dataset")]  # noqa: S608
    # a policy another process drops meanwhile reads as None and is skipped
    policies = {d: p for d in names if (p := get_policy(store, d)) is not None}
    plans = [plan for d, p in policies.items() if (plan := _plan(store, d, p, when)).shred]
    if dry_run:
        return RetentionReport(when.isoformat(), True, tuple(p.report() for p in plans))
    done = []
    for plan in plans:
        try:
            result = plan.report(_apply(store, scope, plan))
        except _Moved:
            continue
        done.append(result)
        if progress is not None:
            progress(result)
    if done:
        store.checkpoint()  # the destroyed keys' bytes leave the WAL
    return RetentionReport(when.isoformat(), False, tuple(done))
