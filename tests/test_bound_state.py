"""State a guarantee rests on is bound to the ledger: budgets, spends, DP settings, models and
releases edited with ``sqlite3`` are refused before use and fail ``verify``; query literals
never reach the catalog or the ledger."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from veil import Workspace
from veil.errors import (
    BoundStateError,
    IntegrityError,
    KeyDestroyedError,
    LedgerIntegrityError,
)
from veil.keys import generate_key_file

SSN = "078-05-1120"


def _frame(rows: int = 400) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    risk = rng.uniform(0, 10, rows)
    ssn = [f"{100 + i:03d}-{i % 90 + 10:02d}-{i:04d}" for i in range(rows)]
    ssn[7] = SSN
    return pl.DataFrame({"pid": [f"p{i}" for i in range(rows)], "ssn": ssn, "risk": risk,
                         "outcome": (risk + rng.normal(0, 1, rows) > 5).astype(np.int8)})


@pytest.fixture
def ws_path(tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "k.key"
    generate_key_file(key)
    with Workspace.create(tmp_path / "ws", key_file=key) as ws:
        ws.ingest(_frame(), "labs", subject_id="pid", classify=False)
        ws.dp_settings("labs", bounds={"risk": (0, 10)}, public_keys={"outcome": [0, 1]})
        ws.set_budget("labs", epsilon=1.0, delta=1e-4)
    return tmp_path / "ws", key


def _sql(path: Path, *statements: tuple) -> None:
    """Edit the catalog behind veil's back, as anyone with file access could."""
    conn = sqlite3.connect(path / Workspace.CATALOG)
    for statement in statements:
        conn.execute(*statement)
    conn.commit()
    conn.close()


def test_a_refunded_budget_is_refused_by_queries_and_verify(ws_path) -> None:
    """The review's attack: delete the spends and raise the limit; verify used to pass."""
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.query("SELECT COUNT(*) FROM labs", epsilon=0.9)
        assert ws.verify().bound > 0
    _sql(path, ("DELETE FROM dp_spends",), ("UPDATE dp_budgets SET epsilon = 100",))
    with Workspace.open(path, key_file=key) as ws:
        size = ws.ledger.size
        with pytest.raises(BoundStateError, match=r"privacy budget of 'labs'.*differs"):
            ws.query("SELECT AVG(risk) FROM labs", epsilon=0.5)
        with pytest.raises(BoundStateError):
            ws.budget("labs")
        with pytest.raises(BoundStateError):
            ws.verify()
        assert ws.ledger.size == size  # the refused query logged and spent nothing


@pytest.mark.parametrize("edit", [
    ("DELETE FROM dp_spends",),
    ("UPDATE dp_spends SET epsilon = 0.01",),
    ("UPDATE dp_spends SET principal = 'someone-else'",),
    ("UPDATE dp_spends SET result = '{}'",),
    ("UPDATE dp_budgets SET delta = 0.5",),
    ("UPDATE dp_settings SET settings = replace(settings, '10.0', '1000.0')",),
    ("INSERT INTO dp_budgets VALUES ('labs', 'eve', 'approx', 9, 0, 0, 'now')",),
])
def test_every_edit_of_dp_state_is_caught(ws_path, edit) -> None:
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.query("SELECT COUNT(*) FROM labs", epsilon=0.2)
    _sql(path, edit)
    with Workspace.open(path, key_file=key) as ws:
        with pytest.raises(BoundStateError):
            ws.query("SELECT AVG(risk) FROM labs", epsilon=0.1)
        with pytest.raises(BoundStateError):
            ws.verify()


def test_rewriting_the_ledger_to_match_is_caught_by_verify(ws_path) -> None:
    """Editing both the spend row and its binding entry breaks the entry's hash."""
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.query("SELECT COUNT(*) FROM labs", epsilon=0.5)
    _sql(path, ("UPDATE dp_spends SET epsilon = 0.001",),
         ("UPDATE ledger SET params = json_set(params, '$.bind.epsilon', 0.001) "
          "WHERE json_extract(params, '$.bind.kind') = 'spend'",))
    with Workspace.open(path, key_file=key, check_ledger=False) as ws, \
            pytest.raises(LedgerIntegrityError, match="modified"):
        ws.verify()


def _train(ws: Workspace, name: str, epsilon: float = 0.2):
    return ws.train("labs", target="outcome", features=["risk"], epsilon=epsilon, delta=1e-6,
                    model="logreg", epochs=1, batch_size=64, name=name, seed=1)


@pytest.mark.parametrize("edit", [
    "UPDATE models SET file = (SELECT file FROM models WHERE name = 'b'), "
    "key_id = (SELECT key_id FROM models WHERE name = 'b') WHERE name = 'a'",
    "UPDATE models SET meta = json_set(meta, '$.privacy.epsilon', 0.01) WHERE name = 'a'",
])
def test_models_are_bound_to_their_registration(ws_path, edit) -> None:
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.set_budget("labs", epsilon=10.0, delta=1e-4)
        _train(ws, "a")
        _train(ws, "b")
        ws.model("a")
        ws.verify()
    _sql(path, (edit,))
    with Workspace.open(path, key_file=key) as ws:
        with pytest.raises(BoundStateError, match="model a@1 differs"):
            ws.model("a")
        ws.model("b")
        with pytest.raises(BoundStateError, match="model a@1"):
            ws.verify()


