"""The service: concurrent DP queries against one budget, the service's overhead over the
library, and the dashboard's overview on a large workspace.

One workspace, served by the real ``veil serve`` process over TLS (certificate from the
workspace's CA, which the clients pin) on 127.0.0.1, holds:

* ``patients``: 2,000 generated patients (quick: 500), DP bounds declared;
* ``big``: 1,000,000 rows (quick: 100,000): five columns of 20,000 generated patients tiled
  50 times (5 with ``--quick``) with distinct subject ids;
* 48 more datasets (quick: 8) of 100 generated patients each, classified at ingest, with
  budgets, so the workspace holds 50 (quick: 10);
* a ledger of 100,000 entries (quick: 10,000): what the workspace logged making all that, and
  then the ``dataset.read`` and ``access.denied`` records those calls log, appended through
  :meth:`veil.ledger.Ledger.append_many` 10,000 per transaction (hash-chained, in the Merkle
  tree, under a signed head; the full verification passes). The reads were not performed: this
  is how a long-lived ledger is made in seconds rather than hours;
* an analyst (shipped ``analyst`` role) and an owner, both signed in through ``POST
  /auth/login`` with password and TOTP; the bearer tokens are what the clients send.

**Budget under contention.** ``patients`` gets a budget of exactly 500 releases (quick: 100)
of epsilon 1/64 (exact in binary, so no rounding decides the last one). 100 clients (quick:
25), each an ``httpx.AsyncClient`` with its own HTTP/1.1 connection, send 600 distinct DP
counts (quick: 125; a different ``WHERE`` threshold each, so none is answered from the release
cache) at once. Exactly the budget's worth must succeed and every other one get 409 (or 429);
afterwards the budget's spend must equal 500 x 1/64 and never exceed it, and the ledger must
hold 500 new ``dp.query`` entries. Throughput is the answered requests over the burst's wall
time; latencies are per request as the client saw them.

**Service overhead.** ``SELECT AVG(glucose_mg_dl) FROM big WHERE bmi > x`` (distinct ``x``
each time, epsilon 0.1) through ``POST /dp/query`` by one client and through
``Session.query`` in this process, as the same analyst for the same purpose, alternated,
after two warm-up queries each (the first decrypts the table): the ratio of the medians.

**Dashboard overview.** ``GET /ui/`` (every dataset with what personal data it holds, the
ingested ones' budgets, the signed ledger head) as the owner, 50 times (quick: 10) after
three warm-ups: the 95th percentile.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pyotp

from bench._common import goal, write_results
from veil.access.policy import Operation
from veil.demo.data import generate_patients
from veil.govern.purposes import LawfulBasis, Purpose, SpecialCondition
from veil.keys import MasterKey
from veil.ledger import Record
from veil.workspace import Workspace

EPSILON = 1 / 64  # exact in binary: 500 releases sum to the budget with no rounding
PASSWORD = "a long benchmark password"
PURPOSE = "stats"
BOUNDS = {"glucose_mg_dl": (40.0, 450.0), "bmi": (10.0, 60.0)}


@dataclass(frozen=True)
class Size:
    patients: int
    big_tiles: int  # x 20,000 rows
    datasets: int  # in all
    ledger: int
    releases: int  # what the contended budget pays for
    clients: int
    requests: int
    overhead_runs: int
    overview_runs: int


FULL = Size(2_000, 50, 50, 100_000, 500, 100, 600, 15, 50)
QUICK = Size(500, 5, 10, 10_000, 100, 25, 125, 5, 10)


# -- the workspace and the server ----------------------------------------------------------------
def _build(path: Path, master: MasterKey, size: Size) -> dict[str, str]:
    """The workspace described in the module docstring; returns each user's TOTP secret."""
    source = generate_patients(20_000, seed=5)
    with Workspace.create(path, master_key=master) as ws:
        ws.ingest(source.head(size.patients), "patients", subject_id="patient_id")
        narrow = source.select("patient_id", "sex", "glucose_mg_dl", "bmi", "readmitted_30d")
        big = pl.concat([narrow.with_columns(pl.col("patient_id") + f"-{tile}")
                         for tile in range(size.big_tiles)])
        ws.ingest(big, "big", subject_id="patient_id", classify=False)
        ws.set_budget("patients", epsilon=size.releases * EPSILON)
        ws.set_budget("big", epsilon=1e6)
        for name in ("patients", "big"):
            ws.dp_settings(name, bounds=BOUNDS)
        for i in range(size.datasets - 2):
            name = f"clinic{i:02d}"
            ws.ingest(source.slice(i * 100, 100), name, subject_id="patient_id")
            ws.set_budget(name, epsilon=10.0)
        ws.purposes.add(Purpose(PURPOSE, "statistics for the benchmark",
                                LawfulBasis.PUBLIC_TASK, dict.fromkeys(ws.dataset_names(), ("*",)),
                                frozenset({str(Operation.DP_QUERY)}), consent_required=False,
                                retention_days=None, special=SpecialCondition.RESEARCH))
        secrets = {}
        for user, role in (("ana", "analyst"), ("olga", "owner")):
            secrets[user] = ws.users.add(user, PASSWORD).secret
            ws.policy.assign(user, role)
        _fill_ledger(ws, size.ledger)
        ws.verify()  # the bulk entries are real ones: the full verification passes
    return secrets


