"""Workspace: ingest from every source kind, immutable versions, bad input that changes nothing."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import snapshot
from veil import Workspace
from veil.errors import (
    InputError,
    InvalidNameError,
    MalformedSourceError,
    NotFoundError,
    SchemaError,
    WorkspaceError,
)
from veil.workspace import fingerprint

CSV = "pid,zip,age\nP1,02134,41\nP2,02139,35\nP3,10001,52\n"


def test_ingest_every_source_kind(ws, tmp_path, frame):
    (tmp_path / "a.csv").write_text(CSV)
    frame.write_parquet(tmp_path / "b.parquet")
    v1 = ws.ingest(tmp_path / "a.csv", "csv", subject_id="pid",
                   schema_overrides={"zip": pl.String})
    v2 = ws.ingest(str(tmp_path / "b.parquet"), "pq", subject_id="pid")
    v3 = ws.ingest(frame.to_pandas(), "pandas", subject_id="pid")
    v4 = ws.ingest(frame.lazy(), "lazy", subject_id="pid")
    assert ws.read("csv").get_column("zip").to_list() == ["02134", "02139", "10001"]
    assert v1.provenance["source"] == "csv" and len(v1.provenance["source_sha256"]) == 64
    assert v2.fingerprint == v4.fingerprint == fingerprint(frame)
    assert ws.read("pq").equals(frame) and ws.read("lazy").equals(frame)
    assert v3.rows == frame.height
    assert [v.dataset for v in ws.datasets()] == ["csv", "lazy", "pandas", "pq"]


def test_versions_are_immutable_and_numbered(ws, frame):
    first = ws.ingest(frame, "people", subject_id="pid")
    second = ws.ingest(frame.head(7), "people", subject_id="pid")
    assert (first.version, second.version) == (1, 2)
    assert ws.version("people").version == 2
    assert ws.read("people", 1).equals(frame)
    assert ws.read("people", 2).equals(frame.head(7))
    assert ws.version("people", 1) == first


def test_read_columns_and_logging(ws, frame):
    ws.ingest(frame, "people", subject_id="pid")
    part = ws.for_purpose("research").read("people", columns=["age", "pid"])
    assert part.columns == ["age", "pid"]
    last = list(ws.ledger.entries())[-1]
    assert (last.actor, last.action, last.resource, last.purpose) == (
        "owner", "dataset.read", "people@1", "research")
    assert last.parameters["columns"] == ["age", "pid"]
    with pytest.raises(SchemaError, match="no column"):
        ws.read("people", columns=["ssn"])


def test_types_round_trip_exactly(ws):
    typed = pl.DataFrame({
        "pid": ["a", "b", "c"],
        "born": [dt.date(1950, 1, 2), None, dt.date(2001, 3, 4)],
        "seen": [dt.datetime(2026, 1, 1, 8, 30), dt.datetime(2026, 2, 1), None],
        "flag": [True, None, False],
        "kind": pl.Series(["x", "y", "x"]).cast(pl.Categorical),
        "empty": [None, None, None],
        "n": pl.Series([1, 2, None], dtype=pl.Int16),
        "blob": [b"\x00\x01", None, b""],
    })
    with pytest.warns(UserWarning, match="'blob' .* not scanned"):  # the classifier skips it
        record = ws.ingest(typed, "typed", subject_id="pid")
    back = ws.read("typed")
    assert back.schema["kind"] == pl.String and back.schema["empty"] == pl.String
    assert back.get_column("kind").to_list() == ["x", "y", "x"]
    assert fingerprint(back) == record.fingerprint


def test_fingerprint_is_canonical_and_sensitive(frame):
    assert fingerprint(frame) == fingerprint(pl.concat([frame.head(50), frame.tail(150)]))
    assert fingerprint(frame) == fingerprint(pl.from_pandas(frame.to_pandas()))
    changed = frame.with_columns(pl.when(pl.col("age") == 33).then(34).otherwise(pl.col("age"))
                                 .alias("age"))
    assert fingerprint(changed) != fingerprint(frame)
    assert fingerprint(frame.rename({"age": "Age"})) != fingerprint(frame)
    assert fingerprint(frame.with_columns(pl.col("age").cast(pl.Int32))) != fingerprint(frame)
    nulled = frame.with_columns(pl.col("note").fill_null(""))
    assert fingerprint(nulled) != fingerprint(frame)  # null and "" differ


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=8)), min_size=1, max_size=30),
       st.integers(min_value=0, max_value=29))
def test_fingerprint_ignores_chunking(values, cut):
    series = pl.Series("s", values, dtype=pl.String)
    cut = min(cut, len(values))
    chunked = pl.concat([series[:cut], series[cut:]], rechunk=False)
    assert fingerprint(series.to_frame()) == fingerprint(chunked.to_frame())


BAD_FILES = {
    "ragged_long.csv": (b"pid,age\nP1,3\nP2,4,extra\n", MalformedSourceError, "Expected 2"),
    "ragged_short.csv": (b"pid,age,zip\nP1,3,1\nP2,4\n", MalformedSourceError, "Expected 3"),
    "latin1.csv": ("pid,name\nP1,Jos\xe9\n".encode("latin-1"), MalformedSourceError, "not UTF-8"),
    "empty.csv": (b"", MalformedSourceError, "is empty"),
    "blank.csv": (b"\n\n", MalformedSourceError, "is empty"),
    "header_only.csv": (b"pid,age\n", MalformedSourceError, "no rows"),
    "junk.parquet": (b"PAR1 not really parquet", MalformedSourceError, "not a valid PARQUET"),
    "nulls.csv": (b"pid,age\nP1,3\n,4\n", SchemaError, "1 null value"),
    "nosubject.csv": (b"id,age\nP1,3\n", SchemaError, "'pid' is not in nosubject.csv"),
    "data.xlsx": (b"whatever", InputError, "unknown format"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_fail_closed_and_change_nothing(ws, frame, tmp_path, name):
    ws.ingest(frame, "people", subject_id="pid")
    content, error, message = BAD_FILES[name]
    (tmp_path / name).write_bytes(content)
    before = snapshot(ws)
    with pytest.raises(error, match=message):
        ws.ingest(tmp_path / name, "people", subject_id="pid")
    assert snapshot(ws) == before
    assert ws.read("people").equals(frame)


@pytest.mark.parametrize(("source", "kwargs", "error", "message"), [
    ("frame", {"subject_id": "ssn"}, SchemaError, "columns are: pid"),
    ("nested", {"subject_id": "pid"}, SchemaError, "nested type"),
    ("frame", {"subject_id": "pid", "name": "../etc"}, InvalidNameError, "not allowed"),
    ("frame", {"subject_id": "pid", "name": ""}, InvalidNameError, "not allowed"),
    ("list", {"subject_id": "pid"}, InputError, "cannot ingest a list"),
    ("missing", {"subject_id": "pid"}, NotFoundError, "does not exist"),
    ("empty", {"subject_id": "pid"}, MalformedSourceError, "no rows"),
    ("pandas_bad", {"subject_id": "pid"}, SchemaError, "pandas frame"),
])
def test_bad_arguments_fail_closed(ws, frame, tmp_path, source, kwargs, error, message):
    sources = {
        "frame": frame,
        "nested": pl.DataFrame({"pid": ["a"], "xs": [[1, 2]]}),
        "list": [1, 2],
        "missing": tmp_path / "gone.csv",
        "empty": frame.head(0),
        "pandas_bad": pd.DataFrame({"pid": ["a", "b"], "mixed": [1, "x"]}),
    }
    kwargs = {"name": "people"} | kwargs
    before = snapshot(ws)
    with pytest.raises(error, match=message):
        ws.ingest(sources[source], **kwargs)
    assert snapshot(ws) == before


def test_unknown_dataset_or_version(ws, frame):
    ws.ingest(frame, "people", subject_id="pid")
    with pytest.raises(NotFoundError, match="'nobody' does not exist"):
        ws.read("nobody")
    with pytest.raises(NotFoundError, match=r"no version 9; versions are 1\.\.1"):
        ws.read("people", 9)


def test_create_and_open_refuse_what_is_not_a_workspace(tmp_path, master_key):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="not an empty directory"):
        Workspace.create(tmp_path / "full", master_key=master_key)
    assert (tmp_path / "full" / "x.txt").read_text() == "mine"
    with pytest.raises(NotFoundError, match="no veil workspace"):
        Workspace.open(tmp_path / "nothing", master_key=master_key)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "veil.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(WorkspaceError, match="not a readable veil catalog"):
        Workspace.open(tmp_path / "junk", master_key=master_key)
    Workspace.create(tmp_path / "empty-dir-is-fine", master_key=master_key).close()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_ingest_classifies_and_logs_only_column_names(ws):
    from veil.demo import generate_patients

    frame = generate_patients(1500, seed=3)
    version = ws.ingest(frame, "patients", subject_id="patient_id")
    found = {c["column"]: c["category"] for c in version.classification["columns"]}
    assert found["ssn"] == "DIRECT_IDENTIFIER" and found["zip_code"] == "QUASI_IDENTIFIER"
    assert found["diagnosis_code"] == "SENSITIVE"
    entry = ws.ledger.tail(1)[0]
    summary = entry.parameters["classification"]
    assert "ssn" in summary["DIRECT_IDENTIFIER"]
    assert "NAMES" in " ".join(summary["safe_harbor"]).upper()
    stored = json.dumps(version.classification) + entry.params
    for value in frame.head(50).select("name", "ssn", "email", "phone").to_numpy().ravel():
        assert str(value) not in stored  # findings hold evidence, never values
    plain = ws.ingest(frame.head(10), "patients", subject_id="patient_id", classify=False)
    assert plain.classification is None

