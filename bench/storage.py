"""Storage: encrypted ingest against plain Parquet, and the audit ledger's append, verify and
proof costs, all measured in one run on the same data.

1. Ingest + encrypt: ``Workspace.ingest(classify=False)`` (validate, fingerprint, Parquet/zstd,
   AES-256-GCM, atomic write with fsync, catalog + ledger commit) against the same frame written
   as plain Parquet with Polars defaults (zstd) plus an fsync of the file. The default ingest,
   which also classifies a 2,000-row sample (``veil.discover``), is timed as a figure. Reads
   likewise (``ws.read`` decrypts, re-checks the fingerprint and logs the access) against
   ``pl.read_parquet``.
2. Ledger appends, batched 10,000 to a transaction (the ledger's bulk path) and one per
   transaction (what a single workspace operation costs).
3. ``verify()`` over the whole ledger.
4. Inclusion and consistency proofs: time to make, time to verify, size.
5. Signed tree heads: signing and verifying one, hybrid (Ed25519 + ML-DSA-65) against Ed25519
   alone, median of many runs, and the ratio.
6. Key sharing: wrapping a 32-byte data key for a recipient (X25519 + ML-KEM-768, HKDF,
   AES-256-GCM: ``veil.keys.share.wrap``) and unwrapping it, median of many runs.
"""

from __future__ import annotations

import gc
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey

from bench._common import goal, timed, write_results
from veil._atomic import fsync_path
from veil.demo.data import generate_patients
from veil.keys.master import MasterKey
from veil.keys.share import RecipientKey, unwrap, wrap
from veil.ledger import Record, SignedTreeHead, verify_consistency, verify_inclusion
from veil.ledger.signing import HeadSigner
from veil.workspace.fingerprint import fingerprint
from veil.workspace.workspace import Workspace

AREA = "storage"
MB = 1e6


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _workspace(path: Path) -> Workspace:
    # A raw random master key: no Argon2 cost in anything timed here.
    return Workspace.create(path, master_key=MasterKey(os.urandom(32)))


def _record_pool(seed: int = 7, size: int = 256) -> list[Record]:
    """Small, realistic audit records: who queried which columns of what, for what, at what ε."""
    rng = random.Random(seed)
    actors = ["analyst.ana", "analyst.bo", "svc.trainer", "auditor.kim", "dpo.lee"]
    actions = ["dp.query", "dataset.read", "model.train", "synth.generate", "pii.scan"]
    purposes = ["research", "quality-improvement", "operations", "audit"]
    columns = ["age", "zip_code", "sex", "diagnosis_code", "glucose_mg_dl", "bmi", "systolic_bp"]
    pool = []
    for _ in range(size):
        version = rng.randint(1, 3)
        pool.append(Record(
            rng.choice(actors), rng.choice(actions), f"patients@{version}", rng.choice(purposes),
            {"dataset": f"patients@{version}", "columns": sorted(rng.sample(columns, 2)),
             "epsilon": rng.choice([0.1, 0.25, 0.5, 1.0])},
        ))
    return pool


