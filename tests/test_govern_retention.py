"""Retention: policies are checked and bound, a dry run changes nothing, rows and versions go as
the policy says, a second run does nothing, and a run killed with SIGKILL leaves every dataset
either fully moved or untouched."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from test_govern_purposes import OWNER, master, open_store, patients, purpose, store  # noqa: F401
from veil.errors import BoundStateError, InputError, NotFoundError, SchemaError
from veil.govern import purposes, retention
from veil.govern.purposes import instant
from veil.govern.retention import Retention
from veil.keys import MasterKey, generate_key_file
from veil.workspace import audit, binding, datasets
from veil.workspace.store import Store

NOW = "2025-01-01T00:00:00Z"
BY_VISIT = Retention(date_column="visit", keep_rows_days=100)
CUTOFF = date(2024, 9, 23)  # NOW - 100 days


def state(ws: Store, name: str = "patients") -> list[tuple[int, int, bool]]:
    return [(v.version, v.rows, v.destroyed is not None) for v in ws.versions(name)]


def snapshot(ws: Store) -> tuple:
    """Everything a dry run or a refused call must leave as it was."""
    return (ws.ledger.size,
            [state(ws, n) for n in ws.dataset_names()],
            ws.conn.execute("SELECT key_id, destroyed FROM keys ORDER BY key_id").fetchall(),
            sorted(p.name for p in ws.vault.root.iterdir()))


@pytest.fixture
def ws(store: Store) -> Store:  # noqa: F811
    datasets.ingest(store, OWNER, patients(), "patients", subject_id="pid")
    return store


# -- policies --------------------------------------------------------------------------------
@pytest.mark.parametrize(("policy", "error", "named"), [
    (Retention(date_column="zip", keep_rows_days=5), SchemaError, ["'zip'", "String"]),
    (Retention(date_column="seen", keep_rows_days=5), SchemaError, ["'seen'", "missing"]),
    (Retention(until_purpose="nothing"), NotFoundError, ["'nothing'"]),
    (Retention(until_purpose="elsewhere"), InputError, ["'elsewhere'", "'patients'"]),
])
def test_bad_policies_are_refused(ws: Store, policy: Retention, error: type[Exception],
                                  named: list[str]) -> None:
    datasets.ingest(ws, OWNER, patients(3), "other", subject_id="pid")
    purposes.add(ws, OWNER, purpose("elsewhere", datasets={"other": ("pid",)}))
    before = snapshot(ws)
    with pytest.raises(error) as exc:
        retention.set_policy(ws, OWNER, "patients", policy)
    for name in named:
        assert name in str(exc.value), exc.value
    assert snapshot(ws) == before


@pytest.mark.parametrize("fields", [
    {"date_column": "visit"}, {"keep_rows_days": 3}, {}, {"keep_versions_days": -1},
    {"keep_versions_days": True}])
def test_malformed_policies_are_refused(fields: dict) -> None:
    with pytest.raises(InputError):
        Retention(**fields)


def test_policy_set_get_drop_and_bound(ws: Store, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        retention.set_policy(ws, OWNER, "visits", BY_VISIT)
    assert retention.get_policy(ws, "patients") is None
    retention.set_policy(ws, OWNER, "patients", BY_VISIT)
    assert retention.get_policy(ws, "patients") == BY_VISIT
    assert ws.ledger.tail(1)[0].action == "govern.retention.set"
    retention.set_policy(ws, OWNER, "patients", None)
    assert retention.get_policy(ws, "patients") is None
    retention.set_policy(ws, OWNER, "patients", BY_VISIT)
    binding.verify(ws.conn)
    with sqlite3.connect(tmp_path / "ws" / Store.CATALOG) as raw:
        raw.execute("UPDATE retention_policies SET policy = "
                    "'{\"keep_versions_days\": 10000}'")
    with pytest.raises(BoundStateError):
        retention.enforce(ws, OWNER, now=NOW)
    with pytest.raises(BoundStateError):
        binding.verify(ws.conn)


# -- enforcing -------------------------------------------------------------------------------
def test_dry_run_changes_nothing(ws: Store) -> None:
    retention.set_policy(ws, OWNER, "patients", BY_VISIT)
    before = snapshot(ws)
    report = retention.enforce(ws, OWNER, now=NOW, dry_run=True)
    assert report.dry_run and snapshot(ws) == before
    (planned,) = report.datasets
    expired = patients().filter(pl.col("visit") < CUTOFF).height
    assert (planned.dataset, planned.expired_rows, planned.source, planned.new_version,
            planned.shredded) == ("patients", expired, 1, None, (1,))


def test_rows_past_their_date_go_and_a_second_run_does_nothing(ws: Store) -> None:
    retention.set_policy(ws, OWNER, "patients", BY_VISIT)
    old = ws.version("patients")
    report = retention.enforce(ws, OWNER, now=NOW)
    keep = patients().filter(pl.col("visit") >= CUTOFF)
    (done,) = report.datasets
    assert (done.new_version, done.shredded, done.expired_rows) == (2, (1,), 40 - keep.height)
    assert state(ws) == [(1, 40, True), (2, keep.height, False)]
    frame = datasets.read(ws, OWNER, ws.version("patients"), list(keep.columns))
    assert frame.equals(keep)
    assert not (ws.vault.root / old.file).exists()
    assert ws.conn.execute("SELECT wrapped FROM keys WHERE key_id = ?",
                           (old.key_id,)).fetchone() == (None,)
    assert [e.action for e in ws.ledger.tail(3)[:2]] == ["govern.retention.rows",
                                                         "govern.retention.shred"]
    assert ws.version("patients").provenance["from"] == "patients@1"
    before = snapshot(ws)
    assert retention.enforce(ws, OWNER, now=NOW).datasets == ()
    assert snapshot(ws) == before
    later = retention.enforce(ws, OWNER, now="2025-01-06T00:00:00Z")  # one more visit expires
    assert later.datasets[0].expired_rows == 1
    assert state(ws)[-1] == (3, keep.height - 1, False)
    assert audit.verify(ws).bound > 0


def test_a_dataset_that_cannot_be_planned_stops_the_run_before_any_change(ws: Store) -> None:
    datasets.ingest(ws, OWNER, patients(5), "visits", subject_id="pid")
    for name in ("patients", "visits"):
        retention.set_policy(ws, OWNER, name, BY_VISIT)
    datasets.ingest(ws, OWNER, patients(5).drop("visit"), "visits", subject_id="pid")
    before = snapshot(ws)
    with pytest.raises(SchemaError) as exc:
        retention.enforce(ws, OWNER, now=NOW)
    assert "'visit' of visits@2 is missing" in str(exc.value)
    assert snapshot(ws) == before


def test_every_version_holding_an_expired_row_is_shredded(ws: Store) -> None:
    datasets.ingest(ws, OWNER, patients(30, first=10), "patients", subject_id="pid")
    retention.set_policy(ws, OWNER, "patients", BY_VISIT)
    (done,) = retention.enforce(ws, OWNER, now=NOW).datasets
    assert (done.source, done.shredded, done.new_version) == (2, (1, 2), 3)
    assert [v.destroyed is None for v in ws.versions("patients")] == [False, False, True]


def test_datetime_columns_naive_or_aware(store: Store) -> None:  # noqa: F811
    base = datetime(2024, 12, 1, 12)
    frame = pl.DataFrame({"pid": ["a", "b", "c"], "seen": [
        base - timedelta(days=40), base - timedelta(days=20), None]})
    datasets.ingest(store, OWNER, frame, "naive", subject_id="pid")
    datasets.ingest(store, OWNER, frame.with_columns(pl.col("seen").dt.replace_time_zone(
        "Europe/Paris")), "aware", subject_id="pid")
    for name in ("naive", "aware"):
        retention.set_policy(store, OWNER, name, Retention(date_column="seen", keep_rows_days=30))
    report = retention.enforce(store, OWNER, now="2024-12-01T12:00:00Z")
    assert [(d.dataset, d.expired_rows) for d in report.datasets] == [("aware", 1), ("naive", 1)]
    kept = datasets.read(store, OWNER, store.version("naive"), ["pid"])["pid"].to_list()
    assert kept == ["b", "c"]  # a row with no date is kept


def test_versions_older_than_the_limit_go_but_never_the_newest(ws: Store) -> None:
    for first in (5, 10):
        datasets.ingest(ws, OWNER, patients(30, first=first), "patients", subject_id="pid")
    retention.set_policy(ws, OWNER, "patients", Retention(keep_versions_days=30))
    newest = instant(ws.version("patients").created)
    assert retention.enforce(ws, OWNER, now=newest + timedelta(days=29)).datasets == ()
    (done,) = retention.enforce(ws, OWNER, now=newest + timedelta(days=31)).datasets
    assert (done.shredded, done.new_version) == ((1, 2), None)
    assert retention.enforce(ws, OWNER, now=newest + timedelta(days=900)).datasets == ()
    assert [v.destroyed is None for v in ws.versions("patients")] == [False, False, True]


def test_a_dataset_kept_until_its_purpose_ends(ws: Store) -> None:
    datasets.ingest(ws, OWNER, patients(30, first=10), "patients", subject_id="pid")
    purposes.add(ws, OWNER, purpose())
    retention.set_policy(ws, OWNER, "patients", Retention(until_purpose="study"))
    purposes.end(ws, OWNER, "study", on="2025-03-01")
    assert retention.enforce(ws, OWNER, now="2025-02-28T00:00:00Z").datasets == ()
    (done,) = retention.enforce(ws, OWNER, now="2025-03-01T00:00:00Z").datasets
    assert done.shredded == (1, 2) and "ended" in done.reasons[0]
    assert all(v.destroyed for v in ws.versions("patients"))
    assert retention.enforce(ws, OWNER, now="2026-01-01T00:00:00Z").datasets == ()
    binding.verify(ws.conn)


# -- a run killed half-way ----------------------------------------------------------------------
CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path

    from veil.access.scope import Scope
    from veil.govern import retention
    from veil.keys import KeySource
    from veil.keys.ring import KeyRing
    from veil.workspace.store import Store

    target, counts = sys.argv[3], {}

    def reached(point):
        counts[point] = counts.get(point, 0) + 1
        print(f"{point}-{counts[point]}", flush=True)
        if f"{point}-{counts[point]}" == target:
            sys.stdin.readline()  # the parent kills this process here

    destroy = KeyRing.destroy

    def destroying(self, key_id, now):
        destroy(self, key_id, now)
        reached("shredding")  # inside a dataset's transaction, its new version added

    KeyRing.destroy = destroying
    store = Store.open(Path(sys.argv[1]), KeySource(key_file=Path(sys.argv[2])),
                       check_ledger=True, witness=())
    retention.enforce(store, Scope("owner", "administration"), now=sys.argv[4],
                      progress=lambda done: reached("moved"))
    reached("finished")
""")
NAMES = ("alpha", "beta", "gamma")