def test_a_registration_edited_in_the_ledger_is_refused_on_load(ws_path) -> None:
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.set_budget("labs", epsilon=10.0, delta=1e-4)
        _train(ws, "a")
        file = ws._store.conn.execute("SELECT file FROM models").fetchone()[0]
    with Workspace.open(path, key_file=key) as ws:
        ws._store.conn.execute("UPDATE ledger SET params = json_set(params, '$.bind.weights', 'x') "
                         "WHERE json_extract(params, '$.bind.kind') = 'model'")
        with pytest.raises(LedgerIntegrityError, match="not in the signed tree"):
            ws.model("a")  # the registration itself is proven against the signed head
    assert (path / "vault" / file).is_file()


def test_releases_are_bound_to_their_registration(ws_path) -> None:
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.ingest(_frame(50), "other", subject_id="pid", classify=False)
    _sql(path, ("UPDATE versions SET (file, key_id, fingerprint, rows) = "
                "(SELECT file, key_id, fingerprint, rows FROM versions WHERE dataset_id = 2) "
                "WHERE dataset_id = 1",))
    with Workspace.open(path, key_file=key) as ws:
        with pytest.raises(BoundStateError, match="version labs@1 differs"):
            ws.read("labs")
        with pytest.raises(IntegrityError):
            ws.query("SELECT COUNT(*) FROM labs", epsilon=0.1)
        with pytest.raises(BoundStateError):
            ws.verify()
        assert ws.read("other").height == 50


def test_catalog_rows_without_a_registration_fail_verify(ws_path) -> None:
    path, key = ws_path
    _sql(path, ("INSERT INTO versions SELECT dataset_id, 2, file, key_id, schema, rows, "
                "subject_id, fingerprint, provenance, classification, created, destroyed "
                "FROM versions",))
    with Workspace.open(path, key_file=key) as ws:
        with pytest.raises(BoundStateError, match=r"without a ledger registration.*labs@2"):
            ws.verify()
        with pytest.raises(BoundStateError, match="no registration"):
            ws.read("labs", 2)


def test_a_workspace_from_before_binding_is_adopted_on_open(ws_path, monkeypatch) -> None:
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.query("SELECT COUNT(*) FROM labs", epsilon=0.3)
    # strip every binding the way a format-1 workspace lacks them
    _sql(path, ("UPDATE meta SET value = 1 WHERE key = 'format'",))
    import veil.workspace.binding as binding

    monkeypatch.setattr(binding, "_binds", lambda conn, name: iter(()))
    with Workspace.open(path, key_file=key, check_ledger=False) as ws:
        assert ws.verify().bound == 0  # an unmigrated workspace: nothing bound to check
    monkeypatch.undo()
    with Workspace.open(path, key_file=key) as ws:
        adopted = [e for e in ws.ledger.entries() if e.action == "catalog.bind"]
        assert {e.parameters["bind"]["kind"] for e in adopted} == {
            "budget", "spend", "settings", "version"}
        assert ws.budget("labs").spent.epsilon == pytest.approx(0.3)
        ws.verify()
    _sql(path, ("DELETE FROM dp_spends",))
    with Workspace.open(path, key_file=key) as ws, pytest.raises(BoundStateError):
        ws.budget("labs")


def test_query_literals_never_reach_the_catalog_or_the_ledger(ws_path, run) -> None:
    path, key = ws_path
    sql = f"SELECT COUNT(*) FROM labs WHERE ssn = '{SSN}' AND ssn IN ('{SSN}', '111-22-3333')"
    with Workspace.open(path, key_file=key) as ws:
        first = ws.query(sql, epsilon=0.2)
        again = ws.query(sql, epsilon=0.2)
        assert again.cached and again.frame.equals(first.frame)
        ws.query(sql.replace(SSN, "123-45-6789"), epsilon=0.2)
        shapes = [e.parameters["query"] for e in ws.ledger.entries()
                  if e.action.startswith("dp.query")]
        stored = [r[0] for r in ws._store.conn.execute("SELECT query FROM dp_spends")]
        ws._store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for text in [*shapes, *stored]:
        assert SSN not in text and "mac:" in text
    first_shape = json.loads(shapes[0])["predicates"]
    assert first_shape[0]["value"] == first_shape[1]["value"][0]  # equal literals stay linkable
    assert shapes[0] == shapes[1] != shapes[2]
    assert SSN.encode() not in (path / Workspace.CATALOG).read_bytes()
    proof = run("-w", str(path), "--key-file", str(key), "audit", "prove", "3")
    assert SSN not in proof.stdout


def test_erasure_makes_query_literals_unlinkable(ws_path) -> None:
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.query(f"SELECT COUNT(*) FROM labs WHERE ssn = '{SSN}'", epsilon=0.2)
        record = ws.version("labs")
        ws.destroy("labs", 1)
        with pytest.raises(KeyDestroyedError):  # the MAC key died with the version's key
            ws._store.ring.derive(record.key_id, "dp-query")
        ws.verify()
