"""Purposes: why personal data may be used, and what each reason may touch.

A purpose states its lawful basis (GDPR Art. 6(1)), the Art. 9(2) condition when it uses
special categories, the datasets and columns it may use, the operations it allows, whether the
subject's consent is required, and how long its data may be kept (the time limit Art. 30(1)(f)
asks a record of processing to state). The guard asks :meth:`Purpose.check` before every read,
query, release, training or federation: another dataset, operation or column is refused, naming
it (minimization enforced, not advised).

Columns are named, or given by discovery category (``category:quasi_identifier``) so a purpose
keeps meaning the same thing when a new version adds a column, or ``*`` for every column.
A registered purpose never changes, because consents and policies were given for what it said:
a different use is a new purpose. It can only be ended (:func:`end`), never revived.

Purposes live in the ``purposes`` catalog table, each row bound to the ledger entry that wrote
it (``govern.purpose.add`` / ``govern.purpose.end``): a hand-edited row is refused before use
(:func:`veil.workspace.binding.check_table_row`) and by a full verify.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from weakref import WeakKeyDictionary

from veil.access.policy import Operation
from veil.access.scope import Scope
from veil.discover.entities import Category
from veil.errors import AccessDenied, InputError, NotFoundError
from veil.workspace import binding
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Store, check_name, extra_schema

__all__ = ["ALL_COLUMNS", "CATEGORY_PREFIX", "OPERATIONS", "LawfulBasis", "Purpose",
           "SpecialCondition", "add", "all", "category_of", "end", "get", "instant"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS purposes (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created    TEXT NOT NULL
);
"""
TABLE = "purposes"
extra_schema(SCHEMA)
binding.guard_table(TABLE, "row")

_REQUIRED = frozenset({"name", "description", "basis", "datasets", "operations",
                       "consent_required", "retention_days"})
ALL_COLUMNS = "*"
CATEGORY_PREFIX = "category:"
OPERATIONS = frozenset(map(str, Operation))  # what a purpose may allow


class LawfulBasis(StrEnum):
    """GDPR Art. 6(1): the ground a processing rests on."""

    CONSENT = "consent"  # (a)
    CONTRACT = "contract"  # (b)
    LEGAL_OBLIGATION = "legal_obligation"  # (c)
    VITAL_INTERESTS = "vital_interests"  # (d)
    PUBLIC_TASK = "public_task"  # (e)
    LEGITIMATE_INTERESTS = "legitimate_interests"  # (f)


class SpecialCondition(StrEnum):
    """GDPR Art. 9(2): the condition that lifts the ban on special categories of data."""

    EXPLICIT_CONSENT = "explicit_consent"  # (a)
    EMPLOYMENT = "employment_social_protection"  # (b)
    VITAL_INTERESTS = "vital_interests"  # (c) the subject cannot give consent
    NOT_FOR_PROFIT = "not_for_profit_body"  # (d)
    MADE_PUBLIC = "made_public_by_subject"  # (e)
    LEGAL_CLAIMS = "legal_claims"  # (f)
    SUBSTANTIAL_PUBLIC_INTEREST = "substantial_public_interest"  # (g)
    HEALTH_CARE = "health_social_care"  # (h)
    PUBLIC_HEALTH = "public_health"  # (i)
    RESEARCH = "archiving_research_statistics"  # (j)


def instant(value: datetime | date | str) -> datetime:
    """An aware UTC datetime from a datetime, a date (midnight UTC) or an ISO 8601 string.
    A time without an offset is refused: it would mean a different instant on every host."""
    if isinstance(value, str):
        try:
            value = (date.fromisoformat(value) if len(value) == 10
                     else datetime.fromisoformat(value))
        except ValueError:
            raise InputError(f"{value!r} is not an ISO 8601 date or time") from None
    if not isinstance(value, datetime) and isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, datetime):
        raise InputError(f"expected a datetime or ISO 8601 string, got {type(value).__name__}")
    if value.tzinfo is None:
        raise InputError(f"{value.isoformat()} has no UTC offset; give an aware time "
                         "(e.g. with '+00:00' or 'Z')")
    return value.astimezone(UTC)


