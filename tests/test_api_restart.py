"""``veil serve`` killed with SIGKILL (what a power cut does) in the middle of work, then
started again: the catalog and the ledger verify, nothing is half-written, and a job that was
running reads ``interrupted``, never lost and never rerun.

Each kill is synchronised on what the server reports (its open upload spool file, a job's
state), never on a clock; the request that was cut off keeps streaming until the kill, so it
cannot have finished first."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import snapshot
from service import EVERYTHING, World, build_world, serve
from veil import Workspace


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("restart"))


def _state(world: World) -> tuple[Any, ...]:
    """The datasets' versions and the vault's files (the ledger grows on every start: the
    server's TLS certificate is issued and logged)."""
    with Workspace.open(world.path, master_key=world.master) as ws:
        kept = snapshot(ws)
        models = [(m["name"], m["version"]) for m in ws.models()]
        budget = ws.budget("patients").to_dict()
    return kept[2], kept[3], models, budget


def _verified(world: World, served: Any) -> None:
    """The ledger and every catalog row bound to it verify, in-process and through the
    restarted service."""
    with Workspace.open(world.path, master_key=world.master) as ws:
        assert ws.verify().entries == ws.ledger.size
    with served.client(world.token("auditor"), **{"x-veil-purpose": EVERYTHING}) as http:
        answer = http.post("/audit/verify")
    assert answer.status_code == 200 and answer.json()["ok"], answer.text


def _spooling(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` holds an unlinked file in ``folder`` open: the spool file the
    multipart parser writes an upload to once it outgrows memory (only /proc shows it)."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed meanwhile
            continue
        if target.startswith(f"{folder}/") and target.endswith(" (deleted)"):
            return True
    return False


def test_kill_during_an_upload(world: World, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL while an ingest upload streams in: no version, no vault file, no spool file
    left; the ledger verifies after the restart."""
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setenv("TMPDIR", str(spool))  # the server's temporary folder
    token = world.token("steward")
    before = _state(world)
    killed = threading.Event()
    rows = world.frame.write_csv().encode()
    header, rows = rows.split(b"\n", 1)
    boundary = "veil-restart-boundary"

    def body() -> Iterator[bytes]:
        """A multipart upload of a CSV that keeps growing until the server is killed."""
        for name, value in (("name", "halfway"), ("subject_id", "patient_id")):
            yield (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n").encode()
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
               f'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n').encode() + header + b"\n"
        while not killed.is_set():
            yield rows

    with serve(world) as served:
        outcome: list[BaseException | httpx.Response] = []

        def upload() -> None:
            try:
                with served.client(token, **{"x-veil-purpose": EVERYTHING}) as http:
                    outcome.append(http.post("/datasets/upload", content=body(), headers={
                        "content-type": f"multipart/form-data; boundary={boundary}"}))
            except httpx.HTTPError as exc:
                outcome.append(exc)

        sender = threading.Thread(target=upload)
        sender.start()
        while not _spooling(served.process.pid, spool):
            assert sender.is_alive() and served.process.poll() is None, outcome
            time.sleep(0.02)
        served.kill()
        killed.set()
        sender.join()
    assert isinstance(outcome[0], httpx.TransportError), outcome  # cut off, never answered
    assert not list(spool.iterdir())
    with serve(world) as restarted:
        _verified(world, restarted)
        assert _state(world) == before
        with restarted.client(token, **{"x-veil-purpose": EVERYTHING}) as http:
            assert "halfway" not in [v["dataset"] for v in http.get("/datasets").json()]


def test_kill_during_a_training_job(world: World) -> None:
    """SIGKILL while ``POST /models/train`` runs: after the restart the job reads
    ``interrupted``, no model is registered, nothing is spent, the ledger verifies."""
    token = world.token("ml_engineer")
    before = _state(world)
    purpose = {"x-veil-purpose": EVERYTHING}
    with serve(world) as served, served.client(token, **purpose) as http:
        answer = http.post("/models/train", json={
            "dataset": "patients", "target": "readmitted_30d",
            "features": ["glucose_mg_dl", "bmi", "sex"], "epsilon": 2.0, "model": "mlp",
            "epochs": 1000, "batch_size": 16, "name": "never.registered"})
        assert answer.status_code == 202, answer.text
        job = answer.json()
        while job["state"] == "queued":  # until the job thread picked it up
            time.sleep(0.02)
            job = http.get(f"/jobs/{job['id']}").json()
        assert job["state"] == "running", job  # 1000 epochs: far from done
        served.kill()
    with serve(world) as restarted, restarted.client(token, **purpose) as http:
        found = http.get(f"/jobs/{job['id']}").json()
        assert found["state"] == "interrupted" and found["result"] is None, found
        assert http.get("/models/never.registered").status_code == 404
        _verified(world, restarted)
    assert _state(world) == before
