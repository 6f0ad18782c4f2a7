"""Shared fixtures: a workspace under a raw random master key (no Argon2 cost per test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from veil import Workspace
from veil.keys import MasterKey


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    """No key, token, password or kept login leaks in from the machine running the tests."""
    for name in ("VEIL_MASTER_KEY", "VEIL_PASSPHRASE", "VEIL_KEY_FILE", "VEIL_WORKSPACE",
                 "VEIL_TOKEN", "VEIL_PASSWORD", "VEIL_WITNESS", "VEIL_PURPOSE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture
def master_key() -> MasterKey:
    return MasterKey(os.urandom(32))


@pytest.fixture
def frame() -> pl.DataFrame:
    n = 200
    return pl.DataFrame({
        "pid": [f"P{i:04d}" for i in range(n)],
        "zip": [f"0{2100 + i % 7}" for i in range(n)],
        "age": [20 + i % 60 for i in range(n)],
        "score": [None if i % 9 == 0 else i / 3 for i in range(n)],
        "note": [None if i % 11 == 0 else f"patient {i} called" for i in range(n)],
    })


@pytest.fixture
def ws(tmp_path: Path, master_key: MasterKey) -> Workspace:
    workspace = Workspace.create(tmp_path / "ws", master_key=master_key)
    yield workspace
    workspace.close()


def snapshot(workspace: Workspace) -> tuple:
    """Everything a failed operation must leave untouched."""
    return (
        workspace.ledger.size,
        workspace.ledger.head(),
        [(v.ref, v.fingerprint, v.destroyed) for n in workspace.dataset_names()
         for v in workspace.versions(n)],
        sorted(p.name for p in (workspace.path / "vault").iterdir()),
        (workspace.path / Workspace.HEAD).read_bytes(),
    )


PASSWORD = "correct horse battery staple"


class Person:
    """A user made by the ``person`` fixture: ``code(k)`` is a TOTP code ``k`` steps ahead
    (each code is accepted once, and codes up to one step ahead are accepted)."""

    def __init__(self, name: str, secret: str) -> None:
        self.name, self.secret, self.used = name, secret, 0

    def code(self) -> str:
        import time

        import pyotp

        self.used += 1
        if self.used > 2:
            raise RuntimeError("a test may use two TOTP codes per user (now and the next step)")
        return pyotp.TOTP(self.secret).at(time.time() + 30 * (self.used - 1))


@pytest.fixture
def person():
    """``person(ws, name, *roles, dataset="*", purpose=...)`` -> (Session, Person): a new user
    holding ``roles`` on ``dataset``, logged in with password and TOTP."""
    def make(ws, name: str, *roles: str, dataset: str = "*", purpose: str = "administration"):
        made = ws.users.add(name, PASSWORD)
        for role in roles:
            ws.policy.assign(name, role, dataset)
        who = Person(name, made.secret)
        return ws.login(name, PASSWORD, who.code(), purpose=purpose), who

    return make


@pytest.fixture(scope="session")
def make_sites():
    """``make_sites(root, parts, rows, budget)``: federated sites, one veil workspace (own key
    file, DP budget) per clinic of a generated patient table."""
    from veil.demo.data import generate_patients
    from veil.federated import Site
    from veil.keys import generate_key_file

    def make(root: Path, parts: int = 3, rows: int = 1_200, budget: dict | None = None) -> list:
        frame = generate_patients(rows, clinics=parts, seed=11)
        sites = []
        for (clinic,), part in sorted(frame.partition_by("clinic_id", as_dict=True).items()):
            key = generate_key_file(root / f"{clinic}.key")
            with Workspace.create(root / clinic, key_file=key) as ws:
                ws.ingest(part, "patients", subject_id="patient_id")
                ws.set_budget("patients", **(budget or {"epsilon": 10.0, "delta": 1e-4}))
            sites.append(Site(clinic, str(root / clinic), "patients", str(key)))
        return sites

    return make


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    """``run(*args, check=True)`` -> CompletedProcess from ``veil.cli.main`` run in this
    process (same parsing, error lines and exit codes as the command, without the seconds a
    fresh interpreter costs to import every subsystem)."""
    from veil.cli import main

    monkeypatch.chdir(tmp_path)

    def call(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        monkeypatch.setattr(sys, "argv", ["veil", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        result = subprocess.CompletedProcess(args, code, captured.out, captured.err)
        if check:
            assert code == 0, captured.err
        return result

    return call
