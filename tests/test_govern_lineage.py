"""Lineage: every artifact records the dataset versions it came from in the transaction that
makes it, queries follow releases of releases, a workspace made before lineage is backfilled
once (logged), and hand-edited edges fail verification."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import snapshot
from veil.errors import AccessDenied, BoundStateError, PrivacyBudgetError
from veil.govern import lineage
from veil.govern.lineage import Source


def artifacts(ws) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    """(kind, name, privacy epsilon or rho, source refs) of everything derived from patients."""
    found = lineage.derived_from(ws._store, "patients")
    return sorted((a.kind, a.name, None if a.privacy is None else str(
        a.privacy.get("epsilon", a.privacy.get("rho"))), tuple(s.ref for s in a.sources))
        for a in found)


def make_artifacts(ws, frame) -> None:
    """A release, a release of it with its token map, a DP release, two federated runs (with
    and without DP) and a ZK event on patients@1; an event on no dataset."""
    ws.ingest(frame, "patients", subject_id="pid")
    ws.pseudonymize("patients", ["zip"], reversible=True)
    ws.pseudonymize("patients.pseudonymized", ["note"], output="twice")
    ws.set_budget("patients", epsilon=5.0, delta=1e-4)
    ws.query("SELECT COUNT(*) FROM patients WHERE age > 30", epsilon=0.5)
    ws.join_federation("patients", run="trial", epsilon=1.0, delta=1e-5, rho=None, details={})
    ws.join_federation("patients", run="plain", epsilon=None, delta=None, rho=None,
                       details={})
    ws.record("zk.commit", "patients@1", root="00" * 32)
    ws.record("mpc.joint", "workspace", statistic="sum")


EXPECTED = [
    ("computation", "zk.commit", None, ("patients@1",)),
    ("dp_release", "patients", "0.5", ("patients@1",)),
    ("federated_run", "plain", None, ("patients@1",)),
    ("federated_run", "trial", "1.0", ("patients@1",)),
    ("release", "patients.pseudonymized", None, ("patients@1",)),
    ("release", "twice", None, ("patients.pseudonymized@1",)),
    ("token_map", "patients.pseudonymized.tokens", None, ("patients@1",)),
]


def test_every_artifact_records_its_sources(ws, frame) -> None:
    make_artifacts(ws, frame)
    assert artifacts(ws) == EXPECTED
    assert lineage.sources_of(ws._store, "release", "twice", 1) == [
        Source("patients.pseudonymized", 1), Source("patients", 1)]
    assert [a.name for a in lineage.derived_from(ws._store, "patients.pseudonymized", 1)] == [
        "twice"]
    assert lineage.derived_from(ws._store, "patients", 2) == []
    recorded = [e for e in ws.ledger.entries() if e.action == "lineage.record"]
    assert len(recorded) == 6  # a release and its token map share one entry
    assert all("bind" in e.parameters for e in recorded)
    assert not any(e.action == "lineage.backfill" and e.parameters["artifacts"]
                   for e in ws.ledger.entries())
    shown = ws.lineage("twice")
    assert [(a.kind, a.id) for a in shown.artifacts] == [("release", "1")] and not shown.derived
    assert len(ws.lineage("patients").derived) == len(EXPECTED)
    assert ws.verify().bound > 0


def test_a_refused_artifact_records_no_edge(ws, frame) -> None:
    ws.ingest(frame, "patients", subject_id="pid")
    ws.set_budget("patients", epsilon=1.0, delta=1e-4)
    lineage.derived_from(ws._store, "patients")  # the (empty) backfill, once
    before = snapshot(ws)
    with pytest.raises(PrivacyBudgetError):
        ws.query("SELECT COUNT(*) FROM patients", epsilon=2.0)
    assert ws._store.conn.execute("SELECT COUNT(*) FROM lineage_edges").fetchone() == (0,)
    assert snapshot(ws)[2:] == before[2:]


def test_a_workspace_made_before_lineage_is_backfilled_once(ws, frame, monkeypatch) -> None:
    with monkeypatch.context() as patch:  # an older veil wrote no edges
        patch.setattr(lineage, "record", lambda *args, **kwargs: None)
        make_artifacts(ws, frame)
    assert ws._store.conn.execute("SELECT COUNT(*) FROM lineage_edges").fetchone() == (0,)
    assert artifacts(ws) == EXPECTED
    backfills = [e for e in ws.ledger.entries() if e.action == "lineage.backfill"]
    assert len(backfills) == 1
    assert backfills[0].parameters["artifacts"] == len(EXPECTED)
    assert (backfills[0].actor, backfills[0].purpose) == ("veil", "migration")
    size = ws.ledger.size
    assert artifacts(ws) == EXPECTED and ws.ledger.size == size  # once
    ws.verify()


@pytest.mark.parametrize("edit", [
    "UPDATE lineage_edges SET version = 9 WHERE kind = 'release'",
    "DELETE FROM lineage_edges WHERE kind = 'dp_release'",
    "INSERT INTO lineage_edges(kind, name, artifact, dataset, version, recorded) "
    "VALUES ('model', 'm', '1', 'patients', 1, 'now')",
])
def test_hand_edited_edges_fail_verification(ws, frame, edit: str) -> None:
    make_artifacts(ws, frame)
    with sqlite3.connect(ws.path / "veil.db") as conn:
        conn.execute(edit)
    with pytest.raises(BoundStateError, match="lineage_edges"):
        ws.verify()


def test_lineage_needs_the_audit_right(ws, frame, person) -> None:
    ws.ingest(frame, "patients", subject_id="pid")
    analyst, _ = person(ws, "ana", "analyst")
    with pytest.raises(AccessDenied):
        analyst.lineage("patients")
    auditor, _ = person(ws, "aud", "auditor")
    assert auditor.lineage("patients").name == "patients"


def test_guarantees_and_federated_model_sources() -> None:
    assert lineage.guarantee({"mode": "none"}) is None
    assert lineage.guarantee({"mode": "central", "epsilon": 0.0, "delta": 0.0}) is None
    assert lineage.guarantee({"epsilon": 2.0, "delta": 1e-5, "rho": 0.0}) == {
        "epsilon": 2.0, "delta": 1e-5}
    assert lineage.guarantee({"epsilon": 0.0, "delta": 0.0, "rho": 0.3}) == {"rho": 0.3}
    meta = {"federation": {"sites": [{"site": "a", "dataset": "p", "version": 2},
                                     {"site": "b", "dataset": "p", "version": "5"}]}}
    assert lineage.model_sources(meta, "federation:x", 1) == (
        Source("p", 2, "a"), Source("p", 5, "b"))
    assert lineage.model_sources({}, "patients", 3) == (Source("patients", 3),)