# -- 1. ingest and read ----------------------------------------------------------------------
def _ingest(tmp: Path, frame: pl.DataFrame, repeat: int) -> dict[str, float]:
    frame_mb = frame.estimated_size() / MB
    counter = iter(range(10**6))
    sizes: dict[str, int] = {}

    def plain_setup() -> Path:
        return tmp / f"plain-{next(counter)}.parquet"

    def plain(path: Path) -> None:
        frame.write_parquet(path)  # Polars defaults: zstd
        fsync_path(path)  # veil fsyncs its sealed file, so the peer does too

    def plain_teardown(path: Path) -> None:
        sizes["plain"] = path.stat().st_size
        path.unlink()

    def veil_setup() -> Workspace:
        return _workspace(tmp / f"ws-ingest-{next(counter)}")

    def veil(ws: Workspace) -> None:
        # The storage path alone; the ingest-time PII scan (discover) is timed separately below.
        ws.ingest(frame, "patients", subject_id="patient_id", classify=False)

    def veil_classified(ws: Workspace) -> None:
        ws.ingest(frame, "patients", subject_id="patient_id")

    def veil_teardown(ws: Workspace) -> None:
        sizes["veil"] = sum(p.stat().st_size for p in (ws.path / "vault").iterdir())
        ws.close()
        shutil.rmtree(ws.path)

    # Alternate the two sides so that drift in the machine (page cache, thermal) hits both.
    plain_runs: list[float] = []
    veil_runs: list[float] = []
    for _ in range(repeat):
        gc.collect()
        plain_runs += timed(plain, 1, setup=plain_setup, teardown=plain_teardown).runs
        gc.collect()
        veil_runs += timed(veil, 1, setup=veil_setup, teardown=veil_teardown).runs
    plain_s, veil_s = statistics.median(plain_runs), statistics.median(veil_runs)
    gc.collect()
    classified_s = timed(veil_classified, repeat, setup=veil_setup,
                         teardown=veil_teardown).median
    # veil's one step with no counterpart in the peer: the canonical SHA-256 of the whole frame.
    gc.collect()
    fingerprint_s = timed(lambda: fingerprint(frame), repeat).median

    # Reads: one plain file and one workspace holding the same frame, each read `repeat` times.
    plain_path = tmp / "plain-read.parquet"
    plain(plain_path)
    ws = _workspace(tmp / "ws-read")
    try:
        ws.ingest(frame, "patients", subject_id="patient_id")
        gc.collect()
        plain_read = timed(lambda: pl.read_parquet(plain_path), repeat)
        gc.collect()
        veil_read = timed(lambda: ws.read("patients"), repeat)
        assert ws.read("patients").equals(frame), "veil read back a different frame"
    finally:
        ws.close()
        shutil.rmtree(ws.path)
        plain_path.unlink()

    rows = frame.height
    return {
        "rows": rows,
        "columns": frame.width,
        "frame_mb": frame_mb,
        "plain_ingest_seconds": plain_s,
        "veil_ingest_seconds": veil_s,
        "plain_rows_per_s": rows / plain_s,
        "veil_rows_per_s": rows / veil_s,
        "plain_mb_per_s": frame_mb / plain_s,
        "veil_mb_per_s": frame_mb / veil_s,
        "ingest_ratio": plain_s / veil_s,
        "plain_ingest_seconds_best": min(plain_runs),
        "veil_ingest_seconds_best": min(veil_runs),
        "ingest_ratio_best": min(plain_runs) / min(veil_runs),
        "fingerprint_seconds": fingerprint_s,
        "veil_ingest_classified_seconds": classified_s,
        "classify_overhead_seconds": classified_s - veil_s,
        "plain_file_mb": sizes["plain"] / MB,
        "veil_file_mb": sizes["veil"] / MB,
        "plain_read_seconds": plain_read.median,
        "veil_read_seconds": veil_read.median,
        "read_ratio": plain_read.median / veil_read.median,
    }


# -- 2-4. ledger -----------------------------------------------------------------------------
def _fill(ws: Workspace, total: int, batch: int, pool: list[Record]) -> float:
    """Append ``total`` records in transactions of ``batch``; return the wall seconds."""
    conn, ledger = ws._store.conn, ws.ledger
    n = len(pool)
    start = time.perf_counter()
    for first in range(0, total, batch):
        records = [pool[i % n] for i in range(first, min(first + batch, total))]
        # Private connection on purpose: batching many records into one transaction is the
        # ledger's bulk path (Ledger.append_many runs inside the caller's transaction), and the
        # workspace exposes no public bulk-append. Same steps as Workspace._transaction.
        conn.execute("BEGIN IMMEDIATE")
        try:
            ledger.append_many(records, now=_now())
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        ledger.publish_head()
    return time.perf_counter() - start


def _single(ws: Workspace, count: int, pool: list[Record]) -> float:
    """``count`` appends, one transaction each (commit + head file, like any workspace call)."""
    conn, ledger = ws._store.conn, ws.ledger  # private on purpose; see _fill
    start = time.perf_counter()
    for i in range(count):
        conn.execute("BEGIN IMMEDIATE")
        ledger.append(pool[i % len(pool)], now=_now())
        conn.execute("COMMIT")
        ledger.publish_head()
    return time.perf_counter() - start


def _mean_ms(values: list[float]) -> float:
    return 1000 * statistics.fmean(values)


