"""Shared by the service's tests: a workspace with one user per shipped role, an in-process
client signed in as any of them, and the real ``veil serve`` process over TLS.

``world`` is built once per test module that asks for it (Argon2id and TOTP cost time); tests
that change shared state make their own names.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from veil import Workspace
from veil.access.policy import Operation
from veil.demo.data import generate_patients
from veil.govern.purposes import LawfulBasis, Purpose, SpecialCondition
from veil.keys import MasterKey

PASSWORD = "correct horse battery staple"
ROLES = ("owner", "steward", "analyst", "ml_engineer", "auditor", "dpo")
EVERYTHING = "everything"
FINAL = {"done", "failed", "interrupted"}  # the states a job ends in


@dataclass
class World:
    """An owner workspace at ``path`` (master key ``master``) holding ``patients`` (classified,
    DP settings and a budget, a trained model, a reversible pseudonymized release), a purpose
    ``everything`` allowing every operation, and one user per shipped role (``u-<role>``,
    ``u-owner`` holding the ``owner`` role that may do everything; password
    :data:`PASSWORD`, TOTP secret in ``secrets``), plus ``u-nobody`` with no role."""

    path: Path
    master: MasterKey
    frame: pl.DataFrame
    secrets: dict[str, str] = field(default_factory=dict)
    _steps: dict[str, int] = field(default_factory=dict)

    def code(self, role: str) -> str:
        """A fresh TOTP code of ``u-<role>`` (each code is accepted once: this walks forward a
        step each call; the login window accepts one step ahead, so call it at most twice per
        user within 30 s, or use :meth:`token`)."""
        import time

        import pyotp

        step = self._steps.get(role, 0)
        self._steps[role] = step + 1
        return pyotp.TOTP(self.secrets[role]).at(time.time() + 30 * min(step, 1))

    def token(self, role: str, hours: float = 8.0) -> str:
        """A session token for ``u-<role>``, made in-process as ``veil login`` keeps one (no
        TOTP code used up; its MFA time is now, so step-up rules pass for a few minutes)."""
        from datetime import UTC, datetime

        from veil.access.guard import Identity
        from veil.access.session import Session

        with Workspace.open(self.path, master_key=self.master) as ws:
            session = Session(ws._store, ws._guard,
                              Identity(f"u-{role}", mfa_at=datetime.now(UTC)), EVERYTHING)
            return ws.keep_login(session, hours=hours)


def build_world(root: Path, rows: int = 300, anonymized: bool = False) -> World:
    """A :class:`World` under ``root``; with ``anonymized``, also a k-anonymous release of
    ``patients`` (the pages draw its risk chart)."""
    master = MasterKey(os.urandom(32))
    frame = generate_patients(rows, seed=3)
    world = World(root / "ws", master, frame)
    with Workspace.create(world.path, master_key=master) as ws:
        ws.ingest(frame, "patients", subject_id="patient_id")
        ws.pseudonymize("patients", ["email"], reversible=True)
        if anonymized:
            ws.anonymize("patients", ["sex", "zip_code", "birth_date"], ["diagnosis_code"], k=5,
                         suppression_limit=0.05)
        ws.dp_settings("patients", bounds={"glucose_mg_dl": (40, 450), "bmi": (10, 60)},
                       public_keys={"sex": ["F", "M"], "readmitted_30d": [0, 1]})
        ws.set_budget("patients", epsilon=1000.0, delta=0.5)
        ws.train("patients", target="readmitted_30d", features=["glucose_mg_dl", "sex"],
                 epsilon=5.0, delta=1e-5, model="logreg", epochs=1, batch_size=64, seed=1)
        ws.purposes.add(Purpose(
            EVERYTHING, "every operation, for the service's tests",
            LawfulBasis.LEGITIMATE_INTERESTS,
            {"patients": ("*",), "patients.pseudonymized": ("*",)},
            frozenset(map(str, Operation)), consent_required=False, retention_days=None,
            special=SpecialCondition.HEALTH_CARE))
        for role in (*ROLES, "nobody"):
            made = ws.users.add(f"u-{role}", PASSWORD)
            if role != "nobody":
                ws.policy.assign(f"u-{role}", role)
            world.secrets[role] = made.secret
    return world


@contextmanager
def apps(world: World, *roles: str) -> Iterator[dict[str, Any]]:
    """One running app per role, all started before any job (a new app marks the jobs it
    finds running as interrupted)."""
    with ExitStack() as stack:
        yield {role: stack.enter_context(client(world, role)) for role in roles}


def client(world: World, role: str | None = None, *, purpose: str = EVERYTHING):
    """An in-process client (``https://testserver``) of a fresh app over ``world``, sending
    ``role``'s bearer token and ``purpose`` (None: no session)."""
    from fastapi.testclient import TestClient

    from veil.api.app import create_app
    from veil.api.pool import WorkspacePool

    app = create_app(WorkspacePool(world.path, world.master))
    headers = {"x-veil-purpose": purpose}
    if role is not None:
        headers["authorization"] = f"Bearer {world.token(role)}"
    return TestClient(app, base_url="https://testserver", headers=headers)


@dataclass
class Served:
    """A running ``veil serve``: its address, the CA to trust, its log and process."""

    url: str
    ca: Path
    log: Path
    process: subprocess.Popen

    def client(self, token: str | None = None, **headers: str) -> httpx.Client:
        if token:
            headers["authorization"] = f"Bearer {token}"
        trust = ssl.create_default_context(cafile=str(self.ca))
        # no deadline of our own: a busy machine only makes a request slower
        return httpx.Client(base_url=self.url, verify=trust, headers=headers, timeout=None)

    def kill(self) -> None:
        """kill -9 (what a power cut does)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(world: World, *, key_file: Path | None = None) -> Iterator[Served]:
    """``veil serve`` in its own process over TLS (certificate from the workspace's CA),
    waiting for the ready file it writes once it listens (no clock)."""
    key_file = key_file or world.path.with_name("master.key")
    if not key_file.exists():
        import base64

        key_file.write_text(base64.b64encode(world.master.key).decode() + "\n")
        key_file.chmod(0o600)
    port = _free_port()
    ready = world.path.with_name(f"ready-{port}")
    log = world.path.with_name(f"serve-{port}.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "veil", "--workspace", str(world.path), "--key-file",
             str(key_file), "serve", "--port", str(port), "--ready", str(ready)],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_ready(process, ready, log)
        yield Served(f"https://127.0.0.1:{port}", world.path.with_name("ws.tls") / "ca.crt",
                     log, process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen, ready: Path, log: Path) -> None:
    """Until the server wrote ``ready`` (or died: then fail with its log); no deadline of our
    own, a busy machine only makes this slower."""
    import time

    while not ready.exists():
        if process.poll() is not None:
            raise AssertionError(f"veil serve exited with {process.returncode}:\n"
                                 f"{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.05)


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON of a response that must have ``status`` (None when it has no body)."""
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def finished(api: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    """Poll the job until its state is final (no deadline of our own)."""
    import time

    while job["state"] not in FINAL:
        time.sleep(0.05)
        job = ok(api.get(f"/jobs/{job['id']}"))
    return job