def _choice(enum: type[StrEnum], value: object, what: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise InputError(f"{what} {value!r} is not one of {[str(e) for e in enum]}") from None


def category_of(token: str) -> Category | None:
    """The discovery category a ``category:<name>`` token names (None for a column name)."""
    if not token.startswith(CATEGORY_PREFIX):
        return None
    name = token[len(CATEGORY_PREFIX):].upper()
    if name not in Category.__members__:
        raise InputError(f"unknown category token {token!r}; use one of "
                         f"{[CATEGORY_PREFIX + c.lower() for c in Category.__members__]}")
    return Category[name]


def _categories(record: DatasetVersion) -> dict[str, str]:
    return {c["column"]: str(c.get("category")) for c in
            (record.classification or {}).get("columns", [])}


@dataclass(frozen=True)
class Purpose:
    """One registered reason to use personal data (see the module docstring)."""

    name: str
    description: str
    basis: LawfulBasis
    datasets: Mapping[str, tuple[str, ...]]  # dataset -> columns, category tokens or "*"
    operations: frozenset[str]
    consent_required: bool
    retention_days: int | None
    special: SpecialCondition | None = None
    ends: str | None = None  # ISO time the purpose ends (UTC); none of its uses after it

    def __post_init__(self) -> None:
        """Normalise the fields and refuse what is wrong without looking at any data."""
        check_name(self.name, "purpose")
        if not isinstance(self.description, str) or not self.description.strip():
            raise InputError(f"purpose {self.name!r} needs a description of what it is for")
        if not isinstance(self.datasets, Mapping):
            raise InputError("datasets maps each dataset name to its columns or category "
                             "tokens, e.g. {'patients': ['age', 'category:quasi_identifier']}")
        datasets: dict[str, tuple[str, ...]] = {}
        for name, columns in self.datasets.items():
            if not isinstance(columns, list | tuple | set | frozenset) or any(
                    not isinstance(c, str) for c in columns):
                raise InputError(f"the columns of dataset {name!r} are a list of names or "
                                 f"tokens, not {type(columns).__name__}")
            datasets[name] = tuple(dict.fromkeys(columns))
            for token in datasets[name]:
                category_of(token)
        if not isinstance(self.operations, set | frozenset | list | tuple):
            raise InputError(f"the operations of purpose {self.name!r} are a set of names, "
                             f"not {type(self.operations).__name__}")
        operations = frozenset(map(str, self.operations))
        if not operations:
            raise InputError(f"purpose {self.name!r} allows no operation; name at least one of "
                             f"{sorted(OPERATIONS)}")
        unknown = sorted(operations - OPERATIONS)
        if unknown:
            raise InputError(f"purpose {self.name!r} names unknown operation(s) {unknown}; "
                             f"choose from {sorted(OPERATIONS)}")
        days = self.retention_days
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
            raise InputError(f"retention_days is a whole number of days >= 0 or None; got {days!r}")
        fields = {"basis": _choice(LawfulBasis, self.basis, "lawful basis"),
                  "special": None if self.special is None else _choice(
                      SpecialCondition, self.special, "Art. 9(2) condition"),
                  "datasets": datasets, "operations": operations,
                  "ends": None if self.ends is None else instant(self.ends).isoformat(),
                  "consent_required": bool(self.consent_required)}
        for key, value in fields.items():
            object.__setattr__(self, key, value)
        for needs in (LawfulBasis.CONSENT, SpecialCondition.EXPLICIT_CONSENT):
            if needs in (self.basis, self.special) and not self.consent_required:
                raise InputError(f"purpose {self.name!r} rests on {needs}: set "
                                 "consent_required=True so only consenting subjects are used")
        if self.special is None and any(category_of(t) is Category.SENSITIVE
                                        for c in datasets.values() for t in c):
            raise InputError(f"purpose {self.name!r} allows sensitive columns: name the "
                             "Art. 9(2) condition it rests on (special=...)")

    # -- what it allows ---------------------------------------------------------------------
    def columns(self, record: DatasetVersion) -> list[str]:
        """The columns of ``record`` this purpose may use, in the version's order (categories
        resolved from its classification; an unclassified column matches no category)."""
        tokens = set(self.datasets.get(record.dataset, ()))
        if not tokens:
            return []
        if ALL_COLUMNS in tokens:
            return list(record.schema)
        found = _categories(record)
        return [c for c in record.schema
                if c in tokens or f"{CATEGORY_PREFIX}{found.get(c, '')}".lower() in tokens]

    def ended(self, now: datetime | str) -> bool:
        return self.ends is not None and instant(now) >= instant(self.ends)

    def check(self, record: DatasetVersion, operation: str, columns: Iterable[str], *,
              now: datetime | str) -> None:
        """Refuse, naming what is not allowed: the purpose has ended, the dataset is not
        covered, the operation is not allowed, or the columns outside the purpose."""
        if self.ended(now):
            raise AccessDenied(f"purpose {self.name!r} ended on {self.ends}; nothing may be "
                               "done for it any more")
        if record.dataset not in self.datasets:
            raise AccessDenied(f"purpose {self.name!r} does not cover dataset "
                               f"{record.dataset!r}; it covers {sorted(self.datasets)}")
        if str(operation) not in self.operations:
            raise AccessDenied(f"purpose {self.name!r} does not allow {operation}; it allows "
                               f"{sorted(self.operations)}")
        allowed = self.columns(record)
        outside = [c for c in dict.fromkeys(columns) if c not in allowed]
        if outside:
            raise AccessDenied(f"purpose {self.name!r} does not allow column(s) {outside} of "
                               f"{record.ref}; it allows {allowed}")

    # -- storage ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "basis": str(self.basis),
                "special": None if self.special is None else str(self.special),
                "datasets": {d: list(c) for d, c in sorted(self.datasets.items())},
                "operations": sorted(self.operations),
                "consent_required": self.consent_required,
                "retention_days": self.retention_days, "ends": self.ends}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Purpose:
        """A purpose from :meth:`to_dict`'s shape (a stored row, or a JSON file)."""
        if not isinstance(data, Mapping):
            raise InputError(f"a purpose is a mapping of its fields, not {type(data).__name__}")
        missing = sorted(_REQUIRED - set(data))
        extra = sorted(set(data) - _REQUIRED - {"special", "ends"})
        if missing or extra:
            raise InputError(f"a purpose needs the fields {sorted(_REQUIRED)} (and may have "
                             f"'special', 'ends'); missing {missing}, unexpected {extra}")
        return cls(**{**data, "operations": frozenset(data["operations"])})


