"""Attacks run from inside a workspace: ground truth from the workspace, results bound in the
ledger and shown with the artifact, refused where the truth or the right is missing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from veil import Workspace
from veil.demo.data import generate_patients
from veil.demo.pipeline import BOUNDS
from veil.errors import AccessDenied, BoundStateError, InputError
from veil.keys import MasterKey
from veil.train.model import split_of
from veil.train.service import weights

FEATURES = [*BOUNDS, "sex", "clinic_id"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A workspace with 1,500 demo patients and an epsilon-1 readmission model."""
    root = tmp_path_factory.mktemp("attacks")
    ws = Workspace.create(root / "ws", master_key=MasterKey(os.urandom(32)))
    frame = generate_patients(1500, seed=4)
    ws.ingest(frame, "patients", subject_id="patient_id")
    ws.dp_settings("patients", bounds=BOUNDS | {"readmitted_30d": (0, 1)}, public_keys={
        "clinic_id": sorted(frame["clinic_id"].unique().to_list()), "sex": ["F", "M"],
        "readmitted_30d": [0, 1]})
    ws.set_budget("patients", epsilon=50.0, delta=1e-4)
    ws.train("patients", target="readmitted_30d", features=FEATURES, epsilon=1.0, delta=1e-5,
             name="readmission", epochs=3, lr=0.5, seed=3)
    yield ws, frame
    ws.close()


def test_the_training_split_is_sealed_with_the_weights(world) -> None:
    ws, frame = world
    sealed, meta = weights(ws._store, "readmission", 1)
    split = split_of(sealed)
    assert len(split.members) == meta["metrics"]["train_rows"]
    assert len(split.held_out) == meta["metrics"]["rows"]
    assert not set(split.members) & set(split.held_out)
    chosen = np.concatenate([split.members, split.held_out])
    assert frame[chosen]["patient_id"].n_unique() == len(chosen) == frame.height


def test_membership_is_recorded_with_the_model_and_in_the_ledger(world) -> None:
    ws, _ = world
    before = ws.ledger.size
    found = ws.attack("readmission", kind="membership", references=8, bootstrap=20, seed=1)
    result = found["result"]
    assert set(result["attacks"]) == {"loss", "lira-offline", "lira-online", "rmia"}
    roc = result["attacks"]["lira-offline"]
    assert roc["members"] == roc["non_members"] == 300  # every held-out row, as many members
    epsilon = ws.models()[0]["privacy"]["epsilon"]
    assert result["epsilon"] == epsilon <= 1.0 and result["within_bound"]
    assert result["dp_bound"]["0.01"] == pytest.approx(np.exp(epsilon) * 0.01 + 1e-5)
    entries = ws.ledger.tail(ws.ledger.size - before)
    logged = [e for e in entries if e.action == "attack.membership"]
    assert len(logged) == 1 and logged[0].resource == "model readmission@1"
    params = logged[0].parameters
    assert set(params["auc"]) == set(result["attacks"]) and "members" in params
    assert not any(isinstance(v, list) and len(v) > 10 for v in params.values())  # no members
    card = next(m for m in ws.models() if m["name"] == "readmission")
    assert "## Measured leakage" in card["card_markdown"]
    assert "lira-online" in card["card_markdown"] and "within" in card["card_markdown"]
    assert "<svg" in card["card_html"] and "DP ceiling" in card["card_html"]
    assert ws.attacks("readmission")[-1]["id"] == found["id"]
    ws.verify()


def test_attribute_inference_and_inversion(world) -> None:
    ws, _ = world
    inferred = ws.attack("readmission", kind="attribute", sensitive="sex")["result"]
    assert inferred["values"] == 2 and inferred["rows"]["members"] == 1200
    assert all(-0.2 < a < 0.2 for a in inferred["advantage"].values())
    inverted = ws.attack("readmission", kind="attribute", sensitive="glucose_mg_dl",
                         mode="inversion", bins=5)["result"]
    assert inverted["mode"] == "inversion" and inverted["values"] == 5
    with pytest.raises(InputError, match="not an input"):
        ws.attack("readmission", kind="attribute", sensitive="ethnicity")


def test_linkage_raw_against_a_k_anonymous_release(world) -> None:
    ws, _ = world
    qi = ["birth_date", "zip_code", "sex"]
    raw = ws.attack("patients", kind="linkage", quasi_identifiers=qi)
    assert raw["artifact_kind"] == "dataset" and raw["result"]["rate"] > 0.9
    ws.anonymize("patients", qi, ["diagnosis_code"], k=5, suppression_limit=0.05,
                             output="patients.k5")
    released = ws.attack("patients.k5", kind="linkage")
    result = released["result"]
    assert released["artifact_kind"] == "release" and result["k"] == 5
    assert result["within_bound"] and result["rate"] <= 0.2 < raw["result"]["rate"]
    harbor = ws.safe_harbor("patients", output="patients.sh")
    shown = ws.attack(harbor.dataset, kind="linkage", quasi_identifiers=qi)["result"]
    assert result["rate"] < shown["rate"] < raw["result"]["rate"]


