"""Governance: the cost of the checks every call goes through.

Each section is a function ``(quick) -> (figures, goals)`` listed in :data:`SECTIONS`; they all
write into one ``bench/results/govern.json``, so later sections (consent filtering, erasure)
add a function to the list.

**Guard decision.** 1,000 users, 50 roles and 20 datasets; 10,000 and 100,000 random policy
lines (plus the shipped roles' lines): each line a role's (or, one in ten, a user's) allow or
deny (one in ten) on a dataset or ``*``, for an operation (rarely ``*``), a purpose of eight or
``*``, a category or ``*``, with a condition three times in ten (MFA, office hours, both).
Each user holds one to three roles, on one dataset or (one in five) on ``*``; twenty role-to-role
links in ``*``. The same random requests (user, dataset, operation, purpose, category, MFA,
hour) go to veil's ``Policy.decide`` (compiled index; each decision also checks the catalog's
change token, as the guard's are) and to pycasbin's ``Enforcer.enforce`` on the same model and
lines (``Policy.enforcer()``), in one run; both must give the same answers. Per-decision times
are medians over individual calls, decisions/s the count over the time of an untimed-per-call
loop. pycasbin's role-graph warm-up (its first request per dataset) is kept out of its timing.

**Guard share.** A 1,000,000-row table (100,000 with ``--quick``), an analyst logged in for a
registered purpose: the median of five DP queries (``AVG`` under a filter, distinct literals, so
each is computed and spent) against the median of the guard's decision for the same call
(policy, purpose, categories), timed alone.

**Consent filter.** The demo's 22-column patients table tiled to 1,000,000 rows (100,000 with
``--quick``), a purpose that needs consent, every subject's consent recorded and 10% withdrawn.
The same whole-table read with and without the filter, alternated three times (medians): the
first filtered read after a consent change (it decrypts the purpose's new snapshot and works out
who consents now) and a repeated one (the mask kept with the id column it was computed for).

**Erasure.** A 1,000,000-row patients table (100,000 with ``--quick``; names, SSNs, emails,
ZIP codes, ages, scores, labels) ingested five times as five versions (each ingest timed: the
median is "one ingest"; one decrypting read of a version is timed too), then three derived
artifacts of the newest version: a k-anonymous release (ZIP code and age generalized, no
subject ids), a DP count and a DP-SGD model (one epoch). One subject held in every version is
erased through ``session.requests.erase``: five versions searched (the subject-id column of
the older ones, the whole newest one), the newest re-sealed without them, five versions
shredded, the three artifacts flagged (stale, DP-bounded), the receipt proved. The goal
compares the erasure with one ingest measured in the same run. A second figure erases another
subject after a reversible pseudonymized release (name, SSN and email tokenized, with its token
map) was made too: that release holds the subject, so it and its map are re-sealed as well.
Peer: none (no open-source tool propagates an erasure through versions and derived releases).
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from bench._common import goal, write_results
from veil.access.policy import (
    ANY,
    NO_CATEGORY,
    SCHEMA,
    Assignment,
    Operation,
    Policy,
    Request,
    Rule,
)
from veil.discover.entities import Category

Section = Callable[[bool], tuple[dict[str, float], list[dict[str, Any]]]]

USERS = [f"user{i:04d}" for i in range(1000)]
ROLES = [f"role{i:02d}" for i in range(50)]
DATASETS = [f"ds{i:02d}" for i in range(20)]
PURPOSES = [f"purpose{i}" for i in range(8)]
CATEGORIES = [*(str(c) for c in Category), NO_CATEGORY]
CONDITIONS = ["", "", "", "", "", "", "", "mfa", "hours=8-18", "mfa;hours=8-18"]


def _pick(rng: random.Random, names: list[str], wildcard: float) -> str:
    return ANY if rng.random() < wildcard else rng.choice(names)


def _catalog(lines: int, rng: random.Random) -> tuple[sqlite3.Connection, Policy]:
    """A catalog (in memory) holding ``lines`` rules, the shipped ones and random ones, and
    the role links, written through the API."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(SCHEMA)
    policy = Policy(conn)
    conn.execute("BEGIN")
    count = len(policy.install_defaults())
    while count < lines:
        rule = Rule(rng.choice(USERS) if rng.random() < 0.1 else rng.choice(ROLES),
                    _pick(rng, DATASETS, 0.15), _pick(rng, list(Operation), 0.02),
                    _pick(rng, PURPOSES, 0.25), _pick(rng, CATEGORIES, 0.4),
                    rng.choice(CONDITIONS), "deny" if rng.random() < 0.1 else "allow")
        if rule not in policy:
            policy.add(rule)
            count += 1
    links = [Assignment(user, role, _pick(rng, DATASETS, 0.2))
             for user in USERS for role in rng.sample(ROLES, rng.randint(1, 3))]
    links += [Assignment(a, b) for a, b in zip(ROLES[:20], rng.sample(ROLES[20:], 20),
                                               strict=True)]
    for link in dict.fromkeys(links):
        policy.add(link)
    conn.execute("COMMIT")
    return conn, policy


