"""Purposes: registration refuses what is wrong (naming it), minimization is enforced, category
tokens resolve from the version's classification, and an edited purpose row is refused.

The helpers here (a store fixture, a patients frame, a purpose) are shared by the consent and
retention tests, which import them.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from veil.access.scope import Scope
from veil.errors import AccessDenied, BoundStateError, InputError, NotFoundError
from veil.govern import purposes
from veil.govern.purposes import LawfulBasis, Purpose, SpecialCondition
from veil.keys import KeySource, MasterKey
from veil.workspace import binding, datasets
from veil.workspace.store import Store

OWNER = Scope("owner", "administration")
NOW = "2025-06-01T12:00:00+00:00"


def open_store(path: Path, master: MasterKey) -> Store:
    return Store.open(path, KeySource(master_key=master), check_ledger=True, witness=())


@pytest.fixture
def master() -> MasterKey:
    return MasterKey(os.urandom(32))


@pytest.fixture
def store(tmp_path: Path, master: MasterKey) -> Iterator[Store]:
    Store.create(tmp_path / "ws", master)
    opened = open_store(tmp_path / "ws", master)
    yield opened
    opened.close()


def patients(n: int = 40, first: int = 0) -> pl.DataFrame:
    """Subject ``pid``, an email (direct identifier), ZIP and age (quasi-identifiers), a
    diagnosis (sensitive) and a visit date ten days apart from 2024-01-01."""
    ids = range(first, first + n)
    return pl.DataFrame({
        "pid": [f"P{i:03d}" for i in ids],
        "email": [f"p{i}@example.org" for i in ids],
        "zip": [f"0{2100 + i % 7}" for i in ids],
        "age": [20 + i for i in ids],
        "diagnosis": [["asthma", "diabetes", "flu"][i % 3] for i in ids],
        "visit": [date(2024, 1, 1) + timedelta(days=10 * i) for i in ids],
    })


def purpose(name: str = "study", **changes: Any) -> Purpose:
    fields: dict[str, Any] = {
        "name": name, "description": "Outcomes research on visits", "basis": LawfulBasis.CONSENT,
        "datasets": {"patients": ("pid", "category:quasi_identifier")},
        "operations": frozenset({"raw_read", "dp_query"}), "consent_required": True,
        "retention_days": 365}
    return Purpose(**(fields | changes))


@pytest.fixture
def patients_store(store: Store) -> Store:
    datasets.ingest(store, OWNER, patients(), "patients", subject_id="pid")
    return store


def refused(exc: pytest.ExceptionInfo[Exception], *named: str) -> str:
    message = str(exc.value)
    for name in named:
        assert name in message, message
    assert "@example.org" not in message and "asthma" not in message
    return message


# -- registration --------------------------------------------------------------------------
def test_register_get_all_and_ledger(patients_store: Store) -> None:
    added = purposes.add(patients_store, OWNER, purpose())
    assert purposes.get(patients_store, "study") == added
    assert [p.name for p in purposes.all(patients_store)] == ["study"]
    entry = patients_store.ledger.tail(1)[0]
    assert entry.action == "govern.purpose.add"
    assert entry.parameters["definition"]["basis"] == "consent"
    assert Purpose.from_dict(added.to_dict()) == added
    assert binding.verify(patients_store.conn) > 0


def test_from_dict_names_missing_and_unexpected_fields() -> None:
    data = purpose().to_dict()
    del data["basis"]
    with pytest.raises(InputError) as exc:
        Purpose.from_dict(data | {"colour": "blue"})
    refused(exc, "missing ['basis']", "unexpected ['colour']")


def test_unknown_purpose_names_the_registered_ones(patients_store: Store) -> None:
    purposes.add(patients_store, OWNER, purpose())
    with pytest.raises(NotFoundError) as exc:
        purposes.get(patients_store, "marketing")
    refused(exc, "'marketing'", "['study']")


@pytest.mark.parametrize(("changes", "named"), [
    ({"consent_required": False}, ["consent_required=True"]),
    ({"basis": "gut feeling"}, ["'gut feeling'", "legitimate_interests"]),
    ({"operations": frozenset({"raw_read", "sell"})}, ["['sell']"]),
    ({"operations": frozenset()}, ["no operation"]),
    ({"datasets": {"patients": ("category:secret",)}}, ["'category:secret'"]),
    ({"datasets": {"patients": "pid,zip"}}, ["'patients'", "list"]),
    ({"datasets": {"patients": ("category:sensitive",)}}, ["Art. 9(2)"]),
    ({"retention_days": -1}, ["retention_days"]),
    ({"operations": "raw_read"}, ["set of names"]),
    ({"datasets": {"patients": 3}}, ["'patients'", "int"]),
    ({"name": "bad name"}, ["'bad name'"]),
    ({"basis": LawfulBasis.CONTRACT, "special": SpecialCondition.EXPLICIT_CONSENT,
      "consent_required": False}, ["explicit_consent"]),
])
def test_malformed_purposes_are_refused(changes: dict[str, Any], named: list[str]) -> None:
    with pytest.raises(InputError) as exc:
        purpose(**changes)
    refused(exc, *named)


@pytest.mark.parametrize(("datasets_", "named"), [
    ({"patients": ("pid",), "visits": ("*",)}, ["['visits']", "['patients']"]),
    ({"patients": ("pid", "height", "weight")}, ["['height', 'weight']", "patients@1"]),
    ({"patients": ("pid", "diagnosis")}, ["['diagnosis']", "Art. 9(2)"]),
    ({"patients": ("*",)}, ["['diagnosis']"]),
])
def test_registration_checks_the_workspace(patients_store: Store, datasets_: dict[str, Any],
                                           named: list[str]) -> None:
    size = patients_store.ledger.size
    with pytest.raises(InputError) as exc:
        purposes.add(patients_store, OWNER, purpose(datasets=datasets_))
    refused(exc, *named)
    assert patients_store.ledger.size == size
    assert purposes.all(patients_store) == []


def test_sensitive_columns_with_an_art9_condition(patients_store: Store) -> None:
    health = purpose("care", basis=LawfulBasis.PUBLIC_TASK, consent_required=False,
                     special=SpecialCondition.HEALTH_CARE,
                     datasets={"patients": ("pid", "diagnosis")})
    assert purposes.add(patients_store, OWNER, health).special is SpecialCondition.HEALTH_CARE


def test_a_purpose_never_changes(patients_store: Store) -> None:
    purposes.add(patients_store, OWNER, purpose())
    with pytest.raises(InputError) as exc:
        purposes.add(patients_store, OWNER, purpose(description="something else"))
    refused(exc, "already registered")


# -- minimization ---------------------------------------------------------------------------
def test_category_tokens_resolve_from_the_classification(patients_store: Store) -> None:
    record = patients_store.version("patients")
    assert purpose().columns(record) == ["pid", "zip", "age", "visit"]
    everything = purpose(datasets={"patients": ("*",)}, special=SpecialCondition.RESEARCH)
    assert everything.columns(record) == list(record.schema)
    contact = purpose(datasets={"patients": ("category:direct_identifier",)})
    assert contact.columns(record) == ["email"]
    assert purpose(datasets={"other": ("*",)}).columns(record) == []


def test_check_refuses_other_columns_naming_them(patients_store: Store) -> None:
    record = patients_store.version("patients")
    study = purposes.add(patients_store, OWNER, purpose())
    study.check(record, "raw_read", ["pid", "age"], now=NOW)
    with pytest.raises(AccessDenied) as exc:
        study.check(record, "raw_read", ["age", "email", "diagnosis"], now=NOW)
    message = refused(exc, "['email', 'diagnosis']", "'study'")
    assert exc.value.code == "access.denied"
    assert "'age'" not in message.split("it allows")[0]


def test_check_refuses_operation_dataset_and_ended(patients_store: Store) -> None:
    record = patients_store.version("patients")
    datasets.ingest(patients_store, OWNER, patients(5), "visits", subject_id="pid")
    study = purposes.add(patients_store, OWNER, purpose())
    with pytest.raises(AccessDenied) as exc:
        study.check(record, "release", ["pid"], now=NOW)
    refused(exc, "release", "['dp_query', 'raw_read']")
    with pytest.raises(AccessDenied) as exc:
        study.check(patients_store.version("visits"), "raw_read", ["pid"], now=NOW)
    refused(exc, "'visits'", "['patients']")
    ended = purposes.end(patients_store, OWNER, "study", on="2025-03-01")
    assert ended.ends == "2025-03-01T00:00:00+00:00"
    ended.check(record, "raw_read", ["pid"], now="2025-02-28T23:59:59Z")
    with pytest.raises(AccessDenied) as exc:
        purposes.get(patients_store, "study").check(record, "raw_read", ["pid"], now=NOW)
    refused(exc, "ended on 2025-03-01")
    assert patients_store.ledger.tail(1)[0].action == "govern.purpose.end"


def test_an_end_only_moves_forward(patients_store: Store) -> None:
    purposes.add(patients_store, OWNER, purpose())
    purposes.end(patients_store, OWNER, "study", on="2025-03-01T00:00:00Z")
    with pytest.raises(InputError):
        purposes.end(patients_store, OWNER, "study", on="2026-01-01")
    assert purposes.end(patients_store, OWNER, "study", on="2025-02-01").ends.startswith(
        "2025-02-01")
    with pytest.raises(InputError) as exc:
        purposes.end(patients_store, OWNER, "study", on="2025-01-01T00:00:00")
    refused(exc, "UTC offset")
    with pytest.raises(NotFoundError):
        purposes.end(patients_store, OWNER, "nothing", on="2025-01-01")


# -- bound rows -----------------------------------------------------------------------------
def test_an_edited_purpose_row_is_refused(patients_store: Store, tmp_path: Path) -> None:
    purposes.add(patients_store, OWNER, purpose())
    wider = purpose(datasets={"patients": ("*",)}, special=SpecialCondition.RESEARCH)
    with sqlite3.connect(tmp_path / "ws" / Store.CATALOG) as raw:
        raw.execute("UPDATE purposes SET definition = ?", (
            json.dumps(wider.to_dict()),))
    with pytest.raises(BoundStateError):
        purposes.get(patients_store, "study")
    with pytest.raises(BoundStateError):
        binding.verify(patients_store.conn)


def test_a_purpose_row_inserted_by_hand_is_refused(patients_store: Store,
                                                   tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "ws" / Store.CATALOG) as raw:
        raw.execute("INSERT INTO purposes VALUES ('study', ?, '2025-01-01')", (
            json.dumps(purpose().to_dict()),))
    with pytest.raises(BoundStateError):
        purposes.all(patients_store)
    with pytest.raises(BoundStateError):
        binding.verify(patients_store.conn)