def test_reconstruction_without_noise_and_through_the_budget(world) -> None:
    ws, _ = world
    before = ws.budget("patients").left.epsilon
    found = ws.attack("patients", kind="reconstruction", secret="readmitted_30d", people=200,
                      queries=60, epsilon_per_query=0.01)["result"]
    assert found["without_noise"]["recovered_share"] == 1.0
    private = found["through_dp_queries"]
    assert private["queries_answered"] == 60
    assert private["epsilon_spent"] == pytest.approx(0.6)
    assert ws.budget("patients").left.epsilon == pytest.approx(before - 0.6)
    assert private["recovered_share"] < 0.95


def test_a_dp_mechanism_audit_is_recorded(world) -> None:
    ws, _ = world
    found = ws.attack("query", kind="audit", samples=20_000)
    assert found["artifact_kind"] == "mechanism" and found["result"]["passed"]
    assert 0 < found["result"]["lower_bound"] <= found["result"]["claimed_epsilon"]
    with pytest.raises(InputError, match="unknown DP mechanism"):
        ws.attack("laplace", kind="audit")
    with pytest.raises(InputError, match="unknown parameter"):
        ws.attack("query", kind="audit", noise=0)


def test_requests_that_cannot_be_answered_are_refused(world) -> None:
    ws, _ = world
    with pytest.raises(InputError, match="unknown attack kind"):
        ws.attack("readmission", kind="shadow")
    with pytest.raises(InputError, match="unknown parameter"):
        ws.attack("readmission", kind="membership", shadow_models=4)
    with pytest.raises(InputError, match="needs"):
        ws.attack("readmission", kind="attribute")
    loaded = ws.model("readmission")
    meta = {k: v for k, v in loaded.meta.items() if not k.startswith("card_")}
    ws.register_model("outside", loaded.module, loaded.encoding, meta,
                      source=ws.version("patients"))
    size = ws.ledger.size
    with pytest.raises(InputError, match="does not know its members"):
        ws.attack("outside", kind="membership", references=4)
    assert not [e for e in ws.ledger.tail(ws.ledger.size - size)
                if e.action.startswith("attack.")]


def test_an_analyst_without_raw_reads_cannot_attack_a_model(world, person) -> None:
    ws, _ = world
    analyst, _ = person(ws, "ana", "analyst", dataset="patients")
    with pytest.raises(AccessDenied):
        analyst.attack("readmission", kind="membership", references=4)


def test_an_edited_result_breaks_verification(tmp_path: Path) -> None:
    with Workspace.create(tmp_path / "ws", master_key=MasterKey(os.urandom(32))) as ws:
        ws.ingest(generate_patients(200, seed=1), "patients", subject_id="patient_id")
        ws.attack("patients", kind="linkage", quasi_identifiers=["zip_code", "sex"])
        result = ws.attacks()[0]["result"] | {"rate": 0.0}
        ws._store.conn.execute("UPDATE attack_results SET result = ?", (json.dumps(result),))
        ws._store.conn.commit()
        with pytest.raises(BoundStateError):
            ws.verify()


def test_cli_attacks_and_the_card(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from veil.cli.app import app
    from veil.keys import generate_key_file

    key = generate_key_file(tmp_path / "k.key")
    frame = generate_patients(400, seed=2)
    with Workspace.create(tmp_path / "ws", key_file=key) as ws:
        ws.ingest(frame, "patients", subject_id="patient_id", classify=False)
        ws.dp_settings("patients", bounds=BOUNDS, public_keys={
            "sex": ["F", "M"], "readmitted_30d": [0, 1]})
        ws.set_budget("patients", epsilon=10.0, delta=1e-4)
        ws.train("patients", target="readmitted_30d", features=["glucose_mg_dl", "sex"],
                 epsilon=2.0, delta=1e-5, model="logreg", name="m", epochs=2, seed=1)
    runner = CliRunner()
    base = ["-w", str(tmp_path / "ws"), "--key-file", str(key)]

    def call(*args: str) -> str:
        done = runner.invoke(app, [*base, *args])
        assert done.exit_code == 0, done.output
        return done.output

    assert "DP ceiling" in call("attack", "membership", "m", "--references", "4",
                                "--methods", "loss,lira-offline")
    assert "advantage" in call("attack", "attribute", "m", "--sensitive", "sex")
    assert "re-identified correctly" in call("attack", "linkage", "patients",
                                             "--quasi-identifiers", "zip_code,sex")
    assert "passed" in call("attack", "audit", "query", "--set", "samples=20000")
    assert "measured linkage" in call("show", "patients", "--attacks")
    listed = json.loads(call("attack", "list", "--json"))
    assert [r["attack"] for r in listed] == ["membership", "attribute", "linkage", "audit"]
    page = tmp_path / "card.html"
    card = call("models", "card", "m", "--html", str(page))
    assert "Measured leakage" in card and "lira-offline" in card
    assert "<svg" in page.read_text()
    refused = runner.invoke(app, [*base, "attack", "audit", "query", "--set", "samples"])
    assert refused.exit_code != 0 and "key=value" in str(refused.exception)