def _requests(count: int, rng: random.Random) -> list[Request]:
    return [Request(rng.choice(USERS), _pick(rng, DATASETS, 0.05), rng.choice(list(Operation)),
                    rng.choice(PURPOSES), rng.choice(CATEGORIES), rng.random() < 0.5,
                    rng.randrange(24)) for _ in range(count)]


def _each(fn: Callable[[Request], Any], requests: list[Request]) -> tuple[list[float], list]:
    """Seconds per call and the answers."""
    times, answers = [], []
    for request in requests:
        started = time.perf_counter()
        answers.append(fn(request))
        times.append(time.perf_counter() - started)
    return times, answers


def _size(lines: int, requests: int, casbin_requests: int, rounds: int
          ) -> tuple[dict[str, float], list[dict[str, Any]]]:
    tag = f"{lines // 1000}k"
    rng = random.Random(lines)
    started = time.perf_counter()
    conn, policy = _catalog(lines, rng)
    built = time.perf_counter() - started
    asked = _requests(requests, rng)

    started = time.perf_counter()
    compiled = Policy(conn)  # compile from the table, as a workspace opens
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    enforcer = policy.enforcer()
    casbin_loaded = time.perf_counter() - started

    _each(compiled.decide, asked)  # warm-up
    veil_times: list[float] = []
    loops = []
    for _ in range(rounds):
        times, decisions = _each(compiled.decide, asked)
        veil_times += times
        started = time.perf_counter()
        for request in asked:
            compiled.decide(request)
        loops.append(time.perf_counter() - started)
    loop = statistics.median(loops)

    for dataset in (*DATASETS, ANY):  # pycasbin builds each dataset's role graph on first use
        enforcer.enforce(USERS[0], dataset, "audit", PURPOSES[0], NO_CATEGORY, False, 12)
    sample = asked[:casbin_requests]
    casbin_times, casbin_answers = _each(lambda r: enforcer.enforce(*r.values()), sample)
    disagree = sum(d.allowed != want for d, want in zip(decisions, casbin_answers, strict=False))

    veil_ms = statistics.median(veil_times) * 1e3
    casbin_ms = statistics.median(casbin_times) * 1e3
    figures = {
        f"policy_lines_{tag}": len(compiled.rules()),
        f"role_links_{tag}": len(compiled.assignments()),
        f"build_via_api_s_{tag}": built,
        f"veil_compile_s_{tag}": loaded,
        f"casbin_load_s_{tag}": casbin_loaded,
        f"veil_decision_median_ms_{tag}": veil_ms,
        f"veil_decision_p99_ms_{tag}": statistics.quantiles(veil_times, n=100)[98] * 1e3,
        f"veil_decisions_per_s_{tag}": len(asked) / loop,
        f"casbin_enforce_median_ms_{tag}": casbin_ms,
        f"casbin_decisions_per_s_{tag}": len(sample) / sum(casbin_times),
        f"casbin_over_veil_{tag}": casbin_ms / veil_ms,
        f"allowed_share_{tag}": sum(d.allowed for d in decisions) / len(decisions),
        f"compared_with_casbin_{tag}": len(sample),
        f"disagreements_with_casbin_{tag}": disagree,
    }
    print(f"{tag} lines: veil {veil_ms:.4f} ms/decision ({len(asked) / loop:,.0f}/s), "
          f"pycasbin {casbin_ms:.3f} ms ({casbin_ms / veil_ms:,.0f}x slower), "
          f"{disagree} disagreements in {len(sample)}")
    goals = [goal(f"veil_decisions_per_s_{tag}", len(asked) / loop, ">= 20000"),
             goal(f"veil_decision_median_ms_{tag}", veil_ms, "<= 0.05"),
             goal(f"disagreements_with_casbin_{tag}", disagree, "<= 0")]
    return figures, goals


