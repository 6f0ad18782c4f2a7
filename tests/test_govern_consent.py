"""Consent: history, the filter at different moments, unknown subjects, file imports, no subject
id in the catalog or the ledger, snapshot rotation, erasure and edited rows caught."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest

from test_govern_purposes import OWNER, master, open_store, patients, purpose, store  # noqa: F401
from veil.access.scope import Scope
from veil.errors import BoundStateError, InputError, NotFoundError, SchemaError
from veil.govern import consent, purposes
from veil.workspace import binding, datasets
from veil.workspace.store import Store

T0, T1, T2, T3 = ("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z",
                  "2024-04-01T00:00:00Z")


def event(subject: str | int, state: str, at: str, purpose: str = "study") -> dict:
    return {"subject": subject, "purpose": purpose, "state": state, "at": at,
            "source": "web-form", "notice": "v2"}


@pytest.fixture
def ws(store: Store) -> Store:  # noqa: F811
    datasets.ingest(store, OWNER, patients(10), "patients", subject_id="pid")
    purposes.add(store, OWNER, purpose())
    return store


def kept(ws: Store, at: str, name: str = "study") -> list[str]:
    frame = datasets.read(ws, OWNER, ws.version("patients"), ["pid"])
    return consent.filter_for(ws, name, at=at)(frame, "pid")["pid"].to_list()


def test_give_withdraw_regive_and_the_filter_over_time(ws: Store) -> None:
    report = consent.record(ws, OWNER, [event("P001", "given", T0), event("P002", "given", T0),
                                        event("P001", "withdrawn", T1)])
    assert (report.events, report.subjects, report.unknown) == (3, 2, {"study": 0})
    consent.record(ws, OWNER, [event("P001", "given", T2)])
    assert kept(ws, "2023-12-31T23:59:59Z") == []
    assert kept(ws, T0) == ["P001", "P002"]
    assert kept(ws, "2024-01-15T00:00:00Z") == ["P001", "P002"]
    assert kept(ws, T1) == ["P002"]
    assert kept(ws, T3) == ["P001", "P002"]
    history = consent.history(ws, OWNER, "P001")
    assert [(e.state, e.at) for e in history] == [
        ("given", "2024-01-01T00:00:00.000000+00:00"),
        ("withdrawn", "2024-02-01T00:00:00.000000+00:00"),
        ("given", "2024-03-01T00:00:00.000000+00:00")]
    assert {(e.subject, e.purpose, e.source, e.notice) for e in history} == {
        ("P001", "study", "web-form", "v2")}
    assert consent.history(ws, OWNER, "P001", "study") == history
    assert consent.history(ws, OWNER, "P009") == []


def test_a_back_dated_withdrawal_wins_over_a_later_recorded_order(ws: Store) -> None:
    consent.record(ws, OWNER, [event("P001", "given", T0)])
    consent.record(ws, OWNER, [event("P001", "withdrawn", T1)])
    consent.record(ws, OWNER, [event("P001", "given", "2024-01-15T00:00:00Z")])
    assert kept(ws, "2024-01-20T00:00:00Z") == ["P001"]
    assert kept(ws, T2) == []


def test_state_changes_with_every_change_and_scope_logs_left_out(ws: Store) -> None:
    first = consent.filter_for(ws, "study", at=T3)
    consent.record(ws, OWNER, [event(f"P00{i}", "given", T0) for i in range(8)])
    second = consent.filter_for(ws, "study", at=T3)
    assert consent.filter_for(ws, "study", at="2024-03-02T00:00:00Z").state == second.state
    consent.record(ws, OWNER, [event("P003", "withdrawn", T1)])
    third = consent.filter_for(ws, "study", at=T3)
    assert len({first.state, second.state, third.state}) == 3
    assert consent.filter_for(ws, "study", at=T0).state != third.state  # fewer events in force
    scope = Scope("ana", "study", third)
    frame = datasets.read(ws, scope, ws.version("patients"), ["pid", "age"])
    assert frame.height == 7 and "P003" not in frame["pid"].to_list()
    assert ws.ledger.tail(1)[0].parameters["consent_left_out"] == 3


def test_a_cached_mask_is_reused_only_for_the_same_ids(ws: Store) -> None:
    consent.record(ws, OWNER, [event("P001", "given", T0), event("P004", "given", T0)])
    rows = consent.filter_for(ws, "study", at=T1)
    first = pl.DataFrame({"pid": ["P001", "P002", "P004"], "n": [1, 2, 3]})
    other = pl.DataFrame({"pid": ["P003", "P004", "P001"], "n": [1, 2, 3]})
    for _ in range(2):
        assert rows(first, "pid")["n"].to_list() == [1, 3]
        assert rows(other, "pid")["n"].to_list() == [2, 3]
        again = consent.filter_for(ws, "study", at=T2)  # same state: shares the masks
        assert again.state == rows.state
        assert again(first, "pid")["n"].to_list() == [1, 3]


def test_integer_and_text_ids_match(store: Store) -> None:  # noqa: F811
    datasets.ingest(store, OWNER, pl.DataFrame({"pid": [7, 8, 9], "age": [30, 40, 50]}),
                    "patients", subject_id="pid", schema_overrides={"pid": pl.Int64})
    purposes.add(store, OWNER, purpose(datasets={"patients": ("pid", "age")}))
    report = consent.record(store, OWNER, [event("7", "given", T0), event(9, "given", T0),
                                           event(10, "given", T0)])
    assert report.unknown == {"study": 1}
    frame = datasets.read(store, OWNER, store.version("patients"), ["pid", "age"])
    assert consent.filter_for(store, "study", at=T1)(frame, "pid")["pid"].to_list() == [7, 9]


def test_unknown_subjects_are_kept_and_reported(ws: Store) -> None:
    report = consent.record(ws, OWNER, [event("P001", "given", T0), event("X1", "given", T0),
                                        event("X2", "withdrawn", T0), event("X1", "given", T1)])
    assert report.unknown == {"study": 2}
    assert ws.ledger.find("govern.consent.record", "consent").parameters[
        "unknown_subjects"] == {"study": 2}
    assert len(consent.history(ws, OWNER, "X1")) == 2


def test_unknown_purpose_is_refused_and_nothing_changes(ws: Store) -> None:
    size = ws.ledger.size
    with pytest.raises(NotFoundError) as exc:
        consent.record(ws, OWNER, [event("P001", "given", T0),
                                   event("P002", "given", T0, purpose="ads")])
    assert "['ads']" in str(exc.value) and "P00" not in str(exc.value)
    with pytest.raises(NotFoundError):
        consent.filter_for(ws, "ads", at=T0)
    assert ws.ledger.size == size
    assert ws.conn.execute("SELECT COUNT(*) FROM consent_events").fetchone() == (0,)


@pytest.mark.parametrize(("events", "error", "named"), [
    ([event("P001", "maybe", T0)], SchemaError, ["'state'", "[0]"]),
    ([event("P001", "given", "2024-01-01T10:00:00")], SchemaError, ["'at'", "UTC offset"]),
    ([event("P001", "given", T0), event(None, "given", T0)], SchemaError, ["'subject'", "[1]"]),
    ([event(1.5, "given", T0)], InputError, ["float"]),
    ([], InputError, ["no consent events"]),
    ([{"subject": "P001", "purpose": "study"}], InputError, ["[0]"]),
    (pl.DataFrame({"subject": ["P001"], "purpose": ["study"], "state": ["given"],
                   "at": [T0], "source": ["x"], "notice": ["v1"], "email": ["a@b.org"]}),
     SchemaError, ["['email']"]),
])
def test_bad_events_are_refused_without_values(ws: Store, events: object,
                                               error: type[Exception], named: list[str]) -> None:
    size = ws.ledger.size
    with pytest.raises(error) as exc:
        consent.record(ws, OWNER, events)
    for name in named:
        assert name in str(exc.value), exc.value
    assert "P001" not in str(exc.value) and "a@b.org" not in str(exc.value)
    assert ws.ledger.size == size


def test_import_csv_and_parquet(ws: Store, tmp_path: Path) -> None:
    csv = tmp_path / "consents.csv"
    csv.write_text("subject,purpose,state,at,source,notice\n"
                   "P001,study,given,2024-01-01,paper,v1\n"
                   "P002,study,GIVEN,2024-01-01T08:00:00+01:00,paper,v1\n"
                   "P010,study,given,2024-01-01,paper,v1\n")
    report = consent.import_file(ws, OWNER, csv)
    assert (report.events, report.unknown) == (3, {"study": 1})
    entry = ws.ledger.find("govern.consent.record", "consent")
    assert entry.parameters["file"] == "consents.csv" and len(entry.parameters["sha256"]) == 64
    parquet = tmp_path / "withdrawals.parquet"
    pl.DataFrame({"subject": ["P002"], "purpose": ["study"], "state": ["withdrawn"],
                  "at": [T1], "source": ["email"], "notice": ["v1"]}).write_parquet(parquet)
    consent.import_file(ws, OWNER, parquet)
    assert kept(ws, T0) == ["P001"]  # P002 gave consent at 07:00 UTC
    assert kept(ws, "2024-01-02T00:00:00Z") == ["P001", "P002"]
    assert kept(ws, T2) == ["P001"]
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,purpose\nP001,study,extra\n")
    with pytest.raises(InputError):
        consent.import_file(ws, OWNER, bad)
    with pytest.raises(NotFoundError):
        consent.import_file(ws, OWNER, tmp_path / "missing.csv")


def test_no_subject_id_in_the_catalog_or_the_ledger(ws: Store, tmp_path: Path) -> None:
    ids = ["SUBJ-7Q3ZK", "SUBJ-X9PLM", "P004"]
    consent.record(ws, OWNER, [event(i, "given", T0) for i in ids])
    consent.record(ws, OWNER, [event(ids[0], "withdrawn", T1)])
    consent.history(ws, OWNER, ids[1])
    consent.forget(ws, OWNER, ids[2])
    ws.checkpoint()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "ws").glob("veil.db*"))
    for subject in ids:
        assert subject.encode() not in raw
    ledger = " ".join(e.params for e in ws.ledger.entries())
    assert not any(subject in ledger for subject in ids)
    stored = {r[0] for r in ws.conn.execute("SELECT subject FROM consent_events")}
    assert len(stored) == 3 and all(len(s) == 64 for s in stored)


def test_snapshot_rotation_shreds_the_old_key(ws: Store) -> None:
    consent.record(ws, OWNER, [event("P001", "given", T0)])
    old_file, old_key = ws.conn.execute("SELECT file, key_id FROM consent_snapshots").fetchone()
    consent.record(ws, OWNER, [event("P002", "given", T0)])
    new_file, new_key = ws.conn.execute("SELECT file, key_id FROM consent_snapshots").fetchone()
    assert new_key != old_key
    assert ws.conn.execute("SELECT wrapped IS NULL, destroyed IS NOT NULL FROM keys WHERE "
                           "key_id = ?", (old_key,)).fetchone() == (1, 1)
    folder = ws.vault.root / "consent"
    assert sorted(p.name for p in folder.glob("*.vlt")) == [new_file]
    assert old_file != new_file
    entry = ws.ledger.find("govern.consent.snapshot", "study", shredded=old_key)
    assert entry is not None


def test_forget_removes_the_subject_from_every_snapshot(ws: Store) -> None:
    purposes.add(ws, OWNER, purpose("followup"))
    consent.record(ws, OWNER, [event("P001", "given", T0), event("P002", "given", T0),
                               event("P001", "given", T0, purpose="followup")])
    assert consent.forget(ws, OWNER, "P001") == 2
    assert kept(ws, T1) == ["P002"] and kept(ws, T1, "followup") == []
    assert len(consent.history(ws, OWNER, "P001")) == 2  # the keyed-hash history stays
    assert consent.forget(ws, OWNER, "P001") == 0
    assert ws.ledger.tail(1)[0].parameters == {"snapshots": 0}
    assert binding.verify(ws.conn) > 0


def test_edited_consent_rows_are_detected(ws: Store, tmp_path: Path) -> None:
    consent.record(ws, OWNER, [event("P001", "withdrawn", T0), event("P002", "given", T0)])
    assert binding.verify(ws.conn) > 0
    db = tmp_path / "ws" / Store.CATALOG
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE consent_events SET state = 'given' WHERE id = 1")
    with pytest.raises(BoundStateError) as exc:
        binding.verify(ws.conn)
    assert "consent_events" in str(exc.value)
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE consent_events SET state = 'withdrawn' WHERE id = 1")
        raw.execute("INSERT INTO consent_events SELECT 3, subject, purpose, 'given', at, "
                    "source, notice, recorded FROM consent_events WHERE id = 1")
    with pytest.raises(BoundStateError):
        binding.verify(ws.conn)
    with sqlite3.connect(db) as raw:
        raw.execute("DELETE FROM consent_events WHERE id = 3")
    binding.verify(ws.conn)
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE consent_snapshots SET events = 1")
    with pytest.raises(BoundStateError):
        consent.filter_for(ws, "study", at=T1)
    with pytest.raises(BoundStateError):
        binding.verify(ws.conn)


def test_reopened_store_reads_the_sealed_snapshot(ws: Store, tmp_path: Path,
                                                   master) -> None:  # noqa: F811
    consent.record(ws, OWNER, [event("P001", "given", T0), event("P005", "given", T0)])
    again = open_store(tmp_path / "ws", master)
    try:
        frame = datasets.read(again, OWNER, again.version("patients"), ["pid"])
        rows = consent.filter_for(again, "study", at=T1)
        assert rows(frame, "pid")["pid"].to_list() == ["P001", "P005"]
        assert rows.state == consent.filter_for(ws, "study", at=T1).state
    finally:
        again.close()
