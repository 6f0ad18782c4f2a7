"""Data subject requests: erasure leaves no readable byte of the subject anywhere (versions,
releases, token maps, consent, catalog, ledger) and returns a verifiable receipt; DP artifacts
are flagged as bounded and the others as stale; a concurrent ingest is neither lost nor left
holding the subject; access exports everything held; rectification makes a corrected version;
bad requests change nothing and no error or ledger entry carries a subject's value."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from conftest import snapshot
from veil import Workspace
from veil.errors import (
    AccessDenied,
    BoundStateError,
    InputError,
    NotFoundError,
    SchemaError,
    WorkspaceBusyError,
)
from veil.govern import Purpose, consent, dsar
from veil.ledger import proof_from_dict, verify_inclusion

SUBJECT, NAME, SSN, EMAIL = "P0042", "Zebulon Quixotic-Farnsworth", "536-22-8417", \
    "zebulon.qf@example.org"
FIRST = ["Ann", "Bob", "Cara", "Dev", "Eli", "Fay", "Gus", "Hal"]
LAST = ["Stone", "Reed", "Lane", "Moss", "Hart", "Wolfe", "Park", "Cole", "Frost", "Nash", "Rowe"]


def people(n: int = 120) -> pl.DataFrame:
    """Patients with direct identifiers; ``SUBJECT`` has a name, SSN and email nobody shares."""
    mine = pl.col("pid") == SUBJECT
    return pl.DataFrame({
        "pid": [f"P{i:04d}" for i in range(n)],
        "name": [f"{FIRST[i % 8]} {LAST[i % 11]}" for i in range(n)],
        "ssn": [f"{101 + i:03d}-{11 + i % 80:02d}-{1001 + i:04d}" for i in range(n)],
        "email": [f"user{i}@example.com" for i in range(n)],
        "zip": [f"0{2100 + i % 7}" for i in range(n)],
        "age": [20 + i % 60 for i in range(n)],
        "score": [float(i % 50) for i in range(n)],
        "label": [int(i % 50 > 24) for i in range(n)],
    }).with_columns(pl.when(mine).then(pl.lit(value)).otherwise(column).alias(column)
                    for column, value in (("name", NAME), ("ssn", SSN), ("email", EMAIL)))


NEEDLES = [value.encode() for value in (SUBJECT, NAME, SSN, EMAIL)]


def readable(ws: Workspace) -> dict[str, bytes]:
    """Every byte a workspace still lets anyone read: its files (after folding the WAL) and
    every live version and consent snapshot decrypted through the store."""
    store = ws._store
    store.checkpoint()
    found = {str(p.relative_to(ws.path)): p.read_bytes() for p in ws.path.rglob("*")
             if p.is_file()}
    for name in store.dataset_names():
        for record in store.versions(name):
            if record.destroyed is None:
                found[record.ref] = store.open_version(record).write_csv().encode()
    vault = consent._vault(store)
    for purpose, file, key_id in store.conn.execute(
            "SELECT purpose, file, key_id FROM consent_snapshots"):
        found[f"consent:{purpose}"] = vault.open(file, store.ring.data_key(key_id),
                                                 key_id).write_csv().encode()
    return found


def holding(ws: Workspace) -> set[str]:
    return {where for where, data in readable(ws).items()
            if any(needle in data for needle in NEEDLES)}


def study() -> Purpose:
    return Purpose("study", "consented research", "consent", {"patients": ("*",)},
                   frozenset({"dp_query"}), True, None)


def test_erasure_leaves_no_readable_byte_of_the_subject(ws, tmp_path) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    ws.pseudonymize("patients", ["name", "ssn", "email"], reversible=True)
    ws.safe_harbor("patients")
    ws.anonymize("patients", ["zip", "age"], k=5, suppression_limit=0.2)
    ws.dp_settings("patients", bounds={"age": (0, 100), "score": (0, 100)},
                   public_keys={"label": [0, 1]})
    ws.set_budget("patients", epsilon=10.0, delta=1e-4)
    ws.query(f"SELECT COUNT(*) FROM patients WHERE ssn = '{SSN}'", epsilon=0.5)
    model = ws.train("patients", target="label", features=["age", "score"], epsilon=2.0,
                     delta=1e-5, model="logreg", epochs=1, batch_size=32, seed=0)
    ws.purposes.add(study())
    ws.consent.give(SUBJECT, "study", source="form", notice="v1")
    assert {"patients@1", "patients.pseudonymized.tokens@1", "patients.safe_harbor.tokens@1",
            "consent:study"} <= holding(ws)  # the scan sees the subject where they are

    receipt = ws.requests.erase(SUBJECT)

    assert holding(ws) == set()
    assert ws.verify().bound > 0
    verify_inclusion(proof_from_dict(receipt.proof), bytes.fromhex(
        (ws.path / Workspace.PUBLIC_KEY).read_text()))
    entry = receipt.proof["entry"]
    assert entry["action"] == "govern.dsar.erase" and entry["params"]["subject"] == (
        receipt.subject) and SUBJECT not in json.dumps(entry)
    assert receipt.held and receipt.consent_snapshots == 1
    assert {d.dataset: (d.made, d.shredded) for d in receipt.datasets} == {
        "patients": (("patients@2",), ("patients@1",)),
        "patients.pseudonymized": (
            ("patients.pseudonymized.tokens@2", "patients.pseudonymized@2"),
            ("patients.pseudonymized@1", "patients.pseudonymized.tokens@1")),
        "patients.safe_harbor": (
            ("patients.safe_harbor.tokens@2", "patients.safe_harbor@2"),
            ("patients.safe_harbor@1", "patients.safe_harbor.tokens@1"))}
    flags = {(f.kind, f.name, f.effect) for f in receipt.flags}
    assert flags == {("dp_release", "patients", dsar.DP_BOUNDED),
                     ("model", model.name, dsar.DP_BOUNDED),
                     ("release", "patients.anonymized", dsar.STALE),
                     ("release", "patients.pseudonymized", dsar.ERASED),
                     ("release", "patients.safe_harbor", dsar.ERASED)}
    bounded = {f.kind: f.privacy for f in receipt.flags if f.effect == dsar.DP_BOUNDED}
    assert bounded["dp_release"] == {"epsilon": 0.5}
    assert bounded["model"]["epsilon"] == pytest.approx(model.meta["privacy"]["epsilon"])
    shown = ws.requests.status(receipt.request_id)
    assert (shown.kind, shown.state, shown.flags) == ("erase", "done", receipt.flags)
    # the re-sealed release is still a reversible release, without the subject's tokens
    assert ws.read("patients.pseudonymized").height == people().height - 1
    token = ws.read("patients.pseudonymized", columns=["name"])["name"][0]
    assert len(ws.for_purpose("follow-up").reidentify("patients.pseudonymized", [token])) == 1
    assert ws.read("patients").height == people().height - 1


def test_a_subject_held_nowhere_gets_a_logged_receipt(ws) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    versions = [(v.ref, v.destroyed) for v in ws.versions("patients")]
    receipt = ws.requests.erase("P9999")
    assert (receipt.held, receipt.datasets, receipt.flags) == (False, (), ())
    verify_inclusion(proof_from_dict(receipt.proof), ws.ledger.key)
    assert [(v.ref, v.destroyed) for v in ws.versions("patients")] == versions
    assert ws.requests.status(receipt.request_id).summary["held"] is False


def test_integer_and_text_ids_match_and_older_versions_are_shredded(ws) -> None:
    frame = people().with_columns(pl.int_range(pl.len()).alias("pid"))
    ws.ingest(frame, "patients", subject_id="pid")  # v1 holds 42
    ws.ingest(frame.filter(pl.col("pid") != 42), "patients", subject_id="pid")  # v2 does not
    assert ws.requests.access("42").rows["patients"][1]["pid"].to_list() == [42]
    receipt = ws.requests.erase(42)
    assert [(d.made, d.shredded) for d in receipt.datasets] == [((), ("patients@1",))]
    assert [v.destroyed is not None for v in ws.versions("patients")] == [True, False]
    assert ws.read("patients").height == frame.height - 1


def test_a_tokenized_subject_id_is_found_through_the_map_or_marked_stale(ws) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    ws.pseudonymize("patients", ["pid", "name"], reversible=True, output="mapped")
    ws.pseudonymize("patients", ["pid", "name"], output="blind")
    receipt = ws.requests.erase(SUBJECT)
    assert {d.dataset for d in receipt.datasets} == {"patients", "mapped"}
    assert {(f.name, f.effect) for f in receipt.flags} == {("mapped", dsar.ERASED),
                                                           ("blind", dsar.STALE)}
    assert ws.read("mapped").height == people().height - 1
    assert ws.read("blind").height == people().height  # not searchable: stale, not touched


def test_a_concurrent_ingest_is_kept_and_erased_too(ws, master_key, monkeypatch) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    plan = dsar._plan
    calls = []

    def racing(store, dataset, text):
        planned = plan(store, dataset, text)
        if not calls:  # between the first plan and its write lock, another process ingests
            with Workspace.open(ws.path, master_key=master_key) as other:
                other.ingest(people(150), "patients", subject_id="pid")
        calls.append(dataset)
        return planned

    monkeypatch.setattr(dsar, "_plan", racing)
    receipt = ws.requests.erase(SUBJECT)
    assert calls == ["patients", "patients"]  # planned again after the ingest
    assert [(d.made, d.shredded) for d in receipt.datasets] == [
        (("patients@3",), ("patients@1", "patients@2"))]
    newest = ws.read("patients")
    assert newest.height == 149 and SUBJECT not in newest["pid"].to_list()
    assert newest.equals(people(150).filter(pl.col("pid") != SUBJECT))


def test_a_dataset_that_keeps_changing_is_left_alone(ws, master_key, monkeypatch) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    plan = dsar._plan

    def racing(store, dataset, text):
        planned = plan(store, dataset, text)
        with Workspace.open(ws.path, master_key=master_key) as other:
            other.ingest(people(), "patients", subject_id="pid")
        return planned

    monkeypatch.setattr(dsar, "_plan", racing)
    with pytest.raises(WorkspaceBusyError, match="changed 3 times") as exc:
        ws.requests.erase(SUBJECT)
    assert SUBJECT not in str(exc.value)
    assert [(v.version, v.destroyed, v.provenance.get("dsar")) for v in ws.versions(
        "patients")] == [(v, None, None) for v in range(1, 5)]
    running = ws._store.conn.execute("SELECT request_id, state FROM dsar_requests").fetchall()
    assert [state for _, state in running] == ["running"]
    assert ws.requests.status(running[0][0]).state == "running"


def test_access_exports_everything_held_and_logs_only_a_hash(ws, tmp_path) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    ws.ingest(people(60), "patients", subject_id="pid")
    ws.pseudonymize("patients", ["name"], reversible=True)
    ws.purposes.add(study())
    ws.consent.give(SUBJECT, "study", source="form", notice="v1")
    out = tmp_path / "export"
    out.mkdir()
    report = ws.requests.access(SUBJECT, out_dir=out)
    assert {n: sorted(v) for n, v in report.rows.items()} == {
        "patients": [1, 2], "patients.pseudonymized": [1],
        "patients.pseudonymized.tokens": [1]}
    assert report.rows["patients"][2]["email"].to_list() == [EMAIL]
    assert report.rows["patients.pseudonymized.tokens"][1]["value"].to_list() == [NAME]
    assert [e.purpose for e in report.consents] == ["study"]
    assert [p.name for p in report.purposes] == ["study"]
    assert {(a.kind, a.name) for a in report.artifacts} == {
        ("release", "patients.pseudonymized"), ("token_map", "patients.pseudonymized.tokens")}
    names = sorted(p.name for p in report.files)
    assert names == sorted([f"{report.request_id}.json", f"{report.request_id}-patients.csv",
                            f"{report.request_id}-patients.pseudonymized.csv",
                            f"{report.request_id}-patients.pseudonymized.tokens.csv"])
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in report.files)
    exported = json.loads((out / f"{report.request_id}.json").read_text())
    assert exported["datasets"]["patients"]["1"][0]["ssn"] == SSN
    table = pl.read_csv(out / f"{report.request_id}-patients.csv")
    assert table["dataset_version"].to_list() == [1, 2] and set(table["name"]) == {NAME}
    entry = ws.ledger.tail(1)[0]
    assert (entry.action, entry.resource) == ("govern.dsar.access", report.request_id)
    assert entry.parameters["subject"] == dsar.subject_hash(ws._store, SUBJECT)
    assert not any(needle.decode() in e.params for e in ws.ledger.entries()
                   for needle in NEEDLES)


def test_rectification_is_a_corrected_version_logged_without_values(ws) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    done = ws.requests.rectify(SUBJECT, "patients", {"email": "z@example.net", "age": 61})
    assert (done.version, done.rows, done.columns) == ("patients@2", 1, ("email", "age"))
    before, after = ws.read("patients", 1), ws.read("patients", 2)
    mine = pl.col("pid") == SUBJECT
    assert after.filter(mine).select("email", "age").row(0) == ("z@example.net", 61)
    assert after.filter(~mine).equals(before.filter(~mine))
    assert after.schema == before.schema
    assert ws.version("patients").provenance["dsar"] == {"request": done.request_id,
                                                          "replaces": "patients@1"}
    assert not any("z@example.net" in e.params or SUBJECT in e.params
                   for e in ws.ledger.entries())
    assert ws.requests.status(done.request_id).summary["columns"] == ["email", "age"]


@pytest.mark.parametrize(("call", "error", "named"), [
    (lambda r: r.erase(3.5), InputError, "whole number"),
    (lambda r: r.rectify(SUBJECT, "patients", {"height": 2}), SchemaError, "'height'"),
    (lambda r: r.rectify(SUBJECT, "patients", {"age": "sixty"}), SchemaError, "'age'"),
    (lambda r: r.rectify(SUBJECT, "patients", {"pid": "P1"}), InputError, "'pid'"),
    (lambda r: r.rectify(SUBJECT, "patients", {}), InputError, "changes"),
    (lambda r: r.rectify("P9999", "patients", {"age": 3}), NotFoundError, "no rows"),
    (lambda r: r.rectify(SUBJECT, "patients.pseudonymized", {"age": 3}), InputError,
     "release"),
    (lambda r: r.rectify(SUBJECT, "nowhere", {"age": 3}), NotFoundError, "'nowhere'"),
    (lambda r: r.status("dsar-0"), NotFoundError, "dsar-0"),
    (lambda r: r.access(SUBJECT, out_dir="/nonexistent/dir"), NotFoundError, "directory"),
])
def test_bad_requests_change_nothing(ws, call, error: type[Exception], named: str) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    ws.pseudonymize("patients", ["name"])
    before = snapshot(ws)
    with pytest.raises(error, match=named) as exc:
        call(ws.requests)
    assert not any(value in str(exc.value) for value in ("sixty", SSN, NAME, EMAIL))
    assert snapshot(ws) == before


def test_requests_need_the_dsar_right(ws, person) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    analyst, _ = person(ws, "ana", "analyst")
    with pytest.raises(AccessDenied):
        analyst.requests.erase(SUBJECT)
    officer, _ = person(ws, "dora", "dpo")
    receipt = officer.requests.erase(SUBJECT)
    assert receipt.proof["entry"]["actor"] == "dora"
    assert officer.requests.status(receipt.request_id).state == "done"


def test_an_edited_request_row_is_refused(ws) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    receipt = ws.requests.erase("P9999")
    with sqlite3.connect(ws.path / "veil.db") as conn:
        conn.execute("UPDATE dsar_requests SET state = 'running'")
    with pytest.raises(BoundStateError):
        ws.requests.status(receipt.request_id)
    with pytest.raises(BoundStateError):
        ws.verify()


def test_retrain_rebuilds_from_the_current_version_and_refuses_a_federated_model(ws) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    ws.dp_settings("patients", bounds={"age": (0, 100), "score": (0, 100)},
                   public_keys={"label": [0, 1]})
    ws.set_budget("patients", epsilon=10.0, delta=1e-4)
    model = ws.train("patients", target="label", features=["age", "score"], epsilon=2.0,
                     delta=1e-5, model="logreg", epochs=1, batch_size=32)
    ws.requests.erase(SUBJECT)
    again = ws.retrain(model.name)
    assert (again.version, again.meta["dataset_version"]) == (2, 2)
    assert again.meta["training"] == model.meta["training"]
    assert ws.budget("patients").spent.epsilon == pytest.approx(4.0)
    federated = {k: v for k, v in model.meta.items() if k != "training"} | {
        "privacy": {"mode": "none"}, "metrics": {"accuracy": 0.5},
        "federation": {"definition": {"strategy": "fedavg",
                                      "secure_aggregation": {"enabled": False}},
                       "sites": [{"site": "a", "dataset": "patients", "version": 4,
                                  "fingerprint": "0" * 64}], "rounds": []}}
    source = ws.version("patients")
    ws.register_model("global", model.module, model.encoding, federated, source=source)
    with pytest.raises(InputError, match="federation"):
        ws.retrain("global")
    assert [(a.kind, a.privacy, a.sources[0].origin) for a in ws.lineage("global").artifacts
            ] == [("model", None, "a")]


def test_status_of_a_request_made_elsewhere_is_read_from_the_catalog(ws, master_key,
                                                                       tmp_path: Path) -> None:
    ws.ingest(people(), "patients", subject_id="pid")
    receipt = ws.requests.erase(SUBJECT)
    with Workspace.open(ws.path, master_key=master_key) as other:
        assert other.requests.status(receipt.request_id).flags == receipt.flags