def guard(quick: bool) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Policy decisions at 10,000 and 100,000 lines (quick: 10,000, fewer requests)."""
    sizes = [(10_000, 1000, 30, 2)] if quick else [(10_000, 5000, 300, 5),
                                                   (100_000, 5000, 60, 5)]
    figures: dict[str, float] = {}
    goals: list[dict[str, Any]] = []
    for size in sizes:
        found, met = _size(*size)
        figures |= found
        goals += met
    return figures, goals


def _patients(rows: int, version: int) -> pl.DataFrame:
    """Patients with direct identifiers; ``version`` shifts the ages, so versions differ."""
    i = pl.int_range(rows, dtype=pl.Int64)
    digits = i.cast(pl.String).str.zfill(7)
    return pl.select(
        pid=pl.format("P{}", digits), name=pl.format("Person {}", digits),
        ssn=pl.format("{}-{}-{}", (101 + i % 600).cast(pl.String),
                      (11 + i % 80).cast(pl.String), (1001 + i % 8000).cast(pl.String)),
        email=pl.format("user{}@example.com", digits),
        zip=pl.format("0{}", (2100 + i % 700).cast(pl.String)),
        age=(20 + (i + version) % 60).cast(pl.Int64), score=(i % 97).cast(pl.Float64),
        label=(i % 2).cast(pl.Int8))


def erasure(quick: bool) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Erasure of one subject from a dataset with five versions and three derived artifacts,
    against one ingest of the same size (see the module docstring)."""
    from veil import Workspace
    from veil.keys import MasterKey

    rows = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as folder, Workspace.create(
            Path(folder) / "ws", master_key=MasterKey(os.urandom(32))) as ws:
        ingests = []
        for version in range(1, 6):
            frame = _patients(rows, version)
            started = time.perf_counter()
            ws.ingest(frame, "patients", subject_id="pid")
            ingests.append(time.perf_counter() - started)
        reads = []
        for _ in range(3):  # decrypt, re-check the fingerprint, log: what searching one costs
            started = time.perf_counter()
            ws.read("patients")
            reads.append(time.perf_counter() - started)
        ws.anonymize("patients", ["zip", "age"], [], keep=[], k=5, suppression_limit=0.05)
        ws.dp_settings("patients", bounds={"age": (0, 100), "score": (0, 100)},
                       public_keys={"label": [0, 1]})
        ws.set_budget("patients", epsilon=5.0, delta=1e-6)
        ws.query("SELECT COUNT(*) FROM patients WHERE age > 40", epsilon=0.1)
        ws.train("patients", target="label", features=["age", "score"], epsilon=1.0,
                 delta=1e-7, model="logreg", epochs=1, batch_size=4096, seed=0)
        started = time.perf_counter()
        receipt = ws.requests.erase("P0000042")
        erased = time.perf_counter() - started
        ws.pseudonymize("patients", ["name", "ssn", "email"], reversible=True)
        started = time.perf_counter()
        with_release = ws.requests.erase("P0000043")
        erased_with_release = time.perf_counter() - started
    ingest, read = statistics.median(ingests), statistics.median(reads)
    shredded = sum(len(d.shredded) for d in receipt.datasets)
    print(f"erasure from {rows:,} rows x 5 versions + 3 artifacts: {erased:.2f} s; one ingest "
          f"{ingest:.2f} s ({erased / ingest:.2f}x), one read {read:.2f} s; {shredded} "
          f"versions shredded, {len(receipt.flags)} artifacts flagged; with a reversible "
          f"pseudonymized release too: {erased_with_release:.2f} s "
          f"({erased_with_release / ingest:.2f}x)")
    figures = {"erasure_rows": rows, "erasure_versions": 5, "erasure_artifacts": 3,
               "erasure_versions_shredded": shredded,
               "erasure_versions_made": sum(len(d.made) for d in receipt.datasets),
               "erasure_artifacts_flagged": len(receipt.flags),
               "ingest_median_s": ingest, "read_median_s": read, "erasure_s": erased,
               "erasure_over_ingest": erased / ingest,
               "erasure_with_pseudonymized_release_s": erased_with_release,
               "erasure_with_pseudonymized_release_over_ingest": erased_with_release / ingest,
               "erasure_with_release_versions_made": sum(
                   len(d.made) for d in with_release.datasets)}
    return figures, [goal("erasure_over_ingest", erased / ingest, "<= 3")]