@pytest.mark.parametrize(("point", "moved"), [
    ("shredding-1", ()), ("moved-1", ("alpha",)), ("shredding-2", ("alpha",))])
def test_a_run_killed_half_way_loses_nothing(tmp_path: Path, point: str,
                                             moved: tuple[str, ...]) -> None:
    key = generate_key_file(tmp_path / "ws.key")
    path = Store.create(tmp_path / "ws", MasterKey.from_file(key))
    opened = open_store(path, MasterKey.from_file(key))
    for name in NAMES:
        datasets.ingest(opened, OWNER, patients(), name, subject_id="pid", classify=False)
        retention.set_policy(opened, OWNER, name, BY_VISIT)
    original = {n: opened.version(n) for n in NAMES}
    opened.close()

    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(key), point, NOW],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    reports: list[str] = []
    try:
        while not reports or reports[-1] != point:
            line = child.stdout.readline()
            assert line, f"the child ended before {point!r}; it reported {reports}"
            reports.append(line.strip())
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
        child.stdout.close()
        child.stdin.close()
    assert child.returncode == -signal.SIGKILL

    opened = open_store(path, MasterKey.from_file(key))
    try:
        keep = patients().filter(pl.col("visit") >= CUTOFF).height
        for name in NAMES:
            if name in moved:
                assert state(opened, name) == [(1, 40, True), (2, keep, False)]
            else:
                assert opened.versions(name) == [original[name]]
                datasets.read(opened, OWNER, original[name], ["pid"])  # still readable
        assert audit.verify(opened).bound > 0
        finished = retention.enforce(opened, OWNER, now=NOW)  # the next run completes the rest
        assert [d.dataset for d in finished.datasets] == [n for n in NAMES if n not in moved]
        assert all(state(opened, n)[-1] == (2, keep, False) for n in NAMES)
        assert retention.enforce(opened, OWNER, now=NOW).datasets == ()
        binding.verify(opened.conn)
    finally:
        opened.close()