def _check_against(store: Store, purpose: Purpose) -> None:
    """Datasets and columns that exist, and an Art. 9 condition for sensitive ones."""
    unknown = sorted(set(purpose.datasets) - set(store.dataset_names()))
    if unknown:
        raise InputError(f"purpose {purpose.name!r} names unknown dataset(s) {unknown}; known "
                         f"datasets: {store.dataset_names()}")
    for name, tokens in sorted(purpose.datasets.items()):
        record = store.version(name)
        missing = [t for t in tokens if t != ALL_COLUMNS and category_of(t) is None
                   and t not in record.schema]
        if missing:
            raise InputError(f"purpose {purpose.name!r} names column(s) {missing} that "
                             f"{record.ref} does not have; its columns are {list(record.schema)}")
        found = _categories(record)
        sensitive = [c for c in purpose.columns(record) if found.get(c) == Category.SENSITIVE]
        if sensitive and purpose.special is None:
            raise InputError(f"purpose {purpose.name!r} allows the sensitive column(s) "
                             f"{sensitive} of {record.ref}: name the Art. 9(2) condition it "
                             "rests on (special=...), or leave them out")


def add(store: Store, scope: Scope, purpose: Purpose) -> Purpose:
    """Register ``purpose`` after checking it against the workspace; logged and bound."""
    _check_against(store, purpose)
    definition = purpose.to_dict()
    with store.transaction() as now:
        if store.conn.execute(f"SELECT 1 FROM {TABLE} WHERE name = ?",  # noqa: S608
                              (purpose.name,)).fetchone():
            raise InputError(f"purpose {purpose.name!r} is already registered; a purpose never "
                             "changes (consents were given for what it says): register the "
                             "new use under another name")
        store.conn.execute(f"INSERT INTO {TABLE}(name, definition, created) VALUES (?, ?, ?)",  # noqa: S608
                           (purpose.name, json.dumps(definition), now))
        store.log(now, scope, "govern.purpose.add", purpose.name, definition=definition,
                  bind=binding.bind_table_row(store.conn, TABLE, purpose.name))
    return purpose


def end(store: Store, scope: Scope, name: str, *, on: datetime | date | str) -> Purpose:
    """End a purpose at ``on`` (past or future): from then on nothing may be done for it, and
    retention shreds datasets kept until it ends. An end can be brought forward, never moved
    later (that would revive uses nobody may rely on any more)."""
    when = instant(on)
    with store.transaction() as now:
        current = get(store, name)
        if current.ends is not None and when >= instant(current.ends):
            raise InputError(f"purpose {name!r} already ends on {current.ends}; an end can only "
                             "be brought forward")
        ended = Purpose.from_dict({**current.to_dict(), "ends": when.isoformat()})
        store.conn.execute(f"UPDATE {TABLE} SET definition = ? WHERE name = ?",  # noqa: S608
                           (json.dumps(ended.to_dict()), name))
        store.log(now, scope, "govern.purpose.end", name, ends=ended.ends,
                  bind=binding.bind_table_row(store.conn, TABLE, name))
    return ended


_CHECKED: WeakKeyDictionary[Store, dict[str, tuple[tuple[Any, ...], Purpose]]] = (
    WeakKeyDictionary())


def get(store: Store, name: str) -> Purpose:
    """The registered purpose ``name``, checked against its ledger entry. The guard asks on
    every call, so a row already proven is remembered with its exact content: the same row
    again costs one indexed read, and any change to it is proven afresh."""
    row = store.conn.execute(f"SELECT * FROM {TABLE} WHERE name = ?",  # noqa: S608
                             (name,)).fetchone()
    checked = _CHECKED.setdefault(store, {})
    if row is not None and name in checked and checked[name][0] == tuple(row):
        return checked[name][1]
    binding.check_table_row(store.conn, store.ledger, TABLE, name)
    if row is None:
        known = [r[0] for r in store.conn.execute(f"SELECT name FROM {TABLE} ORDER BY name")]  # noqa: S608
        raise NotFoundError(f"purpose {name!r} is not registered; registered purposes: {known}")
    found = Purpose.from_dict(json.loads(row[1]))
    checked[name] = (tuple(row), found)
    return found


def all(store: Store) -> list[Purpose]:  # shadows the builtin here only: read purposes.all
    """Every registered purpose, each checked against its ledger entry."""
    names = [r[0] for r in store.conn.execute(f"SELECT name FROM {TABLE} ORDER BY name")]  # noqa: S608
    return [get(store, n) for n in names]