def consent_filter(quick: bool) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """A read for a purpose that needs consent, 10% of the subjects withdrawn, against the
    same read without the filter (see the module docstring)."""
    from veil import Workspace
    from veil.demo.data import generate_patients
    from veil.govern.purposes import LawfulBasis, Purpose, SpecialCondition
    from veil.keys import MasterKey

    rows = 100_000 if quick else 1_000_000
    base = generate_patients(10_000, seed=5)  # realistic columns, tiled to the size
    frame = pl.concat([base] * (rows // base.height)).with_columns(
        patient_id=pl.format("P{}", pl.int_range(pl.len()).cast(pl.String).str.zfill(7)))
    with tempfile.TemporaryDirectory() as folder, Workspace.create(
            Path(folder) / "ws", master_key=MasterKey(os.urandom(32))) as ws:
        ws.ingest(frame, "patients", subject_id="patient_id", classify=False)
        ws.purposes.add(Purpose("study", "benchmark", LawfulBasis.CONSENT, {"patients": ("*",)},
                                frozenset({"raw_read"}), consent_required=True,
                                retention_days=None, special=SpecialCondition.EXPLICIT_CONSENT))
        events = pl.DataFrame({"subject": frame["patient_id"], "purpose": "study",
                               "state": "given", "at": "2026-01-01T00:00:00+00:00",
                               "source": "form", "notice": "v1"})
        ws.consent.record(events)
        ws.consent.record(events.sample(fraction=0.1, seed=1).with_columns(
            state=pl.lit("withdrawn"), at=pl.lit("2026-06-01T00:00:00+00:00")))
        study = ws.for_purpose("study")
        plain, first, again = [], [], []
        for _ in range(3):  # alternate, so load on the machine falls on both alike
            started = time.perf_counter()
            ws.read("patients")
            plain.append(time.perf_counter() - started)
            ws.consent.give("P0000000", "study", source="bench", notice="v1")  # a new state
            started = time.perf_counter()
            kept = study.read("patients")
            first.append(time.perf_counter() - started)
            started = time.perf_counter()
            study.read("patients")
            again.append(time.perf_counter() - started)
    read, once, repeat = (statistics.median(x) for x in (plain, first, again))
    print(f"consent filter on {rows:,} x {frame.width} read, {rows - kept.height:,} withdrawn: "
          f"plain {read:.3f} s, first filtered {once:.3f} s ({once / read:.2f}x), repeated "
          f"{repeat:.3f} s ({repeat / read:.2f}x)")
    figures = {"consent_rows": rows, "consent_columns": frame.width,
               "consent_withdrawn": rows - kept.height, "read_plain_s": read,
               "read_filtered_first_s": once, "read_filtered_repeat_s": repeat,
               "consent_first_over_plain": once / read, "consent_repeat_over_plain": repeat / read}
    # the goal is the filter's cost on a read; the first read after a consent change also
    # decrypts the purpose's new snapshot and recomputes who consents (reported beside it)
    return figures, [goal("consent_repeat_over_plain", repeat / read, "<= 1.2")]


def guard_share(quick: bool) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The guard's share of a DP query's time, for a logged-in analyst (see the module
    docstring)."""
    import pyotp

    from veil import Workspace
    from veil.access.policy import Operation
    from veil.govern.purposes import LawfulBasis, Purpose
    from veil.keys import MasterKey

    rows = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as folder, Workspace.create(
            Path(folder) / "ws", master_key=MasterKey(os.urandom(32))) as ws:
        ws.ingest(_patients(rows, 1), "patients", subject_id="pid", classify=False)
        ws.dp_settings("patients", bounds={"age": (0, 100), "score": (0, 100)})
        ws.set_budget("patients", epsilon=1e6)
        ws.purposes.add(Purpose("stats", "statistics", LawfulBasis.PUBLIC_TASK,
                                {"patients": ("age", "score")}, frozenset({"dp_query"}),
                                consent_required=False, retention_days=None))
        made = ws.users.add("ana", "a long benchmark password")
        ws.policy.assign("ana", "analyst", "patients")
        ana = ws.login("ana", "a long benchmark password", pyotp.TOTP(made.secret).now(),
                       purpose="stats")
        record = ws.version("patients")
        queries, checks = [], []
        for i in range(5):  # distinct literals: every query is computed and spent, none cached
            started = time.perf_counter()
            ana.query(f"SELECT AVG(score) FROM patients WHERE age > {i}", epsilon=0.1)
            queries.append(time.perf_counter() - started)
            started = time.perf_counter()
            ana._allow(Operation.DP_QUERY, record=record, columns=["score", "age"])
            checks.append(time.perf_counter() - started)
    query, check = statistics.median(queries), statistics.median(checks)
    print(f"DP query on {rows:,} rows as a logged-in analyst: {query * 1e3:.1f} ms, of which "
          f"the guard {check * 1e3:.2f} ms ({check / query:.2%})")
    figures = {"guard_share_rows": rows, "dp_query_ms": query * 1e3, "guard_check_ms": check * 1e3,
               "guard_share_of_query": check / query}
    return figures, [goal("guard_share_of_query", check / query, "<= 0.05")]


SECTIONS: list[Section] = [guard, guard_share, consent_filter, erasure]


def main(quick: bool = False) -> dict:
    figures: dict[str, float] = {}
    goals: list[dict[str, Any]] = []
    for section in SECTIONS:
        found, met = section(quick)
        figures |= found
        goals += met
    write_results("govern", figures, goals, quick=quick)
    return {"figures": figures, "goals": goals}
