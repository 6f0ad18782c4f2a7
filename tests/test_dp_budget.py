"""The privacy budget ledger: never overspent (threads, processes, restarts), every release
logged, repeated queries free, and the recorded spends equal an independent accounting."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from veil import Workspace
from veil.cli.app import app
from veil.dp.query import Query
from veil.errors import InputError, NotFoundError, PrivacyBudgetError, WorkspaceBusyError
from veil.keys import generate_key_file


def _frame(rows: int = 500) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    return pl.DataFrame({"pid": np.arange(rows), "clinic": rng.choice(["A", "B"], rows),
                         "sex": rng.choice(["F", "M"], rows),
                         "glucose": rng.uniform(60, 200, rows)})


@pytest.fixture
def ws_path(tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "k.key"
    generate_key_file(key)
    with Workspace.create(tmp_path / "ws", key_file=key) as ws:
        ws.ingest(_frame(), "labs", subject_id="pid", classify=False)
        ws.dp_settings("labs", bounds={"glucose": (40, 400)}, public_keys={"clinic": ["A", "B"]})
    return tmp_path / "ws", key


def test_spends_are_recorded_logged_and_survive_a_restart(ws_path) -> None:
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        with pytest.raises(NotFoundError, match="no privacy budget"):
            ws.query("SELECT COUNT(*) FROM labs", epsilon=0.1)
        ws.set_budget("labs", epsilon=1.0)
        answer = ws.for_purpose("qa").query(
            "SELECT clinic, AVG(glucose) FROM labs GROUP BY clinic", epsilon=0.4)
        assert answer.remaining["left"]["epsilon"] == pytest.approx(0.6)
        assert set(answer.frame["clinic"]) == {"A", "B"}
    with Workspace.open(path, key_file=key) as ws:
        assert ws.budget("labs").left.epsilon == pytest.approx(0.6)
        with pytest.raises(PrivacyBudgetError, match=r"0\.7 asked, 0\.6 left"):
            ws.query("SELECT COUNT(*) FROM labs", epsilon=0.7)
        assert ws.budget("labs").queries == 1  # the refused request spent nothing
        entries = [e for e in ws.ledger.entries() if e.action == "dp.query"]
        params = json.loads(entries[0].params)
        assert (entries[0].actor, entries[0].purpose) == ("owner", "qa")
        assert params["spent"]["epsilon"] == 0.4 and params["remaining"]["epsilon"] == (
            pytest.approx(0.6))
        assert ws.verify().entries > 0


def test_identical_query_is_answered_from_its_release_for_free(ws_path) -> None:
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.set_budget("labs", epsilon=1.0)
        first = ws.query("SELECT COUNT(*) FROM labs", epsilon=0.5)
        again = ws.query(Query("labs").count(), epsilon=0.5)
        assert again.cached and not first.cached
        assert again.frame.equals(first.frame)
        assert ws.budget("labs").left.epsilon == pytest.approx(0.5)
        assert any(e.action == "dp.query.cached" for e in ws.ledger.entries())


def test_text_filters_and_contingency_tables_on_the_cached_frame(ws_path) -> None:
    """The session cache holds text as categories; filters and keyed groups still match."""
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.set_budget("labs", epsilon=100.0)
        only_a = ws.query("SELECT COUNT(*) FROM labs WHERE clinic = 'A'", epsilon=20.0)
        exact = int((_frame()["clinic"] == "A").sum())
        assert abs(only_a.frame["value"][0] - exact) < 5
        table = ws.query(Query("labs").group_by("clinic", "sex", keys={"sex": ["F", "M", "X"]})
                         .count(), epsilon=20.0).frame
        assert table.height == 6  # 2 clinics x 3 public sexes, the empty "X" cells included
        exact = _frame().group_by("clinic", "sex").len()
        for row in exact.iter_rows(named=True):
            cell = table.filter((pl.col("clinic") == row["clinic"]) & (pl.col("sex") == row["sex"]))
            assert abs(cell["value"][0] - row["len"]) < 5
        with pytest.raises(InputError, match="quoted string"):
            ws.query("SELECT COUNT(*) FROM labs WHERE clinic = 3", epsilon=1.0)
        assert ws.budget("labs").queries == 2


def test_bounds_estimated_under_dp_are_spent_from_the_budget_and_declared(ws_path) -> None:
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.set_budget("labs", epsilon=20.0)
        with pytest.raises(InputError, match="estimate_bounds"):
            ws.query("SELECT AVG(pid) FROM labs", epsilon=0.5)
        # 500 rows and a range 20x too wide: epsilon 5 per quantile keeps the guess near
        lower, upper = ws.estimate_bounds("labs", "pid", within=(0, 10_000), epsilon=10.0)
        assert 0 <= lower < 80 and 400 < upper <= 560  # pid runs 0..499: its 5% and 95%
        assert ws.dp_settings("labs").bounds["pid"] == (lower, upper)
        assert ws.budget("labs").spent.epsilon == pytest.approx(10.0)
        ws.query("SELECT AVG(pid) FROM labs", epsilon=0.5)


def test_principal_budget_caps_one_analyst(ws_path, person) -> None:
    """The spend is charged to the authenticated principal: bob cannot spend as carol."""
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.purposes.add(_purpose())
        bob, _ = person(ws, "bob", "analyst", purpose="qa")
        carol, _ = person(ws, "carol", "analyst", purpose="qa")
        ws.set_budget("labs", epsilon=2.0)
        ws.set_budget("labs", epsilon=0.5, principal="bob")
        bob.query("SELECT COUNT(*) FROM labs", epsilon=0.5)
        with pytest.raises(PrivacyBudgetError, match="'bob'"):
            bob.query("SELECT SUM(glucose) FROM labs", epsilon=0.1)
        carol.query("SELECT SUM(glucose) FROM labs", epsilon=0.1)
        assert ws.budget("labs").left.epsilon == pytest.approx(1.4)
        assert ws.budget("labs", "bob").spent.epsilon == pytest.approx(0.5)
        assert [e.actor for e in ws.ledger.entries() if e.action == "dp.query"] == [
            "bob", "carol"]
        with pytest.raises(InputError, match="same kind"):
            ws.set_budget("labs", rho=0.1, principal="carol")
        with pytest.raises(NotFoundError, match="dave"):
            ws.set_budget("labs", epsilon=0.1, principal="dave")


def _purpose():
    from veil.govern.purposes import LawfulBasis, Purpose

    return Purpose("qa", "quality assurance of lab statistics", LawfulBasis.LEGITIMATE_INTERESTS,
                   {"labs": ("*",)}, frozenset({"dp_query"}), consent_required=False,
                   retention_days=None)


def _spend_in_thread(path: Path, key: Path, i: int, outcome: list) -> None:
    with Workspace.open(path, key_file=key) as ws:
        try:
            ws.query(f"SELECT COUNT(*) FROM labs WHERE glucose >= {i}", epsilon=0.1)
            outcome.append("released")
        except PrivacyBudgetError:
            outcome.append("refused")


def test_hundred_concurrent_threads_release_exactly_ten(ws_path) -> None:
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.set_budget("labs", epsilon=1.0)
    outcome: list[str] = []
    threads = [threading.Thread(target=_spend_in_thread, args=(path, key, i, outcome))
               for i in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcome.count("released") == 10 and outcome.count("refused") == 90
    with Workspace.open(path, key_file=key) as ws:
        assert ws.budget("labs").spent.epsilon == pytest.approx(1.0)
        assert ws.budget("labs").queries == 10


def _spend_in_process(path: str, key: str, start: int, count: int, sql: str | None) -> None:
    """Spend from another process; write what happened to ``{path}.{start}`` (a worker that
    dies shows as a non-zero exit code, so the test never waits on a timer)."""
    outcome: list[str] = []
    for i in range(start, start + count):
        if sql is None:
            _spend_in_thread(Path(path), Path(key), i, outcome)
            continue
        with Workspace.open(path, key_file=key) as ws:
            answer = ws.query(sql, epsilon=0.1)
            outcome.append(json.dumps([answer.cached, answer.frame["value"].to_list()]))
    Path(f"{path}.{start}").write_text(json.dumps(outcome))


def _in_processes(path: Path, key: Path, workers: int, count: int, sql: str | None = None
                  ) -> list[str]:
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_spend_in_process,
                             args=(str(path), str(key), count * p, count, sql))
             for p in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    assert [proc.exitcode for proc in procs] == [0] * workers
    return [x for p in range(workers)
            for x in json.loads(Path(f"{path}.{count * p}").read_text())]


@pytest.mark.slow
def test_hundred_requests_from_twenty_processes_release_exactly_ten(ws_path) -> None:
    """Twenty processes queue on the write lock (none fails with "database is locked")."""
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.set_budget("labs", epsilon=1.0)
    outcome = _in_processes(path, key, 20, 5)
    assert outcome.count("released") == 10 and outcome.count("refused") == 90


def test_racing_identical_queries_share_one_release(ws_path) -> None:
    """Six processes send the same query at once: one spends, five receive its release."""
    path, key = ws_path
    with Workspace.open(path, key_file=key) as ws:
        ws.set_budget("labs", epsilon=1.0)
    outcome = [json.loads(x) for x in _in_processes(path, key, 6, 1,
                                                    "SELECT COUNT(*) FROM labs")]
    assert sorted(cached for cached, _ in outcome) == [False] + [True] * 5
    assert len({json.dumps(values) for _, values in outcome}) == 1
    with Workspace.open(path, key_file=key) as ws:
        assert ws.budget("labs").queries == 1
        assert ws.budget("labs").spent.epsilon == pytest.approx(0.1)


def test_a_lock_held_past_the_wait_gives_a_clear_error(ws_path, monkeypatch) -> None:
    path, key = ws_path
    monkeypatch.setenv("VEIL_LOCK_TIMEOUT", "0.05")
    with Workspace.open(path, key_file=key) as ws, Workspace.open(path, key_file=key) as other:
        size = ws.ledger.size
        other._store.conn.execute("BEGIN IMMEDIATE")  # another process mid-write, for as long as it
        with pytest.raises(WorkspaceBusyError, match="VEIL_LOCK_TIMEOUT"):
            ws.set_budget("labs", epsilon=2.0)
        other._store.conn.execute("ROLLBACK")
        assert ws.ledger.size == size
        ws.set_budget("labs", epsilon=2.0)


def test_recorded_spends_match_an_independent_accountant(ws_path, tmp_path) -> None:
    """Pure DP: the ledger's epsilon equals the sum of the privacy maps of the mechanisms that
    ran, rebuilt from their recorded scales. zCDP: the ledger's rho equals dp_accounting's
    RDP of the same Gaussian mechanisms (RDP of order a is a * rho for zCDP)."""
    import dp_accounting
    import opendp.prelude as dp
    from dp_accounting import rdp

    path, key = ws_path
    queries = ["SELECT COUNT(*) FROM labs", "SELECT AVG(glucose) FROM labs",
               "SELECT clinic, SUM(glucose), VARIANCE(glucose) FROM labs GROUP BY clinic"]
    with Workspace.open(path, key_file=key) as ws:
        ws.set_budget("labs", epsilon=10.0)
        mechanisms = [m for sql, e in zip(queries, (0.3, 0.5, 0.9), strict=True)
                      for m in _leaves(ws.query(sql, epsilon=e).mechanisms)]
        total = 0.0
        for m in mechanisms:
            integer = m["distribution"].startswith("discrete")
            atom = dp.atom_domain(T=int) if integer else dp.atom_domain(T=float, nan=False)
            measurement = dp.m.make_laplace(dp.vector_domain(atom),
                                            dp.l1_distance(T=int if integer else float),
                                            scale=m["scale"])
            total += measurement.map(int(m["sensitivity"]) if integer else m["sensitivity"])
        assert total == pytest.approx(ws.budget("labs").spent.epsilon, rel=1e-9)

        ws.ingest(_frame(), "labs2", subject_id="pid", classify=False)
        ws.dp_settings("labs2", bounds={"glucose": (40, 400)})
        ws.set_budget("labs2", rho=1.0)
        gaussian = [m for sql, r in (("SELECT SUM(glucose) FROM labs2", 0.05),
                                     ("SELECT AVG(glucose) FROM labs2", 0.1))
                    for m in _leaves(ws.query(sql, rho=r).mechanisms)]
        accountant = rdp.RdpAccountant(orders=[2.0, 8.0])
        for m in gaussian:
            accountant.compose(dp_accounting.GaussianDpEvent(m["scale"] / m["sensitivity"]))
        independent = accountant._rdp[0] / 2.0
        assert independent == pytest.approx(ws.budget("labs2").spent.rho, rel=1e-6)


def _leaves(mechanisms: dict) -> list[dict]:
    out = []
    for value in mechanisms.values():
        out += [value] if "scale" in value else _leaves(value)
    return out


def test_cli_query_and_budget(ws_path) -> None:
    path, key = ws_path
    base = ["-w", str(path), "--key-file", str(key)]
    runner = CliRunner()
    made = runner.invoke(app, [*base, "budget", "set", "labs", "--epsilon", "1"])
    assert made.exit_code == 0, made.output
    shown = runner.invoke(app, [*base, "query", "SELECT clinic, COUNT(*) FROM labs GROUP BY "
                                "clinic", "--dataset", "labs", "--epsilon", "0.5"])
    assert shown.exit_code == 0, shown.output
    assert "ci_low" in shown.output and "left for labs: epsilon 0.5" in shown.output
    left = json.loads(runner.invoke(app, [*base, "budget", "show", "labs", "--json"]).stdout)
    assert left["left"]["epsilon"] == pytest.approx(0.5) and left["queries"] == 1
    refused = runner.invoke(app, [*base, "query", "SELECT COUNT(*) FROM labs", "--epsilon",
                                  "0.6"])
    assert isinstance(refused.exception, PrivacyBudgetError)
    wrong = runner.invoke(app, [*base, "query", "SELECT COUNT(*) FROM labs", "--dataset", "x",
                                "--epsilon", "0.1"])
    assert isinstance(wrong.exception, InputError)
    bounds = runner.invoke(app, [*base, "budget", "settings", "labs", "--bounds", "glucose=0:500",
                                 "--max-rows", "2"])
    assert json.loads(bounds.stdout)["bounds"]["glucose"] == [0.0, 500.0]
    typed = runner.invoke(app, [*base, "budget", "settings", "labs", "--keys", "pid=1,2,3"])
    assert json.loads(typed.stdout)["public_keys"]["pid"] == [1, 2, 3]  # read as its int type
    untyped = runner.invoke(app, [*base, "budget", "settings", "labs", "--keys", "pid=1,x"])
    assert isinstance(untyped.exception, InputError)
    assert "Int64" in str(untyped.exception)
