"""``Workspace.anonymize`` and ``veil anonymize``: releases from stored datasets, with the
classification's roles, provenance and a ledger entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veil import Workspace
from veil.anonymize.check import achieved
from veil.cli.app import app
from veil.demo.data import generate_patients
from veil.errors import InputError, InvalidNameError, PrivacyModelError
from veil.keys import generate_key_file

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path: Path):
    key = tmp_path / "k.key"
    generate_key_file(key)
    with Workspace.create(tmp_path / "ws", key_file=key) as ws:
        ws.ingest(generate_patients(3000, seed=5), "patients", subject_id="patient_id")
        yield ws


def test_release_uses_the_classification_and_leaves_identifiers_out(workspace) -> None:
    release, stored = workspace.for_purpose("research release").anonymize(
        "patients", k=5, suppression_limit=0.05)
    assert stored.ref == "patients.anonymized@1"
    frame = workspace.read("patients.anonymized")
    for identifier in ("patient_id", "name", "ssn", "email", "phone", "street_address",
                       "clinical_note"):
        assert identifier not in frame.columns
    assert {"birth_date", "zip_code", "sex"} <= set(release.quasi_identifiers)
    assert achieved(frame, list(release.quasi_identifiers)).k >= 5
    assert stored.provenance["from"] == "patients@1"
    assert stored.provenance["achieved"]["k"] >= 5
    assert stored.provenance["risk_after"]["prosecutor_max"] <= 0.2
    entry = next(e for e in workspace.ledger.entries() if e.action == "dataset.anonymize")
    assert (entry.actor, entry.purpose, entry.resource) == (
        "owner", "research release", "patients.anonymized@1")
    assert json.loads(entry.params)["source"]["models"] == [{"model": "k-anonymity", "k": 5}]
    assert workspace.verify().entries >= 4


def test_explicit_roles_and_l_diversity(workspace) -> None:
    _, stored = workspace.anonymize(
        "patients", ["birth_date", "zip_code", "sex"], ["diagnosis_code"], k=5, l=2,
        suppression_limit=0.05, output="research")
    frame = workspace.read("research")
    assert set(frame.columns) == {"birth_date", "zip_code", "sex", "diagnosis_code"}
    again = achieved(frame, ["birth_date", "zip_code", "sex"], ["diagnosis_code"])
    assert again.k >= 5 and again.l_distinct["diagnosis_code"] >= 2
    assert stored.subject_id == ""


def test_bad_requests_store_nothing(workspace) -> None:
    before = workspace.dataset_names()
    with pytest.raises(InputError, match="unknown column"):
        workspace.anonymize("patients", ["height"], k=5)
    with pytest.raises(InvalidNameError, match="another name"):
        workspace.anonymize("patients", k=5, output="patients")
    with pytest.raises(PrivacyModelError):
        workspace.anonymize("patients", ["birth_date", "zip_code"], ["diagnosis_code"], k=2,
                            l=1.0e9, l_kind="entropy")
    assert workspace.dataset_names() == before


def test_cli_prints_before_and_after_and_json(workspace, tmp_path) -> None:
    base = ["-w", str(workspace.path), "--key-file", str(tmp_path / "k.key")]
    workspace.close()
    shown = runner.invoke(app, [*base, "anonymize", "patients", "--qi",
                                "birth_date,zip_code,sex", "--k", "5", "--suppression", "0.05"])
    assert shown.exit_code == 0, shown.output
    assert "prosecutor risk, highest" in shown.output and "patients.anonymized@1" in shown.output
    made = json.loads(runner.invoke(app, [*base, "anonymize", "patients", "--qi",
                                          "birth_date,zip_code,sex", "--k", "10",
                                          "--algorithm", "mondrian", "--output", "m",
                                          "--json"]).stdout)
    assert made["release"] == "m@1" and made["achieved"]["k"] >= 10
    bad = runner.invoke(app, [*base, "anonymize", "patients", "--qi", "birth_date",
                              "--hierarchy", "birth_date"])
    assert isinstance(bad.exception, InputError) and "COLUMN=FILE" in str(bad.exception)