def _proofs(ws: Workspace, count: int, seed: int = 11) -> dict[str, float]:
    ledger = ws.ledger
    key = ledger.key
    size = ledger.size
    rng = random.Random(seed)
    make, check, json_bytes, path_bytes = [], [], [], []
    for seq in (rng.randint(1, size) for _ in range(count)):
        t0 = time.perf_counter()
        proof = ledger.prove_inclusion(seq)
        t1 = time.perf_counter()
        verify_inclusion(proof, key)
        t2 = time.perf_counter()
        make.append(t1 - t0)
        check.append(t2 - t1)
        json_bytes.append(len(json.dumps(proof.to_dict()).encode()))
        path_bytes.append(32 * len(proof.path))
    figures: dict[str, float] = {
        "inclusion_proofs": count,
        "inclusion_make_ms": _mean_ms(make),
        "inclusion_verify_ms": _mean_ms(check),
        "inclusion_json_bytes": statistics.fmean(json_bytes),
        "inclusion_path_bytes": statistics.fmean(path_bytes),
        "inclusion_path_bytes_max": max(path_bytes),
    }
    olds = {"1": 1, "1k": min(1000, size - 1), "half": size // 2, "last": size - 1}
    reps = max(10, count // 20)
    for label, old in olds.items():
        old_root = ledger.root_at(old)
        make, check = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            proof = ledger.prove_consistency(old)
            t1 = time.perf_counter()
            verify_consistency(proof, key, trusted_old_root=old_root)
            t2 = time.perf_counter()
            make.append(t1 - t0)
            check.append(t2 - t1)
        figures |= {
            f"consistency_{label}_make_ms": _mean_ms(make),
            f"consistency_{label}_verify_ms": _mean_ms(check),
            f"consistency_{label}_json_bytes": len(json.dumps(proof.to_dict()).encode()),
            f"consistency_{label}_path_bytes": 32 * len(proof.path),
        }
    return figures


def _ledger(tmp: Path, total: int, batch: int, single: int, proofs: int) -> dict[str, float]:
    pool = _record_pool()
    ws = _workspace(tmp / "ws-ledger")
    try:
        base = ws.ledger.size  # the workspace.create entry
        gc.collect()
        fill_s = _fill(ws, total, batch, pool)
        entries = ws.ledger.size
        assert entries == base + total, "the ledger lost appends"
        gc.collect()
        t0 = time.perf_counter()
        checked = ws.ledger.verify()
        verify_s = time.perf_counter() - t0
        assert checked.entries == entries
        figures: dict[str, float] = {
            "ledger_appends": total,
            "ledger_batch": batch,
            "ledger_fill_seconds": fill_s,
            "appends_per_s": total / fill_s,
            "verify_entries": checked.entries,
            "verify_nodes": checked.nodes,
            "verify_seconds": verify_s,
            "verify_entries_per_s": checked.entries / verify_s,
            "catalog_mb": sum(p.stat().st_size for p in ws.path.glob("veil.db*")) / MB,
        }
        figures |= _proofs(ws, proofs)
        gc.collect()
        single_s = _single(ws, single, pool)
        figures |= {
            "single_appends": single,
            "single_seconds": single_s,
            "appends_per_s_single": single / single_s,
        }
    finally:
        ws.close()
        shutil.rmtree(ws.path, ignore_errors=True)
    return figures


def _heads(repeat: int) -> dict[str, float]:
    """Median time to sign and to verify one tree head, hybrid (Ed25519 + ML-DSA-65, what
    every append and every check now pays) against Ed25519 alone, in ms, and their ratios."""
    ed, ml = Ed25519PrivateKey.generate(), MLDSA65PrivateKey.generate()
    root, when = os.urandom(32), _now()
    figures: dict[str, float] = {"head_runs": repeat}
    for label, signer in (("ed25519", HeadSigner(ed)), ("hybrid", HeadSigner(ed, ml))):
        key = signer.public(classical_until=0)
        head = SignedTreeHead.sign(signer, 1_000_000, root, when)
        figures[f"head_sign_{label}_ms"] = timed(
            lambda s=signer: SignedTreeHead.sign(s, 1_000_000, root, when), repeat).median * 1e3
        figures[f"head_verify_{label}_ms"] = timed(
            lambda h=head, k=key: h.verify(k), repeat).median * 1e3
    for step in ("sign", "verify"):
        figures[f"head_{step}_ratio"] = (figures[f"head_{step}_hybrid_ms"]
                                         / figures[f"head_{step}_ed25519_ms"])
    return figures


def _sharing(repeat: int) -> dict[str, float]:
    """Median share (wrap) and accept (unwrap) time of one 32-byte data key, in ms."""
    recipient = RecipientKey.generate()
    public, key, context = recipient.public, os.urandom(32), b"veil-share-v1|bench@1"
    sender = os.urandom(16)
    made = timed(lambda: wrap(key, public, context, sender=sender), repeat)
    share = wrap(key, public, context, sender=sender)
    opened = timed(lambda: unwrap(share, recipient), repeat)
    assert unwrap(share, recipient).key == key
    return {"share_runs": repeat, "share_wrap_ms": made.median * 1e3,
            "share_unwrap_ms": opened.median * 1e3, "share_bytes": len(share)}


def main(quick: bool = False) -> dict[str, Any]:
    rows = 50_000 if quick else 1_000_000
    repeat = 2 if quick else 5
    total = 50_000 if quick else 1_000_000
    single = 500 if quick else 2_000
    started = time.perf_counter()

    frame = generate_patients(rows)
    with tempfile.TemporaryDirectory(prefix="veil-bench-storage-") as name:
        tmp = Path(name)
        figures = _ingest(tmp, frame, repeat)
        del frame
        gc.collect()
        figures |= _ledger(tmp, total, batch=10_000, single=single, proofs=1_000)
    figures |= _sharing(200 if quick else 2_000)
    figures |= _heads(200 if quick else 2_000)
    figures["bench_seconds"] = time.perf_counter() - started

    goals = [
        goal("ingest_ratio", figures["ingest_ratio"], ">= 0.7"),
        goal("appends_per_s", figures["appends_per_s"], ">= 20000"),
        goal("verify_seconds", figures["verify_seconds"], "<= 10"),
    ]
    write_results(AREA, figures, goals, quick=quick)
    return {"area": AREA, "figures": figures, "goals": goals}


if __name__ == "__main__":
    main()
