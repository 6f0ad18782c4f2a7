"""The governance commands as a user runs them: users, roles, a kept login, tokens, purposes,
consent, retention, data subject requests and lineage; refusals exit 5 and are logged."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pyotp
import pytest

from veil import Workspace
from veil.demo.data import generate_patients
from veil.keys import generate_key_file
from veil.ledger import proof_from_dict, verify_inclusion


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> list[str]:
    key = generate_key_file(tmp_path / "k.key")
    patients = generate_patients(120, seed=9)
    patients.write_csv(tmp_path / "patients.csv")
    with Workspace.create(tmp_path / "ws", key_file=key) as ws:
        ws.ingest(tmp_path / "patients.csv", "patients", subject_id="patient_id")
        ws.set_budget("patients", epsilon=10.0)
    monkeypatch.setenv("VEIL_PASSWORD", "a long and unguessable phrase")
    return ["-w", str(tmp_path / "ws"), "--key-file", str(key)]


def _secret(printed: str) -> str:
    return re.search(r"secret ([A-Z2-7]+)", printed).group(1)


def test_a_user_logs_in_and_acts_within_the_purpose(home, run, tmp_path) -> None:
    secret = _secret(run(*home, "user", "add", "ana").stdout)
    run(*home, "purpose", "add", "study", "--description", "readmission statistics",
        "--basis", "public_task", "--special", "public_health", "--dataset",
        "patients=sex,readmitted_30d",
        "--operations", "dp_query")
    run(*home, "policy", "allow", "ana", "dp_query", "--dataset", "patients",
        "--purpose", "study")
    checked = run(*home, "policy", "check", "ana", "raw_read", "--dataset", "patients",
                  "--category", "direct_identifier")
    assert "denied" in checked.stdout
    wrong = run(*home, "login", "ana", "--totp", "000000", check=False)
    assert wrong.returncode == 5 and "authentication failed" in wrong.stderr
    logged = run(*home, "login", "ana", "--totp", pyotp.TOTP(secret).now())
    assert "logged in as ana" in logged.stdout
    kept = list(Path(os.environ["XDG_CONFIG_HOME"]).glob("veil/sessions/*.token"))
    assert len(kept) == 1 and (kept[0].stat().st_mode & 0o777) == 0o600
    answer = run(*home, "--purpose", "study", "query",
                 "SELECT COUNT(*) FROM patients WHERE readmitted_30d = 1", "--epsilon", "0.5")
    assert "value" in answer.stdout or "ci_low" in answer.stdout
    refused = run(*home, "--purpose", "study", "show", "patients", "--rows", "3", check=False)
    assert refused.returncode == 5 and "ana" in refused.stderr
    run(*home, "logout")
    with Workspace.open(home[1], key_file=home[3]) as ws:
        actors = [(e.action, e.actor) for e in ws.ledger.entries()]
        assert ("dp.query", "ana") in actors and ("access.denied", "ana") in actors
        assert ws.budget("patients", None).spent.epsilon == pytest.approx(0.5)


def test_a_service_token_and_its_scope(home, run, monkeypatch) -> None:
    run(*home, "user", "add", "etl", "--service")
    run(*home, "role", "assign", "etl", "analyst", "--dataset", "patients")
    run(*home, "purpose", "add", "stats", "--description", "statistics", "--basis",
        "legitimate_interests", "--dataset", "patients=sex", "--operations", "dp_query")
    issued = run(*home, "token", "issue", "etl", "--roles", "analyst", "--datasets",
                 "patients", "--days", "1").stdout
    token = issued.strip().splitlines()[-1]
    listed = run(*home, "token", "list", "--json").stdout
    assert token not in listed and json.loads(listed)[0]["principal"] == "etl"
    monkeypatch.setenv("VEIL_TOKEN", token)
    run(*home, "--purpose", "stats", "query", "SELECT COUNT(*) FROM patients", "--epsilon",
        "0.1")
    denied = run(*home, "--purpose", "stats", "ingest", str(Path(home[1]).parent /
                                                           "patients.csv"),
                 "--name", "more", "--subject-id", "patient_id", check=False)
    assert denied.returncode == 5
    monkeypatch.delenv("VEIL_TOKEN")


def test_consent_retention_requests_and_lineage(home, run, tmp_path) -> None:
    run(*home, "purpose", "add", "trial", "--description", "a consented trial", "--basis",
        "consent", "--special", "explicit_consent", "--dataset", "patients=*",
        "--operations", "dp_query,raw_read", "--consent-required")
    (tmp_path / "consents.csv").write_text(
        "subject,purpose,state,at,source,notice\n"
        "P0000001,trial,given,2026-01-01T00:00:00+00:00,form,v1\n"
        "P9999999,trial,given,2026-01-01T00:00:00+00:00,form,v1\n")
    imported = run(*home, "consent", "import", str(tmp_path / "consents.csv")).stdout
    assert "2 consent event(s)" in imported and "not found" in imported
    run(*home, "consent", "withdraw", "P0000001", "trial", "--source", "portal",
        "--notice", "v1")
    shown = json.loads(run(*home, "consent", "show", "P0000001", "--json").stdout)
    assert [e["state"] for e in shown] == ["given", "withdrawn"]
    run(*home, "retention", "set", "patients", "--keep-versions-days", "30")
    planned = run(*home, "retention", "enforce", "--dry-run").stdout
    assert "dry run" in planned
    run(*home, "pseudonymize", "patients", "--columns", "email", "--reversible")
    export = tmp_path / "export"
    export.mkdir()
    run(*home, "dsar", "access", "P0000002", "--out", str(export))
    assert any(p.suffix == ".json" for p in export.iterdir())
    receipt = tmp_path / "receipt.json"
    erased = run(*home, "dsar", "erase", "P0000002", "--yes", "--receipt", str(receipt))
    assert "patients" in erased.stdout
    proof = proof_from_dict(json.loads(receipt.read_text())["proof"])
    verify_inclusion(proof, bytes.fromhex((Path(home[1]) / "ledger.pub").read_text()))
    nothing = run(*home, "dsar", "erase", "P7777777", "--yes").stdout
    assert "nothing held" in nothing
    traced = json.loads(run(*home, "lineage", "patients", "--json").stdout)
    assert any(a["kind"] == "release" for a in traced["derived"])
    with Workspace.open(home[1], key_file=home[3]) as ws:
        ws.verify()