def _fill_ledger(ws: Workspace, total: int) -> None:
    """Append the records reads and refusals log until the ledger holds ``total`` entries."""
    names = ws.dataset_names()
    prints = {name: ws.version(name).fingerprint for name in names}
    records = []
    for i in range(total - ws.ledger.size):
        name = names[i % len(names)]
        if i % 10 == 9:
            records.append(Record("ana", "access.denied", name, PURPOSE, {
                "operation": "raw_read", "reason": "raw_read is not in purpose 'stats'"}))
        else:
            records.append(Record("olga", "dataset.read", f"{name}@1", "administration", {
                "columns": ["sex", "bmi"], "fingerprint": prints[name]}))
    store = ws._store  # the ledger's own bulk append: the only way to 100,000 in seconds
    for start in range(0, len(records), 10_000):
        with store.transaction() as now:
            store.ledger.append_many(records[start:start + 10_000], now=now)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _served(path: Path, master: MasterKey) -> Iterator[tuple[str, Path]]:
    """``veil serve`` in its own process (its log beside the workspace); (URL, CA file) once
    its ready file exists."""
    key = path.with_name("master.key")
    key.write_text(base64.b64encode(master.key).decode() + "\n")
    key.chmod(0o600)
    port = _port()
    ready, log = path.with_name("ready"), path.with_name("serve.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "veil", "--workspace", str(path), "--key-file", str(key),
             "serve", "--port", str(port), "--ready", str(ready)],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        while not ready.exists():
            if process.poll() is not None:
                raise RuntimeError(f"veil serve exited: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield f"https://127.0.0.1:{port}", path.with_name(f"{path.name}.tls") / "ca.crt"
    finally:
        process.terminate()
        process.wait(timeout=60)


def _login(url: str, ca: ssl.SSLContext, user: str, secret: str) -> str:
    answer = httpx.post(f"{url}/auth/login", verify=ca, json={
        "user": user, "password": PASSWORD, "totp": pyotp.TOTP(secret).now()})
    answer.raise_for_status()
    return answer.json()["token"]


def _headers(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "x-veil-purpose": PURPOSE}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- sections ------------------------------------------------------------------------------------
def _contended(url: str, ca: ssl.SSLContext, token: str, path: Path, master: MasterKey,
               size: Size) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Budget under contention (see the module docstring)."""
    with Workspace.open(path, master_key=master) as ws:
        logged_before = len(ws.ledger.tail(size.requests * 2, "dp.query"))

    async def burst() -> tuple[list[tuple[int, float]], float]:
        clients = [httpx.AsyncClient(base_url=url, verify=ca, headers=_headers(token),
                                     timeout=600, limits=httpx.Limits(max_connections=1))
                   for _ in range(size.clients)]
        for client in clients:  # connect (TLS handshake) before the burst
            (await client.get("/dp/budgets/patients")).raise_for_status()

        async def one(client: httpx.AsyncClient, i: int) -> tuple[int, float]:
            sql = f"SELECT COUNT(*) FROM patients WHERE glucose_mg_dl > {100 + i * 0.25}"
            started = time.perf_counter()
            answer = await client.post("/dp/query", json={"sql": sql, "epsilon": EPSILON,
                                                          "delta": None, "rho": None})
            return answer.status_code, time.perf_counter() - started

        async def client_loop(c: int) -> list[tuple[int, float]]:
            return [await one(clients[c], i) for i in range(c, size.requests, size.clients)]

        started = time.perf_counter()
        done = await asyncio.gather(*(client_loop(c) for c in range(size.clients)))
        wall = time.perf_counter() - started
        for client in clients:
            await client.aclose()
        return [r for per_client in done for r in per_client], wall

    results, wall = asyncio.run(burst())
    ok = [t for status, t in results if status == 200]
    refused = [t for status, t in results if status in (409, 429)]
    other = len(results) - len(ok) - len(refused)
    with Workspace.open(path, master_key=master) as ws:
        left = ws.budget("patients")
        logged = len(ws.ledger.tail(size.requests * 2, "dp.query")) - logged_before
    overspend = max(left.spent.epsilon - left.budget.epsilon, 0.0)
    if not (len(ok) == size.releases == logged == left.queries and other == 0
            and left.spent.epsilon == size.releases * EPSILON and overspend == 0):
        raise AssertionError(f"{len(ok)} answered, {len(refused)} refused, {other} other; "
                             f"{logged} logged, {left.queries} spends, spent "
                             f"{left.spent.epsilon} of {left.budget.epsilon}")
    every = ok + refused
    print(f"{size.clients} clients, {len(results)} DP queries for a budget of {size.releases}: "
          f"{len(ok)} answered, {len(refused)} refused (409/429), overspend {overspend}; "
          f"{len(ok) / wall:.1f} answered/s, p50 {statistics.median(ok) * 1e3:.0f} ms, p99 "
          f"{_percentile(ok, 0.99) * 1e3:.0f} ms")
    figures = {
        "contended_clients": size.clients, "contended_requests": len(results),
        "contended_budget_releases": size.releases, "contended_answered": len(ok),
        "contended_refused": len(refused), "contended_other_status": other,
        "contended_logged": logged, "contended_spent_epsilon": left.spent.epsilon,
        "contended_budget_epsilon": left.budget.epsilon, "contended_overspend": overspend,
        "contended_wall_s": wall, "contended_answered_per_s": len(ok) / wall,
        "contended_requests_per_s": len(results) / wall,
        "contended_answered_p50_ms": statistics.median(ok) * 1e3,
        "contended_answered_p99_ms": _percentile(ok, 0.99) * 1e3,
        "contended_all_p50_ms": statistics.median(every) * 1e3,
        "contended_all_p99_ms": _percentile(every, 0.99) * 1e3,
    }
    return figures, [goal("contended_overspend", overspend, "<= 0"),
                     goal("contended_answered_over_budget", len(ok) / size.releases, "<= 1")]


def _overhead(url: str, ca: ssl.SSLContext, token: str, path: Path, master: MasterKey,
              size: Size) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Service overhead (see the module docstring)."""
    sql = "SELECT AVG(glucose_mg_dl) FROM big WHERE bmi > {:.3f}"
    served, here = [], []
    with Workspace.open(path, master_key=master) as ws, httpx.Client(
            base_url=url, verify=ca, headers=_headers(token), timeout=600) as client:
        session = ws.session(token).for_purpose(PURPOSE)  # the same analyst, same purpose
        rows = ws.version("big").rows
        literal = iter(range(10_000))
        for run in range(2 + size.overhead_runs):
            started = time.perf_counter()
            client.post("/dp/query", json={"sql": sql.format(20 + next(literal) / 1000),
                                           "epsilon": 0.1}).raise_for_status()
            middle = time.perf_counter()
            session.query(sql.format(20 + next(literal) / 1000), epsilon=0.1)
            if run >= 2:  # two warm-ups each: the first query decrypts the table
                served.append(middle - started)
                here.append(time.perf_counter() - middle)
    ratio = statistics.median(served) / statistics.median(here)
    print(f"DP query on {rows:,} rows: service {statistics.median(served) * 1e3:.1f} ms, "
          f"in-process {statistics.median(here) * 1e3:.1f} ms (p50s), {ratio:.2f}x")
    figures = {"overhead_rows": rows, "overhead_runs": size.overhead_runs,
               "service_query_p50_ms": statistics.median(served) * 1e3,
               "inprocess_query_p50_ms": statistics.median(here) * 1e3,
               "service_over_inprocess": ratio}
    return figures, [goal("service_over_inprocess", ratio, "<= 1.3")]


def _overview(url: str, ca: ssl.SSLContext, token: str, path: Path, master: MasterKey,
              size: Size) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Dashboard overview (see the module docstring)."""
    times = []
    with httpx.Client(base_url=url, verify=ca, headers=_headers(token) | {
            "x-veil-purpose": "administration"}, timeout=600) as client:
        for run in range(3 + size.overview_runs):
            started = time.perf_counter()
            page = client.get("/ui/")
            elapsed = time.perf_counter() - started
            if page.status_code != 200 or "clinic00" not in page.text:
                raise AssertionError(f"GET /ui/ answered {page.status_code} without the "
                                     "datasets")
            if run >= 3:
                times.append(elapsed)
    with Workspace.open(path, master_key=master) as ws:
        datasets, entries = len(ws.dataset_names()), ws.ledger.size
    p95 = _percentile(times, 0.95)
    print(f"GET /ui/ with {datasets} datasets and {entries:,} ledger entries: p50 "
          f"{statistics.median(times) * 1e3:.0f} ms, p95 {p95 * 1e3:.0f} ms")
    figures = {"overview_datasets": datasets, "overview_ledger_entries": entries,
               "overview_runs": len(times), "overview_p50_ms": statistics.median(times) * 1e3,
               "overview_p95_ms": p95 * 1e3}
    return figures, [goal("overview_p95_ms", p95 * 1e3, "<= 300")]


def main(quick: bool = False) -> dict:
    size = QUICK if quick else FULL
    master = MasterKey(os.urandom(32))
    figures: dict[str, float] = {}
    goals: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ws"
        started = time.perf_counter()
        secrets = _build(path, master, size)
        figures["build_s"] = time.perf_counter() - started
        with _served(path, master) as (url, ca_file):
            ca = ssl.create_default_context(cafile=str(ca_file))
            analyst = _login(url, ca, "ana", secrets["ana"])
            owner = _login(url, ca, "olga", secrets["olga"])
            for section, token in ((_contended, analyst), (_overhead, analyst),
                                   (_overview, owner)):
                found, met = section(url, ca, token, path, master, size)
                figures |= found
                goals += met
    write_results("service", figures, goals, quick=quick)
    return {"figures": figures, "goals": goals}
